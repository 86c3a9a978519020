/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), as used by the
 * WAL framing. x86-64 CPUs with SSE4.2 compute it in hardware; others use
 * a slicing-by-8 table (eight lookups per 8 input bytes).
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "wal_int.h"

#define WAL_CRC_POLY	0x82f63b78u

static uint32_t		 wal_crc_table[8][256];
static pthread_once_t	 wal_crc_once = PTHREAD_ONCE_INIT;
static int		 wal_crc_hw;

static void
wal_crc_init(void)
{
	uint32_t c;
	unsigned i, j;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? (c >> 1) ^ WAL_CRC_POLY : c >> 1;
		wal_crc_table[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = wal_crc_table[0][i];
		for (j = 1; j < 8; j++) {
			c = wal_crc_table[0][c & 0xff] ^ (c >> 8);
			wal_crc_table[j][i] = c;
		}
	}
#if defined(__x86_64__) && defined(__GNUC__)
	wal_crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t
wal_crc_sw(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t w;

	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		c = wal_crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
		n--;
	}
	while (n >= 8) {
		memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		w ^= c;
		c = wal_crc_table[7][w & 0xff] ^
		    wal_crc_table[6][(w >> 8) & 0xff] ^
		    wal_crc_table[5][(w >> 16) & 0xff] ^
		    wal_crc_table[4][(w >> 24) & 0xff] ^
		    wal_crc_table[3][(w >> 32) & 0xff] ^
		    wal_crc_table[2][(w >> 40) & 0xff] ^
		    wal_crc_table[1][(w >> 48) & 0xff] ^
		    wal_crc_table[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = wal_crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("sse4.2"))) static uint32_t
wal_crc_sse42(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64, w;

	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		c = __builtin_ia32_crc32qi(c, *p++);
		n--;
	}
	c64 = c;
	while (n >= 8) {
		memcpy(&w, p, 8);
		c64 = __builtin_ia32_crc32di(c64, w);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while (n-- > 0)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#endif

uint32_t
wal_crc32c_portable(uint32_t crc, const void *data, size_t n)
{
	pthread_once(&wal_crc_once, wal_crc_init);
	return ~wal_crc_sw(~crc, data, n);
}

uint32_t
wal_crc32c(uint32_t crc, const void *data, size_t n)
{
	uint32_t c = ~crc;

	pthread_once(&wal_crc_once, wal_crc_init);
#if defined(__x86_64__) && defined(__GNUC__)
	if (wal_crc_hw)
		return ~wal_crc_sse42(c, data, n);
#endif
	return ~wal_crc_sw(c, data, n);
}
