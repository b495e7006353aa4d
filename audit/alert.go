package audit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Alerter receives alerts: events of Kind [KindAlert], with AlertType set to
// the rule that fired. Alert must be safe for concurrent use and must not
// retain e's slices after it returns.
type Alerter interface {
	Alert(ctx context.Context, e Event) error
}

// AlerterFunc adapts an ordinary function to the [Alerter] interface. A
// sink's Write method fits, so alerts can join the audit trail:
// AlerterFunc(fileSink.Write).
type AlerterFunc func(ctx context.Context, e Event) error

// Alert calls f(ctx, e). It panics if f is nil.
func (f AlerterFunc) Alert(ctx context.Context, e Event) error { return f(ctx, e) }

// The AlertType values of the alerts an [Evaluator] raises.
const (
	AlertTokenSpike      = "token_spike"
	AlertRefusals        = "refusals"
	AlertErrorRate       = "error_rate"
	AlertOffHours        = "off_hours"
	AlertBudgetThreshold = "budget_threshold"
)

// TokenSpike alerts when the tokens (input + output) used in a window pass
// Factor times their moving average over the previous windows. The zero
// value uses the defaults.
type TokenSpike struct {
	// Window is the length of a window. Default 1 minute.
	Window time.Duration
	// Baseline is how many past windows the moving average (an
	// exponentially weighted one, of span Baseline) stands for, and how
	// many windows must have passed before the rule fires. Default 60.
	Baseline int
	// Factor is how many times the baseline a window must exceed. Default 2.
	Factor float64
	// MinTokens is the least tokens in a window for an alert. Default 1000.
	MinTokens int
	// PerCaller watches each caller apart, instead of all calls together.
	PerCaller bool
}

// RefusalBurst alerts when one caller was refused Count times within
// Window: a client probing the policy, or repeating filtered requests. The
// count starts again after each alert. The zero value uses the defaults.
type RefusalBurst struct {
	Count  int           // default 5
	Window time.Duration // default 5 minutes
}

// ErrorRate alerts when the share of calls refused or failed in a window
// passes both MinRate and Factor times its moving average over the previous
// windows, as probing does. The zero value uses the defaults.
type ErrorRate struct {
	// Window is the length of a window. Default 5 minutes.
	Window time.Duration
	// Baseline is the span of the moving average and the number of windows
	// with calls before the rule fires. Default 12.
	Baseline int
	// Factor is how many times the baseline rate a window must reach.
	// Default 2.
	Factor float64
	// MinRate is the rate a window must exceed. Default 0.1.
	MinRate float64
	// MinCalls is the least calls in a window for an alert. Default 20.
	MinCalls int
}

// BusinessHours alerts on calls that start outside business hours, at most
// once per caller per Cooldown. The zero value means Monday to Friday, 8:00
// to 18:00 UTC.
type BusinessHours struct {
	// Location is the time zone of the hours; daylight saving time is
	// followed. Default UTC.
	Location *time.Location
	// Days are the business days. Default Monday to Friday.
	Days []time.Weekday
	// Start and End are the business hours, as offsets from midnight on
	// the wall clock. Default 8h and 18h. An End before Start spans
	// midnight (a night shift), with Days naming the day it starts.
	Start, End time.Duration
	// Cooldown is the least time between two alerts for one caller.
	// Default 1 hour.
	Cooldown time.Duration
}

// Rules configures an [Evaluator]: a nil rule is off. Events of Kind
// [KindBudgetThreshold] are always passed on as alerts.
type Rules struct {
	// TokenSpike alerts on token use far above its moving baseline.
	TokenSpike *TokenSpike
	// Refusals alerts on one caller refused again and again.
	Refusals *RefusalBurst
	// ErrorRate alerts on a rise of refused and failed calls.
	ErrorRate *ErrorRate
	// OffHours alerts on calls outside business hours.
	OffHours *BusinessHours
	// Now returns the current time, used for events without a Time.
	// Default time.Now.
	Now func() time.Time
}

// Evaluator is a [Sink] that evaluates alert rules over the events it is
// given and sends each alert raised to an [Alerter], as an [Event] of Kind
// [KindAlert] with AlertType naming the rule and AlertValue and
// AlertThreshold saying why. It keeps no events, only counters.
//
// Rules are evaluated at the event's end (Time + Duration), so they follow
// the time of the events, not the wall clock: replaying a trail raises the
// same alerts. Events of Kind [KindBudgetThreshold], which the ratelimit
// package writes when a budget crosses a threshold, become alerts of type
// "budget_threshold". Events of Kind [KindAlert] are ignored.
//
// Write delivers the alerts before it returns: put the Evaluator with the
// other sinks behind an [AsyncSink] so that a slow Alerter never slows a
// call. Write returns the Alerter's errors, joined. An Evaluator is safe for
// concurrent use. The zero Evaluator is not usable; use [NewEvaluator].
type Evaluator struct {
	alerter Alerter
	rules   Rules

	mu       sync.Mutex
	spikes   map[string]*series // by caller, or "" for all calls
	errs     series             // failure rate: cur counts failures, calls apart
	calls    float64            // calls in the error-rate window
	refusals map[string][]time.Time
	offHours map[string]time.Time // last alert per caller
	swept    time.Time
}

