package sanitize

import "slices"

// InputScanOptions configure an [InputScanner]. The zero value runs every
// rule family (secrets, both our rules and gitleaks' key rules, personal
// data, invisible Unicode, prompt injection) with the injection detector's
// defaults and no deny rules.
// Turning a family off is a loosening: it is a named field so that it
// shows in review.
type InputScanOptions struct {
	// Injection configures the prompt-injection heuristics, as for
	// [NewInjectionDetector]; the same values are refused. Its Classifier
	// is never called by [InputScanner.Scan] (which does no I/O).
	// Default: the zero [InjectionOptions].
	Injection InjectionOptions
	// Deny, when not nil, is matched as well and its findings are returned
	// in [InputScan.Deny]. Default: none.
	Deny *DenyList
	// SkipSecrets turns off the rules of [ScanSecrets]. Default: false.
	SkipSecrets bool
	// SkipKeyRules turns off gitleaks' rules, those of [ScanKeyRules].
	// Default: false.
	SkipKeyRules bool
	// SkipPII turns off the rules of [ScanPII]. Default: false.
	SkipPII bool
	// SkipUnicode turns off the rules of [ScanUnicode]. Default: false.
	SkipUnicode bool
	// SkipInjection turns off the rules of [InjectionDetector.Score].
	// Default: false.
	SkipInjection bool
}

// InputScanner runs the checks secureai's input stage applies to each
// text field — [ScanSecrets], [ScanKeyRules], [ScanPII], [ScanUnicode] and
// [InjectionDetector.Score], and optionally a [DenyList] — as one scan.
// Its results equal those of the separate scanners.
//
// A single table classifies every byte: ASCII letters and digits make
// words; each word is tested against
// the injection lexicon's Bloom filter, and only a word holding a byte
// that can start a secret or PII rule ('A', 'G', 'J' or a digit) is looked
// at by those rules. Punctuation
// that can start a rule ('-', '_', '=', ':', '@', '+', '(', '<', '[', ']')
// dispatches to it, and a byte >= 0x80 or a control character to the
// homoglyph and invisible-character rules. On processors with AVX-512
// VBMI or AVX2 the pass does not walk every word: a vector classifier
// marks, 64 bytes at a time, the bytes that dispatch and the words whose first
// four bytes may start a lexicon word (or that are 16 bytes long or
// more), and only those are visited; elsewhere regular text costs a
// table load per byte and a Bloom-filter probe per word. The key rules' keyword
// filter (a hashed trigram probe per byte, see [KeyRules.Scan]) runs
// inside the same pass, over each 4 KiB chunk just before the word loop
// reaches it, while the chunk is in the processor's cache; their automaton
// runs only where the filter says a keyword may start.
//
// Build one with [NewInputScanner]; it is immutable and safe for
// concurrent use. The zero value is not usable. Most callers want
// [InputScanner.Scan]; a loop over many texts can reuse one [InputScan]
// with [InputScanner.ScanInto] and allocate nothing when nothing is found.
type InputScanner struct {
	inj                   *InjectionDetector // nil: injection off
	deny                  *DenyList
	keys                  *KeyRules // nil: key rules off
	secrets, pii, unicode bool
	vec                   *inVecTables // nil: the scalar pass
}

// NewInputScanner returns a scanner configured by opts. It refuses the
// injection options [NewInjectionDetector] refuses, with the same errors.
func NewInputScanner(opts InputScanOptions) (*InputScanner, error) {
	s := &InputScanner{
		deny:    opts.Deny,
		secrets: !opts.SkipSecrets,
		pii:     !opts.SkipPII,
		unicode: !opts.SkipUnicode,
	}
	s.vec = vecTables()
	if s.pii {
		nanpaPrefixes() // built once, here rather than in a first request
	}
	if !opts.SkipKeyRules {
		s.keys = DefaultKeyRules()
	}
	d, err := NewInjectionDetector(opts.Injection)
	if err != nil {
		return nil, err
	}
	if !opts.SkipInjection {
		s.inj = d
	}
	return s, nil
}

