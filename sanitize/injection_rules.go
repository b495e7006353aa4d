package sanitize

import (
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// Handlers: what an anchor word triggers besides its lexicon weight.
const (
	hLex = iota
	hOverride
	hInstrNoun
	hExtract
	hSystem
	hRoleWord
	hNow
	hCharacter
	hMode
	hPolicy
	hLimits
	hTwo
	hRefuse
	hBound
	hMatter
	hDAN
	hEverything
	hRot13
	hDecode
	hLeetIgnore
	hFree
	hRestricted
	hGiven
	hStands
)

// Rule ids, for the halving of repeated firings (see injState.fire).
const (
	rLex = iota // lexicon words never repeat; one id for all
	rOverride
	rOverrideWeak
	rInstrFalse
	rNewInstr
	rExtract
	rSystemPrompt
	rRoleLine
	rRoleBracket
	rRoleJSON
	rTemplate
	rToolResult
	rNowOn
	rYouAreNow
	rDoAnything
	rStayChar
	rBreakChar
	rMode
	rPolicy
	rLimits
	rTwo
	rRefuse
	rBound
	rMatter
	rDAN
	rStop
	rFree
	rRestricted
	rGiven
	rStands
	rDelim
	rEncoded
	rDecode
	rObfTags
	rObfInvisible
	rObfHomoglyph
	rExfil
	rCJK
	rFolded
	nRules
)

// injAnchor is one anchor word (lower-case ASCII letters and digits, at
// most 16 bytes), the rule it triggers and its own jailbreak-persona
// weight (0: none), counted once per text.
type injAnchor struct {
	word string
	h    uint8
	lex  float64
}

var injAnchors = []injAnchor{
	// Override verbs, EN FR DE ES.
	{"ignore", hOverride, 0}, {"ignoring", hOverride, 0}, {"ignores", hOverride, 0},
	{"disregard", hOverride, 0}, {"disregarding", hOverride, 0}, {"forget", hOverride, 0},
	{"forgetting", hOverride, 0}, {"override", hOverride, 0}, {"overrule", hOverride, 0},
	{"bypass", hOverride, 0}, {"neglect", hOverride, 0}, {"discard", hOverride, 0},
	{"abandon", hOverride, 0}, {"erase", hOverride, 0},
	{"delete", hOverride, 0}, {"reset", hOverride, 0},
	{"nevermind", hOverride, 0.1}, {"overwrite", hOverride, 0},
	{"ignorez", hOverride, 0}, {"ignorer", hOverride, 0}, {"oublie", hOverride, 0},
	{"oubliez", hOverride, 0}, {"oublier", hOverride, 0}, {"ignoriere", hOverride, 0},
	{"ignorieren", hOverride, 0}, {"ignoriert", hOverride, 0}, {"vergiss", hOverride, 0},
	{"vergesst", hOverride, 0}, {"vergessen", hOverride, 0}, {"missachte", hOverride, 0},
	{"missachten", hOverride, 0}, {"ignora", hOverride, 0}, {"ignorar", hOverride, 0},
	{"ignoren", hOverride, 0}, {"olvida", hOverride, 0}, {"olvide", hOverride, 0},
	{"olviden", hOverride, 0}, {"olvidar", hOverride, 0}, {"omite", hOverride, 0},
	{"descarta", hOverride, 0},
	// Instruction nouns (false / new instructions).
	{"instructions", hInstrNoun, 0}, {"instruction", hInstrNoun, 0},
	// Extraction verbs.
	{"repeat", hExtract, 0}, {"print", hExtract, 0}, {"reveal", hExtract, 0},
	{"show", hExtract, 0}, {"output", hExtract, 0}, {"display", hExtract, 0},
	{"tell", hExtract, 0}, {"list", hExtract, 0}, {"relay", hExtract, 0},
	{"give", hExtract, 0}, {"share", hExtract, 0}, {"disclose", hExtract, 0},
	{"leak", hExtract, 0}, {"dump", hExtract, 0}, {"respond", hExtract, 0},
	{"copy", hExtract, 0}, {"recite", hExtract, 0}, {"echo", hExtract, 0},
	{"what", hExtract, 0}, {"spell", hExtract, 0}, {"provide", hExtract, 0},
	{"write", hExtract, 0}, {"paste", hExtract, 0}, {"expose", hExtract, 0},
	{"return", hExtract, 0}, {"translate", hExtract, 0},
	// Role words.
	{"system", hSystem, 0}, {"assistant", hRoleWord, 0}, {"user", hRoleWord, 0},
	{"human", hRoleWord, 0}, {"tool", hRoleWord, 0}, {"function", hRoleWord, 0},
	{"observation", hRoleWord, 0}, {"developer", hRoleWord, 0},
	// Persona phrases.
	{"now", hNow, 0}, {"character", hCharacter, 0}, {"mode", hMode, 0},
	{"policy", hPolicy, 0}, {"policies", hPolicy, 0},
	{"restrictions", hLimits, 0}, {"restriction", hLimits, 0}, {"filters", hLimits, 0},
	{"filter", hLimits, 0}, {"limitations", hLimits, 0}, {"limits", hLimits, 0},
	{"censorship", hLimits, 0.1}, {"boundaries", hLimits, 0}, {"morals", hLimits, 0.15},
	{"ethics", hLimits, 0}, {"guidelines", hLimits, 0}, {"rules", hLimits, 0},
	{"two", hTwo, 0}, {"refuse", hRefuse, 0}, {"refusing", hRefuse, 0}, {"decline", hRefuse, 0},
	{"bound", hBound, 0}, {"matter", hMatter, 0}, {"dan", hDAN, 0},
	{"everything", hEverything, 0}, {"free", hFree, 0}, {"restricted", hRestricted, 0},
	{"abide", hRestricted, 0}, {"subject", hRestricted, 0}, {"given", hGiven, 0},
	{"confines", hLex, 0.15}, {"immerse", hLex, 0.1}, {"unlocked", hLex, 0.1}, {"ruthless", hLex, 0.08},
	{"regardless", hLex, 0.04}, {"stands", hStands, 0},
	// Lexicon.
	{"jailbreak", hLex, 0.3}, {"jailbroken", hLex, 0.35}, {"jailbreaking", hLex, 0.3},
	{"jailbreaks", hLex, 0.3}, {"uncensored", hLex, 0.3}, {"unfiltered", hLex, 0.3},
	{"unrestricted", hLex, 0.3}, {"unlimited", hLex, 0.05}, {"amoral", hLex, 0.3},
	{"immoral", hLex, 0.2}, {"unethical", hLex, 0.2}, {"moral", hLex, 0.1},
	{"illegal", hLex, 0.12}, {"offensive", hLex, 0.08}, {"profanity", hLex, 0.15},
	{"swear", hLex, 0.1}, {"swearing", hLex, 0.12}, {"inappropriate", hLex, 0.1},
	{"openai", hLex, 0.12}, {"chatgpt", hLex, 0.04}, {"machiavellian", hLex, 0.3},
	{"evil", hLex, 0.08}, {"pretend", hLex, 0.12}, {"hypothetical", hLex, 0.08},
	{"consequences", hLex, 0.08}, {"censored", hLex, 0.15}, {"nsfw", hLex, 0.2},
	{"reprogramming", hLex, 0.35}, {"reprogram", hLex, 0.3}, {"hijacked", hLex, 0.2},
	{"unethically", hLex, 0.2}, {"harmful", hLex, 0.05}, {"dangerous", hLex, 0.03},
	{"explicit", hLex, 0.03}, {"racist", hLex, 0.1}, {"sexist", hLex, 0.08},
	{"unbound", hLex, 0.2}, {"uncensor", hLex, 0.3}, {"persona", hLex, 0.05},
	{"opposite", hLex, 0.05}, {"simulate", hLex, 0.04}, {"roleplay", hLex, 0.04},
	{"disclaimer", hLex, 0.05}, {"disclaimers", hLex, 0.08}, {"warnings", hLex, 0.05},
	{"anything", hLex, 0.03}, {"opinions", hLex, 0.04}, {"sentient", hLex, 0.1},
	{"freedom", hLex, 0.05}, {"rebel", hLex, 0.08}, {"lawless", hLex, 0.2},
	{"unhinged", hLex, 0.2}, {"obey", hLex, 0.08}, {"loophole", hLex, 0.1},
	{"bypassing", hLex, 0.1}, {"drugs", hLex, 0.04}, {"weapons", hLex, 0.04},
	{"pornographic", hLex, 0.1}, {"violent", hLex, 0.05}, {"ai", hLex, 0.02},
	// Encoded payloads.
	{"vtaber", hRot13, 0}, {"vafgehpgvbaf", hRot13, 0}, {"cerivbhf", hRot13, 0},
	{"flfgrz", hRot13, 0}, {"cebzcg", hRot13, 0}, {"qvfertneq", hRot13, 0},
	{"decode", hDecode, 0}, {"decipher", hDecode, 0}, {"1gnore", hLeetIgnore, 0},
	{"ign0re", hLeetIgnore, 0}, {"1gn0re", hLeetIgnore, 0},
}

const (
	injSlots    = 1 << 10
	injMaxWord  = 16
	injSlotBits = 10
)

type injSlot struct {
	lo, hi uint64
	n      uint8
	id     uint16 // index+1 into injAnchors; 0 = empty
}

// injTable finds anchor words: a 65,536-bit Bloom filter on (first,
// second, fourth, last letter, length) rejects almost every English word
// after four loads; survivors are looked up in an open-addressing table keyed
// by the word packed into two words.
type injTable struct {
	bloom [1 << 10]uint64
	slot  [injSlots]injSlot
}

var injTab = buildInjTable()

// injBloomHash hashes what the Bloom filter keys a word of n bytes on:
// its first two bytes, its fourth (its last when shorter), its last and
// its length, ASCII letters folded by the caller. The fourth byte tells
// "report" from "repeat".
func injBloomHash(c0, c1, c3, cl byte, n int) uint32 {
	x := uint64(c0) | uint64(c1)<<8 | uint64(c3)<<16 | uint64(cl)<<24 | uint64(n)<<32
	return uint32((x * 0x9E3779B97F4A7C15) >> 48)
}

func injSlotHash(lo, hi uint64, n int) int {
	return int((lo*0x9E3779B97F4A7C15 ^ hi*0xC2B2AE3D27D4EB4F ^ uint64(n)*0x165667B19E3779F9) >> (64 - injSlotBits))
}

// injPack lower-cases w (ASCII letters and digits) into two words.
func injPack(w string) (lo, hi uint64) {
	for k := 0; k < len(w); k++ {
		b := uint64(w[k] | 0x20)
		if k < 8 {
			lo |= b << (8 * k)
		} else {
			hi |= b << (8 * (k - 8))
		}
	}
	return lo, hi
}

// injPackAt is injPack(text[i:j]) (j-i <= 16), from eight-byte loads
// where the text holds them.
func injPackAt(text string, i, j int) (lo, hi uint64) {
	n := j - i
	switch {
	case n <= 8 && i+8 <= len(text):
		return (le64(text, i) | keyFold) & (^uint64(0) >> (64 - 8*n)), 0
	case n > 8 && i+16 <= len(text):
		return le64(text, i) | keyFold, (le64(text, i+8) | keyFold) & (^uint64(0) >> (128 - 8*n))
	}
	return injPack(text[i:j])
}

func buildInjTable() *injTable {
	t := new(injTable)
	if len(injAnchors) > 256 {
		panic("sanitize: more than 256 injection anchors") // injState.seen holds 256 bits
	}
	for i, a := range injAnchors {
		w := a.word
		n := len(w)
		if n < 2 || n > injMaxWord {
			panic("sanitize: bad injection anchor " + w) // a bug in the table above
		}
		h := injBloomHash(w[0], w[1], w[min(3, n-1)], w[n-1], n)
		t.bloom[h>>6] |= 1 << (h & 63)
		lo, hi := injPack(w)
		for s := injSlotHash(lo, hi, n); ; s = (s + 1) & (injSlots - 1) {
			if t.slot[s].id == 0 {
				t.slot[s] = injSlot{lo: lo, hi: hi, n: uint8(n), id: uint16(i + 1)}
				break
			}
			if t.slot[s].lo == lo && t.slot[s].hi == hi && int(t.slot[s].n) == n {
				panic("sanitize: duplicate injection anchor " + w)
			}
		}
	}
	return t
}

// lookup returns the anchor index of the word text[i:j] (ASCII
// alphanumerics) or -1. It does not test the Bloom filter: the pass hands
// on only words that injMay let through, which tests it.
func (t *injTable) lookup(text string, i, j int) int {
	n := j - i
	if n < 2 || n > injMaxWord {
		return -1
	}
	lo, hi := injPackAt(text, i, j)
	for s := injSlotHash(lo, hi, n); ; s = (s + 1) & (injSlots - 1) {
		sl := &t.slot[s]
		if sl.id == 0 {
			return -1
		}
		if sl.lo == lo && sl.hi == hi && int(sl.n) == n {
			return int(sl.id) - 1
		}
	}
}

// Word sets for the rules; an entry ending in '*' matches as a prefix.
// Matching ignores case (Unicode simple folding).
var (
	injOverrideNouns = injMkVecSet(
		"instruction*", "direction*", "rule*", "prompt*", "guideline*", "command*", "context",
		"constraint*", "programming", "restriction*", "polic*", "orders", "training",
		"filter*", "safeguard*", "directive*", "everything", "text",
		"consigne*", "règle*", "regle*", "indication*", "ordre*",
		"anweisung*", "instruktion*", "regel*", "befehl*", "vorgabe*", "richtlinie*", "systemprompt",
		"instruccion*", "instrucción*", "regla*", "indicacion*", "indicación*", "orden*", "norma*", "directriz", "directrices",
	)
	injStrongQual = injMkSet(
		"previous*", "prior", "above", "earlier", "preceding", "foregoing", "initial", "original",
		"old", "your", "system", "before", "existing", "prev", "safety", "ethical", "moral",
		"précédent*", "precedent*", "antérieur*", "anterieur*", "dessus", "tes", "vos",
		"vorherig*", "bisherig*", "obig*", "vorig*", "deine", "ihre", "alten",
		"anterior*", "previa*", "previo*", "tus", "sus",
	)
	injWeakQual  = injMkSet("all", "any", "every", "other", "alle", "allen", "toutes", "tous", "todas", "todos")
	injCoreVerbs = injMkSet(
		"ignore", "ignoring", "ignores", "disregard", "disregarding", "forget", "forgetting", "bypass",
		"ignorez", "ignorer", "oublie", "oubliez", "ignoriere", "vergiss", "ignora", "olvida", "nevermind",
	)
	injFalse = injMkSet(
		"false", "void", "invalid", "obsolete", "cancelled", "canceled", "revoked", "null", "outdated",
		"overridden", "superseded", "wrong", "irrelevant", "fake", "replaced", "deprecated", "over",
	)
	injNew         = []string{"new", "updated", "real", "actual", "true", "revised", "secret", "hidden", "reprogramming"}
	injExtractNoun = injMkVecSet(
		"instruction*", "prompt*", "directive*", "guideline*", "rules", "parameters", "configuration",
		"programming", "preprompt", "pre-prompt", "exemplars",
	)
	injExtractQual   = injMkSet("verbatim", "every", "given", "above", "full", "entire", "preceding", "previous")
	injExtractStrong = injMkSet("initial", "initials", "system", "hidden", "secret", "system’s")
	injRevealVerbs   = injMkSet(
		"repeat", "print", "reveal", "show", "output", "display", "tell", "list", "relay", "give", "share",
		"disclose", "leak", "dump", "respond", "recite", "echo", "spell", "paste", "expose", "copy",
	)
)

// injSet is a word set of the rules: entries ending in '*' match as a
// prefix; matching ignores case (Unicode simple folding).
type injSet struct {
	// rows[a&31] has bit b&31 set for an entry starting with the ASCII
	// bytes a, b; all bits of row a&31 for an entry starting with a
	// and shorter than two bytes or not ASCII at its second byte; all
	// bits of all rows for an entry not starting with an ASCII byte. Two
	// ASCII bytes that fold to each other agree in their low five bits.
	rows  [32]uint32
	words []injSetWord
	// vec: find may read from the masks that none of the next words is
	// in the set (see injMkVecSet): an ASCII word is in it only if
	// ascii01[w[0]&31] has bit w[1]&31 and ascii12[w[1]&31] bit w[2]&31.
	vec              bool
	ascii01, ascii12 [32]uint32
	// filtered: vec, and every ASCII word in the set has its start in
	// the pass masks of injWordMasks (see injFilteredSets).
	filtered bool
}

type injSetWord struct {
	w      string // without the '*'
	prefix bool
	c0     byte // the entry's first byte |0x20, or 0: non-ASCII
}

// injMkVecSet is injMkSet for a set find looks for over many words (six):
// it also fills the set's ASCII pair rows, with which injWordMasks.none
// tells from the vector pass's masks that none of the next words is in
// it. A set whose entries could match an ASCII word through a non-ASCII
// letter that folds to an ASCII one (U+212A KELVIN SIGN, U+017F LONG S),
// or that has an entry of fewer than three bytes, gets no rows.
func injMkVecSet(words ...string) *injSet {
	set := injMkSet(words...)
	set.vec = true
	for _, e := range set.words {
		rs := []rune(e.w)
		if len(rs) < 3 {
			set.vec = false
			continue
		}
		ascii := true
		for _, r := range rs[:3] {
			if r < utf8.RuneSelf {
				continue
			}
			ascii = false
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				if f < utf8.RuneSelf {
					set.vec = false
				}
			}
		}
		if ascii { // an entry that is not cannot match an ASCII word
			set.ascii01[e.w[0]&31] |= 1 << (e.w[1] & 31)
			set.ascii12[e.w[1]&31] |= 1 << (e.w[2] & 31)
		}
	}
	return set
}

