package ratelimit

import (
	"context"
	"crypto/sha1"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
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

	// MaxInFlight bounds the script calls of one hash tag (see Tag) that
	// run at once. A check that finds MaxInFlight calls in flight waits,
	// and goes with the others that wait beside it in one call (up to 64)
	// as soon as one returns: under load a process pays one round trip,
	// one Redis TIME and one read and write of each key for many checks,
	// and the round trips it saves make it faster, not slower. A call runs
	// its checks in order, atomically, exactly as separate calls would.
	// Default: 2 (measured best on a 2-core machine with a local Redis;
	// raise it when Redis is far away). 1 sends one call at a time.
	MaxInFlight int

	// Now is the clock of lease expiry, read only in the process; the
	// limits themselves always run on Redis's clock. Default: time.Now.
	Now func() time.Time
}

// RedisStore keeps counters in Redis, shared by every replica that uses the
// same Redis and Prefix. Each check is one script (EVALSHA, EVAL on
// NOSCRIPT) that checks and updates every scope of the call at once. A
// scope is one string key holding its counters packed as 64-bit integers:
// its rate buckets (GCRA), its budget windows, and what unsettled
// reservations and concurrency slots hold, in expiry buckets that stop
// counting by themselves after the TTL, so no record per reservation is
// kept and no reaper runs. All time comes from the server (TIME), so
// replica clocks do not matter. Checks that start while
// [RedisOptions.MaxInFlight] calls are in flight go together in the next
// call, which runs them in order, atomically.
//
// Keys written by an earlier layout of this package (hashes) read as empty
// and are replaced on the first write: upgrading resets the counters once.
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
	rdb         rediser
	sha         string
	prefix      string
	tag         func(Subject) string
	leases      *leases // nil: no leasing
	maxInFlight int

	mu    sync.Mutex
	lanes map[string]*lane // by hash tag; a lane is dropped when idle
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
	switch {
	case opts.MaxInFlight < 0:
		return nil, fmt.Errorf("ratelimit: MaxInFlight %d < 0", opts.MaxInFlight)
	case opts.MaxInFlight == 0:
		opts.MaxInFlight = 2
	}
	sum := sha1.Sum([]byte(script))
	return &RedisStore{rdb: rdb, sha: hex.EncodeToString(sum[:]), prefix: opts.Prefix, tag: opts.Tag, leases: ls,
		maxInFlight: opts.MaxInFlight, lanes: make(map[string]*lane)}, nil
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

// keysOf returns the hash tag of q's keys and the key of each scope.
func (s *RedisStore) keysOf(q *query) (string, []string) {
	tag := s.tagOf(q.subject)
	keys := make([]string, len(q.scopes))
	for i := range q.scopes {
		keys[i] = s.base(tag, q.scopes[i].scope)
	}
	return tag, keys
}

// opBuf is an operation of the script under construction: its integers,
// which bytes sends as the script reads them (little-endian, 64 bits).
type opBuf []int64