// InputScan is the result of [InputScanner.Scan]: the findings of each
// rule family, each ordered by offset as the separate scanner orders them,
// and the injection verdict. A family that found nothing, or was turned
// off, has a nil (or, after [InputScanner.ScanInto], empty) slice.
//
// Secrets holds the findings of [ScanSecrets] and of [ScanKeyRules]
// together, sorted as [MultiScanner.Scan] sorts them (by offset, then
// longest first, then type). The two rule sets are not deduplicated
// against each other: where both find the same key (ScanSecrets'
// "github_token" and gitleaks' "github_pat", say), both findings are
// kept, as [NewScanner]'s MultiScanner keeps them; [Apply] merges
// overlapping findings.
type InputScan struct {
	Secrets   []Finding       // as [ScanSecrets] and [ScanKeyRules], merged
	PII       []Finding       // as [ScanPII]
	Invisible []Finding       // as [ScanUnicode]
	Deny      []Finding       // as [DenyList.Scan]
	Injection InjectionResult // as [InjectionDetector.Score]

	keys []Finding // ScanInto's scratch for the key rules' findings
}

// Empty reports whether nothing was found: no finding of any family and
// no injection signal.
func (r *InputScan) Empty() bool {
	return len(r.Secrets) == 0 && len(r.PII) == 0 && len(r.Invisible) == 0 && len(r.Deny) == 0 &&
		len(r.Injection.Signals) == 0
}

// Findings appends to dst every finding, the injection signals included
// (kind [KindInjection], as [InjectionDetector.Scan] reports them) when
// the text was flagged, sorted as [MultiScanner.Scan] sorts them, and
// returns the extended slice.
func (r *InputScan) Findings(dst []Finding) []Finding {
	n := len(dst)
	dst = append(dst, r.Secrets...)
	dst = append(dst, r.PII...)
	dst = append(dst, r.Invisible...)
	dst = append(dst, r.Deny...)
	if r.Injection.Flagged {
		for _, s := range r.Injection.Signals {
			dst = append(dst, Finding{Kind: KindInjection, Type: s.Name, Start: s.Start, End: s.End})
		}
	}
	slices.SortStableFunc(dst[n:], compareFindings)
	return dst
}

// Scan scans text with every rule family turned on. It does not retain
// text, and allocates nothing when nothing is found and the deny list (if
// any) has no pattern. Invalid UTF-8 is scanned as is (and reported by the
// Unicode rules).
func (s *InputScanner) Scan(text string) InputScan {
	var r InputScan
	s.scan(&r, text)
	return r
}

// ScanInto is Scan writing into r: it truncates r's slices and appends to
// them, so that a caller scanning many texts reuses their storage. r must
// not be in use elsewhere; the signals of r.Injection are reused too.
func (s *InputScanner) ScanInto(r *InputScan, text string) {
	r.Secrets, r.PII, r.Invisible, r.Deny, r.keys = r.Secrets[:0], r.PII[:0], r.Invisible[:0], r.Deny[:0], r.keys[:0]
	r.Injection = InjectionResult{Signals: r.Injection.Signals[:0]}
	s.scan(r, text)
}

