package secureai_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/ratelimit"
	"github.com/secureai-go/secureai/secureaitest"
)

func newLimiter(t testing.TB, rules ratelimit.Rules, store ratelimit.Store) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(ratelimit.Options{Rules: rules, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func callerUsage(t *testing.T, l *ratelimit.Limiter, scope ratelimit.Scope) ratelimit.BudgetUsage {
	t.Helper()
	u, err := l.Usage(t.Context(), scope)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range u.Budgets {
		if strings.Contains(b.Rule, "tokens_per_day") {
			return b
		}
	}
	t.Fatalf("no tokens_per_day budget in %+v", u)
	return ratelimit.BudgetUsage{}
}

// TestLimiterReconcilesOnEveryPath checks that the tokens reserved for a
// call are released or charged on success, upstream error, stream cut,
// cancellation and a panicking output check.
func TestLimiterReconcilesOnEveryPath(t *testing.T) {
	rules := ratelimit.Rules{Global: ratelimit.Limits{TokensPerDay: 1_000_000}}
	global := ratelimit.Scope{Kind: ratelimit.KindGlobal}
	for _, tc := range []struct {
		name   string
		faults []secureaitest.Fault
		opts   []secureai.Option
		call   func(t *testing.T, c *secureai.Client, ctx context.Context) error
		want   error
		charge bool // some tokens charged
	}{
		{name: "success", call: plainCall, charge: true},
		{name: "upstream 500", faults: repeat(secureaitest.Fault{Status: 500}, 3), call: plainCall, want: secureai.ErrUpstream},
		{name: "stream cut after 3 chunks", faults: []secureaitest.Fault{{CutAfter: 3}}, call: streamCall, want: secureai.ErrStreamCut, charge: true},
		{name: "context cancelled mid-call", faults: []secureaitest.Fault{{Latency: time.Minute}}, call: func(t *testing.T, c *secureai.Client, ctx context.Context) error {
			// Long enough for the stages before the send on a loaded
			// machine under -race: the deadline must fall while the
			// request waits upstream, not before it is sent.
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := c.CreateChatCompletion(ctx, chatReq(chatModel))
			return err
		}, want: secureai.ErrUpstream},
		{name: "panicking output check", opts: []secureai.Option{secureai.WithOutputChecks(secureai.OutputCheckerFunc(
			func(context.Context, *secureai.Call, *secureai.Output) error { panic("boom") }))},
			call: func(t *testing.T, c *secureai.Client, ctx context.Context) (err error) {
				defer func() {
					if p := recover(); p != "boom" {
						t.Errorf("recovered %v", p)
					}
					err = secureai.ErrInternal
				}()
				_, err = c.CreateChatCompletion(ctx, chatReq(chatModel))
				return err
			}, want: secureai.ErrInternal, charge: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := newLimiter(t, rules, nil)
			f := newFixture(t, append([]secureai.Option{secureai.WithLimiter(lim),
				secureai.WithRetry(secureai.RetryPolicy{MaxRetries: 2, BaseDelay: 1, MaxDelay: 1})}, tc.opts...)...)
			f.srv.Enqueue(tc.faults...)
			err := tc.call(t, f.client, f.ctx)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			b := callerUsage(t, lim, global)
			if b.Reserved != 0 {
				t.Errorf("%v tokens still reserved after the call", b.Reserved)
			}
			if (b.Used > 0) != tc.charge {
				t.Errorf("used %v tokens, want charged=%v", b.Used, tc.charge)
			}
			ev := f.rec.Last()
			if f.rec.Len() != 1 || (tc.charge && ev.InputTokens+ev.OutputTokens != int(b.Used)) {
				t.Errorf("audit %d events; tokens in audit %d+%d, charged %v", f.rec.Len(), ev.InputTokens, ev.OutputTokens, b.Used)
			}
			if tc.charge && ev.CostUSD <= 0 {
				t.Errorf("no cost in audit: %+v", ev)
			}
		})
	}
}

func plainCall(t *testing.T, c *secureai.Client, ctx context.Context) error {
	_, err := c.CreateChatCompletion(ctx, chatReq(chatModel))
	return err
}

func streamCall(t *testing.T, c *secureai.Client, ctx context.Context) error {
	s, err := c.CreateChatCompletionStream(ctx, chatReq(chatModel))
	if err != nil {
		return err
	}
	defer s.Close()
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func TestLimiterRefusals(t *testing.T) {
	t.Run("rate", func(t *testing.T) {
		lim := newLimiter(t, ratelimit.Rules{Default: ratelimit.TierRules{Caller: ratelimit.Limits{
			Requests: []ratelimit.Rate{{Count: 2, Per: time.Hour}}}}}, nil)
		f := newFixture(t, secureai.WithLimiter(lim))
		for range 2 {
			if err := plainCall(t, f.client, f.ctx); err != nil {
				t.Fatal(err)
			}
		}
		err := plainCall(t, f.client, f.ctx)
		e, ok := errors.AsType[*secureai.Error](err)
		if !errors.Is(err, secureai.ErrRateLimited) || !ok || e.RetryAfter <= 0 || e.Stage != secureai.StageRateLimit || !strings.HasPrefix(e.Reason, "caller_") {
			t.Errorf("err = %v", err)
		}
		if !errors.Is(err, ratelimit.ErrRateLimited) {
			t.Error("the limiter's own error is not reachable")
		}
		if len(f.srv.Requests()) != 2 {
			t.Errorf("%d requests sent", len(f.srv.Requests()))
		}
	})
	t.Run("budget", func(t *testing.T) {
		lim := newLimiter(t, ratelimit.Rules{Default: ratelimit.TierRules{Caller: ratelimit.Limits{TokensPerDay: 500}}}, nil)
		f := newFixture(t, secureai.WithLimiter(lim), secureai.WithOutputTokens(1000, 1000))
		err := plainCall(t, f.client, f.ctx)
		if !errors.Is(err, secureai.ErrBudgetExceeded) || len(f.srv.Requests()) != 0 {
			t.Errorf("err = %v, %d sent", err, len(f.srv.Requests()))
		}
	})
	t.Run("concurrency slot held by an open stream", func(t *testing.T) {
		lim := newLimiter(t, ratelimit.Rules{Default: ratelimit.TierRules{Caller: ratelimit.Limits{Concurrent: 1}}}, nil)
		f := newFixture(t, secureai.WithLimiter(lim))
		s, err := f.client.CreateChatCompletionStream(f.ctx, chatReq(chatModel))
		if err != nil {
			t.Fatal(err)
		}
		if err := plainCall(t, f.client, f.ctx); !errors.Is(err, secureai.ErrRateLimited) {
			t.Errorf("second call while the stream is open: %v", err)
		}
		s.Close()
		if err := plainCall(t, f.client, f.ctx); err != nil {
			t.Errorf("after Close the slot is still held: %v", err)
		}
	})
	t.Run("exact count when the bound does not fit", func(t *testing.T) {
		// A prompt of 3000 bytes of "a a a ..." is ~1500 tokens but its
		// byte bound is 3000+: a 2600-token budget fits only the exact count.
		lim := newLimiter(t, ratelimit.Rules{Default: ratelimit.TierRules{Caller: ratelimit.Limits{TokensPerDay: 2600}}}, nil)
		f := newFixture(t, secureai.WithLimiter(lim), secureai.WithOutputTokens(16, 16))
		req := chatReq(chatModel)
		req.Messages[1].Content = strings.Repeat("a ", 1500)
		if _, err := f.client.CreateChatCompletion(f.ctx, req); err != nil {
			t.Fatalf("exact count not used: %v", err)
		}
	})
}

func TestThresholdAndStoreEventsReachAudit(t *testing.T) {
	rec := &secureaitest.AuditRecorder{}
	lim, err := ratelimit.New(ratelimit.Options{
		Rules:       ratelimit.Rules{Default: ratelimit.TierRules{Caller: ratelimit.Limits{TokensPerDay: 4000}}},
		OnThreshold: secureai.ThresholdAuditor(rec),
	})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, secureai.WithLimiter(lim), secureai.WithOutputTokens(1000, 1000))
	f.srv.SetReply(strings.Repeat("word ", 900))
	for range 3 {
		plainCall(t, f.client, f.ctx)
	}
	var thresholds int
	for _, e := range rec.Events() {
		if e.Kind == audit.KindBudgetThreshold {
			thresholds++
			if e.Caller == "" || strings.Contains(e.Caller, "alice") {
				t.Errorf("threshold event caller %q", e.Caller)
			}
		}
	}
	if thresholds == 0 {
		t.Error("no budget threshold event reached the audit sink")
	}
}

// redisClient returns a go-redis client on REDIS_URL, or on an embedded
// miniredis when it is unset.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	var opts *redis.Options
	if u := os.Getenv("REDIS_URL"); u != "" {
		var err error
		if opts, err = redis.ParseURL(u); err != nil {
			t.Fatal(err)
		}
	} else {
		mr := miniredis.RunT(t)
		opts = &redis.Options{Addr: mr.Addr()}
	}
	opts.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	return rdb
}

