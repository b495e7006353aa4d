package ratelimit

import (
	"context"
	"time"
)

// Store holds a limiter's counters: [*MemoryStore] for one process,
// [*RedisStore] for replicas that share limits. Both implement the same
// semantics, which the tests check on both. The interface is sealed: only
// this package provides stores.
type Store interface {
	// admit checks q against every scope at once and, when all admit,
	// applies it (takes the rate tokens, the slots and the budget holds).
	admit(ctx context.Context, q *query) (verdict, error)
	// settle releases q's slots and hold, and charges used in q's budget
	// windows; it reports the thresholds the charge crossed.
	settle(ctx context.Context, q *query, used charge) ([]crossing, error)
	// usage reads the counters of one scope.
	usage(ctx context.Context, ref scopeRef, ttl time.Duration) (usageCounters, error)
	// remote reports a store reached over the network, whose calls get the
	// limiter's timeout and failure policy.
	remote() bool
}

// charge is an amount in the stores' units: tokens and micro-dollars.
type charge struct{ tokens, micros int64 }

// scopeRef is one scope of a query and its validated limits.
type scopeRef struct {
	scope Scope
	plan  *scopePlan
}

// query is one check or settlement: the scopes involved and what to do in
// each. Its parts: rates (take one request from each rate rule), slots
// (take a concurrency slot), budgets (hold amount in each budget window).
type query struct {
	subject                Subject
	scopes                 []scopeRef
	rates, slots, budgets  bool
	amount                 charge
	ttl                    time.Duration
	thresholds             []int // ascending percents; nil: no threshold tracking
	bucket                 int64 // expiry bucket of the slots and holds, set by admit
	scopeBuf               [4]scopeRef
	hasSlots, hasBudgetsIn bool // computed by finish

	// The states of the first scopes in the MemoryStore that admitted
	// the query, kept for settle, and its epoch then: they stand while no
	// sweep has run.
	mem      [4]*memScope
	memStore *MemoryStore
	memEpoch uint32
}

// finish records whether the query touches slots or budgets at all.
func (q *query) finish() {
	for i := range q.scopes {
		p := q.scopes[i].plan
		q.hasSlots = q.hasSlots || (q.slots && p.conc > 0)
		q.hasBudgetsIn = q.hasBudgetsIn || (q.budgets && p.hasBudget)
	}
}

// Refusal kinds in a verdict.
const (
	refuseRate = 1 + iota
	refuseSlot
	refuseBudget
)

// verdict is a store's answer to admit. When !ok, the refusal is in scope
// (index into query.scopes), kind, rule (index of the rate rule, or the
// budget period), cost (a spend budget rather than tokens), and wait (-1:
// the amount alone exceeds the budget).
type verdict struct {
	ok     bool
	bucket int64 // when ok: the expiry bucket of what was taken
	scope  int
	kind   int
	rule   int
	cost   bool
	wait   time.Duration
}

// crossing is one threshold crossed by a settlement: in scope, budget
// window period, tokens or cost, the percent reached and the usage then.
type crossing struct {
	scope   int
	period  period
	cost    bool
	percent int
	used    int64
	at      time.Time
}

// usageCounters are a scope's counters: what unsettled reservations and
// slots hold, and what was used in the current windows.
type usageCounters struct {
	at                     time.Time
	inFlight               int
	tokensHeld, microsHeld int64
	windows                [numPeriods]windowCounters
}

type windowCounters struct {
	tokensUsed, microsUsed int64
	end                    time.Time
}

// Slots and holds expire in buckets: what a check takes at time now (unix
// ms) with a TTL of ttl ms lands in bucket ceil((now+ttl)/g), which stops
// counting at bucket×g: between TTL and TTL + g after the check. No record
// per reservation is kept, so settling and expiry cost nothing extra.
func bucketGrain(ttl time.Duration) int64 { return max(ttl.Milliseconds()/4, 1) }

func bucketOf(nowMs, ttlMs, g int64) int64 { return -floorDiv(-(nowMs + ttlMs), g) }

func bucketLive(b, g, nowMs int64) bool { return b*g > nowMs }

// crossed appends to out the thresholds between mark (the highest already
// reported in the window) and used/limit, and returns the new mark.
func crossed(out []crossing, c crossing, used, limit int64, mark int, thresholds []int) ([]crossing, int) {
	if limit <= 0 {
		return out, mark
	}
	for _, th := range thresholds {
		if th > mark && used*100 >= int64(th)*limit {
			c.percent, c.used = th, used
			out = append(out, c)
			mark = th
		}
	}
	return out, mark
}
