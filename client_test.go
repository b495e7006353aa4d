package secureai_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/secureaitest"
)

const (
	chatModel      = "gpt-4o-2024-08-06"
	reasoningModel = "o3-mini-2025-01-31"
	embedModel     = "text-embedding-3-small"
	modModel       = "omni-moderation-2024-09-26"
	testKey        = "sk-test-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	rotatedKey     = "sk-test-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	rejectedKey    = "sk-test-rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"
)

// fixture is a client wired to a fake server, a fake key provider and an
// audit recorder.
type fixture struct {
	srv    *secureaitest.Server
	keys   *secureaitest.Keys
	rec    *secureaitest.AuditRecorder
	client *secureai.Client
	ctx    context.Context
}

func newFixture(t *testing.T, opts ...secureai.Option) *fixture {
	t.Helper()
	f := &fixture{srv: secureaitest.NewServer(t), keys: secureaitest.NewKeys(testKey), rec: &secureaitest.AuditRecorder{}}
	base := []secureai.Option{
		secureai.WithKeyProvider(f.keys),
		secureai.WithBaseURL(f.srv.URL()),
		secureai.WithModels(chatModel, reasoningModel, modModel),
		secureai.WithFloatingModels(embedModel),
		secureai.WithAuditSink(f.rec),
		secureai.WithRetry(secureai.RetryPolicy{MaxRetries: 2, BaseDelay: 1, MaxDelay: 2}),
	}
	c, err := secureai.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	f.client = c
	f.ctx = secureai.WithCaller(t.Context(), secureai.Caller{ID: "alice@example.com", Group: "team-a", Tier: "pro"})
	return f
}

func chatReq(model string) openai.ChatCompletionRequest {
	return openai.ChatCompletionRequest{Model: model, Messages: []openai.ChatCompletionMessage{
		{Role: "system", Content: "You are terse."}, {Role: "user", Content: "Say hello."}}}
}

func lastBody(t *testing.T, srv *secureaitest.Server) (map[string]any, secureaitest.Request) {
	t.Helper()
	reqs := srv.Requests()
	if len(reqs) == 0 {
		t.Fatal("no request reached the fake server")
	}
	r := reqs[len(reqs)-1]
	m, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return m, r
}

func num(v any) int {
	switch n := v.(type) {
	case json.Number:
		i, _ := n.Int64()
		return int(i)
	case float64:
		return int(n)
	}
	return -1
}