// injFilteredSets are the sets looked for after a common word ("what"
// looks six words on for injExtractNoun) whose entries the vector pass's
// kernels also let through (see inFilterWords), so that
// injWordMasks.none tests only the words whose starts they pass. Being
// in this list is what marks a set filtered.
var injFilteredSets = injMarkFiltered(injExtractNoun)

// injMarkFiltered marks the sets (made by injMkVecSet) as filtered and
// returns them.
func injMarkFiltered(sets ...*injSet) []*injSet {
	for _, set := range sets {
		set.filtered = set.vec
	}
	return sets
}

func injMkSet(words ...string) *injSet {
	set := &injSet{words: make([]injSetWord, 0, len(words))}
	for _, s := range words {
		p, ok := strings.CutSuffix(s, "*")
		e := injSetWord{w: p, prefix: ok}
		switch {
		case p == "" || p[0] >= utf8.RuneSelf:
			for r := range set.rows {
				set.rows[r] = ^uint32(0)
			}
		case len(p) < 2 || p[1] >= utf8.RuneSelf:
			e.c0 = p[0] | 0x20
			set.rows[p[0]&31] = ^uint32(0)
		default:
			e.c0 = p[0] | 0x20
			set.rows[p[0]&31] |= 1 << (p[1] & 31)
		}
		set.words = append(set.words, e)
	}
	return set
}

