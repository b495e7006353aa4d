package sanitize

import (
	"iter"
	"math"
	"math/bits"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

//go:generate sh -c "cd ../bench && go run ./internal/genkeyrules -out ../sanitize/keyrules_data.go"

// gitleaks' rule set is taken as data (keyrules_data.go, generated from
// gitleaks' MIT-licensed default configuration through its Go module by
// bench/internal/genkeyrules) rather than rewritten by hand: its 221
// content rules cover services our hand-written [ScanSecrets] rules do not,
// and regenerating keeps them in step with gitleaks. Only the data comes
// from gitleaks; the engine is ours. gitleaks runs every rule whose keyword
// occurs anywhere in a file over the whole file; here one Aho–Corasick pass
// finds the keywords, cheap gates derived from each regular expression
// (a literal prefix at the hit, an assignment operator after it) discard
// most hits, and a rule's regular expression runs only around the hits
// that pass. Where every match starts at a hit (a literal prefix; or
// gitleaks' semi-generic form, a lazy run of identifier bytes and then a
// keyword, whose start is found by walking the run back) it runs anchored
// at the hit, and stops as soon as the text cannot match; otherwise over a
// window bounded by the rule's reach around its keyword (derived from the
// expression by the generator), each byte at most once per rule. The
// findings equal those of each rule over the whole text (tested on the
// data sets and fuzzed), but for matches longer than a window.

// keyRuleData is one gitleaks rule as generated data.
type keyRuleData struct {
	id          string // gitleaks rule ID
	typ         string // Finding.Type: id with '-' turned into '_'
	regex       string // Go regexp syntax
	path        string // gitleaks' file-path condition, not applied to text
	keywords    []string
	secretGroup int     // capture group holding the secret; 0: the first non-empty
	entropy     float64 // minimum Shannon entropy of the secret (exclusive); 0: none
	// prefixes, when set, are literal strings every match starts with, each
	// beginning with one of the keywords: the match starts at the hit.
	prefixes  []keyPrefix
	wordStart bool // a \b precedes the prefixes
	// assign marks gitleaks' semi-generic rules: the keyword is followed by
	// at most 20 identifier bytes, 3 spaces or quotes and an assignment
	// operator.
	assign bool
	// assignMin, when set, is the least length of the secret, which follows
	// the operator within 8 bytes as a run of [A-Za-z0-9_.=+/~-].
	assignMin int
	// needs are lower-case strings every match contains, ignoring case: a
	// window without them is not searched.
	needs  []string
	maxLen int // upper bound of a match's length in bytes; -1: unbounded
	// reach, when set, bounds a match around a keyword occurrence k that
	// starts its keyword part: it starts at most before bytes ahead of k
	// and ends where the steps lead from k's start.
	reach  bool
	before int
	after  []keyStep
	// lead, when set, is the lazy run C{0,max}? every match starts with
	// ahead of its keyword part, and rest the expression without it.
	lead  *keyLead
	rest  string
	allow []keyAllowData
}

// keyLead is a lazy run of a character class, its rune ranges as
// regexp/syntax holds them (pairs lo, hi), up to max runes.
type keyLead struct {
	max    int
	ranges []rune
}

// has reports whether r is in the class.
func (l *keyLead) has(r rune) bool {
	for i := 0; i+1 < len(l.ranges); i += 2 {
		if l.ranges[i] <= r && r <= l.ranges[i+1] {
			return true
		}
	}
	return false
}

// keyStep is a step of keyRuleData.after: n more bytes, or (class not
// nil) on to the end of the run of the bytes in class.
type keyStep struct {
	n     int
	class *[4]uint64
}

// keyPrefix is a literal prefix; bit i of fold means byte i matches in
// either ASCII case.
type keyPrefix struct {
	lit  string
	fold uint64
}

// keyAllowData is a gitleaks allowlist, less its path and commit checks.
type keyAllowData struct {
	target    string // what regexes test: "secret", "match" or "line"
	and       bool   // all checks must hold (default: any)
	regexes   []string
	stopwords []string // lower case; tested against the secret
}

// Window bounds, in bytes, for rules whose matches have no bound.
const (
	keyWindowBefore = 1024
	keyWindowAfter  = 4096
	keySnap         = 128 // how far a window edge moves to reach a space
	keyLineMax      = 4096
)

// KeyRules is gitleaks' default rule set compiled for [KeyRules.Scan]: one
// Aho–Corasick automaton over all the rules' keywords, and per rule a
// regular expression compiled on first use. It is immutable and safe for
// concurrent use; [DefaultKeyRules] returns the one instance most callers
// want, and [ScanKeyRules] scans with it.
type KeyRules struct {
	cls      [256]uint8 // byte → class; ASCII letters in either case share one
	nc       int        // number of classes
	next     []int32    // next[s*nc+class] = t*nc: the dense automaton
	outStart int32      // states >= outStart/nc end at least one keyword
	// shallow: states < shallow/nc are the root and the states one byte
	// deep; in them the automaton may stop (see keyState.at).
	shallow int32
	// tri, long and pairs filter the positions where a keyword may
	// start (see buildFilter): tri by keyTriHash of the next three
	// bytes, then long, a bit set, by keyLongHash of the next three to
	// eight, or pairs by the next two.
	tri   *[1 << keyTriBits]uint8
	long  *[1 << keyTriBits / 64]uint64
	pairs *bytePairs // how the two-byte keywords may start
	// vec is the vector filter (see keyvec.go), nil when every position
	// passes; filter says which kernel runs before tri and long.
	vec    *keyVecTables
	filter keyFilterKind
	out    [][]int32 // out[s-outStart/nc]: keyword indexes ending at s
	kws    []keyKeyword
	rules  []keyRule
	global func() []keyAllow
}

type keyKeyword struct {
	n     int
	rules []int32
}

type keyRule struct {
	d              *keyRuleData
	before, after  int
	compiled       func() keyCompiled
	prefixKeywords bool // prefixes set: the window starts at the hit
	// anchored: every match starts at a hit that passes the gate, where
	// the regular expression is run anchored (keyState.anchoredHit)
	// instead of over a window.
	anchored bool
	// gapped: the rule is one of gitleaks' semi-generic ones, whose
	// secret follows the assignment operator after at most 5 quotes,
	// spaces or '=' (assignGap): the gate looks for it there only.
	gapped bool
}

// assignGap is the operator and the gap that follow the identifier in
// gitleaks' semi-generic expressions (utils.GenerateSemiGenericRegex),
// before the secret's group opens.
const assignGap = `(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}(`

type keyCompiled struct {
	re *regexp.Regexp
	// anchored is re anchored at the start of its input, for the rules
	// that are anchored.
	anchored *regexp.Regexp
	allow    []keyAllow
	// run and anchoredRun are the least run of secret characters that
	// every match of re and of anchored holds (see secretRun): a text
	// without one is not searched.
	run, anchoredRun int
	// lits and anchoredLits are sets of literals, one of each of which
	// every match of re and of anchored holds (see requiredLiterals): a
	// text without one of a set is not searched.
	lits, anchoredLits [][]string
	// branches are the prechecks of each branch of re when it is an
	// alternation (see ruleBranches): a window where none passes is not
	// searched.
	branches []keyBranch
}

// keyBranch is what a window must hold for a branch of a rule's
// expression to match in it: a run of run secret characters, one literal
// of each of lits and, when the branch is one of gitleaks' semi-generic
// assignments, a run of gapRun secret characters right after an
// operator (see secretRunAfterOp).
type keyBranch struct {
	run, gapRun int
	lits        [][]string
}

// ruleBranches returns the prechecks of the branches of the expression
// src when it is an alternation, or nil.
func ruleBranches(src string, keywords []string) []keyBranch {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil
	}
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpAlternate {
		return nil
	}
	var out []keyBranch
	for _, b := range re.Sub {
		out = append(out, keyBranch{run: runsOf(b).best, gapRun: gapRun(b), lits: requiredLiterals(b.String(), keywords)})
	}
	return out
}

// gapRun returns the least run of secret characters that every match of
// the branch re holds right after an assignment operator and gap of
// gitleaks' semi-generic expressions (assignGap), or 0 when re has none.
func gapRun(re *syntax.Regexp) int {
	if re.Op != syntax.OpConcat {
		return 0
	}
	op, gap := assignGapParts()
	if op == "" {
		return 0
	}
	for i := 0; i+2 < len(re.Sub); i++ {
		if re.Sub[i].String() == op && re.Sub[i+1].String() == gap { // as printed: the case flag does not show on bytes without case
			return runsOf(&syntax.Regexp{Op: syntax.OpConcat, Sub: re.Sub[i+2:]}).pre
		}
	}
	return 0
}

// assignGapParts returns assignGap's operator and gap as regexp/syntax
// prints them ("" if assignGap were not an operator and a gap:
// TestKeyRulesBranches fails).
var assignGapParts = sync.OnceValues(func() (op, gap string) {
	re, err := syntax.Parse(strings.TrimSuffix(assignGap, "("), syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) != 2 {
		return "", ""
	}
	return re.Sub[0].String(), re.Sub[1].String()
})

// branchesPass reports whether a branch of bs may match in text: when bs
// is empty, or one of its branches passes its prechecks.
func branchesPass(text string, bs []keyBranch) bool {
	if len(bs) == 0 {
		return true
	}
	for i := range bs {
		b := &bs[i]
		if hasSecretRun(text, b.run) && hasLiterals(text, b.lits) && (b.gapRun <= 1 || hasGapSecret(text, b.gapRun)) {
			return true
		}
	}
	return false
}

