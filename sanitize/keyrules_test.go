package sanitize

import (
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/secureai-go/secureai/internal/testenv"
)

func TestKeyRulesData(t *testing.T) {
	k := DefaultKeyRules()
	if got := len(k.Rules()); got != len(keyRulesData) || got < 200 {
		t.Fatalf("%d rules", got)
	}
	if !slices.IsSorted(k.Rules()) {
		t.Error("rules not sorted by ID")
	}
	for i := range k.rules {
		r := &k.rules[i]
		d := r.d
		c := r.compiled() // compiles the rule and its allowlists, or panics
		if c.re.String() != d.regex {
			t.Errorf("%s: regex changed on compile", d.id)
		}
		if d.secretGroup > c.re.NumSubexp() {
			t.Errorf("%s: secret group %d of %d", d.id, d.secretGroup, c.re.NumSubexp())
		}
		if d.typ != strings.ReplaceAll(d.id, "-", "_") {
			t.Errorf("%s: type %q", d.id, d.typ)
		}
		if len(d.keywords) == 0 {
			t.Errorf("%s: no keywords", d.id)
		}
		for _, kw := range d.keywords {
			if kw == "" || kw != strings.ToLower(kw) || strings.ContainsFunc(kw, func(r rune) bool { return r >= 0x80 }) {
				t.Errorf("%s: keyword %q not lower-case ASCII", d.id, kw)
			}
		}
		for _, p := range d.prefixes {
			if !slices.ContainsFunc(d.keywords, func(kw string) bool { return strings.HasPrefix(strings.ToLower(p.lit), kw) }) {
				t.Errorf("%s: prefix %q starts with no keyword", d.id, p.lit)
			}
		}
	}
	for _, a := range k.global() {
		if len(a.regexes) == 0 && a.nstop == 0 {
			t.Error("empty global allowlist")
		}
	}
	if KeyRulesVersion == "" || KeyRulesVersion == "unknown" {
		t.Errorf("version %q", KeyRulesVersion)
	}
	t.Logf("gitleaks %s: %d rules used, %d skipped %v; automaton %d states × %d classes",
		KeyRulesVersion, len(k.rules), len(keyRulesSkipped), keyRulesSkipped, len(k.next)/k.nc, k.nc)
}

// scanReference runs every rule whose keyword occurs anywhere in text over
// the whole text, as gitleaks does: no gates, no windows.
func (k *KeyRules) scanReference(text string) []Finding {
	b := []byte(text)
	for i, c := range b {
		b[i] = keyLower(c)
	}
	lower := string(b)
	// Each rule over the whole text with FindAll, the anchored ones too,
	// and without the test for a run of secret characters first.
	ref := *withoutPrechecks(k)
	for i := range ref.rules {
		ref.rules[i].anchored = false
	}
	var out []Finding
	for ri, r := range ref.rules {
		if !slices.ContainsFunc(r.d.keywords, func(kw string) bool { return strings.Contains(lower, kw) }) {
			continue
		}
		out = ref.flush(out, text, &keyPending{rule: ri, a: 0, b: len(text), safeA: true, safeB: true}, new(keyRuns))
	}
	return dedupeFindings(out)
}

const (
	fakeAgeKey  = "AGE-SECRET-KEY-1" + "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" + "QPZRY9X8GF2TVDW0S3JN54KHCE"
	fakeHFToken = "hf_testFAKEtestFAKEtestFAKEtestFAKEte"
)

func TestScanKeyRules(t *testing.T) {
	tests := []struct {
		name, text, typ, match string
	}{
		{"age", "key: " + fakeAgeKey + "\n", "age_secret_key", fakeAgeKey},
		{"huggingface", "export HF=" + fakeHFToken + " # token", "huggingface_access_token", fakeHFToken},
		{"stripe", "use " + fakeStripeKey + " now", "stripe_access_token", fakeStripeKey},
		{"generic", `config.api_key = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"`, "generic_api_key", "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"},
		{"gitlab", "token " + "glpat-testFAKEtestFAKE1234" + "\n", "gitlab_pat", "glpat-testFAKEtestFAKE1234"},
		{"after non-ASCII", "Schlüssel für Zoë: " + fakeAgeKey, "age_secret_key", fakeAgeKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := ScanKeyRules(tt.text)
			secCheckFindings(t, tt.text, fs)
			if !slices.ContainsFunc(fs, func(f Finding) bool { return f.Type == tt.typ && tt.text[f.Start:f.End] == tt.match }) {
				t.Errorf("ScanKeyRules(%q) = %+v, want %s %q", tt.text, fs, tt.typ, tt.match)
			}
			if ref := DefaultKeyRules().scanReference(tt.text); !slices.Equal(fs, ref) {
				t.Errorf("Scan %+v, reference %+v", fs, ref)
			}
		})
	}
}

