-- Adds a session to a customer's index and keeps the index as long as a
-- session can live.  KEYS[1]: the index.  ARGV: session id, time to live (ms).
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
