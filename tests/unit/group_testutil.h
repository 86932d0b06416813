/* tests/unit/group_testutil.h: helpers shared by the group codec suites: slices from C strings,
 * and the hostile-input checks (every truncation, byte mutations) every decoder goes through. */
#ifndef KEEL_TEST_GROUP_TESTUTIL_H
#define KEEL_TEST_GROUP_TESTUTIL_H

#include "codec.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* A slice of a C string; NULL gives the null slice. */
static inline keel_slice_t sl(const char *s)
{
	keel_slice_t x = {(const uint8_t *)s, s ? strlen(s) : 0};
	return x;
}

/* Does s hold exactly want (NULL: is s null)? */
static inline bool sl_is(keel_slice_t s, const char *want)
{
	if (!want)
		return s.ptr == NULL;
	return s.ptr && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

#define ck_assert_sl(s, want) ck_assert_msg(sl_is((s), (want)), "%s is \"%.*s\", not \"%s\"", #s, \
					    (int)(s).len, (s).ptr ? (const char *)(s).ptr : "(null)", \
					    (want) ? (want) : "(null)")

/* Byte-exact comparison of a writer's output with expected bytes. */
#define ck_assert_bytes(w, expect) do { \
	ck_assert(!(w)->oom); \
	ck_assert_uint_eq((w)->len, sizeof(expect)); \
	ck_assert_msg(memcmp((w)->buf, (expect), sizeof(expect)) == 0, "bytes differ"); \
} while (0)

/* The bytes build lays out for version v, in a writer the caller frees. */
static inline kw_t built(void (*build)(kw_t *w, int16_t v), int16_t v)
{
	kw_t w;
	kw_init(&w, 16, false);
	build(&w, v);
	ck_assert(!w.oom);
	return w;
}

/* A decoder under test: 0 or -1, freeing whatever it decoded; arg is per decoder. */
typedef int (*decode_fn)(const uint8_t *buf, size_t len, void *arg);

/* Decode a private copy of exactly len bytes, so AddressSanitizer sees any read past them. */
static inline int decode_copy(decode_fn fn, const uint8_t *buf, size_t len, void *arg)
{
	uint8_t *p = calloc(len, 1);
	int rc;
	if (len)
		memcpy(p, buf, len);
	rc = fn(p, len, arg);
	free(p);
	return rc;
}

/* buf decodes, every strict prefix of it is refused, and (unless trailing bytes are allowed)
 * so is buf with one byte more. */
static inline void check_strict(decode_fn fn, const uint8_t *buf, size_t len, void *arg,
				bool trailing_ok)
{
	uint8_t *more = malloc(len + 1);
	ck_assert_int_eq(decode_copy(fn, buf, len, arg), 0);
	for (size_t n = 0; n < len; n++)
		ck_assert_msg(decode_copy(fn, buf, n, arg) < 0, "a %zu-byte prefix of %zu decoded", n, len);
	memcpy(more, buf, len);
	more[len] = 0;
	ck_assert_int_eq(decode_copy(fn, more, len + 1, arg), trailing_ok ? 0 : -1);
	free(more);
}

/* Every byte of buf set in turn to a few telling values, then plain junk: the decoder may
 * accept or refuse, but must neither crash, read out of bounds nor leak. */
static inline void check_mutations(decode_fn fn, const uint8_t *buf, size_t len, void *arg)
{
	static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff};
	uint8_t *p = malloc(len ? len : 1);
	uint32_t seed = 12345;
	for (size_t i = 0; i < len; i++) {
		for (size_t v = 0; v < sizeof(vals); v++) {
			memcpy(p, buf, len);
			p[i] = vals[v];
			(void)decode_copy(fn, p, len, arg);
		}
	}
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			p[i] = (uint8_t)(seed >> 16);
		}
		(void)decode_copy(fn, p, (size_t)round % (len + 1), arg);
	}
	free(p);
}

#endif
