package keyprovider_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/secureai-go/secureai/keyprovider"
)

func FuzzSecret(f *testing.F) {
	for _, seed := range []string{"", "k", "abcd", canary, "ключ-🔑", "\xff\xfe\x00", "REDACTED", "[EMPTY]", `"[`, "%v%s"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		s := keyprovider.NewSecret(key)
		if got := s.Reveal(); got != key {
			t.Fatalf("Reveal() = %q, want %q", got, key)
		}
		if s.Len() != len(key) || s.IsZero() != (key == "") {
			t.Fatalf("Len() = %d, IsZero() = %v for a %d-byte key", s.Len(), s.IsZero(), len(key))
		}
		if !s.Equal(keyprovider.NewSecret(key)) {
			t.Fatal("Secret not Equal to another Secret with the same key")
		}
		if len(key) < 4 || strings.Contains(`"[REDACTED]" "[EMPTY]" {K:[REDACTED]}`, key) {
			return // the key is part of the redacted text itself
		}
		j, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, out := range []string{
			fmt.Sprintf("%v", s),
			fmt.Sprintf("%#v", s),
			fmt.Sprintf("%q", s),
			fmt.Sprintf("%+v", struct{ K keyprovider.Secret }{s}),
			string(j),
		} {
			if strings.Contains(out, key) {
				t.Fatalf("output %q contains the key %q", out, key)
			}
		}
	})
}
