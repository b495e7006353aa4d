//go:build amd64 && !purego

#include "textflag.h"

// The AVX-512 VBMI kernels of the key rules' filter (keyFilterAVX512)
// and of the combined pass (inMasksAVX512). Both read a keyVecTables at
// DX, whose code table gives a byte's code c in the form y = c<<2 | c>>3
// (see keyVecTables), and classify a block of 64 positions from the
// forms of its bytes and of the three bytes after each position. A
// block's forms are looked up once: the forms at one, two and three
// positions further are taken from those of the block and of the next
// one by a byte permutation, and the next block's are the following
// iteration's own.

// shiftIdx holds three byte permutations of two blocks of 64: the k-th
// (k = 1 to 3) picks the bytes i+k, i < 64.
DATA shiftIdx<>+0(SB)/8, $0x0807060504030201
DATA shiftIdx<>+8(SB)/8, $0x100f0e0d0c0b0a09
DATA shiftIdx<>+16(SB)/8, $0x1817161514131211
DATA shiftIdx<>+24(SB)/8, $0x201f1e1d1c1b1a19
DATA shiftIdx<>+32(SB)/8, $0x2827262524232221
DATA shiftIdx<>+40(SB)/8, $0x302f2e2d2c2b2a29
DATA shiftIdx<>+48(SB)/8, $0x3837363534333231
DATA shiftIdx<>+56(SB)/8, $0x403f3e3d3c3b3a39
DATA shiftIdx<>+64(SB)/8, $0x0908070605040302
DATA shiftIdx<>+72(SB)/8, $0x11100f0e0d0c0b0a
DATA shiftIdx<>+80(SB)/8, $0x1918171615141312
DATA shiftIdx<>+88(SB)/8, $0x21201f1e1d1c1b1a
DATA shiftIdx<>+96(SB)/8, $0x2928272625242322
DATA shiftIdx<>+104(SB)/8, $0x31302f2e2d2c2b2a
DATA shiftIdx<>+112(SB)/8, $0x3938373635343332
DATA shiftIdx<>+120(SB)/8, $0x41403f3e3d3c3b3a
DATA shiftIdx<>+128(SB)/8, $0x0a09080706050403
DATA shiftIdx<>+136(SB)/8, $0x1211100f0e0d0c0b
DATA shiftIdx<>+144(SB)/8, $0x1a19181716151413
DATA shiftIdx<>+152(SB)/8, $0x2221201f1e1d1c1b
DATA shiftIdx<>+160(SB)/8, $0x2a29282726252423
DATA shiftIdx<>+168(SB)/8, $0x3231302f2e2d2c2b
DATA shiftIdx<>+176(SB)/8, $0x3a39383736353433
DATA shiftIdx<>+184(SB)/8, $0x4241403f3e3d3c3b
GLOBL shiftIdx<>(SB), RODATA|NOPTR, $192

// LOAD_FILTER_TABLES loads the tables at DX and the constants: code into
// Z20:Z21, b1 into Z22:Z23, b2 into Z24:Z25, b3 into Z26:Z27, 0x7c in
// every byte of Z28, bitsel into Z29, m1 into Z30:Z31, m2 into Z18:Z19,
// and shiftIdx into Z16, Z17 and Z7.
#define LOAD_FILTER_TABLES \
	VMOVDQU64 0(DX), Z20; \
	VMOVDQU64 64(DX), Z21; \
	VMOVDQU64 128(DX), Z22; \
	VMOVDQU64 192(DX), Z23; \
	VMOVDQU64 256(DX), Z24; \
	VMOVDQU64 320(DX), Z25; \
	VMOVDQU64 384(DX), Z26; \
	VMOVDQU64 448(DX), Z27; \
	MOVL      $0x7c, AX; \
	VPBROADCASTB AX, Z28; \
	VMOVDQU64 512(DX), Z29; \
	VMOVDQU64 960(DX), Z30; \
	VMOVDQU64 1024(DX), Z31; \
	VMOVDQU64 1088(DX), Z18; \
	VMOVDQU64 1152(DX), Z19; \
	VMOVDQU64 shiftIdx<>+0(SB), Z16; \
	VMOVDQU64 shiftIdx<>+64(SB), Z17; \
	VMOVDQU64 shiftIdx<>+128(SB), Z7

