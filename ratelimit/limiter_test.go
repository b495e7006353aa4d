package ratelimit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var alice = Subject{Caller: "alice", Group: "support", Model: "gpt-4o"}

func TestAllowRate(t *testing.T) {
	eachStore(t, func(t *testing.T, e env) {
		ctx := t.Context()
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, Rules: Rules{
			Default: TierRules{Caller: Limits{Requests: []Rate{{Count: 10, Per: time.Second, Burst: 5}}}},
		}})
		for i := range 5 {
			if _, err := l.Allow(ctx, alice); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		_, err := l.Allow(ctx, alice)
		re, ok := errors.AsType[*Error](err)
		if !ok || !errors.Is(err, ErrRateLimited) {
			t.Fatalf("6th request: err = %v, want ErrRateLimited", err)
		}
		if re.Scope != (Scope{Kind: KindCaller, Name: "alice"}) || re.Rule != "requests_per_second" ||
			re.Code() != "caller_requests_per_second" || re.RetryAfter() != 100*time.Millisecond {
			t.Fatalf("refusal = %+v (code %s)", re, re.Code())
		}
		if _, err := l.Allow(ctx, Subject{Caller: "bob"}); err != nil {
			t.Fatalf("another caller: %v", err)
		}
		e.clock.Add(100 * time.Millisecond)
		if _, err := l.Allow(ctx, alice); err != nil {
			t.Fatalf("after the wait: %v", err)
		}
		if _, err := l.Allow(ctx, alice); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("again: %v", err)
		}
	})
}

// A rule of N per second admits N×5 ± burst over 5 seconds.
func TestRateOverFiveSeconds(t *testing.T) {
	const n, burst = 20, 5
	eachStore(t, func(t *testing.T, e env) {
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, Rules: Rules{
			Global: Limits{Requests: []Rate{{Count: n, Per: time.Second, Burst: burst}}},
		}})
		admitted := 0
		for i := 0; i < 5000; i += 2 { // a try every 2 ms for 5 s
			if _, err := l.Allow(t.Context(), alice); err == nil {
				admitted++
			} else if !errors.Is(err, ErrRateLimited) {
				t.Fatal(err)
			}
			e.clock.Add(2 * time.Millisecond)
		}
		if admitted < n*5-burst || admitted > n*5+burst {
			t.Fatalf("admitted %d, want %d ± %d", admitted, n*5, burst)
		}
	})
}

func TestAllRatesOrNone(t *testing.T) {
	eachStoreLive(t, func(t *testing.T, e env) {
		ctx := t.Context()
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, Rules: Rules{
			Global:  Limits{Requests: []Rate{PerMinute(3)}},
			Default: TierRules{Caller: Limits{Requests: []Rate{PerMinute(1)}}},
		}})
		if _, err := l.Allow(ctx, alice); err != nil {
			t.Fatal(err)
		}
		// alice's own rule refuses: the global bucket must not be charged.
		for range 5 {
			if _, err := l.Allow(ctx, alice); !errors.Is(err, ErrRateLimited) {
				t.Fatalf("err = %v", err)
			}
		}
		for _, c := range []string{"bob", "carol"} {
			if _, err := l.Allow(ctx, Subject{Caller: c}); err != nil {
				t.Fatalf("%s: %v (global charged by refused calls?)", c, err)
			}
		}
		_, err := l.Allow(ctx, Subject{Caller: "dave"})
		if re, ok := errors.AsType[*Error](err); !ok || re.Scope.Kind != KindGlobal {
			t.Fatalf("4th caller: %v, want refused by global", err)
		}
	})
}

