"""The Lua scripts a distributed crawl runs in Redis, as data: each one is atomic on the server.

Times come from the Redis server's clock (``TIME``), never the workers', so workers on machines whose clocks
disagree still space their requests correctly.  Replies that are fractions are returned as strings because
Redis truncates Lua numbers to integers.
"""

# Per-host spacing: crawler.politeness.HostState step for step, on the Redis clock.  KEYS[1] = host hash (next, ended,
# busy, sent).  ACQUIRE_HOST: ARGV = delay, '1' when the caller holds a reservation, lease, seconds the key outlives
# what it holds; returns {wait, gap}: wait > 0: sleep and ask again; '0': granted, gap = seconds since the last grant
# ('' for the first).  RELEASE_HOST (the granted request ended): ARGV = delay, keep.
ACQUIRE_HOST = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then redis.call('DEL', KEYS[1]) end
local h = redis.call('HMGET', KEYS[1], 'next', 'ended', 'busy', 'sent')
local nxt, ended, busy = tonumber(h[1] or '0'), tonumber(h[2] or '0'), tonumber(h[3] or '0')
local delay, wait = tonumber(ARGV[1]), 0
if delay > 0 then
  local free = ended + delay
  if busy > now then free = math.max(free, now + delay) end
  wait = free - now
  if ARGV[2] ~= '1' then
    local slot = math.max(now, free, nxt)
    nxt, wait = slot + delay, slot - now
  end
  if wait <= 0 then busy = now + tonumber(ARGV[3]) end
end
local gap = ''
if wait <= 0 then
  if h[4] then gap = string.format('%.6f', now - tonumber(h[4])) end
  redis.call('HSET', KEYS[1], 'sent', string.format('%.6f', now))
end
redis.call('HSET', KEYS[1], 'next', string.format('%.6f', nxt), 'busy', string.format('%.6f', busy))
redis.call('PEXPIREAT', KEYS[1], math.ceil((math.max(nxt, busy, ended + delay, now) + tonumber(ARGV[4])) * 1000))
return {string.format('%.6f', math.max(wait, 0)), gap}
"""
RELEASE_HOST = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSET', KEYS[1], 'ended', string.format('%.6f', now), 'busy', '0')
local nxt = tonumber(redis.call('HGET', KEYS[1], 'next') or '0')
redis.call('PEXPIREAT', KEYS[1], math.ceil((math.max(nxt, now + tonumber(ARGV[1])) + tonumber(ARGV[2])) * 1000))
return 1
"""

# Pop the highest-priority request and record it as in flight for this worker, in one step (so a worker killed
# right after the pop cannot lose it).  KEYS[1] = frontier zset; KEYS[2] = the worker's in-flight hash.
POP_TO_INFLIGHT = """
local top = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #top == 0 then return false end
redis.call('ZREM', KEYS[1], top[1])
redis.call('HSET', KEYS[2], top[1], top[2])
return top[1]
"""

# Put a worker's in-flight requests back on the frontier, if the worker is dead (its heartbeat key is gone) or
# if ARGV[1] == '1' (the worker itself, on start or on close).  KEYS[1] = heartbeat key; KEYS[2] = in-flight
# hash; KEYS[3] = frontier zset; KEYS[4] = workers set; KEYS[5] = counters hash; ARGV[2] = worker id.
# Returns the number of requests put back, or -1 when the worker is alive and not forced.
RECLAIM_INFLIGHT = """
if ARGV[1] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local entries = redis.call('HGETALL', KEYS[2])
local n = 0
for i = 1, #entries, 2 do
  redis.call('ZADD', KEYS[3], entries[i + 1], entries[i])
  n = n + 1
end
redis.call('DEL', KEYS[2])
if ARGV[1] ~= '1' then
  redis.call('SREM', KEYS[4], ARGV[2])
  if n > 0 then redis.call('HINCRBY', KEYS[5], 'reclaimed', n) end
end
return n
"""

# Claim the right to write one article, at write time.  KEYS[1] = emitted hash; KEYS[2] = heartbeat key prefix;
# ARGV[1] = article key; ARGV[2] = this worker; ARGV[3] = lease (heartbeat TTL, ms); ARGV[4] = its heartbeat value.
# Returns 1 (claimed: write it), 0 (another worker wrote it or is writing it: drop), 2 (taken over from a dead
# worker that claimed it and may or may not have written it).  A claim renews the claimant's heartbeat, so
# nobody takes it over for the lease's length.
CLAIM_ARTICLE = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
local result = 1
if v then
  local sep = string.find(v, ':', 1, true)
  local owner = string.sub(v, sep + 1)
  if string.sub(v, 1, sep - 1) == 'done' then return 0 end
  if owner ~= ARGV[2] then
    if redis.call('EXISTS', KEYS[2] .. owner) == 1 then return 0 end
    result = 2
  end
