package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata" // the zones below, on any machine

	"github.com/secureai-go/secureai/audit"
)

// alertLog is an Alerter that keeps the alerts.
type alertLog struct {
	mu     sync.Mutex
	alerts []audit.Event
}

func (l *alertLog) Alert(_ context.Context, e audit.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.alerts = append(l.alerts, e)
	return nil
}

func (l *alertLog) types() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ts []string
	for _, a := range l.alerts {
		ts = append(ts, a.AlertType)
	}
	return ts
}

func newEvaluator(t *testing.T, rules audit.Rules) (*audit.Evaluator, *alertLog) {
	t.Helper()
	log := &alertLog{}
	ev, err := audit.NewEvaluator(log, rules)
	if err != nil {
		t.Fatal(err)
	}
	return ev, log
}

// t0 is a Wednesday, 10:00 UTC.
var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func call(at time.Time, caller string, tokens int, o audit.Outcome) audit.Event {
	return audit.Event{RequestID: "r", Time: at, Caller: caller, InputTokens: tokens, Outcome: o}
}

func TestTokenSpike(t *testing.T) {
	for _, perCaller := range []bool{false, true} {
		ev, log := newEvaluator(t, audit.Rules{TokenSpike: &audit.TokenSpike{Window: time.Minute, Baseline: 5, MinTokens: 100, PerCaller: perCaller}})
		// Ten minutes of 1000 tokens a minute, from two callers.
		for m := range 10 {
			ev.Write(t.Context(), call(t0.Add(time.Duration(m)*time.Minute), "a", 500, audit.OutcomeOK))
			ev.Write(t.Context(), call(t0.Add(time.Duration(m)*time.Minute+time.Second), "b", 500, audit.OutcomeOK))
		}
		if got := log.types(); len(got) != 0 {
			t.Fatalf("alerts at a steady rate: %v", got)
		}
		// Minute 10: caller a uses 1400 tokens: the total (1900) is under
		// twice 1000, caller a's (1400) is over twice 500.
		ev.Write(t.Context(), call(t0.Add(10*time.Minute), "a", 1400, audit.OutcomeOK))
		ev.Write(t.Context(), call(t0.Add(10*time.Minute+time.Second), "b", 500, audit.OutcomeOK))
		want := 0
		if perCaller {
			want = 1
		}
		if got := log.types(); len(got) != want {
			t.Fatalf("perCaller=%v: alerts %v, want %d", perCaller, got, want)
		}
		// A spike of all: 5000 tokens in minute 11, alerted once.
		for range 5 {
			ev.Write(t.Context(), call(t0.Add(11*time.Minute), "a", 1000, audit.OutcomeOK))
		}
		if got := log.types(); len(got) != want+1 {
			t.Fatalf("perCaller=%v: alerts %v after a spike", perCaller, got)
		}
		a := log.alerts[len(log.alerts)-1]
		if a.Kind != audit.KindAlert || a.AlertType != audit.AlertTokenSpike || a.AlertValue < a.AlertThreshold || a.AlertThreshold <= 0 {
			t.Errorf("alert %+v", a)
		}
	}
}

func TestTokenSpikeWarmup(t *testing.T) {
	ev, log := newEvaluator(t, audit.Rules{TokenSpike: &audit.TokenSpike{Baseline: 3, MinTokens: 1}})
	ev.Write(t.Context(), call(t0, "a", 10, audit.OutcomeOK))
	ev.Write(t.Context(), call(t0.Add(time.Minute), "a", 1000, audit.OutcomeOK))
	if got := log.types(); len(got) != 0 {
		t.Errorf("alert before the baseline was established: %v", got)
	}
}

func TestRefusalBurst(t *testing.T) {
	ev, log := newEvaluator(t, audit.Rules{Refusals: &audit.RefusalBurst{Count: 3, Window: time.Minute}})
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	steps := []struct {
		at      int
		caller  string
		outcome audit.Outcome
		alerts  int
	}{
		{0, "a", audit.OutcomeRefused, 0},
		{10, "a", audit.OutcomeOK, 0},
		{20, "b", audit.OutcomeRefused, 0},
		{30, "a", audit.OutcomeRefused, 0},
		{40, "b", audit.OutcomeRefused, 0},
		{50, "a", audit.OutcomeRefused, 1},  // a: 3 in 50s
		{55, "a", audit.OutcomeRefused, 1},  // counting again
		{85, "b", audit.OutcomeRefused, 1},  // b: 3 in 65s: no
		{200, "a", audit.OutcomeRefused, 1}, // a: 2 since the alert, far apart
		{210, "a", audit.OutcomeRefused, 1}, // a: the last 3 span 155s
	}
	for _, s := range steps {
		e := call(at(s.at), s.caller, 0, s.outcome)
		e.Stage, e.ErrorType = "policy", "model_not_allowed"
		ev.Write(t.Context(), e)
		if got := len(log.types()); got != s.alerts {
			t.Fatalf("after %+v: %d alerts, want %d", s, got, s.alerts)
		}
	}
	a := log.alerts[0]
	if a.AlertType != audit.AlertRefusals || a.Caller != "a" || a.Stage != "policy" || a.AlertValue != 3 || !a.Time.Equal(at(50)) {
		t.Errorf("alert %+v", a)
	}
}