func (o opBuf) bytes() []byte {
	b := make([]byte, 0, 8*len(o))
	for _, v := range o {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func (s *RedisStore) admit(ctx context.Context, q *query) (verdict, error) {
	tag, keys := s.keysOf(q)
	var lt *leaseTake
	if s.leases != nil && q.rates {
		lt = s.leases.take(q, keys)
		if lt != nil && lt.all && !q.hasSlots && !q.hasBudgetsIn {
			return verdict{ok: true}, nil // every permit was leased: no round trip
		}
	}
	v, err := s.admitRemote(ctx, q, tag, keys, lt)
	if lt != nil && (err != nil || !v.ok) {
		s.leases.giveBack(lt)
	}
	return v, err
}

// admitRemote runs the admit operation for q: the rates not served by lt
// (all, when lt is nil), the slots and the budgets.
func (s *RedisStore) admitRemote(ctx context.Context, q *query, tag string, keys []string, lt *leaseTake) (verdict, error) {
	ttl := max(q.ttl.Milliseconds(), 1)
	var buf [96]int64
	o := append(opBuf(buf[:0]), 1, ttl, bucketGrain(q.ttl), q.amount.tokens, q.amount.micros, int64(len(q.scopes)))
	nrates := 0
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
		o = append(o, int64(i), int64(nr), int64(conc), int64(nb))
		if nr > 0 {
			for j, rp := range p.rates {
				if !lt.has(i, j) {
					o = append(o, rp.ivNs, rp.tolNs, int64(lt.want(rp)))
				}
			}
		}
		for _, per := range p.periods[:nb] {
			o = append(o, int64(per), p.budgets[per].tokens, p.budgets[per].micros)
		}
	}
	r, err := s.do(ctx, tag, &pendingOp{keys: keys, op: o.bytes()})
	if err != nil {
		return verdict{}, err
	}
	switch {
	case len(r) == 3+nrates && r[0] == 1:
		if lt != nil {
			s.leases.store(q, keys, lt, r[3:])
		}
		return verdict{ok: true, bucket: r[2]}, nil
	case len(r) != 6 || r[0] != 0:
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
	charging := used.tokens > 0 || used.micros > 0
	var buf [96]int64
	o := append(opBuf(buf[:0]), 2, max(q.ttl.Milliseconds(), 1), bucketGrain(q.ttl), q.bucket,
		q.amount.tokens, q.amount.micros, used.tokens, used.micros, int64(len(q.thresholds)))
	for _, t := range q.thresholds {
		o = append(o, int64(t))
	}
	o = append(o, int64(len(q.scopes)))
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
		o = append(o, int64(i), int64(slot), int64(hold), int64(nb))
		for _, per := range p.periods[:nb] {
			o = append(o, int64(per), p.budgets[per].tokens, p.budgets[per].micros)
		}
	}
	tag, keys := s.keysOf(q)
	r, err := s.do(ctx, tag, &pendingOp{keys: keys, op: o.bytes()})
	if err != nil {
		return nil, err
	}
	if len(r) < 2 || r[0] != 1 || (len(r)-2)%5 != 0 {
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
	tag := s.tagOf(subjectOf(ref.scope))
	key := s.base(tag, ref.scope)
	o := opBuf{3, max(ttl.Milliseconds(), 1), bucketGrain(ttl), 0}
	r, err := s.do(ctx, tag, &pendingOp{keys: []string{key}, op: o.bytes()})
	if err != nil {
		return usageCounters{}, err
	}
	const want = 4 + 3*int(numPeriods)
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

// maxBatch bounds the operations of one script call, so that one call
// does not hold Redis for long (each costs a few microseconds there).
const maxBatch = 64

// pendingOp is one operation for the script: its keys (the indexes in op
// count from the first of them) and its encoding. A queued op gets
// exactly one message on ch: its reply, or the batch it must run.
type pendingOp struct {
	keys  []string
	op    []byte
	ctx   context.Context
	ch    chan batchMsg
	state int // opQueued, opLeading, opMember: under RedisStore.mu
}

const (
	opQueued = iota
	opLeading
	opMember
)

type batchMsg struct {
	lead  []*pendingOp // not nil: run this batch (it holds the receiver)
	reply []int64
	err   error
}

// lane is the queue of one hash tag: the calls in flight and the ops
// waiting for one to end.
type lane struct {
	inflight int
	queue    []*pendingOp
}

// do runs op and returns its reply. While fewer than MaxInFlight calls of
// op's hash tag are in flight, op goes at once, alone; otherwise it waits
// and goes in the next call, together with the ops queued beside it (at
// most maxBatch), which one of them sends when a call in flight returns.
// The script runs a batch in order, atomically, so batching changes no
// result. A context that ends while op waits withdraws it; once sent, op
// runs, and the caller stops waiting for the reply.
func (s *RedisStore) do(ctx context.Context, tag string, p *pendingOp) ([]int64, error) {
	p.ctx = ctx
	s.mu.Lock()
	ln := s.lanes[tag]
	if ln == nil {
		ln = &lane{}
		s.lanes[tag] = ln
	}
	if ln.inflight < s.maxInFlight {
		ln.inflight++
		s.mu.Unlock()
		return s.lead(ctx, tag, ln, []*pendingOp{p}, p)
	}
	p.ch = make(chan batchMsg, 1)
	ln.queue = append(ln.queue, p)
	s.mu.Unlock()
	select {
	case m := <-p.ch:
		if m.lead != nil {
			return s.lead(ctx, tag, ln, m.lead, p)
		}
		return m.reply, m.err
	case <-ctx.Done():
	}
	s.mu.Lock()
	switch p.state {
	case opQueued:
		ln.queue = slices.DeleteFunc(ln.queue, func(q *pendingOp) bool { return q == p })
		s.mu.Unlock()
		return nil, fmt.Errorf("ratelimit: redis: %w", context.Cause(ctx))
	case opMember:
		s.mu.Unlock()
		return nil, fmt.Errorf("ratelimit: redis: %w", context.Cause(ctx))
	}
	s.mu.Unlock()
	// Chosen to send a batch: the others in it wait for this call.
	m := <-p.ch
	return s.lead(ctx, tag, ln, m.lead, p)
}

// lead sends batch (which holds self), hands every other op its reply,
// and passes the lane's queue, if any, to the next sender.
func (s *RedisStore) lead(ctx context.Context, tag string, ln *lane, batch []*pendingOp, self *pendingOp) ([]int64, error) {
	bctx := ctx
	if len(batch) > 1 {
		// The batch is everyone's: it outlives this caller's
		// cancellation, up to the latest deadline among its ops.
		var dl time.Time
		for _, p := range batch {
			d, ok := p.ctx.Deadline()
			if !ok {
				dl = time.Time{}
				break
			}
			if d.After(dl) {
				dl = d
			}
		}
		var cancel context.CancelFunc = func() {}
		bctx = context.WithoutCancel(ctx)
		if !dl.IsZero() {
			bctx, cancel = context.WithDeadline(bctx, dl)
		}
		defer cancel()
	}
	replies, err := s.exec(bctx, batch)
	var mine []int64
	for i, p := range batch {
		var r []int64
		if err == nil {
			r = replies[i]
		}
		if p == self {
			mine = r
			continue
		}
		p.ch <- batchMsg{reply: r, err: err}
	}
	s.mu.Lock()
	if n := min(len(ln.queue), maxBatch); n > 0 {
		next := make([]*pendingOp, n)
		copy(next, ln.queue)
		ln.queue = append(ln.queue[:0], ln.queue[n:]...)
		for _, p := range next {
			p.state = opMember
		}
		next[0].state = opLeading
		next[0].ch <- batchMsg{lead: next}
	} else {
		ln.inflight--
		if ln.inflight == 0 {
			delete(s.lanes, tag)
		}
	}
	s.mu.Unlock()
	return mine, err
}

// exec runs the script on ops and returns each op's reply as integers.
func (s *RedisStore) exec(ctx context.Context, ops []*pendingOp) ([][]int64, error) {
	var keys []string
	args := make([]any, 0, 2*len(ops))
	if len(ops) == 1 {
		keys = ops[0].keys
		args = append(args, 0, ops[0].op)
	} else {
		for _, p := range ops {
			args = append(args, len(keys), p.op)
			keys = append(keys, p.keys...)
		}
	}
	v, err := s.rdb.EvalSha(ctx, s.sha, keys, args...).Result()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		v, err = s.rdb.Eval(ctx, script, keys, args...).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("ratelimit: redis: %w", err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != len(ops) {
		return nil, malformed("reply of type %T for %d operations", v, len(ops))
	}
	out := make([][]int64, len(arr))
	for i, x := range arr {
		a, ok := x.([]any)
		if !ok {
			return nil, malformed("reply %d of type %T", i, x)
		}
		r := make([]int64, len(a))
		for j, y := range a {
			n, ok := y.(int64)
			if !ok {
				return nil, malformed("reply %d element %d of type %T", i, j, y)
			}
			r[j] = n
		}
		out[i] = r
	}
	return out, nil
}

// errMalformed is wrapped by every error about a reply the script cannot
// have sent: a different script under our SHA, a proxy, a broken server.
var errMalformed = errors.New("ratelimit: malformed reply from redis")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errMalformed}, args...)...)
}
