package audit_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/secureai-go/secureai/audit"
)

// fullEvent returns an event with every field set.
func fullEvent() audit.Event {
	return audit.Event{
		Kind:             audit.KindCall,
		RequestID:        "req-1",
		Time:             time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("X", 2*3600)),
		Operation:        "chat",
		Provider:         "openai",
		Endpoint:         "chat.completions",
		Stream:           true,
		Environment:      "production",
		Caller:           "c-9f86d081",
		Group:            "search",
		Tier:             "gold",
		Purpose:          "support_reply",
		RequestModel:     "gpt-4o-mini",
		ResponseModel:    "gpt-4o-mini-2024-07-18",
		ResponseID:       "chatcmpl-1",
		MaxTokens:        256,
		Choices:          2,
		FinishReasons:    []string{"stop", "length"},
		InputTokens:      12,
		OutputTokens:     34,
		InputBytes:       56,
		InputHash:        "h-2c26b46b",
		SystemPromptHash: "h-5e884898",
		Decisions:        []audit.Decision{{Stage: "policy", Check: "model_allowlist", Verdict: audit.VerdictAllow, Duration: 2500 * time.Nanosecond}, {Stage: "output", Verdict: audit.VerdictModify, Reason: "redacted"}},
		Findings:         []audit.Finding{{Stage: "input", Kind: "pii", Type: "email", Count: 2}, {Kind: "injection", Count: 1}},
		Outcome:          audit.OutcomeCut,
		ErrorType:        "upstream_429",
		Stage:            "upstream",
		HTTPStatus:       429,
		Retries:          3,
		KeyFingerprint:   "kf-abcd",
		CostUSD:          0.000125,
		AlertType:        "token_spike",
		AlertValue:       4096,
		AlertThreshold:   2000.5,
		DroppedBefore:    7,
		Duration:         1500 * time.Microsecond,
	}
}

// alertEvent returns an alert as the Evaluator makes them.
func alertEvent() audit.Event {
	return audit.Event{
		Kind:           audit.KindAlert,
		RequestID:      "req-3",
		Time:           time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Caller:         "c-1",
		AlertType:      "refusals",
		AlertValue:     5,
		AlertThreshold: 5,
		CostUSD:        1e-9,
	}
}

// minimalEvent returns an event with only the fields that are always encoded.
func minimalEvent() audit.Event {
	return audit.Event{
		RequestID: "req-2",
		Time:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Operation: "embeddings",
		Provider:  "azure.ai.openai",
		Endpoint:  "embeddings",
		Outcome:   audit.OutcomeRefused,
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return m
}

func TestEventMarshalJSON(t *testing.T) {
	tests := []struct {
		name  string
		event audit.Event
		want  map[string]any
	}{
		{
			name:  "full",
			event: fullEvent(),
			want: map[string]any{
				"schema":                         "secureai.audit/v1",
				"kind":                           "call",
				"request_id":                     "req-1",
				"time":                           "2026-01-02T01:04:05.000006Z",
				"gen_ai.operation.name":          "chat",
				"gen_ai.provider.name":           "openai",
				"endpoint":                       "chat.completions",
				"stream":                         true,
				"deployment.environment.name":    "production",
				"enduser.pseudo.id":              "c-9f86d081",
				"group":                          "search",
				"tier":                           "gold",
				"purpose":                        "support_reply",
				"gen_ai.request.model":           "gpt-4o-mini",
				"gen_ai.response.model":          "gpt-4o-mini-2024-07-18",
				"gen_ai.response.id":             "chatcmpl-1",
				"gen_ai.request.max_tokens":      256.0,
				"gen_ai.request.choice.count":    2.0,
				"gen_ai.response.finish_reasons": []any{"stop", "length"},
				"gen_ai.usage.input_tokens":      12.0,
				"gen_ai.usage.output_tokens":     34.0,
				"input_bytes":                    56.0,
				"input_hash":                     "h-2c26b46b",
				"system_prompt_hash":             "h-5e884898",
				"decisions": []any{
					map[string]any{"stage": "policy", "check": "model_allowlist", "verdict": "allow", "duration_ms": 0.0025},
					map[string]any{"stage": "output", "verdict": "modify", "reason": "redacted"},
				},
				"findings": []any{
					map[string]any{"stage": "input", "kind": "pii", "type": "email", "count": 2.0},
					map[string]any{"kind": "injection", "count": 1.0},
				},
				"outcome":                   "cut",
				"error.type":                "upstream_429",
				"stage":                     "upstream",
				"http.response.status_code": 429.0,
				"retries":                   3.0,
				"key_fingerprint":           "kf-abcd",
				"cost_usd":                  0.000125,
				"alert.type":                "token_spike",
				"alert.value":               4096.0,
				"alert.threshold":           2000.5,
				"dropped_before":            7.0,
				"duration_ms":               1.5,
			},
		},
		{
			name:  "minimal",
			event: minimalEvent(),
			want: map[string]any{
				"schema":                     "secureai.audit/v1",
				"kind":                       "call",
				"request_id":                 "req-2",
				"time":                       "2026-01-02T03:04:05Z",
				"gen_ai.operation.name":      "embeddings",
				"gen_ai.provider.name":       "azure.ai.openai",
				"endpoint":                   "embeddings",
				"gen_ai.usage.input_tokens":  0.0,
				"gen_ai.usage.output_tokens": 0.0,
				"input_bytes":                0.0,
				"outcome":                    "refused",
				"duration_ms":                0.0,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.event)
			if err != nil {
				t.Fatal(err)
			}
			got := decode(t, b)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("json.Marshal =\n%s\nwant keys and values\n%v", b, tt.want)
			}
		})
	}
}