func TestErrorRate(t *testing.T) {
	ev, log := newEvaluator(t, audit.Rules{ErrorRate: &audit.ErrorRate{Window: time.Minute, Baseline: 3, MinCalls: 10}})
	minute := func(m int, calls, failures int) {
		for i := range calls {
			o := audit.OutcomeOK
			if i >= calls-failures {
				o = audit.OutcomeError
				if i%2 == 1 {
					o = audit.OutcomeRefused
				}
			}
			ev.Write(t.Context(), call(t0.Add(time.Duration(m)*time.Minute+time.Duration(i)*time.Second), "a", 0, o))
		}
	}
	for m := range 4 {
		minute(m, 20, 2) // 10%
	}
	minute(4, 20, 3) // 15%: under twice the baseline
	if got := log.types(); len(got) != 0 {
		t.Fatalf("alerts at a normal rate: %v", got)
	}
	minute(5, 20, 10) // 50%
	got := log.types()
	if len(got) != 1 || got[0] != audit.AlertErrorRate {
		t.Fatalf("alerts %v, want one error_rate", got)
	}
	if a := log.alerts[0]; a.AlertValue < 0.2 || a.AlertThreshold < 0.2 || a.AlertThreshold > 0.3 {
		t.Errorf("alert %+v", a)
	}
}

func TestBusinessHours(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	in := func(s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name  string
		hours audit.BusinessHours
		at    time.Time
		alert bool
	}{
		{"weekday inside", audit.BusinessHours{Location: berlin}, in("2026-03-04 09:00"), false},
		{"weekday before", audit.BusinessHours{Location: berlin}, in("2026-03-04 07:59"), true},
		{"weekday at end", audit.BusinessHours{Location: berlin}, in("2026-03-04 18:00"), true},
		{"saturday", audit.BusinessHours{Location: berlin}, in("2026-03-07 10:00"), true},
		// 07:30 UTC on 30 March is 09:30 in Berlin (summer time): inside;
		// on 27 March it is 08:30 (winter time): inside too; 06:30 UTC
		// on 30 March is 08:30: inside, on 27 March 07:30: outside.
		{"summer time", audit.BusinessHours{Location: berlin}, time.Date(2026, 3, 30, 6, 30, 0, 0, time.UTC), false},
		{"winter time", audit.BusinessHours{Location: berlin}, time.Date(2026, 3, 27, 6, 30, 0, 0, time.UTC), true},
		{"UTC default", audit.BusinessHours{}, time.Date(2026, 3, 4, 7, 30, 0, 0, time.UTC), true},
		{"night shift inside", audit.BusinessHours{Location: berlin, Start: 22 * time.Hour, End: 6 * time.Hour, Days: []time.Weekday{time.Friday}}, in("2026-03-07 05:00"), false},
		{"night shift, day after", audit.BusinessHours{Location: berlin, Start: 22 * time.Hour, End: 6 * time.Hour, Days: []time.Weekday{time.Friday}}, in("2026-03-07 23:00"), true},
		{"night shift, midday", audit.BusinessHours{Location: berlin, Start: 22 * time.Hour, End: 6 * time.Hour, Days: []time.Weekday{time.Friday}}, in("2026-03-06 12:00"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, log := newEvaluator(t, audit.Rules{OffHours: &tt.hours})
			ev.Write(t.Context(), call(tt.at, "a", 0, audit.OutcomeOK))
			if got := len(log.types()) == 1; got != tt.alert {
				t.Errorf("alert = %v, want %v", got, tt.alert)
			}
		})
	}
}

func TestBusinessHoursCooldown(t *testing.T) {
	ev, log := newEvaluator(t, audit.Rules{OffHours: &audit.BusinessHours{Cooldown: time.Hour}})
	night := time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)
	for _, s := range []struct {
		after  time.Duration
		caller string
	}{{0, "a"}, {time.Minute, "a"}, {time.Minute, "b"}, {59 * time.Minute, "a"}, {61 * time.Minute, "a"}} {
		ev.Write(t.Context(), call(night.Add(s.after), s.caller, 0, audit.OutcomeOK))
	}
	if got := len(log.types()); got != 3 {
		t.Errorf("%d alerts, want 3 (a, b, a after the cooldown)", got)
	}
}

