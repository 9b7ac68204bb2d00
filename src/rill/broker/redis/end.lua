-- KEYS: stream, ledger, byte total (see append.lua): they expire together.
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('RILL_MISSING') end
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if not (top[1] and top[1][2][1] == 'end') then
  redis.call('XADD', KEYS[1], '*', 'end', '1')
end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return 1
