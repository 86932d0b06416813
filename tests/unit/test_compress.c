/* tests/unit/test_compress.c: codec round trips, both snappy framings, lz4 broken HC, zstd without content size, bombs. */
#include "suites.h"
#include "compress.h"
#include "keel.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

static const int codecs[] = {KEEL_CODEC_GZIP, KEEL_CODEC_SNAPPY, KEEL_CODEC_LZ4, KEEL_CODEC_ZSTD};

/* Fill with text-like, partly compressible bytes (deterministic). */
static uint8_t *make_data(size_t len, uint32_t seed)
{
	uint8_t *p = malloc(len ? len : 1);

	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (i % 64 < 40) ? (uint8_t)('a' + i % 26) : (uint8_t)(seed >> 24);
	}
	return p;
}

/* Compress with codec and check the decoder returns the input exactly. */
static void roundtrip(int codec, size_t len)
{
	uint8_t *in = make_data(len, (uint32_t)len), *c = NULL, *d = NULL;
	size_t clen = 0, dlen = 0;

	ck_assert_int_eq(keel_compress(codec, in, len, &c, &clen), 0);
	ck_assert_int_eq(keel_decompress(codec, c, clen, len + 10, &d, &dlen), 0);
	ck_assert_uint_eq(dlen, len);
	ck_assert(len == 0 || memcmp(in, d, len) == 0);
	free(in);
	free(c);
	free(d);
}

START_TEST(test_roundtrip)
{
	static const size_t sizes[] = {0, 1, 7, 100, 4096, 32768, 32769, 100000, 300001};

	for (size_t i = 0; i < KEEL_ARRAY_LEN(sizes); i++)
		roundtrip(codecs[_i], sizes[i]);
}
END_TEST

/* Output exactly max_out is fine; one byte more is refused. */
START_TEST(test_max_out_exact)
{
	size_t len = 50000;
	uint8_t *in = make_data(len, 3), *c, *d = NULL;
	size_t clen, dlen;

	ck_assert_int_eq(keel_compress(codecs[_i], in, len, &c, &clen), 0);
	ck_assert_int_eq(keel_decompress(codecs[_i], c, clen, len, &d, &dlen), 0);
	ck_assert_uint_eq(dlen, len);
	free(d);
	d = NULL;
	ck_assert_int_eq(keel_decompress(codecs[_i], c, clen, len - 1, &d, &dlen), -1);
	ck_assert_ptr_null(d);
	free(in);
	free(c);
}
END_TEST

/* 64 MiB of zeros compresses to a few KiB; a 1 MiB cap must refuse it. */
START_TEST(test_bomb)
{
	size_t len = 64u << 20;
	uint8_t *in = calloc(1, len), *c, *d = NULL;
	size_t clen, dlen;

	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(keel_compress(codecs[_i], in, len, &c, &clen), 0);
	free(in);
	ck_assert_uint_lt(clen, 4u << 20);
	ck_assert_int_eq(keel_decompress(codecs[_i], c, clen, 1u << 20, &d, &dlen), -1);
	ck_assert_ptr_null(d);
	free(c);
}
END_TEST

/* Every strict prefix of a compressed stream is rejected without crashing
 * (snappy xerial may legitimately stop on a block boundary: only no crash). */
START_TEST(test_truncated)
{
	int codec = codecs[_i];
	size_t len = 70000;
	uint8_t *in = make_data(len, 9), *c;
	size_t clen;

	ck_assert_int_eq(keel_compress(codec, in, len, &c, &clen), 0);
	for (size_t cut = 0; cut < clen; cut += (cut < 64 || clen - cut < 64) ? 1 : 97) {
		uint8_t *part = malloc(cut ? cut : 1), *d = NULL;
		size_t dlen;
		memcpy(part, c, cut);
		int rc = keel_decompress(codec, part, cut, len, &d, &dlen);
		if (codec != KEEL_CODEC_SNAPPY)
			ck_assert_msg(rc == -1, "codec %d prefix %zu accepted", codec, cut);
		if (rc == 0)
			ck_assert_uint_lt(dlen, len);
		free(d);
		free(part);
	}
	free(in);
	free(c);
}
END_TEST

