-- secureai ratelimit: every operation against Redis is this one script, so
-- each check is one atomic round trip for all scopes. ARGV[1] selects it:
--   a  admit:  request rates (GCRA), concurrency slots, budget holds
--   r  return: give leased, unspent rate permits back
--   s  settle: release a slot and a hold, charge the usage, report thresholds
--   u  usage:  read one scope's counters
--
-- Each scope is one hash (one key in KEYS), so a check costs one HMGET and
-- one HSET per scope. Its fields:
--   r:<per_us>:<count>:<burst>  GCRA theoretical arrival time of a rate rule (us)
--   <p>w <p>t <p>c <p>mt <p>mc  budget window of period p (m minute, d day,
--                               M month): window index, tokens and
--                               micro-dollars used in it, highest threshold
--                               reported in it for each
--   ht<b> hc<b> hs<b>           tokens, micro-dollars and slots held by
--                               unsettled reservations that expire at b*g ms
--   ht hc hs                    their totals over all buckets not yet swept
--   hb hm                       oldest and newest bucket present (0: none)
--   x                           the key's expiry (ms) as last set
-- Holds and slots sit in expiry buckets of g ms, so that what is never
-- settled stops counting by itself, without a record per reservation: a
-- check first sweeps the expired buckets (at most TTL/g + 2 of them, once
-- each) out of the totals.
--
-- Time is the server's (TIME), never a client's. Lua time is most of a
-- check's cost, so the script builds few tables and calls few functions.
-- Counters are stored as Lua numbers (exact below 2^53; tonumber reads back
-- any form Redis prints them in); expiry times go through n2s, since
-- PEXPIREAT wants a plain integer.

local function n2s(x) return string.format('%d', math.floor(x)) end

local tm = redis.call('TIME')
local now_s = tonumber(tm[1])
local now_us = now_s * 1000000 + tonumber(tm[2])
local now_ms = math.floor(now_us / 1000)

-- Calendar arithmetic (proleptic Gregorian, UTC), for month windows.
local function civil(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end

local function days_from_civil(y, m)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5)
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- window returns the index of the current window of period p and its end
-- in seconds: minutes and days since the epoch, year*12 + month-1.
local function window(p)
  if p == 'm' then
    local w = math.floor(now_s / 60)
    return w, (w + 1) * 60
  end
  local days = math.floor(now_s / 86400)
  if p == 'd' then return days, (days + 1) * 86400 end
  local y, m = civil(days)
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  return y * 12 + m - 1, days_from_civil(ny, nm) * 86400
end

-- sweep drops the expired buckets [hb, ...] from the hold totals, writes
-- the change at once, and returns the new ht hc hs hb hm.
local function sweep(key, g, ht, hc, hs, hb, hm)
  local last = math.min(hm, math.floor(now_ms / g), hb + 31)
  local fields, n = {}, 0
  for b = hb, last do
    fields[n + 1], fields[n + 2], fields[n + 3] = 'ht' .. b, 'hc' .. b, 'hs' .. b
    n = n + 3
  end
  local v = redis.call('HMGET', key, unpack(fields))
  for i = 1, n, 3 do
    ht = ht - (tonumber(v[i]) or 0)
    hc = hc - (tonumber(v[i + 1]) or 0)
    hs = hs - (tonumber(v[i + 2]) or 0)
  end
  if last >= hm then
    ht, hc, hs, hb, hm = 0, 0, 0, 0, 0
  else
    ht, hc, hs, hb = math.max(ht, 0), math.max(hc, 0), math.max(hs, 0), last + 1
  end
  redis.call('HDEL', key, unpack(fields))
  redis.call('HSET', key, 'ht', ht, 'hc', hc, 'hs', hs, 'hb', hb, 'hm', hm)
  return ht, hc, hs, hb, hm
end

-- flush writes set[1..n] and pushes the key's expiry out when it would
-- come within ttl/2 of keep_ms.
local function flush(key, x, set, n, keep_ms, ttl)
  if keep_ms > x - ttl / 2 then
    local exp = keep_ms + ttl
    set[n + 1], set[n + 2] = 'x', exp
    redis.call('HSET', key, unpack(set, 1, n + 2))
    redis.call('PEXPIREAT', key, n2s(exp))
  elseif n > 0 then
    redis.call('HSET', key, unpack(set, 1, n))
  end
end