// series tracks a value per window and its moving average.
type series struct {
	win   int64   // index of the current window
	cur   float64 // value in the current window
	avg   float64 // moving average of past windows
	n     int     // past windows seen
	fired bool    // alerted in the current window
	live  bool    // win is set
}

// advance moves s to window w, folding the finished windows into the
// average with weight alpha. Windows with no value count as zero when
// countEmpty is set; otherwise they are skipped.
func (s *series) advance(w int64, alpha float64, countEmpty bool) {
	if !s.live {
		s.win, s.live = w, true
		return
	}
	if w <= s.win { // a late event counts in the current window
		return
	}
	s.fold(s.cur, alpha)
	if gap := w - s.win - 1; gap > 0 && countEmpty {
		s.avg *= math.Pow(1-alpha, float64(min(gap, 1<<20)))
		s.n += int(min(gap, 1<<20))
	}
	s.win, s.cur, s.fired = w, 0, false
}

func (s *series) fold(v, alpha float64) {
	if s.n == 0 {
		s.avg = v
	} else {
		s.avg = alpha*v + (1-alpha)*s.avg
	}
	s.n++
}

// NewEvaluator returns an Evaluator sending the alerts of rules to a. It
// returns an error if a is nil or a rule holds a negative value.
func NewEvaluator(a Alerter, rules Rules) (*Evaluator, error) {
	if a == nil {
		return nil, errors.New("audit: evaluator: nil alerter")
	}
	if r := rules.TokenSpike; r != nil {
		c := *r
		if c.Window < 0 || c.Baseline < 0 || c.Factor < 0 || c.MinTokens < 0 {
			return nil, errors.New("audit: evaluator: negative value in TokenSpike")
		}
		c.Window = orDefault(c.Window, time.Minute)
		c.Baseline = orDefault(c.Baseline, 60)
		c.Factor = orDefault(c.Factor, 2)
		c.MinTokens = orDefault(c.MinTokens, 1000)
		rules.TokenSpike = &c
	}
	if r := rules.Refusals; r != nil {
		c := *r
		if c.Count < 0 || c.Window < 0 {
			return nil, errors.New("audit: evaluator: negative value in RefusalBurst")
		}
		c.Count = orDefault(c.Count, 5)
		c.Window = orDefault(c.Window, 5*time.Minute)
		rules.Refusals = &c
	}
	if r := rules.ErrorRate; r != nil {
		c := *r
		if c.Window < 0 || c.Baseline < 0 || c.Factor < 0 || c.MinRate < 0 || c.MinCalls < 0 {
			return nil, errors.New("audit: evaluator: negative value in ErrorRate")
		}
		c.Window = orDefault(c.Window, 5*time.Minute)
		c.Baseline = orDefault(c.Baseline, 12)
		c.Factor = orDefault(c.Factor, 2)
		c.MinRate = orDefault(c.MinRate, 0.1)
		c.MinCalls = orDefault(c.MinCalls, 20)
		rules.ErrorRate = &c
	}
	if r := rules.OffHours; r != nil {
		c := *r
		if c.Start < 0 || c.End < 0 || c.Start >= 24*time.Hour || c.End > 24*time.Hour || c.Cooldown < 0 {
			return nil, errors.New("audit: evaluator: BusinessHours Start and End must lie within a day")
		}
		if c.Location == nil {
			c.Location = time.UTC
		}
		if len(c.Days) == 0 {
			c.Days = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
		} else {
			c.Days = slices.Clone(c.Days)
		}
		if c.Start == 0 && c.End == 0 {
			c.Start, c.End = 8*time.Hour, 18*time.Hour
		}
		c.Cooldown = orDefault(c.Cooldown, time.Hour)
		rules.OffHours = &c
	}
	if rules.Now == nil {
		rules.Now = time.Now
	}
	return &Evaluator{alerter: a, rules: rules, spikes: map[string]*series{},
		refusals: map[string][]time.Time{}, offHours: map[string]time.Time{}}, nil
}

