package sanitize

import (
	"math/bits"
	"slices"
)

// The AVX2 form of the input pass's word filter. AVX2 has no 128-entry
// table lookup (VPERMB is AVX-512 VBMI), only VPSHUFB's sixteen entries,
// so on processors without VBMI the classifier (inMasksAVX2) uses the
// bucketed nibble filter of Hyperscan's "Teddy" literal matcher instead
// of the code bitmaps: each injection anchor goes into one of eight
// buckets, and a position passes when, for some bucket, the byte at every
// offset k has its low nibble in the bucket's set lo[k] and its high
// nibble in hi[k]. That is two VPSHUFB and three ANDs per offset and 32
// positions. The sets over-approximate the literals (a bucket's sets are
// the unions of its literals'), so, like the bitmaps, the filter never
// rejects a position where a literal starts and lets some others through;
// those are tested exactly after it, as before. (The key rules' 244
// keyword starts are too many for it: it would let a quarter of the
// positions of prose through; see keyFilterVec.)

// nibOffsets is the most offsets a nibble filter tests.
const nibOffsets = 4

// nibTables is a nibble filter: lo[k][x&15] & hi[k][x>>4] has bit b set
// when the byte x may be at offset k of a literal of bucket b. Each table
// holds its sixteen entries twice, once for each 128-bit lane of VPSHUFB.
type nibTables struct {
	lo, hi [nibOffsets][32]byte
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) has(c byte) bool { return s[c>>6]>>(c&63)&1 != 0 }

// addFolded adds c and, for an ASCII letter, its other case: the filters
// match letters in either case.
func (s *byteSet) addFolded(c byte) {
	s.add(c)
	if l := c | 0x20; l >= 'a' && l <= 'z' {
		s.add(l)
		s.add(l &^ 0x20)
	}
}

// nibLiteral is what a nibble filter must let through: the bytes a
// literal may have at each offset.
type nibLiteral [nibOffsets]byteSet

// anyByte is the set of all bytes.
var anyByte = byteSet{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}

// nibSets is a bucket's sets of nibbles, a bit per nibble, at each offset.
type nibSets [nibOffsets]struct{ lo, hi uint16 }

// project returns the nibbles of the bytes of lit at each of n offsets.
func (lit *nibLiteral) project(n int) nibSets {
	var s nibSets
	for k := range n {
		for c := range 256 {
			if lit[k].has(byte(c)) {
				s[k].lo |= 1 << (c & 15)
				s[k].hi |= 1 << (c >> 4)
			}
		}
	}
	return s
}

// union returns the sets of a and b together.
func (a nibSets) union(b nibSets) nibSets {
	for k := range a {
		a[k].lo |= b[k].lo
		a[k].hi |= b[k].hi
	}
	return a
}

// cost estimates the share of the positions of English text that pass
// the sets s at n offsets, the offsets taken as independent.
func (s *nibSets) cost(n int) float64 {
	p := 1.0
	for k := range n {
		w := 0.0
		for h := s[k].hi; h != 0; h &= h - 1 {
			hn := bits.TrailingZeros16(h)
			for l := s[k].lo; l != 0; l &= l - 1 {
				w += textFreq[hn<<4|bits.TrailingZeros16(l)]
			}
		}
		p *= w
	}
	return p
}

// newNibTables returns the tables of the literals' first n offsets, in
// the buckets of nibBuckets; the offsets from n on pass every byte.
func newNibTables(lits []nibLiteral, n int) *nibTables {
	bs := nibBuckets(lits, n)
	t := new(nibTables)
	for b, s := range bs {
		for k := range nibOffsets {
			lo, hi := s[k].lo, s[k].hi
			if k >= n {
				lo, hi = 0xffff, 0xffff
			}
			for x := range 16 {
				if lo>>x&1 != 0 {
					t.lo[k][x] |= 1 << b
					t.lo[k][x+16] |= 1 << b
				}
				if hi>>x&1 != 0 {
					t.hi[k][x] |= 1 << b
					t.hi[k][x+16] |= 1 << b
				}
			}
		}
	}
	return t
}

// nibBuckets puts the literals into eight buckets, one at a time, each
// where it adds least to the estimated share of English text the filter
// lets through (the literals that cost most alone go first), and returns
// the buckets' nibble sets at n offsets (an unused bucket's are empty).
func nibBuckets(lits []nibLiteral, n int) (buckets [8]nibSets) {
	sets := make([]nibSets, len(lits))
	order := make([]int, len(lits))
	alone := make([]float64, len(lits))
	for i := range lits {
		sets[i] = lits[i].project(n)
		order[i] = i
		alone[i] = sets[i].cost(n)
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case alone[a] > alone[b]:
			return -1
		case alone[a] < alone[b]:
			return 1
		}
		return 0
	})
	var used [8]bool
	for _, i := range order {
		best, bestAdd := 0, 0.0
		for b := range buckets {
			var add float64
			if used[b] {
				u := buckets[b].union(sets[i])
				add = u.cost(n) - buckets[b].cost(n)
			} else {
				add = alone[i]
			}
			if b == 0 || add < bestAdd {
				best, bestAdd = b, add
			}
		}
		buckets[best] = buckets[best].union(sets[i])
		used[best] = true
	}
	return buckets
}

// nibClass is the data of the AVX2 classifier of the input pass (see
// inVecTables): a byte x < 0x80 is an ASCII letter or digit when
// alnum[x&15] & bitsel[x>>4] is not zero, and one the pass dispatches on
// when spec[x&15] & bitsel[x>>4] is not zero (bitsel[h] = 1<<h for h < 8,
// zero for the bytes >= 0x80, which the kernel tests apart). Each table
// holds its sixteen entries twice, like nibTables'.
type nibClass struct {
	alnum, spec, bitsel [32]byte
}

// set adds the byte x < 0x80 to the table m (alnum or spec).
func (c *nibClass) set(m *[32]byte, x byte) {
	m[x&15] |= 1 << (x >> 4)
	m[x&15+16] |= 1 << (x >> 4)
}

// match returns the buckets the bytes c[0:nibOffsets] pass, as the
// kernels compute them: the reference they are tested against.
func (t *nibTables) match(c [nibOffsets]byte) byte {
	m := byte(0xff)
	for k, x := range c {
		m &= t.lo[k][x&15] & t.hi[k][x>>4]
	}
	return m
}

// textFreq is the share of each byte in English prose, roughly, for
// newNibTables' estimates: letters by their frequency in English, a
// capital for one letter in thirty, spaces, some punctuation and digits,
// and a little of everything else.
var textFreq = func() (f [256]float64) {
	letters := [26]float64{8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.8, 4.0, 2.4,
		6.7, 7.5, 1.9, 0.1, 6.0, 6.3, 9.1, 2.8, 1.0, 2.4, 0.15, 2.0, 0.07}
	for i, w := range letters {
		f['a'+i] = w * 0.8
		f['A'+i] = w * 0.8 / 30
	}
	for c := '0'; c <= '9'; c++ {
		f[c] = 0.3
	}
	f[' '] = 16
	f['.'], f[','], f['\n'] = 1, 1, 0.5
	sum := 0.0
	for c := range f {
		if f[c] == 0 {
			f[c] = 0.01
		}
		sum += f[c]
	}
	for c := range f {
		f[c] /= sum
	}
	return f
}()
