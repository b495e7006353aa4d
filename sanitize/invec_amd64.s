//go:build amd64 && !purego

#include "textflag.h"

// func inMasksAVX512(text *byte, blocks int, t *inVecTables, out *uint64)
//
// For each block of 64 positions, three masks (see inVecTables): out[0],
// the positions holding an ASCII letter or digit (code not zero); out[1],
// the positions whose byte the combined pass dispatches on (spec not zero,
// or >= 0x80); out[2], the positions whose code triple passes the five
// bitmaps, as keyFilterAVX512 computes it, and whose third and fourth
// codes pass b4.
TEXT ·inMasksAVX512(SB), NOSPLIT, $0-32
	MOVQ text+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ t+16(FP), DX
	MOVQ out+24(FP), DI
	TESTQ CX, CX
	JZ   done

	VMOVDQU64 0(DX), Z20    // code[0:64]
	VMOVDQU64 64(DX), Z21   // code[64:128]
	VMOVDQU64 128(DX), Z22  // b1
	VMOVDQU64 192(DX), Z23
	VMOVDQU64 256(DX), Z24  // b2
	VMOVDQU64 320(DX), Z25
	VMOVDQU64 384(DX), Z26  // b3
	VMOVDQU64 448(DX), Z27
	VMOVDQU64 512(DX), Z28  // hi3
	VMOVDQU64 576(DX), Z29  // bitsel
	VMOVDQU64 1024(DX), Z30 // m1
	VMOVDQU64 1088(DX), Z31
	VMOVDQU64 1152(DX), Z18 // m2
	VMOVDQU64 1216(DX), Z19
	VMOVDQU64 1280(DX), Z16 // spec[0:64]
	VMOVDQU64 1344(DX), Z17 // spec[64:128]

loop:
	VMOVDQU8 (SI), Z0
	VMOVDQU8 1(SI), Z1
	VMOVDQU8 2(SI), Z2
	VMOVDQU8 3(SI), Z15
	VPMOVB2M Z0, K1
	VPMOVB2M Z1, K2
	VPMOVB2M Z2, K3
	VPMOVB2M Z15, K7

	// Dispatch bytes: spec[c0&127] != 0, or c0 >= 0x80.
	VMOVDQA64 Z0, Z9
	VPERMI2B  Z17, Z16, Z9
	VPTESTMB  Z9, Z9, K5
	KORQ      K5, K1, K5
	KMOVQ     K5, AX
	MOVQ      AX, 8(DI)

	KNOTQ    K1, K1
	KNOTQ    K2, K2
	KNOTQ    K3, K3
	KNOTQ    K7, K7
	VPERMI2B.Z Z21, Z20, K1, Z0  // c0
	VPERMI2B.Z Z21, Z20, K2, Z1  // c1
	VPERMI2B.Z Z21, Z20, K3, Z2  // c2
	VPERMI2B.Z Z21, Z20, K7, Z15 // c3

	// Letters and digits: a code not zero.
	VPTESTMB Z0, Z0, K5
	KMOVQ    K5, AX
	MOVQ     AX, (DI)

	VPSLLW $2, Z0, Z3  // c0<<2
	VPSLLW $2, Z1, Z4  // c1<<2
	VPERMB Z28, Z1, Z5 // c1>>3
	VPERMB Z29, Z1, Z6 // 1<<(c1&7)
	VPERMB Z28, Z2, Z7 // c2>>3
	VPERMB Z29, Z2, Z8 // 1<<(c2&7)
	VPORD  Z3, Z5, Z9  // (c0, c1)
	VPORD  Z4, Z7, Z10 // (c1, c2)
	VPORD  Z3, Z7, Z11 // (c0, c2)
	VPERMI2B Z23, Z22, Z9
	VPERMI2B Z25, Z24, Z10
	VPERMI2B Z27, Z26, Z11
	VPTESTMB Z6, Z9, K4
	VPTESTMB Z8, Z10, K5
	VPTESTMB Z8, Z11, K6
	KANDQ    K4, K5, K4
	KANDQ    K4, K6, K4

	// The pair (c2, c3) in b4.
	VPSLLW    $2, Z2, Z9
	VPERMB    Z28, Z15, Z10 // c3>>3
	VPERMB    Z29, Z15, Z11 // 1<<(c3&7)
	VPORD     Z9, Z10, Z9
	VMOVDQU64 1408(DX), Z10 // b4[0:64]
	VPERMI2B  1472(DX), Z10, Z9
	VPTESTMB  Z11, Z9, K5
	KANDQ     K4, K5, K4

	// The hashed triples, as in keyFilterAVX512.
	VPERMB    640(DX), Z0, Z12
	VPERMB    704(DX), Z1, Z13
	VPERMB    768(DX), Z2, Z14
	VPTERNLOGD $0x96, Z14, Z13, Z12
	VPERMI2B  Z31, Z30, Z12
	VPTESTMB  Z8, Z12, K5
	VPERMB    832(DX), Z0, Z9
	VPERMB    896(DX), Z1, Z10
	VPERMB    960(DX), Z2, Z11
	VPTERNLOGD $0x96, Z11, Z10, Z9
	VPERMI2B  Z19, Z18, Z9
	VPTESTMB  Z6, Z9, K6
	KANDQ    K4, K5, K4
	KANDQ    K4, K6, K4
	KMOVQ    K4, AX
	MOVQ     AX, 16(DI)

	ADDQ $64, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	RET