func (s *InputScanner) scan(r *InputScan, text string) {
	var (
		sec = secretState{out: r.Secrets, lastTried: -1}
		pii = piiState{out: r.PII, lastIP: -1}
		uni = unicodeState{out: r.Invisible}
		st  = injState{sigs: r.Injection.Signals}
		ks  = keyState{k: s.keys, out: r.keys}
		p   = pass{d: s.inj, inj: &st, vec: s.vec}
	)
	if s.keys != nil {
		p.key = &ks
	}
	if s.secrets {
		p.sec = &sec
	}
	if s.pii {
		p.pii = &pii
	}
	if s.unicode {
		p.uni = &uni
	}
	p.run(text)
	uni.flush()
	r.Secrets, r.PII, r.Invisible = sec.out, pii.out, uni.out
	if s.keys != nil {
		r.keys = ks.finish(text)
		if len(r.keys) > 0 {
			// Sorted as MultiScanner sorts ScanSecrets' findings followed
			// by ScanKeyRules'.
			r.Secrets = append(r.Secrets, r.keys...)
			if len(r.Secrets) > len(r.keys) {
				slices.SortStableFunc(r.Secrets, compareFindings)
			}
		}
	}
	if s.inj != nil {
		// The Unicode findings, when computed, are those the
		// injection rules need: no second scan.
		sigs := s.inj.finish(&st, text, 0, r.Invisible, s.unicode)
		sc := combine(sigs)
		r.Injection = InjectionResult{Score: sc, Flagged: sc >= s.inj.threshold, Signals: sigs}
	}
	if s.deny != nil {
		// The deny list's automaton must see every byte; it is its own
		// pass (see the package notes on DenyList).
		r.Deny = append(r.Deny, s.deny.Scan(text)...)
	}
}

// Byte classes of the combined pass, as bits.
const (
	kWord = 1 << iota // ASCII letter or digit
	kSec              // marked in anchor (secrets)
	kPII              // marked in piiAnchor
	kInj              // '<', '[', ']': injection markup
	kHigh             // >= 0x80
	kCtrl             // a control character ScanUnicode reports
)

// inClass is the byte-class table of the combined pass.
var inClass = func() (t [256]uint8) {
	for c := range 256 {
		b := byte(c)
		if isAlnum(b) {
			t[c] |= kWord
		}
		if anchor[c] != 0 {
			t[c] |= kSec
		}
		if piiAnchor[c] != 0 {
			t[c] |= kPII
		}
		if c >= 0x80 {
			t[c] |= kHigh
		}
		if c < 0x20 && b != '\t' && b != '\n' && b != '\r' {
			t[c] |= kCtrl
		}
	}
	t['<'] |= kInj
	t['['] |= kInj
	t[']'] |= kInj
	return t
}()

// pass is the state of one combined pass over a text. Nil families are
// off. It lives on the stack.
type pass struct {
	d     *InjectionDetector
	inj   *injState
	depth int
	sec   *secretState
	pii   *piiState
	uni   *unicodeState
	key   *keyState
	// keyAt: the next position where a key rules' keyword may start.
	keyAt int
	// vec, when not nil, is the vector classifier (see runVec).
	vec *inVecTables
	// hiEnd: the bytes before it from the last code point [pass.high]
	// took on were all taken with it: its continuation bytes, and the run
	// of quiet code points after it (see quietRun); none is dispatched
	// again.
	hiEnd int
}

// keyChunk is how far ahead of the word loop the key rules' keyword filter
// runs.
const keyChunk = 4096

// keys runs the key rules' automaton at every position before to where
// their keyword filter says a keyword may start, and returns to.
func (p *pass) keys(text string, to int) int {
	p.keyAt = p.key.upTo(text, p.keyAt, to)
	return to
}

// run makes the pass over text described on [InputScanner], with the
// vector classifier when the pass has one (see runVec).
func (p *pass) run(text string) {
	if p.vec != nil {
		p.runVec(text, p.vec)
		return
	}
	n := len(text)
	injNext := 0                            // the injection rules skip what an encoded run covered
	anchors := p.sec != nil || p.pii != nil // words hold no other anchors
	for i := 0; i < n; {
		lim := n
		if p.key != nil {
			// Run the key rules over the keyword starts before lim.
			lim = p.keys(text, min(n, i+keyChunk))
		}
		for i < lim {
			k := inClass[text[i]]
			if k&kWord != 0 {
				// A byte loop: in prose, words are short and a SWAR word
				// end measured slower.
				j, m := i+1, k
				for j < n {
					kj := inClass[text[j]]
					if kj&kWord == 0 {
						break
					}
					m |= kj
					j++
				}
				if m&(kSec|kPII) != 0 && anchors {
					p.wordAnchors(text, i, j)
				}
				if p.d != nil && i >= injNext && injMay(text, i, j) {
					injNext = p.injWord(text, i, j, injNext)
				}
				i = j
				if i < n && text[i] == ' ' {
					i++
				}
				continue
			}
			if k != 0 {
				injNext = p.dispatch(text, i, k, injNext)
			}
			i = max(i+1, p.hiEnd)
		}
	}
}

