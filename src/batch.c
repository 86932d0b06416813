/* src/batch.c: magic-2 record batches: header parsing, validation, record iteration, building. */
#include "batch.h"
#include "compress.h"
#include "crc32c.h"
#include "logger.h"

#include <stdlib.h>
#include <string.h>

/* One decoded record; key and value point into the batch's bytes. */
typedef struct {
	int64_t ts_delta;
	int32_t offset_delta;
	keel_slice_t key;
	keel_slice_t value;
	bool key_null;
	bool value_null;
	int headers;
} rec_t;

/* Readers of a record's fields at *pp, never past end: each advances *pp and returns false if
 * the field is truncated (or a varint too long), which is CORRUPT_MESSAGE. Validating a
 * produced batch walks every record, so they are inline and take a one-byte varint (every
 * field of a small record but the lengths and the offset delta) first. */

/* Unsigned LEB128 of at most maxbytes bytes (5 for int32, 10 for int64), never past end:
 * unrolled, without bounds checks; within ten bytes of end (a record's last fields) it reads a
 * copy padded with continuation bytes, which run out at maxbytes. */
static inline __attribute__((always_inline)) bool get_uvarint(const uint8_t **pp, const uint8_t *end,
							      int maxbytes, uint64_t *out)
{
	const uint8_t *p = *pp, *s = p;
	uint8_t tail[10];
	uint64_t v = 0;

	if (p < end && *p < 0x80) {
		*out = *p;
		*pp = p + 1;
		return true;
	}
	if (end - p < (ptrdiff_t)sizeof(tail)) {
		memset(tail, 0x80, sizeof(tail));
		memcpy(tail, p, (size_t)(end - p));
		s = tail;
	}
#pragma GCC unroll 10
	for (int i = 0; i < maxbytes; i++) {
		uint64_t b = s[i];
		v |= (b & 0x7f) << (7 * i);
		if (b < 0x80) {
			*out = v;
			*pp = p + i + 1;
			return true;
		}
	}
	return false;
}

/* Zigzag varint (int32), as records use it; and varlong (int64). */
static inline __attribute__((always_inline)) bool get_varint(const uint8_t **pp, const uint8_t *end,
							     int32_t *out)
{
	uint64_t u;
	return get_uvarint(pp, end, 5, &u) &&
	       (*out = (int32_t)(((uint32_t)u >> 1) ^ (0u - ((uint32_t)u & 1))), true);
}

static inline __attribute__((always_inline)) bool get_varlong(const uint8_t **pp, const uint8_t *end,
							      int64_t *out)
{
	uint64_t u;
	return get_uvarint(pp, end, 10, &u) && (*out = (int64_t)((u >> 1) ^ (0ull - (u & 1))), true);
}

/* A nullable field: varint length (-1 = null, < -1 INVALID_RECORD) then the bytes. Returns
 * KEEL_OK or a Kafka error code. */
static inline __attribute__((always_inline)) int get_nullable(const uint8_t **pp, const uint8_t *end,
							      keel_slice_t *s, bool *is_null)
{
	int32_t n;

	if (!get_varint(pp, end, &n))
		return KERR_CORRUPT_MESSAGE;
	s->ptr = NULL;
	s->len = 0;
	*is_null = n == -1;
	if (n == -1)
		return KEEL_OK;
	if (n < -1)
		return KERR_INVALID_RECORD;
	if ((size_t)n > (size_t)(end - *pp))
		return KERR_CORRUPT_MESSAGE;
	s->ptr = *pp;
	s->len = (size_t)n;
	*pp += n;
	return KEEL_OK;
}

/* Skip a record's headers: keys must be non-null, values may be null. */
static int skip_headers(const uint8_t **pp, const uint8_t *end, int32_t count)
{
	keel_slice_t s;
	bool is_null;
	int rc;

	for (int32_t i = 0; i < count; i++) {
		int32_t klen;
		if (!get_varint(pp, end, &klen))
			return KERR_CORRUPT_MESSAGE;
		if (klen < 0)
			return KERR_INVALID_RECORD;
		if ((size_t)klen > (size_t)(end - *pp))
			return KERR_CORRUPT_MESSAGE;
		*pp += klen;
		if ((rc = get_nullable(pp, end, &s, &is_null)) != KEEL_OK)
			return rc;
	}
	return KEEL_OK;
}