// TestReplicasShareBudgets is the race test: 3 clients (replicas)
// with limiters on one Redis, 200 goroutines, one global token budget and
// per-user budgets, real usage reported by the fake server: no budget is
// ever exceeded, and at most one request's worth is left unused.
func TestReplicasShareBudgets(t *testing.T) {
	rdb := redisClient(t)
	prefix := "secureai:test:" + strings.ReplaceAll(t.Name(), "/", "_") + ":" + randHex() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	const (
		globalBudget = 60_000
		userBudget   = 9_000
		users        = 12
		goroutines   = 200
		maxOut       = 64
	)
	rules := ratelimit.Rules{
		Global:  ratelimit.Limits{TokensPerDay: globalBudget},
		Default: ratelimit.TierRules{Caller: ratelimit.Limits{TokensPerDay: userBudget}},
	}
	srv := secureaitest.NewServer(t)
	srv.SetReply(strings.Repeat("tok ", 200)) // answers hit the output cap: real usage close to the reservation
	var limiters []*ratelimit.Limiter
	var clients []*secureai.Client
	for range 3 {
		store, err := ratelimit.NewRedisStore(rdb, ratelimit.RedisOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		lim, err := ratelimit.New(ratelimit.Options{Rules: rules, Store: store, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		c, err := secureai.New(secureai.WithKeyProvider(secureaitest.NewKeys(testKey)), secureai.WithBaseURL(srv.URL()),
			secureai.WithTransport(srv.Transport()), secureai.WithModels(chatModel), secureai.WithLimiter(lim),
			secureai.WithOutputTokens(maxOut, maxOut), secureai.WithPseudonymKey(keyprovider.NewSecret("0123456789abcdef0123456789abcdef")),
			secureai.WithAuditSink(audit.SinkFunc(func(context.Context, audit.Event) error { return nil })))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		limiters, clients = append(limiters, lim), append(clients, c)
	}
	var ok, refused, charged atomic.Int64
	perUser := make([]atomic.Int64, users)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			u := g % users
			ctx := secureai.WithCaller(t.Context(), secureai.Caller{ID: "user-" + string(rune('a'+u))})
			for i := 0; ; i++ {
				resp, err := clients[(g+i)%3].CreateChatCompletion(ctx, chatReq(chatModel))
				if errors.Is(err, secureai.ErrBudgetExceeded) {
					refused.Add(1)
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				ok.Add(1)
				n := int64(resp.Usage.TotalTokens)
				charged.Add(n)
				perUser[u].Add(n)
			}
		})
	}
	wg.Wait()
	if charged.Load() > globalBudget {
		t.Errorf("charged %d tokens, global budget %d", charged.Load(), globalBudget)
	}
	for u := range perUser {
		if perUser[u].Load() > userBudget {
			t.Errorf("user %d charged %d, budget %d", u, perUser[u].Load(), userBudget)
		}
	}
	b := callerUsage(t, limiters[0], ratelimit.Scope{Kind: ratelimit.KindGlobal})
	if int64(b.Used) != charged.Load() || b.Reserved != 0 {
		t.Errorf("store says used %v reserved %v; clients were charged %d", b.Used, b.Reserved, charged.Load())
	}
	// At most one request's worth left: the prompt bound plus the cap.
	oneRequest := 200.0 + maxOut
	if left := b.Remaining(); left > oneRequest {
		t.Errorf("%v tokens of the global budget left unused (> %v)", left, oneRequest)
	}
	t.Logf("%d calls ok, %d refused, %d tokens charged", ok.Load(), refused.Load(), charged.Load())
}

func randHex() string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := range b {
		b[i] = digits[rand.IntN(16)]
	}
	return string(b)
}

