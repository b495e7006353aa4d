// Package testenv holds what the tests and benchmarks of several secureai
// packages (and of the bench module) share: where the public data sets
// are and how their rows read, the token counters' benchmark texts, a
// build-cost measurement and whether the race detector is on. It is for
// tests only; no library code imports it.
package testenv

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Datasets returns the folder of the shared detection data sets: the
// SANITIZE_DATASETS variable, or shared/datasets beside the repository
// (see its README; the sets are read in place, never copied). When the
// folder is absent the test is skipped, or fails under CI=true.
func Datasets(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SANITIZE_DATASETS")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0) // <repo>/internal/testenv/testenv.go
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "datasets")
	}
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("data sets missing under CI=true: %v", err)
		}
		t.Skipf("data sets not found at %s (set SANITIZE_DATASETS): %v", dir, err)
	}
	return dir
}

// Row is one line of a data set's JSONL file.
type Row struct {
	Text  string `json:"text"`
	Label string `json:"label"`
	Kind  string `json:"kind"`
}

// Rows reads the JSONL file at path. A missing file skips the test (fails
// under CI=true); a malformed line fails it.
func Rows(t testing.TB, path string) []Row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	defer f.Close()
	var rows []Row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r Row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// Texts returns the text of every row of every JSONL file of the data
// sets, as Datasets finds them.
func Texts(t testing.TB) []string {
	t.Helper()
	dir := Datasets(t)
	var texts []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".jsonl" {
			return err
		}
		for _, r := range Rows(t, path) {
			texts = append(texts, r.Text)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(texts) == 0 {
		t.Fatalf("no texts in %s", dir)
	}
	return texts
}

// MeasureBuild runs build once and returns its duration, the heap it
// allocated and the heap still live after it (in MB, after a full GC).
func MeasureBuild(build func()) (time.Duration, float64, float64) {
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

// TokenCorpus returns the benchmark texts of the token counters: about
// 4 KB of English prose (english4K) and 64 KB of mixed text (mixed64K:
// prose, Go and Python code, JSON, Chinese, Japanese, Korean, emoji with
// ZWJ sequences, numbers), the same on every call.
func TokenCorpus() (english4K, mixed64K string) {
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

// BenignPrompts returns the texts of the benign prompt data sets
// (awesome-chatgpt-prompts and self-instruct), as Datasets finds them: the
// real prompts the scan benchmarks measure.
func BenignPrompts(t testing.TB) []string {
	t.Helper()
	dir := Datasets(t)
	var texts []string
	for _, f := range []string{"awesome-chatgpt-prompts/prompts.jsonl", "self-instruct/instructions.jsonl"} {
		for _, r := range Rows(t, filepath.Join(dir, f)) {
			texts = append(texts, r.Text)
		}
	}
	return texts
}
