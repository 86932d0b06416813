/* tests/unit/test_batch.c: magic-2 batch building, validation error paths, iteration, header rewrites. */
#include "suites.h"
#include "batch.h"
#include "compress.h"
#include "crc32c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_BATCH 1048588u
#define MAX_UNCOMP (8u << 20)

static const int codecs[] = {KEEL_CODEC_NONE, KEEL_CODEC_GZIP, KEEL_CODEC_SNAPPY, KEEL_CODEC_LZ4,
			     KEEL_CODEC_ZSTD};

static const keel_batch_limits_t client_lim = {MAX_BATCH, MAX_UNCOMP, true};
static const keel_batch_limits_t internal_lim = {MAX_BATCH, MAX_UNCOMP, false};

/* Records collected by foreach. */
typedef struct {
	int n;
	int64_t offsets[16];
	int64_t ts[16];
	char keys[16][32];
	char values[16][32];
	bool key_null[16];
	bool value_null[16];
	int headers[16];
} seen_t;

/* Note every record, headers or not. */
static int note(void *arg, int64_t offset, int64_t timestamp, keel_slice_t key, bool key_null,
		keel_slice_t value, bool value_null, int header_count)
{
	seen_t *s = arg;

	ck_assert_int_lt(s->n, 16);
	s->headers[s->n] = header_count;
	s->offsets[s->n] = offset;
	s->ts[s->n] = timestamp;
	s->key_null[s->n] = key_null;
	s->value_null[s->n] = value_null;
	snprintf(s->keys[s->n], 32, "%.*s", (int)key.len, key.ptr ? (const char *)key.ptr : "");
	snprintf(s->values[s->n], 32, "%.*s", (int)value.len, value.ptr ? (const char *)value.ptr : "");
	s->n++;
	return KEEL_OK;
}

/* Note records that have no headers (what keel_batch_build writes). */
static int collect(void *arg, int64_t offset, int64_t timestamp, keel_slice_t key, bool key_null,
		   keel_slice_t value, bool value_null, int header_count)
{
	ck_assert_int_eq(header_count, 0);
	return note(arg, offset, timestamp, key, key_null, value, value_null, header_count);
}

static keel_slice_t sl(const char *s)
{
	keel_slice_t x = {(const uint8_t *)s, s ? strlen(s) : 0};
	return x;
}

/* Three records: ("k0","v0"), (null,"value-1"), ("k2", null). */
static uint8_t *build3(int codec, size_t *len)
{
	keel_slice_t keys[3] = {sl("k0"), sl(NULL), sl("k2")};
	keel_slice_t vals[3] = {sl("v0"), sl("value-1"), sl(NULL)};
	uint8_t *b = keel_batch_build(codec, 1700000000000, 3, keys, vals, len);

	ck_assert_ptr_nonnull(b);
	return b;
}

static void fix_crc(uint8_t *b, size_t len)
{
	kb_put32(b + KB_OFF_CRC, (int32_t)keel_crc32c(0, b + KB_OFF_ATTRIBUTES, len - KB_OFF_ATTRIBUTES));
}

static int validate(const uint8_t *b, size_t len, const keel_batch_limits_t *lim)
{
	keel_batch_info_t info;
	return keel_batch_validate(b, len, lim, &info);
}

/* Wrap a hand-made records section in a valid header (count records, deltas 0..count-1). */
static uint8_t *raw_batch(const uint8_t *recs, size_t rlen, int count, size_t *len)
{
	size_t hl;
	uint8_t *h = keel_batch_build(KEEL_CODEC_NONE, 0, 0, NULL, NULL, &hl);
	uint8_t *b = malloc(hl + rlen);

	ck_assert_uint_eq(hl, KEEL_BATCH_HEADER_LEN);
	memcpy(b, h, hl);
	memcpy(b + hl, recs, rlen);
	free(h);
	*len = hl + rlen;
	kb_put32(b + KB_OFF_LENGTH, (int32_t)(*len - KEEL_BATCH_LOG_OVERHEAD));
	kb_put32(b + KB_OFF_RECORDS_COUNT, count);
	kb_put32(b + KB_OFF_LAST_OFFSET_DELTA, count - 1);
	fix_crc(b, *len);
	return b;
}

START_TEST(test_build_validate_foreach)
{
	int codec = codecs[_i];
	size_t len;
	uint8_t *b = build3(codec, &len);
	keel_batch_info_t info;
	seen_t s = {0};

	ck_assert_int_eq(keel_batch_validate(b, len, &client_lim, &info), KEEL_OK);
	ck_assert_int_eq(info.records_count, 3);
	ck_assert_int_eq(info.last_offset_delta, 2);
	ck_assert_int_eq(info.attributes & KB_ATTR_CODEC_MASK, codec);
	ck_assert_int_eq(info.producer_id, -1);
	ck_assert_int_eq(info.length + 12, (int64_t)len);
	ck_assert_int_eq(validate(b, len, &internal_lim), KEEL_OK);
	ck_assert(keel_batch_crc_ok(b, len));
	ck_assert_int_eq(kb_get32(b + KB_OFF_LEADER_EPOCH), -1);

	keel_batch_set_base_offset(b, 1000);
	keel_batch_set_leader_epoch(b, 7);
	ck_assert(keel_batch_crc_ok(b, len));
	ck_assert_int_eq(keel_batch_foreach(b, len, MAX_UNCOMP, collect, &s), KEEL_OK);
	ck_assert_int_eq(s.n, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(s.offsets[i], 1000 + i);
		ck_assert_int_eq(s.ts[i], 1700000000000);
	}
	ck_assert_str_eq(s.keys[0], "k0");
	ck_assert_str_eq(s.values[0], "v0");
	ck_assert(s.key_null[1] && !s.value_null[1]);
	ck_assert_str_eq(s.values[1], "value-1");
	ck_assert(!s.key_null[2] && s.value_null[2]);
	ck_assert_str_eq(s.keys[2], "k2");
	free(b);
}
END_TEST

/* Empty (non-null) keys and values survive and are not null. */
START_TEST(test_empty_fields)
{
	keel_slice_t k = {(const uint8_t *)"", 0}, v = {(const uint8_t *)"", 0};
	size_t len;
	uint8_t *b = keel_batch_build(codecs[_i], 5, 1, &k, &v, &len);
	seen_t s = {0};

	ck_assert_int_eq(validate(b, len, &client_lim), KEEL_OK);
	ck_assert_int_eq(keel_batch_foreach(b, len, MAX_UNCOMP, collect, &s), KEEL_OK);
	ck_assert_int_eq(s.n, 1);
	ck_assert(!s.key_null[0] && !s.value_null[0]);
	free(b);
}
END_TEST

/* A compacted topic's batches need a key on every record (Kafka's validateKey), compressed
 * or not; an empty key is a key. */
START_TEST(test_compacted_needs_keys)
{
	keel_batch_limits_t lim = client_lim;
	keel_slice_t k = {(const uint8_t *)"", 0}, v = sl("v");
	size_t len;
	uint8_t *b = build3(codecs[_i], &len); /* its second record has no key */

	lim.require_keys = true;
	ck_assert_int_eq(validate(b, len, &client_lim), KEEL_OK);
	ck_assert_int_eq(validate(b, len, &lim), KERR_INVALID_RECORD);
	free(b);
	b = keel_batch_build(codecs[_i], 5, 1, &k, &v, &len);
	ck_assert_int_eq(validate(b, len, &lim), KEEL_OK);
	free(b);
}
END_TEST

