package bench

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
	"github.com/tiktoken-go/tokenizer"
)

// Exact token counting by the two Go tokenizers the issue names, on the
// texts that internal/tokens' BenchmarkCountCorpus counts with ours (a
// benchmark here cannot import an internal package of the root module):
//
//	cd bench && go test -run '^$' -bench Token -benchmem .
//	cd .. && go test ./internal/tokens -run '^$' -bench CountCorpus -benchmem
//
// TestTokenBuildCost (run with -v, alone in its process) reports what
// building each library's o200k_base and cl100k_base encoder costs.

var setTiktokenLoader = sync.OnceFunc(func() { tiktoken.SetBpeLoader(tiktokenloader.NewOfflineLoader()) })

func tiktokenGo(tb testing.TB, encoding string) *tiktoken.Tiktoken {
	tb.Helper()
	setTiktokenLoader()
	enc, err := tiktoken.GetEncoding(encoding)
	if err != nil {
		tb.Fatal(err)
	}
	return enc
}

func tiktokenTokenizer(tb testing.TB, encoding string) tokenizer.Codec {
	tb.Helper()
	enc, err := tokenizer.Get(tokenizer.Encoding(encoding))
	if err != nil {
		tb.Fatal(err)
	}
	return enc
}

func BenchmarkTokenCount(b *testing.B) {
	english4K, mixed64K := tokenCorpus()
	for _, encoding := range []string{"o200k_base", "cl100k_base"} {
		tk := tiktokenGo(b, encoding)
		tz := tiktokenTokenizer(b, encoding)
		for _, text := range []struct{ name, s string }{{"english4K", english4K}, {"mixed64K", mixed64K}} {
			want := len(tk.EncodeOrdinary(text.s))
			if got, err := tz.Count(text.s); err != nil || got != want {
				b.Fatalf("%s %s: tokenizer counts %d (%v), tiktoken-go %d", encoding, text.name, got, err, want)
			}
			b.Run(encoding+"/"+text.name+"/tiktoken-go", func(b *testing.B) {
				b.SetBytes(int64(len(text.s)))
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					n = len(tk.EncodeOrdinary(text.s))
				}
				b.ReportMetric(float64(n), "tokens")
			})
			b.Run(encoding+"/"+text.name+"/tokenizer", func(b *testing.B) {
				b.SetBytes(int64(len(text.s)))
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					n, _ = tz.Count(text.s)
				}
				b.ReportMetric(float64(n), "tokens")
			})
		}
	}
}

// TestTokenBuildCost logs the time and heap of building each library's
// encoders. Only the first build in a process is measured (both libraries
// cache their rank tables in package variables), so run it alone:
//
//	go test -run TokenBuildCost -count=1 -v .
func TestTokenBuildCost(t *testing.T) {
	if testing.Short() {
		t.Skip("measures one-time costs")
	}
	for _, encoding := range []string{"o200k_base", "cl100k_base"} {
		var tk *tiktoken.Tiktoken
		d, alloc, live := measureBuild(func() { tk = tiktokenGo(t, encoding) })
		t.Logf("tiktoken-go %s: %v, %.1f MB allocated, %.1f MB live", encoding, d.Round(time.Millisecond), alloc, live)
		var tz tokenizer.Codec
		d, alloc, live = measureBuild(func() { tz = tiktokenTokenizer(t, encoding) })
		t.Logf("tokenizer   %s: %v, %.1f MB allocated, %.1f MB live", encoding, d.Round(time.Millisecond), alloc, live)
		runtime.KeepAlive(tk)
		runtime.KeepAlive(tz)
	}
}

// measureBuild runs build once and returns its duration, the heap it
// allocated and the heap still live after it (in MB), both measured after a
// full GC.
func measureBuild(build func()) (time.Duration, float64, float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	build()
	d := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	const mb = 1 << 20
	return d, float64(after.TotalAlloc-before.TotalAlloc) / mb, (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / mb
}

// TestTokenizerAgreement reports on how many texts of the shared data sets
// tiktoken-go/tokenizer counts differently from tiktoken-go, in each
// encoding: identical counts were the condition for taking it in
// tiktoken-go's place. It does not fail on a difference (it is a finding
// about a peer library, not a property of ours); internal/tokens'
// TestCountMatchesDatasets is the one that must hold. The data sets are
// optional locally and required under CI=true.
//
// With v0.10.0 it differs on 4 of 4388 texts in each encoding: it cuts a
// whitespace run holding two newlines ("\n  \n") in two where the split
// pattern's \s*[\r\n]+ takes it whole, and counts a text with DEL (0x7f)
// characters differently.
func TestTokenizerAgreement(t *testing.T) {
	texts := datasetTexts(t)
	english4K, mixed64K := tokenCorpus()
	texts = append(texts, english4K, mixed64K)
	for _, encoding := range []string{"o200k_base", "cl100k_base"} {
		tk := tiktokenGo(t, encoding)
		tz := tiktokenTokenizer(t, encoding)
		diff := 0
		for _, s := range texts {
			want := len(tk.EncodeOrdinary(s))
			if got, err := tz.Count(s); err != nil || got != want {
				if diff++; diff <= 3 {
					t.Logf("%s: tokenizer counts %d (err %v), tiktoken-go %d, on %.60q", encoding, got, err, want, s)
				}
			}
		}
		t.Logf("%s: %d texts, %d counted differently by tiktoken-go/tokenizer", encoding, len(texts), diff)
	}
}

// datasetTexts returns every "text" field of ../../shared/datasets/**/*.jsonl.
func datasetTexts(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "datasets")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("data sets required under CI: %v", err)
		}
		t.Skipf("no data sets at %s: %v", dir, err)
	}
	var texts []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".jsonl" {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var row struct{ Text string }
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				return err
			}
			texts = append(texts, row.Text)
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return texts
}