// FIRST_BLOCK puts the forms of the 64 bytes at SI in Z0, and the mask of
// those >= 0x80 (whose forms are zero) in K6; it sets K7, the mask of
// NEXT_BLOCK's load, to all ones.
#define FIRST_BLOCK \
	VMOVDQU8   (SI), Z0; \
	VPMOVB2M   Z0, K6; \
	KNOTQ      K6, K1; \
	VPERMI2B.Z Z21, Z20, K1, Z0; \
	MOVQ       $-1, AX; \
	KMOVQ      AX, K7

// START is the start of both kernels, func(text *byte, blocks int, t,
// out *uint64): it loads the arguments into SI, CX, DX and DI, returns
// (at the kernel's label done) when there are no blocks, and does
// LOAD_FILTER_TABLES and FIRST_BLOCK.
#define START \
	MOVQ  text+0(FP), SI; \
	MOVQ  blocks+8(FP), CX; \
	MOVQ  t+16(FP), DX; \
	MOVQ  out+24(FP), DI; \
	TESTQ CX, CX; \
	JZ    done; \
	LOAD_FILTER_TABLES; \
	FIRST_BLOCK

// NEXT_BLOCK puts the forms of the next block, the 64 bytes at SI+64, in
// Z5 (of the last block, CX = 1, only the three bytes the last positions
// read are loaded: the rest may not be in the text, and are zero), and the
// mask of those >= 0x80 in K2; then the forms one, two and three
// positions on from the block's in Z1, Z2 and Z15. It uses AX and K1.
#define NEXT_BLOCK \
	CMPQ       CX, $1; \
	JNE        3(PC); \
	MOVL       $7, AX; \
	KMOVQ      AX, K7; \
	VMOVDQU8.Z 64(SI), K7, Z5; \
	VPMOVB2M   Z5, K2; \
	KNOTQ      K2, K1; \
	VPERMI2B.Z Z21, Z20, K1, Z5; \
	VMOVDQA64  Z16, Z1; \
	VPERMI2B   Z5, Z0, Z1; \
	VMOVDQA64  Z17, Z2; \
	VPERMI2B   Z5, Z0, Z2; \
	VMOVDQA64  Z7, Z15; \
	VPERMI2B   Z5, Z0, Z15

// PAIRS looks up the codes c0, c1, c2 (forms in Z0, Z1, Z2) in the pair
// bitmaps: (c0, c1), (c1, c2) and (c0, c2) in b1, b2 and b3, bit b&7 of
// byte a<<2|b>>3 (the form of a's bits 0x7c and b's 0x03), and hashes
// the triple: the bytes of b1, b2 and b3 in Z9, Z10 and Z11, 1<<(c1&7) in
// Z6, 1<<(c2&7) in Z8, and the m1 hash ha[0][c0]^ha[1][c1]^ha[2][c2] in
// Z12 (for m1 and QUAD). It leaves Z0 to Z2 as they were, and uses Z13
// and Z14.
#define PAIRS \
	VMOVDQA64  Z28, Z9; \
	VPTERNLOGD $0xca, Z1, Z0, Z9; \
	VMOVDQA64  Z28, Z10; \
	VPTERNLOGD $0xca, Z2, Z1, Z10; \
	VMOVDQA64  Z28, Z11; \
	VPTERNLOGD $0xca, Z2, Z0, Z11; \
	VPERMI2B   Z23, Z22, Z9; \
	VPERMI2B   Z25, Z24, Z10; \
	VPERMI2B   Z27, Z26, Z11; \
	VPERMB     Z29, Z1, Z6; \
	VPERMB     Z29, Z2, Z8; \
	VPERMB     576(DX), Z0, Z12; \
	VPERMB     640(DX), Z1, Z13; \
	VPERMB     704(DX), Z2, Z14; \
	VPTERNLOGD $0x96, Z14, Z13, Z12

// PAIRS3 sets K4 to the positions whose codes pass the three pair
// bitmaps (PAIRS, whose results it leaves but Z10). The bytes tested for
// one bit are ANDed first, so two tests are made. It uses K5.
#define PAIRS3 \
	PAIRS; \
	VPANDD     Z11, Z10, Z10; \
	VPTESTMB   Z6, Z9, K4; \
	VPTESTMB   Z8, Z10, K5; \
	KANDQ      K4, K5, K4

