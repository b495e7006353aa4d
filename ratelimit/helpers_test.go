package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// t0 is the tests' fixed start instant: a Monday, mid-morning UTC.
var t0 = time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC)

// clock is a fake clock. When it drives a miniredis, moving it moves the
// server's TIME and its key expiry too.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	mr   *miniredis.Miniredis
	live bool // the real clock, for a real Redis: it cannot be moved
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	if c.live {
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	if c.live {
		panic("ratelimit test: moving the clock of a real Redis")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	if c.mr != nil {
		c.mr.SetTime(c.t)
		c.mr.FastForward(d)
	}
}

func (c *clock) Set(t time.Time) { c.Add(t.Sub(c.Now())) }

// redisURL is REDIS_URL: tests run against that server when set, and
// against an embedded miniredis otherwise.
func redisURL() string { return os.Getenv("REDIS_URL") }

// newRedisClient connects to REDIS_URL, or starts a miniredis (returned)
// when unset or when fake time is needed. Every key the test writes lives
// under the returned random prefix and is deleted at cleanup.
func newRedisClient(t testing.TB, fakeTime bool) (*redis.Client, *miniredis.Miniredis, string) {
	t.Helper()
	prefix := fmt.Sprintf("secureai:test:%x:", rand.Uint64())
	var mr *miniredis.Miniredis
	var opt *redis.Options
	if u := redisURL(); u != "" && !fakeTime {
		var err error
		if opt, err = redis.ParseURL(u); err != nil {
			t.Fatalf("REDIS_URL: %v", err)
		}
	} else {
		mr = miniredis.RunT(t)
		opt = &redis.Options{Addr: mr.Addr()}
	}
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	t.Cleanup(func() {
		if mr == nil {
			deletePrefix(t, rdb, prefix)
		}
		rdb.Close()
	})
	return rdb, mr, prefix
}

// newClientTo opens one more client to the same server (a replica).
func newClientTo(t testing.TB, rdb *redis.Client) *redis.Client {
	o := rdb.Options()
	c := redis.NewClient(&redis.Options{Addr: o.Addr, DB: o.DB, Username: o.Username, Password: o.Password,
		TLSConfig: o.TLSConfig, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

func deletePrefix(t testing.TB, rdb *redis.Client, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("cleanup scan: %v", err)
		return
	}
	if len(keys) > 0 {
		if err := rdb.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("cleanup del: %v", err)
		}
	}
}

// env is one store to run a semantic test on, with the clock that drives it.
type env struct {
	name  string
	clock *clock
	store Store
	mr    *miniredis.Miniredis
	rdb   *redis.Client
}

// envs returns a memory store and a Redis store, both driven by one fake
// clock from t0. Redis is a miniredis, whose time the clock sets.
func envs(t *testing.T) []env {
	mc := newClock(t0)
	rc := newClock(t0)
	rdb, mr, prefix := newRedisClient(t, true)
	rc.mr = mr
	mr.SetTime(t0)
	rs, err := NewRedisStore(rdb, RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return []env{
		{name: "memory", clock: mc, store: NewMemoryStore(MemoryOptions{Now: mc.Now})},
		{name: "redis", clock: rc, store: rs, mr: mr, rdb: rdb},
	}
}

// eachStore runs f on every env as a subtest.
func eachStore(t *testing.T, f func(t *testing.T, e env)) {
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) { f(t, e) })
	}
}

// eachStoreLive is eachStore plus, when REDIS_URL is set, the real server,
// for tests that do not move the clock.
func eachStoreLive(t *testing.T, f func(t *testing.T, e env)) {
	eachStore(t, f)
	if redisURL() == "" {
		return
	}
	rdb, _, prefix := newRedisClient(t, false)
	rs, err := NewRedisStore(rdb, RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("redis-server", func(t *testing.T) { f(t, env{name: "redis-server", clock: &clock{live: true}, store: rs, rdb: rdb}) })
}

func mustNew(t testing.TB, opts Options) *Limiter {
	t.Helper()
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func usageOf(t testing.TB, l *Limiter, sc Scope, rule string) BudgetUsage {
	t.Helper()
	u, err := l.Usage(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range u.Budgets {
		if b.Rule == rule {
			return b
		}
	}
	t.Fatalf("usage of %v: no budget %s in %+v", sc, rule, u)
	return BudgetUsage{}
}
