package sanitize

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/secureai-go/secureai/internal/testenv"
)

// scalarKeyRules returns the default rules without the vector filters.
func scalarKeyRules() *KeyRules {
	k := *DefaultKeyRules()
	k.filter = keyFilterScalar
	return &k
}

// wideKeyRules returns the default rules with the AVX-512 key filter,
// which runs only where haveVBMI.
func wideKeyRules() *KeyRules {
	k := *DefaultKeyRules()
	k.filter = keyFilterWide
	return &k
}

// vecKinds are the vector kernels of the input pass this processor
// runs: wide (AVX-512 VBMI) or not (AVX2); none, without either.
func vecKinds() []bool {
	var kinds []bool
	if haveVBMI() {
		kinds = append(kinds, true)
	}
	if haveAVX2() {
		kinds = append(kinds, false)
	}
	return kinds
}

// kernelName names the kernel of wide, for test names.
func kernelName(wide bool) string {
	if wide {
		return "avx512"
	}
	return "avx2"
}

// vecTexts are texts for the vector filter's tests: benign prose, text
// full of keywords in both cases, bytes >= 0x80, and random bytes drawn
// mostly from the keywords' alphabet.
func vecTexts(t testing.TB) []string {
	r := rand.New(rand.NewPCG(1, 2))
	texts := []string{benignText(5000), strings.Repeat("Jürgen 日本語 ", 300)}
	var kw strings.Builder
	for _, rule := range DefaultKeyRules().rules {
		for _, w := range rule.d.keywords {
			kw.WriteString(w)
			kw.WriteString(" x")
			kw.WriteString(strings.ToUpper(w))
			kw.WriteString("=")
			kw.WriteString(w)
			kw.WriteString(w)
			kw.WriteByte("\n\t\"'<>(é"[r.IntN(8)])
		}
	}
	texts = append(texts, kw.String())
	const alphabet = "abcdeghiklmnoprstuvxyzKEYAPI0123456789-_.~<= \n\x00\x7f\x80\xc3\xa9\xff"
	for range 200 {
		b := make([]byte, 64+r.IntN(600))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		texts = append(texts, string(b))
	}
	return texts
}

func TestKeyVecKernel(t *testing.T) {
	k := DefaultKeyRules()
	if k.filter != keyFilterWide {
		t.Skip("no AVX-512 VBMI on this processor: the vector filter is not used")
	}
	texts := vecTexts(t)
	if testing.Short() {
		texts = texts[:3]
	} else if testenv.Race {
		texts = texts[:50]
	}
	check := func(text string) {
		blocks := (len(text) - 3) / 64
		if blocks <= 0 {
			return
		}
		out := make([]uint64, blocks)
		keyFilterVec(text[:blocks*64+3], blocks, k.vec, &out[0])
		for p := range blocks * 64 {
			got := out[p/64]>>(p%64)&1 != 0
			if want := k.vec.pass(text, p); got != want {
				t.Fatalf("position %d of %q: kernel %v, reference %v", p, text[p:p+3], got, want)
			}
		}
	}
	for _, text := range texts {
		check(text)
	}
	if !testing.Short() && !testenv.Race {
		for _, text := range testenv.Texts(t) {
			check(text)
		}
	}
}

