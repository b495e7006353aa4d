//go:build amd64 && !purego

#include "textflag.h"

// The AVX2 kernels: the combined pass's classifier (inMasksAVX2, with a
// nibble filter: see nibTables) and the key rules' trigram filter
// (keyTriAVX2, its table read with gathers). Both work on 32 or 8
// positions at a time, in blocks of 64.

// NIBBLES splits the 32 bytes at addr into their low nibbles, in Y0, and
// their high nibbles, in Y1; Y15 holds 0x0f in every byte.
#define NIBBLES(addr) \
	VMOVDQU addr, Y0; \
	VPSRLW  $4, Y0, Y1; \
	VPAND   Y15, Y0, Y0; \
	VPAND   Y15, Y1, Y1

// OFFSET ands into acc the buckets the nibbles in Y0 and Y1 pass, with
// the tables lo and hi; it uses Y2.
#define OFFSET(lo, hi, acc) \
	VPSHUFB Y0, lo, Y2; \
	VPAND   Y2, acc, acc; \
	VPSHUFB Y1, hi, Y2; \
	VPAND   Y2, acc, acc

// MASK sets the 32-bit reg to the positions where acc is not zero; Y14
// is zero.
#define MASK(acc, reg) \
	VPCMPEQB  Y14, acc, acc; \
	VPMOVMSKB acc, reg; \
	NOTL      reg

// INHALF stores at off(DI), off+8(DI) and off+16(DI) the 32-bit halves
// of the three masks of the 32 positions from base (see inMasksAVX2):
// the ASCII letters and digits, the bytes the pass dispatches on, and the
// positions that pass the nibble filter of four offsets in Y6 to Y13.
// The classifier is at R10.
#define INHALF(base, off) \
	VMOVDQU   (base), Y0; \
	VPMOVMSKB Y0, R11; \
	VPSRLW    $4, Y0, Y1; \
	VPAND     Y15, Y0, Y0; \
	VPAND     Y15, Y1, Y1; \
	VMOVDQU   64(R10), Y3; \
	VPSHUFB   Y1, Y3, Y3; \
	VMOVDQU   0(R10), Y4; \
	VPSHUFB   Y0, Y4, Y4; \
	VPAND     Y3, Y4, Y4; \
	MASK(Y4, AX); \
	MOVL      AX, off(DI); \
	VMOVDQU   32(R10), Y4; \
	VPSHUFB   Y0, Y4, Y4; \
	VPAND     Y3, Y4, Y4; \
	MASK(Y4, AX); \
	ORL       R11, AX; \
	MOVL      AX, off+8(DI); \
	VPSHUFB   Y0, Y6, Y5; \
	VPSHUFB   Y1, Y10, Y2; \
	VPAND     Y2, Y5, Y5; \
	NIBBLES(1(base)); \
	OFFSET(Y7, Y11, Y5); \
	NIBBLES(2(base)); \
	OFFSET(Y8, Y12, Y5); \
	NIBBLES(3(base)); \
	OFFSET(Y9, Y13, Y5); \
	MASK(Y5, AX); \
	MOVL      AX, off+16(DI)

// func inMasksAVX2(text *byte, blocks int, t *nibTables, c *nibClass, out *uint64)
//
// For each block of 64 positions, the three masks of inMasksAVX512
// (see inVecTables), the third from the nibble filter t of the byte and
// the next three rather than from the code bitmaps.
TEXT ·inMasksAVX2(SB), NOSPLIT, $0-40
	MOVQ  text+0(FP), SI
	MOVQ  blocks+8(FP), CX
	MOVQ  t+16(FP), DX
	MOVQ  c+24(FP), R10
	MOVQ  out+32(FP), DI
	TESTQ CX, CX
	JZ    indone
	MOVQ  $0x0f, AX
	MOVQ  AX, X15
	VPBROADCASTB X15, Y15
	VPXOR Y14, Y14, Y14
	VMOVDQU 0(DX), Y6    // lo[0]
	VMOVDQU 32(DX), Y7   // lo[1]
	VMOVDQU 64(DX), Y8   // lo[2]
	VMOVDQU 96(DX), Y9   // lo[3]
	VMOVDQU 128(DX), Y10 // hi[0]
	VMOVDQU 160(DX), Y11 // hi[1]
	VMOVDQU 192(DX), Y12 // hi[2]
	VMOVDQU 224(DX), Y13 // hi[3]

inloop:
	LEAQ 32(SI), R8
	INHALF(SI, 0)
	INHALF(R8, 4)
	ADDQ $64, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  inloop
	VZEROUPPER

indone:
	RET

// TRIGROUP ors into R9, at bit shift, the 8 positions from off(SI) whose
// tri value is zero: their bytes (and the next two) are arranged in
// dwords by Y8, case-folded by Y9 and hashed as keyTriHash does (x ^ x>>2
// ^ x>>7, low 15 bits: Y10), and tri[hash] is gathered from DX (the table
// has 3 bytes of slack after it: the gather reads a dword). Y11 is 0xff
// in each dword, Y12 zero.
#define TRIGROUP(off, shift) \
	VBROADCASTI128 off(SI), Y0; \
	VPSHUFB        Y8, Y0, Y1; \
	VPOR           Y9, Y1, Y1; \
	VPSRLD         $2, Y1, Y2; \
	VPSRLD         $7, Y1, Y3; \
	VPXOR          Y2, Y1, Y1; \
	VPXOR          Y3, Y1, Y1; \
	VPAND          Y10, Y1, Y1; \
	VPCMPEQD       Y5, Y5, Y5; \
	VPXOR          Y4, Y4, Y4; \
	VPGATHERDD     Y5, (DX)(Y1*1), Y4; \
	VPAND          Y11, Y4, Y4; \
	VPCMPEQD       Y12, Y4, Y4; \
	VMOVMSKPS      Y4, AX; \
	SHLQ           $shift, AX; \
	ORQ            AX, R9

// func keyTriAVX2(text *byte, blocks int, t *triConsts, tri *uint8, out *uint64)
//
// For each block of 64 positions, the mask of those whose tri value (see
// KeyRules.skip) is not zero: the positions the scalar filter stops at.
// text holds 64*blocks+8 bytes at least (a group's 16-byte load reads
// that far).
TEXT ·keyTriAVX2(SB), NOSPLIT, $0-40
	MOVQ  text+0(FP), SI
	MOVQ  blocks+8(FP), CX
	MOVQ  t+16(FP), R8
	MOVQ  tri+24(FP), DX
	MOVQ  out+32(FP), DI
	TESTQ CX, CX
	JZ    tridone
	VMOVDQU 0(R8), Y8   // the dword arrangement
	VMOVDQU 32(R8), Y9  // the fold
	VMOVDQU 64(R8), Y10 // the hash mask
	VMOVDQU 96(R8), Y11 // 0xff
	VPXOR   Y12, Y12, Y12

triloop:
	XORQ R9, R9
	TRIGROUP(0, 0)
	TRIGROUP(8, 8)
	TRIGROUP(16, 16)
	TRIGROUP(24, 24)
	TRIGROUP(32, 32)
	TRIGROUP(40, 40)
	TRIGROUP(48, 48)
	TRIGROUP(56, 56)
	NOTQ R9
	MOVQ R9, (DI)
	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  triloop
	VZEROUPPER

tridone:
	RET