func TestBudgetThresholdRouted(t *testing.T) {
	ev, log := newEvaluator(t, audit.Rules{})
	ev.Write(t.Context(), audit.Event{Kind: audit.KindBudgetThreshold, Time: t0, Group: "support", AlertValue: 0.8, AlertThreshold: 0.8, CostUSD: 80})
	ev.Write(t.Context(), audit.Event{Kind: audit.KindAlert, AlertType: "x"}) // not re-alerted
	ev.Write(t.Context(), call(t0, "a", 1e6, audit.OutcomeRefused))           // no rules
	if len(log.alerts) != 1 {
		t.Fatalf("alerts %v", log.types())
	}
	a := log.alerts[0]
	if a.Kind != audit.KindAlert || a.AlertType != audit.AlertBudgetThreshold || a.Group != "support" || a.CostUSD != 80 {
		t.Errorf("alert %+v", a)
	}
}

func TestEvaluatorZeroTimeUsesClock(t *testing.T) {
	night := time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)
	ev, log := newEvaluator(t, audit.Rules{Refusals: &audit.RefusalBurst{Count: 1}, Now: func() time.Time { return night }})
	ev.Write(t.Context(), audit.Event{Outcome: audit.OutcomeRefused})
	if len(log.alerts) != 1 || !log.alerts[0].Time.Equal(night) {
		t.Errorf("alerts %+v", log.alerts)
	}
}

func TestEvaluatorErrors(t *testing.T) {
	errBoom := errors.New("boom")
	ev, err := audit.NewEvaluator(audit.AlerterFunc(func(context.Context, audit.Event) error { return errBoom }), audit.Rules{Refusals: &audit.RefusalBurst{Count: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Write(t.Context(), call(t0, "a", 0, audit.OutcomeRefused)); !errors.Is(err, errBoom) || !strings.HasPrefix(err.Error(), "audit: alert refusals: ") {
		t.Errorf("Write = %v", err)
	}
	for _, rules := range []audit.Rules{
		{TokenSpike: &audit.TokenSpike{Factor: -1}},
		{Refusals: &audit.RefusalBurst{Count: -1}},
		{ErrorRate: &audit.ErrorRate{MinRate: -1}},
		{OffHours: &audit.BusinessHours{Start: 25 * time.Hour}},
	} {
		if _, err := audit.NewEvaluator(&alertLog{}, rules); err == nil || !strings.HasPrefix(err.Error(), "audit: ") {
			t.Errorf("NewEvaluator(%+v) = %v", rules, err)
		}
	}
	if _, err := audit.NewEvaluator(nil, audit.Rules{}); err == nil {
		t.Error("nil alerter accepted")
	}
}

// roundTripFunc is an in-memory http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWebhook(t *testing.T) {
	var got *http.Request
	var body []byte
	status := http.StatusNoContent
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		body, _ = io.ReadAll(r.Body)
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader("response body SECRET-BODY")), Request: r}, nil
	})
	hdr := http.Header{"Authorization": {"Bearer HOOK-TOKEN"}}
	w, err := audit.NewWebhook("https://alerts.example/hook?token=QUERY-TOKEN", audit.WebhookOptions{Transport: rt, Header: hdr})
	if err != nil {
		t.Fatal(err)
	}
	a := alertEvent()
	if err := w.Alert(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.Header.Get("Content-Type") != "application/json" || got.Header.Get("Authorization") != "Bearer HOOK-TOKEN" {
		t.Errorf("request %s %v", got.Method, got.Header)
	}
	want, _ := json.Marshal(a)
	if string(body) != string(want) {
		t.Errorf("body %s\nwant %s", body, want)
	}
	status = http.StatusInternalServerError
	err = w.Alert(t.Context(), a)
	if err == nil || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("Alert on a 500 = %v", err)
	}
	for _, secret := range []string{"QUERY-TOKEN", "HOOK-TOKEN", "SECRET-BODY"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q holds %s", err, secret)
		}
	}
}

// TestWebhookTimeout: a receiver that never answers is cut off at the
// timeout, with an error that holds no query.
func TestWebhookTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		})
		w, err := audit.NewWebhook("https://alerts.example/hook?token=QUERY-TOKEN", audit.WebhookOptions{Transport: rt, Timeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = w.Alert(t.Context(), alertEvent())
		if err == nil || strings.Contains(err.Error(), "QUERY-TOKEN") || !strings.HasPrefix(err.Error(), "audit: webhook https://alerts.example/hook: ") {
			t.Errorf("Alert = %v", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("gave up after %v, want the 3s timeout", d)
		}
	})
}

func TestNewWebhookErrors(t *testing.T) {
	for _, u := range []string{"", "/relative", "ftp://x/y", "http://alerts.example/hook", "http://[::1"} {
		if _, err := audit.NewWebhook(u, audit.WebhookOptions{}); err == nil || !strings.HasPrefix(err.Error(), "audit: ") {
			t.Errorf("NewWebhook(%q) = %v", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]/x"} {
		if _, err := audit.NewWebhook(u, audit.WebhookOptions{}); err != nil {
			t.Errorf("NewWebhook(%q) = %v", u, err)
		}
	}
	if _, err := audit.NewWebhook("http://alerts.example/hook", audit.WebhookOptions{AllowHTTP: true}); err != nil {
		t.Errorf("AllowHTTP: %v", err)
	}
}
