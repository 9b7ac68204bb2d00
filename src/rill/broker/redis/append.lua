-- Why a script: the ended check, the XADD and the trim must be one atomic step,
-- else an append could slip in behind the end marker on another node, or two
-- appends could trim from one ledger state.
-- KEYS: stream, ledger, byte total. ARGV: id, payload, maxlen, min ms, max bytes
-- ('' for no bound). The entry just appended is never trimmed (broker/base.py).
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if top[1] and top[1][2][1] == 'end' then return redis.error_reply('RILL_ENDED') end
local id = redis.call('XADD', KEYS[1], ARGV[1], 'd', ARGV[2])
local maxlen, min_ms, max_bytes = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if not (maxlen or min_ms or max_bytes) then return id end
if not top[1] then redis.call('DEL', KEYS[2], KEYS[3]) end
local size = string.len(ARGV[2])
local count = redis.call('RPUSH', KEYS[2], id .. ' ' .. size)
local total = redis.call('INCRBY', KEYS[3], size)
local dropped = false
while count > 1 do
  local oldest, bytes = string.match(redis.call('LINDEX', KEYS[2], 0), '^(%S+) (%d+)$')
  local ms = tonumber(string.match(oldest, '^(%d+)'))
  if not ((maxlen and count > maxlen) or (min_ms and ms < min_ms)
          or (max_bytes and total > max_bytes)) then break end
  redis.call('LPOP', KEYS[2])
  count = count - 1
  total = total - tonumber(bytes)
  dropped = true
end
if dropped then redis.call('SET', KEYS[3], total) end
-- Trim to the oldest id left in the ledger; with nothing dropped from it, to
-- the age bound if that is older, so that entries appended without bounds
-- (not in the ledger) age out too.
local cut = string.match(redis.call('LINDEX', KEYS[2], 0), '^(%S+)')
if not dropped and min_ms and min_ms < tonumber(string.match(cut, '^(%d+)')) then
  cut = ARGV[4]
end
if dropped or min_ms then redis.call('XTRIM', KEYS[1], 'MINID', cut) end
return id
