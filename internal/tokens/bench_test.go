package tokens

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
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
	english4K, mixed64K := tokenCorpus()
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