/* Parse the record at *pp (before end) and advance past it. Its length varint must cover
 * exactly its fields. Returns KEEL_OK or a Kafka error code: a truncated field is
 * CORRUPT_MESSAGE, a bad length or count INVALID_RECORD. */
static inline __attribute__((always_inline)) int parse_record(const uint8_t **pp, const uint8_t *end,
							      rec_t *rec)
{
	const uint8_t *p = *pp, *body_end;
	int32_t len;
	int rc;

	if (!get_varint(&p, end, &len) || len < 0 || (size_t)len > (size_t)(end - p))
		return KERR_CORRUPT_MESSAGE;
	body_end = p + len;
	*pp = body_end;
	if (p == body_end)
		return KERR_CORRUPT_MESSAGE; /* no attributes byte (unused in magic 2) */
	p++;
	if (!get_varlong(&p, body_end, &rec->ts_delta) || !get_varint(&p, body_end, &rec->offset_delta))
		return KERR_CORRUPT_MESSAGE;
	if ((rc = get_nullable(&p, body_end, &rec->key, &rec->key_null)) != KEEL_OK ||
	    (rc = get_nullable(&p, body_end, &rec->value, &rec->value_null)) != KEEL_OK)
		return rc;
	if (!get_varint(&p, body_end, &rec->headers))
		return KERR_CORRUPT_MESSAGE;
	if (rec->headers < 0)
		return KERR_INVALID_RECORD;
	if (rec->headers > 0 && (rc = skip_headers(&p, body_end, rec->headers)) != KEEL_OK)
		return rc;
	return p == body_end ? KEEL_OK : KERR_INVALID_RECORD; /* length disagrees with the fields */
}

/* Kafka's validateTimestamp bound: ts (unless -1, no timestamp) more than max_diff ms away from
 * now, either way. Exact for any values (no overflow). */
static bool ts_out_of_range(int64_t ts, int64_t now, int64_t max_diff)
{
	uint64_t d = ts >= now ? (uint64_t)ts - (uint64_t)now : (uint64_t)now - (uint64_t)ts;

	return ts != -1 && d > (uint64_t)max_diff;
}

/* Walk every record of a (decompressed) section. With lim (validation): offset deltas must be
 * 0..n-1 for client batches, else strictly increasing within lastOffsetDelta (compacted
 * batches), and the key and timestamp rules of keel_batch_validate apply. Without (foreach):
 * fn is called per record. Returns a Kafka error code. */
static int walk_records(const uint8_t *sec, size_t len, const keel_batch_info_t *info,
			const keel_batch_limits_t *lim, keel_record_fn fn, void *arg)
{
	const uint8_t *p = sec, *end = sec + len;
	bool strict = lim && lim->from_client, need_keys = lim && lim->require_keys;
	bool check_ts = lim && lim->check_timestamps;
	bool append_time = info->attributes & KB_ATTR_LOG_APPEND_TIME;
	int64_t prev = -1;
	int32_t n = 0;
	int record_err = KEEL_OK; /* Kafka's record errors: every record is still parsed */
	rec_t rec;
	int rc;

	while (p < end) {
		if (n == info->records_count)
			return KERR_INVALID_RECORD; /* bytes left after the declared count */
		rc = parse_record(&p, end, &rec);
		if (rc != KEEL_OK)
			return rc;
		if (strict ? rec.offset_delta != n
			   : rec.offset_delta <= prev || rec.offset_delta > info->last_offset_delta)
			return KERR_INVALID_RECORD;
		prev = rec.offset_delta;
		n++;
		int64_t ts = append_time ? info->max_timestamp
					 : (int64_t)((uint64_t)info->base_timestamp + (uint64_t)rec.ts_delta);
		if (need_keys && rec.key_null) {
			if (!record_err) /* Kafka: compacted topic cannot accept a record without key */
				record_err = KERR_INVALID_RECORD;
		} else if ((strict && append_time) ||
			   (check_ts && ts_out_of_range(ts, lim->now_ms, lim->timestamp_diff_max_ms))) {
			record_err = KERR_INVALID_TIMESTAMP; /* only the broker sets LogAppendTime */
		}
		if (!fn)
			continue;
		int64_t off = (int64_t)((uint64_t)info->base_offset + (uint64_t)(int64_t)rec.offset_delta);
		rc = fn(arg, off, ts, rec.key, rec.key_null, rec.value, rec.value_null, rec.headers);
		if (rc != KEEL_OK)
			return rc;
	}
	return n != info->records_count ? KERR_CORRUPT_MESSAGE : record_err;
}

