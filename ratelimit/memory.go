package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
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
// rates are golang.org/x/time/rate token buckets; budgets, concurrency slots
// and holds follow the same rules as [RedisStore] (fixed UTC windows, holds
// and slots that expire by themselves between the TTL and TTL×5/4 when
// never settled).
//
// One mutex guards the whole store, so a check across all scopes is atomic.
// Idle scopes (full buckets, ended windows, nothing held) are swept after
// a number of operations twice the number of scopes (at least 4096), so
// memory follows the active callers, not every caller ever seen, and a
// sweep costs less than one scope per operation.
//
// A MemoryStore is safe for concurrent use and starts no goroutine. Build
// it with [NewMemoryStore]; the zero value is not usable. Give each
// [Limiter] its own: two limiters with different rules must not share one.
type MemoryStore struct {
	now func() time.Time

	mu     sync.Mutex
	scopes map[scopeKey]*memScope
	ops    int
}

type scopeKey struct {
	kind ScopeKind
	name string
}

// memScope is one scope's state: the fields of its Redis hash. A scope
// has a few rates and at most about five live expiry buckets (see
// bucketGrain): slices searched in order, not maps, so that a check reads
// little memory.
type memScope struct {
	rates   []memRate
	windows [numPeriods]memWindow
	holds   []memHold // by expiry bucket; expired ones are dropped by held
}

// memRate is the token bucket of one rate rule.
type memRate struct {
	r   Rate
	lim *rate.Limiter
}

// memHold is what the checks that expire in one bucket hold: budget and
// concurrency slots.
type memHold struct {
	bucket int64
	c      charge
	slots  int
}

// limiter returns the token bucket of r, or nil when the scope has none
// yet (a new bucket is full).
func (sc *memScope) limiter(r Rate) *rate.Limiter {
	for i := range sc.rates {
		if sc.rates[i].r == r {
			return sc.rates[i].lim
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
		m = &memScope{}
		s.scopes[k] = m
	}
	return m
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
	var found [len(query{}.scopeBuf)]*memScope
	var empty memScope // a scope not seen yet, or swept
	for i := range q.scopes {
		ref := &q.scopes[i]
		m := s.scope(ref.scope, false)
		if i < len(found) {
			found[i] = m
		}
		if m == nil {
			m = &empty
		}
		hold, slots := m.held(g, nowMs)
		if q.rates {
			for j := range ref.plan.rates {
				lim := m.limiter(ref.plan.rates[j].Rate)
				if lim == nil {
					continue // a new bucket is full
				}
				if tokens := lim.TokensAt(now); tokens < 1 {
					wait := time.Duration(math.Ceil((1 - tokens) / float64(lim.Limit()) * float64(time.Second)))
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
	for i := range q.scopes {
		ref := &q.scopes[i]
		var m *memScope
		if i < len(found) {
			m = found[i]
		}
		if m == nil {
			m = s.scope(ref.scope, true)
		}
		if q.rates {
			for _, rp := range ref.plan.rates {
				lim := m.limiter(rp.Rate)
				if lim == nil {
					lim = rate.NewLimiter(rate.Limit(float64(rp.Count)/rp.Per.Seconds()), rp.Burst)
					m.rates = append(m.rates, memRate{r: rp.Rate, lim: lim})
				}
				lim.AllowN(now, 1)
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
		m := s.scope(ref.scope, used.tokens > 0 || used.micros > 0)
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
// the number of scopes) of them.
func (s *MemoryStore) tick(now time.Time, ttl time.Duration) {
	s.ops++
	if s.ops < max(4096, 2*len(s.scopes)) {
		return
	}
	s.ops = 0
	nowMs, g := now.UnixMilli(), bucketGrain(ttl)
	for k, m := range s.scopes {
		if m.held(g, nowMs); len(m.holds) > 0 {
			continue // a live bucket, though it may hold nothing now
		}
		idle := true
		for _, r := range m.rates {
			idle = idle && r.lim.TokensAt(now) >= float64(r.lim.Burst())
		}
		for p := range m.windows {
			idle = idle && (!m.windows[p].set || !now.Before(m.windows[p].end))
		}
		if idle {
			delete(s.scopes, k)
		}
	}
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