-- The fields of each budget period: window, tokens, micro-dollars, marks.
local PF = {
  m = {'mw', 'mt', 'mc', 'mmt', 'mmc'},
  d = {'dw', 'dt', 'dc', 'dmt', 'dmc'},
  M = {'Mw', 'Mt', 'Mc', 'Mmt', 'Mmc'},
}

-- admit: ARGV ttl_ms g_ms nscopes tokens micros, then per scope:
--   nrates slot_limit nbudgets, (field interval_us tolerance_us want) per
--   rate, (period tokens_limit micros_limit) per budget.
-- want > 1 leases: the rule takes up to want permits (at least one) when
-- the check admits.
-- KEYS: one per scope.
-- Reply: {1, now_us, bucket, permits taken per rate rule...} or
-- {0, kind, scope, index, cost, wait_us} (wait -1: the amount alone exceeds
-- the budget).
local function admit()
  local ttl, g, ns = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
  local at, ac = tonumber(ARGV[5]), tonumber(ARGV[6])
  local b = math.ceil((now_ms + ttl) / g)
  local bt, bc, bs = 'ht' .. b, 'hc' .. b, 'hs' .. b
  local a = 7
  local rk, rs, rx, rc, rw = 0, 0, 0, 0, -2
  local function refuse(kind, s, idx, cost, wait)
    if rw == -2 or wait == -1 or (rw ~= -1 and wait > rw) then
      rk, rs, rx, rc, rw = kind, s, idx, cost, wait
    end
  end
  local sets, counts, xs, keeps = {}, {}, {}, {}
  local got, ng = {1, now_us, b}, 3
  for i = 1, ns do
    local key = KEYS[i]
    local nr, conc, nb = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    local r0 = a + 3           -- first rate argument
    local b0 = r0 + 4 * nr     -- first budget argument
    a = b0 + 3 * nb
    -- fields: x ht hc hs hb hm ht<b> hc<b> hs<b>, a TAT per rate, (w t c) per
    -- budget; a scope with rates only reads x and the TATs, and leaves the
    -- sweep of its holds to the next check that needs them.
    local full = nb > 0 or conc > 0
    local fields, nf = {'x', 'ht', 'hc', 'hs', 'hb', 'hm', bt, bc, bs}, 9
    if not full then fields, nf = {'x'}, 1 end
    local t0 = nf
    for j = 0, nr - 1 do
      nf = nf + 1
      fields[nf] = ARGV[r0 + 4 * j]
    end
    for j = 0, nb - 1 do
      local F = PF[ARGV[b0 + 3 * j]]
      fields[nf + 1], fields[nf + 2], fields[nf + 3] = F[1], F[2], F[3]
      nf = nf + 3
    end
    local v = redis.call('HMGET', key, unpack(fields, 1, nf))
    local ht, hc, hs, hb, hm = 0, 0, 0, 0, 0
    local keep = now_ms
    if full then
      ht, hc, hs = tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0
      hb, hm = tonumber(v[5]) or 0, tonumber(v[6]) or 0
      if hb ~= 0 and hb * g <= now_ms then ht, hc, hs, hb, hm = sweep(key, g, ht, hc, hs, hb, hm) end
      keep = b * g
    end
    local set, n = {}, 0
    for j = 1, nr do
      local k = r0 + 4 * (j - 1)
      local interval, tol, want = tonumber(ARGV[k + 1]), tonumber(ARGV[k + 2]), tonumber(ARGV[k + 3])
      local tat = tonumber(v[t0 + j]) or now_us
      if tat < now_us then tat = now_us end
      local new = math.ceil(tat + interval)
      local take = 1
      if new - now_us > tol then
        refuse(1, i, j, 0, math.ceil(new - now_us - tol))
      elseif want > 1 then
        local more = math.min(want - 1, math.floor((now_us + tol - new) / interval))
        if more > 0 then
          take = take + more
          new = math.ceil(new + more * interval)
        end
      end
      ng = ng + 1
      got[ng] = take
      set[n + 1], set[n + 2] = ARGV[k], new
      n = n + 2
      if new / 1000 > keep then keep = math.ceil(new / 1000) end
    end
    if conc > 0 then
      if hs >= conc then refuse(2, i, 0, 0, 0) end
      set[n + 1], set[n + 2], set[n + 3], set[n + 4] = bs, (tonumber(v[9]) or 0) + 1, 'hs', hs + 1
      n = n + 4
    end
    for j = 1, nb do
      local k = b0 + 3 * (j - 1)
      local p, lt, lc = ARGV[k], tonumber(ARGV[k + 1]), tonumber(ARGV[k + 2])
      local o = 9 + nr + 3 * (j - 1)
      local w, wend = window(p)
      local tu, cu = 0, 0
      if tonumber(v[o + 1]) == w then
        tu, cu = tonumber(v[o + 2]) or 0, tonumber(v[o + 3]) or 0
      else
        local F = PF[p]
        set[n + 1], set[n + 2], set[n + 3], set[n + 4], set[n + 5] = F[1], w, F[2], 0, F[3]
        set[n + 6], set[n + 7], set[n + 8], set[n + 9], set[n + 10] = 0, F[4], 0, F[5], 0
        n = n + 10
      end
      local wait = wend * 1000000 - now_us
      if lt > 0 and tu + ht + at > lt then refuse(3, i, j, 0, at > lt and -1 or wait) end
      if lc > 0 and cu + hc + ac > lc then refuse(3, i, j, 1, ac > lc and -1 or wait) end
      if wend * 1000 > keep then keep = wend * 1000 end
    end
    if nb > 0 then
      set[n + 1], set[n + 2], set[n + 3], set[n + 4] = bt, (tonumber(v[7]) or 0) + at, bc, (tonumber(v[8]) or 0) + ac
      set[n + 5], set[n + 6], set[n + 7], set[n + 8] = 'ht', ht + at, 'hc', hc + ac
      n = n + 8
    end
    if nb > 0 or conc > 0 then
      set[n + 1], set[n + 2], set[n + 3], set[n + 4] = 'hb', (hb == 0 or b < hb) and b or hb, 'hm', math.max(hm, b)
      n = n + 4
    end
    sets[i], counts[i], xs[i], keeps[i] = set, n, tonumber(v[1]) or 0, keep
  end
  if rw ~= -2 then return {0, rk, rs, rx, rc, rw} end
  for i = 1, ns do flush(KEYS[i], xs[i], sets[i], counts[i], keeps[i], ttl) end
  return got
