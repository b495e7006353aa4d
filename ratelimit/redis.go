package ratelimit

import (
	"context"
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed script.lua
var script string

// rediser is the part of a go-redis client the store uses: *redis.Client,
// *redis.ClusterClient and *redis.Ring all have it.
type rediser interface {
	Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd
	EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd
}

// RedisOptions configure a [RedisStore]. The zero value is ready to use.
type RedisOptions struct {
	// Prefix starts every key, so that several limiters (or applications)
	// share one Redis. It must not contain "{" or "}". Default:
	// "secureai:rl:".
	Prefix string

	// Tag returns the hash tag of a call's keys. Every key one check
	// touches must live on one Redis Cluster shard, so they share a tag.
	// Default: nil, one tag for every key ("rl").
	//
	// Background: with the default, every counter lives on one shard: the
	// global and tier limits are exact, and the store's throughput is one
	// primary's (on the order of 100k checks/s). A Tag that spreads calls
	// (say by group: func(s Subject) string { return s.Group }) spreads the
	// load over the shards, but then each tag has its own copy of the
	// global and tier counters: those limits hold per tag, not in total
	// (divide them by the number of tags, or use them only with the
	// default). Caller and group limits stay exact as long as a caller's
	// calls (a group's calls) always get the same tag.
	Tag func(Subject) string

	// LeaseRequests, when above 1, turns on quota leasing of request
	// rates: a check that finds no leased permit of a rate rule in the
	// process takes up to LeaseRequests permits of that rule at once (at
	// least one, never more than the rule's Burst), and the checks that
	// follow spend them without a round trip, until LeaseTTL. A check that
	// needs only leased permits (Allow on scopes with no Concurrent rule)
	// does not reach Redis at all. Concurrency slots and token and spend
	// budgets are never leased: they stay exact. Default: 0, no leasing.
	//
	// Background: a leased permit is taken out of the rule's bucket in
	// Redis before it is spent, so no permit is ever spent twice; what
	// leasing loosens is when. Every leased permit is spent within
	// LeaseTTL of its lease or dropped, so over any interval of length T a
	// rule admits at most Burst + Count×(T+LeaseTTL)/Per requests across
	// all replicas (without leasing: Burst + Count×T/Per): the overspend is
	// at most LeaseTTL's worth of the rate. The other price is fairness: a
	// replica may hold permits that a call on another replica waits for,
	// so give leased rules a Burst well above LeaseRequests × replicas (or
	// lease only with wide rules: tier and global rates). [RedisStore.Close]
	// returns the permits still leased.
	LeaseRequests int

	// LeaseTTL is how long leased permits may be spent; what is left then
	// is dropped (it already left Redis's bucket, so the rule admits less,
	// never more). It bounds the overspend described at LeaseRequests.
	// Default: 1 second.
	LeaseTTL time.Duration

	// Now is the clock of lease expiry, read only in the process; the
	// limits themselves always run on Redis's clock. Default: time.Now.
	Now func() time.Time
}

// RedisStore keeps counters in Redis, shared by every replica that uses the
// same Redis and Prefix. Each check is one script (EVALSHA, EVAL on
// NOSCRIPT) that checks and updates every scope of the call at once. A
// scope is one hash: its rate buckets (GCRA), its budget windows, and what
// unsettled reservations and concurrency slots hold, in expiry buckets that
// stop counting by themselves after the TTL, so no record per reservation
// is kept and no reaper runs. All time comes from the server (TIME), so
// replica clocks do not matter.
//
// With [RedisOptions.LeaseRequests], request rates are leased: see there
// for the bound on overspend, and call [RedisStore.Close] at shutdown to
// return unspent permits.
//
// A RedisStore is safe for concurrent use, starts no goroutine and owns no
// connection: close the go-redis client yourself. A malformed reply from
// the server is an error, never a panic. The zero value is not usable: use
// [NewRedisStore].
type RedisStore struct {
	rdb    rediser
	sha    string
	prefix string
	tag    func(Subject) string
	leases *leases // nil: no leasing
}

// NewRedisStore returns a store over rdb: a *redis.Client,
// *redis.ClusterClient, *redis.Ring, or anything with their Eval and
// EvalSha methods. The client must honour context deadlines
// (ContextTimeoutEnabled: true in its options), since the limiter's Timeout
// reaches Redis only through the context: NewRedisStore refuses a go-redis
// client built without it.
func NewRedisStore(rdb rediser, opts RedisOptions) (*RedisStore, error) {
	if rdb == nil {
		return nil, errors.New("ratelimit: nil redis client")
	}
	var ctxTimeouts = true
	switch c := rdb.(type) {
	case *redis.Client:
		ctxTimeouts = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		ctxTimeouts = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		ctxTimeouts = c.Options().ContextTimeoutEnabled
	}
	if !ctxTimeouts {
		return nil, errors.New("ratelimit: the redis client must be built with ContextTimeoutEnabled: true, or the limiter's timeout cannot bound a check")
	}
	if opts.Prefix == "" {
		opts.Prefix = "secureai:rl:"
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("ratelimit: redis key prefix %q must not contain { or }", opts.Prefix)
	}
	var ls *leases
	switch {
	case opts.LeaseRequests < 0:
		return nil, fmt.Errorf("ratelimit: LeaseRequests %d < 0", opts.LeaseRequests)
	case opts.LeaseTTL < 0 || (opts.LeaseTTL > 0 && opts.LeaseTTL < time.Millisecond):
		return nil, fmt.Errorf("ratelimit: LeaseTTL %v < 1ms", opts.LeaseTTL)
	case opts.LeaseRequests > 1:
		ls = newLeases(opts.LeaseRequests, opts.LeaseTTL, opts.Now)
	}
	sum := sha1.Sum([]byte(script))
	return &RedisStore{rdb: rdb, sha: hex.EncodeToString(sum[:]), prefix: opts.Prefix, tag: opts.Tag, leases: ls}, nil
}

func (s *RedisStore) remote() bool { return true }

// base returns the key stem of a scope: prefix{tag}:kind:name.
func (s *RedisStore) base(tag string, sc Scope) string {
	var b strings.Builder
	b.Grow(len(s.prefix) + len(tag) + len(sc.Name) + 8)
	b.WriteString(s.prefix)
	b.WriteByte('{')
	b.WriteString(tag)
	b.WriteString("}:")
	b.WriteByte("ugta"[kindIndex(sc.Kind)])
	b.WriteByte(':')
	escapeInto(&b, sc.Name)
	return b.String()
}

func kindIndex(k ScopeKind) int {
	switch k {
	case KindCaller:
		return 0
	case KindGroup:
		return 1
	case KindTier:
		return 2
	}
	return 3
}

func (s *RedisStore) tagOf(sub Subject) string {
	if s.tag != nil {
		if t := s.tag(sub); t != "" {
			var b strings.Builder
			escapeInto(&b, t)
			return b.String()
		}
	}
	return "rl"
}

// escapeInto writes name with every byte outside [A-Za-z0-9._@-] as %XX, so
// that no name can close a hash tag, split a key or forge another's key.
func escapeInto(b *strings.Builder, name string) {
	const hexd = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
}

// keysOf returns the hash key of each scope of q.
func (s *RedisStore) keysOf(q *query) []string {
	tag := s.tagOf(q.subject)
	keys := make([]string, len(q.scopes))
	for i := range q.scopes {
		keys[i] = s.base(tag, q.scopes[i].scope)
	}
	return keys
}

// periodFields are the hash fields of a budget window: window, tokens,
// micro-dollars, and the threshold marks of each.
var periodFields = [numPeriods][5]string{
	{"mw", "mt", "mc", "mmt", "mmc"},
	{"dw", "dt", "dc", "dmt", "dmc"},
	{"Mw", "Mt", "Mc", "Mmt", "Mmc"},
}

func (s *RedisStore) admit(ctx context.Context, q *query) (verdict, error) {
	keys := s.keysOf(q)
	var lt *leaseTake
	if s.leases != nil && q.rates {
		lt = s.leases.take(q, keys)
		if lt != nil && lt.all && !q.hasSlots && !q.hasBudgetsIn {
			return verdict{ok: true}, nil // every permit was leased: no round trip
		}
	}
	v, err := s.admitRemote(ctx, q, keys, lt)
	if lt != nil && (err != nil || !v.ok) {
		s.leases.giveBack(lt)
	}
	return v, err
}

// admitRemote runs the admit script for q: the rates not served by lt
// (all, when lt is nil), the slots and the budgets.
func (s *RedisStore) admitRemote(ctx context.Context, q *query, keys []string, lt *leaseTake) (verdict, error) {
	n, nrates := 6, 0
	for i := range q.scopes {
		p := q.scopes[i].plan
		n += 3 + 4*len(p.rates) + 3*len(p.periods)
	}
	args := make([]any, 0, n)
	args = append(args, "a", max(q.ttl.Milliseconds(), 1), bucketGrain(q.ttl), len(q.scopes), q.amount.tokens, q.amount.micros)
	for i := range q.scopes {
		p := q.scopes[i].plan
		nr, conc, nb := 0, 0, 0
		if q.rates {
			nr = len(p.rates) - lt.served(i)
		}
		if q.slots {
			conc = p.conc
		}
		if q.budgets {
			nb = len(p.periods)
		}
		nrates += nr
		args = append(args, nr, conc, nb)
		if nr > 0 {
			for j, rp := range p.rates {
				if !lt.has(i, j) {
					args = append(args, rp.field, rp.interval, rp.toler, lt.want(rp))
				}
			}
		}
		for _, per := range p.periods[:nb] {
			args = append(args, per.code(), p.budgets[per].tokens, p.budgets[per].micros)
		}
	}
	r, err := s.run(ctx, keys, args, 3)
	if err != nil {
		return verdict{}, err
	}
	switch {
	case r[0] == 1 && len(r) == 3+nrates:
		if lt != nil {
			s.leases.store(q, keys, lt, r[3:])
		}
		return verdict{ok: true, bucket: r[2]}, nil
	case r[0] != 0 || len(r) != 6:
		return verdict{}, malformed("admit reply %v", r)
	}
	kind, si, idx, cost, wait := r[1], int(r[2])-1, int(r[3])-1, r[4] == 1, r[5]
	if si < 0 || si >= len(q.scopes) {
		return verdict{}, malformed("admit refusal %v", r)
	}
	p := q.scopes[si].plan
	v := verdict{scope: si, kind: int(kind), cost: cost, wait: time.Duration(wait) * time.Microsecond}
	if wait == -1 {
		v.wait = -1
	}
	switch {
	case kind == refuseRate && idx >= 0 && idx < len(p.rates)-lt.served(si):
		v.rule = lt.ruleIndex(si, idx)
	case kind == refuseSlot:
	case kind == refuseBudget && idx >= 0 && idx < len(p.periods):
		v.rule = int(p.periods[idx])
	default:
		return verdict{}, malformed("admit refusal %v", r)
	}
	return v, nil
}

func (s *RedisStore) settle(ctx context.Context, q *query, used charge) ([]crossing, error) {
	var thr strings.Builder
	for i, t := range q.thresholds {
		if i > 0 {
			thr.WriteByte(',')
		}
		thr.WriteString(strconv.Itoa(t))
	}
	b := strconv.FormatInt(q.bucket, 10)
	bt, bc, bs := "ht"+b, "hc"+b, "hs"+b
	charging := used.tokens > 0 || used.micros > 0
	args := make([]any, 0, 9+len(q.scopes)*(11+8*int(numPeriods)))
	args = append(args, "s", max(q.ttl.Milliseconds(), 1), q.bucket, len(q.scopes),
		q.amount.tokens, q.amount.micros, used.tokens, used.micros, thr.String())
	for i := range q.scopes {
		p := q.scopes[i].plan
		slot, hold, nb := 0, 0, 0
		if q.slots && p.conc > 0 {
			slot = 1
		}
		if q.budgets && p.hasBudget {
			hold = 1
			if charging {
				nb = len(p.periods)
			}
		}
		args = append(args, slot, hold, nb, 7+5*nb, "x", "ht", "hc", "hs", bt, bc, bs)
		for _, per := range p.periods[:nb] {
			f := &periodFields[per]
			args = append(args, f[0], f[1], f[2], f[3], f[4])
		}
		for _, per := range p.periods[:nb] {
			args = append(args, per.code(), p.budgets[per].tokens, p.budgets[per].micros)
		}
	}
	r, err := s.run(ctx, s.keysOf(q), args, 2)
	if err != nil {
		return nil, err
	}
	if r[0] != 1 || (len(r)-2)%5 != 0 {
		return nil, malformed("settle reply %v", r)
	}
	at := time.UnixMicro(r[1]).UTC()
	var out []crossing
	for i := 2; i < len(r); i += 5 {
		si, idx := int(r[i])-1, int(r[i+1])-1
		if si < 0 || si >= len(q.scopes) || idx < 0 || idx >= len(q.scopes[si].plan.periods) || r[i+3] < 1 || r[i+3] > 1000 {
			return nil, malformed("settle threshold %v", r[i:i+5])
		}
		out = append(out, crossing{scope: si, period: q.scopes[si].plan.periods[idx],
			cost: r[i+2] == 1, percent: int(r[i+3]), used: r[i+4], at: at})
	}
	return out, nil
}

func (s *RedisStore) usage(ctx context.Context, ref scopeRef, ttl time.Duration) (usageCounters, error) {
	key := s.base(s.tagOf(subjectOf(ref.scope)), ref.scope)
	args := []any{"u", bucketGrain(ttl), "ht", "hc", "hs", "hb", "hm"}
	for p := range numPeriods {
		f := &periodFields[p]
		args = append(args, p.code(), f[0], f[1], f[2])
	}
	const want = 4 + 3*int(numPeriods)
	r, err := s.run(ctx, []string{key}, args, want)
	if err != nil {
		return usageCounters{}, err
	}
	if len(r) != want {
		return usageCounters{}, malformed("usage reply %v", r)
	}
	u := usageCounters{at: time.UnixMicro(r[0]).UTC(), inFlight: int(r[1]), tokensHeld: r[2], microsHeld: r[3]}
	for p := range numPeriods {
		v := r[4+3*int(p):]
		u.windows[p] = windowCounters{tokensUsed: v[0], microsUsed: v[1], end: time.Unix(v[2], 0).UTC()}
	}
	return u, nil
}

// subjectOf is the Subject that Tag sees when a read names only a scope.
func subjectOf(sc Scope) Subject {
	switch sc.Kind {
	case KindCaller:
		return Subject{Caller: sc.Name, Tier: sc.Tier}
	case KindGroup:
		return Subject{Group: sc.Name, Tier: sc.Tier}
	case KindTier:
		return Subject{Tier: sc.Name}
	}
	return Subject{}
}

// run evaluates the script and returns its reply as integers: an array of
// at least min integers, or an error.
func (s *RedisStore) run(ctx context.Context, keys []string, args []any, min int) ([]int64, error) {
	v, err := s.rdb.EvalSha(ctx, s.sha, keys, args...).Result()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		v, err = s.rdb.Eval(ctx, script, keys, args...).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("ratelimit: redis: %w", err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr) < min {
		return nil, malformed("reply of type %T, length %d", v, len(arr))
	}
	out := make([]int64, len(arr))
	for i, x := range arr {
		n, ok := x.(int64)
		if !ok {
			return nil, malformed("reply element %d of type %T", i, x)
		}
		out[i] = n
	}
	return out, nil
}

// errMalformed is wrapped by every error about a reply the script cannot
// have sent: a different script under our SHA, a proxy, a broken server.
var errMalformed = errors.New("ratelimit: malformed reply from redis")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errMalformed}, args...)...)
}
