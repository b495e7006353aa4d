package ratelimit

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Three replicas (Limiters, each with its own Redis client) × 200
// goroutines share one global token budget and per-user budgets, and
// commit random real usage up to what they reserved. No budget is ever
// exceeded, the store's counters equal what was committed, nothing stays
// held, and less than one request's worth of the global budget is left.
// The same holds with request rates leased: budgets are never leased.
func TestReplicasShareBudgets(t *testing.T) {
	t.Run("exact", func(t *testing.T) { testReplicasShareBudgets(t, 0) })
	t.Run("leased-rates", func(t *testing.T) { testReplicasShareBudgets(t, 50) })
}

func testReplicasShareBudgets(t *testing.T, lease int) {
	const (
		replicas   = 3
		goroutines = 200
		users      = 10
		global     = 300_000
		perUser    = 40_000 // users × perUser ≥ global + users × maxAmount
		maxAmount  = 1000   // input ≤ 500 + output ≤ 500
	)
	rdb, _, prefix := newRedisClient(t, false)
	rules := Rules{Global: Limits{TokensPerDay: global}, Default: TierRules{Caller: Limits{TokensPerDay: perUser}}}
	if lease > 0 { // rates far above the load, so that every check spends leased permits
		rules.Global.Requests = []Rate{PerSecond(1_000_000)}
		rules.Default.Caller.Requests = []Rate{PerSecond(100_000)}
	}
	lims := make([]*Limiter, replicas)
	for i := range lims {
		rs, err := NewRedisStore(newClientTo(t, rdb), RedisOptions{Prefix: prefix, LeaseRequests: lease})
		if err != nil {
			t.Fatal(err)
		}
		lims[i] = mustNew(t, Options{Store: rs, Rules: rules, Timeout: 5 * time.Second})
	}
	globalScope := Scope{Kind: KindGlobal}
	dayEnd := usageOf(t, lims[0], globalScope, "tokens_per_day").Resets

	var (
		committed     atomic.Int64
		userCommitted [users]atomic.Int64
		commits       atomic.Int64
		wg            sync.WaitGroup
		errMu         sync.Mutex
		firstErr      error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	for g := range replicas * goroutines {
		l := lims[g%replicas]
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for tries := 0; tries < 100_000; tries++ {
				u := r.IntN(users)
				in, out := 1+r.Int64N(500), 1+r.Int64N(500)
				s := Subject{Caller: fmt.Sprint("user", u), Model: "gpt-4o"}
				res, err := l.Admit(t.Context(), s, Amount{InputTokens: in, OutputTokens: out})
				if re, ok := errors.AsType[*Error](err); ok && re.Kind == ErrBudgetExceeded {
					if re.Scope.Kind == KindGlobal && global-committed.Load() < in+out {
						return // can never fit again: committed usage only grows
					}
					time.Sleep(50 * time.Microsecond) // held by others, or this user is full
					continue
				}
				if err != nil {
					fail(err)
					return
				}
				ui, uo := in/2+r.Int64N(in-in/2+1), out/2+r.Int64N(out-out/2+1)
				if err := res.Commit(t.Context(), Amount{InputTokens: ui, OutputTokens: uo}); err != nil {
					fail(err)
					return
				}
				committed.Add(ui + uo)
				userCommitted[u].Add(ui + uo)
				commits.Add(1)
			}
			fail(errors.New("a goroutine never finished"))
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	g := usageOf(t, lims[0], globalScope, "tokens_per_day")
	if !g.Resets.Equal(dayEnd) {
		t.Skip("the run crossed midnight UTC: the day window reset")
	}
	total := committed.Load()
	t.Logf("%d commits, %d of %d tokens committed", commits.Load(), total, global)
	if total > global || int64(g.Used) != total || g.Reserved != 0 {
		t.Fatalf("global: committed %d, store %+v (limit %d)", total, g, global)
	}
	if left := global - total; left >= maxAmount {
		t.Fatalf("%d tokens left unused, more than one request's worth (%d)", left, maxAmount)
	}
	for u := range users {
		got := usageOf(t, lims[u%replicas], Scope{Kind: KindCaller, Name: fmt.Sprint("user", u)}, "tokens_per_day")
		if c := userCommitted[u].Load(); c > perUser || int64(got.Used) != c || got.Reserved != 0 {
			t.Errorf("user%d: committed %d, store %+v (limit %d)", u, c, got, perUser)
		}
	}
}