func TestAddDecision(t *testing.T) {
	var e audit.Event
	d1 := audit.Decision{Stage: "caller", Verdict: audit.VerdictAllow}
	d2 := audit.Decision{Stage: "budget", Check: "daily", Verdict: audit.VerdictDeny, Reason: "exhausted"}
	e.AddDecision(d1)
	e.AddDecision(d2)
	if want := []audit.Decision{d1, d2}; !reflect.DeepEqual(e.Decisions, want) {
		t.Errorf("Decisions = %v, want %v", e.Decisions, want)
	}
}

// TestLogValue checks that an event logged as a nested attribute has the
// same keys and values as its JSON form.
func TestLogValue(t *testing.T) {
	tests := []struct {
		name  string
		event audit.Event
	}{
		{"full", fullEvent()},
		{"minimal", minimalEvent()},
		{"alert", alertEvent()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).InfoContext(t.Context(), "x", "event", tt.event)
			got := decode(t, buf.Bytes())["event"]
			b, err := json.Marshal(tt.event)
			if err != nil {
				t.Fatal(err)
			}
			if want := decode(t, b); !reflect.DeepEqual(got, want) {
				t.Errorf("slog group = %v\nwant %v", got, want)
			}
		})
	}
}

// TestLogValueCopies checks that the value does not share the event's slices.
func TestLogValueCopies(t *testing.T) {
	e := fullEvent()
	v := e.LogValue()
	e.Decisions[0].Verdict = audit.VerdictDeny
	e.FinishReasons[0] = "changed"
	e.Findings[0].Count = 99
	for _, a := range v.Group() {
		switch a.Key {
		case "decisions":
			if d := a.Value.Any().([]audit.Decision); d[0].Verdict != audit.VerdictAllow {
				t.Errorf("decisions changed with the event: %v", d)
			}
		case "findings":
			if f := a.Value.Any().([]audit.Finding); f[0].Count != 2 {
				t.Errorf("findings changed with the event: %v", f)
			}
		case "gen_ai.response.finish_reasons":
			if r := a.Value.Any().([]string); r[0] != "stop" {
				t.Errorf("finish reasons changed with the event: %v", r)
			}
		}
	}
}

// TestUnmarshalJSONRoundTrip checks that the JSON form decodes back into
// the same event, durations included.
func TestUnmarshalJSONRoundTrip(t *testing.T) {
	for _, e := range []audit.Event{fullEvent(), minimalEvent(), alertEvent()} {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back audit.Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		want := e
		want.Time = e.Time.UTC()
		if want.Kind == "" {
			want.Kind = audit.KindCall
		}
		if !reflect.DeepEqual(back, want) {
			t.Errorf("round trip\n got %+v\nwant %+v", back, want)
		}
	}
	var e audit.Event
	if err := json.Unmarshal([]byte(`{"time":1}`), &e); err == nil || !strings.HasPrefix(err.Error(), "audit: ") {
		t.Errorf("bad input: error %v", err)
	}
}

func TestClone(t *testing.T) {
	e := fullEvent()
	c := e.Clone()
	e.Decisions[0].Stage = "x"
	e.Findings[0].Kind = "x"
	e.FinishReasons[0] = "x"
	if c.Decisions[0].Stage == "x" || c.Findings[0].Kind == "x" || c.FinishReasons[0] == "x" {
		t.Errorf("clone shares memory: %+v", c)
	}
}

// TestFloatEncoding checks the float keys against encoding/json for the
// magnitudes where formats differ, and that non-finite values become 0.
func TestFloatEncoding(t *testing.T) {
	for _, f := range []float64{1e-9, 1e-7, 0.000125, 1, 123456789.125, 1e20, 1e21, 1e300, -2.5e-8} {
		e := audit.Event{CostUSD: f}
		b, _ := json.Marshal(e)
		want, _ := json.Marshal(f)
		if !bytes.Contains(b, append([]byte(`"cost_usd":`), want...)) {
			t.Errorf("cost %v: %s lacks %s", f, b, want)
		}
		assertSameAsSlog(t, e)
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		e := audit.Event{CostUSD: f, AlertValue: f}
		b, _ := json.Marshal(e)
		if !json.Valid(b) || bytes.Contains(b, []byte("cost_usd")) {
			t.Errorf("non-finite %v: %s", f, b)
		}
		assertSameAsSlog(t, e)
	}
}

// TestKeysMatchStructTags checks the hand-written encoders against
// encoding/json's reading of Event's struct tags: the same keys and values,
// plus "schema" and "duration_ms".
func TestKeysMatchStructTags(t *testing.T) {
	type plain audit.Event // Event's fields without its methods
	for _, e := range []audit.Event{fullEvent(), minimalEvent(), alertEvent()} {
		e.Time = e.Time.UTC()
		if e.Kind == "" {
			e.Kind = audit.KindCall
		}
		b, err := json.Marshal(plain(e))
		if err != nil {
			t.Fatal(err)
		}
		want := decode(t, b)
		want["schema"] = audit.SchemaVersion
		want["duration_ms"] = float64(e.Duration) / float64(time.Millisecond)
		got, _ := json.Marshal(e)
		if !reflect.DeepEqual(decode(t, got), want) {
			t.Errorf("MarshalJSON\n%s\nstruct tags\n%s", got, b)
		}
	}
}
