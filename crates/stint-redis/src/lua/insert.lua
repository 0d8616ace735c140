-- Stores a session under its current token, replacing one of the same id.
-- KEYS[1]: the session's key.
-- ARGV: shard base, record, token hash (32 bytes), time to live (ms), session id (16 bytes).
local base = ARGV[1]
local old = redis.call('GET', KEYS[1])
if old then
  redis.call('ZREM', base .. 'r', string.sub(old, 68, 67 + struct.unpack('<I2', old, 66)))
  redis.call('DEL', base .. 't' .. string.sub(old, 34, 65))
end
local rec = ARGV[2]
redis.call('SET', KEYS[1], rec, 'PX', ARGV[4])
redis.call('SET', base .. 't' .. ARGV[3], ARGV[5], 'PX', ARGV[4])
local ls = struct.unpack('<i8', rec, 10)
redis.call('ZADD', base .. 'r', ls, string.sub(rec, 68, 67 + struct.unpack('<I2', rec, 66)))
return 1
