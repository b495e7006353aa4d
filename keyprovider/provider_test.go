package keyprovider_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/secureai-go/secureai/keyprovider"
)

var scopes = []keyprovider.Scope{
	{},
	{Environment: "prod"},
	{Environment: "dev", Group: "teamA"},
}

func TestStatic(t *testing.T) {
	tests := []struct {
		name    string
		p       *keyprovider.StaticProvider
		want    string
		wantErr error
		str     string
	}{
		{"key", keyprovider.Static(canary), canary, nil, "keyprovider.Static(kfp_adf6a78d08ff5b5c)"},
		{"empty", keyprovider.Static(""), "", keyprovider.ErrNoKey, "keyprovider.Static([EMPTY])"},
		{"zero value", &keyprovider.StaticProvider{}, "", keyprovider.ErrNoKey, "keyprovider.Static([EMPTY])"},
		{"nil", nil, "", keyprovider.ErrNoKey, "keyprovider.Static([EMPTY])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, scope := range scopes {
				k, err := tt.p.Key(t.Context(), scope)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Key(%v) error = %v, want %v", scope, err, tt.wantErr)
				}
				if k.Reveal() != tt.want {
					t.Errorf("Key(%v) returned the wrong key", scope)
				}
				if err != nil && !k.IsZero() {
					t.Errorf("Key(%v) returned a key with an error", scope)
				}
			}
			if got := tt.p.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got := fmt.Sprintf("%#v", tt.p); got != tt.str {
				t.Errorf("%%#v = %q, want %q", got, tt.str)
			}
		})
	}
}

func TestStaticIsNotInvalidator(t *testing.T) {
	var p keyprovider.Provider = keyprovider.Static(canary)
	if _, ok := p.(keyprovider.Invalidator); ok {
		t.Error("*StaticProvider implements Invalidator; a static key cannot be refreshed")
	}
}

func TestEnvName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"OPENAI_API_KEY", true},
		{"_x", true},
		{"a1", true},
		{"", false},
		{"1A", false},
		{"A-B", false},
		{"A B", false},
		{"A=B", false},
		{"KEY\x00", false},
		{"CLÉ", false},
		{canary, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := keyprovider.Env(tt.name)
			if tt.ok {
				if err != nil || p == nil {
					t.Fatalf("Env(%q) = %v, %v; want a provider", tt.name, p, err)
				}
				if got, want := p.String(), "keyprovider.Env("+tt.name+")"; got != want {
					t.Errorf("String() = %q, want %q", got, want)
				}
				return
			}
			if !errors.Is(err, keyprovider.ErrInvalidEnvName) || p != nil {
				t.Fatalf("Env(%q) = %v, %v; want ErrInvalidEnvName", tt.name, p, err)
			}
			if tt.name != "" && strings.Contains(err.Error(), tt.name) {
				t.Errorf("error %q repeats the rejected name", err)
			}
		})
	}
}

func TestEnvKey(t *testing.T) {
	const name = "KEYPROVIDER_TEST_ENV"
	p, err := keyprovider.Env(name)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		value   *string // nil: unset
		wantErr error
	}{
		{"unset", nil, keyprovider.ErrNoKey},
		{"empty", ptr(""), keyprovider.ErrNoKey},
		{"set", ptr(canary), nil},
		{"changed", ptr(canary + "-rotated"), nil},
		{"unicode", ptr("ключ-🔑"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setenv(t, name, tt.value)
			for _, scope := range scopes {
				k, err := p.Key(t.Context(), scope)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Key error = %v, want %v", err, tt.wantErr)
				}
				if err != nil {
					if !strings.Contains(err.Error(), name) {
						t.Errorf("error %q does not name the variable", err)
					}
					if !k.IsZero() {
						t.Error("Key returned a key with an error")
					}
					continue
				}
				if k.Reveal() != *tt.value {
					t.Error("Key returned the wrong key")
				}
			}
		})
	}
}