// miss reports, from its first two bytes, that the non-empty w is not in
// set.
func (set *injSet) miss(w string) bool {
	if w[0] >= utf8.RuneSelf {
		return false
	}
	row := set.rows[w[0]&31]
	return row == 0 || len(w) > 1 && w[1] < utf8.RuneSelf && row&(1<<(w[1]&31)) == 0
}

// injIn reports whether w is in set.
func injIn(w string, set *injSet) bool {
	if w == "" {
		return false
	}
	if set.miss(w) {
		return false
	}
	var c byte // w's first byte |0x20 if ASCII, else 0
	if w[0] < utf8.RuneSelf {
		c = w[0] | 0x20
	}
	for k := range set.words {
		e := &set.words[k]
		// Two different ASCII first bytes that are not one letter in two
		// cases never fold to each other: skip EqualFold.
		if c != 0 && e.c0 != 0 && c != e.c0 {
			continue
		}
		if e.prefix {
			if len(w) >= len(e.w) && strings.EqualFold(w[:len(e.w)], e.w) {
				return true
			}
		} else if strings.EqualFold(w, e.w) {
			return true
		}
	}
	return false
}

// injWordRune reports whether r belongs to a word for the rules.
func injWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		c := byte(r)
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	return r == '’' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// injNextWord returns the next word at or after pos, and whether a
// sentence end (". ", "!", "?", ";", a newline) lies before it.
func injNextWord(text string, pos int) (s, e int, stop bool) {
	// Fast path: ASCII separators that end no sentence, then an ASCII
	// word; anything else is the slow path's.
	i := pos
	for ; i < len(text); i++ {
		c := text[i]
		if injClass[c] == cWord {
			break
		}
		if c >= utf8.RuneSelf || c == '.' || c == '!' || c == '?' || c == ';' || c == '\n' {
			return injNextWordSlow(text, pos)
		}
	}
	s = i
	for i < len(text) && injClass[text[i]] == cWord {
		i++
	}
	if i < len(text) && text[i] >= utf8.RuneSelf {
		return injNextWordSlow(text, pos)
	}
	return s, i, false
}