/* Decompress (if the batch has a codec) and walk the records section (lim as walk_records). */
static int batch_records(const uint8_t *buf, size_t len, const keel_batch_info_t *info,
			 size_t max_uncompressed, const keel_batch_limits_t *lim, keel_record_fn fn, void *arg)
{
	int codec = info->attributes & KB_ATTR_CODEC_MASK;
	const uint8_t *sec = buf + KEEL_BATCH_HEADER_LEN;
	size_t sec_len = len - KEEL_BATCH_HEADER_LEN;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int rc;

	if (codec > KEEL_CODEC_ZSTD)
		return KERR_UNSUPPORTED_COMPRESSION_TYPE;
	if (codec != KEEL_CODEC_NONE) {
		if (keel_decompress(codec, sec, sec_len, max_uncompressed, &plain, &plain_len) != 0) {
			klog_debug("batch", "codec %d: records section (%zu bytes) failed to decompress",
				   codec, sec_len);
			return KERR_CORRUPT_MESSAGE;
		}
		sec = plain;
		sec_len = plain_len;
	}
	rc = walk_records(sec, sec_len, info, lim, fn, arg);
	free(plain);
	return rc;
}

int keel_batch_header(const uint8_t *buf, size_t len, keel_batch_info_t *info)
{
	if (len < KEEL_BATCH_HEADER_LEN)
		return KERR_CORRUPT_MESSAGE;
	info->base_offset = kb_get64(buf + KB_OFF_BASE_OFFSET);
	info->length = kb_get32(buf + KB_OFF_LENGTH);
	info->attributes = kb_get16(buf + KB_OFF_ATTRIBUTES);
	info->last_offset_delta = kb_get32(buf + KB_OFF_LAST_OFFSET_DELTA);
	info->base_timestamp = kb_get64(buf + KB_OFF_BASE_TIMESTAMP);
	info->max_timestamp = kb_get64(buf + KB_OFF_MAX_TIMESTAMP);
	info->producer_id = kb_get64(buf + KB_OFF_PRODUCER_ID);
	info->producer_epoch = kb_get16(buf + KB_OFF_PRODUCER_EPOCH);
	info->base_sequence = kb_get32(buf + KB_OFF_BASE_SEQUENCE);
	info->records_count = kb_get32(buf + KB_OFF_RECORDS_COUNT);
	if (buf[KB_OFF_MAGIC] != 2)
		return KERR_CORRUPT_MESSAGE;
	if (info->length < KEEL_BATCH_HEADER_LEN - KEEL_BATCH_LOG_OVERHEAD)
		return KERR_CORRUPT_MESSAGE;
	return KEEL_OK;
}

/* Framing shared by validate and crc_ok: a whole magic-2 batch of exactly len bytes. */
static int batch_framing(const uint8_t *buf, size_t len, keel_batch_info_t *info)
{
	int rc = keel_batch_header(buf, len, info);

	if (rc != KEEL_OK)
		return rc;
	if ((size_t)info->length + KEEL_BATCH_LOG_OVERHEAD != len)
		return KERR_CORRUPT_MESSAGE;
	return KEEL_OK;
}

static uint32_t batch_crc(const uint8_t *buf, size_t len)
{
	return keel_crc32c(0, buf + KB_OFF_ATTRIBUTES, len - KB_OFF_ATTRIBUTES);
}

bool keel_batch_crc_ok(const uint8_t *buf, size_t len)
{
	keel_batch_info_t info;

	if (batch_framing(buf, len, &info) != KEEL_OK)
		return false;
	return (uint32_t)kb_get32(buf + KB_OFF_CRC) == batch_crc(buf, len);
}

