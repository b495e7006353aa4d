package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"sync"
	"time"
)

// leases are the request-rate permits a RedisStore took from Redis ahead
// of need ([RedisOptions.LeaseRequests]), spent in the process until they
// expire. Only rate rules are leased: slots and budgets stay exact.
type leases struct {
	size int           // permits asked per lease
	ttl  time.Duration // how long leased permits may be spent
	now  func() time.Time

	mu     sync.Mutex
	m      map[leaseKey]*lease
	closed bool
	stores int // leases stored since the last sweep of expired ones
}

// leaseKey names one rate rule of one scope: its hash key and field.
type leaseKey struct{ key, field string }

// lease is the permits left of one rule, spendable until until (unix ns,
// local clock), and the rule's interval for giving them back.
type lease struct {
	n           int
	until       int64
	ivNs, tolNs int64 // the rule's GCRA arguments (see ratePlan)
}

func newLeases(size int, ttl time.Duration, now func() time.Time) *leases {
	if ttl == 0 {
		ttl = time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &leases{size: size, ttl: ttl, now: now, m: make(map[leaseKey]*lease)}
}

// maxLeasedRules is how many rate rules of one scope can be leased; rules
// past it always go to Redis.
const maxLeasedRules = 64

// leaseTake is what one check took from the leases: the rules it served
// (a bit per rule, per scope) and the leases they came from. A nil
// leaseTake served nothing and asks for single permits.
type leaseTake struct {
	l    *leases
	mask [len(query{}.scopeBuf)]uint64
	from []*lease
	all  bool // every rate rule of the check was served
}

// take spends one leased permit of every rate rule of q that has a live
// lease. It returns nil once the leases are closed.
func (ls *leases) take(q *query, keys []string) *leaseTake {
	now := ls.now().UnixNano()
	t := &leaseTake{l: ls, all: true}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		return nil
	}
	for i := range q.scopes {
		for j, rp := range q.scopes[i].plan.rates {
			if i >= len(t.mask) || j >= maxLeasedRules {
				t.all = false
				continue
			}
			le := ls.m[leaseKey{keys[i], rp.field}]
			if le == nil || le.n <= 0 || now >= le.until {
				t.all = false
				continue
			}
			le.n--
			t.mask[i] |= 1 << j
			t.from = append(t.from, le)
		}
	}
	return t
}

// giveBack undoes t: the check was refused or failed, so its leased
// permits were not spent. A lease replaced since keeps its permits lost:
// the rule admits less, never more.
func (ls *leases) giveBack(t *leaseTake) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, le := range t.from {
		le.n++
	}
}

// store records the permits Redis granted beyond the one each rule spent
// now: got holds, in the order the rules were sent, the permits taken.
func (ls *leases) store(q *query, keys []string, t *leaseTake, got []int64) {
	now := ls.now().UnixNano()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		return // Close has returned what it could; these stay unspent
	}
	k := 0
	for i := range q.scopes {
		for j, rp := range q.scopes[i].plan.rates {
			if t.has(i, j) {
				continue
			}
			extra := min(int(got[k]), t.want(rp)) - 1
			k++
			if extra <= 0 {
				continue
			}
			key := leaseKey{keys[i], rp.field}
			if le := ls.m[key]; le != nil && now < le.until {
				le.n += extra // the older expiry bounds the newer permits too
				continue
			}
			ls.m[key] = &lease{n: extra, until: now + int64(ls.ttl), ivNs: rp.ivNs, tolNs: rp.tolNs}
		}
	}
	ls.stores++
	if ls.stores >= 1024 {
		ls.stores = 0
		for key, le := range ls.m {
			if now >= le.until {
				delete(ls.m, key)
			}
		}
	}
}

// has reports whether t served rule j of scope i.
func (t *leaseTake) has(i, j int) bool {
	return t != nil && i < len(t.mask) && j < maxLeasedRules && t.mask[i]&(1<<j) != 0
}

// served returns how many rate rules of scope i t served.
func (t *leaseTake) served(i int) int {
	if t == nil || i >= len(t.mask) {
		return 0
	}
	return bits.OnesCount64(t.mask[i])
}

// ruleIndex maps idx, an index among the rules of scope i sent to Redis,
// to the rule's index in the scope's plan.
func (t *leaseTake) ruleIndex(i, idx int) int {
	for j := 0; ; j++ {
		if t.has(i, j) {
			continue
		}
		if idx == 0 {
			return j
		}
		idx--
	}
}

// want is how many permits of rp a check asks Redis for.
func (t *leaseTake) want(rp ratePlan) int {
	if t == nil {
		return 1
	}
	return max(1, min(t.l.size, rp.Burst))
}

// Close returns the request permits still leased (see
// [RedisOptions.LeaseRequests]) to Redis, so that other replicas can spend
// them, and stops leasing: later checks take single permits. Without
// leasing it does nothing. It is safe to call more than once; the second
// call does nothing. Leased permits not returned (Close not called, or
// failed) are not lost for long: they were due within LeaseTTL anyway.
func (s *RedisStore) Close(ctx context.Context) error {
	ls := s.leases
	if ls == nil {
		return nil
	}
	now := ls.now().UnixNano()
	ls.mu.Lock()
	if ls.closed {
		ls.mu.Unlock()
		return nil
	}
	ls.closed = true
	type entry struct {
		key string
		le  *lease
	}
	byTag := make(map[string][]entry)
	for key, le := range ls.m {
		if le.n <= 0 || now >= le.until {
			continue
		}
		tag := strings.Trim(tagOfKey(key.key), "{}") // the lane of the checks' own calls
		byTag[tag] = append(byTag[tag], entry{key.key, le})
	}
	ls.m = nil
	ls.mu.Unlock()

	var errs []error
	for tag, es := range byTag {
		keys := make([]string, len(es))
		o := opBuf{4, 0, 1, int64(len(es))}
		for i, e := range es {
			keys[i] = e.key
			o = append(o, int64(i), e.le.ivNs, e.le.tolNs, int64(e.le.n))
		}
		if _, err := s.do(ctx, tag, &pendingOp{keys: keys, op: o.bytes()}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ratelimit: returning leased permits: %w", err)
	}
	return nil
}

// tagOfKey returns the hash tag of a store key, braces included: the keys
// of one script call must share it.
func tagOfKey(key string) string {
	i := strings.IndexByte(key, '{')
	j := strings.IndexByte(key, '}')
	if i < 0 || j < i {
		return ""
	}
	return key[i : j+1]
}
