package audit_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/secureai-go/secureai/audit"
)

// fullEvent returns an event with every field set.
func fullEvent() audit.Event {
	return audit.Event{
		RequestID:      "req-1",
		Time:           time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("X", 2*3600)),
		Operation:      "chat",
		Provider:       "openai",
		Endpoint:       "chat.completions",
		Stream:         true,
		Environment:    "production",
		Caller:         "c-9f86d081",
		Group:          "search",
		Tier:           "gold",
		RequestModel:   "gpt-4o-mini",
		ResponseModel:  "gpt-4o-mini-2024-07-18",
		ResponseID:     "chatcmpl-1",
		MaxTokens:      256,
		Choices:        2,
		FinishReasons:  []string{"stop", "length"},
		InputTokens:    12,
		OutputTokens:   34,
		InputBytes:     56,
		InputHash:      "h-2c26b46b",
		Decisions:      []audit.Decision{{Stage: "policy", Check: "model_allowlist", Verdict: audit.VerdictAllow}, {Stage: "output", Verdict: audit.VerdictModify, Reason: "redacted"}},
		Outcome:        audit.OutcomeCut,
		ErrorType:      "upstream_429",
		Stage:          "upstream",
		HTTPStatus:     429,
		Retries:        3,
		KeyFingerprint: "kf-abcd",
		Duration:       1500 * time.Microsecond,
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
				"decisions": []any{
					map[string]any{"stage": "policy", "check": "model_allowlist", "verdict": "allow"},
					map[string]any{"stage": "output", "verdict": "modify", "reason": "redacted"},
				},
				"outcome":                   "cut",
				"error.type":                "upstream_429",
				"stage":                     "upstream",
				"http.response.status_code": 429.0,
				"retries":                   3.0,
				"key_fingerprint":           "kf-abcd",
				"duration_ms":               1.5,
			},
		},
		{
			name:  "minimal",
			event: minimalEvent(),
			want: map[string]any{
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
	for _, a := range v.Group() {
		switch a.Key {
		case "decisions":
			if d := a.Value.Any().([]audit.Decision); d[0].Verdict != audit.VerdictAllow {
				t.Errorf("decisions changed with the event: %v", d)
			}
		case "gen_ai.response.finish_reasons":
			if r := a.Value.Any().([]string); r[0] != "stop" {
				t.Errorf("finish reasons changed with the event: %v", r)
			}
		}
	}
}
