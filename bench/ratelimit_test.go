package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/secureai-go/secureai/ratelimit"
)

// benchRules have three scopes (caller, group, global), each with a rate
// and a token budget, all far above what a benchmark uses: every check
// admits, and every check does the whole work.
var benchRules = ratelimit.Rules{
	Global: ratelimit.Limits{Requests: []ratelimit.Rate{ratelimit.PerSecond(1e9)}, TokensPerDay: 1e15},
	Default: ratelimit.TierRules{
		Caller: ratelimit.Limits{Requests: []ratelimit.Rate{ratelimit.PerSecond(1e9)}, TokensPerDay: 1e15},
		Group:  ratelimit.Limits{Requests: []ratelimit.Rate{ratelimit.PerSecond(1e9)}, TokensPerDay: 1e15},
	},
}

var benchSubject = ratelimit.Subject{Caller: "alice", Group: "support", Model: benchModel}

// BenchmarkRatelimitMemory is the in-memory limiter: Allow (rates of three
// scopes) and Reserve+Commit (token budgets of three scopes).
func BenchmarkRatelimitMemory(b *testing.B) {
	lim, err := ratelimit.New(ratelimit.Options{Rules: benchRules})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("allow", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := lim.Allow(ctx, benchSubject); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The shape of secureai's default rules (two rates and a concurrency
	// slot per caller), with rates no loop reaches, over 4096 callers in
	// turn: each check finds its caller's state cold, as in a service.
	b.Run("allow+release/4096-callers", func(b *testing.B) {
		dl, err := ratelimit.New(ratelimit.Options{Rules: ratelimit.Rules{Default: ratelimit.TierRules{Caller: ratelimit.Limits{
			Requests:   []ratelimit.Rate{{Count: 1e9, Per: time.Second, Burst: 10}, ratelimit.PerMinute(1e9)},
			Concurrent: 8,
		}}}})
		if err != nil {
			b.Fatal(err)
		}
		subs := make([]ratelimit.Subject, 4096)
		for i := range subs {
			subs[i] = ratelimit.Subject{Caller: "caller-" + strconv.Itoa(i), Group: "bench", Model: benchModel}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p, err := dl.Allow(ctx, subs[i%len(subs)])
			if err != nil {
				b.Fatal(err)
			}
			if err := p.Release(ctx); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("reserve+commit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := lim.Reserve(ctx, benchSubject, ratelimit.Amount{InputTokens: 1000, OutputTokens: 64})
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Commit(ctx, ratelimit.Amount{InputTokens: 900, OutputTokens: 20}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchRedis connects to REDIS_URL, or to an embedded miniredis when unset
// (whose numbers say little: it is single-threaded Go, not Redis).
func benchRedis(b *testing.B) (*redis.Client, string) {
	prefix := fmt.Sprintf("secureai:bench:%x:", rand.Uint64())
	opt := &redis.Options{}
	if u := os.Getenv("REDIS_URL"); u != "" {
		var err error
		if opt, err = redis.ParseURL(u); err != nil {
			b.Fatal(err)
		}
	} else {
		mr := miniredis.RunT(b)
		opt.Addr = mr.Addr()
		b.Log("REDIS_URL unset: against miniredis")
	}
	opt.ContextTimeoutEnabled = true
	opt.PoolSize = 64
	rdb := redis.NewClient(opt)
	b.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			rdb.Del(ctx, keys[:n]...)
			keys = keys[n:]
		}
		rdb.Close()
	})
	return rdb, prefix
}

// BenchmarkRatelimitRedis compares secureai's Redis checks with
// go-redis/redis_rate's Allow against the same Redis:
//
//   - secureai-3scopes: Admit for caller + group + global, each a rate and
//     a token budget (the holds are left to expire): one script, one round
//     trip. "+commit" adds the Commit round trip of a real call.
//   - secureai-3scopes-allow: Allow (the three rates only).
//   - secureai-3scopes-lease, -allow-lease: the same two with request rates
//     leased (RedisOptions.LeaseRequests = 100): the rates are spent from
//     the process, Admit still goes to Redis for the exact token budgets,
//     Allow goes to Redis once per 100 checks.
//   - secureai-1scope: Allow with one caller rate, redis_rate's own job.
//   - redis_rate-1key: one Allow; redis_rate-3keys: three Allows, what
//     redis_rate needs for three scopes (rates only, three round trips).
//
// "serial" is one goroutine (round-trip bound), "parallel" GOMAXPROCS×16
// goroutines (Redis bound); each reports ops/s and, for secureai, its
// ratio to redis_rate-1key's ops/s measured just before in the same mode
// ("x-redis_rate-1key", goal ≥ 1). "paired" alternates secureai-3scopes
// with redis_rate-1key and -3keys in one loop and reports the time ratios,
// drift-proof on a noisy machine.
func BenchmarkRatelimitRedis(b *testing.B) {
	rdb, prefix := benchRedis(b)
	newLimiter := func(rules ratelimit.Rules) *ratelimit.Limiter {
		store, err := ratelimit.NewRedisStore(rdb, ratelimit.RedisOptions{Prefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		lim, err := ratelimit.New(ratelimit.Options{Store: store, Rules: rules, Timeout: 5 * time.Second, TTL: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		return lim
	}
	lim3 := newLimiter(benchRules)
	leaseStore, err := ratelimit.NewRedisStore(rdb, ratelimit.RedisOptions{Prefix: prefix, LeaseRequests: 100})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := leaseStore.Close(context.Background()); err != nil {
			b.Error(err)
		}
	})
	lim3L, err := ratelimit.New(ratelimit.Options{Store: leaseStore, Rules: benchRules, Timeout: 5 * time.Second, TTL: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	lim1 := newLimiter(ratelimit.Rules{Default: ratelimit.TierRules{Caller: ratelimit.Limits{Requests: []ratelimit.Rate{ratelimit.PerSecond(1e9)}}}})
	rr := redis_rate.NewLimiter(rdb)
	ctx := context.Background()
	amount := ratelimit.Amount{InputTokens: 1000, OutputTokens: 64}
	used := ratelimit.Amount{InputTokens: 900, OutputTokens: 20}

	type op func(id string)
	ops := []struct {
		name string
		do   op
	}{
		{"redis_rate-1key", func(id string) {
			if _, err := rr.Allow(ctx, prefix+"rr:"+id, redis_rate.PerSecond(1e9)); err != nil {
				b.Fatal(err)
			}
		}},
		{"secureai-3scopes", func(id string) {
			if _, err := lim3.Admit(ctx, ratelimit.Subject{Caller: id, Group: "support", Model: benchModel}, amount); err != nil {
				b.Fatal(err)
			}
		}},
		{"secureai-3scopes+commit", func(id string) {
			r, err := lim3.Admit(ctx, ratelimit.Subject{Caller: id, Group: "support", Model: benchModel}, amount)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Commit(ctx, used); err != nil {
				b.Fatal(err)
			}
		}},
		{"secureai-3scopes-allow", func(id string) {
			if _, err := lim3.Allow(ctx, ratelimit.Subject{Caller: id, Group: "support", Model: benchModel}); err != nil {
				b.Fatal(err)
			}
		}},
		{"secureai-3scopes-lease", func(id string) {
			if _, err := lim3L.Admit(ctx, ratelimit.Subject{Caller: id, Group: "support", Model: benchModel}, amount); err != nil {
				b.Fatal(err)
			}
		}},
		{"secureai-3scopes-allow-lease", func(id string) {
			if _, err := lim3L.Allow(ctx, ratelimit.Subject{Caller: id, Group: "support", Model: benchModel}); err != nil {
				b.Fatal(err)
			}
		}},
		{"secureai-1scope", func(id string) {
			if _, err := lim1.Allow(ctx, ratelimit.Subject{Caller: id}); err != nil {
				b.Fatal(err)
			}
		}},
		{"redis_rate-3keys", func(id string) {
			for _, k := range [...]string{"rr:" + id, "rr:g:support", "rr:global"} {
				if _, err := rr.Allow(ctx, prefix+k, redis_rate.PerSecond(1e9)); err != nil {
					b.Fatal(err)
				}
			}
		}},
	}
	for _, mode := range []string{"serial", "parallel"} {
		var theirs float64 // redis_rate-1key's ops/s in this mode
		for _, o := range ops {
			b.Run(o.name+"/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				if mode == "serial" {
					for b.Loop() {
						o.do("alice")
					}
				} else {
					var n atomic.Int64
					b.SetParallelism(16)
					b.RunParallel(func(pb *testing.PB) {
						id := "c" + strconv.FormatInt(n.Add(1), 10)
						for pb.Next() {
							o.do(id)
						}
					})
				}
				rate := float64(b.N) / b.Elapsed().Seconds()
				b.ReportMetric(rate, "ops/s")
				switch {
				case o.name == "redis_rate-1key":
					theirs = rate
				case theirs > 0 && o.name[:8] == "secureai":
					b.ReportMetric(rate/theirs, "x-redis_rate-1key")
				}
			})
		}
	}
	b.Run("paired", func(b *testing.B) {
		var ours, one, three time.Duration
		for b.Loop() {
			t0 := time.Now()
			ops[1].do("alice")
			t1 := time.Now()
			ops[0].do("alice")
			t2 := time.Now()
			ops[len(ops)-1].do("alice")
			ours, one, three = ours+t1.Sub(t0), one+t2.Sub(t1), three+time.Since(t2)
		}
		b.ReportMetric(float64(ours)/float64(one), "x-redis_rate-1key")
		b.ReportMetric(float64(ours)/float64(three), "x-redis_rate-3keys")
	})
}