// FILTER5 sets K4 to the positions whose codes pass the five bitmaps: the
// pairs (PAIRS), and the triple hashed into m1 (the m1 hash, bit c2&7)
// and into m2 by the hb tables (bit c1&7). The bytes tested for one bit
// are ANDed first, so two tests are made. It leaves what PAIRS leaves but
// Z9 and Z10, and the m2 hash in Z3 (for any3), and uses Z3, Z4 and K5.
#define FILTER5 \
	PAIRS; \
	VMOVDQA64  Z12, Z13; \
	VPERMI2B   Z31, Z30, Z13; \
	VPERMB     768(DX), Z0, Z3; \
	VPERMB     832(DX), Z1, Z4; \
	VPERMB     896(DX), Z2, Z14; \
	VPTERNLOGD $0x96, Z14, Z4, Z3; \
	VMOVDQA64  Z3, Z4; \
	VPERMI2B   Z19, Z18, Z4; \
	VPANDD     Z4, Z9, Z9; \
	VPTERNLOGD $0x80, Z13, Z11, Z10; \
	VPTESTMB   Z6, Z9, K4; \
	VPTESTMB   Z8, Z10, K5; \
	KANDQ      K4, K5, K4

// QUAD puts in Z12 the byte of quad that the codes c0 to c3 (c3's form in
// Z15) select, quad[m1 hash ^ hd[c3]] (the m1 hash in Z12 as PAIRS
// leaves it), and 1<<(c3&7) in Z14. It uses Z13.
#define QUAD \
	VPERMB    1216(DX), Z15, Z13; \
	VPXORD    Z13, Z12, Z12; \
	VMOVDQU64 1280(DX), Z13; \
	VPERMI2B  1344(DX), Z13, Z12; \
	VPERMB    Z29, Z15, Z14

// func keyFilterAVX512(text *byte, blocks int, t *keyVecTables, out *uint64)
//
// For each block of 64 positions: the forms of the bytes at the
// positions, one, two and three further on (FIRST_BLOCK, NEXT_BLOCK); the
// pairs (c0, c1), (c1, c2) and (c0, c2) in the bitmaps b1, b2 and b3, and
// the hashed triple in m1 and m2 (FILTER5); then the hashed quadruple in
// quad (QUAD) or the triple in any3 (the m2 hash's low six bits, bit
// c2&7); store the mask of the positions that pass.
TEXT ·keyFilterAVX512(SB), NOSPLIT, $0-32
	START

loop:
	NEXT_BLOCK
	FILTER5
	QUAD
	VPTESTMB Z14, Z12, K5
	VPERMB   1408(DX), Z3, Z4 // any3[m2 hash & 63]
	VPTESTMB Z8, Z4, K1
	KORQ     K5, K1, K5
	KANDQ    K4, K5, K4
	KMOVQ    K4, AX
	MOVQ     AX, (DI)

	VMOVDQA64 Z5, Z0
	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	RET

// func inMasksAVX512(text *byte, blocks int, t *inVecTables, out *uint64)
//
// For each block of 64 positions, three masks (see inVecTables): out[0],
// the positions holding an ASCII letter or digit (a form with bits 0x7c
// not zero); out[1], the positions whose byte the combined pass
// dispatches on (bit 7 of the byte's entry in code, or a byte >= 0x80);
// out[2], the positions whose code triple passes the three pair bitmaps
// (PAIRS3), whose third and fourth codes pass b4, and whose four codes
// pass quad. (The triple's hashed bitmaps m1 and m2 of keyFilterAVX512
// are not tested: after quad, they turn down none of the words of our
// benign paragraph and 0.7 % of those of the data sets' prompts.)
TEXT ·inMasksAVX512(SB), NOSPLIT, $0-32
	START

loop:
	NEXT_BLOCK

	// Dispatch bytes: the flag in the form's bit 7, or a byte >= 0x80.
	VPMOVB2M Z0, K5
	KORQ     K5, K6, K5
	KMOVQ    K5, AX
	MOVQ     AX, 8(DI)
	KMOVQ    K2, K6

	// Letters and digits: a code not zero.
	VPTESTMB Z28, Z0, K5
	KMOVQ    K5, AX
	MOVQ     AX, (DI)

	PAIRS3
	QUAD

	// The pair (c2, c3) in b4, and the quadruple in quad: both bit c3&7.
	VMOVDQA64  Z28, Z9
	VPTERNLOGD $0xca, Z15, Z2, Z9
	VMOVDQU64  1600(DX), Z10 // b4[0:64]
	VPERMI2B   1664(DX), Z10, Z9
	VPANDD     Z9, Z12, Z12
	VPTESTMB   Z14, Z12, K5
	KANDQ      K4, K5, K4
	KMOVQ      K4, AX
	MOVQ       AX, 16(DI)

	VMOVDQA64 Z5, Z0
	ADDQ $64, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	RET
