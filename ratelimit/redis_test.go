package ratelimit

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// fakeRediser answers every script call with a canned reply to its one
// operation (raw: the whole reply), or blocks until the context ends when
// block is set.
type fakeRediser struct {
	reply any
	raw   bool
	err   error
	block bool
	calls int
}

func (f *fakeRediser) do(ctx context.Context) *redis.Cmd {
	f.calls++
	cmd := redis.NewCmd(ctx)
	if f.block {
		<-ctx.Done()
		cmd.SetErr(ctx.Err())
		return cmd
	}
	if f.err != nil {
		cmd.SetErr(f.err)
	} else if f.raw {
		cmd.SetVal(f.reply)
	} else {
		cmd.SetVal([]any{f.reply})
	}
	return cmd
}

func (f *fakeRediser) Eval(ctx context.Context, _ string, _ []string, _ ...any) *redis.Cmd {
	return f.do(ctx)
}

func (f *fakeRediser) EvalSha(ctx context.Context, _ string, _ []string, _ ...any) *redis.Cmd {
	return f.do(ctx)
}

// A reply the script cannot have sent is an error, never a panic.
func TestRedisMalformedReply(t *testing.T) {
	rules := Rules{Global: Limits{Requests: []Rate{PerSecond(1)}, Concurrent: 1, TokensPerDay: 10}}
	for _, tc := range []struct {
		name  string
		reply any
	}{
		{"nil", nil},
		{"string", "OK"},
		{"int", int64(1)},
		{"empty array", []any{}},
		{"short refusal", []any{int64(0), int64(1)}},
		{"short success", []any{int64(1), int64(1)}},
		{"string element", []any{int64(1), "x"}},
		{"nested", []any{[]any{int64(1)}, int64(2)}},
		{"unknown status", []any{int64(7), int64(0)}},
		{"refusal kind out of range", []any{int64(0), int64(9), int64(1), int64(1), int64(0), int64(5)}},
		{"refusal scope out of range", []any{int64(0), int64(1), int64(7), int64(1), int64(0), int64(5)}},
		{"refusal index out of range", []any{int64(0), int64(1), int64(1), int64(99), int64(0), int64(5)}},
		{"refusal index zero", []any{int64(0), int64(3), int64(1), int64(0), int64(0), int64(5)}},
		{"settle crossing truncated", []any{int64(1), int64(2), int64(1)}},
		{"settle crossing bad scope", []any{int64(1), int64(2), int64(5), int64(1), int64(0), int64(50), int64(9)}},
		{"settle crossing bad percent", []any{int64(1), int64(2), int64(1), int64(1), int64(0), int64(5000), int64(9)}},
		{"float", []any{1.5, int64(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRediser{reply: tc.reply}
			rs, err := NewRedisStore(f, RedisOptions{})
			if err != nil {
				t.Fatal(err)
			}
			l := mustNew(t, Options{Store: rs, Rules: rules, OnThreshold: func(ThresholdEvent) {}})
			ctx := t.Context()
			for _, op := range []func() error{
				func() error { _, err := l.Allow(ctx, alice); return err },
				func() error { _, err := l.Admit(ctx, alice, Amount{InputTokens: 1}); return err },
				func() error { _, err := l.Usage(ctx, Scope{Kind: KindGlobal}); return err },
			} {
				l.degraded.Store(false)
				err := op()
				if err == nil {
					continue // some replies are valid for some operations
				}
				if !errors.Is(err, ErrLimiterUnavailable) {
					t.Fatalf("err = %v, want ErrLimiterUnavailable", err)
				}
			}
			// Settle a real reservation against the bad reply.
			good := &fakeRediser{reply: []any{int64(1), int64(0), int64(3)}}
			rs.rdb = good
			l.degraded.Store(false)
			r, err := l.Reserve(ctx, alice, Amount{InputTokens: 1})
			if err != nil {
				t.Fatal(err)
			}
			rs.rdb = f
			_ = r.Commit(ctx, Amount{InputTokens: 1})
		})
	}
	// The whole reply malformed, through the store directly: always
	// errMalformed.
	for _, reply := range []any{"OK", nil, []any{}, []any{int64(1)}, []any{[]any{int64(1)}, []any{int64(1)}}} {
		rs, _ := NewRedisStore(&fakeRediser{reply: reply, raw: true}, RedisOptions{})
		if _, err := rs.exec(t.Context(), []*pendingOp{{keys: []string{"k"}, op: opBuf{3}.bytes()}}); !errors.Is(err, errMalformed) {
			t.Fatalf("reply %v: err = %v", reply, err)
		}
	}
}

func TestRedisNoScript(t *testing.T) {
	rdb, _, prefix := newRedisClient(t, false)
	rs, err := NewRedisStore(rdb, RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	// A fresh server (or one after SCRIPT FLUSH) does not know the SHA:
	// the store falls back to EVAL, which loads it.
	rs.sha = strings.Repeat("0", 40)
	l := mustNew(t, Options{Store: rs, Rules: Rules{Global: Limits{Requests: []Rate{PerSecond(5)}}}})
	if _, err := l.Allow(t.Context(), alice); err != nil {
		t.Fatal(err)
	}
}

func TestNewRedisStore(t *testing.T) {
	if _, err := NewRedisStore(nil, RedisOptions{}); err == nil {
		t.Error("nil client accepted")
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	if _, err := NewRedisStore(c, RedisOptions{}); err == nil || !strings.Contains(err.Error(), "ContextTimeoutEnabled") {
		t.Errorf("client without context timeouts: %v", err)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true})
	defer cc.Close()
	if _, err := NewRedisStore(cc, RedisOptions{}); err != nil {
		t.Errorf("cluster client: %v", err)
	}
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}, ContextTimeoutEnabled: true})
	defer ring.Close()
	if _, err := NewRedisStore(ring, RedisOptions{}); err != nil {
		t.Errorf("ring: %v", err)
	}
	if _, err := NewRedisStore(&fakeRediser{}, RedisOptions{Prefix: "a{b}:"}); err == nil {
		t.Error("prefix with a hash tag accepted")
	}
}