func TestConcurrent(t *testing.T) {
	eachStore(t, func(t *testing.T, e env) {
		ctx := t.Context()
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, TTL: time.Minute, Rules: Rules{
			Default: TierRules{Group: Limits{Concurrent: 2}},
		}})
		p1, err := l.Allow(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Allow(ctx, Subject{Caller: "bob", Group: "support"}); err != nil {
			t.Fatal(err)
		}
		_, err = l.Allow(ctx, alice)
		if re, ok := errors.AsType[*Error](err); !ok || re.Rule != "concurrent" || re.Scope.Kind != KindGroup || !errors.Is(err, ErrRateLimited) {
			t.Fatalf("3rd in flight: %v", err)
		}
		if u, _ := l.Usage(ctx, Scope{Kind: KindGroup, Name: "support"}); u.InFlight != 2 {
			t.Fatalf("in flight = %d, want 2", u.InFlight)
		}
		if err := p1.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p1.Release(ctx); !errors.Is(err, ErrSettled) {
			t.Fatalf("second release: %v", err)
		}
		if _, err := l.Allow(ctx, alice); err != nil {
			t.Fatalf("after release: %v", err)
		}
		// Two slots held, never released: they expire at the TTL.
		e.clock.Add(time.Minute)
		if _, err := l.Allow(ctx, alice); err != nil {
			t.Fatalf("after TTL: %v", err)
		}
		if u, _ := l.Usage(ctx, Scope{Kind: KindGroup, Name: "support"}); u.InFlight != 1 {
			t.Fatalf("in flight = %d, want 1", u.InFlight)
		}
		// No Concurrent rule for a caller without a group: nothing held.
		p, err := l.Allow(ctx, Subject{Caller: "erin"})
		if err != nil || p.Release(ctx) != nil {
			t.Fatal(err)
		}
	})
}

func TestReserveCommitCancel(t *testing.T) {
	eachStore(t, func(t *testing.T, e env) {
		ctx := t.Context()
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, Rules: Rules{
			Default: TierRules{Caller: Limits{TokensPerDay: 1000}},
		}})
		caller := Scope{Kind: KindCaller, Name: "alice"}
		r1, err := l.Reserve(ctx, alice, Amount{InputTokens: 100, OutputTokens: 500})
		if err != nil {
			t.Fatal(err)
		}
		if got := usageOf(t, l, caller, "tokens_per_day"); got.Reserved != 600 || got.Used != 0 {
			t.Fatalf("after reserve: %+v", got)
		}
		_, err = l.Reserve(ctx, alice, Amount{InputTokens: 600})
		re, ok := errors.AsType[*Error](err)
		if !ok || !errors.Is(err, ErrBudgetExceeded) || re.Rule != "tokens_per_day" || re.TooLarge {
			t.Fatalf("over budget: %v", err)
		}
		if want := 14*time.Hour + 30*time.Minute; re.Wait != want {
			t.Fatalf("wait = %v, want %v (to the end of the UTC day)", re.Wait, want)
		}
		if err := r1.Commit(ctx, Amount{InputTokens: 100, OutputTokens: 42}); err != nil {
			t.Fatal(err)
		}
		if err := r1.Cancel(ctx); !errors.Is(err, ErrSettled) {
			t.Fatalf("settle twice: %v", err)
		}
		if got := usageOf(t, l, caller, "tokens_per_day"); got.Reserved != 0 || got.Used != 142 || got.Remaining() != 858 {
			t.Fatalf("after commit: %+v", got)
		}
		r2, err := l.Reserve(ctx, alice, Amount{InputTokens: 800})
		if err != nil {
			t.Fatal(err)
		}
		if err := r2.Cancel(ctx); err != nil {
			t.Fatal(err)
		}
		if got := usageOf(t, l, caller, "tokens_per_day"); got.Reserved != 0 || got.Used != 142 {
			t.Fatalf("after cancel: %+v", got)
		}
		_, err = l.Reserve(ctx, alice, Amount{InputTokens: 2000})
		if re, ok := errors.AsType[*Error](err); !ok || !re.TooLarge || re.Wait != 0 {
			t.Fatalf("too large: %v", err)
		}
		if _, err := l.Reserve(ctx, alice, Amount{InputTokens: -1}); err == nil || errors.Is(err, ErrBudgetExceeded) {
			t.Fatalf("negative amount: %v", err)
		}
		var nilRes *Reservation
		if nilRes.Commit(ctx, Amount{}) != nil || nilRes.Cancel(ctx) != nil {
			t.Fatal("nil reservation")
		}
	})
}

