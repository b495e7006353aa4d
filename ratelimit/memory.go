package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// MemoryOptions configure a [MemoryStore]. The zero value is ready to use.
type MemoryOptions struct {
	// Now is the store's clock, for rate buckets, budget windows and
	// expiry. Tests inject a fake one; testing/synctest's fake time works
	// with the default too. Default: time.Now.
	Now func() time.Time
}

// MemoryStore keeps counters in the process: for a single replica, for
// tests, and as the local fallback of a limiter that fails open. Request
// rates are token buckets (computed as golang.org/x/time/rate's, which
// this store used before); budgets, concurrency slots
// and holds follow the same rules as [RedisStore] (fixed UTC windows, holds
// and slots that expire by themselves between the TTL and TTL×5/4 when
// never settled).
//
// One mutex guards the whole store, so a check across all scopes is atomic.
// Idle scopes (full buckets, ended windows, nothing held) are swept after
// a number of operations twice the number of scopes (at least 4096), so
// memory follows the active callers, not every caller ever seen, and a
// sweep costs less than one scope per operation. A scope used since the
// previous sweep is kept by this one, idle or not, while the store holds
// at most 65 536 scopes, so that a caller who comes back finds its state
// rather than a new one being built.
//
// A MemoryStore is safe for concurrent use and starts no goroutine. Build
// it with [NewMemoryStore]; the zero value is not usable. Give each
// [Limiter] its own: two limiters with different rules must not share one.
type MemoryStore struct {
	now func() time.Time

	mu     sync.Mutex
	scopes map[scopeKey]*memScope
	ops    int
	epoch  uint32 // sweeps so far: a query's scope pointers from an earlier epoch are not used
}

// memKeepMax is how many scopes a sweep may keep because they were used
// since the sweep before, idle or not: past it, it drops every idle one.
const memKeepMax = 1 << 16

type scopeKey struct {
	kind ScopeKind
	name string
}

// memScope is one scope's state: the fields of its Redis hash. A scope
// has a few rates and at most about five live expiry buckets (see
// bucketGrain): slices searched in order, not maps, and held in the
// scope itself while they are short (two rates, two buckets: the default
// rules'), so that a check reads a few adjacent cache lines of memory and
// follows no pointer. Build one with newMemScope.
type memScope struct {
	epoch   uint32 // the store's epoch when the scope was last used
	rates   []memBucket
	holds   []memHold // by expiry bucket; expired ones are dropped by held
	rateBuf [2]memBucket
	holdBuf [2]memHold
	windows [numPeriods]memWindow
}

// newMemScope returns an empty scope, its slices in its own storage.
func newMemScope() *memScope {
	m := new(memScope)
	m.rates, m.holds = m.rateBuf[:0], m.holdBuf[:0]
	return m
}

// memBucket is the token bucket of one rate rule: tokens at last, refilled
// at Count/Per a second up to Burst, in the arithmetic of
// golang.org/x/time/rate's Limiter.
type memBucket struct {
	r      Rate
	tokens float64
	last   time.Time
}

// limit is the bucket's refill rate, in tokens a second.
func (b *memBucket) limit() float64 { return float64(b.r.Count) / b.r.Per.Seconds() }

// tokensAt returns the tokens in the bucket at now (Limiter.TokensAt).
func (b *memBucket) tokensAt(now time.Time) float64 {
	last := b.last
	if now.Before(last) {
		last = now
	}
	t := b.tokens + now.Sub(last).Seconds()*b.limit()
	if burst := float64(b.r.Burst); t > burst {
		t = burst
	}
	return t
}

// take takes a token at now; the caller has seen that there is one.
func (b *memBucket) take(now time.Time) {
	b.tokens, b.last = b.tokensAt(now)-1, now
}

// memHold is what the checks that expire in one bucket hold: budget and
// concurrency slots.
type memHold struct {
	bucket int64
	c      charge
	slots  int
}

// bucket returns the token bucket of r, or nil when the scope has none
// yet (a new bucket is full).
func (sc *memScope) bucket(r Rate) *memBucket {
	for i := range sc.rates {
		if sc.rates[i].r == r {
			return &sc.rates[i]
		}
	}
	return nil
}

// hold returns the hold of bucket, added when missing.
func (sc *memScope) hold(bucket int64) *memHold {
	if h := sc.holdAt(bucket); h != nil {
		return h
	}
	sc.holds = append(sc.holds, memHold{bucket: bucket})
	return &sc.holds[len(sc.holds)-1]
}

// holdAt returns the hold of bucket, or nil.
func (sc *memScope) holdAt(bucket int64) *memHold {
	for i := range sc.holds {
		if sc.holds[i].bucket == bucket {
			return &sc.holds[i]
		}
	}
	return nil
}

