package sanitize

import (
	"math/bits"
	"math/rand/v2"
)

// The vector keyword filter. On processors with AVX-512 VBMI, the key
// rules' filter first tests 64 positions at a time. Each byte is reduced
// to a five-bit code (ASCII letters folded to 1–26, digits 27, the other
// bytes that occur in a keyword 28, everything else 0), and the three
// bytes at a position must pass five bitmaps built from the keywords'
// first three bytes (see buildFilter for what the two-byte keywords put
// there): the pairs (first, second), (second, third) and (first, third),
// and the triple under two hashes; and the four bytes a hashed bitmap of
// the keywords' first four, unless the three are those of a keyword of
// two or three bytes. A position that passes is then tested exactly, by
// [KeyRules.pass], as before. The bitmaps over-approximate the keyword
// starts (1.5 % of the positions of our benign paragraph pass them, 3.3 %
// without the fourth byte, against 1 % for tri and long) and never reject
// a position where a keyword starts, so the positions the automaton
// starts from are the keyword starts the scalar filter lets through, less
// its hash collisions.

// keyVecTables is the data of the vector filter, laid out for
// keyFilterAVX512. The kernels work on a byte's code c in the form
// y = c<<2 | c>>3 (seven bits, c < 32), which serves three lookups at
// once: the pair bitmaps' index a<<2|b>>3 is the bits 0x7c of a's form
// and 0x03 of b's, picked by one bitwise select; the form's low six bits
// still tell the 32 codes apart, so tables of 64 entries are indexed by
// them; and they hold c&7 in bits 2–4, which bitsel turns into 1<<(c&7).
// So no code is shifted in the kernels. code maps a byte's low seven bits
// to the form of its code (bytes >= 0x80 are zeroed by the kernel; bit 7
// is free for a flag, see inVecTables); b1, b2 and b3 are bitmaps of code
// pairs (a, b), bit b&7 of byte a<<2|b>>3; bitsel[y&63] = 1<<(c&7).
//
// m1 and m2 are bitmaps of code triples (a, b, c), hashed: bit c&7 (for
// m1; b&7 for m2) of byte ha[0][a]^ha[1][b]^ha[2][c] (hb for m2), the
// tables ha and hb holding random seven-bit values (tabulation hashing),
// indexed by a code's form's low six bits (see yIndex).
//
// The kernels also test the fourth byte (the injection anchors' tables
// leave any3 empty): quad is a bitmap of code quadruples
// (a, b, c, d) of the keywords' first four bytes, hashed, bit d&7 of byte
// ha[0][a]^ha[1][b]^ha[2][c]^hd[d]; any3 is a bitmap of the code triples
// that any fourth byte may follow (those of the keywords of two or three
// bytes), bit c&7 of byte (hb[0][a]^hb[1][b]^hb[2][c])&63. A position
// passes when its quadruple is in quad or its triple in any3: of the
// positions of our benign paragraph that pass the five bitmaps, a little
// over half pass these too ("mail" of "mailgun" does, "main" does not).
type keyVecTables struct {
	code       [128]byte
	b1, b2, b3 [128]byte
	bitsel     [64]byte
	ha, hb     [3][64]byte
	m1, m2     [128]byte
	hd         [64]byte
	quad       [128]byte
	any3       [64]byte
}

// yForm is the form of the code c (< 32) in keyVecTables.code.
func yForm(c byte) byte { return c<<2 | c>>3 }

// yIndex is the index of the code c (< 32) in the tables of 64 entries:
// its form's low six bits.
func yIndex(c byte) byte { return yForm(c) & 63 }

// Codes of keyVecTables.code.
const (
	keyCodeDigit = 27
	keyCodeOther = 28 // a byte other than a letter or digit that occurs in a keyword
)

// keyVecWindow is how many positions keyState.skip has the vector filter
// test at a time: 64 words of mask, on the stack.
const keyVecWindow = 64 * 64

