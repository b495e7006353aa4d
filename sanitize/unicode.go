package sanitize

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Finding types reported by [ScanUnicode], all of kind [KindInvisible].
const (
	TypeTagCharacters = "tag_characters"     // U+E0000–U+E007F outside emoji tag sequences
	TypeZeroWidth     = "zero_width"         // zero-width, filler and stray variation-selector characters
	TypeBidiControl   = "bidi_control"       // bidi embeddings, overrides and isolates
	TypeControl       = "control_characters" // C0 controls except TAB, LF, CR; C1 controls
	TypeInvalidUTF8   = "invalid_utf8"       // a byte that does not start a valid UTF-8 sequence
)

// ErrBlocked matches, through [errors.Is], every error returned because a
// policy rule with the action [Block] fired.
var ErrBlocked = errors.New("sanitize: blocked by policy")

// ErrInvalidUTF8 matches, through [errors.Is], the error returned for text
// that is not valid UTF-8.
var ErrInvalidUTF8 = errors.New("sanitize: invalid UTF-8")

// UnicodeError is the error [CleanUnicode] returns when it refuses a text:
// the first finding that decided, by type and byte offsets, never by text.
// It matches [ErrBlocked] or [ErrInvalidUTF8] through [errors.Is].
type UnicodeError struct {
	Finding
}

// Code returns a stable, machine-readable code: "invalid_utf8", or the
// kind and type joined by "_", such as "invisible_tag_characters".
func (e *UnicodeError) Code() string {
	if e.Type == TypeInvalidUTF8 {
		return TypeInvalidUTF8
	}
	return string(e.Kind) + "_" + e.Type
}

func (e *UnicodeError) Error() string {
	what := "blocked"
	if e.Type == TypeInvalidUTF8 {
		what = "rejected"
	}
	return "sanitize: " + what + ": " + e.Code() + " at bytes " +
		strconv.Itoa(e.Start) + "-" + strconv.Itoa(e.End)
}

// Is reports whether target is [ErrBlocked] or [ErrInvalidUTF8], whichever
// applies.
func (e *UnicodeError) Is(target error) bool {
	if e.Type == TypeInvalidUTF8 {
		return target == ErrInvalidUTF8
	}
	return target == ErrBlocked
}

// UnicodePolicy says what [CleanUnicode] does with each type of invisible
// character. [Allow] keeps the characters (they are still reported),
// [Redact] and [Pseudonymise] strip them, [Block] refuses the text.
//
// The zero value allows everything: it only reports. Most callers want
// [DefaultUnicodePolicy].
//
// Whatever the policy, these are never reported nor touched: U+200D ZERO
// WIDTH JOINER inside emoji ZWJ sequences; U+200C and U+200D between
// letters of scripts that need them (Arabic and Persian, Syriac, the Indic
// scripts, Sinhala, Tibetan, Myanmar, Khmer, Mongolian, N'Ko); the marks
// U+200E LRM, U+200F RLM and U+061C ALM; one variation selector right after
// a base character (U+FE0F in emoji, ideographic variation sequences); tag
// characters in an emoji flag tag sequence (U+1F3F4, 1–7 tag letters or
// digits, U+E007F CANCEL TAG, as in the flag of Scotland); TAB, LF and CR.
type UnicodePolicy struct {
	// Tags is for Unicode tag characters U+E0000–U+E007F, which render as
	// nothing yet models read them as ASCII: the "ASCII smuggling" channel.
	Tags Action
	// ZeroWidth is for U+200B, U+200C and U+200D out of context, U+2060–
	// U+2064, U+206A–U+206F, U+FEFF (also as a leading BOM), U+00AD SOFT
	// HYPHEN, U+180E, the Hangul fillers U+115F, U+1160, U+3164, U+FFA0,
	// and variation selectors (U+FE00–U+FE0F, U+E0100–U+E01EF) that do not
	// directly follow a base character, as in variation-selector smuggling.
	ZeroWidth Action
	// Bidi is for the bidi embeddings, overrides and isolates U+202A–U+202E
	// and U+2066–U+2069 ("Trojan Source"). The marks LRM, RLM and ALM are
	// kept: RTL text needs them.
	Bidi Action
	// Controls is for C0 control characters other than TAB, LF and CR
	// (including NUL and ESC) and C1 controls U+0080–U+009F.
	Controls Action
}