// Usage above the reservation is charged in full, and then refuses.
func TestCommitAboveReservation(t *testing.T) {
	eachStoreLive(t, func(t *testing.T, e env) {
		ctx := t.Context()
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, Rules: Rules{Global: Limits{TokensPerDay: 100}}})
		r, err := l.Reserve(ctx, alice, Amount{InputTokens: 10})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Commit(ctx, Amount{InputTokens: 150}); err != nil {
			t.Fatal(err)
		}
		if got := usageOf(t, l, Scope{Kind: KindGlobal}, "tokens_per_day"); got.Used != 150 || got.Remaining() != 0 {
			t.Fatalf("usage %+v", got)
		}
		if _, err := l.Reserve(ctx, alice, Amount{InputTokens: 1}); !errors.Is(err, ErrBudgetExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
}

// All scopes or none: a refusal by one scope holds nothing in the others.
func TestReserveAllOrNone(t *testing.T) {
	eachStoreLive(t, func(t *testing.T, e env) {
		ctx := t.Context()
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, Rules: Rules{
			Global:  Limits{TokensPerDay: 1500},
			Default: TierRules{Caller: Limits{TokensPerDay: 1000}, Group: Limits{TokensPerDay: 5000}},
		}})
		if _, err := l.Reserve(ctx, alice, Amount{InputTokens: 900}); err != nil {
			t.Fatal(err)
		}
		bob := Subject{Caller: "bob", Group: "support"}
		_, err := l.Reserve(ctx, bob, Amount{InputTokens: 700})
		if re, ok := errors.AsType[*Error](err); !ok || re.Scope.Kind != KindGlobal {
			t.Fatalf("err = %v, want refused by global", err)
		}
		if got := usageOf(t, l, Scope{Kind: KindCaller, Name: "bob"}, "tokens_per_day"); got.Reserved != 0 {
			t.Fatalf("bob holds %v after a refusal", got.Reserved)
		}
		if got := usageOf(t, l, Scope{Kind: KindGroup, Name: "support"}, "tokens_per_day"); got.Reserved != 900 {
			t.Fatalf("group holds %v, want 900", got.Reserved)
		}
	})
}

func TestReservationExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, e env) {
		ctx := t.Context()
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, TTL: time.Minute, Rules: Rules{
			Global: Limits{TokensPerDay: 1000},
		}})
		global := Scope{Kind: KindGlobal}
		abandoned, err := l.Reserve(ctx, alice, Amount{InputTokens: 600})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(59 * time.Second)
		if _, err := l.Reserve(ctx, alice, Amount{InputTokens: 600}); !errors.Is(err, ErrBudgetExceeded) {
			t.Fatalf("before the TTL: %v", err)
		}
		e.clock.Add(time.Second)
		second, err := l.Reserve(ctx, alice, Amount{InputTokens: 600})
		if err != nil {
			t.Fatalf("after the TTL: %v", err)
		}
		if got := usageOf(t, l, global, "tokens_per_day"); got.Reserved != 600 {
			t.Fatalf("held %v, want 600 (the second only)", got.Reserved)
		}
		// The abandoned call turns up late: its usage is charged, and the
		// second reservation's hold is untouched.
		if err := abandoned.Commit(ctx, Amount{InputTokens: 200}); err != nil {
			t.Fatal(err)
		}
		if got := usageOf(t, l, global, "tokens_per_day"); got.Reserved != 600 || got.Used != 200 {
			t.Fatalf("after the late commit: %+v", got)
		}
		if err := second.Commit(ctx, Amount{InputTokens: 100}); err != nil {
			t.Fatal(err)
		}
		if got := usageOf(t, l, global, "tokens_per_day"); got.Reserved != 0 || got.Used != 300 {
			t.Fatalf("at the end: %+v", got)
		}
	})
}

func TestWindows(t *testing.T) {
	eachStore(t, func(t *testing.T, e env) {
		ctx := t.Context()
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, Rules: Rules{Global: Limits{TokensPerMinute: 100}}})
		global := Scope{Kind: KindGlobal}
		r, _ := l.Reserve(ctx, alice, Amount{InputTokens: 80})
		_ = r.Commit(ctx, Amount{InputTokens: 80})
		e.clock.Add(59 * time.Second)
		held, err := l.Reserve(ctx, alice, Amount{InputTokens: 20})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(2 * time.Second) // next minute: used resets, the hold carries over
		got := usageOf(t, l, global, "tokens_per_minute")
		if got.Used != 0 || got.Reserved != 20 || !got.Resets.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("new window: %+v", got)
		}
		if _, err := l.Reserve(ctx, alice, Amount{InputTokens: 81}); !errors.Is(err, ErrBudgetExceeded) {
			t.Fatalf("hold not carried over: %v", err)
		}
		if err := held.Commit(ctx, Amount{InputTokens: 20}); err != nil {
			t.Fatal(err)
		}
		if got := usageOf(t, l, global, "tokens_per_minute"); got.Used != 20 || got.Reserved != 0 {
			t.Fatalf("charged in the window of the commit: %+v", got)
		}
	})
}

