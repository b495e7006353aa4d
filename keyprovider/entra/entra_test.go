package entra_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"go.uber.org/goleak"

	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/keyprovider/entra"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const canary = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJjb2duaXRpdmUifQ.canary-signature-0123456789"

// credential is a fake azcore.TokenCredential: it hands out numbered
// tokens valid for life, and can fail.
type credential struct {
	mu     sync.Mutex
	life   time.Duration
	err    error
	token  string // if set, returned as is
	empty  bool   // return an empty token
	calls  int
	scopes []string
	tenant string
}

func (c *credential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.scopes, c.tenant = o.Scopes, o.TenantID
	if err := ctx.Err(); err != nil {
		return azcore.AccessToken{}, err
	}
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	tok := c.token
	if c.empty {
		tok = ""
	} else if tok == "" {
		tok = fmt.Sprintf("%s-%d", canary, c.calls)
	}
	return azcore.AccessToken{Token: tok, ExpiresOn: time.Now().Add(c.life), RefreshOn: time.Now().Add(c.life / 2)}, nil
}

var scope = keyprovider.Scope{Environment: "prod", Group: "hr"}

func TestProvider(t *testing.T) {
	cred := &credential{life: time.Hour}
	p, err := entra.New(cred, entra.Options{TenantID: "tenant-1"})
	if err != nil {
		t.Fatal(err)
	}
	k, info, err := p.KeyInfo(t.Context(), scope)
	if err != nil || !k.IsToken() || k.Reveal() != canary+"-1" {
		t.Fatalf("KeyInfo = %v, %v", k, err)
	}
	if d := time.Until(k.Expires()); d < 59*time.Minute || d > time.Hour {
		t.Errorf("Expires() in %v, want about an hour", d)
	}
	if info.Source != "azure-entra:"+entra.DefaultScope || cred.tenant != "tenant-1" || len(cred.scopes) != 1 || cred.scopes[0] != entra.DefaultScope {
		t.Errorf("Info %+v, scopes %v, tenant %q", info, cred.scopes, cred.tenant)
	}
	if got := p.String(); got != "entra.Provider("+entra.DefaultScope+")" {
		t.Errorf("String() = %q", got)
	}
	if _, err := entra.New(nil, entra.Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestProviderErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name   string
		cred   *credential
		ctx    context.Context
		reason string
		is     error
	}{
		{"credential fails", &credential{life: time.Hour, err: errors.New("ManagedIdentityCredential: no identity\nresponse: ...")}, t.Context(), keyprovider.ReasonDenied, nil},
		{"cancelled", &credential{life: time.Hour}, cancelled, keyprovider.ReasonCanceled, context.Canceled},
		{"deadline from the credential", &credential{life: time.Hour, err: fmt.Errorf("wrapped: %w", context.DeadlineExceeded)}, t.Context(), keyprovider.ReasonTimeout, context.DeadlineExceeded},
		{"expired token", &credential{life: -time.Minute}, t.Context(), keyprovider.ReasonMalformed, nil},
		{"empty token", &credential{life: time.Hour, empty: true}, t.Context(), keyprovider.ReasonNotFound, keyprovider.ErrNoKey},
		{"invalid token", &credential{life: time.Hour, token: canary + "\n"}, t.Context(), keyprovider.ReasonInvalidKey, keyprovider.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := entra.New(tt.cred, entra.Options{})
			k, err := p.Key(tt.ctx, scope)
			fe, ok := errors.AsType[*keyprovider.FetchError](err)
			if !ok || fe.Reason != tt.reason || fe.Provider != "azure-entra" || (tt.is != nil && !errors.Is(err, tt.is)) || !k.IsZero() {
				t.Fatalf("Key = %v, %#v", k, err)
			}
			for _, out := range []string{err.Error(), fmt.Sprintf("%#v", err), fmt.Sprintf("%+v", err)} {
				if strings.Contains(out, canary) || strings.Contains(out, "\n") {
					t.Errorf("error output %q leaks the token or spans lines", out)
				}
			}
		})
	}
}

// TestCacheRefreshesToken: behind a Cache, a token is refreshed ahead of
// its expiry, never served after it, and an outage is survived only until
// the token expires.
func TestCacheRefreshesToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cred := &credential{life: time.Hour}
		p, _ := entra.New(cred, entra.Options{})
		c := keyprovider.NewCache(p, keyprovider.CacheOptions{TTL: 24 * time.Hour, RefreshAhead: 5 * time.Minute, Jitter: -1, Grace: 24 * time.Hour})
		defer c.Close(t.Context())
		get := func() (keyprovider.Secret, error) { return c.Key(t.Context(), scope) }

		k1, err := get()
		if err != nil || !k1.IsToken() {
			t.Fatal(err)
		}
		time.Sleep(56 * time.Minute) // within 5 minutes of expiry
		get()
		synctest.Wait()
		k2, _ := get()
		if k2.Equal(k1) || !k2.IsToken() || !k2.Expires().After(k1.Expires()) {
			t.Fatalf("token not refreshed ahead of expiry")
		}
		cred.mu.Lock()
		cred.err = errors.New("identity endpoint unreachable")
		cred.mu.Unlock()
		time.Sleep(58 * time.Minute) // refresh fails; the token is still valid
		if k, err := get(); err != nil || !k.Equal(k2) {
			t.Fatalf("within the token's life: %v", err)
		}
		time.Sleep(3 * time.Minute) // past the token's expiry: despite the grace, no key
		synctest.Wait()
		if _, err := get(); !errors.Is(err, keyprovider.ErrUnavailable) {
			t.Fatalf("after the token expired: %v", err)
		}
	})
}
