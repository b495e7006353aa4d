package audit_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
)

// The raw content of a call that no sink may write: the prompt and answer
// (with unique markers), the API key and the end user's raw id.
const (
	rawPrompt = "summarise PROMPT-MARKER-7f3a for me"
	rawAnswer = "here is ANSWER-MARKER-91c2"
	rawKey    = "sk-KEY-MARKER-0123456789abcdef"
	rawUser   = "alice-USER-MARKER@example.com"
)

var markers = []string{"PROMPT-MARKER", "ANSWER-MARKER", "KEY-MARKER", "USER-MARKER", "SEAL-CANARY"}

// callEvents builds the events the pipeline writes for a call with the raw
// content above, once allowed and once refused at each refusing stage: it
// fills them as the root package does, with hashes, a fingerprint and a
// pseudonym.
func callEvents() []audit.Event {
	mac := func(s string) string {
		h := hmac.New(sha256.New, []byte("pseudonym-key"))
		h.Write([]byte(s))
		return hex.EncodeToString(h.Sum(nil))[:16]
	}
	key := keyprovider.NewSecret(rawKey)
	ok := fullEvent()
	ok.Caller, ok.InputHash, ok.SystemPromptHash, ok.KeyFingerprint = mac(rawUser), mac(rawPrompt), mac("system"), key.Fingerprint()
	ok.InputBytes, ok.OutputTokens = len(rawPrompt), len(rawAnswer)/4
	events := []audit.Event{ok}
	for _, stage := range []string{"caller", "policy", "ratelimit", "input", "budget", "key", "moderation", "upstream", "output"} {
		e := ok.Clone()
		e.Outcome, e.Stage, e.ErrorType = audit.OutcomeRefused, stage, stage+"_refused"
		e.Decisions = append(e.Decisions, audit.Decision{Stage: stage, Verdict: audit.VerdictDeny, Reason: "refused"})
		e.Findings = []audit.Finding{{Stage: "input", Kind: "secret", Type: "openai_key", Count: 1}}
		events = append(events, e)
	}
	return events
}

// TestNoRawContent sends the events of a call through every sink of this
// package and checks that nothing a sink writes, or sends, holds a marker,
// a key or the raw user id.
func TestNoRawContent(t *testing.T) {
	ctx := t.Context()
	events := callEvents()
	var outputs []string

	var jsonOut, slogOut, asyncOut, webhookOut bytes.Buffer
	js, _ := audit.NewJSONSink(&jsonOut)
	ss, _ := audit.NewSlogSink(slog.NewJSONHandler(&slogOut, nil))
	inner, _ := audit.NewJSONSink(&asyncOut)
	async := newAsync(t, inner, audit.AsyncOptions{})
	hook, err := audit.NewWebhook("https://alerts.example/hook", audit.WebhookOptions{
		Header: http.Header{"Authorization": {"Bearer hook-token"}},
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			webhookOut.Write(b)
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	rules := audit.Rules{Refusals: &audit.RefusalBurst{Count: 2}, OffHours: &audit.BusinessHours{Start: time.Hour, End: 2 * time.Hour}}
	ev, _ := audit.NewEvaluator(hook, rules)
	dirs := map[bool]string{false: t.TempDir(), true: t.TempDir()}
	plain := newFileSink(t, audit.FileOptions{Dir: dirs[false]})
	enc := newFileSink(t, audit.FileOptions{Dir: dirs[true], EncryptionKey: testEncKey})
	sink := audit.Multi(js, ss, async, ev, plain, enc)
	for _, e := range events {
		if err := sink.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.(audit.Closer).Close(ctx); err != nil {
		t.Fatal(err)
	}
	if webhookOut.Len() == 0 {
		t.Fatal("no alert was sent")
	}
	outputs = append(outputs, jsonOut.String(), slogOut.String(), asyncOut.String(), webhookOut.String())
	for _, d := range dirs {
		outputs = append(outputs, string(readAll(t, files(t, d))))
	}
	for i, out := range outputs {
		if out == "" {
			t.Errorf("sink %d wrote nothing", i)
		}
		for _, m := range append(markers, testEncKey.Reveal(), "hook-token") {
			if strings.Contains(out, m) {
				t.Errorf("sink %d output holds %q", i, m)
			}
		}
	}
	// The encrypted chain does not even show the hashes and pseudonyms.
	if strings.Contains(string(readAll(t, files(t, dirs[true]))), events[0].Caller) {
		t.Error("encrypted chain shows the caller pseudonym")
	}
}

// TestNoRawContentInErrors: errors of the sinks hold no key material.
func TestNoRawContentInErrors(t *testing.T) {
	failing := audit.SinkFunc(func(context.Context, audit.Event) error { return io.ErrClosedPipe })
	a := newAsync(t, failing, audit.AsyncOptions{})
	for _, e := range callEvents() {
		a.Write(t.Context(), e)
	}
	err := a.Close(t.Context())
	if err == nil {
		t.Fatal("no error")
	}
	for _, m := range markers {
		if strings.Contains(err.Error(), m) {
			t.Errorf("error %q holds %s", err, m)
		}
	}
}
