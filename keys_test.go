package secureai_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/keyprovider/awssm"
	"github.com/secureai-go/secureai/secureaitest"
)

const (
	smSecretID = "openai/prod"
	oldKey     = "sk-test-old0000000000000000000000000000000000"
	newKey     = "sk-test-new1111111111111111111111111111111111"
)

// awsProvider returns a Secrets Manager provider on the fake, through its
// in-memory transport, with the prod scope mapped to smSecretID.
func awsProvider(t testing.TB, sm *secureaitest.SecretsManager) *awssm.Provider {
	t.Helper()
	cfg := aws.Config{
		Region: "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, nil
		}),
		BaseEndpoint: aws.String(sm.URL()),
		HTTPClient:   &http.Client{Transport: sm.Transport()},
	}
	p, err := awssm.New(cfg, awssm.Options{Secrets: keyprovider.ScopeMap(map[keyprovider.Scope]awssm.Ref{
		{Environment: "prod"}: {ID: smSecretID, Field: "api_key"},
	})})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func keyClient(t testing.TB, srv *secureaitest.Server, keys keyprovider.Provider, rec *secureaitest.AuditRecorder, opts ...secureai.Option) *secureai.Client {
	t.Helper()
	c, err := secureai.New(append([]secureai.Option{secureai.WithKeyProvider(keys), secureai.WithBaseURL(srv.URL()),
		secureai.WithTransport(srv.Transport()), secureai.WithModels(chatModel), secureai.WithAuditSink(rec)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRotationUnderLoad is the rotation test: 32 goroutines make
// 10 000 calls while the key is rotated in Secrets Manager (new version as
// AWSPENDING, verified, moved to AWSCURRENT) and the old key is revoked at
// the API at once. No call fails: a call that meets the revoked key gets a
// 401, the cache drops that key, and the call is retried once with the new
// one.
func TestRotationUnderLoad(t *testing.T) {
	srv := secureaitest.NewServer(t)
	sm := secureaitest.NewSecretsManager(t)
	sm.PutSecret(smSecretID, `{"api_key":"`+oldKey+`"}`)
	p := awsProvider(t, sm)
	keys := keyprovider.NewCache(p, keyprovider.CacheOptions{TTL: time.Minute, RetryInterval: time.Millisecond})
	rec := &secureaitest.AuditRecorder{}
	// 300 calls a second per caller is a load test, not a user: the default
	// rate limit would refuse it.
	c := keyClient(t, srv, keys, rec, secureai.Without(secureai.StageRateLimit))
	defer c.Close(context.Background())

	const total, workers = 10_000, 32
	var done, failed atomic.Int64
	var revokedAt atomic.Int64 // number of requests the server had seen at revocation
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			ctx := secureai.WithCaller(t.Context(), secureai.Caller{ID: fmt.Sprintf("user-%d", g)})
			for done.Add(1) <= total {
				if _, err := c.CreateChatCompletion(ctx, chatReq(chatModel)); err != nil {
					failed.Add(1)
					t.Errorf("call failed: %v", err)
				}
			}
		})
	}
	wg.Go(func() { // the rotation, a third of the way in
		for done.Load() < total/3 {
			time.Sleep(time.Millisecond)
		}
		id := sm.PutSecretVersion(smSecretID, `{"api_key":"`+newKey+`"}`, awssm.StagePending)
		pending, err := p.WithStage(awssm.StagePending).Key(t.Context(), keyprovider.Scope{Environment: "prod"})
		if err != nil || pending.Reveal() != newKey {
			t.Errorf("pending key: %v", err)
		}
		verify := openai.DefaultConfig(pending.Reveal())
		verify.BaseURL, verify.HTTPClient = srv.URL(), &http.Client{Transport: srv.Transport()}
		if _, err := openai.NewClientWithConfig(verify).CreateChatCompletion(t.Context(), chatReq(chatModel)); err != nil {
			t.Errorf("verifying the pending key: %v", err)
		}
		sm.MoveStage(smSecretID, awssm.StageCurrent, id)
		srv.RejectKey(oldKey) // revoked at once: the worst case
		revokedAt.Store(int64(len(srv.Requests())))
	})
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d calls failed", failed.Load(), total)
	}
	reqs := srv.Requests()
	after := reqs[revokedAt.Load():]
	var old, refreshed int
	for _, r := range after {
		if r.BearerKey() == oldKey {
			old++
		}
	}
	for _, r := range reqs[len(reqs)-1000:] {
		if r.BearerKey() != newKey {
			t.Fatalf("a late request carried %q", r.BearerKey())
		}
	}
	for _, ev := range rec.Events() {
		if ev.Retries > 0 {
			refreshed++
		}
	}
	if rec.Len() != total {
		t.Errorf("%d audit events for %d calls", rec.Len(), total)
	}
	t.Logf("%d requests; after revocation %d carried the old key (each answered 401, then retried); %d calls retried; %d fetches",
		len(reqs), old, refreshed, sm.Fetches(smSecretID))
}