// injWordMasks holds the vector pass's masks of ASCII letters and digits
// (the words of injNextWord) over text[base:base+64*n], one bit a
// position, zero past the text's end, so that the rules' look ahead over
// the next few words (find, anyBetween, nextIs) jumps from word to word
// with bit operations instead of reading every byte, and the vector pass
// finds the ends of the words it hands them (end). It is empty (n == 0)
// outside the vector pass, and for any other text (the folded text).
//
// m[b] holds the masks of block b as the kernel writes them (see
// inVecTables.inMasks), each a bit a position: the letters and digits;
// the bytes the pass dispatches on, every byte >= 0x80 among them; and
// the positions the kernel's filter lets through (see inFilterWords). The
// vector pass has the kernel write them here, so they are neither copied
// nor zeroed a second time.
type injWordMasks struct {
	text    string
	base, n int
	m       inVecMasks
}

// none reports that none of the max words after pos is in set (made by
// injMkVecSet), from the masks and the words' first three bytes against
// set's ASCII pair rows, without a branch that depends on the words (of a
// set of injFilteredSets, only the words whose starts are in pass
// are tested: mostly none). It answers only where the words are
// injNextWord's: no byte the pass dispatches on (which every byte >= 0x80
// is) lies from pos to just after the last of them, so that no Unicode
// letter joins or splits a word and the words are ASCII. A sentence end
// among them does not matter: find would stop sooner, and none of the
// words is in set either way. It returns false where it cannot tell.
func (w *injWordMasks) none(text string, pos, max int, set *injSet) bool {
	off, ok := w.covers(text, pos)
	if !ok {
		return false
	}
	// The words' starts and ends (the position after a word) in the
	// block of pos and the next, as one 128-bit mask each: the words'
	// loads do not wait on one another.
	b, o := off>>6, uint(off&63)
	base := w.base + b<<6
	lo, hi := w.m[b][0], uint64(0)
	if b+1 < w.n {
		hi = w.m[b+1][0]
	}
	sLo := (lo&^(lo<<1) | lo&(1<<o)) &^ (1<<o - 1) // a word starts at pos if a letter is there
	sHi := hi &^ (hi<<1 | lo>>63)
	eLo := ^lo & (lo << 1) &^ (2<<o - 1) // ends after pos
	eHi := ^hi & (hi<<1 | lo>>63)
	if b+1 >= w.n {
		eHi = 0 // the next block is not in the masks: its ends are not known
	}
	// The end of the last word: the max-th end after pos. As a word
	// starts before each end, the words that start from pos up to it are
	// the max words.
	for range max - 1 {
		if eLo != 0 {
			eLo &= eLo - 1
		} else {
			eHi &= eHi - 1
		}
	}
	var e uint
	switch {
	case eLo != 0:
		e = uint(bits.TrailingZeros64(eLo))
		sLo &= 1<<e - 1
		sHi = 0
	case eHi != 0:
		e = 64 + uint(bits.TrailingZeros64(eHi))
		sHi &= 1<<(e-64) - 1
	default:
		return false
	}
	if set.filtered {
		sLo &= w.m[b][2]
		if sHi != 0 {
			sHi &= w.m[b+1][2]
		}
	}
	var hit uint32
	for k, starts := range [2]uint64{sLo, sHi} {
		for ; starts != 0; starts &= starts - 1 {
			s := base + k<<6 + bits.TrailingZeros64(starts)
			if s+2 >= len(text) {
				return false
			}
			hit |= set.ascii01[text[s]&31] >> (text[s+1] & 31) & (set.ascii12[text[s+1]&31] >> (text[s+2] & 31))
		}
	}
	return hit&1 == 0 && !w.specIn(pos, base+int(e)+1)
}

