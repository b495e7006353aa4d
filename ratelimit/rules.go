package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Subject is what one check is about: who calls and for which model. The
// caller, group and tier select the scopes whose limits apply; the model
// selects the price of its tokens.
//
// Names are used as they are in store keys (escaped) and in [Scope]s handed
// to errors, events and [Limiter.Usage]: pass a pseudonym rather than an
// e-mail address when the store or the audit trail must not hold one.
type Subject struct {
	// Caller identifies the end user or service account. Callers with an
	// empty Caller share one caller scope.
	Caller string
	// Group is the team, tenant or project; "" means no group, and the group
	// scope is skipped.
	Group string
	// Tier selects the rule set (see [Rules.Tiers]); a tier with no rules of
	// its own uses [Rules.Default] and counts as the default tier "".
	Tier string
	// Model is the model called, for the price table.
	Model string
}

// ScopeKind names a level at which limits are counted.
type ScopeKind string

// The scope kinds, from the narrowest to the widest.
const (
	KindCaller ScopeKind = "caller" // one caller
	KindGroup  ScopeKind = "group"  // one group, all its callers together
	KindTier   ScopeKind = "tier"   // all callers of one tier together
	KindGlobal ScopeKind = "global" // every call through the store
)

// Scope is one set of counters: a kind and a name (the caller ID, group or
// tier name; "" for the global scope). Tier is the tier whose rules applied
// (for [KindTier], equal to Name); in [Limiter.Usage] it selects the limits
// reported beside the counters.
type Scope struct {
	Kind ScopeKind
	Name string
	Tier string
}

// String returns "kind:name", or "global".
func (s Scope) String() string {
	if s.Kind == KindGlobal {
		return string(KindGlobal)
	}
	return string(s.Kind) + ":" + s.Name
}

// Rate is a request-rate rule: Count requests per Per on average, with
// bursts of up to Burst requests at once (a token bucket of Burst tokens
// that refills Count tokens per Per, full at start). The zero Rate limits
// nothing and is not allowed in [Limits.Requests].
type Rate struct {
	// Count is the number of requests per Per; at least 1.
	Count int
	// Per is the period of Count; at least 1 ms.
	Per time.Duration
	// Burst is the most requests admitted at once. Default: Count.
	Burst int
}

// PerSecond returns the rule "n requests per second", with bursts of n.
func PerSecond(n int) Rate { return Rate{Count: n, Per: time.Second} }

// PerMinute returns the rule "n requests per minute", with bursts of n.
func PerMinute(n int) Rate { return Rate{Count: n, Per: time.Minute} }

// Limits are the rules of one scope. A zero field sets no limit, so the
// zero Limits admits everything.
//
// Budgets count tokens (input plus output) and spend in fixed windows of
// UTC time: the minute, the day (from 00:00 UTC), the calendar month. A
// window that ends resets what was used in it; reservations still held
// carry over into the next window until they are settled.
type Limits struct {
	// Requests are request-rate rules, all applied (say one per second and
	// one per minute).
	Requests []Rate
	// Concurrent is the most calls in flight at once. A call holds its slot
	// from the check until its Permit or Reservation is settled (for a
	// stream, when it ends), or until the limiter's TTL passes.
	Concurrent int
	// TokensPerMinute and TokensPerDay cap input plus output tokens.
	TokensPerMinute int64
	TokensPerDay    int64
	// USDPerDay and USDPerMonth cap the spend, priced with the limiter's
	// price table (micro-dollar precision).
	USDPerDay   float64
	USDPerMonth float64
}

// TierRules are the limits of the scopes that depend on a caller's tier.
type TierRules struct {
	// Caller applies to each caller of the tier on their own.
	Caller Limits
	// Group applies to each group, as seen by callers of the tier: the
	// group's counters are shared by all its callers; each call checks them
	// against its own tier's Group limits (rate rules keep one bucket per
	// distinct rule, so tiers with different group rates do not share one).
	Group Limits
	// Tier applies to all callers of the tier together.
	Tier Limits
}

// Rules are a limiter's whole rule set. The zero Rules limit nothing.
//
// # Tiers
//
// A call's [Subject.Tier] selects the rules of its caller, group and tier
// scopes from Tiers; a tier not in Tiers (and the empty tier) uses Default
// and is counted as the tier "". This is how trust levels change limits: an
// "internal" tier with generous rules, a "public" one with tight rules. The
// Global limits apply to every call whatever its tier: they are the
// organisation's quota.
type Rules struct {
	Global  Limits
	Default TierRules
	Tiers   map[string]TierRules
}

// period is the window of a budget.
type period uint8

const (
	perMinute period = iota
	perDay
	perMonth
	numPeriods
)

