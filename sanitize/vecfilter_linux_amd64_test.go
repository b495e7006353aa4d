//go:build linux && amd64 && !purego

package sanitize

import (
	"syscall"
	"testing"
	"unsafe"
)

// TestVecKernelsReadNoFurther runs the AVX-512 kernels on texts that end
// where the memory they are in ends: the last bytes of a page whose next
// page may not be read. A kernel that loaded a byte past the 64*blocks+3
// it is given (its next block's load of the last block is masked to
// three bytes) would fault. The texts hold the same bytes at every
// length, and the masks must match the Go models.
func TestVecKernelsReadNoFurther(t *testing.T) {
	if !haveVBMI() {
		t.Skip("no AVX-512 VBMI on this processor")
	}
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	src := benignText(page) + "api_key = sk-test-" // keywords near the end too
	copy(mem[:page], src[len(src)-page:])
	k := DefaultKeyRules()
	tv := inVecTablesFor(true)
	for _, blocks := range []int{1, 2, 3, 17, page/64 - 1} {
		n := blocks*64 + 3
		text := unsafe.String(&mem[page-n], n) // ends at the page's end
		out := make([]uint64, blocks)
		keyFilterVec(text, blocks, k.vec, &out[0])
		var m inVecMasks
		if blocks <= len(m) {
			inMasksVec(text, blocks, tv, &m[0][0])
		}
		for p := range blocks * 64 {
			if got, want := out[p/64]>>(p%64)&1 != 0, k.vec.pass(text, p); got != want {
				t.Fatalf("%d blocks, key filter at %d: kernel %v, model %v", blocks, p, got, want)
			}
		}
		if blocks <= len(m) {
			for b := range blocks {
				a, s, pass := tv.masks(text, b*64)
				if got, want := m[b], [3]uint64{a, s, pass}; got != want {
					t.Fatalf("%d blocks, classifier block %d: kernel %x, model %x", blocks, b, got, want)
				}
			}
		}
	}
}