/* Header rules (protocol.md section 4, step 4-5): counts always, producer rules
 * for client batches. Returns KEEL_OK or KERR_INVALID_RECORD. */
static int check_header_rules(const keel_batch_info_t *info, bool from_client)
{
	int64_t declared = (int64_t)info->last_offset_delta + 1;

	if (!from_client)
		return info->records_count >= 0 && info->records_count <= declared ? KEEL_OK
										    : KERR_INVALID_RECORD;
	if (info->base_offset != 0 || (info->attributes & KB_ATTR_CONTROL))
		return KERR_INVALID_RECORD;
	if (info->records_count <= 0 || info->records_count != declared)
		return KERR_INVALID_RECORD;
	if (info->producer_id >= 0 && info->base_sequence < 0)
		return KERR_INVALID_RECORD;
	return KEEL_OK;
}

/* Steps of keel_batch_validate in AK order; the caller logs the outcome. */
static int validate_steps(const uint8_t *buf, size_t len, const keel_batch_limits_t *lim,
			  keel_batch_info_t *info)
{
	int rc;

	if (len < KEEL_BATCH_LOG_OVERHEAD)
		return KERR_CORRUPT_MESSAGE;
	info->length = kb_get32(buf + KB_OFF_LENGTH);
	if (info->length >= 0 &&
	    (uint64_t)info->length + KEEL_BATCH_LOG_OVERHEAD > (uint64_t)lim->max_batch_bytes)
		return KERR_MESSAGE_TOO_LARGE;
	rc = batch_framing(buf, len, info);
	if (rc != KEEL_OK)
		return rc;
	if ((uint32_t)kb_get32(buf + KB_OFF_CRC) != batch_crc(buf, len))
		return KERR_CORRUPT_MESSAGE;
	if ((info->attributes & KB_ATTR_CODEC_MASK) > KEEL_CODEC_ZSTD)
		return KERR_UNSUPPORTED_COMPRESSION_TYPE;
	rc = check_header_rules(info, lim->from_client);
	if (rc != KEEL_OK)
		return rc;
	return batch_records(buf, len, info, lim->max_uncompressed, lim, NULL, NULL);
}

int keel_batch_validate(const uint8_t *buf, size_t len, const keel_batch_limits_t *lim,
			keel_batch_info_t *info)
{
	int rc;

	memset(info, 0, sizeof(*info));
	rc = validate_steps(buf, len, lim, info);
	if (rc != KEEL_OK)
		klog_debug("batch", "rejected %zu-byte batch (%s): error %d", len,
			   lim->from_client ? "client" : "internal", rc);
	return rc;
}

void keel_batch_set_base_offset(uint8_t *buf, int64_t base_offset)
{
	kb_put64(buf + KB_OFF_BASE_OFFSET, base_offset);
}

void keel_batch_set_leader_epoch(uint8_t *buf, int32_t epoch)
{
	kb_put32(buf + KB_OFF_LEADER_EPOCH, epoch);
}

void keel_batch_set_log_append_time(uint8_t *buf, size_t len, int64_t now_ms)
{
	int16_t attr = kb_get16(buf + KB_OFF_ATTRIBUTES);

	kb_put16(buf + KB_OFF_ATTRIBUTES, (int16_t)(attr | KB_ATTR_LOG_APPEND_TIME));
	kb_put64(buf + KB_OFF_MAX_TIMESTAMP, now_ms);
	kb_put32(buf + KB_OFF_CRC, (int32_t)batch_crc(buf, len));
}

int keel_batch_foreach(const uint8_t *buf, size_t len, size_t max_uncompressed,
		       keel_record_fn fn, void *arg)
{
	keel_batch_info_t info;
	int rc = batch_framing(buf, len, &info);

	if (rc != KEEL_OK)
		return rc;
	if (info.records_count < 0)
		return KERR_CORRUPT_MESSAGE;
	return batch_records(buf, len, &info, max_uncompressed, NULL, fn, arg);
}

/* ---- building ---- */