// hasGapSecret reports whether text holds an assignment operator
// followed, after the rest of the operator and a gap, by a run of n
// secret characters (see secretRunAfterOp).
func hasGapSecret(text string, n int) bool {
	for j := 0; j < len(text); j++ {
		switch text[j] {
		case '=', '>', ':', '|', '?', ',':
			if secretRunAfterOp(text, j+1, n) {
				return true
			}
		}
	}
	return false
}

type keyAllow struct {
	target  string
	and     bool
	regexes []allowRegex
	stop    map[[2]byte][]string // stop words by their first two bytes
	stop2   *bytePairs           // the first two bytes of the stop words
	nstop   int
}

var defaultKeyRules = sync.OnceValue(func() *KeyRules { return newKeyRules(keyRulesData, keyRulesGlobalAllow) })

// DefaultKeyRules returns gitleaks' default rule set (the version in
// [KeyRulesVersion]), built on first use.
func DefaultKeyRules() *KeyRules { return defaultKeyRules() }

// KeyRulesVersion is the gitleaks version whose default rules
// [DefaultKeyRules] holds.
const KeyRulesVersion = keyRulesVersion

// ScanKeyRules reports the secrets that gitleaks' default rules find in
// text; it is shorthand for DefaultKeyRules().Scan(text).
func ScanKeyRules(text string) []Finding { return DefaultKeyRules().Scan(text) }