// memWindow is a budget's counters in window w.
type memWindow struct {
	set                    bool
	w                      int64
	end                    time.Time
	tokensUsed, microsUsed int64
	tokensMark, microsMark int
}

// roll moves the window to the one holding now, resetting what was used.
func (m *memWindow) roll(p period, now time.Time) {
	w, end := p.window(now)
	if !m.set || m.w != w {
		*m = memWindow{set: true, w: w, end: end}
	}
}

// held sums the live holds and slots, dropping expired buckets.
func (sc *memScope) held(g, nowMs int64) (charge, int) {
	var c charge
	n := 0
	live := sc.holds[:0]
	for _, h := range sc.holds {
		if !bucketLive(h.bucket, g, nowMs) {
			continue
		}
		c.tokens += h.c.tokens
		c.micros += h.c.micros
		n += h.slots
		live = append(live, h)
	}
	clear(sc.holds[len(live):])
	sc.holds = live
	return c, n
}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore(opts MemoryOptions) *MemoryStore {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, scopes: make(map[scopeKey]*memScope)}
}

func (s *MemoryStore) remote() bool { return false }

func (s *MemoryStore) scope(sc Scope, create bool) *memScope {
	k := scopeKey{sc.Kind, sc.Name}
	m := s.scopes[k]
	if m == nil && create {
		m = newMemScope()
		s.scopes[k] = m
	}
	if m != nil {
		m.epoch = s.epoch
	}
	return m
}

// scopeOf returns the state of q's i-th scope, as scope does, from the
// pointer admit kept in q when this store admitted q and no sweep has run
// since.
func (s *MemoryStore) scopeOf(q *query, i int, create bool) *memScope {
	if i < len(q.mem) && q.mem[i] != nil && q.memStore == s && q.memEpoch == s.epoch {
		q.mem[i].epoch = s.epoch
		return q.mem[i]
	}
	return s.scope(q.scopes[i].scope, create)
}

