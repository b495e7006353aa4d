package sanitize

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Fold returns a form of text for matching deny rules and injection
// phrases, not for display: invalid UTF-8 becomes U+FFFD; every character
// [ScanUnicode] would report is removed, and so are all ZWJ, ZWNJ and
// variation selectors; the rest is put in Unicode normalisation form NFKC
// and lower-cased. So "ＩＧＮＯＲＥ", "ig\u200Bnore", "ᴵgnore" and
// "ﬁle" (ligature) fold to their plain lower-case ASCII forms.
//
// Offsets into the folded text do not map back to text. Fold does not
// catch cross-script homoglyphs (Cyrillic "а" U+0430 for Latin "a", Greek
// "ο" for "o"), which NFKC leaves alone; that needs a confusables table
// (Unicode TR39 skeletons). Nor does it undo leetspeak, spacing between
// letters or other encodings.
//
// Printable ASCII without upper-case letters is returned as is, without
// allocating.
func Fold(text string) string {
	if plain(text) {
		return strings.ToLower(text)
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	drop := func(start, end int) {
		b.WriteString(text[last:start])
		last = end
	}
	scan(text, func(f Finding) bool {
		drop(f.Start, f.End)
		return true
	})
	b.WriteString(text[last:])
	s := b.String()
	if strings.ContainsAny(s, "\u200C\u200D") || hasVariationSelector(s) {
		b.Reset()
		for _, r := range s {
			if r != 0x200C && r != 0x200D && !isVariationSelector(r) {
				b.WriteRune(r)
			}
		}
		s = b.String()
	}
	return strings.ToLower(norm.NFKC.String(s))
}

func hasVariationSelector(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0xEF || c == 0xF3 {
			if r, _ := utf8.DecodeRuneInString(s[i:]); isVariationSelector(r) {
				return true
			}
		}
	}
	return false
}
