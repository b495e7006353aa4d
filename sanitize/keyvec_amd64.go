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
// holds 64*blocks+3 bytes at least.
//
//go:noescape
func keyFilterAVX512(text *byte, blocks int, t *keyVecTables, out *uint64)

// keyFilterVec runs keyFilterAVX512 over text. With AVX2 alone the key
// rules run the scalar filter (see newKeyRules' end): a nibble filter
// (see nibTables) of their 244 keyword starts lets a quarter of the
// positions of English prose through, the three code-pair bitmaps 5 %,
// the hashed trigrams none, and gathers are slow on some processors.
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