// injMay reports whether the injection rules may act on the word
// text[i:j]: it is at least 16 bytes long (an encoded payload, maybe), or
// 2 to 15 and passes the lexicon's Bloom filter.
func injMay(text string, i, j int) bool {
	wl := j - i
	if wl >= 16 {
		return true
	}
	if wl < 2 {
		return false
	}
	h := injBloomHash(text[i]|0x20, text[i+1]|0x20, text[i+min(3, wl-1)]|0x20, text[j-1]|0x20, wl)
	return injTab.bloom[h>>6]&(1<<(h&63)) != 0
}

// injWord runs the injection rules on the word text[i:j] that injMay let
// through, and returns where they next look (injNext, or past an encoded
// run).
func (p *pass) injWord(text string, i, j, injNext int) int {
	if j-i >= 16 {
		if e := p.d.encoded(p.inj, text, i, j, p.depth); e > j {
			return e
		}
	}
	if id := injTab.lookup(text, i, j); id >= 0 {
		p.d.word(p.inj, text, i, j, id, p.depth)
	}
	return injNext
}

// dispatch gives the byte at i, of class k, to the rules it may start
// (k's bits beyond kWord), and returns where the injection rules next
// look.
func (p *pass) dispatch(text string, i int, k uint8, injNext int) int {
	if k&kSec != 0 && p.sec != nil {
		p.sec.at(text, i)
	}
	if k&kPII != 0 && p.pii != nil {
		p.pii.at(text, i)
	}
	if k&kHigh != 0 { // a byte >= 0x80 has no other class
		return p.high(text, i, injNext)
	}
	if k&kCtrl != 0 && p.uni != nil {
		p.uni.at(text, i)
	}
	if k&kInj != 0 && p.d != nil && i >= injNext {
		switch text[i] {
		case '<':
			p.d.lt(p.inj, text, i)
		case '[':
			p.d.lb(p.inj, text, i)
		case ']':
			if i+1 < len(text) && text[i+1] == '(' {
				p.d.link(p.inj, text, i)
			}
		}
	}
	return injNext
}

