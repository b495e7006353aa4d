package keyprovider_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/secureaitest"
)

const (
	vaultToken    = "hvs.test-token-0000000000000000"
	vaultRoleID   = "role-id-0000-1111-2222"
	vaultSecretID = "secret-id-canary-9f8e7d6c5b4a"
)

var hrScope = keyprovider.Scope{Environment: "prod", Group: "hr"}

func vaultSecrets() func(keyprovider.Scope) (keyprovider.VaultRef, bool) {
	return keyprovider.ScopeMap(map[keyprovider.Scope]keyprovider.VaultRef{
		hrScope:                                  {Path: "openai/prod/hr"},
		{Environment: "prod", Group: "finance"}:  {Mount: "kv", Path: "teams/finance", Field: "key"},
		{Environment: "prod", Group: "pinned"}:   {Path: "openai/prod/hr", Version: 1},
		{Environment: "prod", Group: "badfield"}: {Path: "openai/prod/hr", Field: "nope"},
		{Environment: "prod", Group: "number"}:   {Path: "openai/prod/number"},
		{Environment: "prod", Group: "missing"}:  {Path: "openai/none"},
		{Environment: "prod", Group: "v9"}:       {Path: "openai/prod/hr", Version: 9},
		{Environment: "prod", Group: "traverse"}: {Path: "openai/../../sys/raw"},
		{Environment: "prod", Group: "spaces"}:   {Path: "openai/prod/spaces"},
	})
}

// newVault returns a fake Vault with secrets and a Vault provider for it
// with the given auth; the provider talks to the fake over loopback unless
// inMemory.
func newVault(t *testing.T, fake *secureaitest.Vault, o keyprovider.VaultOptions, inMemory bool) *keyprovider.VaultProvider {
	t.Helper()
	o.Address = fake.URL()
	if o.Secrets == nil {
		o.Secrets = vaultSecrets()
	}
	if inMemory {
		o.HTTPClient = &http.Client{Transport: fake.Transport()}
	}
	p, err := keyprovider.Vault(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func seedVault(v *secureaitest.Vault) {
	v.PutKV("secret", "openai/prod/hr", map[string]any{"api_key": "sk-hr-v1", "owner": "hr"})
	v.PutKV("secret", "openai/prod/hr", map[string]any{"api_key": canary, "owner": "hr"})
	v.PutKV("kv", "teams/finance", map[string]any{"key": "sk-finance"})
	v.PutKV("secret", "openai/prod/number", map[string]any{"api_key": 42})
	v.PutKV("secret", "openai/prod/spaces", map[string]any{"api_key": "sk with spaces"})
}

func TestVaultTokenAuth(t *testing.T) {
	fake := secureaitest.NewVault(t)
	seedVault(fake)
	fake.AddToken(vaultToken, 0)
	p := newVault(t, fake, keyprovider.VaultOptions{Token: keyprovider.NewSecret(vaultToken)}, false)

	tests := []struct {
		group   string
		want    string
		version string
		reason  string
		wantErr error
	}{
		{"hr", canary, "2", "", nil},
		{"finance", "sk-finance", "1", "", nil},
		{"pinned", "sk-hr-v1", "1", "", nil},
		{"badfield", "", "", keyprovider.ReasonNotFound, keyprovider.ErrNoKey},
		{"number", "", "", keyprovider.ReasonMalformed, nil},
		{"missing", "", "", keyprovider.ReasonNotFound, keyprovider.ErrNoKey},
		{"v9", "", "", keyprovider.ReasonNotFound, keyprovider.ErrNoKey},
		{"traverse", "", "", keyprovider.ReasonMalformed, nil},
		{"spaces", "", "", keyprovider.ReasonInvalidKey, keyprovider.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.group, func(t *testing.T) {
			k, info, err := p.KeyInfo(t.Context(), keyprovider.Scope{Environment: "prod", Group: tt.group})
			if tt.reason == "" {
				if err != nil || k.Reveal() != tt.want || info.Version != tt.version || !strings.HasPrefix(info.Source, "vault:") {
					t.Fatalf("KeyInfo = %d bytes, %+v, %v", k.Len(), info, err)
				}
				return
			}
			fe, ok := errors.AsType[*keyprovider.FetchError](err)
			if !ok || fe.Reason != tt.reason || fe.Provider != "vault" || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("KeyInfo error = %v; want reason %s", err, tt.reason)
			}
			if !k.IsZero() {
				t.Error("a key with an error")
			}
			assertNoLeak(t, "error", err.Error())
		})
	}
	if _, err := p.Key(t.Context(), keyprovider.Scope{Environment: "prod", Group: "legal"}); !errors.Is(err, keyprovider.ErrNoScope) {
		t.Errorf("unmapped scope: %v", err)
	}
	if n := fake.Fetches("secret", "openai/prod/hr"); n != 4 {
		t.Errorf("fake counted %d reads of openai/prod/hr, want 4", n)
	}

	// A revoked token: 403, and a token cannot log in again.
	fake.RevokeToken(vaultToken)
	_, err := p.Key(t.Context(), hrScope)
	if fe, ok := errors.AsType[*keyprovider.FetchError](err); !ok || fe.Reason != keyprovider.ReasonDenied || fe.Code != "403" || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("revoked token: %v", err)
	}
	assertNoLeak(t, "error", err.Error())
	if strings.Contains(err.Error(), vaultToken) {
		t.Errorf("error holds the Vault token: %v", err)
	}
}