end
redis.call('SET', KEYS[2] .. ARGV[2], ARGV[4], 'PX', ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], 'pending:' .. ARGV[2])
return result
"""

# Start seeding unless someone did or is doing it.  KEYS[1] = seeded key; KEYS[2] = heartbeat key prefix;
# ARGV[1] = this worker.  Returns 1 (seed now), 0 (already seeded or a live worker is seeding).
CLAIM_SEEDING = """
local v = redis.call('GET', KEYS[1])
if v == 'done' then return 0 end
if v then
  local owner = string.sub(v, string.len('seeding:') + 1)
  if owner ~= ARGV[1] and redis.call('EXISTS', KEYS[2] .. owner) == 1 then return 0 end
end
redis.call('SET', KEYS[1], 'seeding:' .. ARGV[1])
return 1
"""

# Enqueue a request unless its fingerprint was seen, in one step (a worker killed between marking the
# fingerprint and pushing would otherwise lose the request for good).  KEYS[1] = dupefilter set; KEYS[2] =
# frontier zset; ARGV[1] = fingerprint; ARGV[2] = score; ARGV[3] = member; ARGV[4] = '1' to skip the filter
# (dont_filter).  Returns 1 (enqueued) or 0 (seen before).
ENQUEUE_IF_NEW = """
if ARGV[4] ~= '1' then
  if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# Count one page against the crawl's limits, or park its request when a limit is reached (distributed.page_limit).
# KEYS[1] = pages hash; KEYS[2] = the worker's in-flight hash; KEYS[3] = parked zset; ARGV[1] = crawl-wide limit;
# ARGV[2] = the request's site (profile name); ARGV[3] = the site's limit; ARGV[4] = the request (its member in the
# in-flight hash); ARGV[5] = its score if it is not in flight.  Returns 1 (counted: send it), 0 (the site's limit
# reached: parked) or -1 (the crawl's limit reached: parked).
TAKE_PAGE = """
local result = 1
if tonumber(redis.call('HGET', KEYS[1], 'total') or '0') >= tonumber(ARGV[1]) then
  result = -1
elseif tonumber(redis.call('HGET', KEYS[1], 'site:' .. ARGV[2]) or '0') >= tonumber(ARGV[3]) then
  result = 0
else
  redis.call('HINCRBY', KEYS[1], 'total', 1)
  redis.call('HINCRBY', KEYS[1], 'site:' .. ARGV[2], 1)
  return 1
end
local score = redis.call('HGET', KEYS[2], ARGV[4]) or ARGV[5]
redis.call('HDEL', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], score, ARGV[4])
return result
"""

# Decide whether a record duplicates one already kept in the crawl, and register it when not (distributed.duplicates).
# KEYS[1] = content hash -> "id\\nurl" hash; KEYS[2] = id -> signature hash; KEYS[3..] = the record's LSH band sets.
# ARGV[1] = id; ARGV[2] = URL; ARGV[3] = content hash ('' none); ARGV[4] = signature (4 bytes per permutation, ''
# none); ARGV[5] = near threshold; ARGV[6] = permutations; ARGV[7] = 'decide', or 'add' (register only).
# Returns {kind, original id, equal permutations}: kind = exact | canonical | near | new.
DECIDE_DUPLICATE = """
local id, url, h, sig = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local decide = ARGV[7] == 'decide'
if decide and h ~= '' then
  local v = redis.call('HGET', KEYS[1], h)
  if v then
    local sep = string.find(v, '\\n', 1, true)
    local oid, ourl = string.sub(v, 1, sep - 1), string.sub(v, sep + 1)
    if oid ~= id then return {'exact', oid, 0} end
    if ourl ~= url then return {'canonical', oid, 0} end
  end
end
if decide and sig ~= '' then
  local threshold, perm = tonumber(ARGV[5]), tonumber(ARGV[6])
  local best, bestn, seen = nil, -1, {}
  for i = 3, #KEYS do
    for _, cand in ipairs(redis.call('SMEMBERS', KEYS[i])) do
      if cand ~= id and not seen[cand] then
        seen[cand] = true
        local other = redis.call('HGET', KEYS[2], cand)
        if other and #other == #sig then
          local n = 0
          for j = 1, #sig, 4 do
            if string.sub(sig, j, j + 3) == string.sub(other, j, j + 3) then n = n + 1 end
          end
          if n / perm >= threshold and n > bestn then best, bestn = cand, n end
        end
      end
    end
  end
  if best then return {'near', best, bestn} end
end
if h ~= '' then redis.call('HSETNX', KEYS[1], h, id .. '\\n' .. url) end
if sig ~= '' then
  redis.call('HSET', KEYS[2], id, sig)
  for i = 3, #KEYS do redis.call('SADD', KEYS[i], id) end
end
return {'new', '', 0}
"""
