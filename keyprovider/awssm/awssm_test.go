package awssm_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/goleak"

	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/keyprovider/awssm"
	"github.com/secureai-go/secureai/secureaitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const canary = "sk-test-canary-0123456789abcdefABCDEF0123456789"

var (
	hr      = keyprovider.Scope{Environment: "prod", Group: "hr"}
	finance = keyprovider.Scope{Environment: "prod", Group: "finance"}
)

// awsConfig returns an aws.Config for the fake, built by hand as a program
// would with config.LoadDefaultConfig: static example credentials, no
// retries (the Cache retries), in memory unless sockets is true.
func awsConfig(sm *secureaitest.SecretsManager, sockets bool) aws.Config {
	cfg := aws.Config{
		Region: secureaitest.SecretsManagerRegion,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", Source: "test"}, nil
		}),
		BaseEndpoint:     aws.String(sm.URL()),
		RetryMaxAttempts: 1,
	}
	if !sockets {
		cfg.HTTPClient = &http.Client{Transport: sm.Transport()}
	}
	return cfg
}

func refs() func(keyprovider.Scope) (awssm.Ref, bool) {
	m := map[keyprovider.Scope]awssm.Ref{
		hr:      {ID: "openai/prod/hr", Field: "api_key"},
		finance: {ID: "openai/prod/finance"},
	}
	for _, g := range []string{"badjson", "wrongtype", "missingfield", "notfound", "spaces", "empty"} {
		m[keyprovider.Scope{Environment: "prod", Group: g}] = awssm.Ref{ID: "openai/prod/" + g, Field: "api_key"}
	}
	m[keyprovider.Scope{Environment: "prod", Group: "pending"}] = awssm.Ref{ID: "openai/prod/hr", Field: "api_key", VersionStage: awssm.StagePending}
	return keyprovider.ScopeMap(m)
}

func seed(sm *secureaitest.SecretsManager) {
	sm.PutSecret("openai/prod/hr", `{"api_key":"`+canary+`","note":"hr"}`)
	sm.PutSecret("openai/prod/finance", "sk-finance-key\n")
	sm.PutSecret("openai/prod/badjson", `{"api_key": "`+canary)
	sm.PutSecret("openai/prod/wrongtype", `{"api_key": {"value":"`+canary+`"}}`)
	sm.PutSecret("openai/prod/missingfield", `{"apikey":"`+canary+`"}`)
	sm.PutSecret("openai/prod/spaces", `{"api_key":"`+canary+` x"}`)
	sm.PutSecret("openai/prod/empty", `{"api_key":""}`)
}

