package tokens

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go-loader/assets"
)

// encoding is one byte-level BPE encoding: the rank of every token (its
// bytes) and the pre-tokenizer that cuts a text into the pieces the BPE
// runs on. It is immutable once built, so safe for concurrent use.
type encoding struct {
	ranks   rankTable
	classes *classTable
	next    func(t *classTable, s string, i int) int
}

// loadEncoding builds an encoding from tiktoken-go-loader's embedded rank
// file (base64 of the token's bytes, a space, its rank, on each line): the
// same files tiktoken-go reads through that loader.
func loadEncoding(name string, next func(*classTable, string, int) int) (*encoding, error) {
	file, err := assets.Assets.ReadFile(name + ".tiktoken")
	if err != nil {
		return nil, fmt.Errorf("tokens: load %s: %w", name, err)
	}
	toks := make([]token, 0, bytes.Count(file, []byte{'\n'})+1)
	blob := make([]byte, 0, len(file)/2)
	for line := range bytes.Lines(file) {
		line = bytes.TrimSuffix(line, []byte{'\n'})
		if len(line) == 0 {
			continue
		}
		b64, num, ok := bytes.Cut(line, []byte{' '})
		rank, err := strconv.ParseUint(string(num), 10, 32)
		if !ok || err != nil || rank > maxRank {
			return nil, fmt.Errorf("tokens: load %s: bad line %q", name, line)
		}
		off := len(blob)
		blob, err = base64.StdEncoding.AppendDecode(blob, b64)
		if err != nil || len(blob) == off || len(blob)-off > maxTokenLen || len(blob) > maxBlob {
			return nil, fmt.Errorf("tokens: load %s: bad line %q", name, line)
		}
		toks = append(toks, token{uint32(off), uint32(len(blob) - off), uint32(rank)})
	}
	e := &encoding{ranks: newRankTable(string(blob), toks), classes: classes(), next: next}
	for b := range 256 { // a byte-level BPE: every byte is a token
		if e.ranks.rank(string([]byte{byte(b)})) == noRank {
			return nil, fmt.Errorf("tokens: load %s: no token for byte %#x", name, b)
		}
	}
	return e, nil
}

var (
	o200k  = sync.OnceValues(func() (*encoding, error) { return loadEncoding(O200kBase, nextO200k) })
	cl100k = sync.OnceValues(func() (*encoding, error) { return loadEncoding(Cl100kBase, nextCl100k) })
)

// token is a token of a rank file while loading: its bytes are
// blob[off:off+len].
type token struct{ off, len, rank uint32 }

// Limits of rankTable's packed slots.
const (
	maxRank     = 1<<22 - 1
	maxTokenLen = 1<<8 - 1
	maxBlob     = 1 << 26
)

// rankTable maps a token's bytes to its rank: an open-addressing hash table
// (linear probing, at most half full) over one string holding every token,
// plus a direct table for the two-byte tokens, which the merge asks for most.
// A slot packs the token's offset in blob (26 bits), a hash tag (8 bits), its
// length (8 bits, never 0, so an empty slot is 0) and its rank (22 bits).
// It is immutable once built.
type rankTable struct {
	blob  string
	slots []uint64
	seed  maphash.Seed
	pairs []uint32 // rank of the token s[0]s[1] at s[0]<<8|s[1], or noRank
}

func newRankTable(blob string, toks []token) rankTable {
	size := 1024
	for size < 2*len(toks) {
		size *= 2
	}
	t := rankTable{blob: blob, slots: make([]uint64, size), seed: maphash.MakeSeed(), pairs: make([]uint32, 1<<16)}
	for i := range t.pairs {
		t.pairs[i] = noRank
	}
	mask := uint64(size - 1)
	for _, tk := range toks {
		s := blob[tk.off : tk.off+tk.len]
		if len(s) == 2 {
			t.pairs[int(s[0])<<8|int(s[1])] = tk.rank
		}
		h := maphash.String(t.seed, s)
		i := h & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = uint64(tk.off)<<38 | (h>>56)<<30 | uint64(tk.len)<<22 | uint64(tk.rank)
	}
	return t
}

// rank returns the rank of the token s, or noRank.
func (t *rankTable) rank(s string) uint32 {
	if len(s) == 2 {
		return t.pairs[int(s[0])<<8|int(s[1])]
	}
	h := maphash.String(t.seed, s)
	mask := uint64(len(t.slots) - 1)
	want := (h>>56)<<30 | uint64(len(s))<<22
	for i := h & mask; ; i = (i + 1) & mask {
		e := t.slots[i]
		if e == 0 {
			return noRank
		}
		if e&(1<<38-1)&^maxRank == want {
			if off := e >> 38; t.blob[off:off+uint64(len(s))] == s {
				return uint32(e & maxRank)
			}
		}
	}
}

// count returns the number of tokens of s, as tiktoken-go's EncodeOrdinary
// would: bytes that are not valid UTF-8 are first replaced, one U+FFFD
// each, as tiktoken-go's conversion to runes does.
func (e *encoding) count(s string) int {
	if !utf8.ValidString(s) {
		s = string([]rune(s))
	}
	n := 0
	for i := 0; i < len(s); {
		j := e.next(e.classes, s, i)
		n += e.pieceTokens(s[i:j])
		i = j
	}
	return n
}