static size_t varint_size(int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 1;

	while (u >= 0x80) {
		u >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	while (u >= 0x80) {
		*p++ = (uint8_t)(u | 0x80);
		u >>= 7;
	}
	*p++ = (uint8_t)u;
	return p;
}

static int64_t slice_varlen(const keel_slice_t *s)
{
	return s && s->ptr ? (int64_t)s->len : -1;
}

/* Size of record i's body (everything after its length varint). */
static size_t record_body_size(int i, int64_t ts_delta, const keel_slice_t *k, const keel_slice_t *v)
{
	int64_t kl = slice_varlen(k), vl = slice_varlen(v);

	return 1 + varint_size(ts_delta) + varint_size(i) + varint_size(kl) + (kl > 0 ? (size_t)kl : 0) +
	       varint_size(vl) + (vl > 0 ? (size_t)vl : 0) + varint_size(0);
}

static uint8_t *put_field(uint8_t *p, const keel_slice_t *s)
{
	int64_t l = slice_varlen(s);

	p = put_varint(p, l);
	if (l > 0) {
		memcpy(p, s->ptr, (size_t)l);
		p += l;
	}
	return p;
}

/* Encode the uncompressed records section into a new buffer; record i's timestamp is ts[i]
 * (relative to ts[0]), or the base timestamp when ts is NULL. */
static uint8_t *build_records(int n, const int64_t *ts, const keel_slice_t *keys,
			      const keel_slice_t *values, size_t *out_len)
{
	size_t total = 0;
	uint8_t *buf, *p;

	for (int i = 0; i < n; i++) {
		const keel_slice_t *k = keys ? &keys[i] : NULL, *v = values ? &values[i] : NULL;
		if (slice_varlen(k) > INT32_MAX / 2 || slice_varlen(v) > INT32_MAX / 2 || total > INT32_MAX)
			return NULL;
		size_t body = record_body_size(i, ts ? ts[i] - ts[0] : 0, k, v);
		total += varint_size((int64_t)body) + body;
	}
	buf = malloc(total ? total : 1);
	if (!buf)
		return NULL;
	p = buf;
	for (int i = 0; i < n; i++) {
		const keel_slice_t *k = keys ? &keys[i] : NULL, *v = values ? &values[i] : NULL;
		int64_t delta = ts ? ts[i] - ts[0] : 0;
		p = put_varint(p, (int64_t)record_body_size(i, delta, k, v));
		*p++ = 0;             /* attributes */
		p = put_varint(p, delta); /* timestampDelta */
		p = put_varint(p, i); /* offsetDelta */
		p = put_field(p, k);
		p = put_field(p, v);
		p = put_varint(p, 0); /* headers */
	}
	*out_len = total;
	return buf;
}

/* Write the 61-byte header (CRC last, once the records are in place). */
static void build_header(uint8_t *b, size_t len, int codec, int64_t ts, int64_t max_ts, int n)
{
	kb_put64(b + KB_OFF_BASE_OFFSET, 0);
	kb_put32(b + KB_OFF_LENGTH, (int32_t)(len - KEEL_BATCH_LOG_OVERHEAD));
	kb_put32(b + KB_OFF_LEADER_EPOCH, -1);
	b[KB_OFF_MAGIC] = 2;
	kb_put16(b + KB_OFF_ATTRIBUTES, (int16_t)codec);
	kb_put32(b + KB_OFF_LAST_OFFSET_DELTA, n - 1);
	kb_put64(b + KB_OFF_BASE_TIMESTAMP, ts);
	kb_put64(b + KB_OFF_MAX_TIMESTAMP, max_ts);
	kb_put64(b + KB_OFF_PRODUCER_ID, -1);
	kb_put16(b + KB_OFF_PRODUCER_EPOCH, -1);
	kb_put32(b + KB_OFF_BASE_SEQUENCE, -1);
	kb_put32(b + KB_OFF_RECORDS_COUNT, n);
	kb_put32(b + KB_OFF_CRC, (int32_t)batch_crc(b, len));
}

/* A new batch buffer holding plain[0..plain_len) encoded with codec after room for the 61-byte
 * header, which the caller writes. Returns it (caller frees) with its whole length, or NULL. */
static uint8_t *encode_section(int codec, const uint8_t *plain, size_t plain_len, size_t *out_len)
{
	uint8_t *sec = (uint8_t *)plain, *batch = NULL;
	size_t sec_len = plain_len;

	if (codec != KEEL_CODEC_NONE && keel_compress(codec, plain, plain_len, &sec, &sec_len) != 0)
		return NULL;
	if (sec_len <= INT32_MAX - KEEL_BATCH_HEADER_LEN && (batch = malloc(KEEL_BATCH_HEADER_LEN + sec_len))) {
		memcpy(batch + KEEL_BATCH_HEADER_LEN, sec, sec_len);
		*out_len = KEEL_BATCH_HEADER_LEN + sec_len;
	}
	if (sec != plain)
		free(sec);
	return batch;
}

static uint8_t *build_batch(int codec, int64_t base_timestamp, const int64_t *ts, int n,
			    const keel_slice_t *keys, const keel_slice_t *values, size_t *out_len)
{
	uint8_t *recs, *batch;
	size_t rec_len, len;
	int64_t max_ts = base_timestamp;

	if (n < 0 || codec < KEEL_CODEC_NONE || codec > KEEL_CODEC_ZSTD)
		return NULL;
	recs = build_records(n, ts, keys, values, &rec_len);
	if (!recs)
		return NULL;
	for (int i = 0; ts && i < n; i++)
		if (ts[i] > max_ts)
			max_ts = ts[i];
	batch = encode_section(codec, recs, rec_len, &len);
	if (batch) {
		build_header(batch, len, codec, base_timestamp, max_ts, n);
		*out_len = len;
	}
	free(recs);
	return batch;
}

uint8_t *keel_batch_build(int codec, int64_t base_timestamp, int n,
			  const keel_slice_t *keys, const keel_slice_t *values, size_t *out_len)
{
	return build_batch(codec, base_timestamp, NULL, n, keys, values, out_len);
}

uint8_t *keel_batch_build_ts(int codec, int n, const int64_t *timestamps, const keel_slice_t *keys,
			     const keel_slice_t *values, size_t *out_len)
{
	return build_batch(codec, n > 0 ? timestamps[0] : -1, timestamps, n, keys, values, out_len);
}

int keel_batch_recompress(const uint8_t *buf, size_t len, int codec, size_t max_uncompressed,
			  uint8_t **out, size_t *out_len)
{
	keel_batch_info_t info;
	const uint8_t *plain = buf + KEEL_BATCH_HEADER_LEN;
	size_t plain_len, new_len;
	uint8_t *inflated = NULL, *nb;
	int rc = batch_framing(buf, len, &info), from;

	if (rc != KEEL_OK)
		return rc;
	plain_len = len - KEEL_BATCH_HEADER_LEN;
	from = info.attributes & KB_ATTR_CODEC_MASK;
	if (from > KEEL_CODEC_ZSTD || codec < KEEL_CODEC_NONE || codec > KEEL_CODEC_ZSTD)
		return KERR_UNSUPPORTED_COMPRESSION_TYPE;
	if (from != KEEL_CODEC_NONE) {
		if (keel_decompress(from, plain, plain_len, max_uncompressed, &inflated, &plain_len) != 0)
			return KERR_CORRUPT_MESSAGE;
		plain = inflated;
	}
	nb = encode_section(codec, plain, plain_len, &new_len);
	free(inflated);
	if (!nb) {
		klog_warn("batch", "recompressing a %zu-byte batch from codec %d to %d failed", len, from, codec);
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	memcpy(nb, buf, KEEL_BATCH_HEADER_LEN);
	kb_put32(nb + KB_OFF_LENGTH, (int32_t)(new_len - KEEL_BATCH_LOG_OVERHEAD));
	kb_put16(nb + KB_OFF_ATTRIBUTES, (int16_t)((info.attributes & KB_ATTR_KEPT_ON_REBUILD) | codec));
	kb_put32(nb + KB_OFF_CRC, (int32_t)batch_crc(nb, new_len));
	*out = nb;
	*out_len = new_len;
	return KEEL_OK;
}