// high gives the code point at text[i], which starts with a byte >= 0x80,
// to the Unicode and injection rules, and returns where the injection
// rules next look. When every family of the pass that looks at non-ASCII
// text takes the code point, it sets p.hiEnd to where the bytes taken with
// it end (none of them is dispatched again): the rest of the code point;
// and after a quiet code point (see quietLen) from U+0340 on, the run of
// quiet code points that follows (see quietRun). Neither family has
// anything to do at a quiet code point: the Unicode rules flag none, and
// the injection rules act on one only when it is a Cyrillic or Greek
// look-alike touching an ASCII letter (given to them as any other code
// point), or to note a CJK lead byte (noted here). So quiet code points
// are not decoded, and text in Cyrillic, Greek, Georgian, Arabic, Hebrew,
// Indic, Thai, Chinese, Japanese or Korean is taken a run at a time
// rather than a byte at a time.
func (p *pass) high(text string, i, injNext int) int {
	uni := p.uni != nil && i >= p.uni.next
	inj := p.d != nil && i >= injNext
	// take: both families take the code point (or the one that runs
	// does); otherwise one skips text[i] for reasons of its own.
	take := (uni || inj) && (uni || p.uni == nil) && (inj || p.d == nil)
	if w := quietLen(text, i); take && w > 0 &&
		!(w == 2 && text[i] >= 0xCD && (i > 0 && injLetter(text[i-1]) || i+2 < len(text) && injLetter(text[i+2]))) {
		// Quiet, and not a look-alike touching a letter: what the
		// families would note, noted without decoding it.
		end, cjk := i+w, text[i] >= 0xE3 && text[i] <= 0xE9
		// A run is looked for after a code point from U+0340 on: Latin
		// letters with marks come one or two in a word of ASCII letters.
		if text[i] >= 0xCD && end < len(text) && (text[end] >= 0x80 || inClass[text[end]] == 0) {
			var more bool
			end, more = quietRun(text, end)
			cjk = cjk || more
		}
		if uni {
			p.uni.next = end
		}
		if inj {
			injNext = end
			p.inj.cjk = p.inj.cjk || cjk
		}
		p.hiEnd = end
		return injNext
	}
	if uni {
		p.uni.at(text, i)
	}
	if inj {
		injNext = i + p.d.high(p.inj, text, i)
	}
	if take {
		// Both skip the rest of the code point: its continuation bytes
		// (and a flag's tag characters), all >= 0x80.
		p.hiEnd = injNext
		if !inj || uni && p.uni.next < injNext {
			p.hiEnd = p.uni.next
		}
	}
	return injNext
}

// quietLen returns the length of the code point at text[i] if it is valid
// UTF-8 and quiet, else 0. A quiet code point is one that [classify] flags
// in no context, whose lead byte [candidate] turns down, and that the
// injection rules act on only as a Cyrillic or Greek look-alike of a
// Latin letter: one of two bytes from U+00C0 to U+07FF (Latin letters with
// marks, IPA, Greek, Cyrillic, Armenian, Hebrew, Arabic, Syriac, Thaana,
// NKo), or one of three bytes but those of U+1140–U+117F and
// U+1800–U+183F (the Hangul fillers U+115F and U+1160, the Mongolian
// vowel separator U+180E), U+1D00–U+1DBF (small capitals), U+2000–U+207F
// (zero-width, bidi and other format characters), U+2480–U+24FF (circled
// letters), U+3140–U+317F (the Hangul filler U+3164), U+FE00–U+FE3F
// (variation selectors), U+FEC0–U+FEFF (the byte order mark), the
// full-width letters and U+FF80–U+FFBF (the half-width Hangul filler
// U+FFA0), or one of four bytes (emoji, rare CJK ideographs) but
// U+1D000–U+1DFFF (mathematical letters), the black flag U+1F3F4 that
// starts a tag sequence and U+E0000–U+E0FFF (tag characters, variation
// selectors). C1 controls, the soft hyphen and surrogates are not quiet.
func quietLen(text string, i int) int {
	c := text[i]
	switch {
	case c >= 0xC3 && c <= 0xDF:
		if i+1 < len(text) && text[i+1]&0xC0 == 0x80 {
			return 2
		}
	case c >= 0xE0 && c <= 0xEF:
		if i+2 >= len(text) || text[i+2]&0xC0 != 0x80 {
			return 0
		}
		b, x := text[i+1], text[i+2]
		if !quiet3(c, b) || c == 0xEF && (b == 0xBC && x >= 0xA1 && x <= 0xBA || b == 0xBD && x >= 0x81 && x <= 0x9A) {
			return 0 // not quiet, or a full-width letter
		}
		return 3
	case c >= 0xF0 && c <= 0xF4:
		if i+3 >= len(text) || text[i+2]&0xC0 != 0x80 || text[i+3]&0xC0 != 0x80 {
			return 0
		}
		b, lo, hi := text[i+1], byte(0x80), byte(0xBF)
		switch c {
		case 0xF0:
			lo = 0x90 // not overlong
			if b == 0x9D || b == 0x9F && text[i+2] == 0x8F && text[i+3] == 0xB4 {
				return 0 // mathematical letters; the black flag of tag sequences
			}
		case 0xF3:
			if b == 0xA0 {
				return 0 // tag characters, variation selectors
			}
		case 0xF4:
			hi = 0x8F // not past U+10FFFF
		}
		if b < lo || b > hi {
			return 0
		}
		return 4
	}
	return 0
}