func TestScanKeyRulesNegatives(t *testing.T) {
	for _, text := range []string{
		"",
		benignText(4 << 10),
		triggerProse(4 << 10),
		`password = "${DB_PASSWORD}"`,
		"api_key: abcdefghijklmnopqrstuvwxyz",
		"The secret, as they say, is in the sauce; ask the task force about the key.",
	} {
		if fs := ScanKeyRules(text); len(fs) != 0 {
			t.Errorf("ScanKeyRules(%.60q) = %+v, want none", text, fs)
		}
	}
}

// TestScanKeyRulesWindow checks that a match is found wherever its keyword
// sits in a long text, and that windows cut mid-token report nothing.
func TestScanKeyRulesWindow(t *testing.T) {
	long := strings.Repeat("x", 10000)
	for _, text := range []string{
		long + " " + fakeAgeKey,
		fakeAgeKey + " " + long,
		strings.Repeat("word ", 3000) + "api_key = \"Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB\"" + strings.Repeat(" word", 3000),
	} {
		fs := ScanKeyRules(text)
		if len(fs) != 1 {
			t.Errorf("got %+v", fs)
		}
	}
	// A token longer than any window: no rule may report a piece of it as
	// if the window's edge were the token's end.
	text := "token=" + strings.Repeat("Ab1", 3000)
	fs := ScanKeyRules(text)
	secCheckFindings(t, text, fs)
	for _, f := range fs {
		if f.End != len(text) && keyWordByte(text[f.End]) {
			t.Errorf("finding %+v ends inside a token", f)
		}
	}
}

func TestScanKeyRulesAllocs(t *testing.T) {
	for _, text := range []string{benignText(4 << 10), triggerProse(4 << 10)} {
		if n := testing.AllocsPerRun(20, func() { ScanKeyRules(text) }); n != 0 {
			t.Errorf("%d allocations on benign text, want 0", int(n))
		}
	}
}

func TestDedupeFindings(t *testing.T) {
	got := dedupeFindings([]Finding{{Start: 5, End: 9}, {Start: 0, End: 3}, {Start: 2, End: 8}, {Start: 8, End: 12}})
	// {2,8} (6 bytes) beats {5,9} and {0,3}; {8,12} does not overlap it.
	want := []Finding{{Start: 2, End: 8}, {Start: 8, End: 12}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// triggerProse is n bytes of English prose full of the words that are
// gitleaks keywords: key, token, secret, password, api, access, auth.
func triggerProse(n int) string {
	const para = "The API team keeps every secret in a vault: they rotate each access token and key " +
		"weekly, and nobody shares a password by e-mail. Ask the auth service for credentials, " +
		"then ask again when the token expires; the key point, as they say, is discipline. " +
		"Keys, tokens, secrets and passwords are never written to the task tracker or the desk notes.\n"
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(para)
	}
	return b.String()[:n]
}

func BenchmarkScanKeyRules(b *testing.B) {
	for _, bc := range []struct {
		name string
		text string
	}{
		{"benign4KB", benignText(4 << 10)},
		{"trigger4KB", triggerProse(4 << 10)},
		{"benign1MB", benignText(1 << 20)},
		{"trigger1MB", triggerProse(1 << 20)},
	} {
		DefaultKeyRules()
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.text)))
			b.ReportAllocs()
			for b.Loop() {
				if fs := ScanKeyRules(bc.text); fs != nil {
					b.Fatal(fs)
				}
			}
		})
	}
}

func FuzzKeyRules(f *testing.F) {
	for _, s := range []string{fakeAgeKey, fakeHFToken, fakeStripeKey, fakeAWSKeyID + " " + fakeAWSSecret,
		`api_key = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"`, "token: ü" + fakeSlackToken, triggerProse(300),
		"-----BEGIN RSA PRIVATE KEY-----\nMIIEfake" + strings.Repeat("A", 70) + "\n-----END RSA PRIVATE KEY-----"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		fs := ScanKeyRules(text)
		secCheckFindings(t, text, fs) // in range, sorted, non-overlapping, rune boundaries
		if ref := DefaultKeyRules().scanAutomaton(text); !slices.Equal(fs, ref) {
			t.Fatalf("Scan %+v, automaton alone %+v", fs, ref)
		}
		// The windows and the anchored runs lose nothing against each
		// rule over the whole text.
		if ref := DefaultKeyRules().scanReference(text); !slices.Equal(fs, ref) {
			t.Fatalf("Scan %+v, whole text %+v", fs, ref)
		}
		for _, x := range fs {
			if x.Kind != KindSecret || x.Type == "" {
				t.Fatalf("bad finding %+v", x)
			}
		}
	})
}