func TestMonthAndDayWindows(t *testing.T) {
	for _, tc := range []struct {
		now, day, month time.Time
	}{
		{time.Date(2024, 2, 29, 23, 59, 30, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2100, 2, 28, 0, 0, 0, 0, time.UTC), time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2000, 2, 29, 1, 0, 0, 0, time.UTC), time.Date(2000, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 3, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 7, 2, 0, 0, 0, 0, time.UTC), time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.now.Format(time.DateOnly), func(t *testing.T) {
			eachStore(t, func(t *testing.T, e env) {
				e.clock.Set(tc.now)
				l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, Rules: Rules{Global: Limits{USDPerDay: 10, USDPerMonth: 100}}})
				r, err := l.Reserve(t.Context(), alice, Amount{CostUSD: 1})
				if err != nil {
					t.Fatal(err)
				}
				_ = r.Commit(t.Context(), Amount{CostUSD: 0.5})
				u, err := l.Usage(t.Context(), Scope{Kind: KindGlobal})
				if err != nil {
					t.Fatal(err)
				}
				if len(u.Budgets) != 2 || !u.Budgets[0].Resets.Equal(tc.day) || !u.Budgets[1].Resets.Equal(tc.month) ||
					u.Budgets[0].Used != 0.5 || u.Budgets[1].Used != 0.5 {
					t.Fatalf("usage %+v", u.Budgets)
				}
			})
		})
	}
}

func TestSpendBudget(t *testing.T) {
	eachStoreLive(t, func(t *testing.T, e env) {
		ctx := t.Context()
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, Rules: Rules{
			Default: TierRules{Group: Limits{USDPerDay: 1}},
		}})
		// gpt-4o: $2.50 in, $10 out per 1M tokens: 0.25 + 0.50 = $0.75.
		a := Amount{InputTokens: 100_000, OutputTokens: 50_000}
		r, err := l.Reserve(ctx, alice, a)
		if err != nil {
			t.Fatal(err)
		}
		if tok, usd := r.Held(); tok != 150_000 || usd != 0.75 {
			t.Fatalf("held %d tokens, $%v", tok, usd)
		}
		_, err = l.Reserve(ctx, alice, a)
		if re, ok := errors.AsType[*Error](err); !ok || re.Rule != "usd_per_day" || re.Scope.Kind != KindGroup {
			t.Fatalf("err = %v", err)
		}
		_ = r.Commit(ctx, Amount{InputTokens: 100_000, OutputTokens: 10_000}) // $0.35
		got := usageOf(t, l, Scope{Kind: KindGroup, Name: "support"}, "usd_per_day")
		if got.Used != 0.35 || got.Reserved != 0 || got.Limit != 1 {
			t.Fatalf("usage %+v", got)
		}
	})
}

func TestThresholds(t *testing.T) {
	eachStore(t, func(t *testing.T, e env) {
		ctx := t.Context()
		var events []ThresholdEvent
		opts := Options{Store: e.store, Now: e.clock.Now,
			Rules:       Rules{Default: TierRules{Caller: Limits{TokensPerDay: 1000}}},
			OnThreshold: func(ev ThresholdEvent) { events = append(events, ev) }}
		l1, l2 := mustNew(t, opts), mustNew(t, opts) // two replicas of one store
		commit := func(l *Limiter, n int64) {
			t.Helper()
			r, err := l.Reserve(ctx, alice, Amount{InputTokens: n})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Commit(ctx, Amount{InputTokens: n}); err != nil {
				t.Fatal(err)
			}
		}
		commit(l1, 400)
		commit(l2, 150) // 55 %
		commit(l1, 50)  // 60 %: 50 % already reported
		commit(l2, 300) // 90 %
		commit(l1, 100) // 100 %
		var got []int
		for _, ev := range events {
			got = append(got, ev.Percent)
			if ev.Scope.Name != "alice" || ev.Rule != "tokens_per_day" || ev.Limit != 1000 {
				t.Errorf("event %+v", ev)
			}
		}
		if len(got) != 3 || got[0] != 50 || got[1] != 80 || got[2] != 100 || events[1].Used != 900 {
			t.Fatalf("events %+v", events)
		}
		e.clock.Add(24 * time.Hour) // a new day reports again
		commit(l1, 600)
		if len(events) != 4 || events[3].Percent != 50 {
			t.Fatalf("next day: %+v", events)
		}
	})
}

