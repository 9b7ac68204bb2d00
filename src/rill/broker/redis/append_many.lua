-- ARGV: id, payload, id, payload, ... Stops at the first id that is not greater
-- than the last (XADD's error), keeping what it appended before it.
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if top[1] and top[1][2][1] == 'end' then return redis.error_reply('RILL_ENDED') end
for i = 1, #ARGV, 2 do
  redis.call('XADD', KEYS[1], ARGV[i], 'd', ARGV[i + 1])
end
return #ARGV / 2
