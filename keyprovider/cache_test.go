package keyprovider_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/secureai-go/secureai/keyprovider"
)

// source is a fake store behind a Cache: its key can change, it can fail,
// and it can block its callers until released.
type source struct {
	mu      sync.Mutex
	key     keyprovider.Secret
	version string
	err     error
	gate    chan struct{} // if not nil, KeyInfo waits for it to close, or for ctx
	fetches int
}

func newSource(key string) *source {
	return &source{key: keyprovider.NewSecret(key), version: "v1"}
}

func (s *source) set(key, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key, s.version = keyprovider.NewSecret(key), version
}

func (s *source) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *source) block() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
	return s.gate
}

func (s *source) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

func (s *source) Key(ctx context.Context, scope keyprovider.Scope) (keyprovider.Secret, error) {
	k, _, err := s.KeyInfo(ctx, scope)
	return k, err
}

func (s *source) KeyInfo(ctx context.Context, scope keyprovider.Scope) (keyprovider.Secret, keyprovider.Info, error) {
	s.mu.Lock()
	s.fetches++
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return keyprovider.Secret{}, keyprovider.Info{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return keyprovider.Secret{}, keyprovider.Info{}, s.err
	}
	return s.key, keyprovider.Info{Source: "test:" + scope.String(), Version: s.version}, nil
}

// versioned adds Versioner to a source.
type versioned struct {
	*source
	checks int
}

func (v *versioned) Version(ctx context.Context, scope keyprovider.Scope) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.checks++
	if v.err != nil {
		return "", v.err
	}
	return v.version, nil
}

var prod = keyprovider.Scope{Environment: "prod", Group: "hr"}

func mustKey(t *testing.T, p keyprovider.Provider, want string) {
	t.Helper()
	k, err := p.Key(t.Context(), prod)
	if err != nil || k.Reveal() != want {
		t.Fatalf("Key = %v (%d bytes), %v; want %q", k, k.Len(), err, want)
	}
}

func TestCacheSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource(canary)
		release := src.block()
		c := keyprovider.NewCache(src, keyprovider.CacheOptions{})
		defer c.Close(t.Context())
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for range 1000 {
			wg.Go(func() {
				k, err := c.Key(t.Context(), prod)
				if err == nil && k.Reveal() != canary {
					err = errors.New("wrong key")
				}
				errs <- err
			})
		}
		synctest.Wait() // every caller waits for the one fetch
		if n := src.count(); n != 1 {
			t.Fatalf("%d fetches while 1000 callers wait, want 1", n)
		}
		close(release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		st := c.Stats()
		if src.count() != 1 || st.Fetches != 1 || st.Misses != 1000 || st.Scopes != 1 {
			t.Errorf("fetches %d, stats %+v", src.count(), st)
		}
	})
}

func TestCacheTTLAndRefreshAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource("sk-one")
		c := keyprovider.NewCache(src, keyprovider.CacheOptions{TTL: 5 * time.Minute, RefreshAhead: time.Minute, Jitter: -1})
		defer c.Close(t.Context())

		mustKey(t, c, "sk-one")
		src.set("sk-two", "v2")
		time.Sleep(4*time.Minute - time.Second)
		mustKey(t, c, "sk-one") // fresh: no fetch
		if n := src.count(); n != 1 {
			t.Fatalf("%d fetches before the refresh window", n)
		}
		time.Sleep(2 * time.Second) // in the window: answered at once, refreshed behind
		mustKey(t, c, "sk-one")
		synctest.Wait()
		if n := src.count(); n != 2 {
			t.Fatalf("%d fetches after the refresh window opened, want 2", n)
		}
		mustKey(t, c, "sk-two")
		_, info, err := c.KeyInfo(t.Context(), prod)
		if err != nil || info.Version != "v2" || info.Stale || info.RefreshErr != nil || info.Source != "test:prod/hr" {
			t.Errorf("KeyInfo = %+v, %v", info, err)
		}
		if st := c.Stats(); st.Hits < 3 || st.Fetches != 2 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestCacheNoRefreshAheadWaitsAtExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource("sk-one")
		c := keyprovider.NewCache(src, keyprovider.CacheOptions{TTL: time.Minute, RefreshAhead: -1})
		defer c.Close(t.Context())
		mustKey(t, c, "sk-one")
		src.set("sk-two", "v2")
		time.Sleep(time.Minute - time.Nanosecond)
		mustKey(t, c, "sk-one")
		time.Sleep(time.Nanosecond)
		synctest.Wait()         // the expiry timer has fired
		mustKey(t, c, "sk-two") // expired: this call waited for the fetch
		if n := src.count(); n != 2 {
			t.Errorf("%d fetches, want 2", n)
		}
	})
}

func TestCacheJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource(canary)
		c := keyprovider.NewCache(src, keyprovider.CacheOptions{TTL: 5 * time.Minute, RefreshAhead: time.Minute, Jitter: 1})
		defer c.Close(t.Context())
		const n = 200
		scope := func(i int) keyprovider.Scope { return keyprovider.Scope{Environment: "prod", Group: fmt.Sprint(i)} }
		for i := range n {
			if _, err := c.Key(t.Context(), scope(i)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(4*time.Minute - time.Second) // before every refresh window
		for i := range n {
			c.Key(t.Context(), scope(i))
		}
		synctest.Wait()
		if got := src.count(); got != n {
			t.Fatalf("%d fetches before any window opened, want %d", got, n)
		}
		time.Sleep(31 * time.Second) // half of the windows are open
		for i := range n {
			c.Key(t.Context(), scope(i))
		}
		synctest.Wait()
		refreshed := src.count() - n
		if refreshed == 0 || refreshed == n {
			t.Errorf("%d of %d scopes refreshed half-way through the jitter range; want some, not all", refreshed, n)
		}
	})
}

func TestCacheStaleWhileError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource("sk-old")
		c := keyprovider.NewCache(src, keyprovider.CacheOptions{
			TTL: 5 * time.Minute, RefreshAhead: time.Minute, Jitter: -1, Grace: 2 * time.Minute, RetryInterval: 10 * time.Second,
		})
		defer c.Close(t.Context())
		mustKey(t, c, "sk-old")

		outage := &keyprovider.FetchError{Provider: "test", Reason: keyprovider.ReasonUnavailable, Code: "503"}
		src.fail(outage)
		time.Sleep(4*time.Minute + 30*time.Second) // refresh window: the refresh fails
		mustKey(t, c, "sk-old")
		synctest.Wait()
		_, info, err := c.KeyInfo(t.Context(), prod)
		if err != nil || info.Stale || !errors.Is(info.RefreshErr, outage) {
			t.Fatalf("before expiry: KeyInfo = %+v, %v; want fresh with RefreshErr", info, err)
		}

		time.Sleep(time.Minute) // expired, within grace: stale
		k, info, err := c.KeyInfo(t.Context(), prod)
		if err != nil || k.Reveal() != "sk-old" || !info.Stale || keyprovider.ErrorClass(info.RefreshErr) != "unavailable" {
			t.Fatalf("within grace: KeyInfo = %v, %+v, %v; want the stale key", k, info, err)
		}
		synctest.Wait()
		fetches := src.count()
		for range 100 {
			c.Key(t.Context(), prod) // retried at most every RetryInterval, not per call
		}
		synctest.Wait()
		if got := src.count(); got > fetches+1 {
			t.Errorf("%d fetches for 100 calls during an outage", got-fetches)
		}

		time.Sleep(2 * time.Minute) // grace over
		_, err = c.Key(t.Context(), prod)
		if !errors.Is(err, keyprovider.ErrUnavailable) || !errors.Is(err, outage) {
			t.Fatalf("after grace: Key error = %v, want ErrUnavailable wrapping the outage", err)
		}
		fetches = src.count()
		_, err = c.Key(t.Context(), prod) // within RetryInterval of that failure: no new fetch
		if !errors.Is(err, keyprovider.ErrUnavailable) || src.count() != fetches {
			t.Errorf("fail-fast: %v, %d new fetches", err, src.count()-fetches)
		}

		src.fail(nil) // the store is back
		src.set("sk-new", "v2")
		time.Sleep(10 * time.Second)
		mustKey(t, c, "sk-new")
		if st := c.Stats(); st.RefreshErrors == 0 || st.Stale == 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestCacheTokenExpiryWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		fetches := 0
		var failing bool
		p := keyprovider.ProviderFunc(func(ctx context.Context, s keyprovider.Scope) (keyprovider.Secret, error) {
			mu.Lock()
			defer mu.Unlock()
			fetches++
			if failing {
				return keyprovider.Secret{}, errors.New("identity endpoint down")
			}
			return keyprovider.NewToken(fmt.Sprintf("token-%d", fetches), time.Now().Add(2*time.Minute)), nil
		})
		c := keyprovider.NewCache(p, keyprovider.CacheOptions{TTL: time.Hour, RefreshAhead: 10 * time.Minute, Jitter: -1, Grace: time.Hour})
		defer c.Close(t.Context())
		k, err := c.Key(t.Context(), prod)
		if err != nil || !k.IsToken() || k.Reveal() != "token-1" {
			t.Fatalf("Key = %v, %v", k, err)
		}
		// The window is capped at half the token's life: refresh after 1m.
		time.Sleep(time.Minute - time.Second)
		c.Key(t.Context(), prod)
		synctest.Wait()
		if fetches != 1 {
			t.Fatalf("refreshed %d times before half the token's life", fetches-1)
		}
		time.Sleep(2 * time.Second)
		c.Key(t.Context(), prod)
		synctest.Wait()
		if k, _ := c.Key(t.Context(), prod); k.Reveal() != "token-2" {
			t.Fatalf("token not refreshed ahead of expiry")
		}
		mu.Lock()
		failing = true
		mu.Unlock()
		time.Sleep(2*time.Minute + time.Second) // token-2 expired; grace never outlives a token
		if k, err := c.Key(t.Context(), prod); !errors.Is(err, keyprovider.ErrUnavailable) {
			t.Fatalf("Key after the token expired = %v, %v; want ErrUnavailable", k, err)
		}
	})
}

func TestCacheInvalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource("sk-one")
		c := keyprovider.NewCache(src, keyprovider.CacheOptions{RetryInterval: time.Second})
		defer c.Close(t.Context())
		one := keyprovider.NewSecret("sk-one")

		if err := c.Invalidate(t.Context(), prod, one); err != nil {
			t.Fatalf("Invalidate with nothing cached = %v", err)
		}
		mustKey(t, c, "sk-one")
		if err := c.Invalidate(t.Context(), prod, one); !errors.Is(err, keyprovider.ErrCannotRefresh) {
			t.Fatalf("Invalidate of a key fetched just now = %v, want ErrCannotRefresh", err)
		}
		time.Sleep(2 * time.Second)
		if err := c.Invalidate(t.Context(), prod, one); !errors.Is(err, keyprovider.ErrCannotRefresh) {
			t.Fatalf("Invalidate while the store holds the same key = %v, want ErrCannotRefresh", err)
		}

		src.set("sk-two", "v2")
		time.Sleep(2 * time.Second)
		before := src.count()
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for range 100 { // 100 requests got the same 401
			wg.Go(func() { errs <- c.Invalidate(t.Context(), prod, one) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Invalidate = %v", err)
			}
		}
		if n := src.count() - before; n != 1 {
			t.Errorf("100 concurrent Invalidate calls made %d fetches, want 1", n)
		}
		mustKey(t, c, "sk-two")
		// Compare-and-swap: the cached key is no longer the rejected one.
		if err := c.Invalidate(t.Context(), prod, one); err != nil || src.count()-before != 1 {
			t.Errorf("stale Invalidate = %v, fetched again: %v", err, src.count()-before != 1)
		}

		src.fail(errors.New("store down"))
		time.Sleep(2 * time.Second)
		if err := c.Invalidate(t.Context(), prod, keyprovider.NewSecret("sk-two")); !errors.Is(err, keyprovider.ErrCannotRefresh) {
			t.Errorf("Invalidate with the store down = %v", err)
		}
		if st := c.Stats(); st.Invalidations != 105 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestCacheInvalidateSkipsVersionCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := &versioned{source: newSource("sk-one")}
		c := keyprovider.NewCache(v, keyprovider.CacheOptions{TTL: time.Minute, RefreshAhead: 30 * time.Second, Jitter: -1, RetryInterval: time.Second})
		defer c.Close(t.Context())
		mustKey(t, c, "sk-one")
		time.Sleep(40 * time.Second)
		mustKey(t, c, "sk-one") // refresh: same version, key not read again
		synctest.Wait()
		if v.count() != 1 || v.checks != 1 {
			t.Fatalf("fetches %d, version checks %d; want 1, 1", v.count(), v.checks)
		}
		// The key changed in place (same version): a 401 forces a real read.
		v.mu.Lock()
		v.key = keyprovider.NewSecret("sk-two")
		v.mu.Unlock()
		if err := c.Invalidate(t.Context(), prod, keyprovider.NewSecret("sk-one")); err != nil {
			t.Fatal(err)
		}
		mustKey(t, c, "sk-two")
		v.set("sk-three", "v3")
		time.Sleep(35 * time.Second) // in the refresh window, not expired
		mustKey(t, c, "sk-two")
		synctest.Wait()
		mustKey(t, c, "sk-three") // version changed: read
		if st := c.Stats(); st.VersionChecks != 2 || st.Fetches != 3 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestCacheDetachedFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource(canary)
		release := src.block()
		c := keyprovider.NewCache(src, keyprovider.CacheOptions{FetchTimeout: time.Minute})
		defer c.Close(t.Context())

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() {
			_, err := c.Key(ctx, prod)
			done <- err
		}()
		synctest.Wait()
		cancel() // the first waiter gives up; the fetch goes on
		if err := <-done; !errors.Is(err, context.Canceled) || !errors.Is(err, keyprovider.ErrUnavailable) {
			t.Fatalf("cancelled waiter: %v", err)
		}
		go func() {
			_, err := c.Key(t.Context(), prod)
			done <- err
		}()
		synctest.Wait()
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("second waiter: %v", err)
		}
		if n := src.count(); n != 1 {
			t.Errorf("%d fetches, want 1", n)
		}

		// A fetch that hangs ends at FetchTimeout.
		hang := newSource(canary)
		hang.block()
		c2 := keyprovider.NewCache(hang, keyprovider.CacheOptions{FetchTimeout: 10 * time.Second})
		defer c2.Close(t.Context())
		start := time.Now()
		_, err := c2.Key(t.Context(), prod)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, keyprovider.ErrUnavailable) || time.Since(start) != 10*time.Second {
			t.Errorf("hanging fetch: %v after %v", err, time.Since(start))
		}
	})
}

func TestCacheClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource(canary)
		var closed atomic.Int32
		c := keyprovider.NewCache(&closerProvider{src, &closed}, keyprovider.CacheOptions{TTL: time.Minute, RefreshAhead: 30 * time.Second})
		mustKey(t, c, canary)
		src.block() // the refresh will hang
		time.Sleep(45 * time.Second)
		mustKey(t, c, canary) // starts the background refresh
		synctest.Wait()
		if err := c.Close(t.Context()); err != nil { // cancels it and waits
			t.Fatal(err)
		}
		if err := c.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := closed.Load(); n != 1 {
			t.Errorf("provider closed %d times, want 1", n)
		}
		if _, err := c.Key(t.Context(), prod); !errors.Is(err, keyprovider.ErrClosed) {
			t.Errorf("Key after Close = %v", err)
		}
		if err := c.Invalidate(t.Context(), prod, keyprovider.NewSecret(canary)); !errors.Is(err, keyprovider.ErrCannotRefresh) {
			t.Errorf("Invalidate after Close = %v", err)
		}
		// synctest.Test fails if a goroutine of the bubble is left.
	})
}

func TestCacheCloseTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		stubborn := keyprovider.ProviderFunc(func(ctx context.Context, s keyprovider.Scope) (keyprovider.Secret, error) {
			<-release // ignores ctx
			return keyprovider.NewSecret(canary), nil
		})
		c := keyprovider.NewCache(stubborn, keyprovider.CacheOptions{})
		go c.Key(t.Context(), prod)
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := c.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close with a stuck fetch = %v", err)
		}
		close(release)
		synctest.Wait()
	})
}