START_TEST(test_garbage)
{
	uint8_t junk[300];
	uint8_t *d = NULL;
	size_t dlen;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7 + 0x55);
	for (size_t i = 0; i < KEEL_ARRAY_LEN(codecs); i++)
		ck_assert_int_eq(keel_decompress(codecs[i], junk, sizeof(junk), 1 << 20, &d, &dlen), -1);
	ck_assert_int_eq(keel_decompress(0, junk, 10, 100, &d, &dlen), -1);
	ck_assert_int_eq(keel_decompress(5, junk, 10, 100, &d, &dlen), -1);
	ck_assert_int_eq(keel_compress(5, junk, 10, &d, &dlen), -1);
	ck_assert_ptr_null(d);
}
END_TEST

START_TEST(test_snappy_raw)
{
	size_t len = 100000, clen = snappy_max_compressed_length(len), dlen;
	uint8_t *in = make_data(len, 5), *c = malloc(clen), *d;

	ck_assert_int_eq(snappy_compress((char *)in, len, (char *)c, &clen), SNAPPY_OK);
	ck_assert_int_eq(keel_decompress(KEEL_CODEC_SNAPPY, c, clen, len, &d, &dlen), 0);
	ck_assert_uint_eq(dlen, len);
	ck_assert_mem_eq(d, in, len);
	free(d);
	ck_assert_int_eq(keel_decompress(KEEL_CODEC_SNAPPY, c, clen, len - 1, &d, &dlen), -1);
	free(in);
	free(c);
}
END_TEST