func TestVaultAppRole(t *testing.T) {
	fake := secureaitest.NewVault(t) // outside the bubble: its listener blocks in network I/O
	synctest.Test(t, func(t *testing.T) {
		seedVault(fake)
		fake.AddAppRole(vaultRoleID, vaultSecretID, time.Hour, "secret/openai/prod")
		fake.SetNamespace("team-a")
		p := newVault(t, fake, keyprovider.VaultOptions{
			Namespace: "team-a",
			AppRole:   &keyprovider.VaultAppRole{RoleID: keyprovider.NewSecret(vaultRoleID), SecretID: keyprovider.NewSecret(vaultSecretID)},
		}, true)

		mustKey(t, p, canary)
		mustKey(t, p, canary)
		if n := fake.Logins(); n != 1 {
			t.Fatalf("%d logins for two reads, want 1", n)
		}
		// The role may not read kv/teams/finance.
		_, err := p.Key(t.Context(), keyprovider.Scope{Environment: "prod", Group: "finance"})
		if fe, ok := errors.AsType[*keyprovider.FetchError](err); !ok || fe.Reason != keyprovider.ReasonDenied {
			t.Fatalf("read outside the policy: %v", err)
		}
		if n := fake.Logins(); n != 2 {
			t.Errorf("a 403 should log in once more: %d logins", n)
		}

		// The token is renewed at 80% of its lease.
		time.Sleep(47 * time.Minute)
		mustKey(t, p, canary)
		if n := fake.Logins(); n != 2 {
			t.Errorf("logged in again before 80%% of the lease: %d logins", n)
		}
		time.Sleep(2 * time.Minute)
		mustKey(t, p, canary)
		if n := fake.Logins(); n != 3 {
			t.Errorf("%d logins after 80%% of the lease, want 3", n)
		}

		// A revoked token: log in again and succeed.
		fake.RevokeAllTokens()
		mustKey(t, p, canary)
		if n := fake.Logins(); n != 4 {
			t.Errorf("%d logins after revocation, want 4", n)
		}

		// Logins are single-flight.
		fake.RevokeAllTokens()
		time.Sleep(time.Hour)
		done := make(chan error, 50)
		for range 50 {
			go func() {
				_, err := p.Key(t.Context(), hrScope)
				done <- err
			}()
		}
		for range 50 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if n := fake.Logins(); n != 5 {
			t.Errorf("%d logins for 50 concurrent reads with an expired token, want 5", n)
		}
	})
}

func TestVaultErrors(t *testing.T) {
	fake := secureaitest.NewVault(t)
	seedVault(fake)
	fake.AddAppRole(vaultRoleID, vaultSecretID, time.Hour)
	fake.SetNamespace("team-a")
	appRole := func(secretID string) *keyprovider.VaultAppRole {
		return &keyprovider.VaultAppRole{RoleID: keyprovider.NewSecret(vaultRoleID), SecretID: keyprovider.NewSecret(secretID)}
	}
	tests := []struct {
		name   string
		o      keyprovider.VaultOptions
		fault  *secureaitest.VaultFault
		ctx    func(context.Context) (context.Context, context.CancelFunc)
		reason string
		code   string
		want   error
	}{
		{name: "bad secret id", o: keyprovider.VaultOptions{Namespace: "team-a", AppRole: appRole("wrong-" + canary)},
			reason: keyprovider.ReasonDenied, code: "400"},
		{name: "wrong namespace", o: keyprovider.VaultOptions{Namespace: "team-b", AppRole: appRole(vaultSecretID)},
			reason: keyprovider.ReasonDenied, code: "400"},
		{name: "sealed", o: keyprovider.VaultOptions{Namespace: "team-a", AppRole: appRole(vaultSecretID)},
			fault: &secureaitest.VaultFault{Endpoint: "kv", Status: 503}, reason: keyprovider.ReasonUnavailable, code: "503"},
		{name: "login 500", o: keyprovider.VaultOptions{Namespace: "team-a", AppRole: appRole(vaultSecretID)},
			fault: &secureaitest.VaultFault{Endpoint: "login", Status: 500}, reason: keyprovider.ReasonUnavailable, code: "500"},
		{name: "hang", o: keyprovider.VaultOptions{Namespace: "team-a", AppRole: appRole(vaultSecretID)},
			fault: &secureaitest.VaultFault{Endpoint: "kv", Hang: true}, reason: keyprovider.ReasonTimeout, want: context.DeadlineExceeded,
			ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, 50*time.Millisecond)
			}},
		{name: "hang at login", o: keyprovider.VaultOptions{Namespace: "team-a", AppRole: appRole(vaultSecretID)},
			fault: &secureaitest.VaultFault{Endpoint: "login", Hang: true}, reason: keyprovider.ReasonTimeout, want: context.DeadlineExceeded,
			ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, 50*time.Millisecond)
			}},
		{name: "cancelled", o: keyprovider.VaultOptions{Namespace: "team-a", AppRole: appRole(vaultSecretID)},
			reason: keyprovider.ReasonCanceled, want: context.Canceled,
			ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				return ctx, cancel
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newVault(t, fake, tt.o, false)
			if tt.fault != nil {
				fake.FailNext(1, *tt.fault)
			}
			ctx := t.Context()
			if tt.ctx != nil {
				var cancel context.CancelFunc
				ctx, cancel = tt.ctx(ctx)
				defer cancel()
			}
			_, err := p.Key(ctx, hrScope)
			fe, ok := errors.AsType[*keyprovider.FetchError](err)
			if !ok || fe.Reason != tt.reason || fe.Code != tt.code || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Key error = %#v (%v); want reason %s, code %q", fe, err, tt.reason, tt.code)
			}
			for _, secret := range []string{vaultSecretID, vaultRoleID, canary} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error holds a secret: %v", err)
				}
			}
			assertNoLeak(t, "error", err.Error())
		})
	}
}

