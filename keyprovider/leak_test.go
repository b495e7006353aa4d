package keyprovider_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/secureaitest"
)

const canary = "sk-test-canary-0123456789abcdefABCDEF0123456789"

// leakForms returns the renderings of key that must never appear in output:
// the key itself, its hex forms, the decimal form fmt uses for a []byte, and
// base64.
func leakForms(key string) []string {
	return []string{
		key,
		hex.EncodeToString([]byte(key)),
		strings.ToUpper(hex.EncodeToString([]byte(key))),
		strings.Trim(fmt.Sprint([]byte(key)), "[]"),
		base64.StdEncoding.EncodeToString([]byte(key)),
	}
}

func assertNoLeak(t *testing.T, what, out string) {
	t.Helper()
	for _, form := range leakForms(canary) {
		if strings.Contains(out, form) {
			t.Errorf("%s leaks the key (form %.12q...): %s", what, form, out)
			return
		}
	}
}

// Holders of a Secret in every position fmt treats differently.
type (
	exported struct {
		Name string
		Key  keyprovider.Secret
	}
	unexported struct {
		name string
		key  keyprovider.Secret
	}
	pointer struct{ Key *keyprovider.Secret }
	nested  struct {
		In  exported
		in  unexported
		Any any
	}
)

func leakValues() []struct {
	name string
	v    any
} {
	s := keyprovider.NewSecret(canary)
	p := keyprovider.Static(canary)
	return []struct {
		name string
		v    any
	}{
		{"Secret", s},
		{"*Secret", &s},
		{"struct", exported{"n", s}},
		{"*struct", &exported{"n", s}},
		{"struct unexported field", unexported{"n", s}},
		{"*struct unexported field", &unexported{"n", s}},
		{"struct pointer field", pointer{&s}},
		{"nested", nested{exported{"n", s}, unexported{"n", s}, s}},
		{"*nested", &nested{exported{"n", s}, unexported{"n", s}, &s}},
		{"slice", []keyprovider.Secret{s, s}},
		{"map", map[string]keyprovider.Secret{"a": s}},
		{"map of pointers", map[string]*keyprovider.Secret{"a": &s}},
		{"[]any", []any{s, &s}},
		{"*StaticProvider", p},
		{"StaticProvider", *p},
	}
}

func TestFmtDoesNotLeak(t *testing.T) {
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%p", "%T", "%10v", "%-12s", "% x", "%#x"}
	for _, tt := range leakValues() {
		t.Run(tt.name, func(t *testing.T) {
			for _, verb := range verbs {
				assertNoLeak(t, verb, fmt.Sprintf(verb, tt.v))
			}
			assertNoLeak(t, "Sprint", fmt.Sprint(tt.v))
			assertNoLeak(t, "Sprintln", fmt.Sprintln(tt.v))
		})
	}
}

func TestSecretFormat(t *testing.T) {
	s := keyprovider.NewSecret(canary)
	tests := []struct {
		format string
		v      any
		want   string
	}{
		{"%v", s, "[REDACTED]"},
		{"%+v", s, "[REDACTED]"},
		{"%#v", s, "[REDACTED]"},
		{"%s", s, "[REDACTED]"},
		{"%q", s, `"[REDACTED]"`},
		{"%x", s, "[REDACTED]"},
		{"%X", s, "[REDACTED]"},
		{"%d", s, "[REDACTED]"},
		{"%12v", s, "  [REDACTED]"},
		{"%-12v|", s, "[REDACTED]  |"},
		{"%v", &s, "[REDACTED]"},
		{"%v", keyprovider.Secret{}, "[EMPTY]"},
		{"%q", keyprovider.NewSecret(""), `"[EMPTY]"`},
		{"%+v", exported{"n", s}, "{Name:n Key:[REDACTED]}"},
		{"%v", []keyprovider.Secret{s, {}}, "[[REDACTED] [EMPTY]]"},
		{"%v", map[string]keyprovider.Secret{"a": s}, "map[a:[REDACTED]]"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			if got := fmt.Sprintf(tt.format, tt.v); got != tt.want {
				t.Errorf("Sprintf(%q) = %q, want %q", tt.format, got, tt.want)
			}
		})
	}
	if got := s.String(); got != "[REDACTED]" {
		t.Errorf("String() = %q", got)
	}
	if got := s.GoString(); got != "[REDACTED]" {
		t.Errorf("GoString() = %q", got)
	}
}

