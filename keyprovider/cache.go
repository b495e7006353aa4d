package keyprovider

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of [CacheOptions].
const (
	DefaultTTL           = 5 * time.Minute
	DefaultRefreshAhead  = time.Minute
	DefaultJitter        = 0.5
	DefaultGrace         = 5 * time.Minute
	DefaultRetryInterval = 5 * time.Second
	DefaultFetchTimeout  = 30 * time.Second
)

// CacheOptions configures a [Cache]. The zero value of each field selects
// its default; a negative value turns the feature off where that is
// allowed.
type CacheOptions struct {
	// TTL is how long a fetched key is served before it must be fetched
	// again. A key's own expiry ([Secret.Expires], as on an Entra ID token)
	// wins when it is sooner. Zero or negative means [DefaultTTL].
	TTL time.Duration

	// RefreshAhead is the window before a key's expiry in which a Key call
	// that finds it starts a refresh in the background and goes on with
	// the cached key, so that a key in use never expires under its
	// callers. It is capped at half the key's lifetime. Zero means
	// [DefaultRefreshAhead]; negative turns refreshing ahead off, so that
	// callers wait for the fetch once the key has expired (as a timer
	// marks it: a call that races the timer may still get the key).
	RefreshAhead time.Duration

	// Jitter is the fraction, in [0, 1], of RefreshAhead by which each
	// refresh is randomly delayed, so that replicas that fetched together
	// do not refresh together. Zero means [DefaultJitter]; negative means
	// none; above 1 means 1.
	Jitter float64

	// Grace is how long past its expiry a key is still served, marked
	// stale ([Info.Stale]), while the refresh keeps failing (the store is
	// down): calls go on during a short outage. A token is never served
	// past its own expiry. Zero means [DefaultGrace]; negative turns
	// stale serving off.
	Grace time.Duration

	// RetryInterval is the least time between two fetches of a scope after
	// a failed one: during an outage, calls do not each hit the store.
	// Calls in that time get the stale key (within Grace) or fail at once
	// with the last error. [Cache.Invalidate] uses it too: a key fetched
	// less than RetryInterval ago is not fetched again. Zero or negative
	// means [DefaultRetryInterval].
	RetryInterval time.Duration

	// FetchTimeout bounds each fetch, which runs detached from the callers
	// that wait for it. Zero or negative means [DefaultFetchTimeout].
	FetchTimeout time.Duration
}