START_TEST(test_header)
{
	size_t len;
	uint8_t *b = build3(KEEL_CODEC_LZ4, &len);
	keel_batch_info_t info;

	ck_assert_int_eq(keel_batch_header(b, KEEL_BATCH_HEADER_LEN, &info), KEEL_OK);
	ck_assert_int_eq(info.records_count, 3);
	ck_assert_int_eq(info.base_sequence, -1);
	ck_assert_int_eq(info.producer_epoch, -1);
	ck_assert_int_eq(info.max_timestamp, 1700000000000);
	b[KB_OFF_MAGIC] = 1;
	ck_assert_int_eq(keel_batch_header(b, len, &info), KERR_CORRUPT_MESSAGE);
	b[KB_OFF_MAGIC] = 2;
	kb_put32(b + KB_OFF_LENGTH, 48);
	ck_assert_int_eq(keel_batch_header(b, len, &info), KERR_CORRUPT_MESSAGE);
	free(b);
}
END_TEST

START_TEST(test_too_large)
{
	size_t len;
	uint8_t *b = build3(codecs[_i], &len);
	keel_batch_limits_t lim = client_lim;

	lim.max_batch_bytes = len;
	ck_assert_int_eq(validate(b, len, &lim), KEEL_OK);
	lim.max_batch_bytes = len - 1;
	ck_assert_int_eq(validate(b, len, &lim), KERR_MESSAGE_TOO_LARGE);
	/* size is checked before the CRC, as AK does */
	b[len - 1] ^= 1;
	ck_assert_int_eq(validate(b, len, &lim), KERR_MESSAGE_TOO_LARGE);
	free(b);
}
END_TEST

/* Flipping any byte covered by the CRC (or the CRC itself) is CORRUPT_MESSAGE. */
START_TEST(test_bad_crc)
{
	size_t len;
	uint8_t *b = build3(codecs[_i], &len);

	for (size_t i = KB_OFF_CRC; i < len; i++) {
		if (i == KB_OFF_ATTRIBUTES + 1)
			continue; /* would change the codec; still caught, checked below */
		b[i] ^= 0x10;
		ck_assert_int_eq(validate(b, len, &client_lim), KERR_CORRUPT_MESSAGE);
		ck_assert(!keel_batch_crc_ok(b, len));
		b[i] ^= 0x10;
	}
	b[KB_OFF_ATTRIBUTES + 1] ^= 0x04;
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_CORRUPT_MESSAGE);
	free(b);
}
END_TEST

START_TEST(test_bad_magic)
{
	size_t len;
	uint8_t *b = build3(KEEL_CODEC_NONE, &len);

	b[KB_OFF_MAGIC] = 1;
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_CORRUPT_MESSAGE);
	b[KB_OFF_MAGIC] = 3;
	ck_assert_int_eq(validate(b, len, &internal_lim), KERR_CORRUPT_MESSAGE);
	ck_assert(!keel_batch_crc_ok(b, len));
	free(b);
}
END_TEST

START_TEST(test_length_mismatch)
{
	size_t len;
	uint8_t *b = build3(KEEL_CODEC_NONE, &len);

	kb_put32(b + KB_OFF_LENGTH, (int32_t)(len - 12 + 1));
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_CORRUPT_MESSAGE);
	kb_put32(b + KB_OFF_LENGTH, (int32_t)(len - 12 - 1));
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_CORRUPT_MESSAGE);
	kb_put32(b + KB_OFF_LENGTH, -5);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_CORRUPT_MESSAGE);
	ck_assert(!keel_batch_crc_ok(b, len));
	free(b);
}
END_TEST

/* recordsCount disagreeing with lastOffsetDelta or with the records present. */
START_TEST(test_wrong_count)
{
	size_t len;
	uint8_t *b = build3(codecs[_i], &len);

	kb_put32(b + KB_OFF_RECORDS_COUNT, 2); /* lastOffsetDelta still 2 */
	fix_crc(b, len);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_INVALID_RECORD);
	kb_put32(b + KB_OFF_LAST_OFFSET_DELTA, 1); /* consistent header, one record too many */
	fix_crc(b, len);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_INVALID_RECORD);
	ck_assert_int_eq(validate(b, len, &internal_lim), KERR_INVALID_RECORD);
	kb_put32(b + KB_OFF_RECORDS_COUNT, 4); /* more promised than present */
	kb_put32(b + KB_OFF_LAST_OFFSET_DELTA, 3);
	fix_crc(b, len);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_CORRUPT_MESSAGE);
	kb_put32(b + KB_OFF_RECORDS_COUNT, 0);
	kb_put32(b + KB_OFF_LAST_OFFSET_DELTA, -1);
	fix_crc(b, len);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_INVALID_RECORD);
	kb_put32(b + KB_OFF_RECORDS_COUNT, -1);
	fix_crc(b, len);
	ck_assert_int_eq(validate(b, len, &internal_lim), KERR_INVALID_RECORD);
	free(b);
}
END_TEST

/* A batch emptied by compaction (count 0, no records) is fine off the client path. */
START_TEST(test_empty_batch)
{
	size_t len;
	uint8_t *b = keel_batch_build(KEEL_CODEC_NONE, 0, 0, NULL, NULL, &len);

	ck_assert_int_eq(validate(b, len, &internal_lim), KEEL_OK);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_INVALID_RECORD);
	ck_assert_int_eq(keel_batch_foreach(b, len, MAX_UNCOMP, collect, &(seen_t){0}), KEEL_OK);
	free(b);
}
END_TEST

START_TEST(test_client_rules)
{
	size_t len;
	uint8_t *b = build3(codecs[_i], &len);

	keel_batch_set_base_offset(b, 5);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_INVALID_RECORD);
	ck_assert_int_eq(validate(b, len, &internal_lim), KEEL_OK);
	keel_batch_set_base_offset(b, 0);

	kb_put16(b + KB_OFF_ATTRIBUTES, (int16_t)(codecs[_i] | KB_ATTR_CONTROL));
	fix_crc(b, len);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_INVALID_RECORD);
	kb_put16(b + KB_OFF_ATTRIBUTES, (int16_t)codecs[_i]);

	kb_put64(b + KB_OFF_PRODUCER_ID, 42);
	kb_put16(b + KB_OFF_PRODUCER_EPOCH, 0);
	fix_crc(b, len);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_INVALID_RECORD);
	kb_put32(b + KB_OFF_BASE_SEQUENCE, 0);
	fix_crc(b, len);
	ck_assert_int_eq(validate(b, len, &client_lim), KEEL_OK);
	free(b);
}
END_TEST

START_TEST(test_unknown_codec)
{
	size_t len;
	uint8_t *b = build3(KEEL_CODEC_NONE, &len);

	for (int codec = 5; codec <= 7; codec++) {
		kb_put16(b + KB_OFF_ATTRIBUTES, (int16_t)codec);
		fix_crc(b, len);
		ck_assert_int_eq(validate(b, len, &client_lim), KERR_UNSUPPORTED_COMPRESSION_TYPE);
		ck_assert_int_eq(keel_batch_foreach(b, len, MAX_UNCOMP, collect, &(seen_t){0}),
				 KERR_UNSUPPORTED_COMPRESSION_TYPE);
	}
	free(b);
}
END_TEST