// Every key of one check shares one hash tag (one Cluster slot), and no
// name can break out of its place in the key.
func TestRedisKeys(t *testing.T) {
	rs, _ := NewRedisStore(&fakeRediser{}, RedisOptions{Prefix: "p:"})
	l := mustNew(t, Options{Store: rs, Rules: Rules{
		Global:  Limits{Requests: []Rate{PerSecond(1)}, TokensPerDay: 1},
		Default: TierRules{Caller: Limits{Concurrent: 1, USDPerMonth: 1}, Group: Limits{TokensPerMinute: 1}, Tier: Limits{Requests: []Rate{PerMinute(2)}}},
	}})
	s := Subject{Caller: "a}{b:c d%", Group: "g/1", Model: "gpt-4o"}
	q := new(query)
	l.query(q, l.plans, s, partRates|partSlots|partBudgets, charge{1, 1})
	_, keys := rs.keysOf(q)
	want := []string{"p:{rl}:u:a%7D%7Bb%3Ac%20d%25", "p:{rl}:g:g%2F1", "p:{rl}:t:", "p:{rl}:a:"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("keys %q, want %q", keys, want)
	}
	for _, k := range keys {
		if strings.Count(k, "{") != 1 || strings.Count(k, "}") != 1 || !strings.HasPrefix(k, "p:{rl}:") {
			t.Errorf("key %q leaves the hash tag", k)
		}
	}
	rs.tag = func(s Subject) string { return s.Group }
	_, keys = rs.keysOf(q)
	for _, k := range keys {
		if !strings.HasPrefix(k, "p:{g%2F1}:") {
			t.Errorf("tag by group: key %q", k)
		}
	}
}