// scanAutomaton is Scan without the skip loop: the automaton steps through
// every byte.
func (k *KeyRules) scanAutomaton(text string) []Finding {
	var st keyState
	st.init(k)
	nc := int32(k.nc)
	s := int32(0)
	for i := 0; i < len(text); i++ {
		s = k.next[s+int32(k.cls[text[i]])]
		if s < k.outStart {
			continue
		}
		for _, kwi := range k.out[(s-k.outStart)/nc] {
			kw := &k.kws[kwi]
			start, end := i+1-kw.n, i+1
			for _, ri := range kw.rules {
				if k.rules[ri].gate(text, start, end) {
					st.hit(text, int(ri), start, end)
				}
			}
		}
	}
	return st.finish(text)
}

func TestKeyRulesSkipExact(t *testing.T) {
	k := DefaultKeyRules()
	for _, text := range []string{"", "ey", "sk", "a", "Ask", benignText(5000), triggerProse(5000),
		"x " + fakeAgeKey, fakeHFToken, "use " + fakeStripeKey, `config.api_key = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"`} {
		for cut := 0; cut <= len(text) && cut < 40; cut++ {
			if got, want := k.Scan(text[cut:]), k.scanAutomaton(text[cut:]); !slices.Equal(got, want) {
				t.Errorf("%.40q: Scan %+v, automaton alone %+v", text[cut:], got, want)
			}
		}
	}
}

// TestKeyFilterCoversHits checks the scalar filter (tri, long, pairs):
// wherever a keyword, in any case, after any kind of byte or at the
// text's start, and before its end or what its rules want after it, makes
// a hit that passes a rule's gate, the filter lets the automaton start
// there (or, for a two-byte keyword that needs a word start, just before
// it), and Scan finds what the automaton alone finds.
func TestKeyFilterCoversHits(t *testing.T) {
	k := DefaultKeyRules()
	byKeyword := map[string][]int{}
	for i, r := range k.rules {
		for _, kw := range r.d.keywords {
			byKeyword[kw] = append(byKeyword[kw], i)
		}
	}
	hits, turned := 0, 0
	for word, rules := range byKeyword {
		forms := []string{word, strings.ToUpper(word), strings.ToUpper(word[:1]) + word[1:], word[:1] + strings.ToUpper(word[1:])}
		for _, r := range rules {
			for _, p := range k.rules[r].d.prefixes {
				forms = append(forms, p.lit)
			}
		}
		for _, form := range forms {
			for _, before := range []string{"", " ", "\n", "x", "é", "_", "=", "9", "-", "."} {
				for _, after := range []string{"", "=", " = 0123456789abcdef0123456789abcdef", "0123456789abcdefABCDEF0123456789ab",
					"_live_4eC39HqLyjWDarjtT1zdp7dc", "J0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig_sig_sig"} {
					text := before + form + after
					start, end := len(before), len(before)+len(form)
					pass := false
					for _, r := range rules {
						pass = pass || k.rules[r].gate(text, start, end)
					}
					if !pass {
						turned++
						continue
					}
					hits++
					at := start
					if len(form) == 2 && start > 0 && !k.mayStart(text, start) {
						at-- // flagged at the byte before it
					}
					if !k.mayStart(text, at) {
						t.Errorf("keyword %q in %q: the gate passes, the filter turns it down", form, text)
					}
					if got, want := k.Scan(text), k.scanAutomaton(text); !slices.Equal(got, want) {
						t.Errorf("%q: Scan %+v, automaton alone %+v", text, got, want)
					}
				}
			}
		}
	}
	if hits < 2*len(byKeyword) || turned == 0 {
		t.Fatalf("%d hits that pass a gate, %d that do not, for %d keywords", hits, turned, len(byKeyword))
	}
}

// allowTargets are targets made for the allowlists' expressions and the
// literals and stretches of allowRegex: matches at a target's edges, next
// to each other, far apart, in either case, and with K (U+212A) for k.
var allowTargets = []string{"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "accessor_key = abc",
	"MONKEY=1", "Monkey", "monkey", "FOO=\nBAR=\n", "io.jsonwebtoken : jjwt-api", "key_alias: x",
	"\u212Aey_alias: x", "credentials_id=5", "a.b=\nc.d=\n", "public-token", "csrf_token", "",
	"primary_key", "xxPRIMARY-KEYxx", "sequencekey", "SEQUENCE.KEY and key", "key key key primarykey",
	strings.Repeat("a", 40) + "foreign_key" + strings.Repeat("b", 40), "token_file", "TOKEN-FILE=1",
	"api_endpoint", "credentials.url", "TOKENuri", "apiurl and token_url", "keying", "KEYING material",
	"false", "xfalsex", "true", "truex", "null", "nul", "NULL", "org.x:api:jar:1", "x:API:JAR:y",
	"public_key publickey pub-key", "pubkey" + strings.Repeat(" ", 30) + "hot_key", "true|false|null"}

