package ratelimit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// countingRediser counts the script calls that reach Redis and the
// operations they carry.
type countingRediser struct {
	*redis.Client
	calls, ops atomic.Int64
}

func (c *countingRediser) EvalSha(ctx context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	c.calls.Add(1)
	c.ops.Add(int64(len(args) / 2))
	return c.Client.EvalSha(ctx, sha, keys, args...)
}

func (c *countingRediser) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return c.Client.Eval(ctx, script, keys, args...)
}

// Checks that arrive while a script call is in flight go together in the
// next one, and batching changes no result: a rule of 100 per hour admits
// exactly 100 of 400 concurrent checks, and the token budget of every scope
// is reserved exactly, across three scopes.
func TestRedisBatchesExact(t *testing.T) {
	rdb, _, prefix := newRedisClient(t, false)
	cr := &countingRediser{Client: rdb}
	rs, err := NewRedisStore(cr, RedisOptions{Prefix: prefix, MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	l := mustNew(t, Options{Store: rs, Timeout: 10 * time.Second, Rules: Rules{
		Global: Limits{Requests: []Rate{{Count: 100, Per: time.Hour}}, TokensPerDay: 1 << 40},
		Default: TierRules{
			Caller: Limits{TokensPerDay: 1 << 40},
			Group:  Limits{TokensPerDay: 1 << 40},
		},
	}})
	const n = 400
	var admitted, refused atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			s := Subject{Caller: "user" + string(rune('a'+i%20)), Group: "g"}
			_, err := l.Admit(t.Context(), s, Amount{InputTokens: 10, OutputTokens: 5})
			var e *Error
			switch {
			case err == nil:
				admitted.Add(1)
			case errors.As(err, &e) && errors.Is(err, ErrRateLimited):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if admitted.Load() != 100 || refused.Load() != n-100 {
		t.Fatalf("admitted %d, refused %d; want 100 and %d", admitted.Load(), refused.Load(), n-100)
	}
	if calls, ops := cr.calls.Load(), cr.ops.Load(); ops != n || calls >= ops {
		t.Errorf("%d operations in %d calls: no batching", ops, calls)
	} else {
		t.Logf("%d operations in %d script calls", ops, calls)
	}
	for _, sc := range []Scope{{Kind: KindGlobal}, {Kind: KindGroup, Name: "g"}} {
		if got := usageOf(t, l, sc, "tokens_per_day").Reserved; got != 100*15 {
			t.Errorf("%v reserved %v, want %d", sc, got, 100*15)
		}
	}
}

// An operation waiting for a call in flight is withdrawn when its context
// ends: it returns at once and never reaches Redis; the call in flight
// then hands nothing on.
func TestRedisBatchWithdraw(t *testing.T) {
	f := &fakeRediser{block: true}
	rs, err := NewRedisStore(f, RedisOptions{MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	op := func() *pendingOp { return &pendingOp{keys: []string{"k"}, op: opBuf{3, 1, 1, 0}.bytes()} }
	first, cancelFirst := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := rs.do(first, "t", op()); done <- err }()
	// Wait until the first call is in flight.
	for {
		rs.mu.Lock()
		ln := rs.lanes["t"]
		busy := ln != nil && ln.inflight == 1
		rs.mu.Unlock()
		if busy {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := rs.do(ctx, "t", op()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued op: err = %v, want the context's", err)
	}
	rs.mu.Lock()
	queued := len(rs.lanes["t"].queue)
	rs.mu.Unlock()
	if queued != 0 {
		t.Fatalf("%d ops still queued after withdrawal", queued)
	}
	cancelFirst()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("op in flight: err = %v", err)
	}
	rs.mu.Lock()
	lanes := len(rs.lanes)
	rs.mu.Unlock()
	if lanes != 0 || f.calls != 1 {
		t.Fatalf("%d lanes left, %d calls; want 0 and 1", lanes, f.calls)
	}
}

// A batch whose call fails hands every operation in it the error.
func TestRedisBatchSharesErrors(t *testing.T) {
	rdb, mr, prefix := newRedisClient(t, true) // miniredis, which can be made to fail
	rs, err := NewRedisStore(rdb, RedisOptions{Prefix: prefix, MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	l := mustNew(t, Options{Store: rs, Timeout: time.Second, Rules: Rules{Global: Limits{TokensPerDay: 1 << 30}}})
	mr.SetError("LOADING server is loading")
	var wg sync.WaitGroup
	var unavailable atomic.Int64
	for range 50 {
		wg.Go(func() {
			if _, err := l.Admit(t.Context(), alice, Amount{InputTokens: 1}); errors.Is(err, ErrLimiterUnavailable) {
				unavailable.Add(1)
			}
		})
	}
	wg.Wait()
	mr.SetError("")
	if unavailable.Load() != 50 {
		t.Fatalf("%d of 50 checks unavailable", unavailable.Load())
	}
}

// A scope with more rate rules than the script keeps without pruning
// (eight) still counts exactly: its state is rebuilt on write, dropping
// only the rules whose bucket is full again.
func TestRedisManyRateRules(t *testing.T) {
	eachStore(t, func(t *testing.T, e env) {
		var rates []Rate
		for i := range 10 {
			rates = append(rates, Rate{Count: 3 + i, Per: time.Hour})
		}
		l := mustNew(t, Options{Store: e.store, Now: e.clock.Now, Rules: Rules{Global: Limits{Requests: rates, TokensPerDay: 1000}}})
		ctx := t.Context()
		for i := range 3 {
			if _, err := l.Admit(ctx, alice, Amount{InputTokens: 100}); err != nil {
				t.Fatalf("check %d: %v", i, err)
			}
		}
		_, err := l.Admit(ctx, alice, Amount{InputTokens: 100})
		var le *Error
		if !errors.As(err, &le) || le.Kind != ErrRateLimited || le.Rule != "requests_per_hour" {
			t.Fatalf("fourth check: %v, want the 3-per-hour rule", err)
		}
		if got := usageOf(t, l, Scope{Kind: KindGlobal}, "tokens_per_day").Reserved; got != 300 {
			t.Fatalf("reserved %v, want 300", got)
		}
	})
}