// DefaultUnicodePolicy returns the secure default: tag characters block
// the text; zero-width, bidi-control and control characters are stripped.
func DefaultUnicodePolicy() UnicodePolicy {
	return UnicodePolicy{Tags: Block, ZeroWidth: Redact, Bidi: Redact, Controls: Redact}
}

func (p UnicodePolicy) action(typ string) Action {
	switch typ {
	case TypeTagCharacters:
		return p.Tags
	case TypeZeroWidth:
		return p.ZeroWidth
	case TypeBidiControl:
		return p.Bidi
	case TypeControl:
		return p.Controls
	}
	return Block // invalid UTF-8
}

const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// plain reports whether s holds only printable ASCII, TAB, LF, CR and DEL:
// nothing any Unicode rule could flag. It reads eight bytes at a time; a
// word that may hold a byte < 0x20 or >= 0x80 is checked byte by byte.
func plain(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// High bit set in a byte of ((x - 0x20…) | x) when that byte is
		// < 0x20 or >= 0x80 (borrows only cause false alarms).
		if (x-0x20*swarOnes|x)&swarHigh == 0 {
			continue
		}
		for j := i; j < i+8; j++ {
			if !plainByte(s[j]) {
				return false
			}
		}
	}
	for ; i < len(s); i++ {
		if !plainByte(s[i]) {
			return false
		}
	}
	return true
}

func plainByte(b byte) bool {
	return b < utf8.RuneSelf && (b >= 0x20 || b == '\t' || b == '\n' || b == '\r')
}

// classify returns the finding type of r given the text around it, or ""
// when r is fine here. before is the text before r, after the text after.
func classify(before string, r rune, after string) string {
	switch {
	case r < 0x20:
		if r == '\t' || r == '\n' || r == '\r' {
			return ""
		}
		return TypeControl
	case r < 0x80:
		return ""
	case r <= 0x9F:
		return TypeControl
	case r == 0xAD, r == 0x115F, r == 0x1160, r == 0x180E, r == 0x3164, r == 0xFFA0, r == 0xFEFF,
		r == 0x200B, r >= 0x2060 && r <= 0x2064, r >= 0x206A && r <= 0x206F:
		return TypeZeroWidth
	case r == 0x200C || r == 0x200D:
		prev := lastRune(before)
		next, _ := utf8.DecodeRuneInString(after)
		if r == 0x200D && isEmoji(prev) && isEmoji(next) {
			return ""
		}
		if (joiningScript(prev) || unicode.Is(unicode.Mn, prev)) && joiningScript(next) {
			return ""
		}
		return TypeZeroWidth
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return TypeBidiControl
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF:
		prev := lastRune(before)
		if prev < 0 || isVariationSelector(prev) || unicode.In(prev, unicode.Mn, unicode.Cf, unicode.Cc, unicode.Z) {
			return TypeZeroWidth
		}
		return ""
	case r >= 0xE0000 && r <= 0xE007F:
		return TypeTagCharacters
	}
	return ""
}

func isVariationSelector(r rune) bool {
	return r >= 0xFE00 && r <= 0xFE0F || r >= 0xE0100 && r <= 0xE01EF
}

// isEmoji is a cheap superset of Extended_Pictographic plus the emoji
// modifiers and VS16, enough to recognise ZWJ sequences.
func isEmoji(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF, r >= 0x2600 && r <= 0x27BF, r >= 0x2B00 && r <= 0x2BFF,
		r >= 0x2190 && r <= 0x21FF, r >= 0x2300 && r <= 0x23FF,
		r == 0xA9, r == 0xAE, r == 0x203C, r == 0x2049, r == 0x2122, r == 0x2139,
		r == 0x3030, r == 0x303D, r == 0x3297, r == 0x3299, r == 0xFE0F:
		return true
	}
	return false
}

