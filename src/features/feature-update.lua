-- Applies a batch of events to per-user feature hashes and returns the features after each
-- event, packed as little-endian float32 x5 per event: views, cart_adds, purchases,
-- minutes_since_prev, replayed (1 when the replay guard skipped the update).
--
-- KEYS[i]            user hash for event i (one key per event; a user may repeat, in order)
-- ARGV[1]            ttl seconds
-- ARGV[2..5]         cold-start vector (counts and gap a brand-new user starts from)
-- ARGV[6]            cap for minutes_since_prev
-- ARGV[7 + 4(i-1)..] per event: event code (0 view, 1 cart, 2 purchase), timestamp ms,
--                    guard field (last applied offset of that input partition), offset
--
-- The guard makes re-delivered events idempotent: an offset not newer than the one recorded
-- for its partition leaves the hash untouched and returns the stored features.
local ttl = tonumber(ARGV[1])
local cs_v, cs_c, cs_p, cs_g = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local cap = tonumber(ARGV[6])
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local base = 7 + (i - 1) * 4
  local code = tonumber(ARGV[base])
  local ts = tonumber(ARGV[base + 1])
  local guard = ARGV[base + 2]
  local offset = tonumber(ARGV[base + 3])
  local h = redis.call('HMGET', key, 'v', 'c', 'p', 't', 'g', guard)
  local last = tonumber(h[6])
  if last ~= nil and last >= offset and h[1] then
    out[i] = struct.pack('<fffff', tonumber(h[1]), tonumber(h[2]), tonumber(h[3]), tonumber(h[5]), 1)
  else
    local v, c, p, g
    if h[1] then
      v, c, p = tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
      local prev = tonumber(h[4])
      g = (ts - prev) / 60000
      if g < 0 then g = 0 end
      if g > cap then g = cap end
      if ts < prev then ts = prev end
    else
      v, c, p, g = cs_v, cs_c, cs_p, cs_g
    end
    if code == 0 then v = v + 1 elseif code == 1 then c = c + 1 else p = p + 1 end
    redis.call('HSET', key, 'v', v, 'c', c, 'p', p, 't', ts, 'g', string.format('%.17g', g), guard, offset)
    redis.call('EXPIRE', key, ttl)
    out[i] = struct.pack('<fffff', v, c, p, g, 0)
  end
end
return table.concat(out)