/* Every strict prefix of a valid batch is rejected, and never read past. */
START_TEST(test_truncated)
{
	size_t len;
	uint8_t *b = build3(codecs[_i], &len);

	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *p = malloc(cut ? cut : 1);
		memcpy(p, b, cut);
		ck_assert_int_ne(validate(p, cut, &client_lim), KEEL_OK);
		ck_assert_int_ne(validate(p, cut, &internal_lim), KEEL_OK);
		ck_assert(!keel_batch_crc_ok(p, cut));
		if (cut >= KEEL_BATCH_HEADER_LEN)
			ck_assert_int_ne(keel_batch_foreach(p, cut, MAX_UNCOMP, collect, &(seen_t){0}),
					 KEEL_OK);
		free(p);
	}
	free(b);
}
END_TEST

/* Offset deltas must be 0..n-1: change record 1's delta to 2 and fix the CRC. */
START_TEST(test_offset_delta_not_sequential)
{
	size_t len;
	uint8_t *b = build3(KEEL_CODEC_NONE, &len);
	/* record 0 = len(1) attr(1) ts(1) od(1) klen(1) "k0" vlen(1) "v0" hc(1) = 11 bytes;
	 * record 1's offsetDelta is at 61 + 11 + 3 */
	size_t od1 = KEEL_BATCH_HEADER_LEN + 11 + 3;

	ck_assert_uint_eq(b[od1], 2); /* zigzag(1) */
	b[od1] = 4;                   /* zigzag(2): deltas 0,2,2 */
	fix_crc(b, len);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_INVALID_RECORD);
	ck_assert_int_eq(validate(b, len, &internal_lim), KERR_INVALID_RECORD);
	b[od1] = 0; /* 0,0,2 */
	fix_crc(b, len);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_INVALID_RECORD);
	free(b);
}
END_TEST

/* The same inside a compressed batch: rebuild the section by hand. */
START_TEST(test_offset_delta_compressed)
{
	static const uint8_t recs[] = {0x0e, 0, 0, 0, 1, 2, 'a', 0, 0x0e, 0, 0, 4, 1, 2, 'b', 0};
	uint8_t *c;
	size_t clen, len;

	ck_assert_int_eq(keel_compress(codecs[_i], recs, sizeof(recs), &c, &clen), 0);
	uint8_t *b = raw_batch(c, clen, 2, &len);
	kb_put16(b + KB_OFF_ATTRIBUTES, (int16_t)codecs[_i]);
	fix_crc(b, len);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_INVALID_RECORD);
	free(b);
	free(c);
}
END_TEST

/* Hand-made records: one valid, then one malformation each. */
START_TEST(test_record_fields)
{
	static const struct {
		uint8_t rec[24];
		size_t len;
		int want;
	} cases[] = {
		{{0x0e, 0, 0, 0, 1, 2, 'a', 0}, 8, KEEL_OK},
		/* key length -2 */
		{{0x0e, 0, 0, 0, 3, 2, 'a', 0}, 8, KERR_INVALID_RECORD},
		/* value length -2 */
		{{0x0c, 0, 0, 0, 1, 3, 0}, 7, KERR_INVALID_RECORD},
		/* header count -1 */
		{{0x0e, 0, 0, 0, 1, 2, 'a', 1}, 8, KERR_INVALID_RECORD},
		/* one header with key length -1 */
		{{0x12, 0, 0, 0, 1, 2, 'a', 2, 1, 1}, 10, KERR_INVALID_RECORD},
		/* one header, key "h", null value: valid */
		{{0x14, 0, 0, 0, 1, 2, 'a', 2, 2, 'h', 1}, 11, KEEL_OK},
		/* one header, value length -2 */
		{{0x14, 0, 0, 0, 1, 2, 'a', 2, 2, 'h', 3}, 11, KERR_INVALID_RECORD},
		/* record length one too long for its fields: spare byte inside */
		{{0x10, 0, 0, 0, 1, 2, 'a', 0, 0}, 9, KERR_INVALID_RECORD},
		/* record length past the section */
		{{0x10, 0, 0, 0, 1, 2, 'a', 0}, 8, KERR_CORRUPT_MESSAGE},
		/* record length one short: the header count overruns the record */
		{{0x0c, 0, 0, 0, 1, 2, 'a', 0}, 8, KERR_CORRUPT_MESSAGE},
		/* value length past the record */
		{{0x0e, 0, 0, 0, 1, 8, 'a', 0}, 8, KERR_CORRUPT_MESSAGE},
		/* negative record length */
		{{0x01, 0, 0, 0, 1, 2, 'a', 0}, 8, KERR_CORRUPT_MESSAGE},
		/* 6-byte varint record length */
		{{0x8e, 0x80, 0x80, 0x80, 0x80, 0x00, 0, 0, 0, 1, 2, 'a', 0}, 13, KERR_CORRUPT_MESSAGE},
		/* 5-byte varint record length: legal */
		{{0x8e, 0x80, 0x80, 0x80, 0x00, 0, 0, 0, 1, 2, 'a', 0}, 12, KEEL_OK},
		/* 10-byte timestamp delta: legal; 11 bytes is not */
		{{0x20, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0, 0, 1, 2, 'a', 0}, 17, KEEL_OK},
		{{0x22, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0, 0, 1, 2, 'a', 0}, 18,
		 KERR_CORRUPT_MESSAGE},
		/* varint running off the end of the section */
		{{0x80}, 1, KERR_CORRUPT_MESSAGE},
	};
	size_t len;

	for (size_t i = 0; i < KEEL_ARRAY_LEN(cases); i++) {
		uint8_t *b = raw_batch(cases[i].rec, cases[i].len, 1, &len);
		ck_assert_msg(validate(b, len, &client_lim) == cases[i].want, "case %zu: got %d want %d", i,
			      validate(b, len, &client_lim), cases[i].want);
		free(b);
	}
}
END_TEST