func newKeyRules(data []keyRuleData, global []keyAllowData) *KeyRules {
	k := &KeyRules{nc: 1}
	byKeyword := map[string][]int32{}
	var keywords []string
	for i := range data {
		d := &data[i]
		r := keyRule{d: d, prefixKeywords: len(d.prefixes) > 0, gapped: d.assign && strings.Contains(d.regex, assignGap)}
		r.before, r.after = keyWindowBefore, keyWindowAfter
		if d.maxLen >= 0 {
			// One byte more than a match's length: a match of the longest
			// length then ends before the window does, and its \b or $ sees
			// the byte after it. At maxLen, such a match ended at the
			// window's edge and, with no space near to make that edge safe
			// (minified JSON, a base64 blob), was dropped as maybe cut short.
			r.before, r.after = min(d.maxLen+1, keyWindowBefore), min(d.maxLen+1, keyWindowAfter)
		}
		// Every match of a rule with literal prefixes starts with one of
		// them at a hit. Run anchored there, the regular expression stops
		// as soon as the text cannot match, where over a window it would
		// try every position of the window. The rule's leading \b is the
		// gate's wordBoundaryAt, but only when the prefixes start with a
		// word byte: anchored, the expression sees no byte before the hit.
		r.anchored = r.prefixKeywords && (!d.wordStart || !slices.ContainsFunc(d.prefixes, func(p keyPrefix) bool {
			return !keyWordByte(p.lit[0])
		}))
		// A rule whose matches start with a lazy run and then a keyword
		// (gitleaks' semi-generic rules) runs the rest of its expression
		// anchored at each hit, and finds the match's start by walking
		// the run back: no search over a window.
		src := d.regex
		switch {
		case r.anchored:
		case d.lead != nil:
			r.anchored, src = true, d.rest
		}
		anchored := r.anchored
		lower := make([]string, len(d.keywords))
		for i, kw := range d.keywords {
			lower[i] = strings.ToLower(kw)
		}
		r.compiled = sync.OnceValue(func() keyCompiled {
			c := keyCompiled{re: regexp.MustCompile(d.regex), allow: compileAllows(d.allow),
				run: secretRun(d.regex), lits: slices.DeleteFunc(requiredLiterals(d.regex, lower), func(set []string) bool {
					return len(set) == 1 && slices.Contains(d.needs, set[0]) // tested before
				}), branches: ruleBranches(d.regex, lower)}
			if anchored {
				c.anchored = regexp.MustCompile(`^(?:` + src + `)`)
				c.anchoredRun, c.anchoredLits = secretRun(src), requiredLiterals(src, lower)
			}
			return c
		})
		k.rules = append(k.rules, r)
		for _, kw := range d.keywords {
			if byKeyword[kw] == nil {
				keywords = append(keywords, kw)
			}
			byKeyword[kw] = append(byKeyword[kw], int32(i))
		}
	}
	k.global = sync.OnceValue(func() []keyAllow { return compileAllows(global) })

	// Byte classes: one per byte that occurs in a keyword, ASCII letters
	// folded; class 0 is every other byte.
	for _, kw := range keywords {
		for i := 0; i < len(kw); i++ {
			c := keyLower(kw[i])
			if k.cls[c] == 0 {
				k.cls[c] = uint8(k.nc)
				k.nc++
			}
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		k.cls[c] = k.cls[c+'a'-'A']
	}

	// The trie; state 0 is the root.
	next := make([]int32, k.nc)
	out := [][]int32{nil}
	depth := []int{0}
	for _, kw := range keywords {
		s := int32(0)
		for i := 0; i < len(kw); i++ {
			c := int32(k.cls[kw[i]])
			t := next[s*int32(k.nc)+c]
			if t == 0 {
				t = int32(len(out))
				out = append(out, nil)
				depth = append(depth, i+1)
				next = append(next, make([]int32, k.nc)...)
				next[s*int32(k.nc)+c] = t
			}
			s = t
		}
		out[s] = append(out[s], int32(len(k.kws)))
		k.kws = append(k.kws, keyKeyword{n: len(kw), rules: byKeyword[kw]})
	}

	// Failure links, breadth first; missing transitions take the failure
	// state's.
	nc := int32(k.nc)
	fail := make([]int32, len(out))
	var queue []int32
	for c := int32(1); c < nc; c++ {
		if t := next[c]; t != 0 {
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		out[s] = append(out[s], out[fail[s]]...)
		for c := range nc {
			t, f := next[s*nc+c], next[fail[s]*nc+c]
			if t == 0 {
				next[s*nc+c] = f
				continue
			}
			fail[t] = f
			queue = append(queue, t)
		}
	}

	// Number the root and the states one byte deep first and the states
	// that end a keyword last, so that the scan loop needs one comparison
	// per byte to tell either.
	perm := make([]int32, len(out))
	n := int32(0)
	for pass := range 3 {
		for s := range out {
			isOut, isShallow := len(out[s]) > 0, depth[s] <= 1
			if pass == 0 && !isOut && isShallow || pass == 1 && !isOut && !isShallow || pass == 2 && isOut {
				perm[s] = n
				n++
			}
		}
		if pass == 0 {
			k.shallow = n
		} else if pass == 1 {
			k.outStart = n
		}
	}
	k.next = make([]int32, len(next))
	k.out = make([][]int32, len(out)-int(k.outStart))
	for s := range out {
		copy(k.next[perm[s]*nc:(perm[s]+1)*nc], next[int32(s)*nc:(int32(s)+1)*nc])
		if perm[s] >= k.outStart {
			k.out[perm[s]-k.outStart] = out[s]
		}
	}
	// Store states premultiplied by nc: the scan loop then adds the class
	// and loads, without a multiplication on its critical path.
	for i, t := range k.next {
		k.next[i] = perm[t] * nc
	}
	k.outStart *= nc
	k.shallow *= nc

	wordStart := func(kw string) bool {
		// The rules of kw all need a literal prefix at a word start.
		for _, ri := range byKeyword[kw] {
			if d := &data[ri]; len(d.prefixes) == 0 || !d.wordStart {
				return false
			}
		}
		return true
	}
	// pairs: the first two bytes with which a hit of the two-byte keyword
	// kw can pass its rules' gates: where every rule of kw needs a literal
	// prefix at the hit, those of the prefixes (a letter in either case
	// where the prefix says); else those of kw in either case.
	pairs := func(kw string) [][2]byte {
		var ps [][2]byte
		for _, ri := range byKeyword[kw] {
			d := &data[ri]
			if len(d.prefixes) == 0 {
				return keyCases(keyPrefix{lit: kw, fold: 3})
			}
			for _, p := range d.prefixes {
				if len(p.lit) < 2 {
					return keyCases(keyPrefix{lit: kw, fold: 3})
				}
				ps = append(ps, keyCases(p)...)
			}
		}
		return ps
	}
	k.buildFilter(keywords, wordStart, pairs)
	k.vec = newKeyVecTables(&k.cls, keywords, wordStart)
	// With AVX2 alone the scalar filter runs: no nibble filter of the 244
	// keyword starts is selective enough (see nibble.go), and reading tri
	// with gathers, 8 positions at a time, was 7 % faster in all on Zen 3
	// but 15 % slower on Zen 1, where a gather costs about 20 cycles, as
	// on Intel processors with the Gather Data Sampling microcode.
	if k.vec != nil && haveVBMI() { // nil: every position passes, nothing to filter
		k.filter = keyFilterWide
	}
	return k
}

// buildFilter fills tri, long and pairs. tri holds, under the hash of
// the three bytes at a position, what the keywords flagged under that
// hash need next to pass: a bit per length (keyTriLen3 for a keyword of
// three bytes, up to keyTriLen3<<5 for one of keyLongMax or more) for the
// keywords long holds the prefix of, at most keyLongMax bytes of it;
// keyTriPair for a two-byte keyword, whose first two bytes as its rules'
// gates may pass them (pairs(kw)) pairs holds; and keyTriPairNext for a
// two-byte keyword whose rules all need a word start (wordStart(kw)),
// flagged at the non-word byte before it. So a word that starts a keyword
// is turned down after up to eight bytes ("faster" is not "fastly",
// "interest" not "intercom"), "task" does not start Twilio's "SK" keys,
// and the positions whose three bytes only hash as a keyword's do are
// turned down too.
func (k *KeyRules) buildFilter(keywords []string, wordStart func(string) bool, pairs func(string) [][2]byte) {
	k.tri = new([1 << keyTriBits]uint8)
	k.long = new([1 << keyTriBits / 64]uint64)
	k.pairs = new(bytePairs)
	all := !keyStarts(keywords, wordStart, func(a, b, c byte, kw string) {
		h := keyTriHash(keyTriKey(a, b, c))
		switch {
		case len(kw) == 2:
			for _, p := range pairs(kw) {
				k.pairs.add(p[0], p[1])
			}
			if wordStart(kw) {
				k.tri[h] |= keyTriPairNext
			} else {
				k.tri[h] |= keyTriPair
			}
		default:
			n := uint8(min(len(kw), keyLongMax))
			k.tri[h] |= keyTriLen3 << (n - 3)
			h := keyLongHash(keyLongPrefix(kw, 0, n))
			k.long[h>>6] |= 1 << (h & 63)
		}
	})
	if all {
		// A one-byte keyword: no skipping, and the automaton never
		// stops (see keyState.at).
		for j := range k.tri {
			k.tri[j] = keyTriPair
		}
		for j := range k.pairs {
			k.pairs[j] = ^uint64(0)
		}
		k.shallow = 0
	}
}

// keyStarts calls f with the three bytes at which each keyword's start is
// flagged, as buildFilter describes: its first three; for a two-byte
// keyword whose rules need a word start, every non-word byte and then the
// keyword; for another two-byte keyword, the keyword and then every byte.
// It reports false, and stops, at a keyword of one byte, which may start
// anywhere. The scalar and the vector filters are both built from it.
func keyStarts(keywords []string, wordStart func(string) bool, f func(a, b, c byte, kw string)) bool {
	for _, kw := range keywords {
		switch {
		case len(kw) < 2:
			return false
		case len(kw) == 2 && wordStart(kw):
			for c := range 256 {
				if !keyWordByte(byte(c)) {
					f(byte(c), kw[0], kw[1], kw)
				}
			}
		case len(kw) == 2:
			for c := range 256 {
				f(kw[0], kw[1], byte(c), kw)
			}
		default:
			f(kw[0], kw[1], kw[2], kw)
		}
	}
	return true
}

// keyTriBits is the number of bits of keyTriHash and keyLongHash: tri
// has 32 KiB and long 4 KiB; tri is read at every position and stays in
// the processor's first-level cache. With a few hundred keywords, a few
// percent of the positions in English text pass tri, most of them at the
// start of an English word that starts a keyword too ("mail", "int",
// "pri"); long drops most of those.
const keyTriBits = 15

// Bits of [KeyRules.tri] (see buildFilter).
const (
	keyTriLen3     = 1 << iota // a keyword of three bytes; the next five bits, of four to keyLongMax
	keyTriPair     = 1 << 6    // a two-byte keyword
	keyTriPairNext = 1 << 7    // a two-byte keyword at the next position, after a non-word byte
	keyTriLens     = keyTriPair - 1
	keyLongMax     = 8 // the longest prefix long holds
)

// keyTriKey is the form keyTriHash sees of the bytes a, b, c.
func keyTriKey(a, b, c byte) uint64 {
	return (uint64(a) | uint64(b)<<8 | uint64(c)<<16) | keyFold
}

// keyTriHash hashes the low three bytes of x, which skip has ASCII case
// folded (and more: bit 5 set in each), into [0, 1<<keyTriBits); the
// higher bytes do not count. The hash is linear, without a
// multiplication: the bit mixing of keyTriMix is done once for eight
// positions, and position k's hash is keyTriMix(x)>>(8*k) masked.
func keyTriHash(x uint64) uint64 { return keyTriMix(x) & (1<<keyTriBits - 1) }

// keyTriMix mixes each byte of x with the next two; bits 8k to 8k+14 of
// the result depend on bytes k to k+2 of x only (bits 8k to 8k+21).
func keyTriMix(x uint64) uint64 { return x ^ x>>2 ^ x>>7 }

// keyLongHash hashes x, a prefix made by keyLongPrefix, into [0,
// 1<<keyTriBits).
func keyLongHash(x uint64) uint64 { return x * 0xc2b2ae3d27d4eb4f >> (64 - keyTriBits) }

// keyLongPrefix returns the n bytes (1 to 8) of s at p, folded as for
// keyTriHash, little-endian, or 0 when s has fewer than n bytes from p.
// The higher bytes are zero; as a folded byte never is, prefixes of
// different lengths differ.
func keyLongPrefix(s string, p int, n uint8) uint64 {
	var x uint64
	switch {
	case p+8 <= len(s):
		x = le64(s, p) | keyFold
	case p+int(n) <= len(s):
		for j := int(n) - 1; j >= 0; j-- {
			x = x<<8 | uint64(s[p+j]) | 0x20
		}
	default:
		return 0
	}
	if n < 8 {
		x &= 1<<(8*n) - 1
	}
	return x
}

// keyFold sets bit 5 of every byte, which lower-cases ASCII letters.
const keyFold = 0x2020202020202020

// le64 loads the eight bytes of s at p, little-endian.
func le64(s string, p int) uint64 {
	b := s[p : p+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// skip returns the first position from p where the filter says a
// keyword may start at it or at the next position (see mayStart), or
// len(text). Eight positions are tested per step, independently of each
// other, so that the processor overlaps the tests.
func (k *KeyRules) skip(text string, p int) int {
	tri := k.tri
	if p == 0 {
		if k.mayStart(text, 0) {
			return 0
		}
		p = 1
	}
	for p+10 <= len(text) {
		x := le64(text, p) | keyFold
		z := x>>48 | (uint64(text[p+8])|uint64(text[p+9])<<8|0x2020)<<16
		const m = 1<<keyTriBits - 1
		h, hz := keyTriMix(x), keyTriMix(z)
		v0, v1, v2, v3 := tri[h&m], tri[h>>8&m], tri[h>>16&m], tri[h>>24&m]
		v4, v5, v6, v7 := tri[h>>32&m], tri[h>>40&m], tri[hz&m], tri[hz>>8&m]
		if v0|v1|v2|v3|v4|v5|v6|v7 == 0 {
			p += 8
			continue
		}
		switch {
		case k.pass(text, p, v0):
		case k.pass(text, p+1, v1):
			p++
		case k.pass(text, p+2, v2):
			p += 2
		case k.pass(text, p+3, v3):
			p += 3
		case k.pass(text, p+4, v4):
			p += 4
		case k.pass(text, p+5, v5):
			p += 5
		case k.pass(text, p+6, v6):
			p += 6
		case v7 != 0 && k.mayStart(text, p+7): // p+10 may be len(text)
			p += 7
		default:
			p += 8
			continue
		}
		return p
	}
	for ; p < len(text); p++ {
		if k.mayStart(text, p) {
			return p
		}
	}
	return p
}

// pass reports whether position p, whose tri value is v, passes the
// filter; p+3 < len(text).
func (k *KeyRules) pass(text string, p int, v uint8) bool {
	return v != 0 && k.passNext(text, p, v)
}

// passNext is pass at a position whose tri value v is not zero: the test
// of long or pairs that v calls for.
func (k *KeyRules) passNext(text string, p int, v uint8) bool {
	if v&keyTriPair != 0 && k.pairs.has(text[p], text[p+1]) ||
		v&keyTriPairNext != 0 && !keyWordByte(text[p]) && k.pairs.has(text[p+1], text[p+2]) {
		return true
	}
	// The next eight bytes, folded, when there are eight: loaded once for
	// every length v asks for (keyLongPrefix per length measured 5 %
	// slower on the benign prompts).
	var x uint64
	if p+8 <= len(text) {
		x = le64(text, p) | keyFold
	}
	for l := v & keyTriLens; l != 0; l &= l - 1 {
		n := uint8(bits.TrailingZeros8(l)) + 3
		y := x & (^uint64(0) >> (64 - 8*n))
		if x == 0 {
			y = keyLongPrefix(text, p, n)
		}
		if h := keyLongHash(y); y != 0 && k.long[h>>6]&(1<<(h&63)) != 0 {
			return true
		}
	}
	return false
}

// mayStart reports whether the filter lets a keyword start at p, or at p+1
// for the two-byte keywords that need a word start; the last three
// positions always pass. At 0, where no byte comes before a keyword, a
// two-byte keyword passes whatever its rules need before it.
func (k *KeyRules) mayStart(text string, p int) bool {
	if p+3 >= len(text) {
		return true
	}
	return k.pass(text, p, k.tri[keyTriHash(keyTriKey(text[p], text[p+1], text[p+2]))]) ||
		p == 0 && k.pairs.has(text[0], text[1])
}

func compileAllows(data []keyAllowData) []keyAllow {
	var as []keyAllow
	for _, d := range data {
		a := keyAllow{target: d.target, and: d.and, nstop: len(d.stopwords)}
		for _, re := range d.regexes {
			a.regexes = append(a.regexes, compileAllowRegex(re))
		}
		if len(d.stopwords) > 0 {
			a.stop = map[[2]byte][]string{}
			a.stop2 = new(bytePairs)
			for _, w := range d.stopwords {
				if len(w) >= 2 {
					key := [2]byte{w[0], w[1]}
					a.stop[key] = append(a.stop[key], w)
					a.stop2.add(w[0], w[1])
				}
			}
		}
		as = append(as, a)
	}
	return as
}

// bytePairs is a set of pairs of bytes, as bits.
type bytePairs [1 << 16 / 64]uint64

func (t *bytePairs) add(a, b byte) {
	p := uint16(a)<<8 | uint16(b)
	t[p>>6] |= 1 << (p & 63)
}

func (t *bytePairs) has(a, b byte) bool {
	p := uint16(a)<<8 | uint16(b)
	return t[p>>6]&(1<<(p&63)) != 0
}

// Rules returns the gitleaks IDs of the rules, sorted.
func (k *KeyRules) Rules() []string {
	ids := make([]string, len(k.rules))
	for i, r := range k.rules {
		ids[i] = r.d.id
	}
	return ids
}

// keyPending is a rule's pending window [a, b) in one Scan, and whether its
// edges are safe: text edges or just after a space.
type keyPending struct {
	rule         int
	a, b         int
	safeA, safeB bool
	last         int  // for an anchored rule, the end of its last match
	read         int  // bytes the anchored runs read
	covered      int  // bytes in the union of the runs' reads
	coverEnd     int  // end of the last run's read
	window       bool // [a, b) is a window, not hit starts (see anchoredHit)
}

// Scan returns the secrets that the rules find in text, as findings of
// kind [KindSecret] typed with the gitleaks rule ID, '-' turned into '_'
// ("generic_api_key", "stripe_access_token"). A finding covers the
// rule's secret group. Findings are ordered by offset and do not overlap:
// of overlapping ones the longest is kept.
//
// Scan makes one pass over text: a filter of the keywords' first three
// to eight bytes, hashed, skips the positions where no keyword that can
// pass its rule's gate starts, and the keyword automaton runs from the
// others. On amd64 processors with AVX-512 VBMI, a vector filter of the
// keywords' first bytes tests 64 positions at a time before it (unless
// built with the purego tag); the findings are the same either way. It
// allocates nothing unless a keyword passes its rule's gate; a rule's
// regular expression then runs anchored at such hits, or over windows
// around them (a few hundred bytes to a few kilobytes). Unlike gitleaks,
// which runs a rule over a whole file when its keyword occurs anywhere in
// it, a rule here needs its keyword near the match; gitleaks'
// "gitleaks:allow" comment is not honoured, as the text is not trusted.
// A text dense with keywords stays linear: see keyState.anchoredHit.
func (k *KeyRules) Scan(text string) []Finding {
	var st keyState
	st.init(k)
	st.upTo(text, 0, len(text))
	return st.finish(text)
}

// keyState is the state of [KeyRules.Scan] between the positions where a
// keyword may start, so that the combined input scan can drive the same
// automaton from its own pass. It lives on the stack.
type keyState struct {
	k *KeyRules
	// The pending windows, one per rule: few at a time, kept off the
	// heap in buf; more spill over.
	buf  [8]keyPending
	nbuf int
	more []keyPending
	out  []Finding
	// resume is where the automaton stopped: every keyword that starts
	// before it has been reported.
	resume int
	// The vector filter's masks of the positions [wb, we), when there is
	// one (k.filter).
	wb, we int
	win    [keyVecWindow / 64]uint64
	runs   keyRuns
}

func (st *keyState) init(k *KeyRules) { st.k = k }

// upTo runs the automaton at every position before to where the filter
// says a keyword may start, searching from the position from, and returns
// the first such position at or after to (or len(text)). The filter skips
// the positions where no keyword that can pass its rules' gate starts; the
// automaton restarts at the root at the first position where one may: no
// hit that can pass is lost and none is reported out of order.
func (st *keyState) upTo(text string, from, to int) int {
	q := from
	for {
		// A keyword at st.resume may be flagged at st.resume-1.
		// No keyword starts before st.resume that was not reported.
		if q = max(st.skip(text, max(q, st.resume-1)), st.resume); q >= to {
			return q
		}
		st.at(text, q)
		q = 0
	}
}

// skip is [KeyRules.skip], through the vector filter when there is one.
func (st *keyState) skip(text string, p int) int {
	if st.k.filter == keyFilterScalar {
		return st.k.skip(text, p)
	}
	return st.k.vecSkip(text, p, &st.win, &st.wb, &st.we)
}

// at runs the automaton from the root at p, a position where a keyword
// may start, until it is back in a shallow state at a position where no
// keyword starts (by the filter); positions before st.resume were covered
// already and are ignored. The automaton reports each keyword hit at its end, longer
// keywords first. In a depth-one state, text[i-1:] is all it remembers:
// if a keyword may start at i-1 it goes on, as a restart there would reach
// the same state; otherwise it stops. Callers give positions in increasing
// order, and every position where a keyword starts at or after st.resume.
func (st *keyState) at(text string, p int) {
	if p < st.resume {
		return
	}
	k := st.k
	nc := int32(k.nc)
	next, cls := k.next, &k.cls
	n := len(text)
	s := int32(0) // premultiplied by nc
	i := p
	for i < n {
		s = next[s+int32(cls[text[i]])]
		i++
		if s < k.shallow {
			if s == 0 || !k.mayStart(text, i-1) && (i < 2 || !k.mayStart(text, i-2)) {
				break
			}
			continue
		}
		if s < k.outStart {
			continue
		}
		for _, kwi := range k.out[(s-k.outStart)/nc] {
			kw := &k.kws[kwi]
			start, end := i-kw.n, i
			for _, ri := range kw.rules {
				if k.rules[ri].gate(text, start, end) {
					st.hit(text, int(ri), start, end)
				}
			}
		}
	}
	st.resume = i
}

// finish runs the rules over the pending windows and returns the
// findings, as [KeyRules.Scan] returns them.
func (st *keyState) finish(text string) []Finding {
	for i := range st.buf[:st.nbuf] {
		st.out = st.k.flush(st.out, text, &st.buf[i], &st.runs)
	}
	for i := range st.more {
		st.out = st.k.flush(st.out, text, &st.more[i], &st.runs)
	}
	st.nbuf, st.more = 0, st.more[:0]
	return dedupeFindings(st.out)
}

// gate reports whether the keyword hit [start, end) may be part of a match
// of r: a necessary condition, cheap to test.
func (r *keyRule) gate(text string, start, end int) bool {
	if r.prefixKeywords {
		if r.d.wordStart && !wordBoundaryAt(text, start) {
			return false
		}
		for _, p := range r.d.prefixes {
			if hasKeyPrefix(text[start:], p) {
				return true
			}
		}
		return false
	}
	if r.d.assign {
		for j := end; j < len(text) && j-end < 32; j++ {
			switch c := text[j]; c {
			case '=', '>', ':', '|', '?', ',':
				switch {
				case r.d.assignMin == 0:
					return true
				case r.gapped:
					return secretRunAfterOp(text, j+1, r.d.assignMin)
				}
				return secretRunNear(text, j+1, r.d.assignMin)
			case ' ', '\t', '\n', '\r', '\f', '\v', '.', '-', '\'', '"':
			case 0xC5, 0xE2: // ſ and K are word characters of the (?i) expressions
				r, n := utf8.DecodeRuneInString(text[j:])
				if !caseFoldRune(r) {
					return false
				}
				j += n - 1
			default:
				if !keyWordByte(c) {
					return false
				}
			}
		}
		return false
	}
	return true
}

// secretRunNear reports whether a run of at least n secret bytes starts
// within 8 bytes of i.
func secretRunNear(text string, i, n int) bool {
	for p := i; p < len(text) && p <= i+8; p++ {
		if secretRunAt(text, p, n) {
			return true
		}
	}
	return false
}

// secretRunAfterOp is secretRunNear for the semi-generic rules (gapped),
// i just after the first byte of an assignment operator: the secret
// starts within 8 bytes, after the rest of the operator (":::=" has 4
// bytes) and at most 5 quotes, spaces or '=', so only such bytes come
// before it. A run that starts past a ';' or a letter ("key=value;
// api_key=none") is another assignment's, not this one's secret.
func secretRunAfterOp(text string, i, n int) bool {
	for p := i; p < len(text) && p <= i+8; p++ {
		if secretRunAt(text, p, n) {
			return true
		}
		switch text[p] {
		case '=', '>', ':', '|', '?', ',', '`', '\'', '"', ' ', '\t', '\n', '\f', '\r':
		default:
			return false
		}
	}
	return false
}

// secretRunAt reports whether a run of at least n secret bytes starts at p.
func secretRunAt(text string, p, n int) bool {
	e := p
	for e < len(text) && e-p < n && isSecretByte(text[e]) {
		e++
	}
	return e-p >= n
}

// keyContainsFold reports whether s contains the lower-case ASCII word w,
// ignoring ASCII case.
func keyContainsFold(s, w string) bool { return keyIndexFold(s, w) >= 0 }

// keyIndexFold returns the index of the first occurrence of w, in lower
// case, in s, ASCII letters in either case, or -1. It looks with
// strings.IndexByte for the byte of w that is least common in text (see
// keyByteRank), in either case if it is a letter, and compares w around
// each place found.
func keyIndexFold(s, w string) int {
	if len(w) == 0 {
		return 0
	}
	j := 0
	for i := 1; i < len(w); i++ {
		if keyByteRank[w[i]] > keyByteRank[w[j]] {
			j = i
		}
	}
	lo, up := w[j], w[j]
	if lo >= 'a' && lo <= 'z' {
		up = lo - 'a' + 'A'
	}
	// The next places of the anchor byte in lower and in upper case, each
	// looked for again only once passed; -2: not looked for yet, -1: none.
	first, last := j, len(s)-len(w)+j+1 // the anchor is in [first, last)
	nl, nu := -2, -2
	if lo == up {
		nu = -1
	}
	for p := first; p < last; {
		if nl != -1 && nl < p {
			if nl = strings.IndexByte(s[p:last], lo); nl >= 0 {
				nl += p
			}
		}
		if nu != -1 && nu < p {
			if nu = strings.IndexByte(s[p:last], up); nu >= 0 {
				nu += p
			}
		}
		switch {
		case nl < 0 && nu < 0:
			return -1
		case nu < 0 || nl >= 0 && nl < nu:
			p = nl
		default:
			p = nu
		}
		if keyEqualFold(s[p-j:p-j+len(w)], w) {
			return p - j
		}
		p++
	}
	return -1
}

// keyByteRank ranks bytes by how rare they are in prose: 0 for a space,
// then the most common letters, up to 255 for bytes not listed.
var keyByteRank = func() (r [256]uint8) {
	const common = " etaoinsrhldcumfpgwybvkxjqz,.\n'-0123456789\"():;/?!_\t\r"
	for i := range r {
		r[i] = 255
	}
	for i := range len(common) {
		r[common[i]] = uint8(i)
	}
	return r
}()

// keyEqualFold reports whether s equals w, which is in lower case,
// ignoring the case of ASCII letters; they have the same length.
func keyEqualFold(s, w string) bool {
	for i := 0; i < len(w); i++ {
		if keyLower(s[i]) != w[i] {
			return false
		}
	}
	return true
}

func keyLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// keyWordByte reports whether c is a word byte for \b: [0-9A-Za-z_].
func keyWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isSecretByte(c byte) bool {
	return keyWordByte(c) || c == '.' || c == '=' || c == '+' || c == '/' || c == '~' || c == '-'
}

// keyCases returns the forms of the first two bytes of p.lit that
// hasKeyPrefix accepts: a letter in either case where p.fold has its bit.
func keyCases(p keyPrefix) [][2]byte {
	forms := func(i int) []byte {
		c := p.lit[i]
		if p.fold&(1<<i) == 0 || keyLower(c) < 'a' || keyLower(c) > 'z' {
			return []byte{c}
		}
		return []byte{keyLower(c), keyLower(c) - 'a' + 'A'}
	}
	var ps [][2]byte
	for _, a := range forms(0) {
		for _, b := range forms(1) {
			ps = append(ps, [2]byte{a, b})
		}
	}
	return ps
}

func hasKeyPrefix(s string, p keyPrefix) bool {
	if len(s) < len(p.lit) {
		return false
	}
	for i := 0; i < len(p.lit); i++ {
		c := s[i]
		if p.fold&(1<<i) != 0 {
			c = keyLower(c)
		}
		if c != p.lit[i] && (p.fold&(1<<i) == 0 || c != keyLower(p.lit[i])) {
			return false
		}
	}
	return true
}

// wordBoundaryAt reports whether \b holds at i, as Go's regexp sees it.
func wordBoundaryAt(text string, i int) bool {
	before := i > 0 && keyWordByte(text[i-1])
	after := i < len(text) && keyWordByte(text[i])
	return before != after
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// hit adds rule ri's window around the keyword [start, end) to the pending
// window, or flushes the pending one and starts anew.
func (st *keyState) hit(text string, ri, start, end int) {
	k := st.k
	r := &k.rules[ri]
	if r.anchored && st.anchoredHit(text, ri, start) {
		return
	}
	var a, b int
	var safeA, safeB bool
	switch {
	case r.prefixKeywords:
		a, safeA = start, true
		b, safeB = snapEnd(text, start+r.after)
	case r.d.reach:
		// One byte more each side: a match that reaches its bound is not
		// at the window's edge, where it would be dropped as cut short.
		a, safeA = snapStart(text, start-r.d.before-1)
		b, safeB = snapEnd(text, keyReach(text, start, r.d.after, &st.runs)+1)
	default:
		a, safeA = snapStart(text, start-r.before)
		b, safeB = snapEnd(text, end+r.after)
	}
	p := st.pendingOf(ri)
	if p != nil && a <= p.last {
		// No match starts inside the rule's last one.
		a, safeA = p.last, true
	}
	w := keyPending{rule: ri, a: a, b: b, safeA: safeA, safeB: safeB, window: true}
	switch {
	case p == nil:
		st.add(w)
	case p.a == p.b:
		// Empty: an anchored rule that just went on with windows.
		w.last = p.last
		*p = w
	case a <= p.b:
		if b > p.b {
			p.b, p.safeB = b, safeB
		}
	default:
		st.out = k.flush(st.out, text, p, &st.runs)
		w.last = p.last
		*p = w
	}
}

// keyReach returns where the steps lead from p (see keyRuleData.after):
// a bound on the end of a match whose keyword part starts at p. The runs
// of a class step are measured through runs.
func keyReach(text string, p int, steps []keyStep, runs *keyRuns) int {
	for _, s := range steps {
		if s.class == nil {
			p += s.n
			continue
		}
		p = runs.end(text, p, s.class)
	}
	return p
}

// keyRuns remembers, for each class of the rules' steps, the last run of
// bytes of that class keyReach measured, so that the hits inside one long
// run ("api_key=api_key=…", PEM headers one after the other, where a
// private key's class is every byte) do not each read it again: a scan
// stays linear in the text's length. It belongs to one scan of one text;
// the zero value is empty. The rules have a dozen class steps; past
// len(m) classes, the last entry is taken over.
type keyRuns struct {
	n int
	m [16]struct {
		class *[4]uint64
		a, e  int // text[a:e] are bytes of class, text[e] is not (or e == len(text))
	}
}

// end returns the end of the run of bytes of class from p.
func (r *keyRuns) end(text string, p int, class *[4]uint64) int {
	i := 0
	for i < r.n && r.m[i].class != class {
		i++
	}
	if i < r.n && p >= r.m[i].a && p <= r.m[i].e {
		return r.m[i].e
	}
	e := p
	for e < len(text) && class[text[e]>>6]&(1<<(text[e]&63)) != 0 {
		e++
	}
	if i == r.n {
		i = min(r.n, len(r.m)-1)
		r.n = i + 1
	}
	r.m[i].class, r.m[i].a, r.m[i].e = class, p, e
	return e
}

// anchoredHit records a hit of the anchored rule ri at start, and reports
// whether it did. The rule's pending entry holds the hits' starts [a, b)
// not yet run and, in last, the end of the rule's last match. The
// automaton reports a hit at its end, so a hit may come after one that
// starts later (a keyword inside a longer one): it joins the entry, which
// flush runs in order of start.
//
// Each anchored run reads at most a window's length, but runs are not
// merged as windows are: once a rule's runs in one scan have read more
// than keyAnchorOverlap times the bytes they cover, plus keyAnchorSlack
// (a text dense with its keywords, where runs of a window's length
// overlap), the rule goes on with windows (one search over each byte at
// most), and anchoredHit reports false. Runs bounded by a rule's reach
// are short and overlap little, so dense short matches stay anchored.
func (st *keyState) anchoredHit(text string, ri, start int) bool {
	p := st.pendingOf(ri)
	switch {
	case p == nil:
		st.add(keyPending{rule: ri, a: start, b: start + 1})
	case p.window:
		return false
	case start <= p.b:
		p.a, p.b = min(p.a, start), max(p.b, start+1)
	default:
		st.out = st.k.flush(st.out, text, p, &st.runs)
		if p.read > keyAnchorOverlap*p.covered+keyAnchorSlack {
			// On with windows, from after the last match: the entry is
			// empty until hit adds this one.
			p.a, p.b, p.window = p.last, p.last, true
			return false
		}
		p.a, p.b = start, start+1
	}
	return true
}

// See anchoredHit.
const (
	keyAnchorOverlap = 32
	keyAnchorSlack   = 16 << 10
)

// add adds a pending entry.
func (st *keyState) add(w keyPending) {
	if st.nbuf < len(st.buf) {
		st.buf[st.nbuf] = w
		st.nbuf++
	} else {
		st.more = append(st.more, w)
	}
}

// pendingOf returns rule ri's pending window, or nil.
func (st *keyState) pendingOf(ri int) *keyPending {
	for j := range st.buf[:st.nbuf] {
		if st.buf[j].rule == ri {
			return &st.buf[j]
		}
	}
	for j := range st.more {
		if st.more[j].rule == ri {
			return &st.more[j]
		}
	}
	return nil
}

// snapStart moves a window start back to just after a space, if one is
// near; otherwise onto a rune boundary, and reports the edge unsafe.
func snapStart(text string, a int) (int, bool) {
	if a <= 0 {
		return 0, true
	}
	for j := a; a-j < keySnap; j-- {
		if j == 0 || isSpaceByte(text[j-1]) {
			return j, true
		}
	}
	if _, end, ok := insideRune(text, a); ok {
		a = end
	}
	return a, false
}

// snapEnd moves a window end forward to just after a space, if one is
// near; otherwise onto a rune boundary, and reports the edge unsafe.
func snapEnd(text string, b int) (int, bool) {
	if b >= len(text) {
		return len(text), true
	}
	for j := b; j-b < keySnap; j++ {
		if j == len(text) {
			return j, true
		}
		if isSpaceByte(text[j]) {
			return j + 1, true
		}
	}
	if start, _, ok := insideRune(text, b); ok {
		b = start
	}
	return b, false
}

// insideRune reports whether i falls inside a valid multi-byte rune of
// text, after its first byte, and returns the rune's bounds. A byte that
// is not a rune's first and belongs to no valid rune (invalid UTF-8) is a
// boundary like any other: moving past it would cut off what follows it.
func insideRune(text string, i int) (start, end int, ok bool) {
	for j := i - 1; j >= 0 && j > i-utf8.UTFMax; j-- {
		if utf8.RuneStart(text[j]) {
			r, n := utf8.DecodeRuneInString(text[j:])
			return j, j + n, (r != utf8.RuneError || n > 1) && j+n > i
		}
	}
	return 0, 0, false
}

// flush runs the pending window's rule over it and records its findings;
// for an anchored rule, it runs the rule at each hit in the entry, in
// order, that no earlier match of the rule covers. runs is the scan's.
func (k *KeyRules) flush(out []Finding, text string, p *keyPending, runs *keyRuns) []Finding {
	pa, pb := p.a, p.b
	r := &k.rules[p.rule]
	if r.anchored && !p.window {
		// An anchored rule's hit starts, in order: each run reads the
		// text up to the rule's reach, or a window's length; a match that
		// ends there (cut short, or an end-of-text assertion holding at
		// the cut) is dropped unless the cut is a safe window edge.
		c := r.compiled()
		for q := max(pa, p.last); q < pb; q = max(q+1, p.last) {
			if r.d.lead == nil && !r.gate(text, q, q) {
				continue
			}
			e, safe := snapEnd(text, q+r.after)
			if r.d.reach {
				if b := keyReach(text, q, r.d.after, runs) + 1; b < e {
					e, safe = b, false
				}
			}
			p.read += e - q
			p.covered += max(0, e-max(q, p.coverEnd))
			p.coverEnd = max(p.coverEnd, e)
			if !hasSecretRun(text[q:e], c.anchoredRun) || !hasLiterals(text[q:e], c.anchoredLits) {
				continue // no match can be there
			}
			m := c.anchored.FindStringSubmatchIndex(text[q:e])
			if m == nil || q+m[1] == e && !safe {
				continue
			}
			if l := r.d.lead; l != nil {
				// The match starts as far back as the lazy run reaches:
				// from there on, the leftmost start, it matches too.
				s := q
				for n := 0; n < l.max && s > p.last; n++ {
					ru, w := utf8.DecodeLastRuneInString(text[:s])
					if !l.has(ru) {
						break
					}
					s -= w
				}
				m[0] = s - q
			}
			p.last = q + m[1]
			out = k.record(out, text, r, &c, m, q)
		}
		return out
	}
	for _, w := range r.d.needs {
		if !keyContainsFold(text[pa:pb], w) && !foldHides(text[pa:pb], w) {
			return out
		}
	}
	c := r.compiled()
	if !hasSecretRun(text[pa:pb], c.run) || !hasLiterals(text[pa:pb], c.lits) || !branchesPass(text[pa:pb], c.branches) {
		return out // no match can be in the window
	}
	for _, m := range c.re.FindAllStringSubmatchIndex(text[pa:pb], -1) {
		if m[0] == 0 && !p.safeA || m[1] == pb-pa && !p.safeB {
			continue // the window may have cut the text short
		}
		out = k.record(out, text, r, &c, m, pa)
	}
	return out
}

// record appends to out the finding of the match m of rule r, whose
// indexes are relative to base, unless the rule's checks (secret group,
// entropy, allowlists) let it go.
func (k *KeyRules) record(out []Finding, text string, r *keyRule, c *keyCompiled, m []int, base int) []Finding {
	m0, m1 := m[0]+base, m[1]+base
	for m0 < m1 && text[m0] == '\n' {
		m0++
	}
	for m1 > m0 && text[m1-1] == '\n' {
		m1--
	}
	if m1 <= m0 {
		return out
	}
	s0, s1 := m0, m1
	if g := r.d.secretGroup; g > 0 {
		if 2*g+1 >= len(m) || m[2*g] < 0 {
			return out
		}
		s0, s1 = m[2*g]+base, m[2*g+1]+base
	} else {
		for g := 1; 2*g+1 < len(m); g++ {
			if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
				s0, s1 = m[2*g]+base, m[2*g+1]+base
				break
			}
		}
	}
	s0, s1 = max(s0, m0), min(s1, m1)
	if s1 <= s0 {
		return out
	}
	secret := text[s0:s1]
	if r.d.entropy != 0 && keyEntropy(secret) <= r.d.entropy {
		return out
	}
	lower := strings.ToLower(secret)
	if allowed(k.global(), text, m0, m1, s0, s1, lower) || allowed(c.allow, text, m0, m1, s0, s1, lower) {
		return out
	}
	return append(out, Finding{Kind: KindSecret, Type: r.d.typ, Start: s0, End: s1})
}

// A rule's expression is slow to run over a window (a case-insensitive
// lazy prefix, alternations of names, an assignment: some 100 ns a byte);
// most windows a keyword opens in prose hold no secret, and every secret
// is a run of secret characters ([A-Za-z0-9_.=+/~-]) at least as long as
// the expression demands ([a-z0-9]{24}, ey[A-Za-z0-9]{17,}). secretRun
// works out that length from the expression, and hasSecretRun tests a
// window for it first, in about a nanosecond a byte.

// secretRun returns the length of the longest run of secret characters,
// in characters, that every match of the expression src holds: the runes
// of isSecretByte, and ſ (U+017F) and K (U+212A), which case folding
// matches for s and k. It returns 0 when it cannot tell.
func secretRun(src string) int {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return 0
	}
	return runsOf(re).best
}

// runs is what secretRun knows of the matches of an expression: all,
// whether they consist of secret characters only, and then min, the
// length of the shortest; pre and suf, the run every match starts and
// ends with; best, the longest run every match holds.
type runs struct {
	all                 bool
	min, pre, suf, best int
}

// secretRune reports whether r is a secret character for secretRun.
func secretRune(r rune) bool {
	return r < utf8.RuneSelf && isSecretByte(byte(r)) || caseFoldRune(r)
}

// caseFoldRune reports whether r is ſ (U+017F) or K (U+212A), the runes
// beyond ASCII that Go's case folding matches for the letters s and k.
func caseFoldRune(r rune) bool { return r == '\u017f' || r == '\u212a' }

func runsOf(re *syntax.Regexp) runs {
	secret := runs{all: true, min: 1, pre: 1, suf: 1, best: 1}
	empty := runs{all: true}
	none := runs{} // a part that may hold another character
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return empty
	case syntax.OpLiteral:
		r := empty
		for _, c := range re.Rune {
			if secretRune(c) {
				r = concatRuns(r, secret)
			} else {
				r = concatRuns(r, none)
			}
		}
		return r
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi-lo > 256 {
				return none
			}
			for c := lo; c <= hi; c++ {
				if !secretRune(c) {
					return none
				}
			}
		}
		if len(re.Rune) == 0 {
			return none
		}
		return secret
	case syntax.OpCapture:
		return runsOf(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		return repeatRuns(runsOf(re.Sub[0]), 0)
	case syntax.OpPlus:
		return repeatRuns(runsOf(re.Sub[0]), 1)
	case syntax.OpRepeat:
		return repeatRuns(runsOf(re.Sub[0]), re.Min)
	case syntax.OpConcat:
		r := empty
		for _, sub := range re.Sub {
			r = concatRuns(r, runsOf(sub))
		}
		return r
	case syntax.OpAlternate:
		if len(re.Sub) == 0 {
			return none
		}
		r := runsOf(re.Sub[0])
		for _, sub := range re.Sub[1:] {
			x := runsOf(sub)
			r = runs{all: r.all && x.all, min: min(r.min, x.min), pre: min(r.pre, x.pre), suf: min(r.suf, x.suf),
				best: min(r.best, x.best)}
		}
		return r
	}
	return none // any character, no match
}

// concatRuns is the runs of a match of a followed by one of b.
func concatRuns(a, b runs) runs {
	r := runs{all: a.all && b.all, min: a.min + b.min, pre: a.pre, suf: b.suf}
	if a.all {
		r.pre = a.min + b.pre
	}
	if b.all {
		r.suf = a.suf + b.min
	}
	r.best = max(a.best, b.best, a.suf+b.pre, r.pre, r.suf)
	return r
}

// repeatRuns is the runs of at least n matches of x in a row.
func repeatRuns(x runs, n int) runs {
	switch {
	case n == 0:
		return runs{all: x.all}
	case x.all:
		m := n * x.min
		return runs{all: true, min: m, pre: m, suf: m, best: m}
	case n >= 2:
		return runs{pre: x.pre, suf: x.suf, best: max(x.best, x.suf+x.pre)}
	}
	return runs{pre: x.pre, suf: x.suf, best: x.best}
}

// hasSecretRun reports whether text holds a run of n secret characters
// (see secretRun); n <= 1 holds everywhere.
func hasSecretRun(text string, n int) bool {
	if n <= 1 {
		return true
	}
	k := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c < utf8.RuneSelf && isSecretByte(c):
			k++
		case c == 0xc5 && i+1 < len(text) && text[i+1] == 0xbf: // ſ
			k++
			i++
		case c == 0xe2 && i+2 < len(text) && text[i+1] == 0x84 && text[i+2] == 0xaa: // K
			k++
			i += 2
		default:
			k = 0
			continue
		}
		if k >= n {
			return true
		}
	}
	return false
}

