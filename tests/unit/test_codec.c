/* tests/unit/test_codec.c: the wire reader and writer: classic and flexible encodings, bounds. */
#include "codec.h"
#include "suites.h"

#include <stdlib.h>
#include <string.h>

START_TEST(test_roundtrip_classic)
{
	kw_t w;
	kr_t r;
	bool null;
	kw_init(&w, 4, false);
	kw_i8(&w, -5);
	kw_i16(&w, -2);
	kw_i32(&w, 123456789);
	kw_i64(&w, -9876543210LL);
	kw_str(&w, "topic");
	kw_str(&w, NULL);
	kw_bytes(&w, "ab", 2, false);
	kw_bytes(&w, NULL, 0, true);
	kw_array(&w, 3);
	ck_assert(!w.oom);
	kr_init(&r, w.buf, w.len, false);
	ck_assert_int_eq(kr_i8(&r), -5);
	ck_assert_int_eq(kr_i16(&r), -2);
	ck_assert_int_eq(kr_i32(&r), 123456789);
	ck_assert(kr_i64(&r) == -9876543210LL);
	keel_slice_t s = kr_str(&r, &null);
	ck_assert(!null && s.len == 5 && memcmp(s.ptr, "topic", 5) == 0);
	s = kr_str(&r, &null);
	ck_assert(null);
	s = kr_bytes(&r, &null);
	ck_assert(!null && s.len == 2);
	(void)kr_bytes(&r, &null);
	ck_assert(null);
	ck_assert_int_eq(kr_array(&r, 0), 3);
	ck_assert(kr_ok(&r));
	ck_assert_uint_eq(kr_remaining(&r), 0);
	kw_free(&w);
}
END_TEST

START_TEST(test_flexible)
{
	kw_t w;
	kr_t r;
	bool null;
	kw_init(&w, 16, true);
	kw_str(&w, "abc");   /* uvarint(4) "abc" */
	kw_str(&w, NULL);    /* 0 */
	kw_array(&w, 2);     /* uvarint(3) */
	kw_uvarint(&w, 300); /* ac 02 */
	kw_tags(&w);
	const uint8_t expect[] = {4, 'a', 'b', 'c', 0, 3, 0xac, 0x02, 0};
	ck_assert_uint_eq(w.len, sizeof(expect));
	ck_assert(memcmp(w.buf, expect, sizeof(expect)) == 0);
	kr_init(&r, w.buf, w.len, true);
	keel_slice_t s = kr_str(&r, &null);
	ck_assert(s.len == 3 && !null);
	(void)kr_str(&r, &null);
	ck_assert(null);
	ck_assert_int_eq(kr_array(&r, 0), 2);
	ck_assert_uint_eq(kr_uvarint(&r), 300);
	kr_tags(&r);
	ck_assert(kr_ok(&r) && kr_remaining(&r) == 0);
	kw_free(&w);
}
END_TEST

START_TEST(test_tags_skipped)
{
	/* two tagged fields: tag 0 size 2, tag 5 size 1, then an int8 */
	const uint8_t buf[] = {2, 0, 2, 0xaa, 0xbb, 5, 1, 0xcc, 7};
	kr_t r;
	kr_init(&r, buf, sizeof(buf), true);
	kr_tags(&r);
	ck_assert_int_eq(kr_i8(&r), 7);
	ck_assert(kr_ok(&r));
}
END_TEST

START_TEST(test_bounds_are_sticky)
{
	const uint8_t buf[] = {0, 10, 'a', 'b'}; /* string claims 10 bytes, 2 present */
	kr_t r;
	kr_init(&r, buf, sizeof(buf), false);
	(void)kr_str(&r, NULL);
	ck_assert(!kr_ok(&r));
	ck_assert_int_eq(kr_i32(&r), 0); /* later reads return zero, flag stays */
	ck_assert(!kr_ok(&r));
}
END_TEST

START_TEST(test_null_not_allowed)
{
	const uint8_t buf[] = {0xff, 0xff};
	kr_t r;
	kr_init(&r, buf, sizeof(buf), false);
	(void)kr_str(&r, NULL); /* non-nullable string read as null */
	ck_assert(!kr_ok(&r));
}
END_TEST

