// Command genkeyrules writes sanitize/keyrules_data.go: gitleaks' default
// rule set (MIT) as plain Go data for sanitize.ScanKeyRules.
//
// It loads gitleaks' embedded default configuration (config.DefaultConfig,
// the generated gitleaks.toml) through the same viper → Translate path that
// gitleaks' NewDetectorDefaultConfig uses, keeps the parts that apply to a
// text with no file path and no commit, and derives from each regular
// expression the facts the scanner's prefilter relies on (literal prefixes,
// an assignment-operator gate, an upper bound on the match length).
//
// Usage, from the bench module:
//
//	go run ./internal/genkeyrules -out ../sanitize/keyrules_data.go
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"regexp"
	"regexp/syntax"
	"runtime/debug"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
)

const modPath = "github.com/zricethezav/gitleaks/v8"

// assignOp is the part of gitleaks' semi-generic regexes (utils.
// GenerateSemiGenericRegex) that follows the identifier keyword: up to 20
// identifier bytes, up to 3 spaces or quotes, then an assignment operator.
var assignOp = regexp.MustCompile(regexp.QuoteMeta(`(?:[ \t\w.-]{0,20})[\s'"]{0,3}`) + `\)?` +
	regexp.QuoteMeta(`(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)`))

// maxPrefixes bounds the literal prefixes kept per rule.
const maxPrefixes = 32

func main() {
	out := flag.String("out", "", "output file (default: stdout)")
	flag.Parse()
	if err := run(*out); err != nil {
		log.Fatal(err)
	}
}

type prefix struct {
	lit  string
	fold uint64 // bit i: byte i matches either ASCII case
}

type allow struct {
	target    string // "secret", "match" or "line"
	and       bool
	regexes   []string
	stopwords []string
}

type rule struct {
	id, path    string
	regex       string
	keywords    []string
	secretGroup int
	entropy     float64
	prefixes    []prefix
	wordStart   bool
	assign      bool
	assignMin   int
	needs       []string
	maxLen      int
	// reach, when set, bounds a match around the keyword it starts its
	// keyword part with (see keywordReach).
	reach  bool
	before int
	after  []step
	// lead, when set, is the lazy run every match starts with, ahead of
	// its keyword part; rest is the expression without it.
	lead   *lead
	rest   string
	allows []allow
}

// lead is a leading C{0,max}? of a rule's expression: ranges are C's rune
// ranges, as syntax.Regexp.Rune holds them.
type lead struct {
	ranges []rune
	max    int
}

// step is one part of the bound on how far a match reaches after its
// keyword's start: n more bytes, or (class not nil) to the end of the run
// of bytes in class.
type step struct {
	n     int
	class *[4]uint64
}

