package tokens

import (
	"sync"
	"unicode"
	"unicode/utf8"
)

// charClass is the set of the split patterns' character classes a rune
// belongs to, as tiktoken-go's regexp engine (regexp2) decides them: \p{..}
// by the unicode package's tables, \s by [unicode.IsSpace].
type charClass uint8

const (
	cLetter  charClass = 1 << iota // \p{L}
	cNumber                        // \p{N}
	cSpace                         // \s
	cNewline                       // \r, \n
	cUpper                         // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] (o200k_base)
	cLower                         // [\p{Ll}\p{Lm}\p{Lo}\p{M}] (o200k_base)
)

// notPrefix is what the optional first character of a word,
// [^\r\n\p{L}\p{N}], must not be.
const notPrefix = cNewline | cLetter | cNumber

// classTable maps every rune to its charClass in two levels: index holds,
// for each block of 256 runes, the offset of its 256 classes in blocks,
// where equal blocks are stored once (134 blocks: about 50 KB in all).
type classTable struct {
	index  []uint32
	blocks []charClass
}

// of returns the class of r, a valid rune.
func (t *classTable) of(r rune) charClass {
	return t.blocks[t.index[r>>8]+uint32(r&0xFF)]
}

// at returns the class and the size of the rune that starts s[i:]; s is
// valid UTF-8 and i < len(s).
func (t *classTable) at(s string, i int) (charClass, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return t.blocks[c], 1 // block 0 is stored first
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return t.of(r), n
}

// classes is built on first use and immutable afterwards.
var classes = sync.OnceValue(buildClasses)

// buildClasses builds the class table from the unicode package's tables.
func buildClasses() *classTable {
	flat := make([]charClass, unicode.MaxRune+1)
	set := func(tab *unicode.RangeTable, c charClass) {
		for _, r := range tab.R16 {
			for x := rune(r.Lo); x <= rune(r.Hi); x += rune(r.Stride) {
				flat[x] |= c
			}
		}
		for _, r := range tab.R32 {
			for x := rune(r.Lo); x <= rune(r.Hi); x += rune(r.Stride) {
				flat[x] |= c
			}
		}
	}
	set(unicode.L, cLetter)
	set(unicode.N, cNumber)
	set(unicode.White_Space, cSpace) // what unicode.IsSpace tests, checked by TestClassTable
	flat['\r'] |= cNewline
	flat['\n'] |= cNewline
	for _, tab := range []*unicode.RangeTable{unicode.Lu, unicode.Lt, unicode.Lm, unicode.Lo, unicode.M} {
		set(tab, cUpper)
	}
	for _, tab := range []*unicode.RangeTable{unicode.Ll, unicode.Lm, unicode.Lo, unicode.M} {
		set(tab, cLower)
	}

	t := &classTable{index: make([]uint32, len(flat)>>8)}
	seen := make(map[[256]charClass]uint32)
	for b := range t.index {
		block := [256]charClass(flat[b<<8 : (b+1)<<8])
		off, ok := seen[block]
		if !ok {
			off = uint32(len(t.blocks))
			seen[block] = off
			t.blocks = append(t.blocks, block[:]...)
		}
		t.index[b] = off
	}
	t.blocks = t.blocks[:len(t.blocks):len(t.blocks)]
	return t
}
