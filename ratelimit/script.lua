-- secureai ratelimit: every operation against Redis is this one script. One
-- call runs a batch of operations in order, atomically: the checks that
-- replicas' goroutines started while an earlier call was in flight travel
-- together, so a busy process pays one round trip, one TIME and one read
-- and one write of each key for many checks.
--
-- ARGV: pairs (key_base, op). op is a string of little-endian 64-bit
-- integers, all >= 0; its key indexes are relative to key_base (KEYS[base
-- + index + 1]). The same key may appear more than once in KEYS: its state is
-- read once and written once per call.
-- Reply: one array per op, in order.
--
-- op[1] selects the operation:
--   1 admit:  request rates (GCRA), concurrency slots, budget holds
--   2 settle: release a slot and a hold, charge the usage, report thresholds
--   3 usage:  read one scope's counters
--   4 return: give leased, unspent rate permits back
--
-- Each scope is one string key holding its state as 64-bit integers:
--   1  layout version (2)
--   2  x: the key's expiry (ms) as last set
--   3  nr, then nr × (interval_ns, tolerance_ns, tat_us): the GCRA
--      theoretical arrival time of each rate rule, named by its interval
--      and tolerance (an entry whose tat is past is a full bucket: dropped)
--   .. np, then np × (period, window, tokens, micro-dollars, mark_tokens,
--      mark_micros): the budget window of each period in use (0 minute,
--      1 day, 2 month): its index, what was used in it, and the highest
--      threshold reported in it for tokens and for micro-dollars
--   .. nb, then nb × (bucket, tokens, micro-dollars, slots): what unsettled
--      reservations and concurrency slots hold, by expiry bucket; a bucket
--      b stops counting at b*g ms, so what is never settled expires by
--      itself, without a record per reservation (at most TTL/g + 2
--      buckets; one settled to nothing is dropped)
-- A value that is not in this layout (absent, or written by another
-- version) reads as an empty state.
--
-- Time is the server's (TIME), never a client's. Where the server has
-- Lua's struct library (Redis, Valkey) the integers are packed by it;
-- elsewhere (test servers) by the Lua fallback below, to the same bytes.

local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min

local tm = redis.call('TIME')
local now_s = tonumber(tm[1])
local now_us = now_s * 1000000 + tonumber(tm[2])
local now_ms = floor(now_us / 1000)

