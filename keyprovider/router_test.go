package keyprovider_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/secureai-go/secureai/keyprovider"
)

func TestRouter(t *testing.T) {
	key := func(k string) keyprovider.Provider { return keyprovider.Static(k) }
	r, err := keyprovider.NewRouter(map[keyprovider.Scope]keyprovider.Provider{
		{Environment: "prod", Group: "hr"}:                        key("sk-prod-hr"),
		{Environment: "prod", Group: "finance"}:                   key("sk-prod-finance"),
		{Environment: "prod", Group: "finance", Tier: "pro"}:      key("sk-prod-finance-pro"),
		{Environment: "prod", Group: "search", Tier: "*"}:         key("sk-prod-search"),
		{Environment: "staging", Group: "*", Tier: "*"}:           key("sk-staging"),
		{Environment: "*", Group: "tools", Tier: keyprovider.Any}: key("sk-any-tools"),
		{Environment: "dev", Group: "*", Tier: "free"}:            key("sk-dev-free"),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		scope keyprovider.Scope
		want  string // "" : ErrNoScope
	}{
		{keyprovider.Scope{Environment: "prod", Group: "hr"}, "sk-prod-hr"},
		{keyprovider.Scope{Environment: "prod", Group: "finance"}, "sk-prod-finance"},
		{keyprovider.Scope{Environment: "prod", Group: "finance", Tier: "pro"}, "sk-prod-finance-pro"},
		{keyprovider.Scope{Environment: "prod", Group: "finance", Tier: "free"}, ""}, // no fallback to the tierless key
		{keyprovider.Scope{Environment: "prod", Group: "hr", Tier: "pro"}, ""},
		{keyprovider.Scope{Environment: "prod", Group: "legal"}, ""},
		{keyprovider.Scope{Environment: "prod"}, ""},
		{keyprovider.Scope{}, ""},
		{keyprovider.Scope{Environment: "PROD", Group: "hr"}, ""}, // exact, case-sensitive
		{keyprovider.Scope{Environment: "prod", Group: "search", Tier: "pro"}, "sk-prod-search"},
		{keyprovider.Scope{Environment: "prod", Group: "search"}, "sk-prod-search"},
		{keyprovider.Scope{Environment: "staging", Group: "hr", Tier: "x"}, "sk-staging"},
		{keyprovider.Scope{Environment: "staging", Group: "tools"}, "sk-staging"}, // environment pinned beats group pinned
		{keyprovider.Scope{Environment: "qa", Group: "tools"}, "sk-any-tools"},
		{keyprovider.Scope{Environment: "dev", Group: "x", Tier: "free"}, "sk-dev-free"},
		{keyprovider.Scope{Environment: "dev", Group: "x", Tier: "pro"}, ""},
		{keyprovider.Scope{Environment: "prod", Group: "*"}, ""}, // a literal "*" gains nothing
	}
	for _, tt := range tests {
		t.Run(tt.scope.String(), func(t *testing.T) {
			k, err := r.Key(t.Context(), tt.scope)
			if tt.want == "" {
				var se *keyprovider.ScopeError
				if !errors.Is(err, keyprovider.ErrNoScope) || !errors.Is(err, keyprovider.ErrNoKey) || !errors.As(err, &se) || se.Scope != tt.scope {
					t.Fatalf("Key = %v, %v; want a ScopeError for %v", k, err, tt.scope)
				}
				if !k.IsZero() {
					t.Error("a key with an error")
				}
				if got := keyprovider.ErrorClass(err); got != "no_scope" {
					t.Errorf("ErrorClass = %q", got)
				}
				return
			}
			if err != nil || k.Reveal() != tt.want {
				t.Fatalf("Key = %d bytes, %v; want %s", k.Len(), err, tt.want)
			}
		})
	}
}

func TestRouterConfig(t *testing.T) {
	if _, err := keyprovider.NewRouter(nil); err == nil {
		t.Error("NewRouter(nil) succeeded")
	}
	if _, err := keyprovider.NewRouter(map[keyprovider.Scope]keyprovider.Provider{{Environment: "prod"}: nil}); err == nil {
		t.Error("NewRouter with a nil provider succeeded")
	}
	r, _ := keyprovider.NewRouter(map[keyprovider.Scope]keyprovider.Provider{{Environment: "prod", Group: "hr"}: keyprovider.Static(canary)})
	if got, want := r.String(), "keyprovider.Router(prod/hr: keyprovider.Static(kfp_adf6a78d08ff5b5c))"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

type closerProvider struct {
	keyprovider.Provider
	closed *atomic.Int32
}

func (c closerProvider) Close(context.Context) error { c.closed.Add(1); return nil }

func TestRouterInvalidateAndClose(t *testing.T) {
	var closed atomic.Int32
	keys := keyprovider.NewCache(keyprovider.Static(canary), keyprovider.CacheOptions{})
	shared := &closerProvider{keyprovider.Static("sk-shared"), &closed}
	r, err := keyprovider.NewRouter(map[keyprovider.Scope]keyprovider.Provider{
		{Environment: "prod", Group: "a"}: keys,
		{Environment: "prod", Group: "b"}: keyprovider.Static("sk-b"),
		{Environment: "prod", Group: "c"}: shared,
		{Environment: "prod", Group: "d"}: shared,
	})
	if err != nil {
		t.Fatal(err)
	}
	a := keyprovider.Scope{Environment: "prod", Group: "a"}
	k, info, err := r.KeyInfo(t.Context(), a)
	if err != nil || k.Reveal() != canary || info.FetchedAt.IsZero() {
		t.Fatalf("KeyInfo = %v, %+v, %v", k, info, err)
	}
	// Static cannot refresh; the router says so.
	if err := r.Invalidate(t.Context(), keyprovider.Scope{Environment: "prod", Group: "b"}, keyprovider.NewSecret("sk-b")); !errors.Is(err, keyprovider.ErrCannotRefresh) {
		t.Errorf("Invalidate(static) = %v", err)
	}
	if err := r.Invalidate(t.Context(), keyprovider.Scope{Environment: "prod", Group: "x"}, k); !errors.Is(err, keyprovider.ErrCannotRefresh) || !errors.Is(err, keyprovider.ErrNoScope) {
		t.Errorf("Invalidate(no route) = %v", err)
	}
	if err := r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := closed.Load(); n != 1 {
		t.Errorf("shared provider closed %d times, want 1", n)
	}
	if _, err := keys.Key(t.Context(), a); !errors.Is(err, keyprovider.ErrClosed) {
		t.Errorf("the router did not close its cache: %v", err)
	}
	if _, err := r.Key(t.Context(), a); !errors.Is(err, keyprovider.ErrClosed) {
		t.Errorf("Key after Close = %v", err)
	}
}