func newProvider(t *testing.T, sm *secureaitest.SecretsManager, sockets bool) *awssm.Provider {
	t.Helper()
	cfg := awsConfig(sm, sockets)
	if sockets {
		client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		t.Cleanup(client.CloseIdleConnections)
		cfg.HTTPClient = client
	}
	p, err := awssm.New(cfg, awssm.Options{Secrets: refs()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProvider(t *testing.T) {
	sm := secureaitest.NewSecretsManager(t)
	seed(sm)
	p := newProvider(t, sm, true) // over loopback, with the real SDK

	k, info, err := p.KeyInfo(t.Context(), hr)
	if err != nil || k.Reveal() != canary || k.IsToken() {
		t.Fatalf("KeyInfo(hr) = %d bytes, %v", k.Len(), err)
	}
	if info.Version != sm.VersionID("openai/prod/hr", "AWSCURRENT") || info.Source != "aws-secretsmanager:openai/prod/hr@AWSCURRENT" || info.FetchedAt.IsZero() {
		t.Errorf("Info = %+v", info)
	}
	k, err = p.Key(t.Context(), finance) // plain string, trailing newline trimmed
	if err != nil || k.Reveal() != "sk-finance-key" {
		t.Fatalf("Key(finance) = %d bytes, %v", k.Len(), err)
	}
	v, err := p.Version(t.Context(), hr)
	if err != nil || v != info.Version {
		t.Errorf("Version = %q, %v; want %q", v, err, info.Version)
	}
	if got := sm.Fetches("openai/prod/hr"); got != 1 || sm.Calls("DescribeSecret") != 1 {
		t.Errorf("fake saw %d fetches, %d describes", got, sm.Calls("DescribeSecret"))
	}

	// By ARN.
	arnProvider, _ := awssm.New(awsConfig(sm, false), awssm.Options{Secrets: func(keyprovider.Scope) (awssm.Ref, bool) {
		return awssm.Ref{ID: describeARN(t, sm, "openai/prod/finance")}, true
	}})
	if k, err := arnProvider.Key(t.Context(), finance); err != nil || k.Reveal() != "sk-finance-key" {
		t.Errorf("by ARN: %v", err)
	}
}

func describeARN(t *testing.T, sm *secureaitest.SecretsManager, name string) string {
	out, err := secretsmanager.NewFromConfig(awsConfig(sm, false)).DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return *out.ARN
}

func TestProviderErrors(t *testing.T) {
	sm := secureaitest.NewSecretsManager(t)
	seed(sm)
	p := newProvider(t, sm, false)
	scope := func(g string) keyprovider.Scope { return keyprovider.Scope{Environment: "prod", Group: g} }
	deadline := func(d time.Duration) func(context.Context) (context.Context, context.CancelFunc) {
		return func(ctx context.Context) (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, d) }
	}
	tests := []struct {
		name   string
		scope  keyprovider.Scope
		fault  *secureaitest.SecretsManagerFault
		ctx    func(context.Context) (context.Context, context.CancelFunc)
		reason string
		code   string
		is     error
	}{
		{name: "bad JSON", scope: scope("badjson"), reason: keyprovider.ReasonMalformed},
		{name: "field not a string", scope: scope("wrongtype"), reason: keyprovider.ReasonMalformed},
		{name: "missing field", scope: scope("missingfield"), reason: keyprovider.ReasonNotFound, is: keyprovider.ErrNoKey},
		{name: "invalid key", scope: scope("spaces"), reason: keyprovider.ReasonInvalidKey, is: keyprovider.ErrInvalidKey},
		{name: "empty key", scope: scope("empty"), reason: keyprovider.ReasonNotFound, is: keyprovider.ErrNoKey},
		{name: "secret not found", scope: scope("notfound"), reason: keyprovider.ReasonNotFound, code: "ResourceNotFoundException", is: keyprovider.ErrNoKey},
		{name: "no pending version", scope: scope("pending"), reason: keyprovider.ReasonNotFound, code: "ResourceNotFoundException", is: keyprovider.ErrNoKey},
		{name: "unmapped scope", scope: scope("legal"), is: keyprovider.ErrNoScope},
		{name: "access denied", scope: hr, fault: &secureaitest.SecretsManagerFault{Type: "AccessDeniedException"},
			reason: keyprovider.ReasonDenied, code: "AccessDeniedException"},
		{name: "decryption failure", scope: hr, fault: &secureaitest.SecretsManagerFault{Type: "DecryptionFailure"},
			reason: keyprovider.ReasonDenied, code: "DecryptionFailure"},
		{name: "internal error", scope: hr, fault: &secureaitest.SecretsManagerFault{Type: "InternalServiceError"},
			reason: keyprovider.ReasonUnavailable, code: "InternalServiceError"},
		{name: "throttled", scope: hr, fault: &secureaitest.SecretsManagerFault{Type: "ThrottlingException", Message: "Rate exceeded"},
			reason: keyprovider.ReasonUnavailable, code: "ThrottlingException"},
		{name: "hang past the deadline", scope: hr, fault: &secureaitest.SecretsManagerFault{Hang: true}, ctx: deadline(50 * time.Millisecond),
			reason: keyprovider.ReasonTimeout, is: context.DeadlineExceeded},
		{name: "latency past the deadline", scope: hr, fault: &secureaitest.SecretsManagerFault{Latency: time.Minute}, ctx: deadline(50 * time.Millisecond),
			reason: keyprovider.ReasonTimeout, is: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fault != nil {
				sm.FailNext(1, *tt.fault)
			}
			ctx := t.Context()
			if tt.ctx != nil {
				var cancel context.CancelFunc
				ctx, cancel = tt.ctx(ctx)
				defer cancel()
			}
			k, err := p.Key(ctx, tt.scope)
			if err == nil || !k.IsZero() {
				t.Fatalf("Key = %v, %v; want an error", k, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if tt.reason != "" {
				fe, ok := errors.AsType[*keyprovider.FetchError](err)
				if !ok || fe.Reason != tt.reason || fe.Code != tt.code || fe.Provider != "aws-secretsmanager" {
					t.Errorf("error %#v; want reason %s, code %q", err, tt.reason, tt.code)
				}
				if keyprovider.ErrorClass(err) != tt.reason {
					t.Errorf("ErrorClass = %q", keyprovider.ErrorClass(err))
				}
			}
			noLeak(t, err)
		})
	}
}

// noLeak checks every rendering of err for the canary key.
func noLeak(t *testing.T, err error) {
	t.Helper()
	forms := []string{canary, hex.EncodeToString([]byte(canary)), base64.StdEncoding.EncodeToString([]byte(canary)), canary[:20]}
	for _, out := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprintf("%q", err)} {
		for _, f := range forms {
			if strings.Contains(out, f) {
				t.Errorf("error output leaks the key: %s", out)
				return
			}
		}
	}
	if strings.Contains(err.Error(), "wJalrXUtnFEMI") {
		t.Errorf("error holds the AWS secret key: %v", err)
	}
}

func TestNewConfig(t *testing.T) {
	if _, err := awssm.New(aws.Config{Region: "us-east-1"}, awssm.Options{}); err == nil {
		t.Error("New without Secrets succeeded")
	}
	if _, err := awssm.New(aws.Config{}, awssm.Options{Secrets: refs()}); err == nil {
		t.Error("New without a region succeeded")
	}
	p, err := awssm.New(aws.Config{Region: "eu-west-1"}, awssm.Options{Secrets: refs()})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.String() + " " + p.WithStage(awssm.StagePending).String(); got != "awssm.Provider awssm.Provider(AWSPENDING)" {
		t.Errorf("String() = %q", got)
	}
}

// TestCacheSingleFlight: 1000 concurrent first calls through a Cache cause
// exactly one GetSecretValue, as counted by the fake.
func TestCacheSingleFlight(t *testing.T) {
	sm := secureaitest.NewSecretsManager(t)
	seed(sm)
	synctest.Test(t, func(t *testing.T) {
		p := newProvider(t, sm, false)
		c := keyprovider.NewCache(p, keyprovider.CacheOptions{})
		defer c.Close(t.Context())
		sm.FailNext(1, secureaitest.SecretsManagerFault{Latency: 200 * time.Millisecond})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed int
		for range 1000 {
			wg.Go(func() {
				if k, err := c.Key(t.Context(), hr); err != nil || k.Reveal() != canary {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if failed != 0 || sm.Fetches("openai/prod/hr") != 1 {
			t.Errorf("%d failed calls, %d fetches; want 0, 1", failed, sm.Fetches("openai/prod/hr"))
		}
	})
}

// TestRotationUnderLoad runs the documented rotation while 32 goroutines
// ask for keys: new version as AWSPENDING, verified, moved to AWSCURRENT,
// the old key revoked after TTL + Grace. No call fails, and no call gets the
// old key after the revocation.
func TestRotationUnderLoad(t *testing.T) {
	sm := secureaitest.NewSecretsManager(t)
	sm.PutSecret("openai/prod/hr", `{"api_key":"sk-old-key"}`)
	synctest.Test(t, func(t *testing.T) {
		const ttl, grace = time.Minute, time.Minute
		p := newProvider(t, sm, false)
		c := keyprovider.NewCache(p, keyprovider.CacheOptions{TTL: ttl, Grace: grace, RefreshAhead: 20 * time.Second})
		defer c.Close(t.Context())

		var (
			mu        sync.Mutex
			valid     = map[string]bool{"sk-old-key": true}
			calls     int
			failures  []string
			sawNew    bool
			revokedAt time.Time
		)
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range 300 {
					k, err := c.Key(t.Context(), hr)
					mu.Lock()
					calls++
					switch {
					case err != nil:
						failures = append(failures, err.Error())
					case !valid[k.Reveal()]:
						failures = append(failures, fmt.Sprintf("revoked key served %v after the revocation", time.Since(revokedAt)))
					case k.Reveal() == "sk-new-key":
						sawNew = true
					}
					mu.Unlock()
					time.Sleep(time.Second)
				}
			})
		}

		time.Sleep(60 * time.Second)
		// 1. New version, labelled AWSPENDING.
		newID := sm.PutSecretVersion("openai/prod/hr", `{"api_key":"sk-new-key"}`, awssm.StagePending)
		mu.Lock()
		valid["sk-new-key"] = true // created in the OpenAI dashboard before it was stored
		mu.Unlock()
		// 2. Verify it through the AWSPENDING stage.
		k, err := p.WithStage(awssm.StagePending).Key(t.Context(), hr)
		if err != nil || k.Reveal() != "sk-new-key" {
			t.Fatalf("verifying AWSPENDING: %v", err)
		}
		// 3. Switch AWSCURRENT; the old version becomes AWSPREVIOUS.
		oldID := sm.VersionID("openai/prod/hr", "AWSCURRENT")
		sm.MoveStage("openai/prod/hr", "AWSCURRENT", newID)
		sm.MoveStage("openai/prod/hr", awssm.StagePending, "")
		if sm.VersionID("openai/prod/hr", "AWSPREVIOUS") != oldID {
			t.Fatal("the old version is not AWSPREVIOUS")
		}
		// 4. Revoke the old key once every cache has moved on.
		time.Sleep(ttl + grace + time.Second)
		mu.Lock()
		delete(valid, "sk-old-key")
		revokedAt = time.Now()
		mu.Unlock()
		wg.Wait()

		if len(failures) > 0 {
			t.Fatalf("%d of %d calls failed; first: %s", len(failures), calls, failures[0])
		}
		if !sawNew {
			t.Error("the new key was never served")
		}
		if n := sm.Fetches("openai/prod/hr"); n > 12 {
			t.Errorf("%d fetches for %d calls over 5 minutes", n, calls)
		}
	})
}
