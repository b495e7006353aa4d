//go:build !amd64 || purego

package sanitize

// haveVBMI is false: the vector kernels are written for amd64 only.
func haveVBMI() bool { return false }

// haveAVX2 is false: the vector kernels are written for amd64 only.
func haveAVX2() bool { return false }

// haveVec is false: the vector kernels are written for amd64 only.
func haveVec() bool { return false }

// keyFilterVec is never called when haveVBMI is false.
func keyFilterVec(text string, blocks int, t *keyVecTables, out *uint64) {
	panic("sanitize: no vector keyword filter on this platform")
}

// inMasksVec is never called when haveVec is false.
func inMasksVec(text string, blocks int, t *inVecTables, out *uint64) {
	panic("sanitize: no vector classifier on this platform")
}
