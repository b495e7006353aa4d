package ratelimit

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// newLeaseStores returns n Redis stores (replicas) on one miniredis whose
// time follows the returned clock, each leasing lease permits.
func newLeaseStores(t *testing.T, n, lease int, ttl time.Duration) ([]*RedisStore, *clock) {
	t.Helper()
	rdb, mr, prefix := newRedisClient(t, true)
	c := newClock(t0)
	c.mr = mr
	mr.SetTime(t0)
	out := make([]*RedisStore, n)
	for i := range out {
		rs, err := NewRedisStore(newClientTo(t, rdb), RedisOptions{Prefix: prefix, LeaseRequests: lease, LeaseTTL: ttl, Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = rs
	}
	return out, c
}

// With leasing, three replicas admit at most Burst + Count×(T+LeaseTTL)/Per
// requests in any interval T: the documented bound on overspend.
func TestLeaseOverspendBound(t *testing.T) {
	const (
		count, burst = 20, 20
		leaseTTL     = 500 * time.Millisecond
		run          = 5 * time.Second
		step         = 5 * time.Millisecond
	)
	stores, c := newLeaseStores(t, 3, 5, leaseTTL)
	rules := Rules{Global: Limits{Requests: []Rate{{Count: count, Per: time.Second, Burst: burst}}}}
	lims := make([]*Limiter, len(stores))
	for i, rs := range stores {
		lims[i] = mustNew(t, Options{Store: rs, Rules: rules, Now: c.Now, Timeout: time.Minute})
	}
	var admitted []time.Time
	for start := c.Now(); c.Now().Sub(start) < run; c.Add(step) {
		for _, l := range lims {
			_, err := l.Allow(t.Context(), alice)
			switch {
			case err == nil:
				admitted = append(admitted, c.Now())
			case !errors.Is(err, ErrRateLimited):
				t.Fatal(err)
			}
		}
	}
	bound := func(T time.Duration) int { return burst + int(float64(count)*(T+leaseTTL).Seconds()) }
	if n := len(admitted); n > bound(run) || n < count*int(run/time.Second)/2 {
		t.Fatalf("admitted %d in %v, want at most %d (and not far below %d)", n, run, bound(run), count*int(run/time.Second))
	}
	for _, w := range []time.Duration{100 * time.Millisecond, time.Second, 2 * time.Second} {
		for i, a := range admitted {
			j, _ := slices.BinarySearchFunc(admitted, a.Add(w), func(x, t time.Time) int { return x.Compare(t) })
			if got := j - i; got > bound(w) {
				t.Fatalf("%d admitted in the %v from %v, bound %d", got, w, a.Sub(t0), bound(w))
			}
		}
	}
	for _, rs := range stores {
		if err := rs.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// A check served by leased permits alone makes no round trip; a refused
// or failed check gives its leased permits back; Close returns what is
// left, once.
func TestLeaseRoundTrips(t *testing.T) {
	c := newClock(t0)
	f := &fakeRediser{reply: []any{int64(1), int64(0), int64(3), int64(5)}}
	rs, err := NewRedisStore(f, RedisOptions{LeaseRequests: 5, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	l := mustNew(t, Options{Store: rs, Rules: Rules{Global: Limits{Requests: []Rate{PerSecond(100)}, TokensPerDay: 10}}})
	ctx := t.Context()
	for i := range 5 {
		if _, err := l.Allow(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if f.calls != 1 {
			t.Fatalf("after %d Allows: %d round trips, want 1", i+1, f.calls)
		}
	}
	if _, err := l.Allow(ctx, alice); err != nil || f.calls != 2 {
		t.Fatalf("6th Allow: err %v, %d round trips, want 2", err, f.calls)
	}
	left := func() int {
		rs.leases.mu.Lock()
		defer rs.leases.mu.Unlock()
		n := 0
		for _, le := range rs.leases.m {
			n += le.n
		}
		return n
	}
	if left() != 4 {
		t.Fatalf("leased %d, want 4", left())
	}
	// Admit with a budget refused by the store: the leased permit comes back.
	f.reply = []any{int64(0), int64(refuseBudget), int64(1), int64(1), int64(0), int64(-1)}
	if _, err := l.Admit(ctx, alice, Amount{InputTokens: 11}); !errors.Is(err, ErrBudgetExceeded) {
		t.Fatalf("Admit: %v", err)
	}
	f.err = errors.New("down")
	if _, err := l.Admit(ctx, alice, Amount{InputTokens: 1}); !errors.Is(err, ErrLimiterUnavailable) {
		t.Fatalf("Admit: %v", err)
	}
	if left() != 4 {
		t.Fatalf("leased %d after refusals, want 4", left())
	}
	// Leases expire.
	c.Add(time.Second)
	f.err, f.reply = nil, []any{int64(1), int64(0), int64(3), int64(1)}
	l.degraded.Store(false)
	if _, err := l.Allow(ctx, alice); err != nil || f.calls != 5 {
		t.Fatalf("Allow after expiry: err %v, %d round trips, want 5", err, f.calls)
	}
	f.reply = []any{int64(1), int64(0), int64(3), int64(5)}
	if _, err := l.Allow(ctx, alice); err != nil || f.calls != 6 || left() != 4 {
		t.Fatalf("Allow: err %v, %d round trips, leased %d", err, f.calls, left())
	}
	f.reply = []any{int64(1)}
	if err := rs.Close(ctx); err != nil || f.calls != 7 {
		t.Fatalf("Close: err %v, %d round trips, want 7", err, f.calls)
	}
	if err := rs.Close(ctx); err != nil || f.calls != 7 {
		t.Fatalf("second Close: err %v, %d round trips", err, f.calls)
	}
	// After Close, every check goes to Redis.
	f.reply = []any{int64(1), int64(0), int64(3), int64(1)}
	if _, err := l.Allow(ctx, alice); err != nil || f.calls != 8 {
		t.Fatalf("Allow after Close: err %v, %d round trips", err, f.calls)
	}
}

// Close gives unspent leased permits back to the bucket in Redis, where
// another replica can take them.
func TestLeaseCloseReturns(t *testing.T) {
	stores, c := newLeaseStores(t, 2, 10, time.Minute)
	rules := Rules{Global: Limits{Requests: []Rate{PerMinute(10)}}}
	a := mustNew(t, Options{Store: stores[0], Rules: rules, Now: c.Now})
	stores[1].leases = nil // replica b takes single permits
	b := mustNew(t, Options{Store: stores[1], Rules: rules, Now: c.Now})
	ctx := t.Context()
	if _, err := a.Allow(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Allow(ctx, alice); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("b while a leases the whole burst: %v", err)
	}
	if err := stores[0].Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		if _, err := b.Allow(ctx, alice); err != nil {
			t.Fatalf("b, permit %d after a's Close: %v", i+1, err)
		}
	}
	if _, err := b.Allow(ctx, alice); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("b past the burst: %v", err)
	}
}

func TestLeaseOptions(t *testing.T) {
	for _, o := range []RedisOptions{{LeaseRequests: -1}, {LeaseRequests: 5, LeaseTTL: -time.Second}, {LeaseTTL: time.Microsecond}} {
		if _, err := NewRedisStore(&fakeRediser{}, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	rs, err := NewRedisStore(&fakeRediser{}, RedisOptions{LeaseRequests: 1})
	if err != nil || rs.leases != nil {
		t.Fatalf("LeaseRequests 1: err %v, leasing %v", err, rs.leases != nil)
	}
	if err := rs.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}