// allowRegex is an allowlist's regular expression, prepared so that most
// targets are decided without running it. Go's regexp runs an unanchored,
// case-insensitive alternation at about 100 ns a byte (generic-api-key's
// allowlist of some 30 phrases took 30 µs a target as one expression; its
// other expressions 4 to 18 µs each on a 150-byte match), so:
//
//   - an alternation is split into its branches, the expression matching
//     where a branch does;
//   - each branch has the literals, one of which every match of it
//     contains (ignoring ASCII case): a branch is not run on an ASCII
//     target that holds none of them;
//   - a branch without anchors or word boundaries whose matches are at
//     most width bytes long is run only on the stretches of an ASCII
//     target around the literals' occurrences: every match contains one,
//     and lies within width bytes of it;
//   - a branch that matches a finite set of phrases in either case
//     ("PRIMARY_KEY", "public-key") is not run at all on an ASCII target:
//     the phrases are compared at each occurrence of their literal;
//   - a branch anchored at the start keeps none of this: it fails at
//     once.
//
// With these, the 4 KB benchmark text with four credentials scans in 38
// µs, against 89 µs. On a target that is not ASCII, every branch runs on the whole target:
// case folding matches K (U+212A) for k and ſ for s, which the literal
// tests would miss.
type allowRegex struct {
	branches []allowBranch
}