func run(out string) error {
	viper.SetConfigType("toml")
	if err := viper.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return err
	}
	var vc config.ViperConfig
	if err := viper.Unmarshal(&vc); err != nil {
		return err
	}
	cfg, err := vc.Translate()
	if err != nil {
		return err
	}
	version := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == modPath {
				version = d.Version
			}
		}
	}

	var rules []rule
	var skipped []string
	for _, r := range cfg.Rules {
		if r.Regex == nil {
			skipped = append(skipped, r.RuleID+" (path only)")
			continue
		}
		if len(r.RequiredRules) > 0 || r.SkipReport {
			skipped = append(skipped, r.RuleID+" (composite)")
			continue
		}
		if len(r.Keywords) == 0 {
			// Every rule in the default set has keywords; one without would
			// have to run over every text.
			skipped = append(skipped, r.RuleID+" (no keywords)")
			continue
		}
		src := r.Regex.String()
		if _, err := regexp.Compile(src); err != nil {
			return fmt.Errorf("%s: %w", r.RuleID, err)
		}
		kr := rule{
			id:          r.RuleID,
			regex:       src,
			secretGroup: r.SecretGroup,
			entropy:     r.Entropy,
			assign:      assignOp.MatchString(src),
		}
		if r.Path != nil {
			kr.path = r.Path.String()
		}
		for _, k := range r.Keywords {
			kr.keywords = append(kr.keywords, strings.ToLower(k))
		}
		slices.Sort(kr.keywords)
		kr.keywords = slices.Compact(kr.keywords)
		re, err := syntax.Parse(src, syntax.Perl)
		if err != nil {
			return err
		}
		re = re.Simplify()
		kr.maxLen = maxLen(re)
		// The operator gate holds only when every match goes through the
		// semi-generic part: not when it is one branch of several.
		top := re
		for top.Op == syntax.OpCapture {
			top = top.Sub[0]
		}
		kr.assign = kr.assign && top.Op != syntax.OpAlternate
		if kr.assign {
			kr.assignMin = secretRun(re, kr.secretGroup)
		}
		kr.prefixes, kr.wordStart = startPrefixes(re, kr.keywords)
		kr.before, kr.after, kr.reach = keywordReach(re, kr.keywords)
		if len(kr.prefixes) == 0 {
			kr.lead, kr.rest = leadRun(src, kr.keywords)
		}
		kr.needs = needs(re)
		for _, a := range r.Allowlists {
			if ka, ok := convAllow(a); ok {
				kr.allows = append(kr.allows, ka)
			}
		}
		rules = append(rules, kr)
	}
	slices.SortFunc(rules, func(a, b rule) int { return strings.Compare(a.id, b.id) })
	slices.Sort(skipped)

	var global []allow
	for _, a := range cfg.Allowlists {
		if ka, ok := convAllow(a); ok {
			global = append(global, ka)
		}
	}

	src, err := render(version, rules, skipped, global)
	if err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(src)
		return err
	}
	log.Printf("%d rules, %d skipped: %s", len(rules), len(skipped), strings.Join(skipped, ", "))
	return os.WriteFile(out, src, 0o644)
}

// convAllow keeps what of an allowlist can apply to a text with no path and
// no commit: an OR list loses its path and commit checks; an AND list with
// a path or commit check can never hold and is dropped.
func convAllow(a *config.Allowlist) (allow, bool) {
	ka := allow{target: a.RegexTarget, and: a.MatchCondition == config.AllowlistMatchAnd}
	if ka.target == "" {
		ka.target = "secret"
	}
	if ka.and && (len(a.Paths) > 0 || len(a.Commits) > 0) {
		return allow{}, false
	}
	for _, re := range a.Regexes {
		ka.regexes = append(ka.regexes, re.String())
	}
	for _, w := range a.StopWords {
		ka.stopwords = append(ka.stopwords, strings.ToLower(w))
	}
	slices.Sort(ka.stopwords)
	ka.stopwords = slices.Compact(ka.stopwords)
	if len(ka.regexes) == 0 && len(ka.stopwords) == 0 {
		return allow{}, false
	}
	return ka, true
}

// maxLen returns an upper bound of the length in bytes of a match of re, or
// -1 when it is unbounded.
func maxLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpNoMatch, syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 {
				n += utf8.UTFMax // case folding reaches K (U+212A) and ſ (U+017F)
			} else {
				n += utf8.RuneLen(r)
			}
		}
		return n
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return 0
		}
		hi := re.Rune[len(re.Rune)-1]
		if hi > utf8.MaxRune {
			hi = utf8.MaxRune
		}
		return utf8.RuneLen(hi)
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return utf8.UTFMax
	case syntax.OpCapture, syntax.OpQuest:
		return maxLen(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		return -1
	case syntax.OpRepeat:
		n := maxLen(re.Sub[0])
		if re.Max < 0 || n < 0 {
			return -1
		}
		return re.Max * n
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			m := maxLen(s)
			if m < 0 {
				return -1
			}
			n += m
		}
		return n
	case syntax.OpAlternate:
		n := 0
		for _, s := range re.Sub {
			m := maxLen(s)
			if m < 0 {
				return -1
			}
			n = max(n, m)
		}
		return n
	}
	return -1
}

