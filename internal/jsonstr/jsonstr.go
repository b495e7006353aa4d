// Package jsonstr appends Go strings as JSON strings, escaped exactly as
// encoding/json's json.Marshal or log/slog's JSON handler write them,
// without reflection or allocation, a word of eight plain bytes at a time.
// secureai uses the first for the chat request bodies it puts together
// for go-openai, which must be go-openai's bytes, and audit the second for
// its JSON sink, whose lines must be slog's.
package jsonstr

import (
	"encoding/binary"
	"unicode/utf8"
	"unsafe"
)

// AppendMarshal appends s to b quoted as json.Marshal writes a string:
// ", \ and control characters escaped (\b, \f, \n, \r and \t by name, the
// others as \u00XX), <, > and & as \u003c, \u003e and \u0026, U+2028 and
// U+2029 as \u2028 and \u2029, and each byte of invalid UTF-8 as \ufffd.
func AppendMarshal(b []byte, s string) []byte { return appendString(b, s, true) }

// AppendSlog appends s to b quoted as log/slog's JSON handler writes a
// string: as [AppendMarshal], but with <, > and & as they are, and \b and
// \f as \u0008 and \u000c.
func AppendSlog(b []byte, s string) []byte { return appendString(b, s, false) }

func appendString(b []byte, s string, marshal bool) []byte {
	safe := &slogSafe
	if marshal {
		safe = &marshalSafe
	}
	b = append(b, '"')
	p := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(p) && plain(binary.LittleEndian.Uint64(p[i:]), marshal) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b' && marshal:
				b = append(b, '\\', 'b')
			case c == '\f' && marshal:
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigit[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigit = "0123456789abcdef"

// marshalSafe and slogSafe are the ASCII bytes each writes as they are.
var marshalSafe, slogSafe = func() (m, l [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		l[c] = c != '"' && c != '\\'
		m[c] = l[c] && c != '<' && c != '>' && c != '&'
	}
	return m, l
}()

// The word test is made of those of "Bit Twiddling Hacks", hasless and
// haszero, each exact for whether any byte of the word is below 0x20, at
// or above 0x80 (v's own high bits), or the byte it looks for.
const lo, hi = 0x0101010101010101, 0x8080808080808080

// plain reports whether the 8 bytes of v are all safe: none below 0x20 or
// at or above 0x80, no " or \, and for marshal no <, > or & either (< and
// > are 0x3c and 0x3e, so that setting one bit makes the pair one value),
// without a branch.
func plain(v uint64, marshal bool) bool {
	var html uint64
	if marshal {
		html = hi
	}
	q, bs := v^(lo*'"'), v^(lo*'\\')
	amp, lg := v^(lo*'&'), (v|lo*0x02)^(lo*'>')
	return (v|(v-lo*0x20)&^v|(q-lo)&^q|(bs-lo)&^bs|((amp-lo)&^amp|(lg-lo)&^lg)&html)&hi == 0
}