// TestAllowRegexSplit checks that an allowlist expression, split into its
// branches, run on the stretches around their literals or compared as
// words, matches exactly where the whole expression does, on the data sets' texts and their
// lines and on allowTargets.
func TestAllowRegexSplit(t *testing.T) {
	targets := slices.Clone(allowTargets)
	if !testing.Short() && !testenv.Race {
		// The secret data sets' lines: the targets allowlists see.
		dir := testenv.Datasets(t)
		for _, f := range []string{"gitleaks/rule_examples.jsonl", "detect-secrets/plugin_tests.jsonl", "llm-guard/secrets.jsonl"} {
			for _, r := range testenv.Rows(t, filepath.Join(dir, f)) {
				targets = append(targets, strings.Split(r.Text, "\n")...)
			}
		}
	}
	k := DefaultKeyRules()
	var data []keyAllowData
	for _, r := range k.rules {
		data = append(data, r.d.allow...)
	}
	split, windowed, worded := 0, 0, 0
	for _, d := range append(data, keyRulesGlobalAllow...) {
		for _, src := range d.regexes {
			a, whole := compileAllowRegex(src), regexp.MustCompile(src)
			if len(a.branches) > 1 {
				split++
			}
			for _, b := range a.branches {
				switch {
				case b.words != nil:
					worded++
				case b.needs != nil && b.width >= 0:
					windowed++
				}
			}
			for _, tg := range targets {
				if got, want := allowMatch(&a, tg), whole.MatchString(tg); got != want {
					t.Errorf("%s on %q: split %v, whole %v", src, tg, got, want)
				}
			}
		}
	}
	if split == 0 || windowed == 0 || worded == 0 {
		t.Fatalf("%d allowlist expressions split, %d branches run on stretches, %d compared as words: want some of each",
			split, windowed, worded)
	}
}

// allowMatch runs a on target as allowed does.
func allowMatch(a *allowRegex, target string) bool {
	lower, ascii := foldTarget(nil, target)
	return a.match(target, lower, ascii)
}

// FuzzAllowRegex checks that the allowlists' expressions, as allowRegex
// runs them, match exactly where the whole expressions do.
func FuzzAllowRegex(f *testing.F) {
	for _, tg := range allowTargets {
		f.Add(tg)
	}
	k := DefaultKeyRules()
	var srcs []string
	for _, r := range k.rules {
		for _, d := range r.d.allow {
			srcs = append(srcs, d.regexes...)
		}
	}
	for _, d := range keyRulesGlobalAllow {
		srcs = append(srcs, d.regexes...)
	}
	type pair struct {
		a     allowRegex
		whole *regexp.Regexp
	}
	var res []pair
	for _, src := range srcs {
		res = append(res, pair{compileAllowRegex(src), regexp.MustCompile(src)})
	}
	f.Fuzz(func(t *testing.T, target string) {
		for _, p := range res {
			if got, want := allowMatch(&p.a, target), p.whole.MatchString(target); got != want {
				t.Errorf("%s on %q: allowRegex %v, whole %v", p.whole, target, got, want)
			}
		}
	})
}

// denseTexts are texts with a keyword every few bytes, where some anchored
// rules read more than keyAnchorRead and go on with windows.
func denseTexts() []string {
	return []string{
		strings.Repeat("curl ", 400) + "curl -H 'Authorization: Bearer abcdefghijkl0123' https://x\n",
		strings.Repeat("api_key = x; ", 300) + `api_key = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"` + "\n",
		strings.Repeat("eyJ ", 500) + "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n",
		strings.Repeat("token: aaaaaaaaaaaaaaaaaaaa ", 200) + strings.Repeat("password=hunter2hunter2 ", 200),
		strings.Repeat("key", 3000),
		// Runs that a rule's reach reads to their end from every hit
		// inside them (see keyRuns).
		strings.Repeat("api_key=", 500) + "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB\n",
		strings.Repeat("-----BEGIN RSA PRIVATE KEY-----\n", 100) + "MIIEfake" + strings.Repeat("A", 70) + "\n-----END RSA PRIVATE KEY-----",
		strings.Repeat("xoxb-", 400) + fakeSlackToken[5:] + " " + fakeSlackToken,
		strings.Repeat("eyJ.", 500) + fakeJWT,
		strings.Repeat("glpat-", 400) + fakeGitLabToken + "-",
		// Hits of rules with different classes, side by side.
		strings.Repeat("xoxb-1 eyJ.", 300) + fakeSlackToken + " " + fakeJWT + " " + fakeSlackToken + "." + fakeJWT,
	}
}