type allowBranch struct {
	re    *regexp.Regexp
	needs []string // lower case, compared ignoring ASCII case; nil: none known
	width int      // the longest match in bytes on ASCII text; -1: unbounded, or anchored
	// words, when not nil, holds every string the branch matches, lower
	// case, by the literal of needs it holds and where: a branch that is
	// a finite set of phrases in either case ("PRIMARY_KEY", "public-key")
	// is, on ASCII text, a comparison at each occurrence of a literal,
	// without the regexp machine. words[i] goes with needs[i].
	words [][]wordAt
}

// wordAt is a string a branch matches, lower case, and an offset in it of
// a literal of the branch's needs.
type wordAt struct {
	word string
	off  int
}

func compileAllowRegex(src string) allowRegex {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return wholeAllowRegex(src)
	}
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpAlternate {
		subs = re.Sub
	}
	var a allowRegex
	for _, b := range subs {
		c, err := regexp.Compile(b.String())
		if err != nil {
			// A branch that does not compile on its own: keep the whole.
			return wholeAllowRegex(src)
		}
		br := allowBranch{re: c, width: matchWidth(b)}
		if !anchoredStart(b) {
			// A branch anchored at the start fails there at once: testing
			// its literals first would cost more.
			br.needs = needLiterals(b)
		}
		if br.needs != nil && br.width >= 0 {
			if ws := foldWords(b); ws != nil {
				br.words = wordsByNeed(br.needs, ws)
			}
		}
		a.branches = append(a.branches, br)
	}
	return a
}

