-- Writes a changed session if nobody changed it since it was read
-- (compare-and-set on the version). The live counters (last seen, page
-- views) are kept as they are now: a parallel request may have moved them.
-- KEYS[1]: the session's key.
-- ARGV: shard base, version read, new record, new token hash (32 bytes, or
-- empty), grace deadline of the old token (ms), session id (16 bytes).
-- Returns nil (gone), 0 (changed meanwhile: read again) or {1, last seen, page views}.
local rec = redis.call('GET', KEYS[1])
if not rec then return false end
if struct.unpack('<i8', rec, 26) ~= tonumber(ARGV[2]) then return 0 end
local base = ARGV[1]
local new = string.sub(ARGV[3], 1, 9) .. string.sub(rec, 10, 25) .. string.sub(ARGV[3], 26)
local ls, pv = struct.unpack('<i8i8', rec, 10)
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then ttl = 1 end
local old_member = string.sub(rec, 68, 67 + struct.unpack('<I2', rec, 66))
local new_member = string.sub(new, 68, 67 + struct.unpack('<I2', new, 66))
if old_member ~= new_member then
  redis.call('ZREM', base .. 'r', old_member)
  redis.call('ZADD', base .. 'r', ls, new_member)
end
if ARGV[4] ~= '' then
  local old_token = base .. 't' .. string.sub(rec, 34, 65)
  local grace = tonumber(ARGV[5]) - ls
  if grace > 0 then
    redis.call('SET', old_token, ARGV[6] .. struct.pack('<i8', tonumber(ARGV[5])), 'PX', math.min(grace, ttl))
  else
    redis.call('DEL', old_token)
  end
  redis.call('SET', base .. 't' .. ARGV[4], ARGV[6], 'PX', ttl)
end
redis.call('SET', KEYS[1], new, 'PX', ttl)
return {1, ls, pv}
