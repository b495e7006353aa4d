package keyprovider_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/secureai-go/secureai/keyprovider"
)

// findBytes walks v through every field, exported or not, following
// pointers, interfaces, slices, arrays and maps, and returns the paths of the
// strings and byte sequences that contain needle. It visits each pointer,
// map and slice once, so cyclic values terminate. It does not follow
// unsafe.Pointer, functions or channels, nor into values of the net,
// crypto/tls and context packages (HTTP clients and servers, contexts).
func findBytes(v any, needle []byte) []string {
	w := &walker{needle: needle, seen: make(map[visit]bool)}
	w.walk(reflect.ValueOf(v), "v")
	return w.found
}

type visit struct {
	ptr uintptr
	n   int
	typ reflect.Type
}

type walker struct {
	needle []byte
	seen   map[visit]bool
	found  []string
}

// once reports whether the reference (p, n, t) is seen for the first time.
func (w *walker) once(p uintptr, n int, t reflect.Type) bool {
	k := visit{p, n, t}
	if w.seen[k] {
		return false
	}
	w.seen[k] = true
	return true
}

func (w *walker) check(b []byte, path string) {
	if bytes.Contains(b, w.needle) {
		w.found = append(w.found, path)
	}
}

func (w *walker) walk(v reflect.Value, path string) {
	if pkg := v.Type().PkgPath(); pkg == "net" || pkg == "context" || strings.HasPrefix(pkg, "net/") || strings.HasPrefix(pkg, "crypto/tls") {
		return // live network state (clients, servers, connections): no key holders, and racy to read
	}
	switch v.Kind() {
	case reflect.String:
		w.check([]byte(v.String()), path)
	case reflect.Slice:
		if v.IsNil() || !w.once(v.Pointer(), v.Len(), v.Type()) {
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			w.check(v.Bytes(), path)
			return
		}
		for i := range v.Len() {
			w.walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			for i := range b {
				b[i] = byte(v.Index(i).Uint())
			}
			w.check(b, path)
			return
		}
		for i := range v.Len() {
			w.walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Pointer:
		if v.IsNil() || !w.once(v.Pointer(), 0, v.Type()) {
			return
		}
		w.walk(v.Elem(), "(*"+path+")")
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem(), path)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			w.walk(v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.Map:
		if v.IsNil() || !w.once(v.Pointer(), 0, v.Type()) {
			return
		}
		for it := v.MapRange(); it.Next(); {
			w.walk(it.Key(), path+"{key}")
			w.walk(it.Value(), fmt.Sprintf("%s[%v]", path, it.Key()))
		}
	}
}

// TestWalkerFindsPlainKeys checks the walker itself, so that a clean result
// for Secret means something.
func TestWalkerFindsPlainKeys(t *testing.T) {
	type node struct {
		next *node
		s    string
	}
	type hidden struct {
		name  string
		raw   []byte
		arr   [len(canary) + 2]byte
		any   any
		m     map[string]any
		nodes []*node
	}
	cyc := &node{s: "x"}
	cyc.next = cyc
	var arr [len(canary) + 2]byte
	copy(arr[1:], canary)
	tests := []struct {
		name string
		v    any
	}{
		{"unexported string", hidden{name: "a" + canary + "b"}},
		{"unexported bytes", &hidden{raw: []byte(canary)}},
		{"byte array", hidden{arr: arr}},
		{"interface", hidden{any: []byte("x" + canary)}},
		{"map value", hidden{m: map[string]any{"k": &node{s: canary}}}},
		{"map key", map[string]int{canary: 1}},
		{"behind a cycle", hidden{nodes: []*node{cyc, {next: cyc, s: canary}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := findBytes(tt.v, []byte(canary)); len(got) == 0 {
				t.Errorf("walker did not find the key in %s", tt.name)
			}
		})
	}
	if got := findBytes(cyc, []byte(canary)); len(got) != 0 {
		t.Errorf("walker found the key in a value without it: %v", got)
	}
}

func TestSecretNotInMemoryFields(t *testing.T) {
	t.Setenv("KEYPROVIDER_TEST_WALK", canary)
	env, err := keyprovider.Env("KEYPROVIDER_TEST_WALK")
	if err != nil {
		t.Fatal(err)
	}
	fromEnv, err := env.Key(t.Context(), keyprovider.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	s := keyprovider.NewSecret(canary)
	type holder struct {
		Key     keyprovider.Secret
		secret  keyprovider.Secret
		ptr     *keyprovider.Secret
		static  *keyprovider.StaticProvider
		env     *keyprovider.EnvProvider
		any     any
		slice   []keyprovider.Secret
		m       map[string]keyprovider.Secret
		self    *holder
		name    string
		fromEnv keyprovider.Secret
	}
	h := &holder{
		Key:     s,
		secret:  s,
		ptr:     &s,
		static:  keyprovider.Static(canary),
		env:     env,
		any:     s,
		slice:   []keyprovider.Secret{s, keyprovider.NewSecret(canary)},
		m:       map[string]keyprovider.Secret{"k": s},
		name:    "holder",
		fromEnv: fromEnv,
	}
	h.self = h
	for _, needle := range leakForms(canary) {
		if got := findBytes(h, []byte(needle)); len(got) != 0 {
			t.Errorf("key form %q found at %s", needle, strings.Join(got, ", "))
		}
	}
}
