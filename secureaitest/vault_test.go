package secureaitest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/secureai-go/secureai/secureaitest"
)

// vaultDo sends a request to the fake in memory and returns the status and
// the decoded body.
func vaultDo(t *testing.T, ctx context.Context, v *secureaitest.Vault, method, path, token, ns, body string) (int, map[string]any, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, method, v.URL()+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if ns != "" {
		req.Header.Set("X-Vault-Namespace", ns)
	}
	resp, err := (&http.Client{Transport: v.Transport()}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out, nil
}

func TestVaultKVRead(t *testing.T) {
	v := secureaitest.NewVault(t)
	v.AddToken("root", 0)
	v.AddToken("narrow", 0, "secret/openai/prod")
	v.PutKV("secret", "openai/prod/hr", map[string]any{"api_key": "sk-1"})
	if n := v.PutKV("secret", "openai/prod/hr", map[string]any{"api_key": "sk-2"}); n != 2 {
		t.Fatalf("PutKV version %d", n)
	}
	v.PutKV("secret", "other", map[string]any{"api_key": "sk-other"})

	status, body, _ := vaultDo(t, t.Context(), v, "GET", "/v1/secret/data/openai/prod/hr", "root", "", "")
	if status != 200 {
		t.Fatalf("read: %d %v", status, body)
	}
	// The KV v2 read envelope, as in Vault's API documentation.
	for _, k := range []string{"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth"} {
		if _, ok := body[k]; !ok {
			t.Errorf("envelope lacks %s", k)
		}
	}
	data := body["data"].(map[string]any)
	md := data["metadata"].(map[string]any)
	if data["data"].(map[string]any)["api_key"] != "sk-2" || md["version"] != float64(2) || md["destroyed"] != false || md["deletion_time"] != "" || md["created_time"] == "" {
		t.Errorf("data %v", data)
	}
	for _, k := range []string{"created_time", "custom_metadata", "deletion_time", "destroyed", "version"} {
		if _, ok := md[k]; !ok {
			t.Errorf("metadata lacks %s", k)
		}
	}

	tests := []struct {
		name, path, token string
		status            int
		errors            []any
		key               string
	}{
		{"version 1", "/v1/secret/data/openai/prod/hr?version=1", "root", 200, nil, "sk-1"},
		{"no such version", "/v1/secret/data/openai/prod/hr?version=3", "root", 404, []any{}, ""},
		{"bad version", "/v1/secret/data/openai/prod/hr?version=x", "root", 400, []any{"invalid version"}, ""},
		{"no such secret", "/v1/secret/data/openai/none", "root", 404, []any{}, ""},
		{"no token", "/v1/secret/data/openai/prod/hr", "", 403, []any{"permission denied"}, ""},
		{"unknown token", "/v1/secret/data/openai/prod/hr", "nope", 403, []any{"permission denied"}, ""},
		{"policy allows", "/v1/secret/data/openai/prod/hr", "narrow", 200, nil, "sk-2"},
		{"policy denies", "/v1/secret/data/other", "narrow", 403, []any{"permission denied"}, ""},
		{"unsupported path", "/v1/sys/health", "root", 404, []any{"unsupported path"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := vaultDo(t, t.Context(), v, "GET", tt.path, tt.token, "", "")
			if err != nil || status != tt.status {
				t.Fatalf("%d %v %v", status, body, err)
			}
			if tt.errors != nil {
				if got, _ := json.Marshal(body["errors"]); string(got) != vaultJSON(tt.errors) {
					t.Errorf("errors %s, want %s", got, vaultJSON(tt.errors))
				}
				return
			}
			if got := body["data"].(map[string]any)["data"].(map[string]any)["api_key"]; got != tt.key {
				t.Errorf("key %v", got)
			}
		})
	}
	v.DeleteKV("secret", "openai/prod/hr", 0)
	status, body, _ = vaultDo(t, t.Context(), v, "GET", "/v1/secret/data/openai/prod/hr", "root", "", "")
	if md := body["data"].(map[string]any)["metadata"].(map[string]any); status != 404 || md["deletion_time"] == "" {
		t.Errorf("deleted version: %d %v", status, body)
	}
	if n := v.Fetches("secret", "openai/prod/hr"); n != 8 {
		t.Errorf("Fetches = %d, want 8", n)
	}
}

func vaultJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestVaultAppRoleLogin(t *testing.T) {
	v := secureaitest.NewVault(t)
	v.AddAppRole("role", "secret", 20*time.Minute, "secret/app")
	v.PutKV("secret", "app/key", map[string]any{"api_key": "sk-app"})
	v.PutKV("secret", "other", map[string]any{"api_key": "sk-other"})
	v.SetNamespace("ns1")
	synctest.Test(t, func(t *testing.T) {
		status, body, _ := vaultDo(t, t.Context(), v, "POST", "/v1/auth/approle/login", "", "ns1", `{"role_id":"role","secret_id":"secret"}`)
		if status != 200 {
			t.Fatalf("login: %d %v", status, body)
		}
		auth := body["auth"].(map[string]any)
		for _, k := range []string{"client_token", "accessor", "policies", "token_policies", "metadata", "lease_duration", "renewable", "entity_id", "token_type", "orphan"} {
			if _, ok := auth[k]; !ok {
				t.Errorf("auth lacks %s", k)
			}
		}
		token := auth["client_token"].(string)
		if auth["lease_duration"] != float64(1200) || !strings.HasPrefix(token, "hvs.") {
			t.Errorf("auth %v", auth)
		}
		read := func(path, ns string) int {
			status, _, _ := vaultDo(t, t.Context(), v, "GET", "/v1/secret/data/"+path, token, ns, "")
			return status
		}
		if s := read("app/key", "ns1"); s != 200 {
			t.Errorf("read with the login's token: %d", s)
		}
		if s := read("app/key", ""); s != 403 {
			t.Errorf("read without the namespace: %d", s)
		}
		if s := read("other", "ns1"); s != 403 {
			t.Errorf("read outside the role's paths: %d", s)
		}
		time.Sleep(20 * time.Minute) // the token's TTL
		if s := read("app/key", "ns1"); s != 403 {
			t.Errorf("read with an expired token: %d", s)
		}
		for _, tt := range []struct{ body, ns, want string }{
			{`{"role_id":"role","secret_id":"wrong"}`, "ns1", "invalid role or secret ID"},
			{`{"role_id":"nope","secret_id":"secret"}`, "ns1", "invalid role or secret ID"},
			{`{"role_id":"role","secret_id":"secret"}`, "ns2", "invalid role or secret ID"},
			{`{"secret_id":"secret"}`, "ns1", "missing role_id"},
			{`not json`, "ns1", "failed to parse JSON input"},
		} {
			status, body, _ := vaultDo(t, t.Context(), v, "POST", "/v1/auth/approle/login", "", tt.ns, tt.body)
			if errs, _ := body["errors"].([]any); status != 400 || len(errs) != 1 || !strings.HasPrefix(errs[0].(string), tt.want) {
				t.Errorf("login %s: %d %v", tt.body, status, body)
			}
		}
		if n := v.Logins(); n != 6 {
			t.Errorf("Logins = %d, want 6", n)
		}
	})
}

func TestVaultFaults(t *testing.T) {
	v := secureaitest.NewVault(t)
	v.AddToken("t", 0)
	v.PutKV("secret", "k", map[string]any{"api_key": "sk"})
	read := func(ctx context.Context) (int, map[string]any, error) {
		return vaultDo(t, ctx, v, "GET", "/v1/secret/data/k", "t", "", "")
	}
	v.FailNext(1, secureaitest.VaultFault{Endpoint: "login", Status: 500}) // not for reads
	v.FailNext(1, secureaitest.VaultFault{Endpoint: "kv", Status: 503})
	if status, body, _ := read(t.Context()); status != 503 || vaultJSON(body["errors"]) != `["Vault is sealed"]` {
		t.Errorf("sealed: %d %v", status, body)
	}
	if status, _, _ := read(t.Context()); status != 200 {
		t.Errorf("after the fault: %d", status)
	}
	synctest.Test(t, func(t *testing.T) {
		v.FailNext(1, secureaitest.VaultFault{Latency: time.Minute})
		start := time.Now()
		if status, _, _ := read(t.Context()); status != 200 || time.Since(start) != time.Minute {
			t.Errorf("latency: %d after %v", status, time.Since(start))
		}
		v.FailNext(1, secureaitest.VaultFault{Hang: true})
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		if _, _, err := read(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Minute+time.Hour {
			t.Errorf("hang: %v", err)
		}
	})
	// Close ends a hanging request.
	v.FailNext(1, secureaitest.VaultFault{Hang: true})
	done := make(chan error)
	go func() {
		_, _, err := read(t.Context())
		done <- err
	}()
	for v.Fetches("secret", "k") < 5 {
		time.Sleep(time.Millisecond)
	}
	v.Close()
	if err := <-done; err == nil {
		t.Error("a request hanging at Close succeeded")
	}
}
