//go:build amd64 && !purego

package sanitize

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// haveVBMI reports whether the AVX-512 kernels can run: AVX-512 with the
// byte and VBMI extensions, and an operating system that saves the
// registers.
func haveVBMI() bool {
	return cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI
}

// haveAVX2 reports whether the AVX2 kernels can run (x/sys/cpu reports
// AVX2 only where the operating system saves the registers).
func haveAVX2() bool { return cpu.X86.HasAVX2 }

// haveVec reports whether a vector kernel can run: the AVX-512 ones, or
// else the AVX2 ones.
func haveVec() bool { return haveVBMI() || haveAVX2() }

// keyFilterAVX512 writes to out[i] the mask of the positions 64i to
// 64i+63 of text that pass the vector filter t, for i < blocks; text
// holds 64*blocks+2 bytes at least.
//
//go:noescape
func keyFilterAVX512(text *byte, blocks int, t *keyVecTables, out *uint64)

// keyFilterVec runs keyFilterAVX512 over text. With AVX2 alone the key
// rules run keyTriAVX2 instead, the scalar filter itself: a nibble filter
// (see nibTables) of their 244 keyword starts lets a quarter of the
// positions of English prose through, the three code-pair bitmaps 5 %,
// the hashed trigrams none.
func keyFilterVec(text string, blocks int, t *keyVecTables, out *uint64) {
	keyFilterAVX512(unsafe.StringData(text), blocks, t, out)
}

// inMasksAVX512 writes to out[3i:3i+3] the masks of the positions 64i to
// 64i+63 of text described on [inVecTables], for i < blocks; text holds
// 64*blocks+3 bytes at least.
//
//go:noescape
func inMasksAVX512(text *byte, blocks int, t *inVecTables, out *uint64)

// inMasksAVX2 is inMasksAVX512 with the nibble filter t and classifier
// c.
//
//go:noescape
func inMasksAVX2(text *byte, blocks int, t *nibTables, c *nibClass, out *uint64)

// inMasksVec runs inMasksAVX512 over text when t.wide, else inMasksAVX2.
func inMasksVec(text string, blocks int, t *inVecTables, out *uint64) {
	if t.wide {
		inMasksAVX512(unsafe.StringData(text), blocks, t, out)
	} else {
		inMasksAVX2(unsafe.StringData(text), blocks, &t.anchors, &t.cls, out)
	}
}

// triConsts are the constants of keyTriAVX2: the arrangement of a
// group's bytes in dwords (the three bytes at each of 8 positions, the
// fourth zero), the case fold, the hash mask and the byte mask, each in
// every dword.
type triConsts struct {
	arrange, fold, hash, low [32]byte
}

// keyTriConsts are keyTriAVX2's constants; they are read only.
var keyTriConsts = func() *triConsts {
	t := new(triConsts)
	for d := range 8 {
		for j := range 4 {
			i := 4*d + j
			t.arrange[i] = 0x80 // zero
			if j < 3 {
				t.arrange[i] = byte(d + j) // each lane holds the same 16 bytes
				t.fold[i] = 0x20
			}
		}
		t.hash[4*d], t.hash[4*d+1] = 0xff, 0x7f
		t.low[4*d] = 0xff
	}
	return t
}()

// keyTriAVX2 writes to out[i] the mask of the positions 64i to 64i+63 of
// text whose value in tri (see KeyRules.skip) is not zero, for i <
// blocks: the scalar filter's stops. text holds 64*blocks+8 bytes at
// least, and tri has 3 bytes after its 1<<keyTriBits (a gathered dword).
//
//go:noescape
func keyTriAVX2(text *byte, blocks int, t *triConsts, tri *uint8, out *uint64)

// keyTriVec runs keyTriAVX2 over text.
func keyTriVec(text string, blocks int, tri *[1 << keyTriBits]uint8, out *uint64) {
	keyTriAVX2(unsafe.StringData(text), blocks, keyTriConsts, &tri[0], out)
}