// TestKeyRuns checks keyRuns.end against measuring each run afresh, over
// the classes of every rule's steps asked in turn, at increasing and at
// random positions, with more classes than it remembers.
func TestKeyRuns(t *testing.T) {
	var classes []*[4]uint64
	for _, r := range DefaultKeyRules().rules {
		for _, s := range r.d.after {
			if s.class != nil {
				classes = append(classes, s.class)
			}
		}
	}
	for len(classes) <= len(keyRuns{}.m) {
		c := &[4]uint64{uint64(len(classes)) << 40, 0x7fffffe07fffffe}
		classes = append(classes, c)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	text := strings.Repeat("api_key=xoxb-1 eyJ.abc/+=\n-----BEGIN \x00é", 40)
	fresh := func(p int, class *[4]uint64) int {
		for p < len(text) && class[text[p]>>6]&(1<<(text[p]&63)) != 0 {
			p++
		}
		return p
	}
	var r keyRuns
	for i := range 20000 {
		p := i % len(text)
		if i%3 == 0 {
			p = rng.IntN(len(text) + 1)
		}
		c := classes[rng.IntN(len(classes))]
		if got, want := r.end(text, p, c), fresh(p, c); got != want {
			t.Fatalf("step %d, from %d: %d, measured afresh %d", i, p, got, want)
		}
	}
}

// TestKeyRulesDense checks, on texts dense with keywords, that the rules
// that go on with windows after their anchored runs lose nothing against
// each rule over the whole text.
func TestKeyRulesDense(t *testing.T) {
	k := DefaultKeyRules()
	for _, text := range denseTexts() {
		got, want := k.Scan(text), k.scanReference(text)
		secCheckFindings(t, text, got)
		if !slices.Equal(got, want) {
			t.Errorf("%.40q...: Scan %+v\nreference %+v", text, got, want)
		}
	}
}

// BenchmarkScanKeyRulesDense measures the dense texts: with anchored
// runs capped per rule, a scan stays linear in the text.
func BenchmarkScanKeyRulesDense(b *testing.B) {
	for i, text := range denseTexts() {
		text = strings.Repeat(text, 16)
		b.Run(strconv.Itoa(i), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				ScanKeyRules(text)
			}
		})
	}
}

