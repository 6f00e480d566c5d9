"""The Lua scripts of the job queue: every state change that must not be half-done runs
inside Redis as one script (record + ack + counters, ack + requeue, lease + reclaim)."""

# KEYS stream, records; ARGV group, consumer, count, min-idle ms. Reclaims expired leases
# (XAUTOCLAIM replies with 2 elements on Redis 6.2, 3 on 7), then reads new entries; entries
# of tasks that already have a final record are acked and skipped. Rows: {id, fields, deliveries}.
LEASE = """
local stream, records, group, consumer = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local want, out, cursor = tonumber(ARGV[3]), {}, '0-0'
local function take(entry, deliveries)
  local key = nil
  for i = 1, #entry[2], 2 do if entry[2][i] == 'task' then key = entry[2][i + 1] end end
  if key and redis.call('HEXISTS', records, key) == 1 then
    redis.call('XACK', stream, group, entry[1])
  else
    out[#out + 1] = {entry[1], entry[2], deliveries}
  end
end
for _ = 1, 50 do
  local reply = redis.call('XAUTOCLAIM', stream, group, consumer, ARGV[4], cursor,
                           'COUNT', want - #out)
  cursor = reply[1]
  for _, entry in ipairs(reply[2]) do
    if type(entry) == 'table' then
      local info = redis.call('XPENDING', stream, group, entry[1], entry[1], 1)
      take(entry, info[1] and info[1][4] or 1)
    end
  end
  if cursor == '0-0' or #out >= want then break end
end
if #out < want then
  local fresh = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', want - #out,
                           'STREAMS', stream, '>')
  if fresh then for _, entry in ipairs(fresh[1][2]) do take(entry, 1) end end
end
return out
"""

# KEYS stream; ARGV task, attempt, task, attempt...: far faster than pipelined XADDs.
ENQUEUE = """
for i = 1, #ARGV, 2 do
  redis.call('XADD', KEYS[1], '*', 'task', ARGV[i], 'attempt', ARGV[i + 1])
end
return #ARGV / 2
"""

# KEYS stream; ARGV group, consumer, ids...: renew only entries this consumer still owns.
HEARTBEAT = """
local kept = 0
for i = 3, #ARGV do
  local info = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if info[1] and info[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    kept = kept + 1
  end
end
return kept
"""

# KEYS records, stream, progress, errors; ARGV group, id, task, json, status, structures,
# error line, max errors, formulae, slices, generated. The first final record counts; only an OK may
# replace a failure. `formulae_final` counts formulae whose every task is final: a plain
# task or a shard adds its formulae; a slice of a formula split in `slices` (ARGV[10] > 1)
# adds its one formula when the last of its slices is final.
COMPLETE = """
local ok, old = ARGV[5] == 'ok', redis.call('HGET', KEYS[1], ARGV[3])
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
if ARGV[7] ~= '' then
  redis.call('RPUSH', KEYS[4], ARGV[7])
  redis.call('LTRIM', KEYS[4], -tonumber(ARGV[8]), -1)
end
if old then
  if not ok or cjson.decode(old)['status'] == 'ok' then return 0 end
  redis.call('HINCRBY', KEYS[3], 'failed', -1)
elseif tonumber(ARGV[10]) > 1 then
  local field = 'slices:' .. ARGV[9]
  if redis.call('HINCRBY', KEYS[3], field, 1) == tonumber(ARGV[10]) then
    redis.call('HDEL', KEYS[3], field)
    redis.call('HINCRBY', KEYS[3], 'formulae_final', 1)
  end
else
  redis.call('HINCRBY', KEYS[3], 'formulae_final', ARGV[9])
end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
if ok then
  redis.call('HINCRBY', KEYS[3], 'done', 1)
  redis.call('HINCRBY', KEYS[3], 'structures', ARGV[6])
  redis.call('HINCRBY', KEYS[3], 'generated', ARGV[11])
else
  redis.call('HINCRBY', KEYS[3], 'failed', 1)
end
return 1
"""

# KEYS stream, errors, records; ARGV group, id, task, next attempt, error line, max errors.
# Requeue only if this call acked the entry (a retried call must not add a second one).
REQUEUE = """
redis.call('RPUSH', KEYS[2], ARGV[5])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[6]), -1)
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 1 then return 0 end
redis.call('XADD', KEYS[1], '*', 'task', ARGV[3], 'attempt', ARGV[4])
return 1
"""

# KEYS stream; ARGV group, idle ms, ids...: give leases back without spending an attempt. Each
# entry still pending goes to the placeholder consumer `returned`, idle long enough for the
# next XAUTOCLAIM, with its delivery count lowered by one (that XAUTOCLAIM raises it again).
RELEASE = """
local returned = 0
for i = 3, #ARGV do
  local info = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if info[1] then
    local count = math.max(tonumber(info[1][4]) - 1, 0)
    redis.call('XCLAIM', KEYS[1], ARGV[1], 'returned', 0, ARGV[i], 'IDLE', ARGV[2],
               'RETRYCOUNT', count, 'JUSTID')
    returned = returned + 1
  end
end
return returned
"""