// end returns the end of the word of ASCII letters and digits that
// starts at s, a position the masks cover: from the masks while they
// reach (zero past the text's end), then from the text.
func (w *injWordMasks) end(text string, s int) int {
	off := s - w.base
	b := off >> 6
	if na := ^w.m[b][0] >> (off & 63); na != 0 {
		return s + bits.TrailingZeros64(na)
	}
	e := w.base + (b+1)<<6
	for b++; b < w.n; b++ {
		if na := ^w.m[b][0]; na != 0 {
			return e + bits.TrailingZeros64(na)
		}
		e += 64
	}
	for e < len(text) && injAlnum(text[e]) {
		e++
	}
	return e
}

// use says that m holds the masks of the n blocks of text from base,
// which the vector pass's kernel has just written there.
func (w *injWordMasks) use(text string, base, n int) {
	w.text, w.base, w.n = text, base, n
}

// covers reports whether the masks are of text and hold position pos,
// and if so pos's offset from their start.
func (w *injWordMasks) covers(text string, pos int) (off int, ok bool) {
	off = pos - w.base
	return off, uint(off) < uint(w.n)<<6 && len(text) == len(w.text) && unsafe.StringData(text) == unsafe.StringData(w.text)
}

// specIn reports whether a position in [from, to) is in spec; both lie
// in what the masks cover.
func (w *injWordMasks) specIn(from, to int) bool {
	for from < to {
		b, o := (from-w.base)>>6, (from-w.base)&63
		m := w.m[b][1] >> o
		if n := to - from; n < 64-o {
			m &= 1<<n - 1
		}
		if m != 0 {
			return true
		}
		from += 64 - o
	}
	return false
}

// injGap is 1 for the bytes that may lie between two words without
// making injNextWord take its slow path: ASCII, not a letter or digit,
// and not a sentence end.
var injGap = func() (t [256]uint8) {
	for c := range utf8.RuneSelf {
		if injClass[c] != cWord && !strings.ContainsRune(".!?;\n", rune(c)) {
			t[c] = 1
		}
	}
	return t
}()

// nextWord is injNextWord(text, pos), found from st.words when they cover
// text at pos and the word after it; where they do not, or where the gap
// or the word's end holds a byte injNextWord's fast path leaves to its
// slow one, it is injNextWord.
func (st *injState) nextWord(text string, pos int) (s, e int, stop bool) {
	w := &st.words
	off, ok := w.covers(text, pos)
	if !ok {
		return injNextWord(text, pos)
	}
	b := off >> 6
	m := w.m[b][0] &^ (1<<(off&63) - 1)
	for m == 0 {
		if b++; b == w.n {
			return injNextWord(text, pos)
		}
		m = w.m[b][0]
	}
	s = w.base + b<<6 + bits.TrailingZeros64(m)
	for k := pos; k < s; k++ {
		if injGap[text[k]] == 0 {
			return injNextWord(text, pos)
		}
	}
	e = w.end(text, s)
	if e < len(text) && text[e] >= utf8.RuneSelf {
		return injNextWord(text, pos)
	}
	return s, e, false
}

