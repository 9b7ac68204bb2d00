-- A signal: logged in a short stream (so a listener that was disconnected when
-- it was sent catches up on reconnect), then published as "<id> <payload>" so
-- a listener can tell a signal it already had from the log.
-- KEYS: the channel's log. ARGV: Pub/Sub channel, payload, max entries, ttl ms.
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[2])
return id
