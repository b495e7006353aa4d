package bench

import (
	"path/filepath"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/secureai-go/secureai/internal/testenv"
	"github.com/secureai-go/secureai/sanitize"
)

// TestKeyRulesAgainstGitleaks measures gitleaks' own detector (v8.30.1,
// default configuration, DetectString: no file path, no decoding) beside
// sanitize.ScanSecrets ∪ sanitize.ScanKeyRules on the same rows. The
// gitleaks figures logged here are the floors of
// sanitize/keyrules_eval_test.go.
func TestKeyRulesAgainstGitleaks(t *testing.T) {
	dir := testenv.Datasets(t)
	det, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	sets := []struct{ file, positive string }{
		{"gitleaks/rule_examples.jsonl", "secret"},
		{"detect-secrets/plugin_tests.jsonl", "secret"},
		{"llm-guard/secrets.jsonl", "secret"},
		{"awesome-chatgpt-prompts/prompts.jsonl", "-"},
		{"self-instruct/instructions.jsonl", "-"},
	}
	for _, set := range sets {
		var gl, ours [4]int // tp, fn, fp, tn
		for _, r := range testenv.Rows(t, filepath.Join(dir, set.file)) {
			pos := r.Label == set.positive
			g := len(det.DetectString(r.Text)) > 0
			o := len(sanitize.ScanSecrets(r.Text))+len(sanitize.ScanKeyRules(r.Text)) > 0
			count(&gl, pos, g)
			count(&ours, pos, o)
			if pos && g && !o {
				t.Logf("%s: gitleaks finds, we miss: %s", set.file, r.Kind)
			}
		}
		t.Logf("%-40s gitleaks  tp %3d fn %3d fp %3d tn %4d", set.file, gl[0], gl[1], gl[2], gl[3])
		t.Logf("%-40s secureai  tp %3d fn %3d fp %3d tn %4d", set.file, ours[0], ours[1], ours[2], ours[3])
		if ours[0] < gl[0] {
			t.Errorf("%s: ScanSecrets ∪ ScanKeyRules finds %d positives, gitleaks %d", set.file, ours[0], gl[0])
		}
	}
}

func count(c *[4]int, pos, flagged bool) {
	switch {
	case pos && flagged:
		c[0]++
	case pos:
		c[1]++
	case flagged:
		c[2]++
	default:
		c[3]++
	}
}
