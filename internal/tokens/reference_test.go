package tokens

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"

	"github.com/secureai-go/secureai/internal/testenv"
)

// tiktoken-go is the reference our counter must equal, token for token. It
// stays in the tests only; its BPE loader is a package global, set here
// once, to the offline loader whose rank files our encodings also read.
var (
	setReferenceLoader = sync.OnceFunc(func() { tiktoken.SetBpeLoader(tiktokenloader.NewOfflineLoader()) })
	referenceO200k     = referenceEncoder(O200kBase)
	referenceCl100k    = referenceEncoder(Cl100kBase)
)

func referenceEncoder(name string) func() (*tiktoken.Tiktoken, error) {
	return sync.OnceValues(func() (*tiktoken.Tiktoken, error) {
		setReferenceLoader()
		return tiktoken.GetEncoding(name)
	})
}

// referenceCount is tiktoken-go's count of s in encoding.
func referenceCount(tb testing.TB, encoding, s string) int {
	tb.Helper()
	get := referenceO200k
	if encoding == Cl100kBase {
		get = referenceCl100k
	}
	enc, err := get()
	if err != nil {
		tb.Fatal(err)
	}
	return len(enc.EncodeOrdinary(s))
}

// assertMatches fails when our count of s differs from tiktoken-go's.
func assertMatches(tb testing.TB, encoding, s string) {
	tb.Helper()
	got, err := CountEncoding(encoding, s)
	if err != nil {
		tb.Fatal(err)
	}
	if want := referenceCount(tb, encoding, s); got != want {
		tb.Errorf("%s: count %d, tiktoken-go %d, text %q", encoding, got, want, s)
	}
}

var bothEncodings = []string{O200kBase, Cl100kBase}

// TestCountMatchesDatasets: our count equals tiktoken-go's on every text of
// the shared data sets (../shared/datasets/**/*.jsonl, "text" fields), in
// both encodings. The data sets are optional locally, required under
// CI=true.
func TestCountMatchesDatasets(t *testing.T) {
	texts := testenv.Texts(t)
	english4K, mixed64K := testenv.TokenCorpus()
	texts = append(texts, english4K, mixed64K)
	// Under the race detector (about 10× slower, and run by CI on 2 cores)
	// every 16th text is compared with tiktoken-go; ours still counts all.
	datasetStride := 1
	if testenv.Race {
		datasetStride = 16
	}
	for _, enc := range bothEncodings {
		t.Run(enc, func(t *testing.T) {
			t.Parallel()
			total, compared := 0, 0
			for i, s := range texts {
				got, err := CountEncoding(enc, s)
				if err != nil {
					t.Fatal(err)
				}
				total += got
				if i%datasetStride != 0 && i < len(texts)-2 {
					continue
				}
				compared++
				if want := referenceCount(t, enc, s); got != want {
					t.Errorf("text %d: count %d, tiktoken-go %d, text %.200q", i, got, want, s)
				}
			}
			t.Logf("%d texts counted (%d tokens), %d compared with tiktoken-go", len(texts), total, compared)
		})
	}
}

// TestCountMatchesEdgeCases: the corners of the split patterns, one by one.
func TestCountMatchesEdgeCases(t *testing.T) {
	cases := []string{
		"", "a", " ", "  ", "\n", "\r\n", " \n ", "a  b", "a \n b", "a\t\tb", "x   ", "   x", "\u3000a", "a\u00a0\u00a0b",
		"it's", "IT'S", "they're", "THEY'RE", "we'Ve", "I'm", "you'LL", "he'd", "'s", " 's", "''s", "'sup", "rock'n'roll",
		"don't DON'T Don'T", "x'", "'", "'re'", "o'clock",
		"HTTPServer", "iPhone", "McDonald's", "ABCdef", "abcDEF", "ǅemal", "ǈ", "ʰʰʰ", "ªbc", "ABª", "Aªb", "ªAª",
		"e\u0301", "\u0301", "\u0301a", "A\u0301B", "\u0301\u0301", " \u0301", "!\u0301", "\u0301!",
		"123", "1234567", "١٢٣٤", "½¾", "Ⅻ", "x1y", " 12", "$12.50",
		"!!!", " !!!", " !!!\n\n", "a/b//c/", "http://x.y/z", "a\n/\n/", "...\r\n\r\n", "-- \n", "\u00ab\u00bb",
		"字字字", "東京タワー", "한국어 텍스트", "مرحبا", "😀😀", "👨‍👩‍👧‍👦", "🇫🇷", "❤️‍🔥", " 😀", "a😀b",
		"<|endoftext|>", "<|endofprompt|>", "<|fim_prefix|>x<|fim_suffix|>", "<|im_start|>user\nhi<|im_end|>",
		"\xff", "\xff\xfe", "a\xc3", "\xed\xa0\x80", "\xf0\x9f\x98", "\uFFFD", "x\x00y", "\x7f\x7f{~}", "\x0b\x0c\x1c\x85",
		"\u2028\u2029", "\u200b", "\ufeff", "\u180e",
	}
	for _, enc := range bothEncodings {
		for _, s := range cases {
			assertMatches(t, enc, s)
		}
	}
}

