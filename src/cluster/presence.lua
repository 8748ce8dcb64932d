-- Presence of a Baat-Chit cluster, run atomically inside Redis.
-- ARGV[1] is the key prefix, ARGV[2] the operation, the rest its arguments.
-- Every change to a room's members gets the next version and is published
-- on the bus from inside the script, so every process sees all changes in
-- one order, each with the room's count right after it.
--
-- Keys (P = prefix, R = room, U = user id, N = node id):
--   P:ver        version counter (starts at the server's time in µs, so a
--                restarted Redis continues above every version seen before)
--   P:m:R        hash U -> display name          (members)
--   P:n:R        hash name key -> U              (names taken: every
--                look-alike key of each member's name, see
--                DisplayName::lookalike_keys)
--   P:f:R        hash U -> its keys, joined by "\n"
--   P:h:R        hash U -> number of nodes holding U in R
--   P:node:N     set of "R\nU" that node N holds (room names have no
--                control characters, so "\n" separates safely)
--   P:rooms      sorted set R -> distinct users
--   P:users      hash U -> number of rooms
--   P:nodes      sorted set N -> last heartbeat (ms)
local p, op = ARGV[1], ARGV[2]
local bus = p .. ':bus'

local function k(kind, room) return p .. ':' .. kind .. ':' .. room end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function next_ver()
  local key = p .. ':ver'
  if redis.call('EXISTS', key) == 0 then
    local t = redis.call('TIME')
    redis.call('SET', key, t[1] .. string.format('%06d', tonumber(t[2])))
  end
  return string.format('%d', redis.call('INCR', key))
end

local function current_ver()
  return redis.call('GET', p .. ':ver') or '0'
end

local function publish(room, ver, user, name, joined, count)
  local change = { k = 'p', r = room, v = ver, u = { id = user, name = name }, j = joined, c = count }
  redis.call('PUBLISH', bus, cjson.encode(change))
end

-- Name keys have no control characters, so "\n" separates them.
local function split(keys)
  local out = {}
  for key in string.gmatch(keys, '[^\n]+') do out[#out + 1] = key end
  return out
end

-- A quiet claim (reconcile after Redis lost its data) restores a user the
-- other processes' clients already know of: it publishes nothing. `keys`
-- are the look-alike keys of the name, joined by "\n": any one of them
-- already taken makes the name taken.
local function claim(room, user, name, keys, node, quiet)
  local members = k('m', room)
  local hold = room .. '\n' .. user
  if redis.call('HEXISTS', members, user) == 1 then
    if redis.call('SADD', p .. ':node:' .. node, hold) == 1 then
      redis.call('HINCRBY', k('h', room), user, 1)
    end
    return { 'present', redis.call('HGET', members, user), current_ver(), redis.call('HGETALL', members) }
  end
  local names = k('n', room)
  for _, key in ipairs(split(keys)) do
    if redis.call('HEXISTS', names, key) == 1 then
      return { 'taken' }
    end
  end
  redis.call('HSET', members, user, name)
  for _, key in ipairs(split(keys)) do
    redis.call('HSET', names, key, user)
  end
  redis.call('HSET', k('f', room), user, keys)
  redis.call('HSET', k('h', room), user, 1)
  redis.call('SADD', p .. ':node:' .. node, hold)
  redis.call('ZINCRBY', p .. ':rooms', 1, room)
  redis.call('HINCRBY', p .. ':users', user, 1)
  if quiet == '1' then
    return { 'joined', name, current_ver(), redis.call('HGETALL', members) }
  end
  local ver = next_ver()
  publish(room, ver, user, name, true, redis.call('HLEN', members))
  return { 'joined', name, ver, redis.call('HGETALL', members) }
end

local function release(room, user, node)
  if redis.call('SREM', p .. ':node:' .. node, room .. '\n' .. user) == 0 then
    return 0
  end
  if redis.call('HINCRBY', k('h', room), user, -1) > 0 then
    return 0
  end
  redis.call('HDEL', k('h', room), user)
  local members = k('m', room)
  local name = redis.call('HGET', members, user)
  local keys = redis.call('HGET', k('f', room), user)
  redis.call('HDEL', members, user)
  redis.call('HDEL', k('f', room), user)
  if keys then
    for _, key in ipairs(split(keys)) do redis.call('HDEL', k('n', room), key) end
  end
  if tonumber(redis.call('ZINCRBY', p .. ':rooms', -1, room)) <= 0 then
    redis.call('ZREM', p .. ':rooms', room)
  end
  if redis.call('HINCRBY', p .. ':users', user, -1) <= 0 then
    redis.call('HDEL', p .. ':users', user)
  end
  if name then
    publish(room, next_ver(), user, name, false, redis.call('HLEN', members))
  end
  return 1
end

-- Releases everything a node holds and forgets the node.
local function reap(node)
  local holds = redis.call('SMEMBERS', p .. ':node:' .. node)
  for _, hold in ipairs(holds) do
    local cut = string.find(hold, '\n', 1, true)
    if cut then
      release(string.sub(hold, 1, cut - 1), string.sub(hold, cut + 1), node)
    end
  end
  redis.call('DEL', p .. ':node:' .. node)
  redis.call('ZREM', p .. ':nodes', node)
  return #holds
end

if op == 'claim' then
  return claim(ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
elseif op == 'release' then
  return release(ARGV[3], ARGV[4], ARGV[5])
elseif op == 'view' then
  return { current_ver(), redis.call('HGETALL', k('m', ARGV[3])) }
elseif op == 'heartbeat' then
  -- 0: the node was unknown although Redis kept its data, so the others
  -- took it for dead and removed its users; 1 otherwise.
  local new = redis.call('ZADD', p .. ':nodes', now_ms(), ARGV[3])
  if new == 1 and redis.call('EXISTS', p .. ':ver') == 1 then return 0 end
  return 1
elseif op == 'reap' then
  return reap(ARGV[3])
elseif op == 'reap_dead' then
  local dead = redis.call('ZRANGEBYSCORE', p .. ':nodes', '-inf', now_ms() - tonumber(ARGV[3]))
  for _, node in ipairs(dead) do reap(node) end
  return dead
end
return redis.error_reply('unknown operation ' .. tostring(op))
