package sanitize

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
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
// most hits, and a rule's regular expression runs only over a window around
// the hits that pass, each byte at most once per rule.

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
	allow  []keyAllowData
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
	// deep; in them Scan leaves the automaton for the skip loop.
	shallow int32
	// tri is a filter of the positions where a keyword may start, tested
	// by keyTriHash of the next three bytes.
	tri    *[1 << keyTriBits]uint8
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
}

type keyCompiled struct {
	re    *regexp.Regexp
	allow []keyAllow
}

type keyAllow struct {
	target  string
	and     bool
	regexes []*regexp.Regexp
	stop    map[[2]byte][]string // stop words by their first two bytes
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
		r := keyRule{d: d, prefixKeywords: len(d.prefixes) > 0}
		r.before, r.after = keyWindowBefore, keyWindowAfter
		if d.maxLen >= 0 {
			r.before, r.after = min(d.maxLen, keyWindowBefore), min(d.maxLen, keyWindowAfter)
		}
		r.compiled = sync.OnceValue(func() keyCompiled {
			return keyCompiled{re: regexp.MustCompile(d.regex), allow: compileAllows(d.allow)}
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

	// The filter holds the first three bytes of every keyword, and every
	// third byte after a two-byte keyword, in the form keyTriHash sees.
	k.tri = new([1 << keyTriBits]uint8)
	for _, kw := range keywords {
		switch {
		case len(kw) < 2:
			// A one-byte keyword: no skipping, and the automaton never
			// leaves for the skip loop.
			for j := range k.tri {
				k.tri[j] = 1
			}
			k.shallow = 0
			return k
		case len(kw) == 2:
			for c := range 256 {
				k.addTri(kw[0], kw[1], byte(c))
			}
		default:
			k.addTri(kw[0], kw[1], kw[2])
		}
	}
	return k
}

// keyTriBits is the number of bits of keyTriHash, the size of
// [KeyRules.tri]: 32 KiB, in the processor's first-level cache. With a few
// hundred keywords, a few percent of the positions in text pass it.
const keyTriBits = 15

// keyTriHash hashes the top three bytes of x, which keySkip has ASCII case
// folded (and more: bit 5 set in each), into [0, 1<<keyTriBits).
func keyTriHash(x uint64) uint64 {
	return (x >> 40) * 0x9e3779b97f4a7c15 >> (64 - keyTriBits)
}

// keyFold sets bit 5 of every byte, which lower-cases ASCII letters.
const keyFold = 0x2020202020202020

// keySkip returns the first position from p where tri says a keyword may
// start, or where fewer than three bytes are left. The positions are
// tested independently of each other, six per load, so that the processor
// overlaps the tests.
func keySkip(tri *[1 << keyTriBits]uint8, text string, p int) int {
	for ; p+8 <= len(text); p += 6 {
		b := text[p : p+8]
		x := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		x |= keyFold
		if tri[keyTriHash(x<<40)]|tri[keyTriHash(x<<32)]|tri[keyTriHash(x<<24)]|
			tri[keyTriHash(x<<16)]|tri[keyTriHash(x<<8)]|tri[keyTriHash(x)] != 0 {
			break
		}
	}
	for ; p+2 < len(text); p++ {
		x := uint64(text[p])<<40 | uint64(text[p+1])<<48 | uint64(text[p+2])<<56
		if tri[keyTriHash(x|keyFold)] != 0 {
			break
		}
	}
	return p
}

func (k *KeyRules) addTri(a, b, c byte) {
	x := uint64(a)<<40 | uint64(b)<<48 | uint64(c)<<56
	k.tri[keyTriHash(x|keyFold)] = 1
}

func compileAllows(data []keyAllowData) []keyAllow {
	var as []keyAllow
	for _, d := range data {
		a := keyAllow{target: d.target, and: d.and, nstop: len(d.stopwords)}
		for _, re := range d.regexes {
			a.regexes = append(a.regexes, regexp.MustCompile(re))
		}
		if len(d.stopwords) > 0 {
			a.stop = map[[2]byte][]string{}
			for _, w := range d.stopwords {
				if len(w) >= 2 {
					key := [2]byte{w[0], w[1]}
					a.stop[key] = append(a.stop[key], w)
				}
			}
		}
		as = append(as, a)
	}
	return as
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
}

// Scan returns the secrets that the rules find in text, as findings of
// kind [KindSecret] typed with the gitleaks rule ID, '-' turned into '_'
// ("generic_api_key", "stripe_access_token"). A finding covers the
// rule's secret group. Findings are ordered by offset and do not overlap:
// of overlapping ones the longest is kept.
//
// Scan makes one pass over text with the keyword automaton and allocates
// nothing unless a keyword passes its rule's gate; a rule's regular
// expression then runs over windows around such hits only (a few hundred
// bytes to a few kilobytes). Unlike gitleaks, which runs a rule over a
// whole file when its keyword occurs anywhere in it, a rule here needs its
// keyword near the match; gitleaks' "gitleaks:allow" comment is not
// honoured, as the text is not trusted.
func (k *KeyRules) Scan(text string) []Finding {
	var buf [8]keyPending // pending windows: few at a time, kept off the heap
	pending := buf[:0]
	var out []Finding
	nc := int32(k.nc)
	next, cls, tri := k.next, &k.cls, k.tri
	n := len(text)
	// The automaton reports each keyword hit at its end, longer keywords
	// first. While it is in a shallow state, text[i-1:] (the root: text[i:])
	// is all it remembers; the loop then skips the positions where tri
	// says no keyword starts, and restarts the automaton at the root at
	// the first position where one may: no hit is lost and none is
	// reported out of order, as no keyword starts at a skipped position.
	i := 0
	s := int32(0) // premultiplied by nc
	for i < n {
		p := i
		if s != 0 {
			p-- // a depth-one state: a keyword may start at i-1
		}
		p = keySkip(tri, text, p)
		if p != i-1 {
			s, i = 0, p
		}
		for i < n {
			s = next[s+int32(cls[text[i]])]
			i++
			if s < k.shallow {
				break
			}
			if s < k.outStart {
				continue
			}
			for _, kwi := range k.out[(s-k.outStart)/nc] {
				kw := &k.kws[kwi]
				start, end := i-kw.n, i
				for _, ri := range kw.rules {
					if k.rules[ri].gate(text, start, end) {
						pending = k.hit(pending, &out, text, int(ri), start, end)
					}
				}
			}
		}
	}
	for _, p := range pending {
		out = k.flush(out, text, p)
	}
	return dedupeFindings(out)
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
				return r.d.assignMin == 0 || secretRunNear(text, j+1, r.d.assignMin)
			case ' ', '\t', '\n', '\r', '\f', '\v', '.', '-', '\'', '"':
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
		e := p
		for e < len(text) && e-p < n && isSecretByte(text[e]) {
			e++
		}
		if e-p >= n {
			return true
		}
	}
	return false
}

// keyContainsFold reports whether s contains the lower-case ASCII word w,
// ignoring ASCII case.
func keyContainsFold(s, w string) bool {
	c0 := w[0]
	for i := 0; i+len(w) <= len(s); i++ {
		if keyLower(s[i]) != c0 {
			continue
		}
		j := 1
		for j < len(w) && keyLower(s[i+j]) == w[j] {
			j++
		}
		if j == len(w) {
			return true
		}
	}
	return false
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
func (k *KeyRules) hit(pending []keyPending, out *[]Finding, text string, ri, start, end int) []keyPending {
	r := &k.rules[ri]
	var a, b int
	var safeA, safeB bool
	if r.prefixKeywords {
		a, safeA = start, true
		b, safeB = snapEnd(text, start+r.after)
	} else {
		a, safeA = snapStart(text, start-r.before)
		b, safeB = snapEnd(text, end+r.after)
	}
	for j := range pending {
		p := &pending[j]
		if p.rule != ri {
			continue
		}
		if a <= p.b {
			if b > p.b {
				p.b, p.safeB = b, safeB
			}
			return pending
		}
		*out = k.flush(*out, text, *p)
		*p = keyPending{rule: ri, a: a, b: b, safeA: safeA, safeB: safeB}
		return pending
	}
	return append(pending, keyPending{rule: ri, a: a, b: b, safeA: safeA, safeB: safeB})
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
	for a < len(text) && !utf8.RuneStart(text[a]) {
		a++
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
	for b > 0 && !utf8.RuneStart(text[b]) {
		b--
	}
	return b, false
}

// flush runs the pending window's rule over it and records its findings.
func (k *KeyRules) flush(out []Finding, text string, p keyPending) []Finding {
	pa, pb := p.a, p.b
	r := &k.rules[p.rule]
	for _, w := range r.d.needs {
		if !keyContainsFold(text[pa:pb], w) {
			return out
		}
	}
	c := r.compiled()
	for _, m := range c.re.FindAllStringSubmatchIndex(text[pa:pb], -1) {
		m0, m1 := m[0]+pa, m[1]+pa
		if m0 == pa && !p.safeA || m1 == pb && !p.safeB {
			continue // the window may have cut the text short
		}
		for m0 < m1 && text[m0] == '\n' {
			m0++
		}
		for m1 > m0 && text[m1-1] == '\n' {
			m1--
		}
		if m1 <= m0 {
			continue
		}
		s0, s1 := m0, m1
		if g := r.d.secretGroup; g > 0 {
			if 2*g+1 >= len(m) || m[2*g] < 0 {
				continue
			}
			s0, s1 = m[2*g]+pa, m[2*g+1]+pa
		} else {
			for g := 1; 2*g+1 < len(m); g++ {
				if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
					s0, s1 = m[2*g]+pa, m[2*g+1]+pa
					break
				}
			}
		}
		s0, s1 = max(s0, m0), min(s1, m1)
		if s1 <= s0 {
			continue
		}
		secret := text[s0:s1]
		if r.d.entropy != 0 && keyEntropy(secret) <= r.d.entropy {
			continue
		}
		lower := strings.ToLower(secret)
		if allowed(k.global(), text, m0, m1, s0, s1, lower) || allowed(c.allow, text, m0, m1, s0, s1, lower) {
			continue
		}
		out = append(out, Finding{Kind: KindSecret, Type: r.d.typ, Start: s0, End: s1})
	}
	return out
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
		for _, x := range a.regexes {
			if x.MatchString(target) {
				re = true
				break
			}
		}
		stop := a.containsStopword(lowerSecret)
		if a.and {
			if (len(a.regexes) == 0 || re) && (a.nstop == 0 || stop) {
				return true
			}
		} else if re || stop {
			return true
		}
	}
	return false
}

func (a *keyAllow) containsStopword(s string) bool {
	if a.nstop == 0 {
		return false
	}
	for i := 0; i+1 < len(s); i++ {
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