// wholeAllowRegex is src run whole, as one branch without literals: the
// fallback when src does not split.
func wholeAllowRegex(src string) allowRegex {
	return allowRegex{branches: []allowBranch{{re: regexp.MustCompile(src), width: -1}}}
}

// wordsByNeed lists, for each literal of needs, the words of ws that hold
// it and at which offsets.
func wordsByNeed(needs, ws []string) [][]wordAt {
	out := make([][]wordAt, len(needs))
	for i, n := range needs {
		for _, w := range ws {
			for off := 0; off+len(n) <= len(w); off++ {
				if w[off:off+len(n)] == n {
					out[i] = append(out[i], wordAt{w, off})
				}
			}
		}
	}
	return out
}

// match reports whether the expression matches somewhere in target;
// lower is target with its ASCII capitals in lower case, and ascii tells
// whether target is all ASCII (see foldTarget).
func (a *allowRegex) match(target, lower string, ascii bool) bool {
	for i := range a.branches {
		if a.branches[i].match(target, lower, ascii) {
			return true
		}
	}
	return false
}

// match reports whether the branch matches somewhere in target, as
// allowRegex.match.
func (b *allowBranch) match(target, lower string, ascii bool) bool {
	if !ascii || b.needs == nil {
		return b.re.MatchString(target)
	}
	if b.width < 0 {
		for _, w := range b.needs {
			if strings.Contains(lower, w) {
				return b.re.MatchString(target)
			}
		}
		return false
	}
	if b.words != nil {
		// Every match is one of the words, and holds an occurrence of a
		// literal at an offset words lists.
		for i, k := range occurrences(lower, b.needs) {
			for _, x := range b.words[i] {
				if k >= x.off && strings.HasPrefix(lower[k-x.off:], x.word) {
					return true
				}
			}
		}
		return false
	}
	// Every match contains an occurrence of a literal and lies within
	// width bytes of it: run the branch on those stretches only, each
	// once (stretches that overlap are merged).
	lo, hi := 0, -1 // the stretch pending
	for i, k := range occurrences(lower, b.needs) {
		s, e := max(0, k+len(b.needs[i])-b.width), min(len(target), k+b.width)
		switch {
		case hi < 0:
			lo, hi = s, e
		case s <= hi && e >= lo:
			lo, hi = min(lo, s), max(hi, e)
		default:
			if b.re.MatchString(target[lo:hi]) {
				return true
			}
			lo, hi = s, e
		}
	}
	return hi >= 0 && b.re.MatchString(target[lo:hi])
}