// resolved returns o with defaults applied and bounds enforced.
func (o CacheOptions) resolved() CacheOptions {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	switch {
	case o.RefreshAhead == 0:
		o.RefreshAhead = DefaultRefreshAhead
	case o.RefreshAhead < 0:
		o.RefreshAhead = 0
	}
	switch {
	case o.Jitter == 0:
		o.Jitter = DefaultJitter
	case o.Jitter < 0:
		o.Jitter = 0
	case o.Jitter > 1:
		o.Jitter = 1
	}
	switch {
	case o.Grace == 0:
		o.Grace = DefaultGrace
	case o.Grace < 0:
		o.Grace = 0
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = DefaultRetryInterval
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	return o
}

// CacheStats counts what a [Cache] did since it was created.
type CacheStats struct {
	Fetches       uint64 // calls to the provider's Key (or KeyInfo)
	VersionChecks uint64 // calls to the provider's Version (see Versioner)
	Hits          uint64 // Key calls answered from the cache at once, stale keys included
	Misses        uint64 // Key calls that waited for a fetch (or failed without one)
	Stale         uint64 // Key calls answered with a stale key
	RefreshErrors uint64 // fetches that failed
	Invalidations uint64 // Invalidate calls
	Scopes        int    // scopes with an entry
}

// Cache is a [Provider] that caches the keys of another provider per
// [Scope], modelled on aws-sdk-go-v2's CredentialsCache. It is how the
// providers that read a remote store ([SecretsManager], [Vault],
// [AzureToken]) are meant to be used.
//
// After the first fetch of a scope, Key answers from memory (a map lookup
// and two atomic loads: tens of nanoseconds, no allocation, no clock
// reading) until the key is due; a timer marks it due at its refresh time.
// Then:
//
//   - Single flight: however many callers find a scope's key missing or due
//     at once, the provider is asked once; the others wait for that fetch.
//     The fetch runs detached from any one caller: a caller whose context
//     ends stops waiting, but the fetch goes on (up to
//     [CacheOptions.FetchTimeout]) for the others and for the next call.
//   - Refresh ahead: within [CacheOptions.RefreshAhead] of the expiry (with
//     jitter), a Key call starts the refresh in the background and returns
//     the cached key at once.
//   - Stale while error: when a refresh fails, the cached key is still
//     served, marked stale, for [CacheOptions.Grace] past its expiry, while
//     the refresh is retried every [CacheOptions.RetryInterval]; then Key
//     fails with an error wrapping [ErrUnavailable] and the cause.
//   - Compare-and-swap invalidation: [Cache.Invalidate] drops a key the
//     upstream API rejected only if it is still the cached one.
//
// [Cache.KeyInfo] also says whether the key is stale and why the last
// refresh failed ([Info]), for audit; [Cache.Stats] counts fetches and hits.
//
// If the provider implements [InfoProvider], the Cache fetches through
// KeyInfo, to keep the key's source and version; if it implements
// [Versioner], a refresh first asks for the version and keeps the cached key
// without reading it again when the version has not changed; if it
// implements [Invalidator], Invalidate calls it before fetching again.
//
// Create a Cache with [NewCache]; the zero value is not usable. A Cache is
// safe for concurrent use. Its background fetches end when [Cache.Close] is
// called, which also closes the provider if it implements [Closer]: the
// Cache owns its provider.
type Cache struct {
	p   Provider
	ip  InfoProvider // p, if it implements it
	ver Versioner    // p, if it implements it
	inv Invalidator  // p, if it implements it
	o   CacheOptions

	entries atomic.Pointer[map[Scope]*cacheEntry] // copy on write

	mu     sync.Mutex // guards writes to entries, closed, wg.Add
	closed atomic.Bool
	life   context.Context // cancelled by Close; parent of no request
	stop   context.CancelFunc
	wg     sync.WaitGroup // fetches in progress

	fetches, versionChecks, misses, stale, refreshErrors, invalidations atomic.Uint64
}

// cacheEntry holds the state of one scope.
type cacheEntry struct {
	scope Scope
	st    atomic.Pointer[cacheState]
	hits  atomic.Uint64

	mu     sync.Mutex
	flight *cacheFlight // fetch in progress, or nil
}

// cacheState is a snapshot of a scope's key. Its fields do not change;
// due goes from false to true once.
type cacheState struct {
	key        Secret // zero when no fetch succeeded yet
	info       Info   // Source, Version, FetchedAt of key; RefreshErr of the last attempt
	refreshAt  time.Time
	expiresAt  time.Time
	staleUntil time.Time // serve key, marked stale, until then if refreshing fails
	retryAt    time.Time // after a failure: no new fetch before

	// due is set by timer at refreshAt, so that the fast path of Key
	// needs no clock reading: while it is false, the key is fresh.
	// States made by a failed fetch are due from the start.
	due   atomic.Bool
	timer *time.Timer
}

// stopTimer stops st's timer, if any.
func (st *cacheState) stopTimer() {
	if st != nil && st.timer != nil {
		st.timer.Stop()
	}
}

// cacheFlight is one fetch of a scope's key, which callers wait for.
type cacheFlight struct {
	done   chan struct{}
	forced bool // after Invalidate: do not trust an unchanged version
}

// NewCache returns a Cache in front of p, configured by o. Out-of-range
// options are clamped; see [CacheOptions]. NewCache does not fetch: the
// first Key call of each scope does.
func NewCache(p Provider, o CacheOptions) *Cache {
	c := &Cache{p: p, o: o.resolved()}
	c.ip, _ = p.(InfoProvider)
	c.ver, _ = p.(Versioner)
	c.inv, _ = p.(Invalidator)
	c.life, c.stop = context.WithCancel(context.Background())
	m := make(map[Scope]*cacheEntry)
	c.entries.Store(&m)
	return c
}

// Key returns the key for scope from the cache, fetching it from the
// provider when there is none or it is due, as described on [Cache]. It
// returns an error wrapping [ErrUnavailable] (and the provider's error)
// when there is no key it may serve, and one wrapping ctx's error when ctx
// ends while it waits for a fetch.
func (c *Cache) Key(ctx context.Context, scope Scope) (Secret, error) {
	if m := c.entries.Load(); m != nil {
		if e := (*m)[scope]; e != nil {
			if st := e.st.Load(); st != nil && !st.due.Load() && !c.closed.Load() {
				e.hits.Add(1)
				return st.key, nil
			}
		}
	}
	k, _, err := c.get(ctx, scope)
	return k, err
}

// KeyInfo is [Cache.Key] that also returns the key's [Info]: where it came
// from, whether it is stale and why the last refresh failed. The secureai
// pipeline uses it to write, say, "served stale key, refresh failed:
// unavailable" to its audit record.
func (c *Cache) KeyInfo(ctx context.Context, scope Scope) (Secret, Info, error) {
	return c.get(ctx, scope)
}

// get is the slow path of Key and the whole of KeyInfo.
func (c *Cache) get(ctx context.Context, scope Scope) (Secret, Info, error) {
	if c == nil || c.p == nil {
		return Secret{}, Info{}, fmt.Errorf("%w: Cache not created by NewCache", ErrClosed)
	}
	if c.closed.Load() {
		return Secret{}, Info{}, fmt.Errorf("%w: cache for scope %s", ErrClosed, scope)
	}
	e := c.entry(scope)
	now := time.Now()
	st := e.st.Load()
	if k, info, ok := c.serve(ctx, e, st, now, true); ok {
		return k, info, nil
	}
	if st != nil && st.info.RefreshErr != nil && now.Before(st.retryAt) {
		return Secret{}, Info{}, c.unavailable(scope, st) // failed just now: do not wait for another try
	}

	c.misses.Add(1)
	f, err := c.flight(ctx, e, false)
	if err != nil {
		return Secret{}, Info{}, err
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return Secret{}, Info{}, fmt.Errorf("%w for scope %s: waiting for the key: %w", ErrUnavailable, scope, ctx.Err())
	}
	st = e.st.Load()
	if k, info, ok := c.serve(ctx, e, st, time.Now(), false); ok {
		return k, info, nil
	}
	return Secret{}, Info{}, c.unavailable(scope, st)
}

// serve returns the key of st if it may be served at now: fresh, due for a
// refresh, or stale within the grace period after a failed refresh. If
// first is true (not after waiting for a fetch), it starts a due refresh
// and counts a hit.
func (c *Cache) serve(ctx context.Context, e *cacheEntry, st *cacheState, now time.Time, first bool) (Secret, Info, bool) {
	if st == nil || st.key.IsZero() {
		return Secret{}, Info{}, false
	}
	switch {
	case now.Before(st.refreshAt):
	case now.Before(st.expiresAt):
		if first {
			c.refreshAsync(ctx, e, st, now)
		}
	case st.info.RefreshErr != nil && now.Before(st.staleUntil):
		if first {
			c.refreshAsync(ctx, e, st, now)
			e.hits.Add(1)
		}
		c.stale.Add(1)
		info := st.info
		info.Stale = true
		return st.key, info, true
	default:
		return Secret{}, Info{}, false
	}
	if first {
		e.hits.Add(1)
	}
	return st.key, st.info, true
}

// unavailable returns the error for a scope that has no key to serve.
func (c *Cache) unavailable(scope Scope, st *cacheState) error {
	var cause error
	if st != nil {
		cause = st.info.RefreshErr
	}
	switch {
	case cause == nil:
		return fmt.Errorf("%w for scope %s", ErrUnavailable, scope)
	case st.key.IsZero():
		return fmt.Errorf("%w for scope %s: %w", ErrUnavailable, scope, cause)
	}
	return fmt.Errorf("%w for scope %s: cached key expired and refresh failed: %w", ErrUnavailable, scope, cause)
}

// entry returns the entry of scope, creating it if needed.
func (c *Cache) entry(scope Scope) *cacheEntry {
	if e := (*c.entries.Load())[scope]; e != nil {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.entries.Load()
	if e := old[scope]; e != nil {
		return e
	}
	m := make(map[Scope]*cacheEntry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	e := &cacheEntry{scope: scope}
	m[scope] = e
	c.entries.Store(&m)
	return e
}

// forget removes the entry of scope if it still is e.
func (c *Cache) forget(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.entries.Load()
	if old[e.scope] != e {
		return
	}
	m := make(map[Scope]*cacheEntry, len(old))
	for k, v := range old {
		if v != e {
			m[k] = v
		}
	}
	c.entries.Store(&m)
}

// refreshAsync starts a background fetch of e unless one is in progress or
// the last one failed less than RetryInterval ago. The fetch keeps ctx's
// values, not its cancellation.
func (c *Cache) refreshAsync(ctx context.Context, e *cacheEntry, st *cacheState, now time.Time) {
	if now.Before(st.retryAt) {
		return
	}
	e.mu.Lock()
	busy := e.flight != nil
	e.mu.Unlock()
	if !busy {
		c.flight(ctx, e, false) // an error means closed: nothing to do
	}
}

// flight returns the fetch in progress for e, or starts one. The fetch runs
// under a context that keeps ctx's values but not its cancellation, bounded
// by FetchTimeout and cancelled by Close.
func (c *Cache) flight(ctx context.Context, e *cacheEntry, forced bool) (*cacheFlight, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flight != nil {
		return e.flight, nil
	}
	return c.startLocked(ctx, e, forced)
}

// startLocked starts a fetch of e; e.mu is held and no fetch is in
// progress.
func (c *Cache) startLocked(ctx context.Context, e *cacheEntry, forced bool) (*cacheFlight, error) {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: cache for scope %s", ErrClosed, e.scope)
	}
	c.wg.Add(1)
	c.mu.Unlock()

	f := &cacheFlight{done: make(chan struct{}), forced: forced}
	e.flight = f
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.FetchTimeout)
	stop := context.AfterFunc(c.life, cancel)
	go func() {
		defer c.wg.Done()
		defer cancel()
		defer stop()
		next := c.fetch(fctx, e, forced)
		c.mu.Lock() // so that Close stops next's timer
		if c.closed.Load() {
			next.stopTimer()
			next.due.Store(true)
		}
		e.st.Swap(next).stopTimer()
		c.mu.Unlock()
		if next.key.IsZero() && errors.Is(next.info.RefreshErr, ErrNoScope) {
			c.forget(e) // a scope nobody configured: do not keep an entry for it
		}
		e.mu.Lock()
		e.flight = nil
		e.mu.Unlock()
		close(f.done)
	}()
	return f, nil
}

// fetch gets e's key from the provider and returns the new state.
func (c *Cache) fetch(ctx context.Context, e *cacheEntry, forced bool) *cacheState {
	prev := e.st.Load()
	if !forced && c.ver != nil && prev != nil && !prev.key.IsZero() && prev.info.Version != "" {
		c.versionChecks.Add(1)
		if v, err := c.ver.Version(ctx, e.scope); err == nil && v == prev.info.Version {
			return c.fresh(prev.key, prev.info, time.Now()) // unchanged: keep the key, renew its lifetime
		}
		// Changed, or the check failed: fetch the key, which reports
		// the error if the store is down.
	}
	c.fetches.Add(1)
	var (
		key  Secret
		info Info
		err  error
	)
	if c.ip != nil {
		key, info, err = c.ip.KeyInfo(ctx, e.scope)
	} else {
		key, err = c.p.Key(ctx, e.scope)
	}
	now := time.Now()
	if err == nil && key.IsZero() {
		err = fmt.Errorf("%w: provider returned an empty key for scope %s", ErrNoKey, e.scope)
	}
	if err == nil {
		if exp := key.Expires(); !exp.IsZero() && !exp.After(now) {
			err = fmt.Errorf("%w: provider returned a token that already expired for scope %s", ErrNoKey, e.scope)
		}
	}
	if err != nil {
		c.refreshErrors.Add(1)
		next := &cacheState{retryAt: now.Add(c.o.RetryInterval)}
		if prev != nil {
			next.key, next.info = prev.key, prev.info
			next.refreshAt, next.expiresAt, next.staleUntil = prev.refreshAt, prev.expiresAt, prev.staleUntil
		}
		next.info.RefreshErr = err
		next.due.Store(true)
		return next
	}
	info.Stale, info.RefreshErr = false, nil
	if info.FetchedAt.IsZero() {
		info.FetchedAt = now
	}
	return c.fresh(key, info, now)
}

// fresh returns the state of key fetched (or confirmed) at now.
func (c *Cache) fresh(key Secret, info Info, now time.Time) *cacheState {
	info.RefreshErr = nil
	exp := now.Add(c.o.TTL)
	hard := key.Expires()
	if !hard.IsZero() && hard.Before(exp) {
		exp = hard
	}
	window := min(c.o.RefreshAhead, exp.Sub(now)/2)
	if window > 0 && c.o.Jitter > 0 {
		window -= time.Duration(rand.Float64() * c.o.Jitter * float64(window))
	}
	stale := exp.Add(c.o.Grace)
	if !hard.IsZero() && hard.Before(stale) {
		stale = hard
	}
	st := &cacheState{
		key:        key,
		info:       info,
		refreshAt:  exp.Add(-window),
		expiresAt:  exp,
		staleUntil: stale,
	}
	if d := st.refreshAt.Sub(now); d > 0 {
		st.timer = time.AfterFunc(d, func() { st.due.Store(true) })
	} else {
		st.due.Store(true)
	}
	return st
}

// Invalidate reports that the upstream API rejected the key rejected for
// scope (HTTP 401). If rejected is still the cached key, Invalidate asks the
// provider's own Invalidate (if it has one, so that, say, a [FileProvider]
// reads its file again), fetches the key again (one
// fetch however many callers invalidate at once) and returns nil if the
// store now holds a different key, so that the caller may retry once with
// it. It returns nil at once if the cached key already differs from rejected
// (another caller refreshed it: compare-and-swap). It returns an error
// wrapping [ErrCannotRefresh] if the store still holds the rejected key, if
// the key was fetched less than [CacheOptions.RetryInterval] ago, or if the
// fetch failed; the caller must then not retry.
func (c *Cache) Invalidate(ctx context.Context, scope Scope, rejected Secret) error {
	if c == nil || c.p == nil || c.closed.Load() {
		return fmt.Errorf("%w: %w", ErrCannotRefresh, ErrClosed)
	}
	c.invalidations.Add(1)
	e := (*c.entries.Load())[scope]
	if e == nil {
		return nil // nothing cached: the next Key call fetches
	}
	st := e.st.Load()
	if st == nil || st.key.IsZero() || !st.key.Equal(rejected) {
		return nil
	}
	if time.Since(st.info.FetchedAt) < c.o.RetryInterval {
		return fmt.Errorf("%w: the rejected key for scope %s was fetched less than the retry interval ago",
			ErrCannotRefresh, scope)
	}
	if c.inv != nil {
		// Let a provider with a cache of its own (a file's last read)
		// drop it. Its verdict does not matter: the fetch below tells.
		_ = c.inv.Invalidate(ctx, scope, rejected)
	}
	for range 2 {
		// Check and start (or join) under e.mu: a caller that saw the
		// rejected key just before another one's refresh ended must
		// not start a second one.
		e.mu.Lock()
		if st := e.st.Load(); st == nil || st.key.IsZero() || !st.key.Equal(rejected) {
			e.mu.Unlock()
			return nil
		}
		f, err := e.flight, error(nil)
		if f == nil {
			f, err = c.startLocked(ctx, e, true)
		}
		e.mu.Unlock()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCannotRefresh, err)
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for a new key for scope %s: %w", ErrCannotRefresh, scope, ctx.Err())
		}
		st = e.st.Load()
		if st != nil && !st.key.IsZero() && !st.key.Equal(rejected) {
			return nil
		}
		if f.forced {
			break
		}
		// Joined a refresh that may have trusted an unchanged version:
		// fetch once more, for real.
	}
	if st != nil && st.info.RefreshErr != nil {
		return fmt.Errorf("%w: refreshing the key for scope %s failed: %w", ErrCannotRefresh, scope, st.info.RefreshErr)
	}
	return fmt.Errorf("%w: the store still holds the rejected key for scope %s", ErrCannotRefresh, scope)
}

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	s := CacheStats{
		Fetches:       c.fetches.Load(),
		VersionChecks: c.versionChecks.Load(),
		Misses:        c.misses.Load(),
		Stale:         c.stale.Load(),
		RefreshErrors: c.refreshErrors.Load(),
		Invalidations: c.invalidations.Load(),
	}
	m := *c.entries.Load()
	s.Scopes = len(m)
	for _, e := range m {
		s.Hits += e.hits.Load()
	}
	return s
}

// Close stops the cache: fetches in progress are cancelled, and Close waits
// for them to end, or for ctx to be done, in which case it returns ctx's
// error. It then closes the provider if it implements [Closer]. After
// Close, Key fails with an error wrapping [ErrClosed]. Close may be called
// more than once.
func (c *Cache) Close(ctx context.Context) error {
	if c == nil || c.p == nil {
		return nil
	}
	c.mu.Lock()
	first := !c.closed.Swap(true)
	c.stop()
	for _, e := range *c.entries.Load() {
		e.st.Load().stopTimer()
	}
	c.mu.Unlock()

	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("keyprovider: closing cache: %w", ctx.Err())
	}
	if cl, ok := c.p.(Closer); ok && first {
		return cl.Close(ctx)
	}
	return nil
}

// String returns "keyprovider.Cache(<provider>)", where the provider is
// shown by its String method if it has one, else by its type.
func (c *Cache) String() string {
	if c == nil || c.p == nil {
		return "keyprovider.Cache()"
	}
	return "keyprovider.Cache(" + describe(c.p) + ")"
}

// GoString returns the same as [Cache.String], so that %#v does not print
// the cached keys' fields.
func (c *Cache) GoString() string { return c.String() }
