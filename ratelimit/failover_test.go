package ratelimit

import (
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type storeEvents struct {
	mu sync.Mutex
	ev []StoreEvent
}

func (s *storeEvents) add(e StoreEvent) {
	s.mu.Lock()
	s.ev = append(s.ev, e)
	s.mu.Unlock()
}

func (s *storeEvents) degradedFlags() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bool
	for _, e := range s.ev {
		out = append(out, e.Degraded)
	}
	return out
}

// A hung store: the check fails closed exactly at the timeout (fake time).
func TestFailClosedWithinTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRediser{block: true}
		rs, _ := NewRedisStore(f, RedisOptions{})
		var events storeEvents
		l := mustNew(t, Options{Store: rs, Timeout: 250 * time.Millisecond, ProbeInterval: time.Second,
			Rules:         Rules{Global: Limits{Requests: []Rate{PerSecond(1)}}},
			OnStoreChange: events.add})
		start := time.Now()
		_, err := l.Allow(t.Context(), alice)
		if !errors.Is(err, ErrLimiterUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d != 250*time.Millisecond {
			t.Fatalf("refused after %v, want the 250ms timeout", d)
		}
		// Degraded: the next calls refuse at once, without waiting on the
		// store, until the probe interval has passed.
		start = time.Now()
		for range 10 {
			if _, err := l.Allow(t.Context(), alice); !errors.Is(err, ErrLimiterUnavailable) {
				t.Fatalf("err = %v", err)
			}
		}
		if d := time.Since(start); d != 0 || f.calls != 1 {
			t.Fatalf("degraded calls took %v and %d store calls", d, f.calls)
		}
		time.Sleep(time.Second)
		_, _ = l.Allow(t.Context(), alice) // the probe
		if f.calls != 2 {
			t.Fatalf("store calls = %d, want 2 (one probe)", f.calls)
		}
		if got := events.degradedFlags(); len(got) != 1 || !got[0] {
			t.Fatalf("events %v", got)
		}
	})
}

// Redis stopped mid-run, fail closed: refused with ErrLimiterUnavailable,
// then back to normal once Redis is back and a probe succeeds.
func TestFailClosedRedisDown(t *testing.T) {
	rdb, mr, prefix := newRedisClient(t, true)
	rs, _ := NewRedisStore(rdb, RedisOptions{Prefix: prefix})
	clk := newClock(t0)
	var events storeEvents
	l := mustNew(t, Options{Store: rs, Now: clk.Now, Timeout: 200 * time.Millisecond,
		Rules:         Rules{Default: TierRules{Caller: Limits{Requests: []Rate{PerMinute(100)}, TokensPerDay: 1000}}},
		OnStoreChange: events.add})
	ctx := t.Context()
	if _, err := l.Allow(ctx, alice); err != nil {
		t.Fatal(err)
	}
	r, err := l.Reserve(ctx, alice, Amount{InputTokens: 100})
	if err != nil {
		t.Fatal(err)
	}

	mr.Close()
	if _, err := l.Allow(ctx, alice); !errors.Is(err, ErrLimiterUnavailable) {
		t.Fatalf("Allow with Redis down: %v", err)
	}
	if _, err := l.Reserve(ctx, alice, Amount{InputTokens: 1}); !errors.Is(err, ErrLimiterUnavailable) {
		t.Fatalf("Reserve with Redis down: %v", err)
	}
	if err := r.Commit(ctx, Amount{InputTokens: 50}); !errors.Is(err, ErrLimiterUnavailable) {
		t.Fatalf("Commit with Redis down: %v", err)
	}

	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Allow(ctx, alice); !errors.Is(err, ErrLimiterUnavailable) {
		t.Fatalf("before the probe: %v", err)
	}
	clk.Add(time.Second)
	if _, err := l.Allow(ctx, alice); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if got := events.degradedFlags(); len(got) != 2 || !got[0] || got[1] {
		t.Fatalf("events %v, want [true false]", got)
	}
	// The commit lost in the outage left its hold, which the TTL frees.
	if got := usageOf(t, l, Scope{Kind: KindCaller, Name: "alice"}, "tokens_per_day"); got.Reserved != 100 {
		t.Fatalf("usage %+v", got)
	}
}

// Redis stopped mid-run, fail open: calls go on under the local fallback
// limits, usage is counted there, and the shared store takes over again.
func TestFailOpenRedisDown(t *testing.T) {
	rdb, mr, prefix := newRedisClient(t, true)
	rs, _ := NewRedisStore(rdb, RedisOptions{Prefix: prefix})
	clk := newClock(t0)
	var events storeEvents
	l := mustNew(t, Options{Store: rs, Now: clk.Now, Timeout: 200 * time.Millisecond, FailOpen: true,
		Rules:         Rules{Default: TierRules{Caller: Limits{Requests: []Rate{PerMinute(100)}, TokensPerDay: 1000}}},
		Fallback:      &Rules{Default: TierRules{Caller: Limits{Requests: []Rate{PerMinute(2)}, TokensPerDay: 100}}},
		OnStoreChange: events.add})
	ctx := t.Context()
	before, err := l.Reserve(ctx, alice, Amount{InputTokens: 500})
	if err != nil {
		t.Fatal(err)
	}

	mr.Close()
	for i := range 2 {
		if _, err := l.Allow(ctx, alice); err != nil {
			t.Fatalf("fallback request %d: %v", i, err)
		}
	}
	if _, err := l.Allow(ctx, alice); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("over the fallback limit: %v", err)
	}
	r, err := l.Reserve(ctx, alice, Amount{InputTokens: 60})
	if err != nil {
		t.Fatalf("fallback reserve: %v", err)
	}
	if err := r.Commit(ctx, Amount{InputTokens: 30}); err != nil {
		t.Fatalf("fallback commit: %v", err)
	}
	// A reservation of the shared store, committed during the outage: an
	// error, and its usage lands in the fallback.
	if err := before.Commit(ctx, Amount{InputTokens: 40}); !errors.Is(err, ErrLimiterUnavailable) {
		t.Fatalf("commit of a shared reservation: %v", err)
	}
	if got := usageOf(t, l, Scope{Kind: KindCaller, Name: "alice"}, "tokens_per_day"); got.Used != 70 || got.Limit != 100 {
		t.Fatalf("fallback usage %+v", got)
	}
	if _, err := l.Reserve(ctx, alice, Amount{InputTokens: 31}); !errors.Is(err, ErrBudgetExceeded) {
		t.Fatalf("over the fallback budget: %v", err)
	}

	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	if _, err := l.Allow(ctx, alice); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if got := usageOf(t, l, Scope{Kind: KindCaller, Name: "alice"}, "tokens_per_day"); got.Limit != 1000 || got.Reserved != 500 {
		t.Fatalf("shared usage after recovery %+v", got)
	}
	if got := events.degradedFlags(); len(got) != 2 || !got[0] || got[1] {
		t.Fatalf("events %v, want [true false]", got)
	}
}

// With a rule of N per second, 5 seconds of fake time admit N×5 ± burst:
// the memory store on the default clock, inside a synctest bubble.
func TestRateSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, burst = 50, 10
		l := mustNew(t, Options{Rules: Rules{Default: TierRules{Caller: Limits{Requests: []Rate{{Count: n, Per: time.Second, Burst: burst}}}}}})
		admitted := 0
		for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(time.Millisecond) {
			if _, err := l.Allow(t.Context(), alice); err == nil {
				admitted++
			}
		}
		if admitted < n*5-burst || admitted > n*5+burst {
			t.Fatalf("admitted %d, want %d ± %d", admitted, n*5, burst)
		}
	})
}
