package bench

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/secureai-go/secureai/internal/testenv"
	"github.com/secureai-go/secureai/sanitize"
)

// scanBenign returns n bytes of the benign prompt sanitize's own
// benchmarks use (a meeting-summary request with two accented names).
func scanBenign(n int) string {
	const para = "The quarterly report shows that our customers asked for faster answers, " +
		"clearer pricing and better documentation. Please summarise the main points for the " +
		"team meeting on Thursday: what went well, what did not, and which three changes we " +
		"should make first. Keep it short (about 200 words) and friendly; avoid jargon. " +
		"Also draft a two-line e-mail inviting Anna, Jürgen and Zoë to review it by Friday.\n"
	return strings.Repeat(para, n/len(para)+1)[:n]
}

// scanWithSecrets is 4 KB of the benign prompt with fake credentials
// (shapes only) spliced in.
func scanWithSecrets() string {
	return scanBenign(1500) + "\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n" +
		"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n" +
		"export GITLAB_TOKEN=glpat-testFAKEtestFAKE1234\n" +
		"-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n" +
		scanBenign(2200)
}

// scanCurl is about 3 KB of prose that asks about curl, without a
// command line.
func scanCurl() string {
	p := strings.Repeat("The quick brown fox jumps over the lazy dog while the audit log keeps count. ", 18)
	return "How do I use curl to download a file and show progress? " + p +
		" I tried curl with a proxy but it said connection refused. " + p + " Is wget better than curl here?"
}

// scanNumbers is 4 KB of lines of order numbers, timestamps and totals,
// none of them a phone number.
func scanNumbers() string {
	var b strings.Builder
	for i := 0; b.Len() < 4096; i++ {
		fmt.Fprintf(&b, "order %d, shipped %d, total %d.%02d\n", 4100000000+i*7919, 1700000000+i*3600, 100+i*37, i%100)
	}
	return b.String()[:4096]
}

// scanScript returns n bytes (whole code points) of a prompt in another
// script: the benign paragraph's request in Russian ("ru") or Chinese
// ("zh").
func scanScript(lang string, n int) string {
	para := map[string]string{
		"ru": "Квартальный отчёт показывает, что наши клиенты просили более быстрых ответов, " +
			"понятных цен и лучшей документации. Пожалуйста, кратко изложи главные пункты для " +
			"встречи команды в четверг: что получилось, что нет и какие три изменения нужно " +
			"сделать в первую очередь. Пиши коротко и дружелюбно, без жаргона.\n",
		"zh": "季度报告显示，我们的客户希望得到更快的回答、更清晰的价格和更好的文档。" +
			"请为星期四的团队会议总结要点：哪些做得好，哪些不好，以及我们应该首先做出的三项改变。" +
			"请保持简短友好，避免使用术语。\n",
	}[lang]
	s := strings.Repeat(para, n/len(para)+1)[:n]
	return strings.ToValidUTF8(s, "")
}

// BenchmarkScanVsGitleaks runs, in one process, secureai's combined input
// scan (secrets, gitleaks' key rules included, PII, invisible Unicode,
// prompt injection) and gitleaks' default detector (secrets only) on the
// same texts, and reports the throughput ratio as x_vs_gitleaks on the
// secureai rows.
func BenchmarkScanVsGitleaks(b *testing.B) {
	s, err := sanitize.NewInputScanner(sanitize.InputScanOptions{})
	if err != nil {
		b.Fatal(err)
	}
	gl, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		texts []string
	}{
		// The prompt of BenchmarkChat: plain prose with none of the
		// words or bytes the rules key on; and 256 of it in one text.
		{"prose4KB", []string{prompt4K}},
		{"prose1MB", []string{strings.Repeat(prompt4K, 256)}},
		{"benign4KB", []string{scanBenign(4 << 10)}},
		{"benign1MB", []string{scanBenign(1 << 20)}},
		{"secrets4KB", []string{scanWithSecrets()}},
		// A question that names curl three times: gitleaks' curl rules
		// read up to 2 KB past each "curl".
		{"curl3KB", []string{scanCurl()}},
		// A table of order numbers and timestamps: every number is a
		// phone-number candidate.
		{"numbers4KB", []string{scanNumbers()}},
		// The request in Russian and in Chinese: every character is two
		// or three bytes >= 0x80.
		{"russian4KB", []string{scanScript("ru", 4<<10)}},
		{"chinese4KB", []string{scanScript("zh", 4<<10)}},
		// Real prompts, each scanned on its own: the benign rows of the
		// data sets (awesome-chatgpt-prompts and self-instruct).
		{"prompts", testenv.BenignPrompts(b)},
	} {
		size := 0
		for _, t := range tt.texts {
			size += len(t)
		}
		var glNs float64
		b.Run(tt.name+"/gitleaks", func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for _, t := range tt.texts {
					gl.DetectString(t)
				}
			}
			glNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		b.Run(tt.name+"/secureai", func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var r sanitize.InputScan
			for b.Loop() {
				for _, t := range tt.texts {
					s.ScanInto(&r, t)
				}
			}
			if ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N); glNs > 0 && ns > 0 {
				b.ReportMetric(glNs/ns, "x_vs_gitleaks")
			}
		})
	}
}

// TestScanRecallVsGitleaks measures, on the rows labelled "secret" of the
// gitleaks and detect-secrets data sets, the share that gitleaks' default
// detector and secureai's input scan flag. Gitleaks' numbers are a
// measurement; secureai's input scan runs ScanSecrets and gitleaks' rules
// (ScanKeyRules) both, and must stay at or above floors a little below
// the figures TestEvalKeyRules in sanitize/keyrules_eval_test.go holds the
// union to: 117 of 122 rows (0.959) and 44 of 85 (0.518).
func TestScanRecallVsGitleaks(t *testing.T) {
	dir := testenv.Datasets(t)
	s, err := sanitize.NewInputScanner(sanitize.InputScanOptions{SkipPII: true, SkipUnicode: true, SkipInjection: true})
	if err != nil {
		t.Fatal(err)
	}
	gl, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%-36s %6s %16s %16s", "data set", "rows", "gitleaks recall", "secureai recall")
	for _, set := range []struct {
		file  string
		floor float64 // recall floor for the whole file
	}{
		{"gitleaks/rule_examples.jsonl", 0.95},
		{"detect-secrets/plugin_tests.jsonl", 0.51},
	} {
		var rows, glHit, ourHit int
		for _, r := range testenv.Rows(t, filepath.Join(dir, set.file)) {
			if r.Label != "secret" {
				continue
			}
			rows++
			if len(gl.DetectString(r.Text)) > 0 {
				glHit++
			}
			if res := s.Scan(r.Text); len(res.Secrets) > 0 {
				ourHit++
			}
		}
		if rows == 0 {
			t.Fatalf("%s: no rows labelled secret", set.file)
		}
		ours := float64(ourHit) / float64(rows)
		t.Logf("%-36s %6d %9.3f (%4d) %9.3f (%4d)", set.file, rows,
			float64(glHit)/float64(rows), glHit, ours, ourHit)
		if ours < set.floor {
			t.Errorf("%s: secureai recall %.3f below the floor %.2f", set.file, ours, set.floor)
		}
	}
}
