package keyprovider_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/secureai-go/secureai/keyprovider"
)

func TestNewToken(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name      string
		s         keyprovider.Secret
		wantToken bool
		wantExp   time.Time
		wantZero  bool
	}{
		{"api key", keyprovider.NewSecret(canary), false, time.Time{}, false},
		{"token", keyprovider.NewToken(canary, exp), true, exp, false},
		{"token without expiry", keyprovider.NewToken(canary, time.Time{}), true, time.Time{}, false},
		{"empty token", keyprovider.NewToken("", exp), false, time.Time{}, true},
		{"from bytes", keyprovider.NewSecretBytes([]byte(canary)), false, time.Time{}, false},
		{"zero", keyprovider.Secret{}, false, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.IsToken(); got != tt.wantToken {
				t.Errorf("IsToken() = %v, want %v", got, tt.wantToken)
			}
			if got := tt.s.Expires(); !got.Equal(tt.wantExp) {
				t.Errorf("Expires() = %v, want %v", got, tt.wantExp)
			}
			if tt.s.IsZero() != tt.wantZero {
				t.Errorf("IsZero() = %v", tt.s.IsZero())
			}
			if tt.wantZero {
				return
			}
			if tt.s.Reveal() != canary {
				t.Error("Reveal() returned the wrong key")
			}
			if !tt.s.Equal(keyprovider.NewSecret(canary)) {
				t.Error("a token and an API key with the same bytes are not Equal")
			}
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
				assertNoLeak(t, verb, fmt.Sprintf(verb, tt.s))
			}
			b, _ := json.Marshal(tt.s)
			assertNoLeak(t, "json", string(b))
			if len(findBytes(tt.s, []byte(canary))) != 0 {
				t.Error("the key's bytes are in the Secret's fields")
			}
		})
	}
}

func TestNewSecretBytesZeroes(t *testing.T) {
	b := []byte(canary)
	s := keyprovider.NewSecretBytes(b)
	for i, c := range b {
		if c != 0 {
			t.Fatalf("byte %d not zeroed", i)
		}
	}
	if s.Reveal() != canary || s.Fingerprint() != keyprovider.NewSecret(canary).Fingerprint() {
		t.Error("NewSecretBytes differs from NewSecret")
	}
}