// TestWhatLeavesTheProcess checks the recorded requests: the right output
// cap for each endpoint and model, store, include_usage, a pseudonymous
// safety_identifier, and the key of the moment.
func TestWhatLeavesTheProcess(t *testing.T) {
	f := newFixture(t, secureai.WithOutputTokens(100, 300))

	drain := func(t *testing.T, recv func() error) {
		t.Helper()
		for {
			if err := recv(); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				return
			}
		}
	}
	cases := []struct {
		name        string
		call        func(t *testing.T)
		capField    string
		absentField string
		want        int
		check       func(t *testing.T, body map[string]any)
	}{
		{"chat", func(t *testing.T) {
			r := chatReq(chatModel)
			r.MaxTokens = 5000
			if _, err := f.client.CreateChatCompletion(f.ctx, r); err != nil {
				t.Fatal(err)
			}
		}, "max_tokens", "max_completion_tokens", 300, nil},
		{"chat reasoning", func(t *testing.T) {
			r := chatReq(reasoningModel)
			r.MaxTokens = 50 // go-openai would refuse max_tokens here; the policy moves it
			if _, err := f.client.CreateChatCompletion(f.ctx, r); err != nil {
				t.Fatal(err)
			}
		}, "max_completion_tokens", "max_tokens", 50, nil},
		{"chat stream", func(t *testing.T) {
			s, err := f.client.CreateChatCompletionStream(f.ctx, chatReq(chatModel))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			drain(t, func() error { _, err := s.Recv(); return err })
		}, "max_tokens", "max_completion_tokens", 100, func(t *testing.T, body map[string]any) {
			so, _ := body["stream_options"].(map[string]any)
			if so["include_usage"] != true {
				t.Errorf("stream_options = %v, want include_usage true", body["stream_options"])
			}
		}},
		{"responses", func(t *testing.T) {
			if _, err := f.client.CreateResponse(f.ctx, openai.CreateResponseRequest{Model: chatModel, Input: "hi"}); err != nil {
				t.Fatal(err)
			}
		}, "max_output_tokens", "max_tokens", 100, func(t *testing.T, body map[string]any) {
			if v, ok := body["store"]; !ok || v != false {
				t.Errorf("store = %v (present %v), want explicit false", v, ok)
			}
		}},
		{"responses stream", func(t *testing.T) {
			s, err := f.client.CreateResponseStream(f.ctx, openai.CreateResponseRequest{Model: reasoningModel, Input: "hi", MaxOutputTokens: 999})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			drain(t, func() error { _, err := s.Recv(); return err })
		}, "max_output_tokens", "max_completion_tokens", 300, func(t *testing.T, body map[string]any) {
			if body["store"] != false {
				t.Errorf("store = %v, want false", body["store"])
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.call(t)
			body, raw := lastBody(t, f.srv)
			if got := num(body[tc.capField]); got != tc.want {
				t.Errorf("%s = %v, want %d", tc.capField, body[tc.capField], tc.want)
			}
			if _, ok := body[tc.absentField]; ok {
				t.Errorf("%s sent: %v", tc.absentField, body[tc.absentField])
			}
			if body["store"] == true {
				t.Error("store:true left the process")
			}
			sid, _ := body["safety_identifier"].(string)
			if !strings.HasPrefix(sid, "u_") || strings.Contains(string(raw.Body), "alice") {
				t.Errorf("safety_identifier = %q; raw caller ID in body: %v", sid, strings.Contains(string(raw.Body), "alice"))
			}
			if raw.BearerKey() != testKey {
				t.Errorf("key sent = %q", raw.BearerKey())
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}

	t.Run("key rotation without rebuild", func(t *testing.T) {
		f.keys.Set(rotatedKey)
		if _, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel)); err != nil {
			t.Fatal(err)
		}
		_, raw := lastBody(t, f.srv)
		if raw.BearerKey() != rotatedKey {
			t.Errorf("after rotation the request carried %q", raw.BearerKey())
		}
		f.keys.Set(testKey)
	})

	t.Run("embeddings and moderations", func(t *testing.T) {
		if _, err := f.client.CreateEmbeddings(f.ctx, openai.EmbeddingRequestStrings{Model: embedModel, Input: []string{"a", "b"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.client.Moderations(f.ctx, openai.ModerationRequest{Model: modModel, Input: "hello"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("one audit event per call", func(t *testing.T) {
		if got := f.rec.Len(); got != len(cases)+3 {
			t.Errorf("%d audit events for %d calls", got, len(cases)+3)
		}
		unkeyed := keyprovider.NewSecret(testKey).Fingerprint()
		for _, ev := range f.rec.Events() {
			if ev.Outcome != audit.OutcomeOK || ev.KeyFingerprint == "" || ev.Caller == "" || ev.Caller == "alice@example.com" {
				t.Errorf("event %+v", ev)
			}
			if !strings.HasPrefix(ev.KeyFingerprint, "kfp_") || ev.KeyFingerprint == unkeyed {
				t.Errorf("key fingerprint %q is not the keyed one", ev.KeyFingerprint)
			}
		}
	})

	t.Run("scope", func(t *testing.T) {
		for _, s := range f.keys.Scopes() {
			if s != (keyprovider.Scope{Environment: "prod", Group: "team-a", Tier: "pro"}) {
				t.Errorf("scope %v", s)
			}
		}
	})
}

func TestExtraBodyOverrideRefused(t *testing.T) {
	f := newFixture(t)
	_, err := f.client.CreateResponse(f.ctx, openai.CreateResponseRequest{Model: chatModel, Input: "x",
		ExtraBody: map[string]any{"model": "gpt-4o", "store": true}})
	if !errors.Is(err, secureai.ErrPolicy) {
		t.Fatalf("err = %v", err)
	}
	_, err = f.client.CreateEmbeddings(f.ctx, openai.EmbeddingRequestStrings{Model: embedModel, Input: []string{"x"},
		ExtraBody: map[string]any{"model": "text-embedding-3-large"}})
	if !errors.Is(err, secureai.ErrPolicy) {
		t.Fatalf("embeddings err = %v", err)
	}
	if n := len(f.srv.Requests()); n != 0 {
		t.Errorf("%d requests left the process", n)
	}
	if f.rec.Len() != 2 || f.rec.Last().Outcome != audit.OutcomeRefused {
		t.Errorf("audit: %d events, last %+v", f.rec.Len(), f.rec.Last())
	}
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	_, err := secureai.New()
	if err == nil || !strings.Contains(err.Error(), "key provider") || !strings.Contains(err.Error(), "allowlist") {
		t.Errorf("New() = %v; want both missing key provider and allowlist", err)
	}
	for _, tc := range []struct {
		name string
		opts []secureai.Option
		want string
	}{
		{"plain http", []secureai.Option{secureai.WithBaseURL("http://api.openai.com/v1")}, "plain http"},
		{"credentials", []secureai.Option{secureai.WithBaseURL("https://u:p@api.openai.com/v1")}, "credentials"},
		{"old azure", []secureai.Option{secureai.WithAzure("2023-05-15", nil)}, "older"},
		{"negative limit", []secureai.Option{secureai.WithLimits(secureai.Limits{MaxTools: -1})}, "negative"},
		{"nil option", []secureai.Option{nil}, "nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]secureai.Option{secureai.WithKeyProvider(keyprovider.Static(testKey)),
				secureai.WithModels(chatModel)}, tc.opts...)
			if _, err := secureai.New(opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want error containing %q", err, tc.want)
			}
		})
	}
	t.Run("loopback http and azure ok", func(t *testing.T) {
		c, err := secureai.New(secureai.WithKeyProvider(keyprovider.Static(testKey)), secureai.WithModels(chatModel),
			secureai.WithBaseURL("http://localhost:8080/v1"), secureai.WithAzure("2024-10-21", nil))
		if err != nil {
			t.Fatal(err)
		}
		c.Close(t.Context())
	})
}

func TestAzureKeyHeaderOverwritten(t *testing.T) {
	f := newFixture(t)
	c, err := secureai.New(secureai.WithKeyProvider(f.keys), secureai.WithBaseURL(f.srv.URL()),
		secureai.WithModels(chatModel), secureai.WithAzure("2024-10-21", nil), secureai.WithAuditSink(f.rec),
		secureai.WithTransport(azureRewrite{f.srv.Transport()}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(t.Context())
	if _, err := c.CreateChatCompletion(f.ctx, chatReq(chatModel)); err != nil {
		t.Fatal(err)
	}
	_, raw := lastBody(t, f.srv)
	if got := raw.Header.Values("api-key"); len(got) != 1 || got[0] != testKey {
		t.Errorf("api-key headers = %d values", len(got))
	}
	if raw.Header.Get("Authorization") != "" {
		t.Error("Authorization sent to Azure")
	}
	if raw.Query.Get("api-version") != "2024-10-21" {
		t.Errorf("api-version = %q", raw.Query.Get("api-version"))
	}
}

// azureRewrite maps Azure's deployment paths onto the fake's OpenAI paths.
type azureRewrite struct{ rt http.RoundTripper }

func (a azureRewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if i := strings.Index(r.URL.Path, "/chat/completions"); i >= 0 {
		r.URL.Path = "/v1/chat/completions"
	}
	return a.rt.RoundTrip(r)
}

type auditDecision = audit.Decision
