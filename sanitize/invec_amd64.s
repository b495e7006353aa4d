//go:build amd64 && !purego

#include "textflag.h"
#include "vecfilter_amd64.h"

// func inMasksAVX512(text *byte, blocks int, t *inVecTables, out *uint64)
//
// For each block of 64 positions, three masks (see inVecTables): out[0],
// the positions holding an ASCII letter or digit (code not zero); out[1],
// the positions whose byte the combined pass dispatches on (spec not zero,
// or >= 0x80); out[2], the positions whose code triple passes the five
// bitmaps, as keyFilterAVX512 computes it (FILTER5), whose third and
// fourth codes pass b4, and whose four codes pass quad.
TEXT ·inMasksAVX512(SB), NOSPLIT, $0-32
	MOVQ text+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ t+16(FP), DX
	MOVQ out+24(FP), DI
	TESTQ CX, CX
	JZ   done
	LOAD_FILTER_TABLES
	VMOVDQU64 1536(DX), Z16 // spec[0:64]
	VMOVDQU64 1600(DX), Z17 // spec[64:128]

loop:
	VMOVDQU8 (SI), Z0
	VMOVDQU8 1(SI), Z1
	VMOVDQU8 2(SI), Z2
	VMOVDQU8 3(SI), Z15

	// Dispatch bytes: spec[c0&127] != 0, or c0 >= 0x80.
	VMOVDQA64 Z0, Z9
	VPERMI2B  Z17, Z16, Z9
	VPTESTMB  Z9, Z9, K5
	VPMOVB2M  Z0, K6
	KORQ      K5, K6, K5
	KMOVQ     K5, AX
	MOVQ      AX, 8(DI)

	CODE(Z0, K1)
	CODE(Z1, K2)
	CODE(Z2, K3)
	CODE(Z15, K7)

	// Letters and digits: a code not zero.
	VPTESTMB Z0, Z0, K5
	KMOVQ    K5, AX
	MOVQ     AX, (DI)

	FILTER5

	// The pair (c2, c3) in b4.
	VPSLLW    $2, Z2, Z9
	VPERMB    Z28, Z15, Z10 // c3>>3
	VPERMB    Z29, Z15, Z11 // 1<<(c3&7)
	VPORD     Z9, Z10, Z9
	VMOVDQU64 1664(DX), Z10 // b4[0:64]
	VPERMI2B  1728(DX), Z10, Z9
	VPTESTMB  Z11, Z9, K5
	KANDQ     K4, K5, K4

	// The quadruple (c0, c1, c2, c3) in quad.
	QUAD
	KANDQ     K4, K5, K4
	KMOVQ     K4, AX
	MOVQ      AX, 16(DI)

	ADDQ $64, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	RET
