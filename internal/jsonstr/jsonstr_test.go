package jsonstr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

var seeds = []string{"", "plain text, long enough for a few words", "quote\"back\\slash", "<tag>&amp;", "\x00\x1f\b\f\n\r\t\x7f",
	"\u2028\u2029", "\xff\xfe bad \xed\xa0\x80 \xf4\x90\x80\x80", "héllo 世界 🙂", "12345678<2345678", "1234567812345678\"",
	strings.Repeat("0123456789abcdef", 5) + "\n" + strings.Repeat("x", 17)}

// slogString is what log/slog's JSON handler writes for s as a value.
func slogString(s string) string {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return slog.Attr{}
		}
		return a
	}})
	slog.New(h).Info("", "k", s)
	out := strings.TrimSuffix(buf.String(), "\n")
	return strings.TrimSuffix(strings.TrimPrefix(out, `{"k":`), "}")
}

func check(t *testing.T, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendMarshal([]byte("x"), s); string(got) != "x"+string(want) {
		t.Fatalf("AppendMarshal(%q) = %s, json.Marshal %s", s, got[1:], want)
	}
	if got, want := AppendSlog([]byte("x"), s), slogString(s); string(got) != "x"+want {
		t.Fatalf("AppendSlog(%q) = %s, slog %s", s, got[1:], want)
	}
}

func TestAppend(t *testing.T) {
	for _, s := range seeds {
		check(t, s)
	}
	for c := range 256 { // each byte value alone and in a run of plain bytes, at every place of a word
		for at := range 17 {
			check(t, strings.Repeat("a", at)+string(rune(c))[:1]+strings.Repeat("b", 16-at))
		}
	}
}

// TestPlain tries every byte value at every place of a word of plain
// bytes, and a million random words mostly of bytes near the rules'
// edges: each word test is true exactly when every byte is safe.
func TestPlain(t *testing.T) {
	check := func(w [8]byte) {
		wantM, wantS := true, true
		for _, c := range w {
			wantM = wantM && c < utf8.RuneSelf && marshalSafe[c]
			wantS = wantS && c < utf8.RuneSelf && slogSafe[c]
		}
		v := binary.LittleEndian.Uint64(w[:])
		if plain(v, true) != wantM || plain(v, false) != wantS {
			t.Fatalf("%q: plain for json.Marshal %v, for slog %v", w[:], !wantM, !wantS)
		}
	}
	for c := range 256 {
		for at := range 8 {
			w := [8]byte{'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'}
			w[at] = byte(c)
			check(w)
		}
	}
	const edges = "\"\\<>&\x00\x1f\x20\x21\x25\x27\x3b\x3d\x3f\x5b\x5d\x7f\x80\xff"
	r := rand.New(rand.NewPCG(3, 4))
	for range 1 << 20 {
		var w [8]byte
		for i := range w {
			switch r.IntN(4) {
			case 0:
				w[i] = byte(r.IntN(256))
			case 1:
				w[i] = edges[r.IntN(len(edges))]
			default:
				w[i] = byte(0x20 + r.IntN(0x60))
			}
		}
		check(w)
	}
}

// FuzzAppend holds AppendMarshal to json.Marshal and AppendSlog to slog's
// JSON handler.
func FuzzAppend(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(check)
}

func BenchmarkAppendMarshal(b *testing.B) {
	s := strings.Repeat("The quick brown fox jumps over the lazy dog while the audit log keeps count. ", 60)[:4096]
	buf := make([]byte, 0, 2*len(s))
	b.SetBytes(int64(len(s)))
	b.Run("jsonstr", func(b *testing.B) {
		for b.Loop() {
			buf = AppendMarshal(buf[:0], s)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			buf, _ = json.Marshal(s)
		}
	})
}

func ExampleAppendMarshal() {
	b := AppendMarshal([]byte(`{"content":`), "<b>fish & chips</b>\n")
	fmt.Println(string(append(b, '}')))
	// Output: {"content":"\u003cb\u003efish \u0026 chips\u003c/b\u003e\n"}
}