// secretRun returns the least length of the secret group when every byte
// it matches is in [A-Za-z0-9_.=+/~-] (ſ and K, which (?i) adds to ASCII
// letters, aside), or 0.
func secretRun(re *syntax.Regexp, group int) int {
	var caps []*syntax.Regexp
	var walk func(*syntax.Regexp)
	walk = func(r *syntax.Regexp) {
		if r.Op == syntax.OpCapture {
			caps = append(caps, r)
		}
		for _, s := range r.Sub {
			walk(s)
		}
	}
	walk(re)
	var g *syntax.Regexp
	switch {
	case group > 0 && group <= len(caps):
		g = caps[group-1]
	case group == 0 && len(caps) == 1:
		g = caps[0]
	default:
		return 0
	}
	if !inSecretClass(g) {
		return 0
	}
	return minLen(g)
}

func secretByte(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.=+/~-", r)
}

// inSecretClass reports whether every rune re can match is a secretByte.
func inSecretClass(re *syntax.Regexp) bool {
	ok := func(r rune) bool { return secretByte(r) || r == 0x17F || r == 0x212A }
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if !ok(r) {
				return false
			}
		}
	case syntax.OpCharClass:
		for i := 0; i < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if !ok(r) {
					return false
				}
				if r == 0x212A {
					break
				}
			}
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return false
	}
	for _, s := range re.Sub {
		if !inSecretClass(s) {
			return false
		}
	}
	return true
}

