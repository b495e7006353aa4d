package sanitize

import (
	"math/bits"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// The vector form of the combined pass. On processors with AVX-512 VBMI
// or AVX2 (see haveVec), [pass.run] does not walk the text a byte and a
// word at a time: inMasksAVX512 or inMasksAVX2 classifies 64 positions at
// a time into three masks, and the pass visits only the positions those
// masks select:
//
//   - every byte the scalar loop dispatches on (inClass beyond kWord: the
//     secret and PII anchors, '<', '[', ']', control characters, bytes >=
//     0x80), and
//   - the start of every word (a run of ASCII letters and digits) whose
//     first four bytes may begin an injection anchor word, or that is at
//     least 16 bytes long (an encoded payload).
//
// The rest of the text — most words of prose, and the bytes between them —
// costs a share of the kernel's few instructions per 64 bytes. What is
// visited is handled by the same code, in the same order, as in the scalar
// loop, but for three kinds of byte that the scalar loop hands to rules
// that can do nothing there: the digits after a digit, the bytes of a run
// of quiet code points, and the secret anchors of idleAnchor. So the
// findings are the same; tests compare the two. The injection rules' look
// ahead reads the window's masks too (see injWordMasks).

// inVecTables is the data of inMasksAVX512: the three pair bitmaps of
// the injection anchors' first three bytes (see inFilterWords), under the
// codes of inCode (a word ends at a byte of code 0: a two-byte anchor has
// code 0 third), b4, the bitmap of their third and fourth bytes (laid out
// as keyVecTables' pair bitmaps), keyVecTables' quad holding their first
// four bytes (any fourth after a two-byte anchor), hashed as for the key
// rules, and spec, nonzero for the ASCII bytes the combined pass
// dispatches on (the kernel reads it as bit 7 of code). The triple's
// hashed bitmaps m1 and m2 stay empty: after quad they turned down no
// word of our benign paragraph and 0.7 % of those of the data sets'
// prompts, for five of the kernel's instructions a block. Of
// the words of our benign paragraph that start as an anchor may, half are
// anchors ("what", "two") and the rest are let through only by the
// pairs; quad turns down all but "shows" of those ("changes", "review",
// "short", "report"). inMasksAVX2 reads anchors,
// the nibble filter of the anchors' first four bytes (a word's end as any
// byte but an ASCII letter or digit), and cls, which classifies bytes as
// inMasksAVX512 does; wide tells which kernel runs.
type inVecTables struct {
	keyVecTables
	spec    [128]byte
	b4      [128]byte
	anchors nibTables
	cls     nibClass
	wide    bool
}

// inVecTabs returns the tables, built once; they are read only.
var inVecTabs = sync.OnceValue(func() *inVecTables { return newInVecTables(haveVBMI()) })

// vecTables returns the tables of the vector pass, or nil on a processor
// that cannot run it.
func vecTables() *inVecTables {
	if haveVec() {
		return inVecTabs()
	}
	return nil
}

// newInVecTables builds the tables from injAnchors and inClass, for the
// AVX-512 kernel when wide, else the AVX2 one.
func newInVecTables(wide bool) *inVecTables {
	t := &inVecTables{wide: wide}
	t.init(inCode)
	var nonWord byteSet // the bytes that end a word: code 0
	for c := range 256 {
		if inCode(byte(c)) == 0 {
			nonWord.add(byte(c))
		}
	}
	var lits []nibLiteral
	for _, fw := range inFilterWords() {
		w := fw.word
		var c, d byte // a word ends at a byte of code 0
		if len(w) > 2 {
			c = inCode(w[2])
		}
		if len(w) > 3 {
			d = inCode(w[3])
		}
		a, b := inCode(w[0]), inCode(w[1])
		t.addPairs(a, b, c)
		if len(w) == 2 || len(w) == 3 && fw.prefix {
			// The byte after the end (after the third byte of a prefix):
			// any.
			for x := range byte(32) {
				pairSet(&t.b4, c, x)
				t.addQuad(a, b, c, x)
			}
		} else {
			pairSet(&t.b4, c, d)
			t.addQuad(a, b, c, d)
		}
		var lit nibLiteral
		for k := range nibOffsets {
			switch {
			case k < len(w) && inCode(w[k]) != 0:
				lit[k].addFolded(w[k])
			case k <= len(w) && !fw.prefix:
				lit[k] = nonWord
			default:
				lit[k] = anyByte
			}
		}
		lits = append(lits, lit)
	}
	t.anchors = *newNibTables(lits, nibOffsets)
	for c := range 128 {
		if inClass[c]&^kWord != 0 {
			t.spec[c] = 1
			t.code[c] |= 0x80 // the kernel's copy of spec
			t.cls.set(&t.cls.spec, byte(c))
		}
		if inCode(byte(c)) != 0 {
			t.cls.set(&t.cls.alnum, byte(c))
		}
	}
	for h := range 8 {
		t.cls.bitsel[h], t.cls.bitsel[h+16] = 1<<h, 1<<h
	}
	return t
}

// inFilterWord is a word whose starts the vector pass's kernels must let
// through: an injection anchor, or an entry of a set of injFilteredSets,
// which may be a prefix (of three letters or digits or more).
type inFilterWord struct {
	word   string
	prefix bool
}

// inFilterWords returns the words the kernels' filter is built from: the
// injection anchors, and the entries of injFilteredSets made only of
// ASCII letters and digits (no other entry can be an ASCII word of the
// vector pass's masks, see injWordMasks.none).
func inFilterWords() []inFilterWord {
	var ws []inFilterWord
	for _, a := range injAnchors {
		ws = append(ws, inFilterWord{word: a.word})
	}
	for _, set := range injFilteredSets {
		for _, e := range set.words {
			if strings.IndexFunc(e.w, func(r rune) bool { return r >= utf8.RuneSelf || !isAlnum(byte(r)) }) < 0 {
				if e.prefix && len(e.w) < 3 {
					panic("sanitize: a filtered set's prefix entry of fewer than three bytes: " + e.w)
				}
				ws = append(ws, inFilterWord{word: e.w, prefix: e.prefix})
			}
		}
	}
	return ws
}

// inCode is the five-bit code of c in inVecTables: ASCII letters, folded,
// 1–26; digits keyCodeDigit; every other byte 0.
func inCode(c byte) byte {
	var none [256]uint8 // no byte but letters and digits has a code
	return keyCode(&none, c)
}

// inVecWindow is how many positions runVec classifies at a time: the
// chunk the key rules run ahead by.
const inVecWindow = keyChunk

// inVecMasks holds the masks of the blocks of a window and the block
// after it, as inVecTables.inMasks writes them.
type inVecMasks = [inVecWindow/64 + 1][3]uint64

// inMasks fills m[0:blocks] with the masks of the blocks of 64 positions
// from w. A block whose positions and three bytes after are not all in the
// text is classified from a copy padded with zero bytes (code 0: the end
// of the text ends a word), and its masks are cut at the text's end.
func (t *inVecTables) inMasks(text string, w, blocks int, m *[inVecWindow/64 + 1][3]uint64) {
	full := min(blocks, (len(text)-3-w)>>6)
	if full > 0 {
		inMasksVec(text[w:w+full<<6+3], full, t, &m[0][0])
	}
	for b := max(full, 0); b < blocks; b++ {
		var pad [64 + 3]byte
		k := copy(pad[:], text[w+b<<6:])
		inMasksVec(unsafe.String(&pad[0], len(pad)), 1, t, &m[b][0])
		if k < 64 {
			cut := uint64(1)<<k - 1
			m[b][0] &= cut
			m[b][1] &= cut
			m[b][2] &= cut
		}
	}
}

// masks is the reference the kernel of t (inMasksAVX512 or inMasksAVX2)
// is tested against: the three masks of the block of 64 positions from
// base, with the text's end as a zero byte.
func (t *inVecTables) masks(text string, base int) (alnum, spec, pass uint64) {
	at := func(p int) byte {
		if p < len(text) {
			return text[p]
		}
		return 0
	}
	for i := range 64 {
		p := base + i
		if p >= len(text) {
			break
		}
		c := text[p]
		a, b, d, e := t.codeOf(c), t.codeOf(at(p+1)), t.codeOf(at(p+2)), t.codeOf(at(p+3))
		if a != 0 {
			alnum |= 1 << i
		}
		if c >= 0x80 || t.spec[c] != 0 {
			spec |= 1 << i
		}
		if t.wide && t.passesPairs(a, b, d) && pairHas(&t.b4, d, e) && t.hasQuad(a, b, d, e) ||
			!t.wide && t.anchors.match([nibOffsets]byte{c, at(p + 1), at(p + 2), at(p + 3)}) != 0 {
			pass |= 1 << i
		}
	}
	return alnum, spec, pass
}

// lowBits returns the mask of the positions below d (d > 0) of a block
// of 64.
func lowBits(d int) uint64 {
	if d >= 64 {
		return ^uint64(0)
	}
	return 1<<d - 1
}

// run16 returns the positions of lo where 16 ones start in the 128-bit
// mask hi:lo.
func run16(lo, hi uint64) uint64 {
	x, y := lo, hi
	x &= x>>1 | y<<63
	y &= y >> 1
	x &= x>>2 | y<<62
	y &= y >> 2
	x &= x>>4 | y<<60
	y &= y >> 4
	return x & (x>>8 | y<<56)
}

// runVec is [pass.run] with the vector classifier t.
func (p *pass) runVec(text string, t *inVecTables) {
	n := len(text)
	words := &p.inj.words // the injection rules' look ahead reads the masks too
	m := &words.m
	var cands [inVecWindow / 64]uint64
	injNext := 0 // the injection rules skip what an encoded run covered
	var carry uint64
	for w := 0; w < n; w += inVecWindow {
		end := min(n, w+inVecWindow)
		if p.key != nil {
			// Run the key rules over the keyword starts before end.
			p.keys(text, end)
		}
		nb := (end - w + 63) >> 6
		need := nb
		if end < n {
			need++ // the next block's letters, for the words that cross into it
		}
		t.inMasks(text, w, need, m)
		words.use(text, w, need)
		if p.d != nil {
			carry = injCands(text, words, nb, &cands, carry)
		}
		for b := range nb {
			base := w + b<<6
			spec := m[b][1]
			var cand uint64 // set by injCands
			if p.d != nil {
				cand = cands[b]
			}
			if d := p.hiEnd - base; d > 0 { // bytes >= 0x80 taken in a run
				spec &^= lowBits(d)
			}
			for ev := cand | spec; ev != 0; ev &= ev - 1 {
				q := base + bits.TrailingZeros64(ev)
				bit := ev & -ev
				if cand&bit != 0 && q >= injNext {
					injNext = p.injWord(text, q, words.end(text, q), injNext)
				}
				if spec&bit != 0 && !idleAnchor(text, q) {
					injNext = p.dispatch(text, q, inClass[text[q]], injNext)
					if d := p.hiEnd - base; d > q-base+1 {
						// A run of quiet code points: none of its bytes
						// is dispatched again.
						ev = ev&^lowBits(d) | bit
					} else if isDigit(text[q]) {
						// The digits after a digit are not dispatched: a
						// digit goes to the PII rules alone, which do
						// nothing at one that follows a letter or digit
						// (not even an IBAN's check: its two capitals would
						// be digits), and their next position moves on past
						// the run all the same.
						e := q + 1
						for e < n && e-base < 64 && isDigit(text[e]) {
							e++
						}
						ev = ev&^lowBits(e-base) | bit
					}
				}
			}
		}
	}
}

// injCands sets cands[b], for the nb blocks of the window whose masks
// words holds, to the starts of the words the injection rules look at:
// those of 16 letters or digits and more, or that pass the kernel's filter
// and then injMay. It returns the carry for the next window (whether the
// window's last byte is a letter or digit). The words of all the window's
// blocks are tested here, ahead of the event loop and independently of
// each other, so that the processor overlaps the tests (in the event
// loop, each waited on the one before); the few words an encoded run then
// skips are tested in vain.
func injCands(text string, words *injWordMasks, nb int, cands *[inVecWindow / 64]uint64, carry uint64) uint64 {
	m := &words.m
	for b := range nb { // no branch on the text: the blocks' masks are worked out side by side
		a := m[b][0]
		var next uint64
		if b+1 < words.n {
			next = m[b+1][0]
		}
		cands[b] = a &^ (a<<1 | carry) & (m[b][2] | run16(a, next))
		carry = a >> 63
	}
	for b := range nb {
		base := words.base + b<<6
		cand := cands[b]
		for c := cand; c != 0; c &= c - 1 {
			q := base + bits.TrailingZeros64(c)
			if !injMay(text, q, words.end(text, q)) {
				cand &^= c & -c
			}
		}
		cands[b] = cand
	}
	return carry
}

// idleAnchor reports whether text[q] is a byte only the secret rules
// anchor on ('A', 'G', 'J', '-', '_') where they can find nothing that
// another anchor of the same token would not. Every prefix rule a token
// matches (see tokenRuns.matchToken) has an anchor within its first nine
// bytes from which tokenStart finds the token's start ('-' or '_' in
// "sk-", "ghp_", "xoxb-", "glpat-", "rk_live_", 'J' in "eyJ", the
// capital itself in "AKIA", "AIza", "GR1348941"), the rules look at a
// token start once whichever anchor it is, and they find a token there
// only by its first bytes. So a capital only counts where it is that
// anchor: 'A' before K, S, B, C, 3 or I; 'G' before R; 'J' after "ey";
// and '-' only in a token that starts with 's', 'g', 'x' or '-' (PEM),
// '_' in one that starts with 's', 'r' or 'g'. In prose most capitals
// start a sentence or a name, and most hyphens join words ("e-mail").
func idleAnchor(text string, q int) bool {
	switch text[q] {
	case 'A':
		if q+1 < len(text) {
			switch text[q+1] {
			case 'K', 'S', 'B', 'C', '3', 'I':
				return false
			}
		}
		return true
	case 'G':
		return q+1 >= len(text) || text[q+1] != 'R'
	case 'J':
		return q < 2 || text[q-2] != 'e' || text[q-1] != 'y'
	case '-':
		c := text[tokenStart(text, q)]
		return c != 's' && c != 'g' && c != 'x' && c != '-'
	case '_':
		c := text[tokenStart(text, q)]
		return c != 's' && c != 'r' && c != 'g'
	}
	return false
}
