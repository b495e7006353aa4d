package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/secureai-go/secureai/ratelimit"
)

// An in-memory limiter: two requests per second per caller, four in flight.
func ExampleLimiter() {
	now := time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC) // a fixed clock, for the example
	lim, err := ratelimit.New(ratelimit.Options{
		Now: func() time.Time { return now },
		Rules: ratelimit.Rules{Default: ratelimit.TierRules{Caller: ratelimit.Limits{
			Requests:   []ratelimit.Rate{ratelimit.PerSecond(2)},
			Concurrent: 4,
		}}},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	alice := ratelimit.Subject{Caller: "alice", Model: "gpt-4o"}
	for i := range 3 {
		permit, err := lim.Allow(ctx, alice)
		if err != nil {
			e, _ := errors.AsType[*ratelimit.Error](err)
			fmt.Println(i, err)
			fmt.Println("code:", e.Code(), "retry after:", e.RetryAfter())
			continue
		}
		fmt.Println(i, "allowed")
		defer permit.Release(context.WithoutCancel(ctx)) // when the call (or stream) ends
	}
	// Output:
	// 0 allowed
	// 1 allowed
	// 2 ratelimit: rate limited: caller requests_per_second, retry after 500ms
	// code: caller_requests_per_second retry after: 500ms
}

// A budget reservation: hold the worst case, commit what was used.
func ExampleLimiter_Reserve() {
	now := time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC) // a fixed clock, for the example
	lim, err := ratelimit.New(ratelimit.Options{
		Now: func() time.Time { return now },
		Rules: ratelimit.Rules{
			Global:  ratelimit.Limits{USDPerMonth: 100},
			Default: ratelimit.TierRules{Caller: ratelimit.Limits{TokensPerDay: 10_000}},
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	alice := ratelimit.Subject{Caller: "alice", Model: "gpt-4o-mini"}

	// The prompt's upper bound plus n × max_tokens.
	res, err := lim.Reserve(ctx, alice, ratelimit.Amount{InputTokens: 1200, OutputTokens: 4096})
	if err != nil {
		panic(err)
	}
	_, err = lim.Reserve(ctx, alice, ratelimit.Amount{InputTokens: 1200, OutputTokens: 4096})
	fmt.Println("second call:", err)

	// The upstream answered: charge the real usage, release the rest.
	if err := res.Commit(context.WithoutCancel(ctx), ratelimit.Amount{InputTokens: 310, OutputTokens: 95}); err != nil {
		panic(err)
	}
	u, _ := lim.Usage(ctx, ratelimit.Scope{Kind: ratelimit.KindCaller, Name: "alice"})
	for _, b := range u.Budgets {
		fmt.Printf("%s: used %.0f, reserved %.0f, remaining %.0f\n", b.Rule, b.Used, b.Reserved, b.Remaining())
	}
	g, _ := lim.Usage(ctx, ratelimit.Scope{Kind: ratelimit.KindGlobal})
	fmt.Printf("%s: used $%.6f\n", g.Budgets[0].Rule, g.Budgets[0].Used)
	// Output:
	// second call: ratelimit: budget exceeded: caller tokens_per_day, retry after 14h30m0s
	// tokens_per_day: used 405, reserved 0, remaining 9595
	// usd_per_month: used $0.000104
}

// Two replicas share limits through Redis (here an embedded miniredis).
func ExampleNewRedisStore() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()

	replica := func() (*ratelimit.Limiter, func() error) {
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
		store, err := ratelimit.NewRedisStore(rdb, ratelimit.RedisOptions{Prefix: "example:"})
		if err != nil {
			panic(err)
		}
		lim, err := ratelimit.New(ratelimit.Options{
			Store: store,
			Rules: ratelimit.Rules{Global: ratelimit.Limits{TokensPerDay: 5000}},
		})
		if err != nil {
			panic(err)
		}
		return lim, rdb.Close
	}
	a, closeA := replica()
	defer closeA()
	b, closeB := replica()
	defer closeB()

	ctx := context.Background()
	s := ratelimit.Subject{Caller: "alice", Model: "gpt-4o"}
	res, err := a.Reserve(ctx, s, ratelimit.Amount{InputTokens: 1000, OutputTokens: 3000})
	fmt.Println("replica a reserves 4000:", err)
	_, err = b.Reserve(ctx, s, ratelimit.Amount{InputTokens: 1000, OutputTokens: 1000})
	fmt.Println("replica b reserves 2000:", errors.Is(err, ratelimit.ErrBudgetExceeded))
	_ = res.Commit(ctx, ratelimit.Amount{InputTokens: 1000, OutputTokens: 500})
	u, _ := b.Usage(ctx, ratelimit.Scope{Kind: ratelimit.KindGlobal})
	fmt.Printf("replica b sees: used %.0f, reserved %.0f\n", u.Budgets[0].Used, u.Budgets[0].Reserved)
	// Output:
	// replica a reserves 4000: <nil>
	// replica b reserves 2000: true
	// replica b sees: used 1500, reserved 0
}
