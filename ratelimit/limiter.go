package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a [Limiter]. The zero value is a limiter with no rules
// over a private [MemoryStore]: it admits everything.
type Options struct {
	// Rules are the limits. Default: none.
	Rules Rules

	// Prices price tokens for the USD budgets, by model. Default:
	// [DefaultPrices]. A model not in the table is priced at its highest
	// prices.
	Prices map[string]Price

	// Store holds the counters. Default: a new [MemoryStore] on Now.
	Store Store

	// TTL is how long a reservation or concurrency slot that is never
	// settled (its process died, or a bug dropped it) keeps holding before
	// it frees itself: between TTL and TTL×5/4 (holds expire in buckets of
	// TTL/4). Set it above your longest call, streams included: a call that
	// outlives it is still charged in full on Commit, but its hold and slot
	// are gone from then on. Default: 15 minutes.
	TTL time.Duration

	// Timeout bounds every call to a remote store (Redis); past it the
	// store counts as unreachable. Default: 100 ms.
	Timeout time.Duration

	// FailOpen, when the store is unreachable or too slow, admits calls
	// under a local in-memory limit (Fallback) instead of refusing them
	// with ErrLimiterUnavailable. Default: false, fail closed.
	//
	// Background: failing open keeps the service up through a Redis outage,
	// at the price of limits that each replica counts alone: with N
	// replicas, up to N times the fallback limits. Failing closed keeps
	// every limit exact and refuses every call until the store is back.
	FailOpen bool

	// Fallback are the rules of the local limit while failing open.
	// Default: Rules (each replica then admits up to the full limits).
	Fallback *Rules

	// ProbeInterval is how often, while the store is down, one call tries
	// it again (the others go straight to the failure policy, without
	// waiting for the timeout). Default: 1 second.
	ProbeInterval time.Duration

	// Thresholds are the percents of a budget whose crossing is reported
	// to OnThreshold, once per budget window. Default: 50, 80, 100.
	Thresholds []int

	// OnThreshold, if set, receives each budget threshold crossed, once per
	// scope, budget and window across every replica sharing the store. It
	// runs on the goroutine that committed the usage and must not block.
	OnThreshold func(ThresholdEvent)

	// OnStoreChange, if set, receives each switch to the failure policy
	// (the store became unreachable) and back. It may run concurrently with
	// itself and must not block.
	OnStoreChange func(StoreEvent)

	// Now is the limiter's clock, for the probe interval and the fallback
	// store. Default: time.Now.
	Now func() time.Time
}

// Amount is what a call may consume (for Reserve) or consumed (for
// Commit): tokens, priced with the limiter's table for the subject's model,
// or a cost given directly.
type Amount struct {
	InputTokens  int64
	OutputTokens int64
	// CostUSD, when > 0, is the cost to count instead of pricing the tokens
	// (for calls priced otherwise: per image, per search).
	CostUSD float64
}

// Tokens returns InputTokens + OutputTokens.
func (a Amount) Tokens() int64 { return a.InputTokens + a.OutputTokens }

// ThresholdEvent reports that a budget's usage crossed a threshold.
type ThresholdEvent struct {
	// Scope is the scope of the budget; its Name may be a caller ID.
	Scope Scope
	// Rule is the budget: "tokens_per_minute", "tokens_per_day",
	// "usd_per_day", "usd_per_month".
	Rule string
	// Percent is the threshold crossed (50, 80, 100 by default).
	Percent int
	// Used and Limit are in the budget's unit: tokens or US dollars.
	Used, Limit float64
	// Time is the store's time of the commit that crossed it.
	Time time.Time
}

// StoreEvent reports a switch of the store's state.
type StoreEvent struct {
	// Time is when the switch was seen.
	Time time.Time
	// Degraded is true when the store became unreachable, false when it is
	// back.
	Degraded bool
	// FailOpen tells the policy applied while degraded.
	FailOpen bool
	// Err is the store's error that caused the switch (nil when back).
	Err error
}