// needs returns lower-case ASCII strings that every match of re contains
// (compared ignoring ASCII case), at least 3 bytes long.
func needs(re *syntax.Regexp) []string {
	set := needSet(re)
	var out []string
	for w := range set {
		if len(w) >= 3 {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return out
}

func needSet(re *syntax.Regexp) map[string]bool {
	set := map[string]bool{}
	switch re.Op {
	case syntax.OpLiteral:
		var b strings.Builder
		for _, r := range re.Rune {
			if r >= utf8.RuneSelf {
				break
			}
			b.WriteRune(unicode.ToLower(r))
		}
		if b.Len() > 0 && b.Len() == len(re.Rune) {
			set[b.String()] = true
		}
	case syntax.OpCapture, syntax.OpPlus:
		return needSet(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min > 0 {
			return needSet(re.Sub[0])
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			for w := range needSet(s) {
				set[w] = true
			}
		}
	case syntax.OpAlternate:
		for i, s := range re.Sub {
			sub := needSet(s)
			if i == 0 {
				set = sub
				continue
			}
			for w := range set {
				if !sub[w] {
					delete(set, w)
				}
			}
		}
	}
	return set
}

// minLen returns the least length in bytes of a match of re.
func minLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpPlus:
		return minLen(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min * minLen(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			n += minLen(s)
		}
		return n
	case syntax.OpAlternate:
		n := -1
		for _, s := range re.Sub {
			if m := minLen(s); n < 0 || m < n {
				n = m
			}
		}
		return max(n, 0)
	}
	return 0
}

// keywordReach bounds where a match of re lies around a keyword: when re
// is a concatenation whose first part that starts with one of the
// keywords (every match of it does) is preceded by parts of at most
// before bytes in all, every match starts at most before bytes ahead of a
// keyword occurrence k, and ends at most where the steps lead from k's
// start: each later part adds its maximal length, or, unbounded, runs to
// the end of the run of the bytes it can match. ok is false when re has
// no such shape or a part can match any byte.
func keywordReach(re *syntax.Regexp, keywords []string) (before int, steps []step, ok bool) {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpConcat {
		return 0, nil, false
	}
	k := -1
	for i, sub := range re.Sub {
		var lits []string
		if ps, ok := prefixes(sub); ok {
			for _, p := range ps {
				lits = append(lits, p.lit)
			}
		}
		// The literal prefixes may stop short of a keyword ("passw" of
		// passw(?:or)?d); the strings themselves, if few, do not.
		if ws, ok := expand(sub, 512); startKeywords(lits, keywords) || ok && startKeywords(ws, keywords) {
			k = i
			break
		}
		n := maxLen(sub)
		if n < 0 {
			return 0, nil, false
		}
		before += n
	}
	if k < 0 {
		return 0, nil, false
	}
	for _, sub := range re.Sub[k:] {
		if n := maxLen(sub); n >= 0 {
			if len(steps) > 0 && steps[len(steps)-1].class == nil {
				steps[len(steps)-1].n += n
			} else {
				steps = append(steps, step{n: n})
			}
			continue
		}
		c, ok := byteClass(sub)
		if !ok {
			return 0, nil, false
		}
		steps = append(steps, step{class: c})
	}
	return before, steps, true
}

// leadRun returns, when the expression src is a concatenation whose
// first part is a lazy run C{0,max}? of a character class and whose second
// part starts with one of the keywords, that run and the rest of the
// expression. Every match then starts with at most max runes of C and
// then a keyword occurrence: run anchored at the occurrence, the rest
// finds the match's end, and the run back from it the match's start.
func leadRun(src string, keywords []string) (*lead, string) {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 3 {
		return nil, ""
	}
	l := re.Sub[0]
	if l.Op != syntax.OpRepeat || l.Min != 0 || l.Max < 1 || l.Flags&syntax.NonGreedy == 0 ||
		l.Sub[0].Op != syntax.OpCharClass {
		return nil, ""
	}
	if ws, ok := expand(re.Sub[1].Simplify(), 512); !ok || !startKeywords(ws, keywords) {
		return nil, ""
	}
	rest := *re
	rest.Sub = re.Sub[1:]
	if _, err := regexp.Compile(rest.String()); err != nil {
		return nil, ""
	}
	return &lead{ranges: slices.Clone(l.Sub[0].Rune), max: l.Max}, rest.String()
}

// startKeywords reports whether ws is not empty and each of its strings
// starts with one of the keywords, ignoring case.
func startKeywords(ws, keywords []string) bool {
	return len(ws) > 0 && !slices.ContainsFunc(ws, func(w string) bool {
		return !slices.ContainsFunc(keywords, func(k string) bool { return strings.HasPrefix(strings.ToLower(w), k) })
	})
}

// expand returns every string re matches, its case-folded letters in
// lower case, when they are at most limit ASCII strings; ok is false
// otherwise (a repetition, a large class).
func expand(re *syntax.Regexp, limit int) (ws []string, ok bool) {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpCapture:
		return expand(re.Sub[0], limit)
	case syntax.OpLiteral:
		// Case-folded letters in lower case only: the strings are
		// compared with the keywords ignoring case.
		var b strings.Builder
		for _, r := range re.Rune {
			if r >= utf8.RuneSelf {
				return nil, false
			}
			if re.Flags&syntax.FoldCase != 0 {
				r = unicode.ToLower(r)
			}
			b.WriteRune(r)
		}
		return []string{b.String()}, true
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if r >= utf8.RuneSelf || len(ws) == limit {
					return nil, false
				}
				ws = append(ws, string(r))
			}
		}
		return ws, true
	case syntax.OpQuest:
		sub, ok := expand(re.Sub[0], limit-1)
		return append([]string{""}, sub...), ok
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			sw, ok := expand(sub, limit-len(ws))
			if !ok {
				return nil, false
			}
			ws = append(ws, sw...)
		}
		return ws, true
	case syntax.OpConcat:
		ws = []string{""}
		for _, sub := range re.Sub {
			sw, ok := expand(sub, limit)
			if !ok || len(ws)*len(sw) > limit {
				return nil, false
			}
			var next []string
			for _, a := range ws {
				for _, b := range sw {
					next = append(next, a+b)
				}
			}
			ws = next
		}
		return ws, true
	}
	return nil, false
}

