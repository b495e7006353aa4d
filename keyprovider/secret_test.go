package keyprovider_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/secureai-go/secureai/keyprovider"
)

func TestRevealRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		key  string
	}{
		{"empty", ""},
		{"one byte", "x"},
		{"canary", canary},
		{"unicode", "ключ-🔑-鍵"},
		{"invalid utf-8", "\xff\xfe\x00k"},
		{"nul bytes", "\x00\x00\x00"},
		{"long", strings.Repeat("abc", 1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := keyprovider.NewSecret(tt.key)
			if got := s.Reveal(); got != tt.key {
				t.Errorf("Reveal() = %q, want %q", got, tt.key)
			}
			if got := s.Len(); got != len(tt.key) {
				t.Errorf("Len() = %d, want %d", got, len(tt.key))
			}
			if got := s.IsZero(); got != (tt.key == "") {
				t.Errorf("IsZero() = %v", got)
			}
			c := s // copies share state safely and reveal the same key
			if c.Reveal() != tt.key || !c.Equal(s) {
				t.Error("copy differs from original")
			}
		})
	}
}

func TestIsZero(t *testing.T) {
	tests := []struct {
		name string
		s    keyprovider.Secret
		want bool
	}{
		{"zero value", keyprovider.Secret{}, true},
		{"NewSecret empty", keyprovider.NewSecret(""), true},
		{"key", keyprovider.NewSecret("k"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.IsZero(); got != tt.want {
				t.Errorf("IsZero() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	a := keyprovider.NewSecret(canary)
	tests := []struct {
		name string
		x, y keyprovider.Secret
		want bool
	}{
		{"same value", a, a, true},
		{"same key, different pads", a, keyprovider.NewSecret(canary), true},
		{"different key, same length", a, keyprovider.NewSecret(canary[:len(canary)-1] + "X"), false},
		{"prefix", a, keyprovider.NewSecret(canary[:10]), false},
		{"zero and empty", keyprovider.Secret{}, keyprovider.NewSecret(""), true},
		{"zero and key", keyprovider.Secret{}, a, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.x.Equal(tt.y); got != tt.want {
				t.Errorf("x.Equal(y) = %v, want %v", got, tt.want)
			}
			if got := tt.y.Equal(tt.x); got != tt.want {
				t.Errorf("y.Equal(x) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	a := keyprovider.NewSecret(canary)
	fp := a.Fingerprint()
	if !strings.HasPrefix(fp, "kfp_") || len(fp) != len("kfp_")+16 {
		t.Fatalf("Fingerprint() = %q, want kfp_ and 16 hex digits", fp)
	}
	if strings.Trim(fp[4:], "0123456789abcdef") != "" {
		t.Errorf("Fingerprint() = %q is not lowercase hex", fp)
	}
	// SHA-256 of the canary begins with these 8 bytes (sha256sum agrees); a
	// change would break fingerprints already recorded in audit logs.
	if want := "kfp_adf6a78d08ff5b5c"; fp != want {
		t.Errorf("Fingerprint() = %q, want %q", fp, want)
	}
	tests := []struct {
		name   string
		s      keyprovider.Secret
		sameAs bool
	}{
		{"same key again", keyprovider.NewSecret(canary), true},
		{"copy", a, true},
		{"other key", keyprovider.NewSecret(canary + "x"), false},
		{"prefix", keyprovider.NewSecret(canary[:8]), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Fingerprint() == fp; got != tt.sameAs {
				t.Errorf("fingerprint equality = %v, want %v (%s vs %s)", got, tt.sameAs, tt.s.Fingerprint(), fp)
			}
		})
	}
	for n := 4; n <= len(canary); n++ {
		if strings.Contains(fp, canary[:n]) {
			t.Errorf("fingerprint %q contains a %d-byte prefix of the key", fp, n)
		}
	}
	if got := (keyprovider.Secret{}).Fingerprint(); got != "" {
		t.Errorf("zero Fingerprint() = %q, want empty", got)
	}
}

func TestScopeString(t *testing.T) {
	tests := []struct {
		scope keyprovider.Scope
		want  string
	}{
		{keyprovider.Scope{Environment: "prod", Group: "teamA"}, "prod/teamA"},
		{keyprovider.Scope{Environment: "prod", Group: "teamA", Tier: "pro"}, "prod/teamA/pro"},
		{keyprovider.Scope{Environment: "prod", Tier: "pro"}, "prod/-/pro"},
		{keyprovider.Scope{Tier: "pro"}, "-/-/pro"},
		{keyprovider.Scope{Environment: "prod"}, "prod"},
		{keyprovider.Scope{Group: "teamA"}, "-/teamA"},
		{keyprovider.Scope{}, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.scope.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := fmt.Sprint(tt.scope); got != tt.want {
				t.Errorf("Sprint = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Setenv("KEYPROVIDER_TEST_CONCURRENT", canary)
	env, err := keyprovider.Env("KEYPROVIDER_TEST_CONCURRENT")
	if err != nil {
		t.Fatal(err)
	}
	s := keyprovider.NewSecret(canary)
	static := keyprovider.Static(canary)
	providers := []keyprovider.Provider{static, env}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 32 {
		wg.Go(func() {
			scope := keyprovider.Scope{Environment: "prod", Group: fmt.Sprint(g % 4)}
			for range 200 {
				if s.Reveal() != canary || !s.Equal(keyprovider.NewSecret(canary)) {
					select {
					case errs <- "Secret changed under concurrent use":
					default:
					}
					return
				}
				_ = fmt.Sprint(s) + s.Fingerprint()
				for _, p := range providers {
					k, err := p.Key(t.Context(), scope)
					if err != nil || k.Reveal() != canary {
						select {
						case errs <- fmt.Sprintf("%v: Key = %v, %v", p, k, err):
						default:
						}
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