// occurrences yields each occurrence in lower of each of the literals
// needs: the literal's index and where it starts.
func occurrences(lower string, needs []string) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for i, w := range needs {
			for from := 0; ; {
				k := strings.Index(lower[from:], w)
				if k < 0 {
					break
				}
				if !yield(i, from+k) {
					return
				}
				from += k + 1
			}
		}
	}
}

// foldWordsMax bounds the strings foldWords lists.
const foldWordsMax = 256

// foldWords returns every string re matches on ASCII text, in lower case,
// when they are at most foldWordsMax and re matches each of them in
// either case (its letters all fold case, its classes hold a letter in
// both cases); otherwise nil.
func foldWords(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []string{""}
	case syntax.OpLiteral:
		var b strings.Builder
		for _, r := range re.Rune {
			if r >= utf8.RuneSelf || isLetter(byte(r)) && re.Flags&syntax.FoldCase == 0 {
				return nil // not ASCII, or a letter in one case only
			}
			b.WriteByte(keyLower(byte(r)))
		}
		return []string{b.String()}
	case syntax.OpCharClass:
		var set []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if caseFoldRune(r) {
					continue // the folds of s and k, never in ASCII text
				}
				if r >= utf8.RuneSelf || len(set) >= foldWordsMax {
					return nil
				}
				c := byte(r)
				if isLetter(c) && !classHas(re.Rune, rune(c^0x20)) {
					return nil
				}
				set = append(set, string(keyLower(c)))
			}
		}
		slices.Sort(set)
		return slices.Compact(set)
	case syntax.OpCapture:
		return foldWords(re.Sub[0])
	case syntax.OpQuest:
		w := foldWords(re.Sub[0])
		if w == nil {
			return nil
		}
		return append([]string{""}, w...)
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			w := foldWords(sub)
			if w == nil || len(out)*len(w) > foldWordsMax {
				return nil
			}
			out = product(out, w)
		}
		return out
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			w := foldWords(sub)
			if w == nil || len(out)+len(w) > foldWordsMax {
				return nil
			}
			out = append(out, w...)
		}
		return out
	}
	return nil // repeats, assertions, any character
}

// isLetter reports whether c is an ASCII letter.
func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// classHas reports whether the class ranges hold r.
func classHas(ranges []rune, r rune) bool {
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i] <= r && r <= ranges[i+1] {
			return true
		}
	}
	return false
}

// anchoredStart reports whether every match of re starts at the start of
// the text (\A first).
func anchoredStart(re *syntax.Regexp) bool {
	for {
		switch re.Op {
		case syntax.OpBeginText:
			return true
		case syntax.OpCapture, syntax.OpConcat:
			if len(re.Sub) == 0 {
				return false
			}
			re = re.Sub[0]
		default:
			return false
		}
	}
}

// lowerLiteral returns the runes of a literal as an ASCII string in lower
// case, or false if one of them is not ASCII.
func lowerLiteral(runes []rune) (string, bool) {
	b := make([]byte, len(runes))
	for i, r := range runes {
		if r >= utf8.RuneSelf {
			return "", false
		}
		b[i] = keyLower(byte(r))
	}
	return string(b), true
}

// needLiterals returns ASCII literals, in lower case, one of which every
// match of re contains (ignoring ASCII case), or nil when it finds none.
// Of a concatenation it takes the part whose literals are longest (the
// shortest of them counts).
func needLiterals(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if lit, ok := lowerLiteral(re.Rune); ok {
			return []string{lit}
		}
		return nil
	case syntax.OpCapture, syntax.OpPlus:
		return needLiterals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min > 0 {
			return needLiterals(re.Sub[0])
		}
	case syntax.OpConcat:
		var best []string
		for _, s := range re.Sub {
			if n := needLiterals(s); n != nil && (best == nil || shortest(n) > shortest(best)) {
				best = n
			}
		}
		return best
	case syntax.OpAlternate:
		var all []string
		for _, s := range re.Sub {
			n := needLiterals(s)
			if n == nil {
				return nil
			}
			all = append(all, n...)
		}
		slices.Sort(all)
		return slices.Compact(all)
	}
	return nil
}