func orDefault[T int | float64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Write evaluates the rules with e and sends the alerts it raises to the
// Alerter, returning the Alerter's errors joined. It does not retain e.
func (ev *Evaluator) Write(ctx context.Context, e Event) error {
	var alerts []Event
	switch e.kind() {
	case KindAlert:
		return nil
	case KindBudgetThreshold:
		a := e.Clone()
		a.Kind, a.AlertType = KindAlert, AlertBudgetThreshold
		alerts = append(alerts, a)
	default:
		alerts = ev.evaluate(&e)
	}
	var errs []error
	for _, a := range alerts {
		if err := ev.alerter.Alert(ctx, a); err != nil {
			errs = append(errs, fmt.Errorf("audit: alert %s: %w", a.AlertType, err))
		}
	}
	return errors.Join(errs...)
}

// alertFrom starts an alert raised by e at time t.
func alertFrom(e *Event, typ string, t time.Time, value, threshold float64) Event {
	return Event{Kind: KindAlert, AlertType: typ, Time: t, RequestID: e.RequestID,
		Environment: e.Environment, AlertValue: value, AlertThreshold: threshold}
}

func (ev *Evaluator) evaluate(e *Event) []Event {
	t := e.Time.Add(e.Duration)
	if e.Time.IsZero() {
		t = ev.rules.Now()
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var alerts []Event
	if r := ev.rules.TokenSpike; r != nil {
		key := ""
		if r.PerCaller {
			key = e.Caller
		}
		s := ev.spikes[key]
		if s == nil {
			s = &series{}
			ev.spikes[key] = s
		}
		s.advance(windowOf(t, r.Window), 2/(float64(r.Baseline)+1), true)
		s.cur += float64(e.InputTokens + e.OutputTokens)
		if limit := r.Factor * s.avg; !s.fired && s.n >= r.Baseline && s.cur >= float64(r.MinTokens) && s.cur > limit {
			s.fired = true
			a := alertFrom(e, AlertTokenSpike, t, s.cur, limit)
			if r.PerCaller {
				a.Caller, a.Group, a.Tier = e.Caller, e.Group, e.Tier
			}
			alerts = append(alerts, a)
		}
	}
	if r := ev.rules.ErrorRate; r != nil {
		s := &ev.errs
		w := windowOf(t, r.Window)
		if s.live && w > s.win {
			if ev.calls > 0 {
				s.fold(s.cur/ev.calls, 2/(float64(r.Baseline)+1))
			}
			s.win, s.cur, s.fired, ev.calls = w, 0, false, 0
		}
		s.win, s.live = max(s.win, w), true
		ev.calls++
		if e.Outcome == OutcomeError || e.Outcome == OutcomeRefused {
			s.cur++
		}
		rate := s.cur / ev.calls
		limit := max(r.MinRate, r.Factor*s.avg)
		if !s.fired && s.n >= r.Baseline && ev.calls >= float64(r.MinCalls) && rate > r.MinRate && rate >= r.Factor*s.avg {
			s.fired = true
			alerts = append(alerts, alertFrom(e, AlertErrorRate, t, rate, limit))
		}
	}
	if r := ev.rules.Refusals; r != nil && e.Outcome == OutcomeRefused {
		ts := append(ev.refusals[e.Caller], t)
		if len(ts) > r.Count {
			ts = ts[len(ts)-r.Count:]
		}
		if len(ts) == r.Count && t.Sub(ts[0]) <= r.Window {
			a := alertFrom(e, AlertRefusals, t, float64(r.Count), float64(r.Count))
			a.Caller, a.Group, a.Tier, a.Stage, a.ErrorType = e.Caller, e.Group, e.Tier, e.Stage, e.ErrorType
			alerts = append(alerts, a)
			ts = ts[:0]
		}
		ev.refusals[e.Caller] = ts
	}
	if r := ev.rules.OffHours; r != nil && !e.Time.IsZero() && !r.within(e.Time) {
		if last, ok := ev.offHours[e.Caller]; !ok || e.Time.Sub(last) >= r.Cooldown {
			ev.offHours[e.Caller] = e.Time
			local := e.Time.In(r.Location)
			h := float64(local.Hour()) + float64(local.Minute())/60
			a := alertFrom(e, AlertOffHours, t, h, r.Start.Hours())
			a.Caller, a.Group, a.Tier = e.Caller, e.Group, e.Tier
			alerts = append(alerts, a)
		}
	}
	ev.sweep(t)
	return alerts
}

// within reports whether t falls in business hours.
func (b *BusinessHours) within(t time.Time) bool {
	local := t.In(b.Location)
	off := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute +
		time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	day := local.Weekday()
	if b.Start <= b.End {
		return slices.Contains(b.Days, day) && off >= b.Start && off < b.End
	}
	// The hours span midnight: before End they belong to the day before.
	if off >= b.Start {
		return slices.Contains(b.Days, day)
	}
	return off < b.End && slices.Contains(b.Days, (day+6)%7)
}

// sweep forgets, at most once a minute of event time, the per-caller state
// that can no longer matter, so that memory follows the active callers.
func (ev *Evaluator) sweep(t time.Time) {
	if t.Sub(ev.swept) < time.Minute {
		return
	}
	ev.swept = t
	if r := ev.rules.Refusals; r != nil {
		for k, ts := range ev.refusals {
			if len(ts) == 0 || t.Sub(ts[len(ts)-1]) > r.Window {
				delete(ev.refusals, k)
			}
		}
	}
	if r := ev.rules.OffHours; r != nil {
		for k, last := range ev.offHours {
			if t.Sub(last) > r.Cooldown {
				delete(ev.offHours, k)
			}
		}
	}
	if r := ev.rules.TokenSpike; r != nil && r.PerCaller {
		// A caller idle for the whole baseline span has decayed to
		// nothing: start it again when it returns.
		w := windowOf(t, r.Window)
		for k, s := range ev.spikes {
			if w-s.win > int64(4*r.Baseline) {
				delete(ev.spikes, k)
			}
		}
	}
}

func windowOf(t time.Time, d time.Duration) int64 {
	return t.UnixNano() / int64(d)
}
