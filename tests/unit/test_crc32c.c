/* tests/unit/test_crc32c.c: CRC-32C known vectors, incremental use, and hw/sw paths vs a bitwise reference. */
#include "suites.h"
#include "crc32c.h"

#include <string.h>

/* The textbook one-bit-at-a-time CRC-32C (reflected 0x82F63B78). */
static uint32_t crc_ref(const uint8_t *p, size_t len)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return c ^ 0xFFFFFFFFu;
}

START_TEST(test_check_value)
{
	ck_assert_uint_eq(keel_crc32c(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(keel_crc32c(0, "", 0), 0);
	ck_assert_uint_eq(keel_crc32c(0, "a", 1), 0xC1D04330u);
}
END_TEST

/* RFC 3720 (iSCSI) appendix B.4 vectors. */
START_TEST(test_iscsi_vectors)
{
	uint8_t buf[32];

	memset(buf, 0, sizeof(buf));
	ck_assert_uint_eq(keel_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xFF, sizeof(buf));
	ck_assert_uint_eq(keel_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	ck_assert_uint_eq(keel_crc32c(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	ck_assert_uint_eq(keel_crc32c(0, buf, 32), 0x113FDB5Cu);
}
END_TEST

START_TEST(test_incremental)
{
	uint8_t buf[1000];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 31 + 7);
	uint32_t whole = keel_crc32c(0, buf, sizeof(buf));
	for (size_t cut = 0; cut <= sizeof(buf); cut += 37) {
		uint32_t c = keel_crc32c(0, buf, cut);
		ck_assert_uint_eq(keel_crc32c(c, buf + cut, sizeof(buf) - cut), whole);
	}
	uint32_t c = 0;
	for (size_t i = 0; i < sizeof(buf); i++)
		c = keel_crc32c(c, buf + i, 1);
	ck_assert_uint_eq(c, whole);
}
END_TEST

/* Every length 0..100 at every alignment 0..7 against the bitwise reference. */
START_TEST(test_vs_reference)
{
	uint8_t buf[128];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 89);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 100; len++)
			ck_assert_uint_eq(keel_crc32c(0, buf + off, len), crc_ref(buf + off, len));
}
END_TEST

START_TEST(test_large_buffer)
{
	static uint8_t buf[1 << 16];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i ^ (i >> 8));
	ck_assert_uint_eq(keel_crc32c(0, buf + 3, sizeof(buf) - 3), crc_ref(buf + 3, sizeof(buf) - 3));
}
END_TEST

/* Lengths around the three-lane rounds (3 x 1024 bytes) and many rounds, odd alignments. */
START_TEST(test_lanes)
{
	static uint8_t buf[20000];
	static const size_t lens[] = {3071, 3072, 3073, 3080, 6143, 6144, 6151, 9216 + 7, 19990};

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
		for (size_t off = 0; off < 3; off++) {
			ck_assert_uint_eq(keel_crc32c(0, buf + off, lens[k]), crc_ref(buf + off, lens[k]));
			uint32_t c = keel_crc32c(0, buf + off, 5); /* a lane round after a short head */
			ck_assert_uint_eq(keel_crc32c(c, buf + off + 5, lens[k] - 5), crc_ref(buf + off, lens[k]));
		}
}
END_TEST

Suite *suite_crc32c(void)
{
	Suite *s = suite_create("crc32c");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_check_value);
	tcase_add_test(tc, test_iscsi_vectors);
	tcase_add_test(tc, test_incremental);
	tcase_add_test(tc, test_vs_reference);
	tcase_add_test(tc, test_large_buffer);
	tcase_add_test(tc, test_lanes);
	suite_add_tcase(s, tc);
	return s;
}