// TestSecretRun checks the runs secretRun works out on expressions made
// for it, and that every match of every rule's expression in the secret
// data sets holds the run its rule was given.
func TestSecretRun(t *testing.T) {
	for _, tt := range []struct {
		re   string
		want int
	}{
		{`[a-z0-9]{24}`, 24},
		{`ey[A-Za-z0-9]{17,}`, 19},
		{`(?i)key\s*=\s*([a-z0-9]{32})`, 32},
		{`abc|[0-9]{10}`, 3},
		{`x(?:ab)*y`, 2},
		{`x(?: b)*y`, 1},
		{`(?:a b){3}`, 2},
		{`(?i)sk`, 2},
		{`.{30}`, 0},
		{`[^\n]{8}`, 0},
		{`\bghp_[0-9a-zA-Z]{36}\b`, 40},
		{`(?:abc)?def`, 3},
		{`a\.b-c/d\+e=f~g_h`, 15},
		{`abc"def`, 3},
	} {
		if got := secretRun(tt.re); got != tt.want {
			t.Errorf("secretRun(%q) = %d, want %d", tt.re, got, tt.want)
		}
	}
	for _, tt := range []struct {
		text string
		n    int
		want bool
	}{
		{"", 0, true}, {"", 2, false}, {"ab cd", 3, false}, {"ab cde", 3, true},
		{"a\u017fk", 3, true}, {"a\u212ak", 3, true}, {"a\u00e9k", 2, false}, {"abc\xc5", 4, false},
	} {
		if got := hasSecretRun(tt.text, tt.n); got != tt.want {
			t.Errorf("hasSecretRun(%q, %d) = %v, want %v", tt.text, tt.n, got, tt.want)
		}
	}
	if testenv.Race {
		// Every expression over every data-set row: minutes under the
		// race detector, and nothing here runs concurrently. The full run
		// is in go test ./...
		t.Log("the data-set part skipped under -race")
		return
	}
	dir := testenv.Datasets(t)
	k := DefaultKeyRules()
	// The expressions the rules run: each whole, and the part after the
	// lead run of those that run anchored from it (unanchored here, so
	// that every match in a text is checked).
	type expr struct {
		id  string
		re  *regexp.Regexp
		run int
	}
	var exprs []expr
	for _, r := range k.rules {
		c := r.compiled()
		exprs = append(exprs, expr{r.d.id, c.re, c.run})
		if c.anchored != nil && r.d.lead != nil {
			exprs = append(exprs, expr{r.d.id + " (rest)", regexp.MustCompile(r.d.rest), c.anchoredRun})
		}
	}
	checked := 0
	for _, f := range []string{"gitleaks/rule_examples.jsonl", "detect-secrets/plugin_tests.jsonl", "llm-guard/secrets.jsonl"} {
		for _, row := range testenv.Rows(t, filepath.Join(dir, f)) {
			for _, e := range exprs {
				for _, m := range e.re.FindAllString(row.Text, -1) {
					checked++
					if !hasSecretRun(m, e.run) {
						t.Errorf("%s: match %q lacks the run of %d", e.id, m, e.run)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no match in the data sets")
	}
}

// withoutPrechecks returns a copy of k whose rules run their expressions
// without testing first for a run of secret characters (secretRun), for
// the literals every match holds (requiredLiterals) and for what each
// branch of an alternation needs (ruleBranches).
func withoutPrechecks(k *KeyRules) *KeyRules {
	off := *k
	off.rules = slices.Clone(k.rules)
	for i := range off.rules {
		compiled := off.rules[i].compiled
		off.rules[i].compiled = func() keyCompiled {
			c := compiled()
			c.run, c.anchoredRun = 0, 0
			c.lits, c.anchoredLits, c.branches = nil, nil, nil
			return c
		}
	}
	return &off
}

// TestKeyRulesRunCheck checks that the rules find the same with and
// without the test for a run of secret characters before each expression.
func TestKeyRulesRunCheck(t *testing.T) {
	k := DefaultKeyRules()
	off := withoutPrechecks(k)
	texts := denseTexts()
	if !testing.Short() && !testenv.Race {
		dir := testenv.Datasets(t)
		for _, f := range []string{"gitleaks/rule_examples.jsonl", "detect-secrets/plugin_tests.jsonl", "llm-guard/secrets.jsonl"} {
			for _, row := range testenv.Rows(t, filepath.Join(dir, f)) {
				texts = append(texts, row.Text)
			}
		}
		texts = append(texts, testenv.BenignPrompts(t)...)
	}
	runs := 0
	for _, r := range k.rules {
		if c := r.compiled(); c.run > 1 || c.anchoredRun > 1 {
			runs++
		}
	}
	if runs < len(k.rules)/2 {
		t.Errorf("%d of %d rules have a run to test", runs, len(k.rules))
	}
	for _, text := range texts {
		if got, want := k.Scan(text), off.Scan(text); !slices.Equal(got, want) {
			t.Errorf("%.60q: with the run test %+v, without %+v", text, got, want)
		}
	}
}

// TestKeyRulesLongestMatchAtEdge checks that a secret of a rule's longest
// length is found where no space follows it for a long way (minified JSON,
// a blob): its window ends a byte after it, not at its end, where the
// match was dropped as maybe cut short (FuzzKeyRules found it).
func TestKeyRulesLongestMatchAtEdge(t *testing.T) {
	blob := strings.Repeat("0", 200)
	for _, tt := range []struct{ text, typ string }{
		{"ABIA222222277CX7YZLO!" + blob, "aws_access_token"},
		{`{"id":"ABIA222222277CX7YZLO","v":"` + blob + `"}`, "aws_access_token"},
		{`{"k":"` + blob + `","id":"ABIA222222277CX7YZLO","v":"` + blob + `"}`, "aws_access_token"},
		// A stray continuation byte after the space that ends the match:
		// the run's end moved back over it to the space, where the match
		// seemed cut short (FuzzKeyRules found it).
		{"ABIA222222277CX7YZLO \x9b" + blob, "aws_access_token"},
	} {
		fs := ScanKeyRules(tt.text)
		if !slices.ContainsFunc(fs, func(f Finding) bool { return f.Type == tt.typ }) {
			t.Errorf("%.60q...: %+v, want a %s", tt.text, fs, tt.typ)
		}
	}
}

// FuzzKeyIndexFold checks keyIndexFold, which looks for the rarest byte
// of the word first, against strings.Index on the text in lower case.
func FuzzKeyIndexFold(f *testing.F) {
	for _, s := range [][2]string{{"How do I use Curl -U me", " -u"}, {"a KEY b", "key"}, {"x--user", "--user"},
		{"", "a"}, {"ab", "abc"}, {"\u212a", "k"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, s, w string) {
		w = asciiLower(w)
		if w == "" {
			return
		}
		if got, want := keyIndexFold(s, w), strings.Index(asciiLower(s), w); got != want {
			t.Fatalf("keyIndexFold(%q, %q) = %d, want %d", s, w, got, want)
		}
	})
}

// asciiLower returns s with its ASCII letters in lower case.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = keyLower(c)
	}
	return string(b)
}

// TestRequiredLiterals checks the literal sets worked out from a rule's
// expression: products of the parts that match a few strings, the
// literals of the others, without the sets a keyword implies.
func TestRequiredLiterals(t *testing.T) {
	ws := []string{"\t--user", "\t-u", "\n--user", "\n-u", "\r--user", "\r-u", " --user", " -u"}
	for _, tt := range []struct {
		src      string
		keywords []string
		want     [][]string
	}{
		{`\bcurl\b(?:.*|.*(?:[\r\n]{1,2}.*){1,5})[ \t\n\r](?:-u|--user)(?:=|[ \t]{0,5})(\S+)`, []string{"curl"}, [][]string{ws}},
		{`(?i)(?:token|secret)[=:]\s*([a-z0-9]{8,})`, []string{"token", "secret"}, [][]string{{"secret:", "secret=", "token:", "token="}}},
		{`(?i)(?:token|secret)[=:]\s*([a-z0-9]{8,})`, []string{"token"}, [][]string{{"secret:", "secret=", "token:", "token="}}},
		{`(?i)\b(AKIA[A-Z0-9]{16})\b`, []string{"akia"}, nil},
		{`(?i)\b(AKIA[A-Z0-9]{16})\b`, nil, [][]string{{"akia"}}},
		{`x[a-z]y`, nil, nil}, // a class of more than maxExact bytes: "x" and "y" apart, too short
		{`x[0-9]y`, nil, [][]string{{"x0y", "x1y", "x2y", "x3y", "x4y", "x5y", "x6y", "x7y", "x8y", "x9y"}}},
		{`ab[0-9]cd`, nil, [][]string{{"ab0cd", "ab1cd", "ab2cd", "ab3cd", "ab4cd", "ab5cd", "ab6cd", "ab7cd", "ab8cd", "ab9cd"}}},
		{`a|b`, nil, nil},
		{`(`, nil, nil},
	} {
		if got := requiredLiterals(tt.src, tt.keywords); !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("requiredLiterals(%q, %q) = %q, want %q", tt.src, tt.keywords, got, tt.want)
		}
	}
}

// TestHasLiterals checks the literal test of a text, case folding
// included: a case-insensitive expression matches "token" in "toKen"
// with a Kelvin sign, which the test must not rule out.
func TestHasLiterals(t *testing.T) {
	sets := [][]string{{"token", "secret"}, {"="}}
	for _, tt := range []struct {
		text string
		want bool
	}{
		{"TOKEN=x", true},
		{"my Secret = 1", true},
		{"token: x", false},
		{"tok en=x", false},
		{"to\u212aen=x", true},       // K, a Kelvin sign
		{"\u017fecret=x", true},      // ſ, a long s
		{"\u212a\u017f only", false}, // no "=": the second set rules it out
	} {
		if got := hasLiterals(tt.text, sets); got != tt.want {
			t.Errorf("hasLiterals(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
	re := regexp.MustCompile(`(?i)token=`)
	if !re.MatchString("to\u212aen=x") {
		t.Fatal("regexp no longer folds K to k: foldHides is not needed")
	}
}

// TestKeyRulesCurlProse checks the curl rules on prose that names curl:
// their expressions, which read up to 2 KB past each "curl", run only
// where " -u", " --user" or " -H", " --header" occur, and still find the
// credentials of a command line.
func TestKeyRulesCurlProse(t *testing.T) {
	k := DefaultKeyRules()
	for _, r := range k.rules {
		if strings.HasPrefix(r.d.id, "curl-") {
			if c := r.compiled(); len(c.anchoredLits)+len(c.lits) == 0 {
				t.Errorf("%s: no literals to test", r.d.id)
			}
		}
	}
	prose := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20)
	text := "How do I use curl to download a file? " + prose + " Is wget better than curl here?"
	if fs := k.Scan(text); len(fs) != 0 {
		t.Errorf("prose: %+v", fs)
	}
	for _, tt := range []struct{ text, typ string }{
		{prose + "\ncurl -u admin:Vx7Qp2Lm9Rt4 https://api.example.com/v1/items\n" + prose, "curl_auth_user"},
		{prose + "\ncurl --user 'deploy:Wq8Zn3Kc6Hb1' https://api.example.com/\n", "curl_auth_user"},
		{"curl -s https://api.example.com/v1 -H \"Authorization: Bearer Zk4Wq9Tn2Lp7Xr5M\"\n" + prose, "curl_auth_header"},
	} {
		fs := k.Scan(tt.text)
		if !slices.ContainsFunc(fs, func(f Finding) bool { return f.Type == tt.typ }) {
			t.Errorf("%.80q: %+v, want a %s", tt.text, fs, tt.typ)
		}
		if ref := withoutPrechecks(k).Scan(tt.text); !slices.Equal(fs, ref) {
			t.Errorf("%.80q: %+v, without the prechecks %+v", tt.text, fs, ref)
		}
	}
}

// TestInsideRune checks where a window edge may fall: inside a valid
// multi-byte rune it moves to the rune's edge, elsewhere (ASCII, invalid
// bytes, U+FFFD itself) it stays.
func TestInsideRune(t *testing.T) {
	for _, tt := range []struct {
		text       string
		i          int
		start, end int
		ok         bool
	}{
		{"aéb", 2, 1, 3, true},
		{"aéb", 1, 0, 0, false},
		{"aéb", 3, 0, 0, false},
		{"a€b", 3, 1, 4, true},
		{"a\U0001F600b", 4, 1, 5, true},
		{"a \x9bb", 2, 0, 0, false},
		{"a\xc3\x9b\x9bb", 3, 0, 0, false}, // after a whole Û, a stray byte
		{"a\ufffdb", 2, 1, 4, true},
	} {
		start, end, ok := insideRune(tt.text, tt.i)
		if ok != tt.ok || ok && (start != tt.start || end != tt.end) {
			t.Errorf("insideRune(%q, %d) = %d, %d, %v, want %d, %d, %v", tt.text, tt.i, start, end, ok, tt.start, tt.end, tt.ok)
		}
	}
}

// TestKeyRulesAssignGap checks the gate of gitleaks' semi-generic rules
// (secretRunAfterOp): the secret is looked for after the operator and at
// most 5 quotes, spaces or '=', not past a ';' or a letter; on
// assignments with every operator and gap, next to other assignments,
// Scan finds what each rule run over the whole text finds.
func TestKeyRulesAssignGap(t *testing.T) {
	k := DefaultKeyRules()
	// ſ and K after the keyword are word characters of the expressions
	// ((?i)\w matches them), which the gate used to stop at.
	ids := []string{"api_key", "token", "client_secret", "password", "heroku_api_key", "okta_token", "api_key\u017f", "token_\u212aey"}
	ops := []string{"=", ": ", ":=", "::=", ":::=", "=>", " => ", "?=", ",", "||", ">"}
	gaps := []string{"", " ", "\"", "'", "`", "  '", "=", "==", "\t\"", "     ", "      "}
	secrets := []string{"Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB", "c6f1a2b3d4e5f60718293a4b5c6d7e8f", "none", "changeme",
		"00abcdefghijklmnopqrstuvwxyz0123456789"}
	n := 0
	for i, id := range ids {
		for j, op := range ops {
			for l, gap := range gaps {
				secret := secrets[(i+j+l)%len(secrets)]
				for _, text := range []string{
					id + op + gap + secret + "\n",
					"key=value; " + id + op + gap + secret + "; token=null",
					id + op + gap + "x; other_key=" + secret + "\n",
				} {
					got, want := k.Scan(text), k.scanReference(text)
					if !slices.Equal(got, want) {
						t.Errorf("%q: Scan %+v, whole text %+v", text, got, want)
					}
					n += len(got)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no assignment found: the texts test nothing")
	}
}

// TestKeyRulesBranches checks the prechecks of the branches of a rule
// whose expression is an alternation, on atlassian-api-token: an
// assignment of a Jira token is found, and a question about Jira near a
// long identifier passes no branch (the semi-generic one wants its run
// of 24 right after an operator, the other "ATATT3" and 192), where the
// expression used to run over a 720-byte window at 260 ns a byte.
func TestKeyRulesBranches(t *testing.T) {
	k := DefaultKeyRules()
	var bs []keyBranch
	for _, r := range k.rules {
		if r.d.id == "atlassian-api-token" {
			bs = r.compiled().branches
		}
	}
	if len(bs) != 2 || bs[0].gapRun != 24 || bs[1].run < 190 {
		t.Fatalf("atlassian-api-token branches %+v, want a semi-generic one (gap run 24) and ATATT3's", bs)
	}
	prose := "Please open a Jira ticket for the migration of the reporting_service_configuration_loader module, " +
		"and list what the Confluence page says about it: owners, dates, risks."
	if branchesPass(prose, bs) {
		t.Errorf("%q passes a branch", prose)
	}
	for _, text := range []string{
		prose,
		`JIRA_API_TOKEN = "abcdefghij0123456789abcd"` + "\n",
		"jira_token: 0a1b2c3d4e5f6a7b8c9d0e1f\n" + prose,
		prose + "\nconfluence_key => '4abcdefghij0123456789abc'\n",
	} {
		got, want := k.Scan(text), withoutPrechecks(k).Scan(text)
		if !slices.Equal(got, want) {
			t.Errorf("%.60q: %+v, without the prechecks %+v", text, got, want)
		}
		if text != prose && !slices.ContainsFunc(got, func(f Finding) bool { return f.Type == "atlassian_api_token" }) {
			t.Errorf("%.60q: %+v, want an atlassian_api_token", text, got)
		}
	}
}