START_TEST(test_array_count_checked)
{
	/* an array count of 2^30 with 4 bytes left must fail before anyone allocates */
	const uint8_t buf[] = {0x40, 0, 0, 0, 1, 2, 3, 4};
	kr_t r;
	kr_init(&r, buf, sizeof(buf), false);
	(void)kr_array(&r, 4);
	ck_assert(!kr_ok(&r));
	const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfe};
	kr_init(&r, neg, sizeof(neg), false);
	(void)kr_array(&r, 1);
	ck_assert(!kr_ok(&r));
}
END_TEST

START_TEST(test_uvarint_overlong)
{
	const uint8_t buf[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	kr_t r;
	kr_init(&r, buf, sizeof(buf), true);
	(void)kr_uvarint(&r);
	ck_assert(!kr_ok(&r));
}
END_TEST

START_TEST(test_patch_and_growth)
{
	kw_t w;
	kw_init(&w, 1, false);
	size_t pos = kw_reserve(&w, 4);
	for (int i = 0; i < 1000; i++)
		kw_i32(&w, i);
	kw_patch32(&w, pos, (int32_t)(w.len - 4));
	kr_t r;
	kr_init(&r, w.buf, w.len, false);
	ck_assert_int_eq(kr_i32(&r), 4000);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(kr_i32(&r), i);
	kw_free(&w);
}
END_TEST

START_TEST(test_slice_helpers)
{
	/* kw_sstr/kw_sbytes: a NULL slice is null where allowed and empty where not */
	const keel_slice_t none = {NULL, 0}, ab = {(const uint8_t *)"ab", 2};
	const uint8_t expect[] = {0xff, 0xff, 0x00, 0x00, 0x00, 0x02, 'a', 'b',
				  0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00};
	kw_t w;
	kr_t r;
	kw_init(&w, 4, false);
	kw_sstr(&w, none, true);
	kw_sstr(&w, none, false);
	kw_sstr(&w, ab, false);
	kw_sbytes(&w, none, true);
	kw_sbytes(&w, none, false);
	ck_assert_uint_eq(w.len, sizeof(expect));
	ck_assert(memcmp(w.buf, expect, sizeof(expect)) == 0);

	kr_init(&r, w.buf, w.len, false);
	ck_assert_ptr_null(kr_nstr(&r).ptr);
	ck_assert_ptr_nonnull(kr_nstr(&r).ptr); /* empty, not null */
	ck_assert_uint_eq(kr_nstr(&r).len, 2);
	ck_assert_ptr_null(kr_nbytes(&r).ptr);
	ck_assert(!kr_done(&r));
	ck_assert_uint_eq(kr_nbytes(&r).len, 0);
	ck_assert(kr_done(&r));
	kw_free(&w);
}
END_TEST

START_TEST(test_count_and_calloc)
{
	const uint8_t null_array[] = {0xff, 0xff, 0xff, 0xff};
	const uint8_t two[] = {0x00, 0x00, 0x00, 0x02, 1, 2};
	kr_t r;
	kr_init(&r, null_array, sizeof(null_array), false);
	ck_assert_int_eq(kr_count(&r, 1), 0); /* null where null is not allowed */
	ck_assert(!kr_ok(&r));
	ck_assert_ptr_null(kr_calloc(&r, 4, 1)); /* nothing once the reader failed */

	kr_init(&r, two, sizeof(two), false);
	ck_assert_int_eq(kr_count(&r, 1), 2);
	ck_assert_ptr_null(kr_calloc(&r, 0, 8));
	int32_t *p = kr_calloc(&r, 2, sizeof(*p));
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p[0] | p[1], 0);
	ck_assert(kr_ok(&r));
	free(p);
}
END_TEST

Suite *suite_codec(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_roundtrip_classic);
	tcase_add_test(tc, test_flexible);
	tcase_add_test(tc, test_tags_skipped);
	tcase_add_test(tc, test_bounds_are_sticky);
	tcase_add_test(tc, test_null_not_allowed);
	tcase_add_test(tc, test_array_count_checked);
	tcase_add_test(tc, test_uvarint_overlong);
	tcase_add_test(tc, test_patch_and_growth);
	tcase_add_test(tc, test_slice_helpers);
	tcase_add_test(tc, test_count_and_calloc);
	suite_add_tcase(s, tc);
	return s;
}