// requiredLiterals returns sets of ASCII literals, in lower case, such
// that every match of the expression src holds one literal of each set
// (ignoring ASCII case). They come from the parts of its top-level
// concatenation: a run of parts that match a few strings each gives their
// products (exactSet: `[ \t](?:-u|--user)` gives " -u", " --user", "\t-u"
// and "\t--user"), another part the literals of needLiterals. Sets that
// hold a literal of one byte are left out, being in almost every text, and
// so are those that each of the keywords holds one of, a keyword being
// found already; of the rest, at most three are kept, those whose shortest
// literal is longest. It returns nil when it finds none.
func requiredLiterals(src string, keywords []string) [][]string {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil
	}
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	parts := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		parts = re.Sub
	}
	var sets [][]string
	add := func(set []string) {
		if set == nil || shortest(set) < 2 || len(keywords) > 0 && !slices.ContainsFunc(keywords, func(kw string) bool {
			return !slices.ContainsFunc(set, func(w string) bool { return strings.Contains(kw, w) })
		}) || slices.ContainsFunc(sets, func(s []string) bool { return slices.Equal(s, set) }) {
			return
		}
		sets = append(sets, set)
	}
	run := []string{""} // the product of the exact parts since the last other one
	for _, part := range parts {
		if e := exactSet(part); e != nil && len(run)*len(e) <= maxExact {
			run = product(run, e)
			continue
		}
		add(run)
		add(needLiterals(part))
		run = []string{""}
	}
	add(run)
	slices.SortStableFunc(sets, func(a, b []string) int { return shortest(b) - shortest(a) })
	return sets[:min(len(sets), 3)]
}

// maxExact bounds the strings of an exactSet.
const maxExact = 16

// exactSet returns the strings, in lower case and sorted, that re matches
// on ASCII text, when they are at most maxExact and ASCII; nil otherwise.
// Empty-width assertions match the empty string here, which makes the set
// a superset of what re matches.
func exactSet(re *syntax.Regexp) []string {
	var out []string
	switch re.Op {
	case syntax.OpLiteral:
		if lit, ok := lowerLiteral(re.Rune); ok {
			return []string{lit}
		}
		return nil
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi >= utf8.RuneSelf || int(hi-lo)+1+len(out) > maxExact {
				return nil
			}
			for r := lo; r <= hi; r++ {
				out = append(out, string(rune(keyLower(byte(r)))))
			}
		}
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []string{""}
	case syntax.OpCapture:
		return exactSet(re.Sub[0])
	case syntax.OpQuest:
		if e := exactSet(re.Sub[0]); e != nil && len(e) < maxExact {
			out = append(e, "")
		}
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			e := exactSet(sub)
			if e == nil || len(out)+len(e) > maxExact {
				return nil
			}
			out = append(out, e...)
		}
	case syntax.OpConcat:
		out = []string{""}
		for _, sub := range re.Sub {
			e := exactSet(sub)
			if e == nil || len(out)*len(e) > maxExact {
				return nil
			}
			out = product(out, e)
		}
	}
	if out == nil {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// product returns every string of a followed by every string of b.
func product(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return out
}

// hasLiterals reports whether text holds, for each of sets, one of its
// literals, ignoring ASCII case, or may hold it behind a case fold (see
// foldHides); text is looked at for K and ſ once, when a set is missing.
func hasLiterals(text string, sets [][]string) bool {
	folds := -1 // whether text holds K or ſ; -1: not looked yet
	for _, set := range sets {
		found := false
		for _, w := range set {
			if keyContainsFold(text, w) {
				found = true
				break
			}
		}
		if found {
			continue
		}
		if folds < 0 {
			folds = 0
			if hasFoldRune(text) {
				folds = 1
			}
		}
		if folds == 0 || !slices.ContainsFunc(set, foldable) {
			return false
		}
	}
	return true
}

// foldHides reports whether a case-insensitive expression may match the
// literal w in text where keyContainsFold does not see it: when w holds a
// k or an s and text a Kelvin sign (U+212A) or a long s (U+017F), which
// case folding matches for them.
func foldHides(text, w string) bool { return foldable(w) && hasFoldRune(text) }

// foldable reports whether w holds a letter that case folding matches
// beyond ASCII: k or s.
func foldable(w string) bool { return strings.ContainsAny(w, "ks") }

// hasFoldRune reports whether text holds K (U+212A) or ſ (U+017F).
func hasFoldRune(text string) bool {
	return strings.Contains(text, "\u212a") || strings.Contains(text, "\u017f")
}

// shortest returns the length of the shortest of ws.
func shortest(ws []string) int {
	n := math.MaxInt
	for _, w := range ws {
		n = min(n, len(w))
	}
	return n
}

// matchWidth returns the length in bytes of the longest match of re on
// ASCII text, or -1 when it is unbounded or re has an empty-width
// assertion (anchors and word boundaries look past a stretch's edges).
func matchWidth(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return 1
	case syntax.OpEmptyMatch:
		return 0
	case syntax.OpCapture:
		return matchWidth(re.Sub[0])
	case syntax.OpQuest:
		return matchWidth(re.Sub[0])
	case syntax.OpRepeat:
		w := matchWidth(re.Sub[0])
		if w < 0 || re.Max < 0 {
			return -1
		}
		return w * re.Max
	case syntax.OpConcat, syntax.OpAlternate:
		n := 0
		for _, s := range re.Sub {
			w := matchWidth(s)
			if w < 0 {
				return -1
			}
			if re.Op == syntax.OpConcat {
				n += w
			} else {
				n = max(n, w)
			}
		}
		return n
	}
	return -1 // star, plus, assertions, no match
}

// allowed reports whether any of the allowlists lets the finding go.
func allowed(as []keyAllow, text string, m0, m1, s0, s1 int, lowerSecret string) bool {
	for i := range as {
		a := &as[i]
		target := text[s0:s1]
		switch a.target {
		case "match":
			target = text[m0:m1]
		case "line":
			target = lineAround(text, m0, m1)
		}
		re := false
		if len(a.regexes) > 0 {
			var buf [512]byte
			lower, ascii := foldTarget(buf[:0], target)
			for i := range a.regexes {
				if a.regexes[i].match(target, lower, ascii) {
					re = true
					break
				}
			}
		}
		if a.and {
			if (len(a.regexes) == 0 || re) && (a.nstop == 0 || a.containsStopword(lowerSecret)) {
				return true
			}
		} else if re || a.containsStopword(lowerSecret) {
			return true
		}
	}
	return false
}

// foldTarget appends s to b with its ASCII capitals in lower case, and
// reports whether s is all ASCII; the result is a view of b, valid while b
// is.
func foldTarget(b []byte, s string) (string, bool) {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
		}
		b = append(b, keyLower(c))
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), ascii
}

func (a *keyAllow) containsStopword(s string) bool {
	if a.nstop == 0 {
		return false
	}
	for i := 0; i+1 < len(s); i++ {
		if !a.stop2.has(s[i], s[i+1]) {
			continue // no stop word starts with these two bytes: no map lookup
		}
		for _, w := range a.stop[[2]byte{s[i], s[i+1]}] {
			if strings.HasPrefix(s[i:], w) {
				return true
			}
		}
	}
	return false
}

// lineAround returns the lines that [m0, m1) spans, each side cut at
// keyLineMax bytes.
func lineAround(text string, m0, m1 int) string {
	lo := max(0, m0-keyLineMax)
	if j := strings.LastIndexByte(text[lo:m0], '\n'); j >= 0 {
		lo += j + 1
	}
	hi := min(len(text), m1+keyLineMax)
	if j := strings.IndexByte(text[m1:hi], '\n'); j >= 0 {
		hi = m1 + j
	}
	return text[lo:hi]
}

// keyEntropy is gitleaks' Shannon entropy: rune frequencies over the
// length in bytes.
func keyEntropy(s string) float64 {
	var ascii [utf8.RuneSelf]int
	var other map[rune]int
	for _, r := range s {
		if r < utf8.RuneSelf {
			ascii[r]++
			continue
		}
		if other == nil {
			other = map[rune]int{}
		}
		other[r]++
	}
	inv := 1 / float64(len(s))
	var h float64
	add := func(n int) {
		if n > 0 {
			p := float64(n) * inv
			h -= p * math.Log2(p)
		}
	}
	for _, n := range ascii {
		add(n)
	}
	for _, n := range other {
		add(n)
	}
	return h
}

// dedupeFindings sorts fs by offset and drops those that overlap a longer
// one (on equal length, the earlier wins).
func dedupeFindings(fs []Finding) []Finding {
	if len(fs) < 2 {
		return fs
	}
	slices.SortFunc(fs, func(a, b Finding) int {
		if la, lb := a.End-a.Start, b.End-b.Start; la != lb {
			return lb - la
		}
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		// On a tie, a specific rule wins over gitleaks' catch-all.
		if ga, gb := a.Type == "generic_api_key", b.Type == "generic_api_key"; ga != gb {
			if ga {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Type, b.Type)
	})
	kept := fs[:0]
	for _, f := range fs {
		overlaps := false
		for _, g := range kept {
			if f.Start < g.End && g.Start < f.End {
				overlaps = true
				break
			}
		}
		if !overlaps {
			kept = append(kept, f)
		}
	}
	slices.SortFunc(kept, func(a, b Finding) int { return a.Start - b.Start })
	return kept
}