// UsageInfo is a scope's current usage, from [Limiter.Usage].
type UsageInfo struct {
	Scope Scope
	// InFlight is the number of concurrency slots held.
	InFlight int
	// Budgets are the scope's budgets, in the order of the Limits fields.
	Budgets []BudgetUsage
	// Time is the store's time of the read.
	Time time.Time
}

// BudgetUsage is one budget's state in its current window, in its unit
// (tokens or US dollars).
type BudgetUsage struct {
	Rule     string
	Used     float64 // committed in the window
	Reserved float64 // held by unsettled reservations
	Limit    float64
	Resets   time.Time // end of the window
}

// Remaining returns Limit − Used − Reserved, at least 0.
func (b BudgetUsage) Remaining() float64 { return max(0, b.Limit-b.Used-b.Reserved) }

// Limiter enforces request rates, concurrency and token/spend budgets per
// caller, group, tier and globally, over a [Store].
//
// Most callers want [Limiter.Allow] before any expensive work, then
// [Limiter.Reserve] once the worst case of the call is known, and
// [Reservation.Commit] with the real usage when it ends (or Cancel).
// [Limiter.Admit] does both checks in one round trip when the amount is
// known up front. Every check is atomic across scopes: all admit, or none
// is charged.
//
// A Limiter is safe for concurrent use and starts no goroutine; it needs no
// Close. Build it with [New]. The zero Limiter has no rules and admits
// everything.
type Limiter struct {
	plans, fallbackPlans *plans
	prices               priceTable
	store                Store
	fallback             *MemoryStore
	ttl, timeout, probe  time.Duration
	thresholds           []int
	onThreshold          func(ThresholdEvent)
	onStore              func(StoreEvent)
	now                  func() time.Time

	degraded atomic.Bool
	probeAt  atomic.Int64 // unix ns of the next probe while degraded
	mu       sync.Mutex
	lastErr  error // the store's last failure, while degraded
}