func injNextWordSlow(text string, pos int) (s, e int, stop bool) {
	i := pos
	for i < len(text) {
		if c := text[i]; c < utf8.RuneSelf {
			if injClass[c] == cWord {
				break
			}
			switch c {
			case '!', '?', ';', '\n':
				stop = true
			case '.':
				if i+1 >= len(text) || text[i+1] == ' ' || text[i+1] == '\n' || text[i+1] == '"' {
					stop = true
				}
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(text[i:])
		if injWordRune(r) {
			break
		}
		switch r {
		case '。', '！', '？':
			stop = true
		}
		i += w
	}
	s = i
	for i < len(text) {
		if c := text[i]; c < utf8.RuneSelf {
			if injClass[c] != cWord {
				break
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(text[i:])
		if !injWordRune(r) {
			break
		}
		i += w
	}
	return s, i, stop
}

// injPrevWord returns the ASCII word that ends before pos (skipping
// spaces and punctuation other than sentence ends), or s == e.
func injPrevWord(text string, pos int) (s, e int) {
	i := pos
	for i > 0 {
		c := text[i-1]
		if injAlnum(c) {
			break
		}
		if c == '.' || c == '!' || c == '?' || c == '\n' || c == ';' || pos-i > 8 {
			return pos, pos
		}
		i--
	}
	e = i
	for i > 0 && injAlnum(text[i-1]) {
		i--
	}
	return i, e
}

func injAlnum(c byte) bool { return injClass[c] == cWord }

// find looks at up to max words after pos, within the sentence, for one
// in set; it returns its range and the end of the last word read.
func (st *injState) find(text string, pos, max int, set *injSet) (s, e int, ok bool) {
	if set.vec && st.words.none(text, pos, max, set) {
		return 0, pos, false
	}
	for k := 0; k < max; k++ {
		ws, we, stop := st.nextWord(text, pos)
		if ws == we || stop {
			return 0, pos, false
		}
		if w := text[ws:we]; !set.miss(w) && injIn(w, set) {
			return ws, we, true
		}
		pos = we
	}
	return 0, pos, false
}

// anyBetween reports whether a word of set lies in text[from:to].
func (st *injState) anyBetween(text string, from, to int, set *injSet) bool {
	for from < to {
		ws, we, _ := st.nextWord(text, from)
		if ws >= to || ws == we {
			return false
		}
		if w := text[ws:we]; !set.miss(w) && injIn(w, set) {
			return true
		}
		from = we
	}
	return false
}

// injPrevIs reports whether the word before pos is one of words.
func injPrevIs(text string, pos int, words ...string) (int, bool) {
	s, e := injPrevWord(text, pos)
	if s == e {
		return s, false
	}
	for _, w := range words {
		if strings.EqualFold(text[s:e], w) {
			return s, true
		}
	}
	return s, false
}

// nextIs reports whether the word after pos, in the same sentence, is
// one of words.
func (st *injState) nextIs(text string, pos int, words ...string) (int, bool) {
	s, e, stop := st.nextWord(text, pos)
	if stop || s == e {
		return e, false
	}
	for _, w := range words {
		if strings.EqualFold(text[s:e], w) {
			return e, true
		}
	}
	return e, false
}

// lineStart reports whether only spaces, '#', '*', '-', '>' or quotes lie
// between the start of the line and pos.
func injLineStart(text string, pos int) bool {
	for i := pos - 1; i >= 0 && pos-i < 12; i-- {
		switch text[i] {
		case '\n', '\r':
			return true
		case ' ', '\t', '#', '*', '-', '>', '"', '\'', '`', '|':
		default:
			return false
		}
	}
	return pos < 12
}

// word runs the rule of anchor a found at text[i:j].
func (d *InjectionDetector) word(st *injState, text string, i, j, id int, depth int) {
	a := &injAnchors[id]
	if a.lex > 0 {
		st.lexicon(id, a.lex, i, j)
	}
	switch a.h {
	case hOverride:
		s, e, ok := st.find(text, j, 6, injOverrideNouns)
		if ok && st.anyBetween(text, j, s, injWMy) {
			return
		}
		if ok {
			// Qualifier between verb and noun, or within two words after.
			if st.anyBetween(text, j, s, injStrongQual) || st.hasWithin(text, e, 2, injStrongQual) {
				st.fire(rOverride, SignalOverride, 0.85, i, e)
				return
			}
			if injIn(text[i:j], injCoreVerbs) && st.anyBetween(text, j, s, injWeakQual) && !strings.EqualFold(text[s:e], "text") {
				st.fire(rOverrideWeak, SignalOverride, 0.33, i, e)
				return
			}
		}
		// "ignore the above.", "ignore any previous and following ...".
		if !injIn(text[i:j], injCoreVerbs) {
			return
		}
		if qs, e, ok := st.find(text, j, 3, injWAbove); ok && !st.anyBetween(text, j, qs, injWMyOur) {
			ns, ne, stop := st.nextWord(text, e)
			if stop || ns == ne || injIn(text[ns:ne], injWAnd) || strings.IndexByte(text[e:ns], ',') >= 0 || strings.IndexByte(text[e:ns], ':') >= 0 {
				w := 0.5
				if injIn(text[qs:e], injWEverything) {
					w = 0.3
				}
				st.fire(rOverrideWeak, SignalOverride, w, i, e)
			}
		}
	case hInstrNoun:
		if ps, pe := injPrevWord(text, i); ps < pe && injIn(text[ps:pe], injWInitial) {
			if _, ok := injPrevIs(text, ps, "your", "Your"); ok {
				st.fire(rGiven, SignalPromptExtraction, 0.45, ps, j)
			}
		}
		if _, e, ok := st.find(text, j, 4, injWGiven); ok && st.anyBetween(text, j, e, injWYou) {
			st.fire(rGiven, SignalPromptExtraction, 0.35, i, e)
		}
		if d := injDelimited(text, i); d >= 0 {
			if st.anyBetween(text, d, i, injWNew) {
				st.fire(rDelim, SignalRoleMarker, 0.5, d, j)
			}
		}
		if ps, ok := injPrevIs(text, i, injNew...); ok {
			st.fire(rNewInstr, SignalOverride, 0.3, ps, j)
		}
		ps, pe := injPrevWord(text, i)
		if ps < pe && (injIn(text[ps:pe], injStrongQual) || strings.Contains(strings.ToLower(text[ps:pe]), "previous")) {
			if _, e, ok := st.find(text, j, 3, injFalse); ok {
				st.fire(rInstrFalse, SignalOverride, 0.7, ps, e)
			}
		}
	case hExtract:
		if injIn(text[i:j], injRevealVerbs) {
			if _, e, ok := st.find(text, j, 2, injWAll); ok {
				if _, e2, ok := st.find(text, e, 2, injWBefore); ok {
					st.fire(rExtract, SignalPromptExtraction, 0.5, i, e2)
					return
				}
			}
		}
		s, e, ok := st.find(text, j, 6, injExtractNoun)
		if !ok || st.anyBetween(text, j, s, injWOwn) {
			return
		}
		noun := text[s:e]
		prompt := injIn(noun, injWPrompt)
		reveal := injIn(text[i:j], injRevealVerbs)
		switch {
		case st.anyBetween(text, j, s, injExtractStrong) || injIn(noun, injWPreprompt):
			st.fire(rExtract, SignalPromptExtraction, 0.7, i, e)
		case !prompt && st.anyBetween(text, j, s, injWYour):
			st.fire(rExtract, SignalPromptExtraction, 0.6, i, e)
		case reveal && st.anyBetween(text, j, s, injExtractQual) && !injIn(noun, injWParameters):
			st.fire(rExtract, SignalPromptExtraction, 0.45, i, e)
		}
	case hSystem:
		d.roleWord(st, text, i, j, 0.55)
		if e, ok := st.nextIs(text, j, "prompt", "prompts", "message", "instructions"); ok {
			st.fire(rSystemPrompt, SignalPromptExtraction, 0.15, i, e)
		}
		if e, ok := st.nextIs(text, j, "override", "overrides"); ok {
			st.fire(rRoleBracket, SignalRoleMarker, 0.45, i, e)
		}
		if e, ok := st.nextIs(text, j, "note", "override", "update", "upgrade", "alert", "message"); ok && i > 0 && (text[i-1] == '[' || text[i-1] == '(') {
			st.fire(rRoleBracket, SignalRoleMarker, 0.55, i-1, e)
		}
	case hRoleWord:
		w := 0.25
		switch text[i] | 0x20 {
		case 't', 'f', 'o':
			// "Tool result:", "Function output:", "Observation:".
			if e, ok := st.nextIs(text, j, "result", "results", "output", "response"); ok && e < len(text) && text[e] == ':' && injLineStart(text, i) {
				st.fire(rToolResult, SignalRoleMarker, 0.4, i, e+1)
				return
			}
			w = 0.3
		case 'd':
			// "developer mode" is handled at "mode"; "Developer:" turns only.
			w = 0.3
		}
		d.roleWord(st, text, i, j, w)
	case hNow:
		if ps, ok := injPrevIs(text, i, "from"); ok {
			if e, ok := st.nextIs(text, j, "on"); ok {
				w := 0.25
				if _, ok := st.nextIs(text, e, "you", "your"); ok {
					w = 0.35
				}
				st.fire(rNowOn, SignalJailbreakPersona, w, ps, e)
			}
			return
		}
		if ps, ok := injPrevIs(text, i, "anything"); ok {
			if pps, ok := injPrevIs(text, ps, "do"); ok {
				st.fire(rDoAnything, SignalJailbreakPersona, 0.6, pps, j)
			}
			return
		}
		if ps, ok := injPrevIs(text, i, "are", "re"); ok {
			if pps, ok := injPrevIs(text, ps, "you", "You"); ok {
				st.fire(rYouAreNow, SignalJailbreakPersona, 0.2, pps, j)
			}
		}
	case hCharacter:
		if ps, ok := injPrevIs(text, i, "in"); ok {
			if pps, ok := injPrevIs(text, ps, "stay", "staying", "remain", "keep", "stays"); ok {
				st.fire(rStayChar, SignalJailbreakPersona, 0.3, pps, j)
			}
		} else if ps, ok := injPrevIs(text, i, "break", "breaking", "broke", "breaks"); ok {
			st.fire(rBreakChar, SignalJailbreakPersona, 0.12, ps, j)
		}
	case hMode:
		ps, pe := injPrevWord(text, i)
		if ps == pe {
			return
		}
		switch p := strings.ToLower(text[ps:pe]); p {
		case "developer", "dan", "jailbreak", "jailbroken", "unrestricted", "unfiltered", "uncensored", "evil", "chaos", "god", "dev", "opposite", "unlocked":
			w := 0.35
			if p == "developer" {
				w = 0.3
			} else if p == "god" || p == "dev" || p == "opposite" {
				w = 0.2
			}
			st.fire(rMode, SignalJailbreakPersona, w, ps, j)
		case "safe", "safety":
			if e, ok := st.nextIs(text, j, "off", "disabled", "deactivated"); ok {
				st.fire(rMode, SignalOverride, 0.55, ps, e)
			}
		}
	case hPolicy:
		if ps, ok := injPrevIs(text, i, "content", "usage", "openai", "openai’s", "s"); ok {
			st.fire(rPolicy, SignalJailbreakPersona, 0.25, ps, j)
		}
	case hLimits:
		ps, pe := injPrevWord(text, i)
		if ps == pe {
			return
		}
		p := strings.ToLower(text[ps:pe])
		switch p {
		case "no", "without", "zero", "any", "removed", "unrestricted":
			w := 0.25
			if strings.EqualFold(text[i:j], "rules") || strings.EqualFold(text[i:j], "guidelines") || strings.EqualFold(text[i:j], "ethics") || strings.EqualFold(text[i:j], "limits") {
				w = 0.15
			}
			if p == "any" {
				w /= 2
			}
			st.fire(rLimits, SignalJailbreakPersona, w, ps, j)
		case "ethical", "moral", "safety", "content":
			// "free from moral guidelines", "bypass safety filters".
			pps, _ := injPrevWord(text, ps)
			if pps < ps && injIn(text[pps:ps], injWNo) {
				st.fire(rLimits, SignalJailbreakPersona, 0.25, pps, j)
			}
		}
	case hTwo:
		if _, e, ok := st.find(text, j, 1, injWDifferent); ok {
			if _, e2, ok := st.find(text, e, 2, injWWays); ok {
				st.fire(rTwo, SignalJailbreakPersona, 0.3, i, e2)
			}
		}
	case hRefuse:
		s, e := injPrevWord(text, i)
		if s < e {
			p := strings.ToLower(text[s:e])
			if p == "never" || p == "not" || p == "cannot" || p == "t" || p == "won" {
				st.fire(rRefuse, SignalJailbreakPersona, 0.25, s, j)
			}
		}
	case hBound:
		if ps, ok := injPrevIs(text, i, "not", "never", "longer"); ok {
			if _, ok := st.nextIs(text, j, "by"); ok {
				st.fire(rBound, SignalJailbreakPersona, 0.25, ps, j)
			}
		}
	case hMatter:
		if ps, ok := injPrevIs(text, i, "no"); ok {
			st.fire(rMatter, SignalJailbreakPersona, 0.1, ps, j)
		}
	case hDAN:
		if text[i] == 'D' && text[i+1] == 'A' && text[i+2] == 'N' {
			st.fire(rDAN, SignalJailbreakPersona, 0.3, i, j)
		}
	case hEverything:
		if ps, ok := injPrevIs(text, i, "stop", "STOP", "Stop"); ok {
			st.fire(rStop, SignalOverride, 0.5, ps, j)
		}
	case hRot13:
		if depth < injMaxDepth && !st.rot13Done {
			st.rot13Done = true
			d.rot13(st, text, i, depth)
		}
	case hDecode:
		if _, e, ok := st.find(text, j, 5, injWBase64); ok {
			if _, e2, ok := st.findAny(text, e, 12, injWFollow); ok {
				st.fire(rDecode, SignalEncodedPayload, 0.35, i, e2)
			}
		}
	case hFree:
		if e, ok := st.nextIs(text, j, "of", "from"); ok {
			if _, e2, ok := st.find(text, e, 4, injWLimitation); ok {
				st.fire(rFree, SignalJailbreakPersona, 0.3, i, e2)
			}
		}
		if ps, ok := injPrevIs(text, i, "broken", "break", "broke", "breaks", "set", "been"); ok {
			st.fire(rFree, SignalJailbreakPersona, 0.2, ps, j)
		}
	case hRestricted:
		if ps, pe := injPrevWord(text, i); ps < pe {
			p := strings.ToLower(text[ps:pe])
			if p == "not" || p == "never" || p == "t" || p == "longer" || p == "no" {
				w := 0.25
				if strings.EqualFold(text[i:j], "subject") {
					if _, ok := st.nextIs(text, j, "to"); !ok {
						return
					}
				}
				st.fire(rRestricted, SignalJailbreakPersona, w, ps, j)
			}
		}
	case hGiven:
	case hStands:
		if ps, ok := injPrevIs(text, i, "which", "that", "it", "name"); ok {
			if e, ok := st.nextIs(text, j, "for"); ok {
				st.fire(rStands, SignalJailbreakPersona, 0.1, ps, e)
			}
		}
	case hLeetIgnore:
		st.fire(rOverrideWeak, SignalObfuscation, 0.3, i, j)
		if _, e, ok := st.find(text, j, 6, injOverrideNouns); ok {
			st.fire(rOverride, SignalOverride, 0.7, i, e)
		}
	}
}

// injDelimited returns where a delimiter run ("###", "%%%", "===",
// "---", "***") starts within the 24 bytes before i, or -1.
func injDelimited(text string, i int) int {
	for k := i - 1; k >= 2 && i-k < 24; k-- {
		c := text[k]
		if (c == '#' || c == '%' || c == '=' || c == '-' || c == '*') && text[k-1] == c && text[k-2] == c {
			return k - 2
		}
		if c == '\n' {
			break
		}
	}
	return -1
}

// findAny is find that may cross sentence ends.
func (st *injState) findAny(text string, pos, max int, set *injSet) (s, e int, ok bool) {
	for k := 0; k < max; k++ {
		ws, we, _ := st.nextWord(text, pos)
		if ws == we {
			return 0, pos, false
		}
		if w := text[ws:we]; !set.miss(w) && injIn(w, set) {
			return ws, we, true
		}
		pos = we
	}
	return 0, pos, false
}

func (st *injState) hasWithin(text string, pos, max int, set *injSet) bool {
	_, _, ok := st.find(text, pos, max, set)
	return ok
}

// roleWord fires for "system:" (and other roles) at a line start, for
// "<system>" tags, and for `"role": "system"`.
func (d *InjectionDetector) roleWord(st *injState, text string, i, j int, w float64) {
	k := j
	for k < len(text) && k-j < 2 && text[k] == ' ' {
		k++
	}
	if k < len(text) && text[k] == ':' && injLineStart(text, i) {
		// "System: ..." opening a line; the word must not be capitalised mid-sentence.
		st.fire(rRoleLine, SignalRoleMarker, w, i, k+1)
		return
	}
	if i > 0 && j < len(text) {
		switch {
		case text[i-1] == '<' || i > 1 && text[i-2:i] == "</":
			if text[j] == '>' {
				st.fire(rTemplate, SignalRoleMarker, w*0.8, i-1, j+1)
			}
		case text[i-1] == '"' && text[j] == '"':
			// `"role": "system"`
			lo := max(0, i-16)
			if strings.Contains(strings.ToLower(text[lo:i]), `"role"`) {
				st.fire(rRoleJSON, SignalRoleMarker, w*0.75, lo, j+1)
			}
		case text[i-1] == '[' && (text[j] == ']' || text[j] == ':'):
			if j+1 < len(text) && text[j] == ']' && text[j+1] == '(' {
				w = max(w, 0.55) // Bing-style "[system](#instructions)"
			}
			st.fire(rRoleBracket, SignalRoleMarker, w, i-1, j+1)
		}
	}
}

// Word sets of the rules above.
var (
	injWMy         = injMkSet("my", "our", "mon", "ma", "mes", "meine", "meinen", "mi", "mis")
	injWAbove      = injMkSet("above", "previous", "prior", "everything")
	injWMyOur      = injMkSet("my", "our")
	injWAnd        = injMkSet("and", "instead", "then", "before", "above")
	injWEverything = injMkSet("everything")
	injWInitial    = injMkSet("initial", "original", "hidden", "secret", "system")
	injWGiven      = injMkSet("given")
	injWYou        = injMkSet("you")
	injWNew        = injMkSet("new", "end", "begin", "updated", "real", "start")
	injWAll        = injMkSet("everything", "all", "anything")
	injWBefore     = injMkSet("above", "before", "prior", "preceding")
	injWOwn        = injMkSet("my", "our", "own", "a", "an", "this", "mon", "mein", "mi")
	injWPrompt     = injMkSet("prompt*")
	injWPreprompt  = injMkSet("preprompt", "pre-prompt")
	injWYour       = injMkSet("your")
	injWParameters = injMkSet("parameters", "configuration", "guideline*", "rules")
	injWNo         = injMkSet("no", "without", "any", "bypass", "ignore", "ignores", "free", "from")
	injWDifferent  = injMkSet("different", "separate", "distinct")
	injWWays       = injMkSet("ways", "responses", "answers", "paragraphs", "personalities", "manners")
	injWBase64     = injMkSet("base64", "rot13", "hex", "cipher", "ciphertext", "string", "message", "following")
	injWFollow     = injMkSet("follow", "execute", "obey", "run", "do", "perform", "carry")
	injWLimitation = injMkSet("limitation*", "restriction*", "confines", "rules", "guidelines", "filter*", "censorship", "constraints", "polic*", "ethics", "morals", "shackles", "chains")
)
