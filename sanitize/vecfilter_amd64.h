// The part the two AVX-512 VBMI kernels (keyFilterAVX512 and
// inMasksAVX512) share: both read a keyVecTables at DX.

// LOAD_FILTER_TABLES loads the tables at DX: code into Z20:Z21, b1 into
// Z22:Z23, b2 into Z24:Z25, b3 into Z26:Z27, hi3 into Z28, bitsel into
// Z29, m1 into Z30:Z31 and m2 into Z18:Z19.
#define LOAD_FILTER_TABLES \
	VMOVDQU64 0(DX), Z20; \
	VMOVDQU64 64(DX), Z21; \
	VMOVDQU64 128(DX), Z22; \
	VMOVDQU64 192(DX), Z23; \
	VMOVDQU64 256(DX), Z24; \
	VMOVDQU64 320(DX), Z25; \
	VMOVDQU64 384(DX), Z26; \
	VMOVDQU64 448(DX), Z27; \
	VMOVDQU64 512(DX), Z28; \
	VMOVDQU64 576(DX), Z29; \
	VMOVDQU64 1024(DX), Z30; \
	VMOVDQU64 1088(DX), Z31; \
	VMOVDQU64 1152(DX), Z18; \
	VMOVDQU64 1216(DX), Z19

// CODE replaces the 64 bytes in z by their codes (zero for bytes >=
// 0x80), using k.
#define CODE(z, k) \
	VPMOVB2M   z, k; \
	KNOTQ      k, k; \
	VPERMI2B.Z Z21, Z20, k, z

// FILTER5 sets K4 to the positions whose codes c0, c1, c2 (in Z0, Z1, Z2)
// pass the five bitmaps: the pairs (c0, c1), (c1, c2) and (c0, c2) in b1,
// b2 and b3, bit c&7 of byte a<<2|b>>3; the triple hashed into m1 by
// ha[0][c0]^ha[1][c1]^ha[2][c2], bit c2&7, and into m2 by the hb tables,
// bit c1&7. It leaves Z0 to Z2 as they were, 1<<(c1&7) in Z6, 1<<(c2&7)
// in Z8, the m1 hash in Z12 and the m2 hash in Z9 (for the fourth byte's
// tests that follow), and uses Z3 to Z14 and K5, K6.
#define FILTER5 \
	VPSLLW     $2, Z0, Z3; \
	VPSLLW     $2, Z1, Z4; \
	VPERMB     Z28, Z1, Z5; \
	VPERMB     Z29, Z1, Z6; \
	VPERMB     Z28, Z2, Z7; \
	VPERMB     Z29, Z2, Z8; \
	VPORD      Z3, Z5, Z9; \
	VPORD      Z4, Z7, Z10; \
	VPORD      Z3, Z7, Z11; \
	VPERMI2B   Z23, Z22, Z9; \
	VPERMI2B   Z25, Z24, Z10; \
	VPERMI2B   Z27, Z26, Z11; \
	VPTESTMB   Z6, Z9, K4; \
	VPTESTMB   Z8, Z10, K5; \
	VPTESTMB   Z8, Z11, K6; \
	KANDQ      K4, K5, K4; \
	KANDQ      K4, K6, K4; \
	VPERMB     640(DX), Z0, Z12; \
	VPERMB     704(DX), Z1, Z13; \
	VPERMB     768(DX), Z2, Z14; \
	VPTERNLOGD $0x96, Z14, Z13, Z12; \
	VMOVDQA64  Z12, Z13; \
	VPERMI2B   Z31, Z30, Z13; \
	VPTESTMB   Z8, Z13, K5; \
	VPERMB     832(DX), Z0, Z9; \
	VPERMB     896(DX), Z1, Z10; \
	VPERMB     960(DX), Z2, Z11; \
	VPTERNLOGD $0x96, Z11, Z10, Z9; \
	VMOVDQA64  Z9, Z10; \
	VPERMI2B   Z19, Z18, Z10; \
	VPTESTMB   Z6, Z10, K6; \
	KANDQ      K4, K5, K4; \
	KANDQ      K4, K6, K4

// QUAD sets K5 to the positions whose codes c0 to c3 (c3 in Z15) pass
// quad: bit c3&7 of quad[m1 hash ^ hd[c3]], the m1 hash in Z12 as FILTER5
// leaves it. It leaves 1<<(c3&7) in Z14 and uses Z12, Z13.
#define QUAD \
	VPERMB    1280(DX), Z15, Z13; \
	VPXORD    Z13, Z12, Z12; \
	VMOVDQU64 1344(DX), Z13; \
	VPERMI2B  1408(DX), Z13, Z12; \
	VPERMB    Z29, Z15, Z14; \
	VPTESTMB  Z14, Z12, K5