START_TEST(test_log_append_time)
{
	size_t len;
	uint8_t *b = build3(codecs[_i], &len);
	keel_batch_info_t info;
	seen_t s = {0};

	keel_batch_set_log_append_time(b, len, 1800000000123);
	ck_assert(keel_batch_crc_ok(b, len));
	ck_assert_int_eq(keel_batch_validate(b, len, &internal_lim, &info), KEEL_OK);
	ck_assert(info.attributes & KB_ATTR_LOG_APPEND_TIME);
	ck_assert_int_eq(info.attributes & KB_ATTR_CODEC_MASK, codecs[_i]);
	ck_assert_int_eq(info.max_timestamp, 1800000000123);
	ck_assert_int_eq(info.base_timestamp, 1700000000000);
	ck_assert_int_eq(keel_batch_foreach(b, len, MAX_UNCOMP, collect, &s), KEEL_OK);
	ck_assert_int_eq(s.n, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(s.ts[i], 1800000000123);
	free(b);
}
END_TEST

/* ---- recompression ---- */

static uint8_t *put_zigzag(uint8_t *p, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	for (; u >= 0x80; u >>= 7)
		*p++ = (uint8_t)(u | 0x80);
	*p++ = (uint8_t)u;
	return p;
}

static uint8_t *put_str(uint8_t *p, const char *str)
{
	if (!str)
		return put_zigzag(p, -1);
	p = put_zigzag(p, (int64_t)strlen(str));
	memcpy(p, str, strlen(str));
	return p + strlen(str);
}

/* Three records with timestamp deltas 0, 5 and 250 and headers: ("k0","v0") with h1=x and
 * h2=null, (null,"value-1") with none, ("k2",null) with e="". Writes the section to out. */
static size_t rich_records(uint8_t *out)
{
	static const struct {
		int64_t ts_delta;
		const char *key, *value;
		int nh;
		const char *h[2][2];
	} recs[3] = {
		{0, "k0", "v0", 2, {{"h1", "x"}, {"h2", NULL}}},
		{5, NULL, "value-1", 0, {{NULL, NULL}}},
		{250, "k2", NULL, 1, {{"e", ""}}},
	};
	uint8_t body[128], *o = out;

	for (int i = 0; i < 3; i++) {
		uint8_t *p = body;
		*p++ = 0;
		p = put_zigzag(p, recs[i].ts_delta);
		p = put_zigzag(p, i);
		p = put_str(p, recs[i].key);
		p = put_str(p, recs[i].value);
		p = put_zigzag(p, recs[i].nh);
		for (int h = 0; h < recs[i].nh; h++) {
			p = put_str(p, recs[i].h[h][0]);
			p = put_str(p, recs[i].h[h][1]);
		}
		o = put_zigzag(o, p - body);
		memcpy(o, body, (size_t)(p - body));
		o += p - body;
	}
	return (size_t)(o - out);
}

#define RICH_TS 1700000000000

/* rich_records as a transactional, idempotent batch (producer id 4242, epoch 3, sequence 17)
 * with codec. */
static uint8_t *rich_batch(int codec, size_t *len)
{
	uint8_t plain[512], *sec = plain, *b;
	size_t plen = rich_records(plain), slen = plen;

	if (codec != KEEL_CODEC_NONE)
		ck_assert_int_eq(keel_compress(codec, plain, plen, &sec, &slen), 0);
	b = raw_batch(sec, slen, 3, len);
	if (sec != plain)
		free(sec);
	kb_put16(b + KB_OFF_ATTRIBUTES, (int16_t)(codec | KB_ATTR_TRANSACTIONAL));
	kb_put64(b + KB_OFF_BASE_TIMESTAMP, RICH_TS);
	kb_put64(b + KB_OFF_MAX_TIMESTAMP, RICH_TS + 250);
	kb_put64(b + KB_OFF_PRODUCER_ID, 4242);
	kb_put16(b + KB_OFF_PRODUCER_EPOCH, 3);
	kb_put32(b + KB_OFF_BASE_SEQUENCE, 17);
	fix_crc(b, *len);
	return b;
}

/* The uncompressed records section of a batch (caller frees). */
static uint8_t *plain_section(const uint8_t *b, size_t len, size_t *plen)
{
	int codec = kb_get16(b + KB_OFF_ATTRIBUTES) & KB_ATTR_CODEC_MASK;
	uint8_t *out;

	*plen = len - KEEL_BATCH_HEADER_LEN;
	if (codec == KEEL_CODEC_NONE) {
		out = malloc(*plen);
		memcpy(out, b + KEEL_BATCH_HEADER_LEN, *plen);
		return out;
	}
	ck_assert_int_eq(keel_decompress(codec, b + KEEL_BATCH_HEADER_LEN, *plen, MAX_UNCOMP, &out, plen), 0);
	return out;
}

/* Every codec to every codec (and to and from uncompressed): the same records byte for byte, the
 * same header fields, the new codec, and a CRC that holds. */
START_TEST(test_recompress)
{
	int from = codecs[_i / 5], to = codecs[_i % 5];
	size_t len, nlen, plen, nplen;
	uint8_t *b = rich_batch(from, &len), *nb = NULL, *plain, *nplain;
	keel_batch_info_t info, ninfo;
	seen_t s = {0};

	ck_assert_int_eq(keel_batch_validate(b, len, &client_lim, &info), KEEL_OK);
	ck_assert_int_eq(keel_batch_recompress(b, len, to, MAX_UNCOMP, &nb, &nlen), KEEL_OK);
	ck_assert_int_eq(keel_batch_validate(nb, nlen, &client_lim, &ninfo), KEEL_OK);
	ck_assert(keel_batch_crc_ok(nb, nlen));
	ck_assert_int_eq(ninfo.length + KEEL_BATCH_LOG_OVERHEAD, (int64_t)nlen);
	ck_assert_int_eq(ninfo.attributes, to | KB_ATTR_TRANSACTIONAL);
	ck_assert_mem_eq(nb, b, KB_OFF_LENGTH); /* base offset */
	ck_assert_mem_eq(nb + KB_OFF_LEADER_EPOCH, b + KB_OFF_LEADER_EPOCH, 5); /* leader epoch, magic */
	ck_assert_mem_eq(nb + KB_OFF_LAST_OFFSET_DELTA, b + KB_OFF_LAST_OFFSET_DELTA,
			 KEEL_BATCH_HEADER_LEN - KB_OFF_LAST_OFFSET_DELTA);
	ck_assert_int_eq(ninfo.producer_id, 4242);
	ck_assert_int_eq(ninfo.producer_epoch, 3);
	ck_assert_int_eq(ninfo.base_sequence, 17);
	ck_assert_int_eq(ninfo.max_timestamp, RICH_TS + 250);
	if (to == from)
		ck_assert_int_eq(nlen, len);
	plain = plain_section(b, len, &plen);
	nplain = plain_section(nb, nlen, &nplen);
	ck_assert_uint_eq(nplen, plen);
	ck_assert_mem_eq(nplain, plain, plen);

	ck_assert_int_eq(keel_batch_foreach(nb, nlen, MAX_UNCOMP, note, &s), KEEL_OK);
	ck_assert_int_eq(s.n, 3);
	ck_assert_int_eq(s.ts[0], RICH_TS);
	ck_assert_int_eq(s.ts[1], RICH_TS + 5);
	ck_assert_int_eq(s.ts[2], RICH_TS + 250);
	ck_assert_int_eq(s.headers[0], 2);
	ck_assert_int_eq(s.headers[1], 0);
	ck_assert_int_eq(s.headers[2], 1);
	ck_assert_str_eq(s.keys[0], "k0");
	ck_assert(s.key_null[1]);
	ck_assert_str_eq(s.values[1], "value-1");
	ck_assert(s.value_null[2]);
	free(plain);
	free(nplain);
	free(nb);
	free(b);
}
END_TEST

/* The timestamp type survives a rebuild, and LogAppendTime can be applied after one. */
START_TEST(test_recompress_log_append_time)
{
	size_t len, nlen;
	uint8_t *b = rich_batch(KEEL_CODEC_LZ4, &len), *nb;
	keel_batch_info_t info;
	seen_t s = {0};

	keel_batch_set_log_append_time(b, len, 1800000000000);
	ck_assert_int_eq(keel_batch_recompress(b, len, KEEL_CODEC_GZIP, MAX_UNCOMP, &nb, &nlen), KEEL_OK);
	ck_assert_int_eq(keel_batch_validate(nb, nlen, &internal_lim, &info), KEEL_OK);
	ck_assert_int_eq(info.attributes, KEEL_CODEC_GZIP | KB_ATTR_TRANSACTIONAL | KB_ATTR_LOG_APPEND_TIME);
	ck_assert_int_eq(info.max_timestamp, 1800000000000);
	free(nb);
	b[KB_OFF_ATTRIBUTES] = 0x02; /* an unknown attribute bit (9) is not carried over */
	fix_crc(b, len);
	ck_assert_int_eq(keel_batch_recompress(b, len, KEEL_CODEC_NONE, MAX_UNCOMP, &nb, &nlen), KEEL_OK);
	keel_batch_set_log_append_time(nb, nlen, 1900000000000);
	ck_assert_int_eq(keel_batch_validate(nb, nlen, &internal_lim, &info), KEEL_OK);
	ck_assert_int_eq(info.attributes, KB_ATTR_TRANSACTIONAL | KB_ATTR_LOG_APPEND_TIME);
	ck_assert_int_eq(keel_batch_foreach(nb, nlen, MAX_UNCOMP, note, &s), KEEL_OK);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(s.ts[i], 1900000000000);
	free(nb);
	free(b);
}
END_TEST

/* What cannot be rebuilt: an unknown codec either way, broken framing, a section that does not
 * inflate within the bound. Nothing is allocated then. */
START_TEST(test_recompress_errors)
{
	size_t len, nlen;
	uint8_t *b = rich_batch(KEEL_CODEC_ZSTD, &len), *nb = NULL;

	ck_assert_int_eq(keel_batch_recompress(b, len, 5, MAX_UNCOMP, &nb, &nlen), KERR_UNSUPPORTED_COMPRESSION_TYPE);
	ck_assert_int_eq(keel_batch_recompress(b, len, KEEL_CODEC_PRODUCER, MAX_UNCOMP, &nb, &nlen),
			 KERR_UNSUPPORTED_COMPRESSION_TYPE);
	ck_assert_int_eq(keel_batch_recompress(b, len - 1, KEEL_CODEC_NONE, MAX_UNCOMP, &nb, &nlen),
			 KERR_CORRUPT_MESSAGE);
	ck_assert_int_eq(keel_batch_recompress(b, len, KEEL_CODEC_NONE, 10, &nb, &nlen), KERR_CORRUPT_MESSAGE);
	kb_put16(b + KB_OFF_ATTRIBUTES, 6);
	ck_assert_int_eq(keel_batch_recompress(b, len, KEEL_CODEC_NONE, MAX_UNCOMP, &nb, &nlen),
			 KERR_UNSUPPORTED_COMPRESSION_TYPE);
	ck_assert_ptr_null(nb);
	free(b);
}
END_TEST

/* ---- timestamps (Kafka's validateTimestamp) ---- */

static int validate_ts(const uint8_t *b, size_t len, int64_t now, int64_t max_diff)
{
	keel_batch_limits_t lim = client_lim;

	lim.check_timestamps = true;
	lim.now_ms = now;
	lim.timestamp_diff_max_ms = max_diff;
	return validate(b, len, &lim);
}

/* Every record's own timestamp (base + delta; inside the compressed section too) must be
 * within the bound of now, before or after it; exactly the bound is fine. */
START_TEST(test_timestamp_bound)
{
	size_t len;
	uint8_t *b = rich_batch(codecs[_i], &len); /* RICH_TS + 0, 5 and 250 */

	ck_assert_int_eq(validate_ts(b, len, RICH_TS + 1250, 1250), KEEL_OK);
	ck_assert_int_eq(validate_ts(b, len, RICH_TS + 1250, 1249), KERR_INVALID_TIMESTAMP); /* the first */
	ck_assert_int_eq(validate_ts(b, len, RICH_TS - 100, 350), KEEL_OK);
	ck_assert_int_eq(validate_ts(b, len, RICH_TS - 100, 349), KERR_INVALID_TIMESTAMP); /* the last */
	ck_assert_int_eq(validate_ts(b, len, RICH_TS + 125, 125), KEEL_OK);
	ck_assert_int_eq(validate_ts(b, len, RICH_TS + 126, 125), KERR_INVALID_TIMESTAMP); /* the first */
	ck_assert_int_eq(validate_ts(b, len, RICH_TS + 124, 125), KERR_INVALID_TIMESTAMP); /* the last */
	/* not the batch's base or max timestamp: records 0..2 are at +0, +5, +250 */
	kb_put64(b + KB_OFF_MAX_TIMESTAMP, RICH_TS);
	fix_crc(b, len);
	ck_assert_int_eq(validate_ts(b, len, RICH_TS, 249), KERR_INVALID_TIMESTAMP);
	ck_assert_int_eq(validate_ts(b, len, RICH_TS, 250), KEEL_OK);
	ck_assert_int_eq(validate(b, len, &client_lim), KEEL_OK); /* no bound */
	free(b);
}
END_TEST

/* A record without a timestamp (-1) is not bounded; the arithmetic holds at the extremes. */
START_TEST(test_timestamp_none_and_extremes)
{
	size_t len;
	uint8_t *b = build3(codecs[_i], &len);

	kb_put64(b + KB_OFF_BASE_TIMESTAMP, -1);
	fix_crc(b, len);
	ck_assert_int_eq(validate_ts(b, len, 1700000000000, 0), KEEL_OK);
	kb_put64(b + KB_OFF_BASE_TIMESTAMP, INT64_MIN);
	fix_crc(b, len);
	ck_assert_int_eq(validate_ts(b, len, INT64_MAX, INT64_MAX - 1), KERR_INVALID_TIMESTAMP);
	ck_assert_int_eq(validate_ts(b, len, 0, INT64_MAX - 1), KERR_INVALID_TIMESTAMP);
	ck_assert_int_eq(validate_ts(b, len, -2, INT64_MAX - 1), KEEL_OK);
	ck_assert_int_eq(validate_ts(b, len, -1, INT64_MAX - 1), KERR_INVALID_TIMESTAMP);
	free(b);
}
END_TEST

/* Only the broker sets LogAppendTime: a client batch claiming it is INVALID_TIMESTAMP. */
START_TEST(test_client_log_append_time)
{
	size_t len;
	uint8_t *b = build3(codecs[_i], &len);

	keel_batch_set_log_append_time(b, len, 1700000000000);
	ck_assert_int_eq(validate(b, len, &client_lim), KERR_INVALID_TIMESTAMP);
	ck_assert_int_eq(validate(b, len, &internal_lim), KEEL_OK);
	free(b);
}
END_TEST

/* Kafka checks every record and reports INVALID_TIMESTAMP if any record had a bad timestamp,
 * else INVALID_RECORD for a missing key (a keyless record's timestamp is not looked at);
 * a corrupt record later in the batch wins over both. */
START_TEST(test_key_and_timestamp_errors)
{
	keel_batch_limits_t lim = client_lim;
	size_t len;
	uint8_t *b = build3(codecs[_i], &len); /* record 1 has no key; all at 1700000000000 */

	lim.require_keys = true;
	lim.check_timestamps = true;
	lim.timestamp_diff_max_ms = 1000;
	lim.now_ms = 1700000000000;
	ck_assert_int_eq(validate(b, len, &lim), KERR_INVALID_RECORD);
	lim.now_ms += 1001;
	ck_assert_int_eq(validate(b, len, &lim), KERR_INVALID_TIMESTAMP);
	lim.require_keys = false;
	ck_assert_int_eq(validate(b, len, &lim), KERR_INVALID_TIMESTAMP);
	free(b);
	if (codecs[_i] != KEEL_CODEC_NONE)
		return;
	/* an uncompressed batch whose last record is cut short: the first one's bad timestamp
	 * does not hide it */
	b = build3(KEEL_CODEC_NONE, &len);
	kb_put32(b + KB_OFF_LENGTH, (int32_t)(len - 1 - KEEL_BATCH_LOG_OVERHEAD));
	fix_crc(b, len - 1);
	ck_assert_int_eq(validate(b, len - 1, &lim), KERR_CORRUPT_MESSAGE);
	free(b);
}
END_TEST

/* A compressed batch whose records inflate past max_uncompressed is refused. */
/* ---- legacy message sets (Produce v0-v2) ---- */

/* Append to out one legacy message (offset, size, crc, magic, attributes, [timestamp], key,
 * value); a NULL key or value is null. Returns the bytes written. */
static size_t legacy_msg(uint8_t *out, int64_t offset, int magic, int attr, int64_t ts, const void *key,
			 size_t klen, const void *value, size_t vlen)
{
	uint8_t *m = out + 12;
	size_t q = 4;

	m[q++] = (uint8_t)magic;
	m[q++] = (uint8_t)attr;
	if (magic == 1) {
		kb_put64(m + q, ts);
		q += 8;
	}
	kb_put32(m + q, key ? (int32_t)klen : -1);
	q += 4;
	if (key && klen)
		memcpy(m + q, key, klen);
	q += key ? klen : 0;
	kb_put32(m + q, value ? (int32_t)vlen : -1);
	q += 4;
	if (value && vlen)
		memcpy(m + q, value, vlen);
	q += value ? vlen : 0;
	kb_put32(m, (int32_t)crc32(0L, m + 4, (uInt)(q - 4)));
	kb_put64(out, offset);
	kb_put32(out + 8, (int32_t)q);
	return 12 + q;
}

/* Three plain messages of the given magic: ("k0","v0") at ts 1000, (null,"value-1") at 1005,
 * ("k2", null) at 999. */
static size_t legacy_set3(uint8_t *out, int magic)
{
	size_t n = legacy_msg(out, 0, magic, 0, 1000, "k0", 2, "v0", 2);
	n += legacy_msg(out + n, 1, magic, 0, 1005, NULL, 0, "value-1", 7);
	n += legacy_msg(out + n, 2, magic, 0, 999, "k2", 2, NULL, 0);
	return n;
}

/* Convert buf, check it is one valid client batch of codec, and return what it holds. */
static seen_t convert_ok(const uint8_t *buf, size_t len, int codec)
{
	keel_batch_limits_t lim = {1 << 20, 1 << 20, true};
	keel_batch_info_t info;
	uint8_t *out = NULL;
	size_t out_len = 0;
	seen_t s = {0};

	ck_assert_int_eq(keel_batch_from_legacy(buf, len, 1 << 20, &out, &out_len), KEEL_OK);
	ck_assert_int_eq(keel_batch_validate(out, out_len, &lim, &info), KEEL_OK);
	ck_assert_int_eq(info.attributes, codec);
	ck_assert_int_eq(info.producer_id, -1);
	ck_assert_int_eq(keel_batch_foreach(out, out_len, 1 << 20, collect, &s), KEEL_OK);
	ck_assert_int_eq(s.n, info.records_count);
	/* the base timestamp is the first record's, the max timestamp the largest */
	ck_assert_int_eq(info.base_timestamp, s.ts[0]);
	for (int i = 0; i < s.n; i++)
		ck_assert_int_le(s.ts[i], info.max_timestamp);
	free(out);
	return s;
}

static void check_three(const seen_t *s, bool timestamps)
{
	static const int64_t ts[3] = {1000, 1005, 999};

	ck_assert_int_eq(s->n, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(s->offsets[i], i);
		ck_assert_int_eq(s->ts[i], timestamps ? ts[i] : -1);
	}
	ck_assert(!s->key_null[0] && s->key_null[1] && !s->key_null[2]);
	ck_assert(!s->value_null[0] && !s->value_null[1] && s->value_null[2]);
	ck_assert_str_eq(s->keys[0], "k0");
	ck_assert_str_eq(s->values[1], "value-1");
	ck_assert_str_eq(s->keys[2], "k2");
}

START_TEST(test_legacy_plain)
{
	uint8_t buf[512];

	for (int magic = 0; magic <= 1; magic++) {
		size_t n = legacy_set3(buf, magic);
		seen_t s = convert_ok(buf, n, KEEL_CODEC_NONE);
		check_three(&s, magic == 1);
	}
}
END_TEST

/* A wrapper per codec (gzip, snappy, lz4) around three inner messages
 * of its magic; the batch keeps the codec. Magic-0 lz4 as old clients framed it: a header
 * checksum that also hashed the frame magic. */
START_TEST(test_legacy_compressed)
{
	uint8_t inner[512], buf[2048];

	for (int magic = 0; magic <= 1; magic++)
		for (int c = KEEL_CODEC_GZIP; c <= KEEL_CODEC_LZ4; c++) {
			size_t in_len = legacy_set3(inner, magic), z_len, n;
			uint8_t *z;

			ck_assert_int_eq(keel_compress(c, inner, in_len, &z, &z_len), 0);
			if (c == KEEL_CODEC_LZ4 && magic == 0) {
				ck_assert_uint_eq(z[4] & 0x09, 0); /* HC at byte 6 */
				z[6] ^= 0x5A;
			}
			ck_assert_uint_lt(z_len, 1024);
			n = legacy_msg(buf, 2, magic, c, 1000, NULL, 0, z, z_len);
			free(z);
			seen_t s = convert_ok(buf, n, c);
			check_three(&s, magic == 1);
		}
}
END_TEST

/* Two wrappers and a plain message in one set: all records, in order, in one batch. */
START_TEST(test_legacy_several_wrappers)
{
	uint8_t inner[512], buf[4096];
	size_t in_len = legacy_set3(inner, 1), z_len, n = 0;
	uint8_t *z;

	ck_assert_int_eq(keel_compress(KEEL_CODEC_GZIP, inner, in_len, &z, &z_len), 0);
	n += legacy_msg(buf + n, 2, 1, KEEL_CODEC_GZIP, 1000, NULL, 0, z, z_len);
	n += legacy_msg(buf + n, 3, 1, 0, 2000, "p", 1, "plain", 5);
	n += legacy_msg(buf + n, 6, 1, KEEL_CODEC_GZIP, 1000, NULL, 0, z, z_len);
	free(z);
	seen_t s = convert_ok(buf, n, KEEL_CODEC_GZIP);
	ck_assert_int_eq(s.n, 7);
	ck_assert_str_eq(s.values[3], "plain");
	ck_assert_int_eq(s.ts[3], 2000);
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(s.offsets[i], i);
	ck_assert_str_eq(s.keys[4], "k0");
}
END_TEST

static int convert_err(const uint8_t *buf, size_t len)
{
	uint8_t *out = NULL;
	size_t out_len = 0;
	int rc = keel_batch_from_legacy(buf, len, 1 << 20, &out, &out_len);

	if (rc == KEEL_OK)
		free(out);
	return rc;
}

START_TEST(test_legacy_errors)
{
	uint8_t buf[2048], inner[512];
	size_t n, in_len, z_len;
	uint8_t *z;

	n = legacy_set3(buf, 1);
	ck_assert_int_eq(convert_err(buf, 0), KERR_INVALID_RECORD);  /* nothing */
	ck_assert_int_eq(convert_err(buf, n - 1), KERR_CORRUPT_MESSAGE); /* truncated */
	buf[20] ^= 1; /* in the first message's timestamp: its CRC-32 no longer matches */
	ck_assert_int_eq(convert_err(buf, n), KERR_CORRUPT_MESSAGE);
	/* a producer may not claim LogAppendTime */
	n = legacy_msg(buf, 0, 1, 0x08, 1000, "k", 1, "v", 1);
	ck_assert_int_eq(convert_err(buf, n), KERR_INVALID_TIMESTAMP);
	/* magic 2 is not a legacy message; a key longer than its message is corrupt */
	n = legacy_msg(buf, 0, 0, 0, 0, "k", 1, "v", 1);
	buf[16] = 2;
	kb_put32(buf + 12, (int32_t)crc32(0L, buf + 16, (uInt)(n - 16)));
	ck_assert_int_eq(convert_err(buf, n), KERR_CORRUPT_MESSAGE);
	n = legacy_msg(buf, 0, 0, 0, 0, "k", 1, "v", 1);
	kb_put32(buf + 18, 1000);
	kb_put32(buf + 12, (int32_t)crc32(0L, buf + 16, (uInt)(n - 16)));
	ck_assert_int_eq(convert_err(buf, n), KERR_CORRUPT_MESSAGE);
	/* zstd needs magic 2; codecs past it are unknown */
	n = legacy_msg(buf, 0, 1, KEEL_CODEC_ZSTD, 0, NULL, 0, "x", 1);
	ck_assert_int_eq(convert_err(buf, n), KERR_UNSUPPORTED_COMPRESSION_TYPE);
	n = legacy_msg(buf, 0, 1, 6, 0, NULL, 0, "x", 1);
	ck_assert_int_eq(convert_err(buf, n), KERR_UNSUPPORTED_COMPRESSION_TYPE);
	/* a wrapper whose value does not decompress, or is null */
	n = legacy_msg(buf, 0, 1, KEEL_CODEC_GZIP, 0, NULL, 0, "not gzip", 8);
	ck_assert_int_eq(convert_err(buf, n), KERR_CORRUPT_MESSAGE);
	n = legacy_msg(buf, 0, 1, KEEL_CODEC_GZIP, 0, NULL, 0, NULL, 0);
	ck_assert_int_eq(convert_err(buf, n), KERR_CORRUPT_MESSAGE);
	/* inner messages of another magic than their wrapper's, or compressed again */
	in_len = legacy_set3(inner, 0);
	ck_assert_int_eq(keel_compress(KEEL_CODEC_GZIP, inner, in_len, &z, &z_len), 0);
	n = legacy_msg(buf, 0, 1, KEEL_CODEC_GZIP, 0, NULL, 0, z, z_len);
	free(z);
	ck_assert_int_eq(convert_err(buf, n), KERR_CORRUPT_MESSAGE);
	in_len = legacy_msg(inner, 0, 1, KEEL_CODEC_GZIP, 0, NULL, 0, "x", 1);
	ck_assert_int_eq(keel_compress(KEEL_CODEC_GZIP, inner, in_len, &z, &z_len), 0);
	n = legacy_msg(buf, 0, 1, KEEL_CODEC_GZIP, 0, NULL, 0, z, z_len);
	free(z);
	ck_assert_int_eq(convert_err(buf, n), KERR_CORRUPT_MESSAGE);
}
END_TEST

/* ---- down-conversion (Fetch v0-v3) ---- */

/* build3's batch with codec at base offset 100 (outside the CRC). */
static uint8_t *batch_at_100(int codec, size_t *len)
{
	uint8_t *b = build3(codec, len);

	kb_put64(b + KB_OFF_BASE_OFFSET, 100);
	return b;
}

/* The offsets of the top-level messages of a legacy set, and their count. */
static int legacy_offsets(const uint8_t *set, size_t len, int64_t *offs, int *attrs)
{
	int n = 0;

	for (size_t pos = 0; pos + 12 <= len; n++) {
		offs[n] = kb_get64(set + pos);
		attrs[n] = set[pos + 12 + 5];
		pos += 12 + (size_t)kb_get32(set + pos + 8);
	}
	return n;
}

START_TEST(test_down_convert_round_trip)
{
	for (int codec = KEEL_CODEC_NONE; codec <= KEEL_CODEC_LZ4; codec++)
		for (int magic = 0; magic <= 1; magic++) {
			size_t len, out_len, back_len;
			uint8_t *b = batch_at_100(codec, &len), *out = NULL, *back = NULL;
			int64_t offs[8];
			int attrs[8], n;
			seen_t s = {0};

			ck_assert_int_eq(keel_batch_to_legacy(b, len, magic, 100, 1 << 20, &out, &out_len), KEEL_OK);
			n = legacy_offsets(out, out_len, offs, attrs);
			if (codec == KEEL_CODEC_NONE) {
				ck_assert_int_eq(n, 3);
				ck_assert_int_eq(offs[0], 100);
				ck_assert_int_eq(offs[2], 102);
			} else { /* one wrapper at the last offset */
				ck_assert_int_eq(n, 1);
				ck_assert_int_eq(offs[0], 102);
				ck_assert_int_eq(attrs[0] & 7, codec);
			}
			/* what old clients read, read back: CRCs, framing and records */
			ck_assert_int_eq(keel_batch_from_legacy(out, out_len, 1 << 20, &back, &back_len), KEEL_OK);
			ck_assert_int_eq(keel_batch_foreach(back, back_len, 1 << 20, collect, &s), KEEL_OK);
			ck_assert_int_eq(s.n, 3);
			ck_assert_str_eq(s.keys[0], "k0");
			ck_assert(s.key_null[1] && s.value_null[2]);
			ck_assert_str_eq(s.values[1], "value-1");
			ck_assert_int_eq(s.ts[0], magic ? 1700000000000 : -1);
			free(out);
			free(back);
			free(b);
		}
}
END_TEST

/* Inner offsets of a magic-1 wrapper are relative (0, 1, 2); of a magic-0 one, absolute. */
START_TEST(test_down_convert_inner_offsets)
{
	for (int magic = 0; magic <= 1; magic++) {
		size_t len, out_len, inner_len;
		uint8_t *b = batch_at_100(KEEL_CODEC_GZIP, &len), *out = NULL, *inner = NULL;
		int64_t offs[8];
		int attrs[8];

		ck_assert_int_eq(keel_batch_to_legacy(b, len, magic, 100, 1 << 20, &out, &out_len), KEEL_OK);
		/* the wrapper's value: key null (4 bytes of -1), then the value's length and bytes */
		size_t vpos = 12 + 4 + 2 + (magic ? 8 : 0) + 4;
		ck_assert_int_eq(keel_decompress(KEEL_CODEC_GZIP, out + vpos + 4, (size_t)kb_get32(out + vpos),
						 1 << 20, &inner, &inner_len), 0);
		ck_assert_int_eq(legacy_offsets(inner, inner_len, offs, attrs), 3);
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(offs[i], magic ? i : 100 + i);
		free(inner);
		free(out);
		free(b);
	}
}
END_TEST

START_TEST(test_down_convert_rules)
{
	size_t len, out_len, len2;
	uint8_t *b = batch_at_100(KEEL_CODEC_NONE, &len), *out = NULL, *two;
	int64_t offs[8];
	int attrs[8];

	/* records of an uncompressed batch below the fetch offset are left out */
	ck_assert_int_eq(keel_batch_to_legacy(b, len, 1, 101, 1 << 20, &out, &out_len), KEEL_OK);
	ck_assert_int_eq(legacy_offsets(out, out_len, offs, attrs), 2);
	ck_assert_int_eq(offs[0], 101);
	free(out);
	/* LogAppendTime: magic-1 messages carry the type bit and the batch's time */
	keel_batch_set_log_append_time(b, len, 1800000000000);
	ck_assert_int_eq(keel_batch_to_legacy(b, len, 1, 100, 1 << 20, &out, &out_len), KEEL_OK);
	ck_assert_int_eq(legacy_offsets(out, out_len, offs, attrs), 3);
	ck_assert_int_eq(attrs[0], 0x08);
	ck_assert_int_eq(kb_get64(out + 12 + 6), 1800000000000);
	free(out);
	/* a control batch is skipped; a partial batch at the end is left out */
	two = malloc(2 * len);
	memcpy(two, b, len);
	memcpy(two + len, b, len);
	kb_put16(two + KB_OFF_ATTRIBUTES, KB_ATTR_CONTROL);
	fix_crc(two, len);
	len2 = 2 * len - 5;
	ck_assert_int_eq(keel_batch_to_legacy(two, 2 * len, 1, 0, 1 << 20, &out, &out_len), KEEL_OK);
	ck_assert_int_eq(legacy_offsets(out, out_len, offs, attrs), 3);
	free(out);
	ck_assert_int_eq(keel_batch_to_legacy(two, len2, 1, 0, 1 << 20, &out, &out_len), KEEL_OK);
	ck_assert_uint_eq(out_len, 0);
	free(out);
	free(two);
	free(b);
	/* zstd has no legacy form */
	b = batch_at_100(KEEL_CODEC_ZSTD, &len);
	ck_assert_int_eq(keel_batch_to_legacy(b, len, 1, 100, 1 << 20, &out, &out_len),
			 KERR_UNSUPPORTED_COMPRESSION_TYPE);
	free(b);
}
END_TEST

START_TEST(test_decompression_bomb)
{
	size_t vlen = 4u << 20, len;
	uint8_t *zeros = calloc(1, vlen);
	keel_slice_t v = {zeros, vlen};
	uint8_t *b = keel_batch_build(codecs[_i + 1], 0, 1, NULL, &v, &len);
	keel_batch_limits_t lim = client_lim;

	ck_assert_ptr_nonnull(b);
	ck_assert_uint_lt(len, MAX_BATCH);
	lim.max_uncompressed = 1u << 20;
	ck_assert_int_eq(validate(b, len, &lim), KERR_CORRUPT_MESSAGE);
	ck_assert_int_eq(keel_batch_foreach(b, len, 1u << 20, collect, &(seen_t){0}), KERR_CORRUPT_MESSAGE);
	lim.max_uncompressed = 5u << 20;
	ck_assert_int_eq(validate(b, len, &lim), KEEL_OK);
	free(b);
	free(zeros);
}
END_TEST

/* A callback's error stops the walk and is returned. */
static int stop_at_two(void *arg, int64_t offset, int64_t ts, keel_slice_t k, bool kn, keel_slice_t v,
		       bool vn, int hc)
{
	int *calls = arg;
	return ++*calls == 2 ? KEEL_ERR : KEEL_OK;
}

START_TEST(test_foreach_stops)
{
	size_t len;
	uint8_t *b = build3(KEEL_CODEC_NONE, &len);
	int calls = 0;

	ck_assert_int_eq(keel_batch_foreach(b, len, MAX_UNCOMP, stop_at_two, &calls), KEEL_ERR);
	ck_assert_int_eq(calls, 2);
	free(b);
}
END_TEST

/* Random byte edits with the CRC fixed so the record parser sees them: no crash. */
START_TEST(test_mutations)
{
	size_t len;
	uint8_t *b = build3(codecs[_i], &len);
	uint8_t *m = malloc(len);
	uint32_t seed = 12345u + (uint32_t)_i;

	for (int iter = 0; iter < 3000; iter++) {
		memcpy(m, b, len);
		for (int k = 0; k < 1 + iter % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = KEEL_BATCH_HEADER_LEN + (seed >> 8) % (len - KEEL_BATCH_HEADER_LEN);
			m[at] = (uint8_t)(seed >> 3);
		}
		fix_crc(m, len);
		(void)validate(m, len, &client_lim);
		(void)validate(m, len, &internal_lim);
		(void)keel_batch_foreach(m, len, MAX_UNCOMP, collect, &(seen_t){0});
	}
	free(m);
	free(b);
}
END_TEST

Suite *suite_batch(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("core");
	int n = (int)KEEL_ARRAY_LEN(codecs);

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_build_validate_foreach, 0, n);
	tcase_add_loop_test(tc, test_empty_fields, 0, n);
	tcase_add_loop_test(tc, test_compacted_needs_keys, 0, n);
	tcase_add_test(tc, test_header);
	tcase_add_loop_test(tc, test_too_large, 0, n);
	tcase_add_loop_test(tc, test_bad_crc, 0, n);
	tcase_add_test(tc, test_bad_magic);
	tcase_add_test(tc, test_length_mismatch);
	tcase_add_loop_test(tc, test_wrong_count, 0, n);
	tcase_add_test(tc, test_empty_batch);
	tcase_add_loop_test(tc, test_client_rules, 0, n);
	tcase_add_test(tc, test_unknown_codec);
	tcase_add_loop_test(tc, test_truncated, 0, n);
	tcase_add_test(tc, test_offset_delta_not_sequential);
	tcase_add_loop_test(tc, test_offset_delta_compressed, 1, n);
	tcase_add_test(tc, test_record_fields);
	tcase_add_loop_test(tc, test_log_append_time, 0, n);
	tcase_add_loop_test(tc, test_decompression_bomb, 0, n - 1);
	tcase_add_loop_test(tc, test_recompress, 0, n * n);
	tcase_add_test(tc, test_recompress_log_append_time);
	tcase_add_test(tc, test_recompress_errors);
	tcase_add_loop_test(tc, test_timestamp_bound, 0, n);
	tcase_add_loop_test(tc, test_timestamp_none_and_extremes, 0, n);
	tcase_add_loop_test(tc, test_client_log_append_time, 0, n);
	tcase_add_loop_test(tc, test_key_and_timestamp_errors, 0, n);
	tcase_add_test(tc, test_foreach_stops);
	tcase_add_test(tc, test_legacy_plain);
	tcase_add_test(tc, test_legacy_compressed);
	tcase_add_test(tc, test_legacy_several_wrappers);
	tcase_add_test(tc, test_legacy_errors);
	tcase_add_test(tc, test_down_convert_round_trip);
	tcase_add_test(tc, test_down_convert_inner_offsets);
	tcase_add_test(tc, test_down_convert_rules);
	tcase_add_loop_test(tc, test_mutations, 0, n);
	suite_add_tcase(s, tc);
	return s;
}