local dec, enc
local struct = rawget(_G, 'struct')
if struct then
  local fmts = {}
  local function fmt(n)
    local f = fmts[n]
    if not f then
      f = '<' .. string.rep('i8', n)
      fmts[n] = f
    end
    return f
  end
  dec = function(s) return {struct.unpack(fmt(#s / 8), s)} end
  enc = function(t, n) return struct.pack(fmt(n), unpack(t, 1, n)) end
else
  dec = function(s)
    local t = {}
    for i = 1, #s / 8 do
      local a, b, c, d, e, f, g, h = string.byte(s, 8 * i - 7, 8 * i)
      t[i] = ((((((h * 256 + g) * 256 + f) * 256 + e) * 256 + d) * 256 + c) * 256 + b) * 256 + a
    end
    return t
  end
  enc = function(t, n)
    local parts, bs = {}, {}
    for i = 1, n do
      local x = t[i]
      for j = 1, 8 do
        bs[j] = x % 256
        x = floor(x / 256)
      end
      parts[i] = string.char(unpack(bs, 1, 8))
    end
    return table.concat(parts)
  end
end

-- Calendar arithmetic (proleptic Gregorian, UTC), for month windows.
local function civil(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end

local function days_from_civil(y, m)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = floor((153 * mp + 2) / 5)
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- windows[p] = {index, end_s} of the current window of period p (0 minute,
-- 1 day, 2 month): minutes and days since the epoch, year*12 + month-1.
local windows = {}
local function window(p)
  local w = windows[p]
  if w then return w[1], w[2] end
  local i, e
  if p == 0 then
    i = floor(now_s / 60)
    e = (i + 1) * 60
  else
    local days = floor(now_s / 86400)
    if p == 1 then
      i, e = days, (days + 1) * 86400
    else
      local y, m = civil(days)
      local ny, nm = y, m + 1
      if nm == 13 then ny, nm = y + 1, 1 end
      i, e = y * 12 + m - 1, days_from_civil(ny, nm) * 86400
    end
  end
  windows[p] = {i, e}
  return i, e
end

-- The decoded state of each key named in this call, by key name.
local states, order, vals = {}, {}, nil

-- load returns the state of KEYS[k + 1] (k counts from 0): {key, a (the
-- key's integers, decoded in place), n (how many), po (index in a of np),
-- bo (index of nb), ht, hc, hs (the sums of the live buckets, set by
-- live), keep (ms the key must outlive), dirty}. The accessors below read
-- and change a where it is: no copy per key.
local function load(k)
  k = k + 1
  local key = KEYS[k]
  local st = states[key]
  if st then return st end
  st = {key = key, ht = 0, hc = 0, hs = 0, keep = 0, dirty = false}
  local s = vals[k]
  if type(s) == 'string' and #s >= 8 * 5 and #s % 8 == 0 then
    local a = dec(s)
    local n = #s / 8
    local po = 4 + 3 * a[3]
    local bo = po + 1 + 6 * (a[po] or 0)
    if a[1] == 2 and bo <= n and bo + 4 * a[bo] == n then
      st.a, st.n, st.po, st.bo = a, n, po, bo
    end
  end
  if not st.a then
    st.a, st.n, st.po, st.bo = {2, 0, 0, 0, 0}, 5, 4, 5
  end
  states[key] = st
  order[#order + 1] = st
  return st
end

-- shift makes room for k integers at index at of st.a, moving what
-- follows (the sections after it move with it).
local function shift(st, at, k)
  local a, n = st.a, st.n
  for i = n, at, -1 do a[i + k] = a[i] end
  for i = at, at + k - 1 do a[i] = 0 end
  st.n = n + k
end

-- live drops the buckets of st that stopped counting (b*g <= now) and
-- recomputes the sums, once per key in a call (lg: the grain they were
-- computed with; admit and settle keep the sums after). g is the op's
-- bucket grain. Buckets are the last section, so dropping is in place.
local function live(st, g)
  if st.lg == g then return end
  st.lg = g
  local a, j = st.a, st.bo
  local ht, hc, hs = 0, 0, 0
  for i = st.bo + 1, st.n, 4 do
    if a[i] * g > now_ms then
      a[j + 1], a[j + 2], a[j + 3], a[j + 4] = a[i], a[i + 1], a[i + 2], a[i + 3]
      ht, hc, hs = ht + a[i + 1], hc + a[i + 2], hs + a[i + 3]
      j = j + 4
    end
  end
  if j < st.n then
    st.n = j
    a[st.bo] = (j - st.bo) / 4
  end
  st.ht, st.hc, st.hs = ht, hc, hs
end

-- bucket returns the index in st.a of bucket b (then its tokens,
-- micro-dollars and slots), adding it when absent.
local function bucket(st, b)
  local a, n = st.a, st.n
  for i = st.bo + 1, n, 4 do
    if a[i] == b then return i end
  end
  a[n + 1], a[n + 2], a[n + 3], a[n + 4] = b, 0, 0, 0
  a[st.bo] = a[st.bo] + 1
  st.n = n + 4
  return n + 1
end

-- rate returns the index in st.a of the entry (iv, tol) (its tat at +2),
-- or nil.
local function rate(st, iv, tol)
  local a = st.a
  for i = 4, st.po - 1, 3 do
    if a[i] == iv and a[i + 1] == tol then return i end
  end
  return nil
end

-- addrate adds the entry (iv, tol, tat) and returns its index.
local function addrate(st, iv, tol, tat)
  local at = st.po
  shift(st, at, 3)
  local a = st.a
  a[at], a[at + 1], a[at + 2] = iv, tol, tat
  a[3] = a[3] + 1
  st.po, st.bo = st.po + 3, st.bo + 3
  return at
end

-- per returns the index in st.a of period p's window (then tokens,
-- micro-dollars and the two marks), or nil.
local function per(st, p)
  local a = st.a
  for i = st.po + 1, st.bo - 1, 6 do
    if a[i] == p then return i + 1 end
  end
  return nil
end

-- addper adds period p, all zero, and returns the index of its window.
local function addper(st, p)
  local at = st.bo
  shift(st, at, 6)
  local a = st.a
  a[at] = p
  a[st.po] = a[st.po] + 1
  st.bo = st.bo + 6
  return at + 1
end

local function touch(st, keep)
  st.dirty = true
  if keep > st.keep then st.keep = keep end
end

-- admit: op = 1 ttl_ms g_ms tokens micros nscopes, then per scope:
--   key nrates slot_limit nbudgets, (interval_ns tolerance_ns want) per
--   rate, (period tokens_limit micros_limit) per budget.
-- want > 1 leases: the rule takes up to want permits (at least one) when
-- the check admits.
-- Reply: {1, now_us, bucket, permits taken per rate rule...} or
-- {0, kind, scope, index, cost, wait_us} (wait -1: the amount alone exceeds
-- the budget).
local function admit(o, base)
  local g, at, ac, ns = o[3], o[4], o[5], o[6]
  local b = ceil((now_ms + o[2]) / g)
  -- The first pass decides on every scope and changes nothing; the second
  -- applies: all scopes or none.
  local rk, rs, rx, rc, rw = 0, 0, 0, 0, -2
  local got, ng = {1, now_us, b}, 3
  local a = 7
  for i = 1, ns do
    local st = load(base + o[a])
    local nr, conc, nb = o[a + 1], o[a + 2], o[a + 3]
    a = a + 4
    if nb > 0 or conc > 0 then live(st, g) end
    for j = 1, nr do
      local iv, tol, want = o[a], o[a + 1], o[a + 2]
      a = a + 3
      local interval, tolus = iv / 1000, tol / 1000
      local ri = rate(st, iv, tol)
      local tat = ri and st.a[ri + 2] or now_us
      if tat < now_us then tat = now_us end
      local new = ceil(tat + interval)
      local take = 1
      if new - now_us > tolus then
        local wait = ceil(new - now_us - tolus)
        if rw == -2 or (rw ~= -1 and wait > rw) then rk, rs, rx, rc, rw = 1, i, j, 0, wait end
      elseif want > 1 then
        local more = min(want - 1, floor((now_us + tolus - new) / interval))
        if more > 0 then take = take + more end
      end
      ng = ng + 1
      got[ng] = take
    end
    if conc > 0 and st.hs >= conc and rw == -2 then rk, rs, rx, rc, rw = 2, i, 0, 0, 0 end
    for j = 1, nb do
      local p, lt, lc = o[a], o[a + 1], o[a + 2]
      a = a + 3
      local w, wend = window(p)
      local q = per(st, p)
      local tu, cu = 0, 0
      if q and st.a[q] == w then tu, cu = st.a[q + 1], st.a[q + 2] end
      for c = 0, 1 do
        local over, alone = false, false
        if c == 0 then
          over, alone = lt > 0 and tu + st.ht + at > lt, at > lt
        else
          over, alone = lc > 0 and cu + st.hc + ac > lc, ac > lc
        end
        if over then
          local wait = alone and -1 or wend * 1000000 - now_us
          if rw == -2 or wait == -1 or (rw ~= -1 and wait > rw) then rk, rs, rx, rc, rw = 3, i, j, c, wait end
        end
      end
    end
  end
  if rw ~= -2 then return {0, rk, rs, rx, rc, rw} end
  a, ng = 7, 3
  for _ = 1, ns do
    local st = load(base + o[a])
    local nr, conc, nb = o[a + 1], o[a + 2], o[a + 3]
    a = a + 4
    st.dirty = true
    local keep = st.keep
    for _ = 1, nr do
      local iv, tol = o[a], o[a + 1]
      a = a + 3
      local interval = iv / 1000
      local ri = rate(st, iv, tol)
      local tat = ri and st.a[ri + 2] or now_us
      if tat < now_us then tat = now_us end
      ng = ng + 1
      local new = ceil(tat + got[ng] * interval)
      if ri then
        st.a[ri + 2] = new
      else
        addrate(st, iv, tol, new)
      end
      if new / 1000 > keep then keep = ceil(new / 1000) end
    end
    if conc > 0 or nb > 0 then
      local k = bucket(st, b)
      local B = st.a
      if conc > 0 then
        B[k + 3] = B[k + 3] + 1
        st.hs = st.hs + 1
      end
      if nb > 0 then
        B[k + 1], B[k + 2] = B[k + 1] + at, B[k + 2] + ac
        st.ht, st.hc = st.ht + at, st.hc + ac
      end
      if b * g > keep then keep = b * g end
    end
    for _ = 1, nb do
      local p = o[a]
      a = a + 3
      local w, wend = window(p)
      local q = per(st, p) or addper(st, p)
      local P = st.a
      if P[q] ~= w then
        P[q], P[q + 1], P[q + 2], P[q + 3], P[q + 4] = w, 0, 0, 0, 0
      end
      if wend * 1000 > keep then keep = wend * 1000 end
    end
    st.keep = keep
  end
  return got
end

-- settle: op = 2 ttl_ms g_ms bucket held_tokens held_micros used_tokens
--   used_micros nthresholds thresholds... nscopes, then per scope:
--   key slot hold nbudgets, (period tokens_limit micros_limit) per budget
--   (sent when the settlement charges).
-- Reply: {1, now_us, (scope index cost percent used)...} for thresholds
-- crossed.
local function settle(o, base)
  local g, b = o[3], o[4]
  local rt, rc, ut, uc = o[5], o[6], o[7], o[8]
  local nt = o[9]
  local a = 10 + nt
  local ns = o[a]
  a = a + 1
  local out, no = {1, now_us}, 2
  for i = 1, ns do
    local st = load(base + o[a])
    local slot, hold, nb = o[a + 1], o[a + 2], o[a + 3]
    a = a + 4
    if slot == 1 or hold == 1 then
      -- a bucket still present holds what this reservation took: give it back
      local B = st.a
      for k = st.bo + 1, st.n, 4 do
        if B[k] == b then
          if slot == 1 and B[k + 3] > 0 then
            B[k + 3] = B[k + 3] - 1
            st.hs = st.hs - 1
          end
          if hold == 1 then
            local dt, dc = min(B[k + 1], rt), min(B[k + 2], rc)
            B[k + 1], B[k + 2] = B[k + 1] - dt, B[k + 2] - dc
            st.ht, st.hc = st.ht - dt, st.hc - dc
          end
          touch(st, 0)
          break
        end
      end
    end
    for j = 1, nb do
      local p, lt, lc = o[a], o[a + 1], o[a + 2]
      a = a + 3
      local w, wend = window(p)
      local q = per(st, p) or addper(st, p)
      local P = st.a
      local tu, cu, mt, mc = 0, 0, 0, 0
      if P[q] == w then tu, cu, mt, mc = P[q + 1], P[q + 2], P[q + 3], P[q + 4] end
      tu, cu = tu + ut, cu + uc
      for c = 0, 1 do
        local used, limit, mark = tu, lt, mt
        if c == 1 then used, limit, mark = cu, lc, mc end
        if limit > 0 then
          for x = 10, 9 + nt do
            local th = o[x]
            if th > mark and used * 100 >= th * limit then
              out[no + 1], out[no + 2], out[no + 3], out[no + 4], out[no + 5] = i, j, c, th, used
              no = no + 5
              mark = th
            end
          end
        end
        if c == 0 then mt = mark else mc = mark end
      end
      P[q], P[q + 1], P[q + 2], P[q + 3], P[q + 4] = w, tu, cu, mt, mc
      touch(st, wend * 1000)
    end
  end
  return out
end

-- usage: op = 3 ttl_ms g_ms key.
-- Reply: {now_us, slots, held_tokens, held_micros, (tokens micros end_s)
-- per period m d M}.
local function usage(o, base)
  local st = load(base + o[4])
  live(st, o[3])
  local out = {now_us, st.hs, st.ht, st.hc}
  for p = 0, 2 do
    local w, wend = window(p)
    local q = per(st, p)
    local tu, cu = 0, 0
    if q and st.a[q] == w then tu, cu = st.a[q + 1], st.a[q + 2] end
    out[5 + 3 * p], out[6 + 3 * p], out[7 + 3 * p] = tu, cu, wend
  end
  return out
end

-- return: op = 4 ttl_ms g_ms n, then n × (key interval_ns tolerance_ns
-- permits). Each rule's arrival time moves back by the permits' worth,
-- never before now (a full bucket). Reply: {1}.
local function giveback(o, base)
  local a = 5
  for _ = 1, o[4] do
    local st = load(base + o[a])
    local ri = rate(st, o[a + 1], o[a + 2])
    if ri then
      local tat = st.a[ri + 2]
      st.a[ri + 2] = max(now_us, ceil(tat - o[a + 1] / 1000 * o[a + 3]))
      touch(st, 0)
    end
    a = a + 4
  end
  return {1}
end

vals = redis.call('MGET', unpack(KEYS))
local replies, ttl, decoded = {}, 0, {}
for i = 1, #ARGV, 2 do
  -- ops of one plan and amount are the same bytes: decode them once
  local base, o = tonumber(ARGV[i]), decoded[ARGV[i + 1]]
  if not o then
    o = dec(ARGV[i + 1])
    decoded[ARGV[i + 1]] = o
  end
  local op = o[1]
  if o[2] > ttl then ttl = o[2] end
  if op == 1 then
    replies[#replies + 1] = admit(o, base)
  elseif op == 2 then
    replies[#replies + 1] = settle(o, base)
  elseif op == 3 then
    replies[#replies + 1] = usage(o, base)
  elseif op == 4 then
    replies[#replies + 1] = giveback(o, base)
  else
    return redis.error_reply('ratelimit: unknown operation')
  end
end

-- Write each changed key once, pushing its expiry out when it would come
-- within ttl/2 of what it must outlive.
for _, st in ipairs(order) do
  if st.dirty then
    local t, n = st.a, st.n
    -- Drop buckets settled to nothing (the last section: in place), and
    -- rate entries whose arrival time is past (a full bucket, the same as
    -- none) once they are more than a plan needs.
    local j = st.bo
    for i = st.bo + 1, n, 4 do
      if t[i + 1] > 0 or t[i + 2] > 0 or t[i + 3] > 0 then
        t[j + 1], t[j + 2], t[j + 3], t[j + 4] = t[i], t[i + 1], t[i + 2], t[i + 3]
        j = j + 4
      end
    end
    t[st.bo] = (j - st.bo) / 4
    n = j
    if t[3] > 8 then
      local u, m = {2, 0, 0}, 3
      for i = 4, st.po - 1, 3 do
        if t[i + 2] > now_us then
          u[m + 1], u[m + 2], u[m + 3] = t[i], t[i + 1], t[i + 2]
          m = m + 3
        end
      end
      u[3] = (m - 3) / 3
      for i = st.po, n do
        m = m + 1
        u[m] = t[i]
      end
      t, n = u, m
    end
    local keep, x = max(st.keep, now_ms), st.a[2]
    if keep > x - ttl / 2 then
      x = keep + ttl
      t[2] = x
      redis.call('SET', st.key, enc(t, n), 'PXAT', x)
    else
      t[2] = x
      redis.call('SET', st.key, enc(t, n), 'KEEPTTL')
    end
  end
end
return replies
