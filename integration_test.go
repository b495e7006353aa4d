package secureai_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/ratelimit"
	"github.com/secureai-go/secureai/secureaitest"
)

// TestBearerTokenOnAzure: an Entra ID token (a Secret made by NewToken) is
// sent as "Authorization: Bearer", never as the api-key header.
func TestBearerTokenOnAzure(t *testing.T) {
	srv := secureaitest.NewServer(t)
	token := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.test-token"
	p := keyprovider.ProviderFunc(func(context.Context, keyprovider.Scope) (keyprovider.Secret, error) {
		return keyprovider.NewToken(token, time.Now().Add(time.Hour)), nil
	})
	c, err := secureai.New(secureai.WithKeyProvider(p), secureai.WithBaseURL(srv.URL()), secureai.WithModels(chatModel),
		secureai.WithAzure("2024-10-21", nil), secureai.WithTransport(azureRewrite{srv.Transport()}),
		secureai.WithAuditSink(&secureaitest.AuditRecorder{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(t.Context())
	if _, err := c.CreateChatCompletion(secureai.WithCaller(t.Context(), secureai.Caller{ID: "u"}), chatReq(chatModel)); err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	if r.Header.Get("Authorization") != "Bearer "+token || len(r.Header.Values("api-key")) != 0 {
		t.Errorf("Authorization %q, api-key %q", r.Header.Get("Authorization"), r.Header.Values("api-key"))
	}
}

// TestLimiterStoreOutage: Redis goes away mid-run. Fail-closed refuses
// within the timeout, fail-open goes on under the local fallback, both
// come back when Redis does, and the switches are in the audit trail.
func TestLimiterStoreOutage(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		name := map[bool]string{false: "fail closed", true: "fail open"}[failOpen]
		t.Run(name, func(t *testing.T) {
			mr := miniredis.RunT(t)
			rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
			defer rdb.Close()
			store, err := ratelimit.NewRedisStore(rdb, ratelimit.RedisOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rec := &secureaitest.AuditRecorder{}
			// The timeout bounds each store call once Redis is back; a
			// stopped miniredis refuses at once, so a long one costs nothing.
			lim, err := ratelimit.New(ratelimit.Options{Store: store, FailOpen: failOpen, Timeout: 2 * time.Second,
				ProbeInterval: time.Millisecond,
				Rules:         ratelimit.Rules{Default: ratelimit.TierRules{Caller: ratelimit.Limits{Requests: []ratelimit.Rate{ratelimit.PerSecond(1000)}}}},
				OnStoreChange: secureai.StoreAuditor(rec)})
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, secureai.WithLimiter(lim), secureai.WithAuditSink(rec))
			if err := plainCall(t, f.client, f.ctx); err != nil {
				t.Fatal(err)
			}
			mr.Close()
			err = plainCall(t, f.client, f.ctx)
			if failOpen && err != nil {
				t.Errorf("fail open refused: %v", err)
			}
			if !failOpen && (!errors.Is(err, secureai.ErrRateLimited) || !errors.Is(err, ratelimit.ErrLimiterUnavailable)) {
				t.Errorf("fail closed: %v", err)
			}
			if err := mr.Restart(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond) // past ProbeInterval: the next call probes the store
			for range 3 {
				if err := plainCall(t, f.client, f.ctx); err != nil {
					t.Errorf("after recovery: %v", err)
				}
			}
			var down, up bool
			for _, e := range rec.Events() {
				down = down || strings.HasPrefix(e.AlertType, "limiter_store_unavailable")
				up = up || e.AlertType == "limiter_store_recovered"
			}
			if !down || !up {
				t.Errorf("audit: outage recorded %v, recovery recorded %v", down, up)
			}
		})
	}
}

// TestNoRawContentInAuditOnAnyPath sends a marker in the prompt (and the
// fake's answer) down every refusal and failure path and through the JSON,
// chained-file and async sinks: no sink's output holds the marker, the key
// or the raw caller ID.
func TestNoRawContentInAuditOnAnyPath(t *testing.T) {
	const marker, callerID = "MARKER-c0ffee-42", "dora@example.com"
	var jsonOut bytes.Buffer
	js, _ := audit.NewJSONSink(&jsonOut)
	dir := t.TempDir()
	file, err := audit.NewFileSink(t.Context(), audit.FileOptions{Dir: dir, SealKey: keyprovider.NewSecret("seal-key-0123456789abcdef0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	async, err := audit.NewAsyncSink(audit.Multi(js, file), audit.AsyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lim := newLimiter(t, ratelimit.Rules{Default: ratelimit.TierRules{Caller: ratelimit.Limits{Requests: []ratelimit.Rate{{Count: 30, Per: time.Hour}}}}}, nil)
	refuseOn := ""
	check := func(stage string) error {
		if refuseOn == stage {
			return errors.New("refused: contains " + marker)
		}
		return nil
	}
	f := newFixture(t, secureai.WithAuditSink(async), secureai.WithLimiter(lim), secureai.WithKeyProvider(keyprovider.Static(canaryKey)),
		secureai.WithInputChecks(secureai.InputCheckerFunc(func(context.Context, *secureai.Call, *secureai.Input) error { return check("input") })),
		secureai.WithModerator(secureai.ModeratorFunc(func(context.Context, *secureai.Call, *secureai.Input) error { return check("moderation") })),
		secureai.WithOutputChecks(secureai.OutputCheckerFunc(func(context.Context, *secureai.Call, *secureai.Output) error { return check("output") })))
	f.srv.SetReply("the answer is " + marker)
	ctx := secureai.WithCaller(t.Context(), secureai.Caller{ID: callerID, Group: "g"})
	req := chatReq(chatModel)
	req.Messages[1].Content = "secret " + marker
	bad := req
	bad.Model = "gpt-4o"
	for _, p := range []struct {
		name string
		run  func() error
	}{
		{"ok", func() error { _, err := f.client.CreateChatCompletion(ctx, req); return err }},
		{"no caller", func() error { _, err := f.client.CreateChatCompletion(t.Context(), req); return err }},
		{"model", func() error { _, err := f.client.CreateChatCompletion(ctx, bad); return err }},
		{"input", func() error { refuseOn = "input"; _, err := f.client.CreateChatCompletion(ctx, req); return err }},
		{"moderation", func() error { refuseOn = "moderation"; _, err := f.client.CreateChatCompletion(ctx, req); return err }},
		{"output", func() error { refuseOn = "output"; _, err := f.client.CreateChatCompletion(ctx, req); return err }},
		{"upstream 400", func() error {
			refuseOn = ""
			f.srv.Enqueue(secureaitest.Fault{Status: 400, Body: `{"error":{"message":"` + marker + `","type":"invalid_request_error","param":null,"code":null}}`})
			_, err := f.client.CreateChatCompletion(ctx, req)
			return err
		}},
		{"echo", func() error {
			f.srv.Enqueue(secureaitest.Fault{EchoRequest: true})
			_, err := f.client.CreateChatCompletion(ctx, req)
			return err
		}},
		{"stream cut", func() error {
			f.srv.Enqueue(secureaitest.Fault{CutAfter: 3})
			return streamCall(t, f.client, ctx)
		}},
		{"responses stream", func() error {
			s, err := f.client.CreateResponseStream(ctx, openai.CreateResponseRequest{Model: chatModel, Input: "x " + marker})
			if err != nil {
				return err
			}
			defer s.Close()
			for {
				if _, err := s.Recv(); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
			}
		}},
	} {
		err := p.run()
		if p.name == "ok" || p.name == "responses stream" {
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
		} else if err == nil {
			t.Fatalf("%s: no error", p.name)
		}
	}
	if err := f.client.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	all.Write(jsonOut.Bytes())
	entries, _ := os.ReadDir(dir)
	var files []string
	for _, e := range entries {
		files = append(files, filepath.Join(dir, e.Name()))
		b, _ := os.ReadFile(files[len(files)-1])
		all.Write(b)
	}
	if n := strings.Count(jsonOut.String(), "\n"); n != 10 {
		t.Errorf("%d events in the JSON sink, want 10", n)
	}
	for _, needle := range []string{marker, canaryKey, canaryKey[8:24], callerID, "dora"} {
		if bytes.Contains(all.Bytes(), []byte(needle)) {
			t.Errorf("an audit sink holds %q", needle)
		}
	}
	rep, err := audit.Verify(t.Context(), audit.VerifyOptions{SealKey: keyprovider.NewSecret("seal-key-0123456789abcdef0123456789")}, files...)
	if err != nil || !rep.OK() {
		t.Errorf("chain does not verify: %v %+v", err, rep.Fault)
	}
}