// newKeyVecTables builds the vector filter for the keywords, from the
// same starts as buildFilter (keyStarts); it returns nil when a keyword of
// one byte makes every position pass.
func newKeyVecTables(cls *[256]uint8, keywords []string, wordStart func(string) bool) *keyVecTables {
	t := new(keyVecTables)
	t.init(func(c byte) byte { return keyCode(cls, c) })
	ok := keyStarts(keywords, wordStart, func(a, b, c byte, kw string) {
		x, y, z := keyCode(cls, a), keyCode(cls, b), keyCode(cls, c)
		t.add(x, y, z)
		if len(kw) >= 4 && a == kw[0] && b == kw[1] && c == kw[2] {
			t.addQuad(x, y, z, keyCode(cls, kw[3]))
		} else {
			t.any3[t.hashB(x, y, z)&63] |= 1 << (z & 7)
		}
	})
	if !ok {
		return nil
	}
	return t
}

// init sets the code table from code and the tables of the hashes; the
// bitmaps are empty.
func (t *keyVecTables) init(code func(byte) byte) {
	for c := range 128 {
		t.code[c] = yForm(code(byte(c)))
	}
	for i := range 64 {
		t.bitsel[i] = 1 << (i >> 2 & 7)
	}
	// A fixed seed: the same tables, and so the same work, every run.
	// (64 values a table are drawn, of which the 32 codes use 32.)
	r := rand.New(rand.NewPCG(0x5ec0a1, 0x6b657973))
	for i := range 3 {
		for c := range byte(64) {
			a, b := byte(r.IntN(128)), byte(r.IntN(128))
			if c < 32 {
				t.ha[i][yIndex(c)], t.hb[i][yIndex(c)] = a, b
			}
		}
	}
	for c := range byte(64) {
		if d := byte(r.IntN(128)); c < 32 {
			t.hd[yIndex(c)] = d
		}
	}
}

// add lets the code triple (x, y, z) pass the five bitmaps.
func (t *keyVecTables) add(x, y, z byte) {
	t.addPairs(x, y, z)
	t.m1[t.hashA(x, y, z)] |= 1 << (z & 7)
	t.m2[t.hashB(x, y, z)] |= 1 << (y & 7)
}

// addPairs lets the code triple (x, y, z) pass the three pair bitmaps.
func (t *keyVecTables) addPairs(x, y, z byte) {
	pairSet(&t.b1, x, y)
	pairSet(&t.b2, y, z)
	pairSet(&t.b3, x, z)
}

// hashA and hashB are the two hashes of a code triple (the indexes into
// m1 and m2).
func (t *keyVecTables) hashA(a, b, c byte) byte {
	return t.ha[0][yIndex(a)] ^ t.ha[1][yIndex(b)] ^ t.ha[2][yIndex(c)]
}
func (t *keyVecTables) hashB(a, b, c byte) byte {
	return t.hb[0][yIndex(a)] ^ t.hb[1][yIndex(b)] ^ t.hb[2][yIndex(c)]
}

// addQuad lets the code quadruple (a, b, c, d) pass quad.
func (t *keyVecTables) addQuad(a, b, c, d byte) {
	t.quad[t.hashA(a, b, c)^t.hd[yIndex(d)]] |= 1 << (d & 7)
}

// hasQuad reports whether the code quadruple (a, b, c, d) passes quad.
func (t *keyVecTables) hasQuad(a, b, c, d byte) bool {
	return t.quad[t.hashA(a, b, c)^t.hd[yIndex(d)]]&(1<<(d&7)) != 0
}

// keyCode is the five-bit code of c in the vector filter.
func keyCode(cls *[256]uint8, c byte) byte {
	switch {
	case c >= 'a' && c <= 'z':
		return c - 'a' + 1
	case c >= 'A' && c <= 'Z':
		return c - 'A' + 1
	case c >= '0' && c <= '9':
		return keyCodeDigit
	case cls[c] != 0:
		return keyCodeOther
	}
	return 0
}