end

-- return: ARGV, per key: field interval_us permits. KEYS: one per lease.
-- Each rule's arrival time moves back by the permits' worth, never before
-- now (a full bucket). Reply: {1}.
local function giveback()
  for i = 1, #KEYS do
    local k = 2 + 3 * (i - 1)
    local tat = tonumber(redis.call('HGET', KEYS[i], ARGV[k]))
    if tat and tat > now_us then
      local new = math.max(now_us, tat - tonumber(ARGV[k + 1]) * tonumber(ARGV[k + 2]))
      redis.call('HSET', KEYS[i], ARGV[k], string.format('%d', math.ceil(new)))
    end
  end
  return {1}
end

-- settle: ARGV ttl_ms bucket nscopes held_tokens held_micros used_tokens
--   used_micros thresholds, then per scope:
--   slot hold nbudgets nfields,
--   the fields: x ht hc hs ht<b> hc<b> hs<b>, (w t c mt mc) per budget when
--   charging, then (period tokens_limit micros_limit) per budget.
-- KEYS: one per scope.
-- Reply: {1, now_us, (scope index cost percent used)...} for thresholds crossed.
local function settle()
  local ttl, ns = tonumber(ARGV[2]), tonumber(ARGV[4])
  local rt, rc = tonumber(ARGV[5]), tonumber(ARGV[6])
  local ut, uc = tonumber(ARGV[7]), tonumber(ARGV[8])
  local charge = ut > 0 or uc > 0
  local thr = {}
  for x in string.gmatch(ARGV[9], '%d+') do thr[#thr + 1] = tonumber(x) end
  local out, no = {1, now_us}, 2
  local a = 10
  for i = 1, ns do
    local key = KEYS[i]
    local slot, hold, nb, nf = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    local f0 = a + 4
    local k = f0 + nf
    a = k + 3 * nb
    local v = redis.call('HMGET', key, unpack(ARGV, f0, k - 1))
    local set, n = {}, 0
    -- a bucket still present holds what this reservation took: give it back
    if slot == '1' and tonumber(v[7]) then
      local have = tonumber(v[7])
      local d = math.min(have, 1)
      set[n + 1], set[n + 2], set[n + 3], set[n + 4] = ARGV[f0 + 6], have - d, 'hs', math.max(0, (tonumber(v[4]) or 0) - d)
      n = n + 4
    end
    if hold == '1' then
      local have = tonumber(v[5])
      if have and rt > 0 then
        local d = math.min(have, rt)
        set[n + 1], set[n + 2], set[n + 3], set[n + 4] = ARGV[f0 + 4], have - d, 'ht', math.max(0, (tonumber(v[2]) or 0) - d)
        n = n + 4
      end
      have = tonumber(v[6])
      if have and rc > 0 then
        local d = math.min(have, rc)
        set[n + 1], set[n + 2], set[n + 3], set[n + 4] = ARGV[f0 + 5], have - d, 'hc', math.max(0, (tonumber(v[3]) or 0) - d)
        n = n + 4
      end
    end
    local keep = now_ms
    if charge then
      for j = 1, nb do
        local p, lt, lc = ARGV[k], tonumber(ARGV[k + 1]), tonumber(ARGV[k + 2])
        k = k + 3
        local o = 7 + 5 * (j - 1)
        local w, wend = window(p)
        local tu, cu, mt, mc = 0, 0, 0, 0
        if tonumber(v[o + 1]) == w then
          tu, cu = tonumber(v[o + 2]) or 0, tonumber(v[o + 3]) or 0
          mt, mc = tonumber(v[o + 4]) or 0, tonumber(v[o + 5]) or 0
        end
        tu, cu = tu + ut, cu + uc
        for c = 0, 1 do
          local used, limit, mark = tu, lt, mt
          if c == 1 then used, limit, mark = cu, lc, mc end
          if limit > 0 then
            for _, th in ipairs(thr) do
              if th > mark and used * 100 >= th * limit then
                out[no + 1], out[no + 2], out[no + 3], out[no + 4], out[no + 5] = i, j, c, th, used
                no = no + 5
                mark = th
              end
            end
          end
          if c == 0 then mt = mark else mc = mark end
        end
        set[n + 1], set[n + 2], set[n + 3], set[n + 4], set[n + 5] = ARGV[f0 + 6 + 5 * (j - 1) + 1], w, ARGV[f0 + 6 + 5 * (j - 1) + 2], tu, ARGV[f0 + 6 + 5 * (j - 1) + 3]
        set[n + 6], set[n + 7], set[n + 8], set[n + 9], set[n + 10] = cu, ARGV[f0 + 6 + 5 * (j - 1) + 4], mt, ARGV[f0 + 6 + 5 * (j - 1) + 5], mc
        n = n + 10
        if wend * 1000 > keep then keep = wend * 1000 end
      end
    end
    if n > 0 then flush(key, tonumber(v[1]) or 0, set, n, keep, ttl) end
  end
  return out
end

-- usage: ARGV g_ms, then the fields ht hc hs hb hm, then (period w t c)
-- per period. KEYS: the scope.
-- Reply: {now_us, slots, held_tokens, held_micros, (tu cu end_s) per period}.
local function usage()
  local g = tonumber(ARGV[2])
  local key = KEYS[1]
  local np = (#ARGV - 7) / 4
  local fields = {ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]}
  for j = 0, np - 1 do
    local o = 8 + 4 * j
    fields[6 + 3 * j], fields[7 + 3 * j], fields[8 + 3 * j] = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3]
  end
  local v = redis.call('HMGET', key, unpack(fields))
  local ht, hc, hs = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0
  local hb, hm = tonumber(v[4]) or 0, tonumber(v[5]) or 0
  if hb ~= 0 and hb * g <= now_ms then ht, hc, hs, hb, hm = sweep(key, g, ht, hc, hs, hb, hm) end
  local out = {now_us, hs, ht, hc}
  for j = 0, np - 1 do
    local w, wend = window(ARGV[8 + 4 * j])
    local tu, cu = 0, 0
    if tonumber(v[6 + 3 * j]) == w then tu, cu = tonumber(v[7 + 3 * j]) or 0, tonumber(v[8 + 3 * j]) or 0 end
    out[5 + 3 * j], out[6 + 3 * j], out[7 + 3 * j] = tu, cu, wend
  end
  return out
end

local op = ARGV[1]
if op == 'a' then return admit() end
if op == 's' then return settle() end
if op == 'u' then return usage() end
if op == 'r' then return giveback() end
return redis.error_reply('ratelimit: unknown operation')
