-- The newest two entries: enough to see the end marker and the last real id behind it.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 2)