// pass reports whether the position p passes the key rules' vector
// filter, as keyFilterAVX512 computes it; p+3 < len(text). It is the
// reference the kernel is tested against.
func (t *keyVecTables) pass(text string, p int) bool {
	a, b, c, d := t.codeOf(text[p]), t.codeOf(text[p+1]), t.codeOf(text[p+2]), t.codeOf(text[p+3])
	return t.passes(a, b, c) && (t.hasQuad(a, b, c, d) || t.any3[t.hashB(a, b, c)&63]&(1<<(c&7)) != 0)
}

// codeOf is the code of any byte, as the kernels compute it: bytes >=
// 0x80 have code 0.
func (t *keyVecTables) codeOf(c byte) byte {
	if c >= 0x80 {
		return 0
	}
	return t.code[c] & 0x7f >> 2
}

// passes reports whether the codes a, b, c pass the five bitmaps
// (FILTER5 of keyFilterAVX512).
func (t *keyVecTables) passes(a, b, c byte) bool {
	return t.passesPairs(a, b, c) &&
		t.m1[t.hashA(a, b, c)]&(1<<(c&7)) != 0 && t.m2[t.hashB(a, b, c)]&(1<<(b&7)) != 0
}

// passesPairs reports whether the codes a, b, c pass the three pair
// bitmaps (PAIRS3 of inMasksAVX512).
func (t *keyVecTables) passesPairs(a, b, c byte) bool {
	return pairHas(&t.b1, a, b) && pairHas(&t.b2, b, c) && pairHas(&t.b3, a, c)
}

// pairHas reports whether the pair bitmap m holds the codes (a, b): bit
// b&7 of byte a<<2|b>>3.
func pairHas(m *[128]byte, a, b byte) bool { return m[a<<2|b>>3]&(1<<(b&7)) != 0 }

// pairSet adds the codes (a, b) to the pair bitmap m.
func pairSet(m *[128]byte, a, b byte) { m[a<<2|b>>3] |= 1 << (b & 7) }

// keyVecSlack is how many bytes past the positions it tests the key
// rules' kernel is given (keyFilterAVX512 reads three).
const keyVecSlack = 8

// keyFilterKind is the kernel that filters the key rules' keyword starts
// before tri and long.
type keyFilterKind uint8

const (
	keyFilterScalar keyFilterKind = iota // none: KeyRules.skip alone
	keyFilterWide                        // keyFilterAVX512 and vec (AVX-512 VBMI)
)

// vecSkip is skip with the vector filter of k.filter: the first position
// from p that the vector filter and mayStart both let a keyword start at,
// or len(text). w is the caller's window of masks, [*wb, *we) the
// positions it holds.
func (k *KeyRules) vecSkip(text string, p int, w *[keyVecWindow / 64]uint64, wb, we *int) int {
	if p == 0 {
		if k.mayStart(text, 0) {
			return 0
		}
		p = 1
	}
	for {
		if p < *wb || p >= *we {
			// The kernels read up to eight bytes past the positions they
			// test.
			n := min(len(text)-keyVecSlack-p, keyVecWindow) &^ 63
			if n <= 0 {
				return k.skip(text, p)
			}
			keyFilterVec(text[p:p+n+keyVecSlack], n/64, k.vec, &w[0])
			*wb, *we = p, p+n
		}
		off := p - *wb
		i, nw := off>>6, (*we-*wb)>>6
		m := w[i] &^ (1<<(off&63) - 1)
		for {
			for m != 0 {
				q := *wb + i<<6 + bits.TrailingZeros64(m)
				if q+3 >= len(text) || k.pass(text, q, k.tri[keyTriHash(keyTriKey(text[q], text[q+1], text[q+2]))]) {
					return q
				}
				m &= m - 1
			}
			if i++; i == nw {
				break
			}
			m = w[i]
		}
		p = *we
	}
}
