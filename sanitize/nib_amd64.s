//go:build amd64 && !purego

#include "textflag.h"

// The AVX2 kernel: the combined pass's classifier (inMasksAVX2, with a
// nibble filter: see nibTables), 32 positions at a time, in blocks of 64.

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