func TestCacheNoScopeKeepsNoEntry(t *testing.T) {
	r, err := keyprovider.NewRouter(map[keyprovider.Scope]keyprovider.Provider{prod: keyprovider.Static(canary)})
	if err != nil {
		t.Fatal(err)
	}
	c := keyprovider.NewCache(r, keyprovider.CacheOptions{})
	defer c.Close(t.Context())
	for i := range 50 {
		s := keyprovider.Scope{Environment: "prod", Group: fmt.Sprint("unknown-", i)}
		if _, err := c.Key(t.Context(), s); !errors.Is(err, keyprovider.ErrNoScope) || !errors.Is(err, keyprovider.ErrUnavailable) {
			t.Fatalf("Key(%v) = %v", s, err)
		}
	}
	mustKey(t, c, canary)
	if st := c.Stats(); st.Scopes != 1 {
		t.Errorf("%d scopes cached after 50 unknown ones, want 1", st.Scopes)
	}
}

func TestCacheEmptyKeyIsAnError(t *testing.T) {
	p := keyprovider.ProviderFunc(func(context.Context, keyprovider.Scope) (keyprovider.Secret, error) {
		return keyprovider.Secret{}, nil
	})
	c := keyprovider.NewCache(p, keyprovider.CacheOptions{})
	defer c.Close(t.Context())
	if _, err := c.Key(t.Context(), prod); !errors.Is(err, keyprovider.ErrNoKey) {
		t.Errorf("Key = %v, want ErrNoKey", err)
	}
	if got := c.String(); got != "keyprovider.Cache(keyprovider.ProviderFunc)" {
		t.Errorf("String() = %q", got)
	}
	var zero keyprovider.Cache
	if _, err := zero.Key(t.Context(), prod); err == nil {
		t.Error("zero Cache returned a key")
	}
}

// BenchmarkCacheKey measures a cached Key lookup: the cost the secureai
// transport pays on every request.
func BenchmarkCacheKey(b *testing.B) {
	c := keyprovider.NewCache(keyprovider.Static(canary), keyprovider.CacheOptions{TTL: time.Hour})
	defer c.Close(context.Background())
	// Other scopes in the cache, as in a service with many groups.
	for i := range 64 {
		c.Key(b.Context(), keyprovider.Scope{Environment: "prod", Group: fmt.Sprint("group-", i), Tier: "pro"})
	}
	scope := keyprovider.Scope{Environment: "prod", Group: "group-7", Tier: "pro"}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Key(ctx, scope); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheKeyParallel is BenchmarkCacheKey from every P at once.
func BenchmarkCacheKeyParallel(b *testing.B) {
	c := keyprovider.NewCache(keyprovider.Static(canary), keyprovider.CacheOptions{TTL: time.Hour})
	defer c.Close(context.Background())
	scope := keyprovider.Scope{Environment: "prod", Group: "hr"}
	ctx := b.Context()
	c.Key(ctx, scope)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Key(ctx, scope)
		}
	})
}