// byteClass returns the bytes that a match of re can hold; every byte >=
// 0x80 when re can match a rune outside ASCII (case folding adds K and ſ
// to k and s). ok is false when re can match any byte.
func byteClass(re *syntax.Regexp) (c *[4]uint64, ok bool) {
	c = new([4]uint64)
	high := func() {
		for b := 0x80; b < 0x100; b++ {
			c[b>>6] |= 1 << (b & 63)
		}
	}
	var add func(r rune, fold bool)
	add = func(r rune, fold bool) {
		if r >= utf8.RuneSelf {
			high()
			return
		}
		c[r>>6] |= 1 << (r & 63)
		if fold {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				add(f, false)
			}
		}
	}
	var walk func(*syntax.Regexp) bool
	walk = func(re *syntax.Regexp) bool {
		switch re.Op {
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			return false
		case syntax.OpLiteral:
			for _, r := range re.Rune {
				add(r, re.Flags&syntax.FoldCase != 0)
			}
		case syntax.OpCharClass:
			for i := 0; i+1 < len(re.Rune); i += 2 {
				for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
					if r >= utf8.RuneSelf {
						high()
						break
					}
					add(r, false)
				}
			}
		}
		for _, s := range re.Sub {
			if !walk(s) {
				return false
			}
		}
		return true
	}
	if !walk(re) {
		return nil, false
	}
	return c, true
}

// startPrefixes returns the literal ASCII strings every match of re starts
// with, and whether a \b precedes them, when each of them begins with one
// of the rule's keywords (so that the keyword hit is where the match
// starts). Otherwise it returns nil.
func startPrefixes(re *syntax.Regexp, keywords []string) ([]prefix, bool) {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	wordStart := false
	if re.Op == syntax.OpConcat && len(re.Sub) > 1 && re.Sub[0].Op == syntax.OpWordBoundary {
		wordStart = true
		sub := *re
		sub.Sub = re.Sub[1:]
		re = &sub
	}
	ps, ok := prefixes(re)
	if !ok || len(ps) == 0 {
		return nil, false
	}
	for _, p := range ps {
		if !slices.ContainsFunc(keywords, func(k string) bool { return strings.HasPrefix(strings.ToLower(p.lit), k) }) {
			return nil, false
		}
	}
	slices.SortFunc(ps, func(a, b prefix) int { return strings.Compare(a.lit, b.lit) })
	return ps, wordStart
}

// prefixes returns the literal ASCII prefixes of re: every match of re
// starts with one of them. ok is false when re can start otherwise.
func prefixes(re *syntax.Regexp) (ps []prefix, ok bool) {
	switch re.Op {
	case syntax.OpCapture:
		return prefixes(re.Sub[0])
	case syntax.OpLiteral:
		var p prefix
		for _, r := range re.Rune {
			if r >= utf8.RuneSelf || len(p.lit) == 64 {
				break
			}
			if re.Flags&syntax.FoldCase != 0 && (r|0x20) >= 'a' && (r|0x20) <= 'z' {
				p.fold |= 1 << len(p.lit)
			}
			p.lit += string(r)
		}
		if p.lit == "" {
			return nil, false
		}
		return []prefix{p}, true
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			sp, ok := prefixes(s)
			if !ok {
				return nil, false
			}
			ps = append(ps, sp...)
		}
		return ps, len(ps) <= maxPrefixes
	case syntax.OpConcat:
		head, ok := prefixes(re.Sub[0])
		if !ok {
			return nil, false
		}
		if len(re.Sub) == 1 {
			return head, true
		}
		// Extend a complete literal head with the prefixes of the rest.
		if re.Sub[0].Op != syntax.OpLiteral || len(head) != 1 || len(head[0].lit) != len(re.Sub[0].Rune) {
			return head, true
		}
		rest := *re
		rest.Sub = re.Sub[1:]
		tail, ok := prefixes(&rest)
		if !ok {
			return head, true
		}
		for _, t := range tail {
			if len(head[0].lit)+len(t.lit) > 64 {
				return head, true
			}
			ps = append(ps, prefix{lit: head[0].lit + t.lit, fold: head[0].fold | t.fold<<len(head[0].lit)})
		}
		return ps, len(ps) <= maxPrefixes
	}
	return nil, false
}