// TestKeySingleFlight: 1 000 concurrent first calls fetch the key once.
func TestKeySingleFlight(t *testing.T) {
	srv := secureaitest.NewServer(t)
	sm := secureaitest.NewSecretsManager(t)
	sm.PutSecret(smSecretID, `{"api_key":"`+oldKey+`"}`)
	sm.FailNext(1, secureaitest.SecretsManagerFault{Operation: "GetSecretValue", Latency: 50 * time.Millisecond}) // let the callers pile up
	c := keyClient(t, srv, keyprovider.NewCache(awsProvider(t, sm), keyprovider.CacheOptions{}), &secureaitest.AuditRecorder{})
	defer c.Close(context.Background())
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() {
			ctx := secureai.WithCaller(t.Context(), secureai.Caller{ID: fmt.Sprint("u", i)})
			if _, err := c.CreateChatCompletion(ctx, chatReq(chatModel)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := sm.Fetches(smSecretID); n != 1 {
		t.Errorf("%d fetches for 1000 concurrent first calls", n)
	}
}

// TestKeyStoreOutage: with Secrets Manager down, calls go on with the
// cached key within the grace period (and audit says so), then fail with
// ErrKeyUnavailable; Close ends the cache's background work.
func TestKeyStoreOutage(t *testing.T) {
	srv := secureaitest.NewServer(t)
	sm := secureaitest.NewSecretsManager(t)
	sm.PutSecret(smSecretID, `{"api_key":"`+oldKey+`"}`)
	synctest.Test(t, func(t *testing.T) {
		rec := &secureaitest.AuditRecorder{}
		keys := keyprovider.NewCache(awsProvider(t, sm), keyprovider.CacheOptions{TTL: time.Minute, Grace: 5 * time.Minute})
		c := keyClient(t, srv, keys, rec)
		ctx := secureai.WithCaller(t.Context(), secureai.Caller{ID: "u"})
		if _, err := c.CreateChatCompletion(ctx, chatReq(chatModel)); err != nil {
			t.Fatal(err)
		}
		sm.FailNext(1_000_000, secureaitest.SecretsManagerFault{Type: "InternalServiceError"})

		time.Sleep(2 * time.Minute) // past the TTL, within the grace period
		if _, err := c.CreateChatCompletion(ctx, chatReq(chatModel)); err != nil {
			t.Fatalf("within grace: %v", err)
		}
		reasons := []string{}
		for _, d := range rec.Last().Decisions {
			if d.Stage == "key" {
				reasons = append(reasons, d.Reason)
			}
		}
		if len(reasons) != 1 || !strings.HasPrefix(reasons[0], "stale_key_refresh_failed_") {
			t.Errorf("key decision reasons %v", reasons)
		}

		time.Sleep(5 * time.Minute) // past the grace period
		_, err := c.CreateChatCompletion(ctx, chatReq(chatModel))
		if !errors.Is(err, secureai.ErrKeyUnavailable) || !errors.Is(err, keyprovider.ErrUnavailable) {
			t.Fatalf("past grace: %v", err)
		}
		if rec.Last().ErrorType != "key_unavailable" {
			t.Errorf("audit %+v", rec.Last())
		}
		if err := c.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestScopeIsolation: each group's calls carry its own key, and a group
// without a route gets no key at all.
func TestScopeIsolation(t *testing.T) {
	srv := secureaitest.NewServer(t)
	hrKey, finKey := "sk-test-hr000000000000000000000000000000", "sk-test-fin00000000000000000000000000000"
	router, err := keyprovider.NewRouter(map[keyprovider.Scope]keyprovider.Provider{
		{Environment: "prod", Group: "hr", Tier: keyprovider.Any}:      keyprovider.Static(hrKey),
		{Environment: "prod", Group: "finance", Tier: keyprovider.Any}: keyprovider.Static(finKey),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := keyClient(t, srv, router, &secureaitest.AuditRecorder{})
	defer c.Close(context.Background())
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			group := []string{"hr", "finance"}[i%2]
			ctx := secureai.WithCaller(t.Context(), secureai.Caller{ID: fmt.Sprint("u", i), Group: group, Tier: "pro"})
			req := chatReq(chatModel)
			req.Messages[1].Content = "group=" + group
			if _, err := c.CreateChatCompletion(ctx, req); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, r := range srv.Requests() {
		body := string(r.Body)
		want := map[bool]string{true: hrKey, false: finKey}[strings.Contains(body, "group=hr")]
		if r.BearerKey() != want {
			t.Fatalf("a request of %s carried the other group's key", map[bool]string{true: "hr", false: "finance"}[want == hrKey])
		}
	}
	_, err = c.CreateChatCompletion(secureai.WithCaller(t.Context(), secureai.Caller{ID: "x", Group: "sales"}), chatReq(chatModel))
	e, _ := errors.AsType[*secureai.Error](err)
	if !errors.Is(err, secureai.ErrKeyUnavailable) || !errors.Is(err, keyprovider.ErrNoScope) || e.Reason != "no_scope" {
		t.Errorf("unrouted group: %v", err)
	}
}

// TestKeyErrorsHoldNoKey: bad secret values never put key bytes into an
// error, whatever way it is printed.
func TestKeyErrorsHoldNoKey(t *testing.T) {
	srv := secureaitest.NewServer(t)
	for _, tc := range []struct{ name, value string }{
		{"bad JSON", `{"api_key":"` + canaryKey},
		{"wrong field", `{"other":"` + canaryKey + `"}`},
		{"not a key", `{"api_key":"` + canaryKey + ` with spaces"}`},
		{"number", `{"api_key":12345678901234567890}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm := secureaitest.NewSecretsManager(t)
			sm.PutSecret(smSecretID, tc.value)
			c := keyClient(t, srv, keyprovider.NewCache(awsProvider(t, sm), keyprovider.CacheOptions{}), &secureaitest.AuditRecorder{})
			defer c.Close(context.Background())
			_, err := c.CreateChatCompletion(secureai.WithCaller(t.Context(), secureai.Caller{ID: "u"}), chatReq(chatModel))
			if !errors.Is(err, secureai.ErrKeyUnavailable) {
				t.Fatalf("err = %v", err)
			}
			outs := renderings(t, err)
			for e := error(err); e != nil; e = errors.Unwrap(e) {
				outs = append(outs, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
			}
			for _, s := range outs {
				if strings.Contains(s, canaryKey[8:24]) {
					t.Errorf("key bytes in %q", s)
				}
			}
		})
	}
}