// tokenCorpus returns the benchmark texts of the token counters: about
// 4 KB of English prose (english4K) and 64 KB of mixed text (mixed64K:
// prose, Go and Python code, JSON, Chinese, Japanese, Korean, emoji with
// ZWJ sequences, numbers). The same function, byte for byte, is in
// bench/tokens_test.go and internal/tokens/bench_test.go, so that the
// counters of both modules count the same texts.
func tokenCorpus() (english4K, mixed64K string) {
	english := []string{
		"You are a careful assistant for a small accounting firm. Read the client's message below and answer in plain English, without jargon, in no more than three short paragraphs. ",
		"If the question is about taxes, say which year's rules you are using and remind the client that a qualified accountant must confirm anything they file. ",
		"Our quarterly report is due on Friday, and I still haven't reconciled the March invoices. Two of them were paid twice, once by card and once by transfer, and the refunds haven't arrived. ",
		"Could you draft an email to the supplier asking for the refunds, politely but firmly? Mention invoice numbers INV-20931 and INV-20947, the amounts ($1,284.50 and $312.00), and that we'd like the money back within 14 days. ",
		"Also, what's the difference between accrual and cash accounting, and which one should a company with 12 employees and about 2.4 million in annual revenue use? ",
		"I've read that it depends on whether we hold inventory; we don't, we're a design studio. We'll also hire two people in September, so please tell me what changes when we pass 15 employees. ",
		"Finally, summarize the attached notes from yesterday's meeting: the team agreed to move the launch from May 3rd to May 17th, Anna will own the pricing page, and Marco wasn't sure the API limits (60 requests per minute) are enough. ",
		"Thanks in advance!\n\nBest regards,\nJulia\n\nP.S. The new office is at 221 Baker Street, 2nd floor; the door code is on the shared calendar.\n",
	}
	other := []string{
		"func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {\n\tif err := req.Validate(); err != nil {\n\t\treturn nil, fmt.Errorf(\"client: %w\", err)\n\t}\n\tfor i := 0; i < c.maxRetries; i++ {\n\t\tresp, err := c.send(ctx, req)\n\t\tif err == nil {\n\t\t\treturn resp, nil\n\t\t}\n\t}\n\treturn nil, ErrRetries\n}\n",
		"def tokenize(text: str) -> list[str]:\n    \"\"\"Split text into words.\"\"\"\n    return [w.lower() for w in re.findall(r\"\\w+\", text) if len(w) > 2]\n\n\nif __name__ == \"__main__\":\n    print(tokenize(\"Hello, World! 123\"))\n",
		"{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"system\", \"content\": \"Be terse.\"}, {\"role\": \"user\", \"content\": \"2+2=?\"}], \"max_tokens\": 64, \"temperature\": 0.2}\n",
		"人工智能正在改变我们的工作方式。许多公司使用大型语言模型来回答客户的问题、总结文件和编写代码。但是，安全和隐私仍然是最重要的问题。\n",
		"東京の天気は明日晴れでしょう。週末には桜が満開になる予定です。カタカナとひらがな、そして漢字が混ざった文章をテストします。\n",
		"안녕하세요! 오늘 회의는 오후 3시에 시작합니다. 보고서를 미리 읽어 주세요.\n",
		"Great job team 🎉🎉 👍🏽 launch day 🚀 — family: 👨‍👩‍👧‍👦, flags: 🇫🇷🇯🇵, hearts ❤️‍🔥 and 🧑🏿‍💻 coding all night ☕️☕️☕️!!!\n",
		"Order #48213: 3 × 19.99 EUR = 59.97 EUR; shipped 2025-03-14T09:30:00Z to 10115 Berlin, tracking 1Z999AA10123456784.\n",
		"    // NOTE(julia): the 429 case is handled below -- see https://platform.openai.com/docs/guides/rate-limits?context=tier-free#usage-tiers\n\t\t\t\n\n\n",
		"Ünïcödé façade naïve café résumé — “quotes” and ‘single’ ones… Ωμέγα Привет мир! مرحبا بالعالم שלום עולם\n",
	}
	var b strings.Builder
	for b.Len() < 4096 {
		for _, p := range english {
			b.WriteString(p)
		}
	}
	english4K = truncateRunes(b.String(), 4096)
	b.Reset()
	r := rand.New(rand.NewPCG(4, 64))
	for b.Len() < 64<<10 {
		if r.IntN(3) == 0 {
			b.WriteString(english[r.IntN(len(english))])
		} else {
			b.WriteString(other[r.IntN(len(other))])
		}
	}
	return english4K, truncateRunes(b.String(), 64<<10)
}

// truncateRunes cuts s to at most n bytes, at a rune boundary.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