// TestCountMatchesLongRuns: pieces longer than smallPiece go through the
// heap merge.
func TestCountMatchesLongRuns(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("a", 1000),
		strings.Repeat("ab", 700),
		strings.Repeat("!", 513),
		strings.Repeat("=-", 300),
		strings.Repeat("字", 200),
		strings.Repeat("😀", 150),
		strings.Repeat("x", 129),
		strings.Repeat(" ", 1000),
		strings.Repeat("Zq", 64) + "zz",
		"pneumonoultramicroscopicsilicovolcanoconiosis" + strings.Repeat("antidisestablishmentarianism", 10),
	} {
		for _, enc := range bothEncodings {
			assertMatches(t, enc, s)
		}
	}
}

// TestMergeLargeMatchesSmall: both merges make the same count on the pieces
// short enough for either.
func TestMergeLargeMatchesSmall(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := "aabbeeinorst  .,'-_=\xe5\xad\x97"
	for _, name := range bothEncodings {
		e, err := encodingNamed(name)
		if err != nil {
			t.Fatal(err)
		}
		for range 2000 {
			b := make([]byte, 2+r.IntN(smallPiece-1))
			for i := range b {
				b[i] = alphabet[r.IntN(len(alphabet))]
			}
			p := string(b)
			if small, large := e.mergeSmall(p), e.mergeLarge(p); small != large {
				t.Fatalf("%s: %q: mergeSmall %d, mergeLarge %d", name, p, small, large)
			}
		}
	}
}

// TestClassTable: the class table agrees with the unicode package, as
// regexp2 reads it, on every rune.
func TestClassTable(t *testing.T) {
	tab := classes()
	in := func(r rune, tabs ...*unicode.RangeTable) bool { return unicode.In(r, tabs...) }
	for r := rune(0); r <= unicode.MaxRune; r++ {
		var want charClass
		if in(r, unicode.L) {
			want |= cLetter
		}
		if in(r, unicode.N) {
			want |= cNumber
		}
		if unicode.IsSpace(r) {
			want |= cSpace
		}
		if r == '\r' || r == '\n' {
			want |= cNewline
		}
		if in(r, unicode.Lu, unicode.Lt, unicode.Lm, unicode.Lo, unicode.M) {
			want |= cUpper
		}
		if in(r, unicode.Ll, unicode.Lm, unicode.Lo, unicode.M) {
			want |= cLower
		}
		if got := tab.of(r); got != want {
			t.Fatalf("class of %U = %06b, want %06b", r, got, want)
		}
	}
}

// TestCountConcurrent: the first calls, racing to build both encodings,
// and the calls after agree (run with -race).
func TestCountConcurrent(t *testing.T) {
	english4K, _ := testenv.TokenCorpus()
	want := map[string]int{O200kBase: 890, Cl100kBase: 927}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			enc := bothEncodings[g%2]
			for range 3 {
				if n, err := CountEncoding(enc, english4K); err != nil || n != want[enc] {
					t.Errorf("%s: count %d, %v; want %d", enc, n, err, want[enc])
				}
			}
		})
	}
	wg.Wait()
}

// FuzzCountMatches: our count equals tiktoken-go's on any text, in both
// encodings.
func FuzzCountMatches(f *testing.F) {
	english4K, _ := testenv.TokenCorpus()
	for _, s := range []string{
		"", "hello world", "it's THEY'RE", "HTTPServer iPhone", "A\u0301B ǅ ª", "  \n\n\t x  ", "a/b//\n/",
		"<|endoftext|>", "\xff\xed\xa0\x80", "字 😀 👨‍👩‍👧", "1234 ١٢٣", "\u3000\u2028x", english4K[:300],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1<<12 {
			return // tiktoken-go's regexp is superlinear on long runs
		}
		for _, enc := range bothEncodings {
			assertMatches(t, enc, s)
		}
	})
}
