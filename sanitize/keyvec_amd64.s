//go:build amd64 && !purego

#include "textflag.h"
#include "vecfilter_amd64.h"

// func keyFilterAVX512(text *byte, blocks int, t *keyVecTables, out *uint64)
//
// For each block of 64 positions: load the bytes at the positions, one,
// two and three further on; map each to its code (zero for bytes >=
// 0x80); look up the pairs (c0, c1), (c1, c2) and (c0, c2) in the bitmaps
// b1, b2 and b3, and the hashed triple in m1 and m2 (FILTER5, written out
// here to keep the two hashes); then the hashed quadruple in quad (the m1
// hash XOR hd[c3], bit c3&7) or the triple in any3 (the m2 hash, bit
// c2&7); store the mask of the positions that pass.
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

	// FILTER5, and the quad hash in Z16 and the any3 byte in Z17.
	VPSLLW     $2, Z0, Z3
	VPSLLW     $2, Z1, Z4
	VPERMB     Z28, Z1, Z5
	VPERMB     Z29, Z1, Z6
	VPERMB     Z28, Z2, Z7
	VPERMB     Z29, Z2, Z8
	VPORD      Z3, Z5, Z9
	VPORD      Z4, Z7, Z10
	VPORD      Z3, Z7, Z11
	VPERMI2B   Z23, Z22, Z9
	VPERMI2B   Z25, Z24, Z10
	VPERMI2B   Z27, Z26, Z11
	VPTESTMB   Z6, Z9, K4
	VPTESTMB   Z8, Z10, K5
	VPTESTMB   Z8, Z11, K6
	KANDQ      K4, K5, K4
	KANDQ      K4, K6, K4
	VPERMB     640(DX), Z0, Z12
	VPERMB     704(DX), Z1, Z13
	VPERMB     768(DX), Z2, Z14
	VPTERNLOGD $0x96, Z14, Z13, Z12
	VPERMB     1280(DX), Z15, Z16 // hd[c3]
	VPXORD     Z12, Z16, Z16      // the quad hash
	VPERMI2B   Z31, Z30, Z12
	VPTESTMB   Z8, Z12, K5
	VPERMB     832(DX), Z0, Z9
	VPERMB     896(DX), Z1, Z10
	VPERMB     960(DX), Z2, Z11
	VPTERNLOGD $0x96, Z11, Z10, Z9
	VPERMB     1472(DX), Z9, Z17 // any3[m2 hash & 63]
	VPERMI2B   Z19, Z18, Z9
	VPTESTMB   Z6, Z9, K6
	KANDQ      K4, K5, K4
	KANDQ      K4, K6, K4

	// The quadruple in quad: bit c3&7 of quad[m1 hash ^ hd[c3]].
	VMOVDQU64 1344(DX), Z13
	VPERMI2B  1408(DX), Z13, Z16
	VPERMB    Z29, Z15, Z14
	VPTESTMB  Z14, Z16, K5

	// Or the triple in any3: bit c2&7 of any3[m2 hash & 63].
	VPTESTMB  Z8, Z17, K6
	KORQ      K5, K6, K5
	KANDQ     K4, K5, K4
	KMOVQ    K4, AX
	MOVQ     AX, (DI)

	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	RET
