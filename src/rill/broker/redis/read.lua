-- Returns false for a missing stream (XRANGE alone cannot tell missing from empty),
-- else {ended, entries}: a reader positioned past the end marker must still learn
-- that the stream has ended.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local ended = (top[1] and top[1][2][1] == 'end') and 1 or 0
return {ended, redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])}