// TestDefaultRateLimit checks the in-memory request-rate limit a client
// has when it is given none: a caller's burst of 10, then refusals with a
// retry hint; other callers are not affected; Without turns it off.
func TestDefaultRateLimit(t *testing.T) {
	f := newFixture(t)
	var refused error
	// The burst is 10; on a slow machine the bucket refills (5/s) while the
	// calls run, so refusal may come later, but never after the 120th call
	// of the minute.
	for i := 0; refused == nil && i < 200; i++ {
		if _, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel)); err != nil {
			if i < 10 {
				t.Fatalf("call %d refused inside the burst: %v", i, err)
			}
			refused = err
		}
	}
	e, ok := errors.AsType[*secureai.Error](refused)
	if !errors.Is(refused, secureai.ErrRateLimited) || !ok || e.RetryAfter <= 0 {
		t.Fatalf("11th call: %v, want ErrRateLimited with RetryAfter", refused)
	}
	other := secureai.WithCaller(t.Context(), secureai.Caller{ID: "bob@example.com"})
	if _, err := f.client.CreateChatCompletion(other, chatReq(chatModel)); err != nil {
		t.Fatalf("another caller: %v", err)
	}
	if !strings.Contains(fmt.Sprint(f.client.Controls()), "DefaultRateRules") {
		t.Errorf("Controls does not show the default limiter: %v", f.client.Controls())
	}

	g := newFixture(t, secureai.Without(secureai.StageRateLimit))
	for range 30 {
		if _, err := g.client.CreateChatCompletion(g.ctx, chatReq(chatModel)); err != nil {
			t.Fatalf("rate limit off: %v", err)
		}
	}
}
