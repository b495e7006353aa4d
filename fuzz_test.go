package secureai

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/sashabaranov/go-openai"
)

// FuzzRequestPolicy feeds random JSON requests to the chat and Responses
// policies and walkers. Properties: no panic; a request is either refused
// with a typed *Error or left bounded (output cap set and within the limit,
// n, messages and tools within bounds, store off, include_usage on
// streams, a pseudonymous safety_identifier); and rewriting a request with
// its own texts changes nothing that is sent.
func FuzzRequestPolicy(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o-2024-08-06","messages":[{"role":"user","content":"hi"}],"max_tokens":100000}`,
		`{"model":"o3-mini-2025-01-31","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":5,"n":3}`,
		`{"model":"gpt-4o-2024-08-06","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}],"store":true}`,
		`{"model":"gpt-4o-2024-08-06","input":"x","tools":[{"type":"mcp","server_url":"https://a"}],"temperature":-1}`,
		`{"model":"gpt-4o-2024-08-06","messages":[{"role":"tool","tool_calls":[{"function":{"arguments":"{}"}}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","description":"d"}}}],"metadata":{"a":"b"}}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	cfg := defaultConfig()
	for _, o := range []Option{WithModels("gpt-4o-2024-08-06", "o3-mini-2025-01-31"), WithOutputTokens(64, 256),
		WithLimits(Limits{MaxMessages: 8, MaxChoices: 2, MaxTools: 4})} {
		if err := o(cfg); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, stream bool) {
		var chat openai.ChatCompletionRequest
		if json.Unmarshal(data, &chat) == nil {
			call := &Call{Stream: stream, Pseudonym: "u_p"}
			capTokens, n, err := cfg.chatPolicy(call, &chat)
			if err != nil {
				assertTyped(t, err)
			} else {
				sent := chat.MaxTokens + chat.MaxCompletionTokens
				if sent <= 0 || sent > 256 || sent != capTokens || (chat.MaxTokens > 0) == (chat.MaxCompletionTokens > 0) {
					t.Fatalf("output cap: max_tokens=%d max_completion_tokens=%d", chat.MaxTokens, chat.MaxCompletionTokens)
				}
				if n < 1 || n > 2 || chat.N > 2 || chat.Store || len(chat.Messages) == 0 || len(chat.Messages) > 8 ||
					len(chat.Tools)+len(chat.Functions) > 4 || chat.SafetyIdentifier != "u_p" || chat.Stream != stream {
					t.Fatalf("unbounded request passed: %+v", chat)
				}
				if stream && (chat.StreamOptions == nil || !chat.StreamOptions.IncludeUsage) {
					t.Fatal("stream without include_usage")
				}
			}
			roundTrip(t, &chat, walkChat, cloneChat)
		}
		var resp openai.CreateResponseRequest
		if json.Unmarshal(data, &resp) == nil {
			call := &Call{Stream: stream, Pseudonym: "u_p"}
			capTokens, _, err := cfg.responsesPolicy(call, &resp)
			if err != nil {
				assertTyped(t, err)
			} else if resp.MaxOutputTokens <= 0 || resp.MaxOutputTokens > 256 || resp.MaxOutputTokens != capTokens ||
				resp.Store == nil || *resp.Store || resp.PreviousResponseID != "" || resp.Background || len(resp.ExtraBody) > 0 {
				t.Fatalf("unbounded Responses request passed: %+v", resp)
			}
			roundTrip(t, &resp, walkResponses, cloneResponses)
		}
	})
}

func assertTyped(t *testing.T, err error) {
	t.Helper()
	e, ok := errors.AsType[*Error](err)
	if !ok || (e.Kind != ErrPolicy && e.Kind != ErrModelNotAllowed) || e.Reason == "" {
		t.Fatalf("untyped refusal %T %v", err, err)
	}
}

// roundTrip collects the texts of r, writes them back into a copy, and
// checks that the copy marshals as r does and that r was not touched.
func roundTrip[R any](t *testing.T, r *R, walk func(*R, *walker), clone func(*R)) {
	t.Helper()
	before, err1 := json.Marshal(r)
	w := walker{}
	walk(r, &w)
	cp := *r
	clone(&cp)
	aw := walker{apply: true, fields: w.fields}
	walk(&cp, &aw)
	after, err2 := json.Marshal(r)
	sent, err3 := json.Marshal(&cp)
	if (err1 == nil) != (err2 == nil) || !bytes.Equal(before, after) {
		t.Fatalf("walking changed the caller's request:\n%s\n%s", before, after)
	}
	if err1 == nil && w.err == nil && (err3 != nil || !jsonEqual(before, sent)) {
		t.Fatalf("rewrite with the same texts changed the request:\n%s\n%s (%v)", before, sent, err3)
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