var joiningScripts = []*unicode.RangeTable{
	unicode.Arabic, unicode.Syriac, unicode.Nko, unicode.Devanagari, unicode.Bengali,
	unicode.Gurmukhi, unicode.Gujarati, unicode.Oriya, unicode.Tamil, unicode.Telugu,
	unicode.Kannada, unicode.Malayalam, unicode.Sinhala, unicode.Tibetan, unicode.Myanmar,
	unicode.Khmer, unicode.Mongolian,
}

// joiningScript reports whether r is a letter or mark of a script in which
// ZWJ and ZWNJ change how letters join or conjuncts form.
func joiningScript(r rune) bool {
	return r >= 0x600 && unicode.In(r, joiningScripts...)
}

// flagTagLen returns the length in bytes of the emoji tag sequence tail
// (1–7 tag letters or digits, then CANCEL TAG) at the start of s, or 0.
func flagTagLen(s string) int {
	n, i := 0, 0
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0xE007F:
			if n == 0 {
				return 0
			}
			return i + w
		case n < 7 && (r >= 0xE0030 && r <= 0xE0039 || r >= 0xE0061 && r <= 0xE007A):
			n++
			i += w
		default:
			return 0
		}
	}
	return 0
}

func lastRune(s string) rune {
	if s == "" {
		return -1
	}
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

// special marks the bytes that can start a code point [classify] may flag
// in valid UTF-8, and 0xF0, which starts U+1F3F4 (the flag of emoji tag
// sequences).
var special = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = c != '\t' && c != '\n' && c != '\r'
	}
	for _, c := range []byte{0xC2, 0xE1, 0xE2, 0xE3, 0xEF, 0xF0, 0xF3} {
		t[c] = true
	}
	return t
}()

// candidate reports, from its second byte, whether the valid UTF-8
// sequence at the start of s, which starts with a special byte >= 0xC0,
// may be a code point classify flags or U+1F3F4.
func candidate(s string) bool {
	b := s[1]
	switch s[0] {
	case 0xC2:
		return b <= 0x9F || b == 0xAD
	case 0xE1:
		return b == 0x85 || b == 0xA0
	case 0xE2:
		return b == 0x80 || b == 0x81
	case 0xE3:
		return b == 0x85
	case 0xEF:
		return b == 0xB8 || b == 0xBB || b == 0xBE
	case 0xF0:
		return strings.HasPrefix(s, "\U0001F3F4")
	}
	return b == 0xA0 // 0xF3
}

// scan calls f for each flagged run of one type, in order. Adjacent
// findings of the same type are merged. It returns early when f returns
// false.
//
// Valid UTF-8 (the common case, checked first) is scanned byte by byte,
// decoding only at the few lead bytes that can start a flagged code point;
// invalid UTF-8 is decoded rune by rune.
func scan(text string, f func(Finding) bool) {
	if plain(text) {
		return
	}
	valid := utf8.ValidString(text)
	var cur Finding
	for i := 0; i < len(text); {
		if valid {
			for i < len(text) && !special[text[i]] {
				i++
			}
			if i == len(text) {
				break
			}
			if text[i] >= 0xC0 && !candidate(text[i:]) {
				i++
				continue
			}
		} else if c := text[i]; c >= 0x20 && c < utf8.RuneSelf {
			i++
			continue
		}
		typ, w := unicodeAt(text, i)
		if typ != "" {
			if cur.Type == typ && cur.End == i {
				cur.End = i + w
			} else {
				if cur.Type != "" && !f(cur) {
					return
				}
				cur = Finding{Kind: KindInvisible, Type: typ, Start: i, End: i + w}
			}
		}
		i += w
	}
	if cur.Type != "" {
		f(cur)
	}
}