// quiet3 reports whether the lead byte c (0xE0 to 0xEF) and the second
// byte b of a three-byte sequence, whose third byte is a continuation
// byte, make valid UTF-8 that quietLen may call quiet (the full-width
// letters aside).
func quiet3(c, b byte) bool {
	return b&0xC0 == 0x80 && !quietNot3[c&0x0F][b&0x3F] &&
		(c != 0xE0 || b >= 0xA0) && // not overlong
		(c != 0xED || b <= 0x9F) // not a surrogate
}

// quietNot3 marks the lead and second bytes of three-byte code points that
// are not quiet (see quietLen), by the low bits of each.
var quietNot3 = func() (t [16][64]bool) {
	for _, p := range [][2]byte{
		{0xE1, 0x85}, {0xE1, 0xA0}, {0xE1, 0xB4}, {0xE1, 0xB5}, {0xE1, 0xB6},
		{0xE2, 0x80}, {0xE2, 0x81}, {0xE2, 0x92}, {0xE2, 0x93},
		{0xE3, 0x85},
		{0xEF, 0xB8}, {0xEF, 0xBB}, {0xEF, 0xBE},
	} {
		t[p[0]&0x0F][p[1]&0x3F] = true
	}
	return t
}()

// quietRun returns the end of the run that [pass.high] takes at once from
// j: quiet code points and the ASCII bytes the pass does nothing at (no
// class in inClass: spaces, most punctuation), up to a byte of another
// kind or a code point an ASCII letter follows; and whether the run holds
// a lead byte of U+3000–U+9FFF (the injection rules' CJK pass).
func quietRun(text string, j int) (end int, cjk bool) {
	for j < len(text) {
		c := text[j]
		if c < 0x80 {
			if inClass[c] != 0 {
				break
			}
			j++
			continue
		}
		// Two- and three-byte code points but U+F000–U+FFFF, which most
		// runs are made of, are decided here rather than in quietLen,
		// each with a loop step of its own (one shared step measured
		// 1.3–1.4× slower on Cyrillic, Arabic and Georgian text).
		if c >= 0xC3 && c <= 0xDF && j+1 < len(text) && text[j+1]&0xC0 == 0x80 {
			if j+2 < len(text) && injLetter(text[j+2]) {
				break
			}
			j += 2
			continue
		}
		if c >= 0xE0 && c <= 0xEE {
			if j+2 >= len(text) || text[j+2]&0xC0 != 0x80 || !quiet3(c, text[j+1]) ||
				j+3 < len(text) && injLetter(text[j+3]) {
				break
			}
			cjk = cjk || c >= 0xE3 && c <= 0xE9
			j += 3
			continue
		}
		w := quietLen(text, j)
		if w == 0 || j+w < len(text) && injLetter(text[j+w]) {
			break
		}
		cjk = cjk || c >= 0xE3 && c <= 0xE9
		j += w
	}
	return j, cjk
}

// wordAnchors gives the anchor bytes ('A', 'G', 'J', digits) of the word
// text[i:j] to the secret and PII rules.
func (p *pass) wordAnchors(text string, i, j int) {
	for q := i; q < j; q++ {
		k := inClass[text[q]]
		if k&kSec != 0 && p.sec != nil {
			p.sec.at(text, q)
		}
		if k&kPII != 0 && p.pii != nil {
			p.pii.at(text, q)
		}
	}
}