// window returns the index of the window of p that holds t, and its end.
// The indexes match the script's: minutes and days since the Unix epoch, and
// year×12 + month−1.
func (p period) window(t time.Time) (int64, time.Time) {
	t = t.UTC()
	switch p {
	case perMinute:
		w := floorDiv(t.Unix(), 60)
		return w, time.Unix((w+1)*60, 0).UTC()
	case perDay:
		w := floorDiv(t.Unix(), 86400)
		return w, time.Unix((w+1)*86400, 0).UTC()
	default:
		y, m, _ := t.Date()
		return int64(y)*12 + int64(m) - 1, time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// ruleName is the name of a budget rule in errors, events and usage.
func ruleName(p period, cost bool) string {
	if cost {
		return [...]string{"usd_per_minute", "usd_per_day", "usd_per_month"}[p]
	}
	return [...]string{"tokens_per_minute", "tokens_per_day", "tokens_per_month"}[p]
}

// ratePlan is a validated Rate, with its lease key and GCRA arguments in
// nanoseconds: the emission interval and the tolerance (interval × burst).
// The Redis script names a rule's state by the two.
type ratePlan struct {
	Rate
	name, field string
	ivNs, tolNs int64
}

// budgetPlan is one window's caps: tokens and micro-dollars; 0 = none.
type budgetPlan struct{ tokens, micros int64 }

func (b budgetPlan) active() bool { return b.tokens > 0 || b.micros > 0 }

// scopePlan is validated Limits.
type scopePlan struct {
	rates     []ratePlan
	conc      int
	budgets   [numPeriods]budgetPlan
	hasBudget bool
	periods   []period // the active budget periods, in order
}

type tierPlan struct{ caller, group, tier *scopePlan }

// plans are validated Rules.
type plans struct {
	global *scopePlan
	def    tierPlan
	tiers  map[string]*tierPlan
}

// forTier returns the plans of tier and the tier name to count it under.
func (p *plans) forTier(tier string) (*tierPlan, string) {
	if tp, ok := p.tiers[tier]; ok {
		return tp, tier
	}
	return &p.def, ""
}

func compileRules(r Rules) (*plans, error) {
	var errs []error
	p := &plans{tiers: make(map[string]*tierPlan, len(r.Tiers))}
	p.global = compileLimits(r.Global, "global", &errs)
	p.def = compileTier(r.Default, "default", &errs)
	for name, t := range r.Tiers {
		if name == "" {
			errs = append(errs, errors.New(`ratelimit: tier "" is Rules.Default, not a key of Rules.Tiers`))
			continue
		}
		tp := compileTier(t, "tier "+name, &errs)
		p.tiers[name] = &tp
	}
	return p, errors.Join(errs...)
}

func compileTier(t TierRules, where string, errs *[]error) tierPlan {
	return tierPlan{
		caller: compileLimits(t.Caller, where+" caller", errs),
		group:  compileLimits(t.Group, where+" group", errs),
		tier:   compileLimits(t.Tier, where+" tier", errs),
	}
}

func compileLimits(l Limits, where string, errs *[]error) *scopePlan {
	bad := func(format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("ratelimit: %s: "+format, append([]any{where}, args...)...))
	}
	p := &scopePlan{conc: l.Concurrent}
	for i, r := range l.Requests {
		switch {
		case r.Count < 1:
			bad("Requests[%d].Count %d < 1", i, r.Count)
			continue
		case r.Per < time.Millisecond:
			bad("Requests[%d].Per %v < 1ms", i, r.Per)
			continue
		case r.Burst < 0:
			bad("Requests[%d].Burst %d < 0", i, r.Burst)
			continue
		}
		if r.Burst == 0 {
			r.Burst = r.Count
		}
		name := "requests"
		switch r.Per {
		case time.Second:
			name = "requests_per_second"
		case time.Minute:
			name = "requests_per_minute"
		case time.Hour:
			name = "requests_per_hour"
		}
		iv := float64(r.Per.Microseconds()) / float64(r.Count)
		p.rates = append(p.rates, ratePlan{Rate: r, name: name,
			field: "r:" + strconv.FormatInt(r.Per.Microseconds(), 10) + ":" + strconv.Itoa(r.Count) + ":" + strconv.Itoa(r.Burst),
			ivNs:  max(int64(math.Round(iv*1000)), 1),
			tolNs: max(int64(math.Round(iv*1000*float64(r.Burst))), 1)})
	}
	if l.Concurrent < 0 {
		bad("Concurrent %d < 0", l.Concurrent)
		p.conc = 0
	}
	tokens := func(name string, v int64) int64 {
		if v < 0 {
			bad("%s %d < 0", name, v)
			return 0
		}
		return v
	}
	usd := func(name string, v float64) int64 {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) || v > maxUSD {
			bad("%s %v not in [0, %v]", name, v, maxUSD)
			return 0
		}
		return int64(math.Floor(v * 1e6))
	}
	p.budgets[perMinute].tokens = tokens("TokensPerMinute", l.TokensPerMinute)
	p.budgets[perDay].tokens = tokens("TokensPerDay", l.TokensPerDay)
	p.budgets[perDay].micros = usd("USDPerDay", l.USDPerDay)
	p.budgets[perMonth].micros = usd("USDPerMonth", l.USDPerMonth)
	for per := range numPeriods {
		if p.budgets[per].active() {
			p.periods = append(p.periods, per)
		}
	}
	p.hasBudget = len(p.periods) > 0
	return p
}

// maxUSD keeps micro-dollar counters exact in the script's doubles (2^53).
const maxUSD = 1e9