func TestEnvInvalidate(t *testing.T) {
	const name = "KEYPROVIDER_TEST_INVALIDATE"
	p, err := keyprovider.Env(name)
	if err != nil {
		t.Fatal(err)
	}
	var _ keyprovider.Invalidator = p
	old := keyprovider.NewSecret(canary)
	tests := []struct {
		name    string
		value   *string
		wantErr error
	}{
		{"unchanged", ptr(canary), keyprovider.ErrCannotRefresh},
		{"unset", nil, keyprovider.ErrCannotRefresh},
		{"empty", ptr(""), keyprovider.ErrCannotRefresh},
		{"rotated", ptr(canary + "-rotated"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setenv(t, name, ptr(canary))
			if k, err := p.Key(t.Context(), keyprovider.Scope{}); err != nil || !k.Equal(old) {
				t.Fatalf("Key = %v, %v", k, err)
			}
			setenv(t, name, tt.value)
			err := p.Invalidate(t.Context(), keyprovider.Scope{}, old)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Invalidate error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name the variable", err)
				}
				return
			}
			k, err := p.Key(t.Context(), keyprovider.Scope{})
			if err != nil || k.Equal(old) || k.Reveal() != *tt.value {
				t.Errorf("after Invalidate, Key = %v (equal to rejected: %v), %v", k, k.Equal(old), err)
			}
		})
	}
}

func TestEnvZeroValue(t *testing.T) {
	var p keyprovider.EnvProvider
	if _, err := p.Key(t.Context(), keyprovider.Scope{}); !errors.Is(err, keyprovider.ErrInvalidEnvName) {
		t.Errorf("Key error = %v, want ErrInvalidEnvName", err)
	}
	if err := p.Invalidate(t.Context(), keyprovider.Scope{}, keyprovider.Secret{}); !errors.Is(err, keyprovider.ErrInvalidEnvName) {
		t.Errorf("Invalidate error = %v, want ErrInvalidEnvName", err)
	}
}

func TestProviderFunc(t *testing.T) {
	keys := map[keyprovider.Scope]keyprovider.Secret{
		{Environment: "prod", Group: "a"}: keyprovider.NewSecret("sk-a"),
		{Environment: "prod"}:             keyprovider.NewSecret("sk-prod"),
	}
	var p keyprovider.Provider = keyprovider.ProviderFunc(func(ctx context.Context, s keyprovider.Scope) (keyprovider.Secret, error) {
		if err := ctx.Err(); err != nil {
			return keyprovider.Secret{}, err
		}
		k, ok := keys[s]
		if !ok {
			return keyprovider.Secret{}, fmt.Errorf("%w for scope %s", keyprovider.ErrNoKey, s)
		}
		return k, nil
	})
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		scope   keyprovider.Scope
		want    string
		wantErr error
	}{
		{"group", t.Context(), keyprovider.Scope{Environment: "prod", Group: "a"}, "sk-a", nil},
		{"environment", t.Context(), keyprovider.Scope{Environment: "prod"}, "sk-prod", nil},
		{"missing", t.Context(), keyprovider.Scope{Environment: "dev"}, "", keyprovider.ErrNoKey},
		{"cancelled", cancelled, keyprovider.Scope{Environment: "prod"}, "", context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := p.Key(tt.ctx, tt.scope)
			if !errors.Is(err, tt.wantErr) || k.Reveal() != tt.want {
				t.Errorf("Key = %v (%d bytes), %v; want %d bytes, %v", k, k.Len(), err, len(tt.want), tt.wantErr)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// setenv sets the variable for the rest of the test, or unsets it if value
// is nil.
func setenv(t *testing.T, name string, value *string) {
	t.Helper()
	if value == nil {
		t.Setenv(name, "") // registers restoration of the old value
		if err := os.Unsetenv(name); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Setenv(name, *value)
}
