package sanitize

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/secureai-go/secureai/internal/testenv"
)

// tally counts true and false positives and negatives.
type tally struct{ tp, fn, fp, tn int }

func (c *tally) add(positive, flagged bool) {
	switch {
	case positive && flagged:
		c.tp++
	case positive:
		c.fn++
	case flagged:
		c.fp++
	default:
		c.tn++
	}
}

func (c tally) recall() float64 {
	if c.tp+c.fn == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fn)
}

func (c tally) precision() float64 {
	if c.tp+c.fp == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fp)
}

func logTallies(t *testing.T, name string, total tally, byKind map[string]*tally) {
	t.Helper()
	t.Logf("%s: recall %.3f (%d/%d), precision %.3f (fp %d, tn %d)", name, total.recall(), total.tp, total.tp+total.fn, total.precision(), total.fp, total.tn)
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		c := byKind[k]
		t.Logf("  %-40s recall %.2f (%d/%d) fp %d/%d", k, c.recall(), c.tp, c.tp+c.fn, c.fp, c.fp+c.tn)
	}
}

// TestEvalSecrets measures ScanSecrets on the secret data sets. A row is
// flagged when ScanSecrets finds anything in it. The floors sit just under
// the figures measured when the rules were written, so that a change that
// loses recall or precision fails here.
func TestEvalSecrets(t *testing.T) {
	dir := testenv.Datasets(t)
	sets := []struct {
		file                    string
		positive                string
		minRecall, minPrecision float64
		scope                   map[string]bool // kinds counted; nil means all
	}{
		{"gitleaks/rule_examples.jsonl", "secret", 0.54, 0.59, nil},
		{"gitleaks/rule_examples.jsonl (in scope)", "secret", 0.71, 0.61, inScope},
		{"detect-secrets/plugin_tests.jsonl", "secret", 0.47, 0.84, nil},
		{"detect-secrets/plugin_tests.jsonl (in scope)", "secret", 0.96, 0.96, inScope},
		{"llm-guard/secrets.jsonl", "secret", 1, 1, nil},
	}
	for _, set := range sets {
		file, _, _ := strings.Cut(set.file, " ")
		rows := testenv.Rows(t, filepath.Join(dir, file))
		var total tally
		byKind := map[string]*tally{}
		for _, r := range rows {
			if set.scope != nil && !set.scope[r.Kind] {
				continue
			}
			flagged := len(ScanSecrets(r.Text)) > 0
			pos := r.Label == set.positive
			total.add(pos, flagged)
			if byKind[r.Kind] == nil {
				byKind[r.Kind] = new(tally)
			}
			byKind[r.Kind].add(pos, flagged)
		}
		logTallies(t, set.file, total, byKind)
		if total.recall() < set.minRecall || total.precision() < set.minPrecision {
			t.Errorf("%s: recall %.3f precision %.3f, floors %.3f %.3f", set.file, total.recall(), total.precision(), set.minRecall, set.minPrecision)
		}
	}
}

// inScope lists the data sets' kinds (gitleaks rule IDs, detect-secrets
// plugins) that ScanSecrets has a rule for.
var inScope = map[string]bool{
	"anthropic-api-key": true, "anthropic-admin-api-key": true, "aws-access-token": true,
	"azure-ad-client-secret": true, "curl-auth-header": true, "gcp-api-key": true,
	"generic-api-key": true, "github-app-token": true, "github-fine-grained-pat": true,
	"github-oauth": true, "github-pat": true, "github-refresh-token": true, "gitlab-pat": true,
	"gitlab-pat-routable": true, "gitlab-ptt": true, "gitlab-rrt": true,
	"gitlab-runner-authentication-token-routable": true, "jwt-base64": true, "openai-api-key": true,
	"private-key": true, "sidekiq-sensitive-url": true, "slack-app-token": true, "slack-bot-token": true,
	"slack-config-access-token": true, "slack-config-refresh-token": true, "slack-legacy-bot-token": true,
	"slack-legacy-token": true, "slack-legacy-workspace-token": true, "slack-user-token": true,
	"slack-webhook-url": true, "curl-auth-user": true,
	// detect-secrets
	"aws_key": true, "azure_storage_key": true, "basic_auth": true, "github_token": true,
	"gitlab_token": true, "jwt": true, "openai": true, "private_key": true, "slack": true,
	"stripe_key": true,
}

// piiKinds maps presidio recognizer names to the ScanPII types that cover
// them; other recognizers (national IDs, dates, URLs, ...) are out of scope
// and reported apart.
var piiKinds = map[string]string{
	"email": "email", "phone": "phone", "credit_card": "credit_card", "iban": "iban",
	"us_ssn": "us_ssn", "ip": "ip_address",
}

func TestEvalPII(t *testing.T) {
	dir := testenv.Datasets(t)
	rows := testenv.Rows(t, filepath.Join(dir, "presidio/recognizer_tests.jsonl"))
	var total tally
	byKind := map[string]*tally{}
	for _, r := range rows {
		typ, ok := piiKinds[r.Kind]
		if !ok {
			continue
		}
		flagged := false
		for _, f := range ScanPII(r.Text) {
			if f.Type == typ {
				flagged = true
			}
		}
		pos := r.Label == "pii"
		total.add(pos, flagged)
		if byKind[r.Kind] == nil {
			byKind[r.Kind] = new(tally)
		}
		byKind[r.Kind].add(pos, flagged)
	}
	logTallies(t, "presidio (email, phone, credit_card, iban, us_ssn, ip)", total, byKind)
	floors := map[string]struct{ recall, precision float64 }{
		"credit_card": {1, 1}, "email": {1, 1}, "iban": {0.98, 1}, "ip": {0.98, 0.98},
		"phone": {0.84, 1}, "us_ssn": {0.66, 1},
	}
	if total.recall() < 0.97 || total.precision() < 0.99 {
		t.Errorf("presidio: recall %.3f precision %.3f, floors 0.97 0.99", total.recall(), total.precision())
	}
	for k, fl := range floors {
		if c := byKind[k]; c.recall() < fl.recall || c.precision() < fl.precision {
			t.Errorf("%s: recall %.3f precision %.3f, floors %.3f %.3f", k, c.recall(), c.precision(), fl.recall, fl.precision)
		}
	}
}
