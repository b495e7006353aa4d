package tokens

import (
	"strings"
	"testing"

	"github.com/secureai-go/secureai/internal/testenv"
)

// prompt4K is about 4 KB of English prose with some code and punctuation.
var prompt4K = func() string {
	const para = "The quick brown fox jumps over the lazy dog; it's 42 degrees, isn't it? " +
		"func main() { fmt.Println(\"hello, world\") } // a comment\n"
	return strings.Repeat(para, 4096/len(para)+1)[:4096]
}()

func BenchmarkUpperBound4K(b *testing.B) {
	b.SetBytes(int64(len(prompt4K)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = Estimate{TextBytes: WireBytes(prompt4K), Messages: 2}.UpperBound("gpt-4o")
	}
	b.ReportMetric(float64(n), "tokens")
}

func BenchmarkCount4K(b *testing.B) {
	if _, err := Count("gpt-4o", "warm up"); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(prompt4K)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n, _ = Count("gpt-4o", prompt4K)
	}
	b.ReportMetric(float64(n), "tokens")
}

// BenchmarkCountCorpus counts the texts that bench/tokens_test.go counts with
// tiktoken-go and tiktoken-go/tokenizer: run both for a side-by-side table.
func BenchmarkCountCorpus(b *testing.B) {
	english4K, mixed64K := testenv.TokenCorpus()
	for _, enc := range bothEncodings {
		if _, err := CountEncoding(enc, "warm up"); err != nil {
			b.Fatal(err)
		}
		for _, text := range []struct{ name, s string }{{"english4K", english4K}, {"mixed64K", mixed64K}} {
			b.Run(enc+"/"+text.name+"/ours", func(b *testing.B) {
				b.SetBytes(int64(len(text.s)))
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					n, _ = CountEncoding(enc, text.s)
				}
				b.ReportMetric(float64(n), "tokens")
			})
			b.Run(enc+"/"+text.name+"/tiktoken-go", func(b *testing.B) {
				b.SetBytes(int64(len(text.s)))
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					n = referenceCount(b, enc, text.s)
				}
				b.ReportMetric(float64(n), "tokens")
			})
		}
	}
}
