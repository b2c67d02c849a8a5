"""The Lua scripts of the Redis store: each read-decide-write runs whole on the server.

A script runs atomically, so no lock is held across the network for short sections, and the
ledger's scripts read the server's clock (``TIME``): hosts whose clocks disagree still share
one budget. The ledger's rules are ``shared.ledger.SharedLedger``'s (the contract tests run
both backends through the same cases): at most ``limit`` slots in any ``period``; waiters
keep their place in line, oldest first, and are served by the ``position``-th free slot;
callers that do not wait go behind every waiter.

Keys of one account share one hash tag, so these multi-key scripts also run on a Cluster.
Every number comes back as a string: Redis would truncate a Lua float to an integer.
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "CLAIM_LEASE", "RELEASE_LEASE", "SAVE", "TIMING"]

# KEYS: budget (zset of slot times), line (zset owner -> since), until (hash owner -> until).
# ARGV: limit, period, owner ('' for none).
_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit, period = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local untils = redis.call('HGETALL', KEYS[3])
for i = 1, #untils, 2 do
  if tonumber(untils[i + 1]) <= now then
    redis.call('ZREM', KEYS[2], untils[i])
    redis.call('HDEL', KEYS[3], untils[i])
  end
end
local slots = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local recent = {}
for i = 2, #slots, 2 do recent[#recent + 1] = tonumber(slots[i]) end
local function wait_for(position)
  local free = limit - #recent
  if position < free then return 0 end
  if #recent == 0 then return period end
  local k = position - math.max(free, 0)
  local rounds, index = math.floor(k / #recent), k % #recent
  return math.max(0, recent[index + 1] + (rounds + 1) * period - now)
end
"""

#: Take a slot (returns "0") or, for an ``owner``, keep its place in line; returns the wait.
#: Extra ARGV: a unique slot name, the grace a waiter has after its turn.
ACQUIRE = (
    _PRELUDE
    + """
local owner, member, grace = ARGV[3], ARGV[4], tonumber(ARGV[5])
local rank = false
if owner ~= '' then rank = redis.call('ZRANK', KEYS[2], owner) end
local position = rank or redis.call('ZCARD', KEYS[2])
local wait = wait_for(position)
local keep = math.ceil((period + 1) * 1000)
if wait <= 0 then
  if rank then
    redis.call('ZREM', KEYS[2], owner)
    redis.call('HDEL', KEYS[3], owner)
  end
  redis.call('ZADD', KEYS[1], now, member)
  redis.call('PEXPIRE', KEYS[1], keep)
elseif owner ~= '' then
  if not rank then redis.call('ZADD', KEYS[2], now, owner) end
  redis.call('HSET', KEYS[3], owner, tostring(now + wait + grace))
  redis.call('PEXPIRE', KEYS[2], keep * 4)
  redis.call('PEXPIRE', KEYS[3], keep * 4)
end
return tostring(wait)
"""
)

#: (seconds since the last slot or "inf", seconds until a slot behind every waiter).
TIMING = (
    _PRELUDE
    + """
local since = 'inf'
if #recent > 0 then since = tostring(now - recent[#recent]) end
return {since, tostring(wait_for(redis.call('ZCARD', KEYS[2])))}
"""
)

#: KEYS: lease, epoch. ARGV: owner, milliseconds. Returns {0, epoch} when ``owner`` holds
#: it now (a new holder bumps the epoch: the fencing token), else {1, milliseconds left}.
CLAIM_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {0, redis.call('GET', KEYS[2]) or '0'}
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {0, tostring(redis.call('INCR', KEYS[2]))}
end
return {1, tostring(redis.call('PTTL', KEYS[1]))}
"""

#: KEYS: lease. ARGV: owner. Deletes the lease only if ``owner`` holds it.
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

#: Compare-and-set of the token record, fenced. KEYS: record, epoch. ARGV: the stamp the
#: writer read ('' when there was no record, '*' to write regardless), the writer's lease
#: epoch ('' when it writes as no poller), the change channel, the record's lifetime in ms,
#: then field, value pairs (a new ``stamp`` among them). Returns 1 when written, -1 when the
#: record changed since it was read, -2 when a newer poller holds the lease.
SAVE = """
local stamp = redis.call('HGET', KEYS[1], 'stamp')
if ARGV[1] ~= '*' then
  if ARGV[1] == '' then
    if stamp then return -1 end
  elseif stamp ~= ARGV[1] then
    return -1
  end
end
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[2] then return -2 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[3], 'changed')
return 1
"""