func TestVaultConfig(t *testing.T) {
	tok := keyprovider.NewSecret(vaultToken)
	secrets := vaultSecrets()
	tests := []struct {
		name string
		o    keyprovider.VaultOptions
		ok   bool
	}{
		{"https", keyprovider.VaultOptions{Address: "https://vault.example.com:8200", Token: tok, Secrets: secrets}, true},
		{"loopback http", keyprovider.VaultOptions{Address: "http://127.0.0.1:8200", Token: tok, Secrets: secrets}, true},
		{"insecure http allowed", keyprovider.VaultOptions{Address: "http://vault:8200", Token: tok, Secrets: secrets, InsecureHTTP: true}, true},
		{"plain http", keyprovider.VaultOptions{Address: "http://vault.example.com:8200", Token: tok, Secrets: secrets}, false},
		{"no address", keyprovider.VaultOptions{Token: tok, Secrets: secrets}, false},
		{"userinfo", keyprovider.VaultOptions{Address: "https://u:p@vault", Token: tok, Secrets: secrets}, false},
		{"no auth", keyprovider.VaultOptions{Address: "https://vault", Secrets: secrets}, false},
		{"two auths", keyprovider.VaultOptions{Address: "https://vault", Token: tok, AppRole: &keyprovider.VaultAppRole{RoleID: tok, SecretID: tok}, Secrets: secrets}, false},
		{"approle without secret id", keyprovider.VaultOptions{Address: "https://vault", AppRole: &keyprovider.VaultAppRole{RoleID: tok}, Secrets: secrets}, false},
		{"no secrets", keyprovider.VaultOptions{Address: "https://vault", Token: tok}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := keyprovider.Vault(tt.o)
			if (err == nil) != tt.ok {
				t.Fatalf("Vault = %v, %v", p, err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "keyprovider: vault: ") {
				t.Errorf("error %q lacks the prefix", err)
			}
			if p != nil {
				p.Close(t.Context())
			}
		})
	}
}

// TestVaultRedirect checks that the token is not sent to another host.
func TestVaultRedirect(t *testing.T) {
	fake := secureaitest.NewVault(t)
	fake.AddToken(vaultToken, 0)
	seedVault(fake)
	var seen []string
	hop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("X-Vault-Token"))
		http.Redirect(w, r, fake.URL()+r.URL.Path, http.StatusTemporaryRedirect)
	})
	p, err := keyprovider.Vault(keyprovider.VaultOptions{
		Address: "http://localhost:8200", Token: keyprovider.NewSecret(vaultToken), Secrets: vaultSecrets(),
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Host == "localhost:8200" {
				rec := httptest.NewRecorder()
				hop.ServeHTTP(rec, r)
				return rec.Result(), nil
			}
			return fake.Transport().RoundTrip(r)
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Key(t.Context(), hrScope)
	if fe, ok := errors.AsType[*keyprovider.FetchError](err); !ok || fe.Code != "307" {
		t.Fatalf("Key through a cross-host redirect = %v", err)
	}
	if n := fake.Fetches("secret", "openai/prod/hr"); n != 0 {
		t.Errorf("the token followed the redirect to another host (%d reads)", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