/* keel_compress writes the xerial framing with 32 KiB blocks. */
START_TEST(test_snappy_xerial)
{
	static const uint8_t hdr[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
	size_t len = 100000, clen, dlen, blocks = 0;
	uint8_t *in = make_data(len, 6), *c, *d;

	ck_assert_int_eq(keel_compress(KEEL_CODEC_SNAPPY, in, len, &c, &clen), 0);
	ck_assert_mem_eq(c, hdr, 16);
	for (size_t pos = 16; pos < clen; blocks++) {
		size_t b = ((size_t)c[pos] << 24) | ((size_t)c[pos + 1] << 16) | ((size_t)c[pos + 2] << 8) | c[pos + 3];
		size_t u;
		ck_assert_int_eq(snappy_uncompressed_length((char *)c + pos + 4, b, &u), SNAPPY_OK);
		ck_assert_uint_le(u, 32768);
		pos += 4 + b;
	}
	ck_assert_uint_eq(blocks, 4);
	ck_assert_int_eq(keel_decompress(KEEL_CODEC_SNAPPY, c, clen, len, &d, &dlen), 0);
	ck_assert_uint_eq(dlen, len);
	ck_assert_mem_eq(d, in, len);
	free(d);
	free(in);
	free(c);
}
END_TEST

/* Old Kafka clients wrote a wrong frame header checksum; it must still decode,
 * and the caller's input must stay untouched. */
START_TEST(test_lz4_bad_hc)
{
	size_t len = 20000, clen, dlen;
	uint8_t *in = make_data(len, 8), *c, *d;

	ck_assert_int_eq(keel_compress(KEEL_CODEC_LZ4, in, len, &c, &clen), 0);
	ck_assert_uint_eq(c[4] & 0x09, 0); /* no content size, no dict id: HC at byte 6 */
	c[6] ^= 0x5A;
	uint8_t *copy = malloc(clen);
	memcpy(copy, c, clen);
	ck_assert_int_eq(keel_decompress(KEEL_CODEC_LZ4, c, clen, len, &d, &dlen), 0);
	ck_assert_uint_eq(dlen, len);
	ck_assert_mem_eq(d, in, len);
	ck_assert_mem_eq(c, copy, clen);
	free(d);
	free(copy);
	free(in);
	free(c);
}
END_TEST

/* A frame with a content size (and content checksum), as other writers make it. */
START_TEST(test_lz4_content_size)
{
	size_t len = 70000, dlen;
	uint8_t *in = make_data(len, 10), *d;
	LZ4F_preferences_t prefs;

	memset(&prefs, 0, sizeof(prefs));
	prefs.frameInfo.contentSize = len;
	prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	size_t cap = LZ4F_compressFrameBound(len, &prefs);
	uint8_t *c = malloc(cap);
	size_t clen = LZ4F_compressFrame(c, cap, in, len, &prefs);
	ck_assert(!LZ4F_isError(clen));
	c[14] ^= 0xFF; /* the HC byte after the 8-byte content size */
	ck_assert_int_eq(keel_decompress(KEEL_CODEC_LZ4, c, clen, len, &d, &dlen), 0);
	ck_assert_mem_eq(d, in, len);
	free(d);
	free(c);
	free(in);
}
END_TEST

/* A streamed zstd frame has no content size; the decoder must stream too. */
START_TEST(test_zstd_no_content_size)
{
	size_t len = 200000, dlen;
	uint8_t *in = make_data(len, 11), *d;
	size_t cap = ZSTD_compressBound(len) + 64;
	uint8_t *c = malloc(cap);
	ZSTD_CStream *cs = ZSTD_createCStream();
	ZSTD_inBuffer ib = {in, len, 0};
	ZSTD_outBuffer ob = {c, cap, 0};

	ZSTD_initCStream(cs, 3);
	while (ib.pos < ib.size)
		ck_assert(!ZSTD_isError(ZSTD_compressStream(cs, &ob, &ib)));
	ck_assert_uint_eq(ZSTD_endStream(cs, &ob), 0);
	ZSTD_freeCStream(cs);
	ck_assert(ZSTD_getFrameContentSize(c, ob.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
	ck_assert_int_eq(keel_decompress(KEEL_CODEC_ZSTD, c, ob.pos, len, &d, &dlen), 0);
	ck_assert_uint_eq(dlen, len);
	ck_assert_mem_eq(d, in, len);
	free(d);
	ck_assert_int_eq(keel_decompress(KEEL_CODEC_ZSTD, c, ob.pos, len - 1, &d, &dlen), -1);
	free(c);
	free(in);
}
END_TEST

/* Two gzip members back to back decode as their concatenation. */
START_TEST(test_gzip_members)
{
	uint8_t *a, *b, *d;
	size_t alen, blen, dlen;

	ck_assert_int_eq(keel_compress(KEEL_CODEC_GZIP, (const uint8_t *)"hello ", 6, &a, &alen), 0);
	ck_assert_int_eq(keel_compress(KEEL_CODEC_GZIP, (const uint8_t *)"world", 5, &b, &blen), 0);
	ck_assert_uint_eq(a[0], 0x1f);
	ck_assert_uint_eq(a[1], 0x8b);
	a = realloc(a, alen + blen);
	memcpy(a + alen, b, blen);
	ck_assert_int_eq(keel_decompress(KEEL_CODEC_GZIP, a, alen + blen, 100, &d, &dlen), 0);
	ck_assert_uint_eq(dlen, 11);
	ck_assert_mem_eq(d, "hello world", 11);
	free(d);
	ck_assert_int_eq(keel_decompress(KEEL_CODEC_GZIP, a, alen + 3, 100, &d, &dlen), -1);
	free(a);
	free(b);
}
END_TEST

/* compression.type values as codecs; anything else is not one. */
START_TEST(test_codec_names)
{
	ck_assert_int_eq(keel_codec_from_name("uncompressed"), KEEL_CODEC_NONE);
	ck_assert_int_eq(keel_codec_from_name("gzip"), KEEL_CODEC_GZIP);
	ck_assert_int_eq(keel_codec_from_name("snappy"), KEEL_CODEC_SNAPPY);
	ck_assert_int_eq(keel_codec_from_name("lz4"), KEEL_CODEC_LZ4);
	ck_assert_int_eq(keel_codec_from_name("zstd"), KEEL_CODEC_ZSTD);
	ck_assert_int_eq(keel_codec_from_name("producer"), KEEL_CODEC_PRODUCER);
	ck_assert_int_lt(keel_codec_from_name("none"), KEEL_CODEC_PRODUCER);
	ck_assert_int_lt(keel_codec_from_name("GZIP"), KEEL_CODEC_PRODUCER);
	ck_assert_int_lt(keel_codec_from_name(""), KEEL_CODEC_PRODUCER);
}
END_TEST

Suite *suite_compress(void)
{
	Suite *s = suite_create("compress");
	TCase *tc = tcase_create("core");
	int n = (int)KEEL_ARRAY_LEN(codecs);

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_roundtrip, 0, n);
	tcase_add_loop_test(tc, test_max_out_exact, 0, n);
	tcase_add_loop_test(tc, test_bomb, 0, n);
	tcase_add_loop_test(tc, test_truncated, 0, n);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_snappy_raw);
	tcase_add_test(tc, test_snappy_xerial);
	tcase_add_test(tc, test_lz4_bad_hc);
	tcase_add_test(tc, test_lz4_content_size);
	tcase_add_test(tc, test_zstd_no_content_size);
	tcase_add_test(tc, test_gzip_members);
	tcase_add_test(tc, test_codec_names);
	suite_add_tcase(s, tc);
	return s;
}