func TestTiers(t *testing.T) {
	eachStoreLive(t, func(t *testing.T, e env) {
		ctx := t.Context()
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, Rules: Rules{
			Default: TierRules{Caller: Limits{Requests: []Rate{PerMinute(100)}}},
			Tiers: map[string]TierRules{
				"public": {Caller: Limits{Requests: []Rate{PerMinute(1)}}, Tier: Limits{TokensPerDay: 10}},
			},
		}})
		pub := Subject{Caller: "p", Tier: "public"}
		if _, err := l.Allow(ctx, pub); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Allow(ctx, pub); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("public 2nd: %v", err)
		}
		for _, tier := range []string{"", "internal-unknown"} {
			s := Subject{Caller: "p2", Tier: tier}
			for range 3 {
				if _, err := l.Allow(ctx, s); err != nil {
					t.Fatalf("tier %q: %v", tier, err)
				}
			}
		}
		_, err := l.Reserve(ctx, pub, Amount{InputTokens: 11})
		if re, ok := errors.AsType[*Error](err); !ok || re.Scope != (Scope{Kind: KindTier, Name: "public", Tier: "public"}) {
			t.Fatalf("tier budget: %v", err)
		}
		if u := usageOf(t, l, Scope{Kind: KindTier, Name: "public"}, "tokens_per_day"); u.Limit != 10 {
			t.Fatalf("tier usage %+v", u)
		}
	})
}

func TestAdmit(t *testing.T) {
	eachStoreLive(t, func(t *testing.T, e env) {
		ctx := t.Context()
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, Rules: Rules{
			Global: Limits{Requests: []Rate{PerSecond(100)}, Concurrent: 1, TokensPerDay: 1000},
		}})
		r, err := l.Admit(ctx, alice, Amount{InputTokens: 100})
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Admit(ctx, alice, Amount{InputTokens: 100})
		if re, ok := errors.AsType[*Error](err); !ok || re.Rule != "concurrent" {
			t.Fatalf("second in flight: %v", err)
		}
		if got := usageOf(t, l, Scope{Kind: KindGlobal}, "tokens_per_day"); got.Reserved != 100 {
			t.Fatalf("refused admit held tokens: %+v", got)
		}
		if err := r.Commit(ctx, Amount{InputTokens: 10}); err != nil {
			t.Fatal(err)
		}
		r, err = l.Admit(ctx, alice, Amount{InputTokens: 100})
		if err != nil {
			t.Fatalf("after commit: %v", err)
		}
		_ = r.Cancel(ctx)
	})
}

func TestZeroLimiter(t *testing.T) {
	var l Limiter
	ctx := t.Context()
	p, err := l.Allow(ctx, alice)
	if err != nil || p.Release(ctx) != nil {
		t.Fatal(err)
	}
	r, err := l.Reserve(ctx, alice, Amount{InputTokens: 1 << 40})
	if err != nil || r.Commit(ctx, Amount{InputTokens: 1}) != nil {
		t.Fatal(err)
	}
	if _, err := l.Usage(ctx, Scope{Kind: KindGlobal}); err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, Options{})
	if _, err := d.Reserve(ctx, alice, Amount{InputTokens: 1 << 40}); err != nil {
		t.Fatal(err)
	}
}

