/* src/crc32c.c: CRC-32C, with the SSE4.2 crc32 instruction when the CPU has it (three lanes at
 * once on long buffers), else slicing-by-8. */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

/* The crc32 instruction takes three cycles but can start one every cycle: long buffers run as
 * three adjacent lanes of CRC_LANE bytes, and the lanes' registers are joined by shifting one
 * over CRC_LANE zero bytes (g_shift: the GF(2)-linear map of the raw register, by byte). */
#define CRC_LANE 1024

static uint32_t g_table[8][256];
static uint32_t g_shift[4][256];
static int g_hw;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		g_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			g_table[t][i] = (g_table[t - 1][i] >> 8) ^ g_table[0][g_table[t - 1][i] & 0xff];
	uint32_t bit[32];
	for (int i = 0; i < 32; i++) {
		uint32_t v = 1u << i;
		for (int n = 0; n < CRC_LANE; n++)
			v = g_table[0][v & 0xff] ^ (v >> 8);
		bit[i] = v;
	}
	for (int k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++) {
			uint32_t x = 0;
			for (int j = 0; j < 8; j++)
				if (b >> j & 1)
					x ^= bit[8 * k + j];
			g_shift[k][b] = x;
		}
#if defined(__x86_64__)
	__builtin_cpu_init();
	g_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc32c_sw(uint32_t c, const uint8_t *p, size_t len)
{
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= c; /* little-endian host assumed for the word path */
		c = g_table[7][w & 0xff] ^ g_table[6][(w >> 8) & 0xff] ^ g_table[5][(w >> 16) & 0xff] ^
		    g_table[4][(w >> 24) & 0xff] ^ g_table[3][(w >> 32) & 0xff] ^
		    g_table[2][(w >> 40) & 0xff] ^ g_table[1][(w >> 48) & 0xff] ^ g_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = g_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

#if defined(__x86_64__)
static uint32_t crc_shift(uint32_t c)
{
	return g_shift[0][c & 0xff] ^ g_shift[1][(c >> 8) & 0xff] ^ g_shift[2][(c >> 16) & 0xff] ^
	       g_shift[3][c >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t c, const uint8_t *p, size_t len)
{
	while (len >= 3 * CRC_LANE) {
		uint64_t c0 = c, c1 = 0, c2 = 0;
		for (size_t i = 0; i < CRC_LANE; i += 8) {
			uint64_t w0, w1, w2;
			memcpy(&w0, p + i, 8);
			memcpy(&w1, p + CRC_LANE + i, 8);
			memcpy(&w2, p + 2 * CRC_LANE + i, 8);
			c0 = __builtin_ia32_crc32di(c0, w0);
			c1 = __builtin_ia32_crc32di(c1, w1);
			c2 = __builtin_ia32_crc32di(c2, w2);
		}
		c = crc_shift(crc_shift((uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
		p += 3 * CRC_LANE;
		len -= 3 * CRC_LANE;
	}
	uint64_t c64 = c;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c64 = __builtin_ia32_crc32di(c64, w);
		p += 8;
		len -= 8;
	}
	c = (uint32_t)c64;
	while (len--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#endif

uint32_t keel_crc32c(uint32_t crc, const void *buf, size_t len)
{
	uint32_t c = ~crc;
	pthread_once(&g_once, crc32c_init);
#if defined(__x86_64__)
	if (g_hw)
		return ~crc32c_hw(c, buf, len);
#endif
	return ~crc32c_sw(c, buf, len);
}