func (s *MemoryStore) admit(ctx context.Context, q *query) (verdict, error) {
	if err := ctx.Err(); err != nil {
		return verdict{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.tick(now, q.ttl)
	nowMs, ttlMs, g := now.UnixMilli(), q.ttl.Milliseconds(), bucketGrain(q.ttl)

	v := verdict{ok: true}
	refuse := func(r verdict) {
		if v.ok || r.wait < 0 || (v.wait >= 0 && r.wait > v.wait) {
			v = r
		}
	}
	var empty memScope // a scope not seen yet, or swept
	for i := range q.scopes {
		ref := &q.scopes[i]
		seen := s.scope(ref.scope, false)
		if i < len(q.mem) {
			q.mem[i] = seen // never &empty, which must not escape into q.mem
		}
		m := seen
		if m == nil {
			m = &empty
		}
		hold, slots := m.held(g, nowMs)
		if q.rates {
			for j := range ref.plan.rates {
				b := m.bucket(ref.plan.rates[j].Rate)
				if b == nil {
					continue // a new bucket is full
				}
				if tokens := b.tokensAt(now); tokens < 1 {
					wait := time.Duration(math.Ceil((1 - tokens) / b.limit() * float64(time.Second)))
					refuse(verdict{scope: i, kind: refuseRate, rule: j, wait: wait})
				}
			}
		}
		if q.slots && ref.plan.conc > 0 && slots >= ref.plan.conc {
			refuse(verdict{scope: i, kind: refuseSlot})
		}
		if q.budgets {
			for _, p := range ref.plan.periods {
				b := ref.plan.budgets[p]
				mw := m.windows[p]
				mw.roll(p, now)
				wait := mw.end.Sub(now)
				if b.tokens > 0 && mw.tokensUsed+hold.tokens+q.amount.tokens > b.tokens {
					refuse(verdict{scope: i, kind: refuseBudget, rule: int(p), wait: tooLarge(q.amount.tokens > b.tokens, wait)})
				}
				if b.micros > 0 && mw.microsUsed+hold.micros+q.amount.micros > b.micros {
					refuse(verdict{scope: i, kind: refuseBudget, rule: int(p), cost: true, wait: tooLarge(q.amount.micros > b.micros, wait)})
				}
			}
		}
	}
	if !v.ok {
		return v, nil
	}

	// Every scope admits: apply.
	v.bucket = bucketOf(nowMs, ttlMs, g)
	q.memStore, q.memEpoch = s, s.epoch // q.mem is kept for settle
	for i := range q.scopes {
		ref := &q.scopes[i]
		var m *memScope
		if i < len(q.mem) {
			m = q.mem[i]
		}
		if m == nil {
			m = s.scope(ref.scope, true)
			if i < len(q.mem) {
				q.mem[i] = m
			}
		}
		if q.rates {
			for _, rp := range ref.plan.rates {
				b := m.bucket(rp.Rate)
				if b == nil {
					m.rates = append(m.rates, memBucket{r: rp.Rate, tokens: float64(rp.Burst), last: now})
					b = &m.rates[len(m.rates)-1]
				}
				b.take(now)
			}
		}
		if q.slots && ref.plan.conc > 0 {
			m.hold(v.bucket).slots++
		}
		if q.budgets && ref.plan.hasBudget {
			for _, p := range ref.plan.periods {
				m.windows[p].roll(p, now)
			}
			h := m.hold(v.bucket)
			h.c.tokens += q.amount.tokens
			h.c.micros += q.amount.micros
		}
	}
	return v, nil
}

func tooLarge(never bool, wait time.Duration) time.Duration {
	if never {
		return -1
	}
	return wait
}

func (s *MemoryStore) settle(ctx context.Context, q *query, used charge) ([]crossing, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.tick(now, q.ttl)
	var out []crossing
	for i := range q.scopes {
		ref := &q.scopes[i]
		m := s.scopeOf(q, i, used.tokens > 0 || used.micros > 0)
		if m == nil {
			continue
		}
		h := m.holdAt(q.bucket)
		if h != nil && q.slots && ref.plan.conc > 0 {
			h.slots = max(0, h.slots-1)
		}
		if !q.budgets || !ref.plan.hasBudget {
			continue
		}
		if h != nil {
			h.c.tokens = max(0, h.c.tokens-q.amount.tokens)
			h.c.micros = max(0, h.c.micros-q.amount.micros)
		}
		if used.tokens == 0 && used.micros == 0 {
			continue
		}
		for _, p := range ref.plan.periods {
			b := ref.plan.budgets[p]
			mw := &m.windows[p]
			mw.roll(p, now)
			mw.tokensUsed += used.tokens
			mw.microsUsed += used.micros
			if q.thresholds != nil {
				out, mw.tokensMark = crossed(out, crossing{scope: i, period: p, at: now}, mw.tokensUsed, b.tokens, mw.tokensMark, q.thresholds)
				out, mw.microsMark = crossed(out, crossing{scope: i, period: p, cost: true, at: now}, mw.microsUsed, b.micros, mw.microsMark, q.thresholds)
			}
		}
	}
	return out, nil
}

// tick counts operations and sweeps idle scopes after max(4096, twice
// the number of scopes) of them. A scope used since the previous sweep
// stays while the store holds at most memKeepMax scopes: a caller who
// comes back within a few seconds finds it, rather than a new one being
// built each time (with the default 5/s rule, a caller's buckets are full
// again two seconds after a request).
func (s *MemoryStore) tick(now time.Time, ttl time.Duration) {
	s.ops++
	if s.ops < max(4096, 2*len(s.scopes)) {
		return
	}
	s.ops = 0
	nowMs, g := now.UnixMilli(), bucketGrain(ttl)
	recent := len(s.scopes) <= memKeepMax
	for k, m := range s.scopes {
		if recent && m.epoch == s.epoch {
			continue // used since the previous sweep
		}
		if m.held(g, nowMs); len(m.holds) > 0 {
			continue // a live bucket, though it may hold nothing now
		}
		idle := true
		for i := range m.rates {
			idle = idle && m.rates[i].tokensAt(now) >= float64(m.rates[i].r.Burst)
		}
		for p := range m.windows {
			idle = idle && (!m.windows[p].set || !now.Before(m.windows[p].end))
		}
		if idle {
			delete(s.scopes, k)
		}
	}
	s.epoch++
}

func (s *MemoryStore) usage(ctx context.Context, ref scopeRef, ttl time.Duration) (usageCounters, error) {
	if err := ctx.Err(); err != nil {
		return usageCounters{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	u := usageCounters{at: now}
	for p := range numPeriods {
		_, u.windows[p].end = p.window(now)
	}
	m := s.scope(ref.scope, false)
	if m == nil {
		return u, nil
	}
	var hold charge
	hold, u.inFlight = m.held(bucketGrain(ttl), now.UnixMilli())
	u.tokensHeld, u.microsHeld = hold.tokens, hold.micros
	for p := range numPeriods {
		if w, _ := p.window(now); m.windows[p].set && m.windows[p].w == w {
			u.windows[p].tokensUsed, u.windows[p].microsUsed = m.windows[p].tokensUsed, m.windows[p].microsUsed
		}
	}
	return u, nil
}
