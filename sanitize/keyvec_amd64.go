//go:build amd64 && !purego

package sanitize

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// haveVec reports whether keyFilterAVX512 can run: AVX-512 with the
// byte and VBMI extensions, and an operating system that saves the
// registers.
func haveVec() bool {
	return cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI
}

// keyFilterAVX512 writes to out[i] the mask of the positions 64i to
// 64i+63 of text that pass the vector filter t, for i < blocks; text
// holds 64*blocks+2 bytes at least.
//
//go:noescape
func keyFilterAVX512(text *byte, blocks int, t *keyVecTables, out *uint64)

// keyFilterVec runs keyFilterAVX512 over text.
func keyFilterVec(text string, blocks int, t *keyVecTables, out *uint64) {
	keyFilterAVX512(unsafe.StringData(text), blocks, t, out)
}

// inMasksAVX512 writes to out[3i:3i+3] the masks of the positions 64i to
// 64i+63 of text described on [inVecTables], for i < blocks; text holds
// 64*blocks+3 bytes at least.
//
//go:noescape
func inMasksAVX512(text *byte, blocks int, t *inVecTables, out *uint64)

// inMasksVec runs inMasksAVX512 over text.
func inMasksVec(text string, blocks int, t *inVecTables, out *uint64) {
	inMasksAVX512(unsafe.StringData(text), blocks, t, out)
}