// pieceTokens returns the number of tokens the BPE makes of one piece.
func (e *encoding) pieceTokens(p string) int {
	if len(p) == 1 {
		return 1
	}
	if e.ranks.rank(p) != noRank {
		return 1
	}
	if len(p) <= smallPiece {
		return e.mergeSmall(p)
	}
	return e.mergeLarge(p)
}

// smallPiece is the longest piece merged by scanning for the lowest rank
// (quadratic, but without allocation); longer ones use a heap.
const smallPiece = 32

const noRank = math.MaxUint32

// mergeSmall is tiktoken's byte-pair merge, counting only: parts[i] is the
// start of the i-th part and the rank of the pair it starts (it merged with
// the next part); the pair of lowest rank merges first, the leftmost on a
// tie, until no pair is a token.
func (e *encoding) mergeSmall(p string) int {
	type part struct {
		start int32
		rank  uint32
	}
	var buf [smallPiece + 1]part
	parts := buf[:len(p)+1]
	for i := range parts {
		parts[i] = part{int32(i), noRank}
	}
	for i := 0; i+2 < len(parts); i++ {
		parts[i].rank = e.ranks.rank(p[i : i+2])
	}
	pairRank := func(i int) uint32 { // the rank of parts i and i+1 merged with i+2
		if i+3 < len(parts) {
			return e.ranks.rank(p[parts[i].start:parts[i+3].start])
		}
		return noRank
	}
	for len(parts) > 1 {
		best, at := uint32(noRank), -1
		for i, pt := range parts[:len(parts)-1] {
			if pt.rank < best {
				best, at = pt.rank, i
			}
		}
		if at < 0 {
			break
		}
		parts[at].rank = pairRank(at)
		if at > 0 {
			parts[at-1].rank = pairRank(at - 1)
		}
		parts = append(parts[:at+1], parts[at+2:]...)
	}
	return len(parts) - 1
}

// mergeLarge is mergeSmall for longer pieces (a sentence of CJK, a run of
// symbols), in O(n log n): the parts are a linked list and the pairs wait in
// a heap ordered by rank, then by position, so that the merges happen in the
// same order. An entry is stale when its part has merged into the one
// before, or when its pair has grown since (its rank then differs: a rank is
// one byte string, and a pair starting at a fixed byte only grows). Pieces
// up to stackPiece bytes are merged without allocating.
func (e *encoding) mergeLarge(p string) int {
	type node struct {
		next, prev int32  // starts of the next and previous parts; next is -1 once merged away
		rank       uint32 // rank of the pair starting here
	}
	n := len(p)
	var nodeBuf [stackPiece]node
	var heapBuf [3 * stackPiece]pair
	nodes, h := nodeBuf[:0], mergeHeap(heapBuf[:0])
	if n > stackPiece {
		nodes, h = make([]node, 0, n), make(mergeHeap, 0, 3*n)
	}
	for i := range n {
		nd := node{int32(i + 1), int32(i - 1), noRank}
		if i+2 <= n {
			if nd.rank = e.ranks.rank(p[i : i+2]); nd.rank != noRank {
				h = append(h, pair{nd.rank, int32(i)})
			}
		}
		nodes = append(nodes, nd)
	}
	h.init()
	pairRank := func(i int32) uint32 {
		j := nodes[i].next
		if j >= int32(n) {
			return noRank
		}
		return e.ranks.rank(p[i:nodes[j].next])
	}
	parts := n
	for len(h) > 0 {
		var top pair
		top, h = h.pop()
		i := top.at
		if nodes[i].next < 0 || nodes[i].rank != top.rank {
			continue
		}
		j := nodes[i].next // merge j into i
		nodes[i].next = nodes[j].next
		nodes[j].next = -1
		if k := nodes[i].next; k < int32(n) {
			nodes[k].prev = i
		}
		parts--
		if nodes[i].rank = pairRank(i); nodes[i].rank != noRank {
			h = h.push(pair{nodes[i].rank, i})
		}
		if k := nodes[i].prev; k >= 0 {
			if nodes[k].rank = pairRank(k); nodes[k].rank != noRank {
				h = h.push(pair{nodes[k].rank, k})
			}
		}
	}
	return parts
}

// stackPiece is the longest piece mergeLarge merges in stack buffers.
const stackPiece = 256

// pair is a heap entry of mergeLarge: the rank of the pair starting at byte
// at.
type pair struct {
	rank uint32
	at   int32
}

// mergeHeap is a binary min-heap of pairs by (rank, at).
type mergeHeap []pair

func (h mergeHeap) less(a, b int) bool {
	return h[a].rank < h[b].rank || (h[a].rank == h[b].rank && h[a].at < h[b].at)
}

func (h mergeHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// push and pop return the heap, so that a heap in a stack buffer stays
// there.
func (h mergeHeap) push(p pair) mergeHeap {
	h = append(h, p)
	h.up(len(h) - 1)
	return h
}

func (h mergeHeap) pop() (pair, mergeHeap) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	h.down(0)
	return top, h
}

func (h mergeHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (h mergeHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
