-- The hot path in one step: find the session of a token, check its expiry,
-- count the page view, and on the first request of each refresh window slide
-- the keys' time to live and move the activity mark.
-- KEYS[1]: the token's key.
-- ARGV: shard base, now (ms), idle timeout (ms), lifetime (ms), page view (0/1),
-- refresh window (ms; 0: every request).
-- Returns nil (no live session) or {record before the touch, superseded (0/1), last seen, page views}.
local tv = redis.call('GET', KEYS[1])
if not tv then return false end
local base = ARGV[1]
local now = tonumber(ARGV[2])
local idle = tonumber(ARGV[3])
local life = tonumber(ARGV[4])
local window = tonumber(ARGV[6])
local superseded = 0
if #tv > 16 then
  if now >= struct.unpack('<i8', tv, 17) then
    redis.call('DEL', KEYS[1])
    return false
  end
  superseded = 1
end
local skey = base .. 's' .. string.sub(tv, 1, 16)
local rec = redis.call('GET', skey)
if not rec then
  redis.call('DEL', KEYS[1])
  return false
end
local st, ls, pv = struct.unpack('<i8i8i8', rec, 2)
local member = string.sub(rec, 68, 67 + struct.unpack('<I2', rec, 66))
local current = base .. 't' .. string.sub(rec, 34, 65)
local rkey = base .. 'r'
if now >= math.min(ls + idle, st + life) then
  redis.call('DEL', skey, current, KEYS[1])
  redis.call('ZREM', rkey, member)
  return false
end
-- Within the window of the previous request the keys already live a window
-- longer than the session can, and its mark is less than a window old.
local refresh = window <= 0 or math.floor(now / window) ~= math.floor(ls / window)
if now > ls then ls = now end
if ARGV[5] == '1' then pv = pv + 1 end
redis.call('SETRANGE', skey, 9, struct.pack('<i8i8', ls, pv))
if refresh then
  local ttl = math.min(ls + idle + window, st + life) - now
  redis.call('PEXPIRE', skey, ttl)
  redis.call('PEXPIRE', current, ttl)
  redis.call('ZADD', rkey, ls, member)
  redis.call('ZREMRANGEBYSCORE', rkey, '-inf', '(' .. (now - idle - window))
end
return {rec, superseded, ls, pv}