func TestEncodingDoesNotLeak(t *testing.T) {
	s := keyprovider.NewSecret(canary)
	type doc struct {
		Name string
		Key  keyprovider.Secret
		Ptr  *keyprovider.Secret
		Keys map[string]keyprovider.Secret
	}
	d := doc{"n", s, &s, map[string]keyprovider.Secret{"a": s}}

	t.Run("json", func(t *testing.T) {
		for _, v := range []any{s, &s, d, &d, []keyprovider.Secret{s}, unexported{"n", s}} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			assertNoLeak(t, "json", string(b))
		}
		b, _ := json.Marshal(s)
		if string(b) != `"[REDACTED]"` {
			t.Errorf("json.Marshal(Secret) = %s", b)
		}
	})
	t.Run("text", func(t *testing.T) {
		b, err := s.MarshalText()
		if err != nil || string(b) != "[REDACTED]" {
			t.Errorf("MarshalText() = %q, %v", b, err)
		}
	})
	t.Run("xml", func(t *testing.T) {
		type xdoc struct {
			Name string
			Key  keyprovider.Secret
			Attr keyprovider.Secret `xml:"attr,attr"`
		}
		b, err := xml.Marshal(xdoc{"n", s, s})
		if err != nil {
			t.Fatal(err)
		}
		assertNoLeak(t, "xml", string(b))
		if !strings.Contains(string(b), "<Key>[REDACTED]</Key>") {
			t.Errorf("xml = %s", b)
		}
	})
	t.Run("gob", func(t *testing.T) {
		for _, v := range []any{s, &s, d} {
			var buf bytes.Buffer
			err := gob.NewEncoder(&buf).Encode(v)
			if !errors.Is(err, keyprovider.ErrNotSerializable) {
				t.Errorf("gob.Encode(%T) error = %v, want ErrNotSerializable", v, err)
			}
			assertNoLeak(t, "gob output", buf.String())
			if err != nil {
				assertNoLeak(t, "gob error", err.Error())
			}
		}
	})
}

func TestSlogDoesNotLeak(t *testing.T) {
	s := keyprovider.NewSecret(canary)
	p := keyprovider.Static(canary)
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	handlers := []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, opts) }},
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, opts) }},
	}
	for _, h := range handlers {
		t.Run(h.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(h.new(&buf))
			log.Debug("any", slog.Any("key", s), slog.Any("ptr", &s))
			log.Debug("positional", "key", s, "ptr", &s)
			log.Debug("group", slog.Group("g", slog.Any("key", s), "k2", s))
			log.Debug("struct", "doc", exported{"n", s}, "hidden", unexported{"n", s}, "nested", &nested{Any: s})
			log.Debug("slice", "keys", []keyprovider.Secret{s})
			log.Debug("provider", "p", p, "str", p.String())
			log.With("key", s).WithGroup("w").Debug("with", "key", s)
			out := buf.String()
			assertNoLeak(t, "slog "+h.name, out)
			if !strings.Contains(out, "[REDACTED]") {
				t.Errorf("output does not show [REDACTED]:\n%s", out)
			}
		})
	}
	if v := s.LogValue(); v.Kind() != slog.KindString || v.String() != "[REDACTED]" {
		t.Errorf("LogValue() = %v", v)
	}
}

func TestProvidersDoNotLeak(t *testing.T) {
	t.Setenv("KEYPROVIDER_TEST_LEAK", canary)
	env, err := keyprovider.Env("KEYPROVIDER_TEST_LEAK")
	if err != nil {
		t.Fatal(err)
	}
	static := keyprovider.Static(canary)
	for _, p := range []any{static, env} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			assertNoLeak(t, fmt.Sprintf("%T %s", p, verb), fmt.Sprintf(verb, p))
		}
	}
	assertNoLeak(t, "Static.String", static.String())
	assertNoLeak(t, "Static.GoString", static.GoString())
	assertNoLeak(t, "Env.String", env.String())
	assertNoLeak(t, "Env.GoString", env.GoString())

	// Every error path, with the key somewhere it could be echoed.
	var errs []error
	_, err = keyprovider.Env(canary) // a key passed as a name by mistake
	errs = append(errs, err)
	errs = append(errs, env.Invalidate(t.Context(), keyprovider.Scope{}, keyprovider.NewSecret(canary)))
	_, err = keyprovider.Static("").Key(t.Context(), keyprovider.Scope{Environment: "prod"})
	errs = append(errs, err)
	_, err = new(keyprovider.EnvProvider).Key(t.Context(), keyprovider.Scope{})
	errs = append(errs, err)
	t.Setenv("KEYPROVIDER_TEST_LEAK", "")
	_, err = env.Key(t.Context(), keyprovider.Scope{})
	errs = append(errs, err)
	errs = append(errs, env.Invalidate(t.Context(), keyprovider.Scope{}, keyprovider.NewSecret(canary)))
	for i, err := range errs {
		if err == nil {
			t.Errorf("error path %d returned nil", i)
			continue
		}
		assertNoLeak(t, fmt.Sprintf("error %d", i), err.Error())
		assertNoLeak(t, fmt.Sprintf("error %d %%#v", i), fmt.Sprintf("%#v", err))
	}
}