// TestKeyVecCoversKeywords checks the tables: a keyword, in any case
// and after any byte, passes the vector filter where the scalar filter
// lets it start.
func TestKeyVecCoversKeywords(t *testing.T) {
	k := DefaultKeyRules()
	vt := k.vec
	if vt == nil {
		t.Fatal("the default rules have no vector tables")
	}
	// wordStart as newKeyRules computes it: every rule of kw needs a
	// literal prefix at a word start.
	wordStart := map[string]bool{}
	for _, r := range k.rules {
		for _, kw := range r.d.keywords {
			if _, seen := wordStart[kw]; !seen {
				wordStart[kw] = true
			}
			if len(r.d.prefixes) == 0 || !r.d.wordStart {
				wordStart[kw] = false
			}
		}
	}
	n := 0
	for kw, ws := range wordStart {
		for _, form := range []string{kw, strings.ToUpper(kw), strings.ToLower(kw)} {
			for _, before := range []string{" ", "\n", "x", "é", "\x00", "_", "=", "9", "-"} {
				text := "a" + before + form + "=xyz"
				p := 1 + len(before)
				switch {
				case len(kw) == 2 && ws && keyWordByte(text[p-1]):
					continue // its rules need a word start
				case len(kw) == 2 && ws:
					p-- // flagged at the byte before it
				}
				n++
				if !vt.pass(text, p) {
					t.Errorf("keyword %q in %q: the vector filter rejects it", kw, text)
				}
			}
		}
	}
	if n < 3*len(wordStart) {
		t.Fatalf("only %d cases for %d keywords", n, len(wordStart))
	}
}

// TestKeyRulesVecMatchesScalar checks that the vector filter changes no
// finding: Scan with and without it agree, and both find every secret the
// secret data sets hold that the rules find.
func TestKeyRulesVecMatchesScalar(t *testing.T) {
	if !haveVBMI() {
		t.Skip("no AVX-512 VBMI on this processor: the key rules' vector filter is not used")
	}
	scalar, vec := scalarKeyRules(), wideKeyRules()
	texts := vecTexts(t)
	if !testing.Short() && !testenv.Race {
		texts = append(texts, testenv.Texts(t)...)
	}
	for _, text := range texts {
		if got, want := vec.Scan(text), scalar.Scan(text); !slices.Equal(got, want) {
			t.Fatalf("%q:\nvector %v\nscalar %v", text, got, want)
		}
	}
}

func FuzzKeyRulesVec(f *testing.F) {
	// Not the text full of keywords (vecTexts' third): a seed that slow
	// makes the fuzzer crawl.
	for _, s := range slices.Delete(vecTexts(f)[:20], 2, 3) {
		f.Add(s)
	}
	if !haveVBMI() {
		f.Skip("no AVX-512 VBMI on this processor: the key rules' vector filter is not used")
	}
	scalar, vec := scalarKeyRules(), wideKeyRules()
	f.Fuzz(func(t *testing.T, text string) {
		if blocks := (len(text) - 3) / 64; blocks > 0 {
			out := make([]uint64, blocks)
			keyFilterVec(text[:blocks*64+3], blocks, vec.vec, &out[0])
			for p := range blocks * 64 {
				if got, want := out[p/64]>>(p%64)&1 != 0, vec.vec.pass(text, p); got != want {
					t.Fatalf("position %d: kernel %v, reference %v", p, got, want)
				}
			}
		}
		if got, want := vec.Scan(text), scalar.Scan(text); !slices.Equal(got, want) {
			t.Fatalf("vector %v\nscalar %v", got, want)
		}
	})
}

func TestKeyVecLayout(t *testing.T) {
	var v keyVecTables
	// keyFilterAVX512 reads the tables at these offsets.
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"b1", unsafe.Offsetof(v.b1), 128}, {"b2", unsafe.Offsetof(v.b2), 256}, {"b3", unsafe.Offsetof(v.b3), 384},
		{"bitsel", unsafe.Offsetof(v.bitsel), 512},
		{"ha", unsafe.Offsetof(v.ha), 576}, {"hb", unsafe.Offsetof(v.hb), 768},
		{"m1", unsafe.Offsetof(v.m1), 960}, {"m2", unsafe.Offsetof(v.m2), 1088},
		{"hd", unsafe.Offsetof(v.hd), 1216}, {"quad", unsafe.Offsetof(v.quad), 1280}, {"any3", unsafe.Offsetof(v.any3), 1408},
	} {
		if c.got != c.want {
			t.Errorf("offset of %s = %d, the kernel reads %d", c.name, c.got, c.want)
		}
	}
}
