-- Removes a session, its current token and its activity mark.
-- KEYS[1]: the session's key.  ARGV: shard base.
-- Returns the record, or nil if there was none.
local rec = redis.call('GET', KEYS[1])
if not rec then return false end
local base = ARGV[1]
redis.call('DEL', KEYS[1], base .. 't' .. string.sub(rec, 34, 65))
redis.call('ZREM', base .. 'r', string.sub(rec, 68, 67 + struct.unpack('<I2', rec, 66)))
return rec