// TestNewProvidersDoNotLeak extends TestProvidersDoNotLeak to the File,
// Vault, Cache and Router providers and to every error path they have
// with the key somewhere it could be echoed: bad JSON around it, a wrong
// field, a denied login, a timeout, an invalid key.
func TestNewProvidersDoNotLeak(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	writeFile(t, good, canary+"\n")
	file, err := keyprovider.File(good, keyprovider.FileOptions{CheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	fake := secureaitest.NewVault(t)
	fake.AddToken(canary, 0) // the key used as a Vault token, to catch any echo of the token
	fake.AddAppRole(vaultRoleID, canary, time.Hour)
	fake.PutKV("secret", "ok", map[string]any{"api_key": canary})
	fake.PutKV("secret", "badtype", map[string]any{"api_key": []string{canary}})
	fake.PutKV("secret", "spaces", map[string]any{"api_key": canary + " " + canary})
	secrets := keyprovider.ScopeMap(map[keyprovider.Scope]keyprovider.VaultRef{
		{Group: "ok"}:       {Path: "ok"},
		{Group: "badtype"}:  {Path: "badtype"},
		{Group: "spaces"}:   {Path: "spaces"},
		{Group: "nofield"}:  {Path: "ok", Field: "nope"},
		{Group: "notfound"}: {Path: "none"},
	})
	tokenVault := newVault(t, fake, keyprovider.VaultOptions{Token: keyprovider.NewSecret(canary), Secrets: secrets}, true)
	roleVault := newVault(t, fake, keyprovider.VaultOptions{Secrets: secrets,
		AppRole: &keyprovider.VaultAppRole{RoleID: keyprovider.NewSecret(vaultRoleID), SecretID: keyprovider.NewSecret(canary)}}, true)
	badRole := newVault(t, fake, keyprovider.VaultOptions{Secrets: secrets,
		AppRole: &keyprovider.VaultAppRole{RoleID: keyprovider.NewSecret(vaultRoleID), SecretID: keyprovider.NewSecret(canary + "x")}}, true)
	cache := keyprovider.NewCache(tokenVault, keyprovider.CacheOptions{})
	defer cache.Close(t.Context())
	router, err := keyprovider.NewRouter(map[keyprovider.Scope]keyprovider.Provider{{Group: "ok"}: cache, {Group: "f"}: file})
	if err != nil {
		t.Fatal(err)
	}
	providers := []any{file, tokenVault, roleVault, cache, router}
	for _, p := range providers {
		if _, err := p.(keyprovider.Provider).Key(t.Context(), keyprovider.Scope{Group: "ok"}); err != nil && p != file {
			t.Fatalf("%v: %v", p, err)
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			assertNoLeak(t, fmt.Sprintf("%T %s", p, verb), fmt.Sprintf(verb, p))
		}
	}

	var errs []error
	add := func(_ any, err error) { errs = append(errs, err) }
	for _, g := range []string{"badtype", "spaces", "nofield", "notfound", "unmapped"} {
		add(tokenVault.Key(t.Context(), keyprovider.Scope{Group: g}))
		add(cache.Key(t.Context(), keyprovider.Scope{Group: g}))
	}
	add(badRole.Key(t.Context(), keyprovider.Scope{Group: "ok"}))
	fake.FailNext(1, secureaitest.VaultFault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	add(roleVault.Key(ctx, keyprovider.Scope{Group: "ok"}))
	cancel()
	fake.FailNext(1, secureaitest.VaultFault{Status: 500, Errors: []string{"internal error"}})
	add(tokenVault.Key(t.Context(), keyprovider.Scope{Group: "ok"}))
	add(router.Key(t.Context(), keyprovider.Scope{Group: "other"}))
	errs = append(errs, router.Invalidate(t.Context(), keyprovider.Scope{Group: "f"}, keyprovider.NewSecret(canary)))
	for _, bad := range []string{canary + " ", `{"api_key":"` + canary + `"}`, canary + "\n\n", canary + "\x00"} {
		path := filepath.Join(dir, "bad")
		writeFile(t, path, bad)
		add(keyprovider.File(path, keyprovider.FileOptions{}))
		add(nil, keyprovider.ValidateKey(bad))
		add(keyprovider.Static(bad).Key(t.Context(), keyprovider.Scope{}))
		add(keyprovider.ExtractKey([]byte(bad), ""))
		add(keyprovider.ExtractKey([]byte(`{"api_key": "`+bad), "api_key"))
	}
	add(keyprovider.ExtractKey([]byte(`{"api_key": 1, "x": "`+canary+`"}`), "api_key"))
	add(keyprovider.ExtractKey([]byte(`{"key": "`+canary+`"}`), "api_key"))
	for i, err := range errs {
		if err == nil {
			t.Errorf("error path %d returned nil", i)
			continue
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%q"} {
			assertNoLeak(t, fmt.Sprintf("error %d %s", i, verb), fmt.Sprintf(verb, err))
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Error("key", "err", err, "class", keyprovider.ErrorClass(err))
		assertNoLeak(t, fmt.Sprintf("error %d slog", i), buf.String())
		j, _ := json.Marshal(err)
		assertNoLeak(t, fmt.Sprintf("error %d json", i), string(j))
	}
	// What the cache holds does not show the key to a reflective walk
	// (after Close, so that no refresh runs while the walk reads).
	if err := cache.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, needle := range leakForms(canary) {
		for _, v := range []any{cache, router, file, tokenVault, roleVault} {
			if got := findBytes(v, []byte(needle)); len(got) != 0 {
				t.Errorf("%T: key form found at %s", v, strings.Join(got, ", "))
			}
		}
	}
}