func TestNewValidation(t *testing.T) {
	_, err := New(Options{
		Rules: Rules{
			Global:  Limits{Requests: []Rate{{Count: 0, Per: time.Second}, {Count: 1, Per: time.Microsecond}}, Concurrent: -1},
			Default: TierRules{Caller: Limits{TokensPerDay: -1, USDPerMonth: -2}},
			Tiers:   map[string]TierRules{"": {}},
		},
		Prices:     map[string]Price{"m": {Input: -1}},
		TTL:        time.Nanosecond,
		Thresholds: []int{0},
		Fallback:   &Rules{},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"Count 0", "Per 1µs", "Concurrent -1", "TokensPerDay -1", "USDPerMonth -2", `tier ""`, `price of "m"`, "TTL", "threshold 0", "FailOpen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Kind: ErrBudgetExceeded, Scope: Scope{Kind: KindCaller, Name: "alice@example.com"}, Rule: "tokens_per_day", Wait: 2 * time.Second}
	for _, s := range []string{e.Error(), e.GoString()} {
		if strings.Contains(s, "alice") {
			t.Errorf("caller name in %q", s)
		}
	}
	if e.Error() != "ratelimit: budget exceeded: caller tokens_per_day, retry after 2s" || e.Code() != "caller_tokens_per_day" {
		t.Errorf("Error() = %q, Code() = %q", e.Error(), e.Code())
	}
	u := unavailable(context.DeadlineExceeded)
	if !errors.Is(u, ErrLimiterUnavailable) || !errors.Is(u, context.DeadlineExceeded) || u.Code() != "limiter_unavailable" {
		t.Errorf("unavailable: %v", u)
	}
}

func TestPrices(t *testing.T) {
	pt, err := newPriceTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		model string
		want  Price
	}{
		{"gpt-4o", Price{2.5, 10}},
		{"gpt-4o-2024-08-06", Price{2.5, 10}},
		{"gpt-4o-2024-05-13", Price{5, 15}},
		{"gpt-4o-mini-2024-07-18", Price{0.15, 0.6}},
		{"gpt-3.5-turbo-0125", Price{0.5, 1.5}},
		{"gpt-4.1-nano-2025-04-14", Price{0.1, 0.4}},
		{"o1-mini", Price{1.1, 4.4}},
		{"gpt-4o-audio-preview", Price{150, 600}}, // not listed: the highest prices
		{"gpt-5.1", Price{150, 600}},
		{"gpt-4o-2024-08", Price{150, 600}},
		{"", Price{150, 600}},
	} {
		if got := pt.lookup(tc.model); got != tc.want {
			t.Errorf("lookup(%q) = %v, want %v", tc.model, got, tc.want)
		}
	}
	if got := pt.micros("gpt-4o-mini", Amount{InputTokens: 1, OutputTokens: 1}); got != 1 {
		t.Errorf("micros rounds up: %d", got)
	}
	if got := pt.micros("x", Amount{InputTokens: 1e6, CostUSD: 0.000_0011}); got != 2 {
		t.Errorf("CostUSD overrides: %d", got)
	}
}

// Holds and slots never settled expire bucket by bucket, between TTL and
// TTL×5/4, the same in both stores, while new ones keep coming.
func TestHoldsExpireInBuckets(t *testing.T) {
	eachStore(t, func(t *testing.T, e env) {
		ctx := t.Context()
		const ttl = 4 * time.Second // buckets of 1 s
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, TTL: ttl, Rules: Rules{
			Global: Limits{TokensPerDay: 1 << 40, Concurrent: 1 << 20},
		}})
		type hold struct {
			until  time.Time
			tokens int64
		}
		var holds []hold
		for step := range 60 {
			n := int64(step + 1)
			if _, err := l.Admit(ctx, alice, Amount{InputTokens: n}); err != nil {
				t.Fatal(err)
			}
			now := e.clock.Now()
			end := now.Add(ttl).Truncate(time.Second)
			if end.Before(now.Add(ttl)) {
				end = end.Add(time.Second)
			}
			holds = append(holds, hold{end, n})
			e.clock.Add(700 * time.Millisecond)
			now = e.clock.Now()
			var want, slots int64
			for _, h := range holds {
				if h.until.After(now) {
					want += h.tokens
					slots++
				}
			}
			u, err := l.Usage(ctx, Scope{Kind: KindGlobal})
			if err != nil {
				t.Fatal(err)
			}
			if int64(u.Budgets[0].Reserved) != want || int64(u.InFlight) != slots {
				t.Fatalf("step %d at %v: held %v tokens and %d slots, want %d and %d", step, now.Sub(t0), u.Budgets[0].Reserved, u.InFlight, want, slots)
			}
		}
	})
}