// New returns a Limiter, or every configuration mistake at once.
func New(opts Options) (*Limiter, error) {
	var errs []error
	l := &Limiter{onThreshold: opts.OnThreshold, onStore: opts.OnStoreChange, now: opts.Now}
	if l.now == nil {
		l.now = time.Now
	}
	var err error
	if l.plans, err = compileRules(opts.Rules); err != nil {
		errs = append(errs, err)
	}
	if l.prices, err = newPriceTable(opts.Prices); err != nil {
		errs = append(errs, err)
	}
	l.store = opts.Store
	if l.store == nil {
		l.store = NewMemoryStore(MemoryOptions{Now: l.now})
	}
	if opts.FailOpen {
		l.fallback = NewMemoryStore(MemoryOptions{Now: l.now})
		l.fallbackPlans = l.plans
		if opts.Fallback != nil {
			if l.fallbackPlans, err = compileRules(*opts.Fallback); err != nil {
				errs = append(errs, fmt.Errorf("ratelimit: fallback: %w", err))
			}
		}
	} else if opts.Fallback != nil {
		errs = append(errs, errors.New("ratelimit: Fallback rules set without FailOpen"))
	}
	l.ttl = durationOr(opts.TTL, 15*time.Minute, "TTL", &errs)
	l.timeout = durationOr(opts.Timeout, 100*time.Millisecond, "Timeout", &errs)
	l.probe = durationOr(opts.ProbeInterval, time.Second, "ProbeInterval", &errs)
	l.thresholds = []int{50, 80, 100}
	if opts.Thresholds != nil {
		l.thresholds = slices.Clone(opts.Thresholds)
		slices.Sort(l.thresholds)
		l.thresholds = slices.Compact(l.thresholds)
		for _, t := range l.thresholds {
			if t < 1 || t > 1000 {
				errs = append(errs, fmt.Errorf("ratelimit: threshold %d%% not in [1, 1000]", t))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return l, nil
}

func durationOr(d, def time.Duration, name string, errs *[]error) time.Duration {
	switch {
	case d == 0:
		return def
	case d < time.Millisecond:
		*errs = append(*errs, fmt.Errorf("ratelimit: %s %v < 1ms", name, d))
	}
	return d
}

// Parts of a check.
const (
	partRates = 1 << iota
	partSlots
	partBudgets
)

// query sets q to the check of s on the plans ps: the scopes whose limits
// have something for the requested parts.
func (l *Limiter) query(q *query, ps *plans, s Subject, parts int, amount charge) {
	*q = query{subject: s, amount: amount, ttl: l.ttl,
		rates: parts&partRates != 0, slots: parts&partSlots != 0, budgets: parts&partBudgets != 0}
	if ps == nil {
		return
	}
	if q.budgets && l.onThreshold != nil {
		q.thresholds = l.thresholds
	}
	q.scopes = q.scopeBuf[:0]
	tp, tier := ps.forTier(s.Tier)
	add := func(sc Scope, p *scopePlan) {
		if (q.rates && len(p.rates) > 0) || (q.slots && p.conc > 0) || (q.budgets && p.hasBudget) {
			q.scopes = append(q.scopes, scopeRef{scope: sc, plan: p})
		}
	}
	add(Scope{Kind: KindCaller, Name: s.Caller, Tier: tier}, tp.caller)
	if s.Group != "" {
		add(Scope{Kind: KindGroup, Name: s.Group, Tier: tier}, tp.group)
	}
	add(Scope{Kind: KindTier, Name: tier, Tier: tier}, tp.tier)
	add(Scope{Kind: KindGlobal}, ps.global)
	q.finish()
}

// Allow is the cheap request-rate check: it takes one request from every
// rate rule of the subject's scopes and, where a scope has a Concurrent
// rule, a concurrency slot, all or none. It refuses with an [*Error] of
// kind ErrRateLimited (the scope, rule and wait in it), or
// ErrLimiterUnavailable per the failure policy.
//
// The returned Permit holds the slots: call [Permit.Release] when the call
// ends (for a stream, when the stream ends). Without a Concurrent rule
// Release is free and may be skipped.
func (l *Limiter) Allow(ctx context.Context, s Subject) (*Permit, error) {
	p := new(Permit) // the permit, its reservation and query: one allocation
	if err := l.check(ctx, s, partRates|partSlots, Amount{}, &p.r); err != nil {
		return nil, err
	}
	return p, nil
}

// Reserve holds amount in every token and spend budget of the subject's
// scopes, all or none, until [Reservation.Commit] or [Reservation.Cancel]
// (or the TTL). It refuses with an [*Error] of kind ErrBudgetExceeded, or
// ErrLimiterUnavailable per the failure policy; a negative amount is an
// error.
func (l *Limiter) Reserve(ctx context.Context, s Subject, amount Amount) (*Reservation, error) {
	r := new(Reservation)
	if err := l.check(ctx, s, partBudgets, amount, r); err != nil {
		return nil, err
	}
	return r, nil
}

// Admit is Allow and Reserve in one atomic check (one round trip to Redis):
// rates, concurrency slots and budgets of every scope. The Reservation also
// holds the slots, released when it is committed or cancelled.
func (l *Limiter) Admit(ctx context.Context, s Subject, amount Amount) (*Reservation, error) {
	r := new(Reservation)
	if err := l.check(ctx, s, partRates|partSlots|partBudgets, amount, r); err != nil {
		return nil, err
	}
	return r, nil
}

func (l *Limiter) charge(model string, a Amount) (charge, error) {
	if a.InputTokens < 0 || a.OutputTokens < 0 || a.CostUSD < 0 || a.CostUSD > maxUSD || a.CostUSD != a.CostUSD {
		return charge{}, errors.New("ratelimit: negative or invalid amount")
	}
	return charge{tokens: a.Tokens(), micros: l.prices.micros(model, a)}, nil
}

// check runs the check of s for parts and, when every scope admits it,
// sets r to the reservation it took; r also holds the query.
func (l *Limiter) check(ctx context.Context, s Subject, parts int, a Amount, r *Reservation) error {
	c, err := l.charge(s.Model, a)
	if err != nil {
		return err
	}
	q := &r.q
	var v verdict
	st, err := l.do(ctx, func(ctx context.Context, st Store, ps *plans) error {
		l.query(q, ps, s, parts, c)
		if len(q.scopes) == 0 {
			v = verdict{ok: true}
			return nil
		}
		var err error
		v, err = st.admit(ctx, q)
		return err
	})
	if err != nil {
		return err
	}
	if !v.ok {
		return l.refusal(q, v)
	}
	q.bucket = v.bucket
	r.l, r.store = l, st
	return nil
}

func (l *Limiter) refusal(q *query, v verdict) *Error {
	ref := q.scopes[v.scope]
	e := &Error{Kind: ErrRateLimited, Scope: ref.scope, Wait: max(v.wait, 0), TooLarge: v.wait < 0}
	switch v.kind {
	case refuseRate:
		e.Rule = ref.plan.rates[v.rule].name
	case refuseSlot:
		e.Rule = "concurrent"
	default:
		e.Kind = ErrBudgetExceeded
		e.Rule = ruleName(period(v.rule), v.cost)
	}
	return e
}

// do runs op on the store, with the timeout and failure policy of a
// remote store: while the store is down, op runs on the fallback (fail
// open) or the call is refused (fail closed), except for one probe per
// ProbeInterval that tries the store again.
func (l *Limiter) do(ctx context.Context, op func(context.Context, Store, *plans) error) (Store, error) {
	if l.store == nil { // zero Limiter: no rules, no store call
		return nil, op(ctx, nil, nil)
	}
	if !l.store.remote() {
		if err := op(ctx, l.store, l.plans); err != nil {
			return nil, fmt.Errorf("ratelimit: %w", err)
		}
		return l.store, nil
	}
	if l.degraded.Load() && !l.claimProbe() {
		return l.degradedRun(ctx, op, nil)
	}
	tctx, cancel := context.WithTimeout(ctx, l.timeout)
	err := op(tctx, l.store, l.plans)
	cancel()
	if err == nil {
		l.recovered()
		return l.store, nil
	}
	if ctx.Err() != nil { // the caller gave up: not the store's fault
		return nil, fmt.Errorf("ratelimit: %w", ctx.Err())
	}
	l.degrade(err)
	return l.degradedRun(ctx, op, err)
}

func (l *Limiter) degradedRun(ctx context.Context, op func(context.Context, Store, *plans) error, cause error) (Store, error) {
	if cause == nil {
		l.mu.Lock()
		cause = l.lastErr
		l.mu.Unlock()
	}
	if l.fallback == nil {
		return nil, unavailable(cause)
	}
	if err := op(ctx, l.fallback, l.fallbackPlans); err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	return l.fallback, nil
}

func (l *Limiter) claimProbe() bool {
	now := l.now().UnixNano()
	next := l.probeAt.Load()
	return now >= next && l.probeAt.CompareAndSwap(next, now+int64(l.probe))
}

func (l *Limiter) degrade(err error) {
	l.mu.Lock()
	l.lastErr = err
	l.mu.Unlock()
	if l.degraded.CompareAndSwap(false, true) {
		now := l.now()
		l.probeAt.Store(now.UnixNano() + int64(l.probe))
		if l.onStore != nil {
			l.onStore(StoreEvent{Time: now, Degraded: true, FailOpen: l.fallback != nil, Err: err})
		}
	}
}

func (l *Limiter) recovered() {
	if l.degraded.Load() && l.degraded.CompareAndSwap(true, false) {
		l.mu.Lock()
		l.lastErr = nil
		l.mu.Unlock()
		if l.onStore != nil {
			l.onStore(StoreEvent{Time: l.now(), FailOpen: l.fallback != nil})
		}
	}
}

// Usage reads the current usage of a scope: its budgets (with the limits
// of sc.Tier's rules, or the default rules) and its slots in flight. While
// the limiter fails open, it reads the local fallback.
func (l *Limiter) Usage(ctx context.Context, sc Scope) (UsageInfo, error) {
	switch sc.Kind {
	case KindCaller, KindGroup, KindTier, KindGlobal:
	default:
		return UsageInfo{}, fmt.Errorf("ratelimit: unknown scope kind %q", sc.Kind)
	}
	if l.store == nil {
		return UsageInfo{Scope: sc}, nil
	}
	var u usageCounters
	var p *scopePlan
	_, err := l.do(ctx, func(ctx context.Context, st Store, ps *plans) error {
		p, sc = scopePlanOf(ps, sc)
		var err error
		u, err = st.usage(ctx, scopeRef{scope: sc, plan: p}, l.ttl)
		return err
	})
	if err != nil {
		return UsageInfo{}, err
	}
	info := UsageInfo{Scope: sc, InFlight: u.inFlight, Time: u.at}
	for per := range numPeriods {
		b, w := p.budgets[per], u.windows[per]
		if b.tokens > 0 {
			info.Budgets = append(info.Budgets, BudgetUsage{Rule: ruleName(per, false),
				Used: float64(w.tokensUsed), Reserved: float64(u.tokensHeld), Limit: float64(b.tokens), Resets: w.end})
		}
		if b.micros > 0 {
			info.Budgets = append(info.Budgets, BudgetUsage{Rule: ruleName(per, true),
				Used: float64(w.microsUsed) / 1e6, Reserved: float64(u.microsHeld) / 1e6, Limit: float64(b.micros) / 1e6, Resets: w.end})
		}
	}
	return info, nil
}

// scopePlanOf returns the limits of sc under ps, and sc normalised as the
// checks name it (an unknown tier is the default tier "").
func scopePlanOf(ps *plans, sc Scope) (*scopePlan, Scope) {
	if sc.Kind == KindTier {
		sc.Tier = sc.Name
	}
	tp, tier := ps.forTier(sc.Tier)
	sc.Tier = tier
	switch sc.Kind {
	case KindCaller:
		return tp.caller, sc
	case KindGroup:
		return tp.group, sc
	case KindTier:
		sc.Name = tier
		return tp.tier, sc
	}
	return ps.global, Scope{Kind: KindGlobal}
}

// Reservation is what [Limiter.Reserve] and [Limiter.Admit] hold: an
// amount in every budget of the subject's scopes (and, from Admit, the
// concurrency slots). Settle it exactly once, on every path: Commit with
// the usage when the call may have consumed anything, Cancel when it cannot
// have. One that is never settled frees itself after the limiter's TTL.
//
// A Reservation is safe for concurrent use; a second Commit or Cancel
// returns ErrSettled and changes nothing. Its methods on a nil Reservation
// do nothing.
type Reservation struct {
	l       *Limiter
	store   Store
	settled atomic.Bool
	q       query
}

// Commit charges used in every budget of the reservation and releases the
// rest of what it held, all scopes at once, and reports the thresholds the
// charge crossed to Options.OnThreshold. Usage above the reservation is
// charged in full (the counters stay true; later calls are refused).
//
// Run it under a context detached from the caller's cancellation
// (context.WithoutCancel): the usage happened even if the caller left. If
// the store cannot be reached, the error wraps ErrLimiterUnavailable: the
// hold then frees itself at its TTL and the usage is counted only in the
// local fallback (when failing open).
func (r *Reservation) Commit(ctx context.Context, used Amount) error {
	if r == nil {
		return nil
	}
	c, err := r.l.charge(r.q.subject.Model, used)
	if err != nil {
		return err
	}
	return r.settle(ctx, c)
}

// Cancel releases everything the reservation holds, charging nothing.
func (r *Reservation) Cancel(ctx context.Context) error {
	if r == nil {
		return nil
	}
	return r.settle(ctx, charge{})
}

// Held returns the amount held, in tokens and US dollars.
func (r *Reservation) Held() (tokens int64, usd float64) {
	if r == nil {
		return 0, 0
	}
	return r.q.amount.tokens, float64(r.q.amount.micros) / 1e6
}

func (r *Reservation) settle(ctx context.Context, used charge) error {
	if !r.settled.CompareAndSwap(false, true) {
		return ErrSettled
	}
	q := &r.q
	if !q.hasSlots && !q.hasBudgetsIn {
		return nil
	}
	l := r.l
	var out []crossing
	var err error
	switch {
	case !r.store.remote():
		if out, err = r.store.settle(ctx, q, used); err != nil {
			err = fmt.Errorf("ratelimit: %w", err)
		}
	case l.degraded.Load():
		err = unavailable(nil)
		if ferr := l.chargeFallback(ctx, q, used); ferr != nil {
			err = errors.Join(err, ferr)
		}
	default:
		tctx, cancel := context.WithTimeout(ctx, l.timeout)
		out, err = r.store.settle(tctx, q, used)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				l.degrade(err)
			}
			err = unavailable(err)
			if ferr := l.chargeFallback(ctx, q, used); ferr != nil {
				err = errors.Join(err, ferr)
			}
		} else {
			l.recovered()
		}
	}
	l.report(q, out)
	return err
}

// chargeFallback counts usage that the store could not take in the local
// fallback, so that failing open still limits this replica.
func (l *Limiter) chargeFallback(ctx context.Context, q *query, used charge) error {
	if l.fallback == nil || (used.tokens == 0 && used.micros == 0) {
		return nil
	}
	fq := new(query)
	l.query(fq, l.fallbackPlans, q.subject, partBudgets, charge{})
	if !fq.hasBudgetsIn {
		return nil
	}
	_, err := l.fallback.settle(ctx, fq, used)
	return err
}

func (l *Limiter) report(q *query, out []crossing) {
	if l.onThreshold == nil {
		return
	}
	for _, c := range out {
		ref := q.scopes[c.scope]
		b := ref.plan.budgets[c.period]
		ev := ThresholdEvent{Scope: ref.scope, Rule: ruleName(c.period, c.cost), Percent: c.percent, Time: c.at,
			Used: float64(c.used), Limit: float64(b.tokens)}
		if c.cost {
			ev.Used, ev.Limit = float64(c.used)/1e6, float64(b.micros)/1e6
		}
		l.onThreshold(ev)
	}
}

// Permit is what [Limiter.Allow] grants: the concurrency slots of the call,
// if any rule asked for them. Release it when the call ends. A Permit is
// safe for concurrent use; Release on a nil Permit does nothing.
type Permit struct{ r Reservation }

// Release frees the permit's concurrency slots. A second Release returns
// ErrSettled. Run it under a context detached from the caller's
// cancellation; if the store cannot be reached the slots free themselves at
// the limiter's TTL.
func (p *Permit) Release(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.r.Cancel(ctx)
}

// Cost returns the price in USD of inputTokens and outputTokens on model,
// from the limiter's price table (a model not in the table is priced at
// the table's highest prices). Negative counts are taken as 0.
func (l *Limiter) Cost(model string, inputTokens, outputTokens int64) float64 {
	return float64(l.prices.micros(model, Amount{InputTokens: max(inputTokens, 0), OutputTokens: max(outputTokens, 0)})) / 1e6
}

// Close returns what the limiter's store holds on loan (the leased request
// permits of a [RedisStore] with leasing on) so that other replicas can
// spend them; a store that lends nothing makes it a no-op. It does not
// close the store's Redis client. Checks after Close still work, without
// leasing. secureai's Client.Close calls it.
func (l *Limiter) Close(ctx context.Context) error {
	if c, ok := l.store.(interface{ Close(context.Context) error }); ok {
		return c.Close(ctx)
	}
	return nil
}
