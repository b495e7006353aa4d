//go:build amd64 && !purego

#include "textflag.h"
#include "vecfilter_amd64.h"

// func keyFilterAVX512(text *byte, blocks int, t *keyVecTables, out *uint64)
//
// For each block of 64 positions: load the bytes at the positions, one,
// two and three further on; map each to its code (zero for bytes >=
// 0x80); look up the pairs (c0, c1), (c1, c2) and (c0, c2) in the bitmaps
// b1, b2 and b3, and the hashed triple in m1 and m2 (FILTER5); then the
// hashed quadruple in quad (QUAD) or the triple in any3 (the m2 hash's
// low six bits, bit c2&7); store the mask of the positions that pass.
TEXT ·keyFilterAVX512(SB), NOSPLIT, $0-32
	MOVQ text+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ t+16(FP), DX
	MOVQ out+24(FP), DI
	TESTQ CX, CX
	JZ   done
	LOAD_FILTER_TABLES

loop:
	VMOVDQU8 (SI), Z0
	VMOVDQU8 1(SI), Z1
	VMOVDQU8 2(SI), Z2
	VMOVDQU8 3(SI), Z15
	CODE(Z0, K1)
	CODE(Z1, K2)
	CODE(Z2, K3)
	CODE(Z15, K7)
	FILTER5
	QUAD
	VPERMB   1472(DX), Z9, Z17 // any3[m2 hash & 63]
	VPTESTMB Z8, Z17, K6
	KORQ     K5, K6, K5
	KANDQ    K4, K5, K4
	KMOVQ    K4, AX
	MOVQ     AX, (DI)

	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	RET