// unicodeAt classifies the code point at text[i], as scan does, and
// returns its finding type ("" when it is fine) and the bytes it covers.
func unicodeAt(text string, i int) (string, int) {
	r, w := utf8.DecodeRuneInString(text[i:])
	switch {
	case r == utf8.RuneError && w == 1:
		return TypeInvalidUTF8, 1
	case r == 0x1F3F4:
		return "", w + flagTagLen(text[i+w:])
	}
	return classify(text[:i], r, text[i+w:]), w
}

// unicodeState is scan's state for the combined input scan, which gives it
// every byte >= 0x80 and every control character in order. Valid UTF-8
// is then decoded at every non-ASCII code point rather than only at the
// special lead bytes; classify flags nothing the special table does not
// mark, so the findings are the same.
type unicodeState struct {
	out  []Finding
	cur  Finding
	next int // the first offset still to look at
}

// at classifies the code point at text[i] unless an earlier one covered it.
func (u *unicodeState) at(text string, i int) {
	if i < u.next {
		return
	}
	typ, w := unicodeAt(text, i)
	u.next = i + w
	if typ == "" {
		return
	}
	if u.cur.Type == typ && u.cur.End == i {
		u.cur.End = i + w
		return
	}
	if u.cur.Type != "" {
		u.out = append(u.out, u.cur)
	}
	u.cur = Finding{Kind: KindInvisible, Type: typ, Start: i, End: i + w}
}

// flush ends the pass: it records the finding in progress.
func (u *unicodeState) flush() {
	if u.cur.Type != "" {
		u.out = append(u.out, u.cur)
		u.cur = Finding{}
	}
}

// ScanUnicode reports the invisible characters in text that
// [UnicodePolicy] covers, as findings of kind [KindInvisible] and types
// [TypeTagCharacters], [TypeZeroWidth], [TypeBidiControl], [TypeControl]
// or [TypeInvalidUTF8] (one finding per invalid byte run). Consecutive
// characters of one type make one finding. It returns nil, without
// allocating, when there is nothing to report.
//
// NUL and other control characters are reported as [TypeControl]; whether
// a request holding them is refused is the caller's policy.
func ScanUnicode(text string) []Finding {
	var out []Finding
	scan(text, func(f Finding) bool {
		out = append(out, f)
		return true
	})
	return out
}

// CleanUnicode applies p to text. It returns the cleaned text (text itself
// when nothing was stripped), every finding (offsets into text, not into
// cleaned), and a *[UnicodeError] when text is not valid UTF-8 (whatever
// the policy) or when a rule whose action is [Block] fires; the cleaned
// text is then "". CleanUnicode is idempotent: cleaning its output again
// changes nothing: stripping never makes a kept character strippable.
func CleanUnicode(text string, p UnicodePolicy) (cleaned string, findings []Finding, err error) {
	findings = ScanUnicode(text)
	if findings == nil {
		return text, nil, nil
	}
	strip := false
	for _, f := range findings {
		switch p.action(f.Type) {
		case Block:
			return "", findings, &UnicodeError{Finding: f}
		case Redact, Pseudonymise:
			strip = true
		}
	}
	if !strip {
		return text, findings, nil
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, f := range findings {
		if p.action(f.Type) == Allow {
			continue
		}
		b.WriteString(text[last:f.Start])
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String(), findings, nil
}

// RevealTags returns the ASCII hidden in text as Unicode tag characters
// (U+E0020–U+E007E map to ' '–'~'), in order, other text left out. It is
// for audit and tests: it shows what a smuggled instruction said.
func RevealTags(text string) string {
	var b strings.Builder
	for i := 0; i < len(text); {
		if text[i] != 0xF3 {
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(text[i:])
		if r >= 0xE0020 && r <= 0xE007E {
			b.WriteByte(byte(r - 0xE0000))
		}
		i += w
	}
	return b.String()
}
