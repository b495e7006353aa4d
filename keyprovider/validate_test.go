package keyprovider_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/secureai-go/secureai/keyprovider"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
		want string // in the error
	}{
		{"openai project key", "sk-proj-" + strings.Repeat("aB3_-", 30), true, ""},
		{"azure key", "0123456789abcdef0123456789abcdef", true, ""},
		{"jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", true, ""},
		{"non-ASCII printable", "ключ-🔑", true, ""},
		{"max length", strings.Repeat("k", keyprovider.MaxKeyLen), true, ""},
		{"empty", "", false, "empty"},
		{"too long", strings.Repeat("k", keyprovider.MaxKeyLen+1), false, "longer than"},
		{"trailing newline", canary + "\n", false, "whitespace at byte 47"},
		{"inner space", "sk-abc def", false, "whitespace at byte 6"},
		{"tab", "sk-abc\tdef", false, "whitespace"},
		{"carriage return", "sk-abc\r", false, "whitespace"},
		{"NUL", "sk-abc\x00def", false, "control character"},
		{"DEL", "sk-abc\x7f", false, "control character"},
		{"C1 control", "sk-abc\u0085", false, "whitespace"},
		{"no-break space", "sk-abc\u00a0def", false, "whitespace"},
		{"zero-width space", "sk-abc\u200bdef", false, "invisible"},
		{"bidi override", "sk-abc\u202edef", false, "invisible"},
		{"byte order mark", "\ufeffsk-abc", false, "invisible"},
		{"invalid UTF-8", "sk-abc\xff", false, "invalid UTF-8"},
		{"quoted", `"sk-abc"`, false, "quote"},
		{"escaped", `sk-abc\n`, false, "backslash"},
		{"JSON document", `{"api_key":"sk-abc"}`, false, "JSON document"},
		{"JSON array", `["sk-abc"]`, false, "JSON document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := keyprovider.ValidateKey(tt.key)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidateKey = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, keyprovider.ErrInvalidKey) {
				t.Fatalf("ValidateKey = %v, want ErrInvalidKey", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if len(tt.key) >= 4 && strings.Contains(err.Error(), strings.TrimSpace(tt.key)) {
				t.Errorf("error %q contains the key", err)
			}
			if !strings.HasPrefix(err.Error(), "keyprovider: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// FuzzValidateKey checks that ValidateKey never panics, never quotes the
// key, and accepts exactly the keys made of allowed runes.
func FuzzValidateKey(f *testing.F) {
	for _, seed := range []string{"", canary, canary + "\n", "sk a", "ключ-🔑", "\xff", "\u200b", `{"a":"b"}`, `"x"`, strings.Repeat("k", 64)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := keyprovider.ValidateKey(key)
		if err != nil {
			if !errors.Is(err, keyprovider.ErrInvalidKey) {
				t.Fatalf("error %v does not wrap ErrInvalidKey", err)
			}
			if leaks(err, key) {
				t.Fatalf("error %q contains the key", err)
			}
			return
		}
		if key == "" || len(key) > keyprovider.MaxKeyLen || !utf8.ValidString(key) {
			t.Fatalf("ValidateKey accepted %q", key)
		}
		if strings.ContainsAny(key, " \t\r\n\"'\\\x00") || key[0] == '{' || key[0] == '[' {
			t.Fatalf("ValidateKey accepted %q", key)
		}
	})
}

// FuzzExtractKey checks the parsing of secret values (plain or a JSON
// field): no panic, errors typed and without the value, and a key that it
// returns is valid and is what the value holds.
func FuzzExtractKey(f *testing.F) {
	for _, seed := range []struct{ value, field string }{
		{canary, ""},
		{canary + "\n", ""},
		{canary + "\r\n", ""},
		{canary + "\n\n", ""},
		{`{"api_key":"` + canary + `"}`, "api_key"},
		{`{"api_key": "` + canary + `\n"}`, "api_key"},
		{`{"api_key":"sk-\u0061bc"}`, "api_key"},
		{`{"api_key":123}`, "api_key"},
		{`{"other":"x"}`, "api_key"},
		{`{"api_key":`, "api_key"},
		{`[1,2]`, "api_key"},
		{``, ""},
	} {
		f.Add(seed.value, seed.field)
	}
	f.Fuzz(func(t *testing.T, value, field string) {
		key, err := keyprovider.ExtractKey([]byte(value), field)
		if err != nil {
			fe, ok := errors.AsType[*keyprovider.FetchError](err)
			if !ok || fe.Reason == "" {
				t.Fatalf("error %v is not a FetchError with a reason", err)
			}
			if leaks(err, value) {
				t.Fatalf("error %q contains the value", err)
			}
			if !key.IsZero() {
				t.Fatal("a key with an error")
			}
			return
		}
		k := key.Reveal()
		if err := keyprovider.ValidateKey(k); err != nil {
			t.Fatalf("returned an invalid key: %v", err)
		}
		if field == "" && k != strings.TrimSuffix(strings.TrimSuffix(value, "\n"), "\r") {
			t.Fatalf("plain value %q gave key %q", value, k)
		}
	})
}

// FuzzFile reads arbitrary file contents through File: no panic, errors
// typed and without the contents, and a key that it returns is the contents
// less one trailing newline.
func FuzzFile(f *testing.F) {
	for _, seed := range []string{canary, canary + "\n", canary + "\r\n", canary + "\n\n", "\n", "", "sk a\n", "\xff\n", `{"api_key":"x"}` + "\n"} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, "key")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := keyprovider.File(path, keyprovider.FileOptions{})
		if err != nil {
			if _, ok := errors.AsType[*keyprovider.FetchError](err); !ok {
				t.Fatalf("error %v is not a FetchError", err)
			}
			if leaks(errors.New(strings.ReplaceAll(err.Error(), path, "")), strings.TrimSpace(content)) {
				t.Fatalf("error %q contains the contents", err)
			}
			return
		}
		k, err := p.Key(t.Context(), keyprovider.Scope{})
		want := strings.TrimSuffix(content, "\n")
		if strings.HasSuffix(content, "\r\n") {
			want = strings.TrimSuffix(content, "\r\n")
		}
		if err != nil || k.Reveal() != want {
			t.Fatalf("Key = %q, %v; contents %q", k.Reveal(), err, content)
		}
	})
}

// errorVocabulary holds the fixed words of the package's error messages.
const errorVocabulary = "keyprovider: invalid key: no key: file aws-secretsmanager vault " +
	"empty whitespace a control character a quote or backslash invalid UTF-8 an invisible format character " +
	"at byte of looks like a JSON document bytes); select the field that holds the key longer than " +
	"not_found malformed invalid_key value is not a JSON object; want one with the string field " +
	"no field in the -field object field is a string, want a string not a valid JSON string the value is empty file is empty"

// leaks reports whether err's message holds s, a fuzzed secret of at least
// 12 bytes that is not itself made of the messages' fixed words.
func leaks(err error, s string) bool {
	if len(s) < 12 || strings.Contains(errorVocabulary, s) {
		return false
	}
	return strings.Contains(err.Error(), s)
}