func render(version string, rules []rule, skipped []string, global []allow) ([]byte, error) {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("// Code generated by bench/internal/genkeyrules from gitleaks %s; DO NOT EDIT.\n\n", version)
	p("// The rules below are data taken from gitleaks' default configuration\n")
	p("// (%s %s, config/gitleaks.toml), which carries this notice:\n//\n", modPath, version)
	license := `MIT License

Copyright (c) 2019 Zachary Rice

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.`
	for _, l := range strings.Split(license, "\n") {
		p("//\t%s\n", l)
	}
	p("\npackage sanitize\n\n")
	p("// keyRulesVersion is the gitleaks version the rules come from.\n")
	p("const keyRulesVersion = %q\n\n", version)
	p("// keyRulesSkipped lists the gitleaks rules left out, with the reason.\n")
	p("var keyRulesSkipped = []string{\n")
	for _, s := range skipped {
		p("%q,\n", s)
	}
	p("}\n\n")
	p("// keyRulesGlobalAllow is gitleaks' global allowlist, less its path checks.\n")
	p("var keyRulesGlobalAllow = []keyAllowData{\n")
	for _, a := range global {
		renderAllow(p, a)
	}
	p("}\n\n")
	p("// keyRulesData is gitleaks' rule set, sorted by ID.\n")
	p("var keyRulesData = []keyRuleData{\n")
	for _, r := range rules {
		p("{\n")
		p("id: %q,\n", r.id)
		p("typ: %q,\n", strings.ReplaceAll(r.id, "-", "_"))
		p("regex: %s,\n", goString(r.regex))
		if r.path != "" {
			p("path: %s,\n", goString(r.path))
		}
		p("keywords: %#v,\n", r.keywords)
		if r.secretGroup != 0 {
			p("secretGroup: %d,\n", r.secretGroup)
		}
		if r.entropy != 0 {
			p("entropy: %v,\n", r.entropy)
		}
		if len(r.prefixes) > 0 {
			p("prefixes: []keyPrefix{")
			for _, x := range r.prefixes {
				p("{%q, %#x}, ", x.lit, x.fold)
			}
			p("},\n")
		}
		if r.wordStart {
			p("wordStart: true,\n")
		}
		if r.assign {
			p("assign: true,\n")
		}
		if r.assignMin > 0 {
			p("assignMin: %d,\n", r.assignMin)
		}
		if len(r.needs) > 0 {
			p("needs: %#v,\n", r.needs)
		}
		p("maxLen: %d,\n", r.maxLen)
		if r.reach {
			p("reach: true,\nbefore: %d,\nafter: []keyStep{", r.before)
			for _, st := range r.after {
				if st.class == nil {
					p("{n: %d}, ", st.n)
				} else {
					p("{class: &[4]uint64{%#x, %#x, %#x, %#x}}, ", st.class[0], st.class[1], st.class[2], st.class[3])
				}
			}
			p("},\n")
		}
		if r.lead != nil {
			p("lead: &keyLead{max: %d, ranges: %#v},\n", r.lead.max, r.lead.ranges)
			p("rest: %s,\n", goString(r.rest))
		}
		if len(r.allows) > 0 {
			p("allow: []keyAllowData{\n")
			for _, a := range r.allows {
				renderAllow(p, a)
			}
			p("},\n")
		}
		p("},\n")
	}
	p("}\n")
	return format.Source(b.Bytes())
}

func renderAllow(p func(string, ...any), a allow) {
	p("{\ntarget: %q,\n", a.target)
	if a.and {
		p("and: true,\n")
	}
	if len(a.regexes) > 0 {
		p("regexes: []string{\n")
		for _, r := range a.regexes {
			p("%s,\n", goString(r))
		}
		p("},\n")
	}
	if len(a.stopwords) > 0 {
		p("stopwords: []string{")
		for i, w := range a.stopwords {
			if i%8 == 0 {
				p("\n")
			}
			p("%q, ", w)
		}
		p("\n},\n")
	}
	p("},\n")
}

// goString quotes s as a raw string literal when it can, for readable
// regular expressions.
func goString(s string) string {
	if !strings.Contains(s, "`") && utf8.ValidString(s) && !strings.ContainsAny(s, "\r\x00") {
		return "`" + s + "`"
	}
	return fmt.Sprintf("%q", s)
}
