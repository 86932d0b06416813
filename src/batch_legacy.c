/* src/batch_legacy.c: legacy message sets (magic 0 and 1): those of Produce v0-v2 converted to one
 * magic-2 batch, as Kafka's LogValidator converts them for a log in format v2, and batches
 * converted down for Fetch v0-v3, as Kafka's RecordsUtil.downConvert does.
 *
 * A message set is a sequence of [offset int64, message size int32, message]; a message is
 * [crc int32 (CRC-32 of the rest), magic int8, attributes int8, timestamp int64 (magic 1 only),
 * key bytes, value bytes]. Attribute bits 0-2 are the codec: a compressed message (a wrapper)
 * holds, compressed in its value, a message set of inner messages of the same magic. Bit 3 is
 * the timestamp type (magic 1), which a producer may not set to LogAppendTime. */
#include "batch.h"
#include "codec.h"
#include "compress.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define ENTRY_OVERHEAD 12  /* offset, message size */
#define MIN_MESSAGE_V0 14  /* crc, magic, attributes, key and value lengths */
#define MIN_MESSAGE_V1 22  /* and the timestamp */
#define ATTR_LEGACY_CODEC 0x07
#define ATTR_LEGACY_APPEND_TIME 0x08

/* The records found so far, and the decompressed inner sets their slices point into. */
typedef struct {
	int n, cap;
	int64_t *ts;
	keel_slice_t *keys, *values;
	int codec;             /* the wrappers' codec; KEEL_CODEC_NONE if there were none */
	uint8_t **inner;
	int ninner;
	size_t max_uncompressed;
} legacy_t;

static int add_record(legacy_t *L, int64_t ts, keel_slice_t key, keel_slice_t value)
{
	if (L->n == L->cap) {
		int cap = L->cap ? 2 * L->cap : 64;
		int64_t *ts2 = realloc(L->ts, (size_t)cap * sizeof(*ts2));
		if (ts2)
			L->ts = ts2;
		keel_slice_t *k2 = ts2 ? realloc(L->keys, (size_t)cap * sizeof(*k2)) : NULL;
		if (k2)
			L->keys = k2;
		keel_slice_t *v2 = k2 ? realloc(L->values, (size_t)cap * sizeof(*v2)) : NULL;
		if (!v2)
			return KERR_UNKNOWN_SERVER_ERROR;
		L->values = v2;
		L->cap = cap;
	}
	L->ts[L->n] = ts;
	L->keys[L->n] = key;
	L->values[L->n] = value;
	L->n++;
	return KEEL_OK;
}

/* A bytes field at m[*q..size): length int32 (-1: null, ptr NULL); false if it does not fit. */
static bool legacy_bytes(const uint8_t *m, size_t size, size_t *q, keel_slice_t *out)
{
	int32_t len;

	if (size - *q < 4)
		return false;
	len = kb_get32(m + *q);
	*q += 4;
	if (len < -1 || (len > 0 && (size_t)len > size - *q))
		return false;
	out->ptr = len < 0 ? NULL : m + *q;
	out->len = len < 0 ? 0 : (size_t)len;
	*q += len > 0 ? (size_t)len : 0;
	return true;
}

static int parse_set(legacy_t *L, const uint8_t *buf, size_t len, int wrapper_magic);

/* A wrapper's value: decompress it and take its inner messages. */
static int parse_wrapper(legacy_t *L, int codec, int magic, keel_slice_t value)
{
	uint8_t *inner, **more;
	size_t inner_len;

	if (codec > KEEL_CODEC_LZ4)
		return KERR_UNSUPPORTED_COMPRESSION_TYPE; /* zstd needs magic 2 */
	if (!value.ptr || keel_decompress(codec, value.ptr, value.len, L->max_uncompressed, &inner, &inner_len) != 0)
		return KERR_CORRUPT_MESSAGE;
	if (!(more = realloc(L->inner, (size_t)(L->ninner + 1) * sizeof(*more)))) {
		free(inner);
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	L->inner = more;
	L->inner[L->ninner++] = inner;
	if (L->codec == KEEL_CODEC_NONE)
		L->codec = codec;
	return parse_set(L, inner, inner_len, magic);
}

/* The messages of buf[0..len): the top level (wrapper_magic -1), or a wrapper's inner set. */
static int parse_set(legacy_t *L, const uint8_t *buf, size_t len, int wrapper_magic)
{
	for (size_t pos = 0; pos < len;) {
		const uint8_t *m = buf + pos + ENTRY_OVERHEAD;
		int32_t size;
		size_t q = 6;
		int64_t ts = -1;
		keel_slice_t key, value;
		int magic, attr, codec, rc;

		if (len - pos < ENTRY_OVERHEAD)
			return KERR_CORRUPT_MESSAGE;
		size = kb_get32(buf + pos + 8);
		if (size < MIN_MESSAGE_V0 || (size_t)size > len - pos - ENTRY_OVERHEAD)
			return KERR_CORRUPT_MESSAGE;
		if ((uint32_t)kb_get32(m) != (uint32_t)crc32(0L, m + 4, (uInt)(size - 4)))
			return KERR_CORRUPT_MESSAGE;
		magic = m[4];
		attr = m[5];
		codec = attr & ATTR_LEGACY_CODEC;
		if (magic > 1 || (wrapper_magic >= 0 && magic != wrapper_magic))
			return KERR_CORRUPT_MESSAGE;
		if (magic == 1) {
			if (size < MIN_MESSAGE_V1)
				return KERR_CORRUPT_MESSAGE;
			if (attr & ATTR_LEGACY_APPEND_TIME)
				return KERR_INVALID_TIMESTAMP; /* the broker's to set, as in Kafka */
			ts = kb_get64(m + 6);
			q = 14;
		}
		if (!legacy_bytes(m, (size_t)size, &q, &key) || !legacy_bytes(m, (size_t)size, &q, &value) ||
		    q != (size_t)size)
			return KERR_CORRUPT_MESSAGE;
		if (codec != KEEL_CODEC_NONE && wrapper_magic >= 0)
			return KERR_CORRUPT_MESSAGE; /* compressed inside compressed */
		rc = codec != KEEL_CODEC_NONE ? parse_wrapper(L, codec, magic, value) : add_record(L, ts, key, value);
		if (rc != KEEL_OK)
			return rc;
		if (L->n == INT32_MAX)
			return KERR_INVALID_RECORD;
		pos += ENTRY_OVERHEAD + (size_t)size;
	}
	return KEEL_OK;
}

int keel_batch_from_legacy(const uint8_t *buf, size_t len, size_t max_uncompressed, uint8_t **out,
			   size_t *out_len)
{
	legacy_t L = {.codec = KEEL_CODEC_NONE, .max_uncompressed = max_uncompressed};
	int rc = parse_set(&L, buf, len, -1);

	if (rc == KEEL_OK && L.n == 0)
		rc = KERR_INVALID_RECORD;
	if (rc == KEEL_OK && !(*out = keel_batch_build_ts(L.codec, L.n, L.ts, L.keys, L.values, out_len)))
		rc = KERR_UNKNOWN_SERVER_ERROR;
	for (int i = 0; i < L.ninner; i++)
		free(L.inner[i]);
	free(L.inner);
	free(L.ts);
	free(L.keys);
	free(L.values);
	return rc;
}

/* ---- down-conversion (Fetch v0-v3) ---- */

/* Append one legacy message (size and CRC-32 patched in once the rest is written). */
static void put_message(kw_t *w, int64_t offset, int magic, int attr, int64_t ts, keel_slice_t key,
			bool key_null, keel_slice_t value, bool value_null)
{
	size_t size_pos, crc_pos;

	kw_i64(w, offset);
	size_pos = kw_reserve(w, 4);
	crc_pos = kw_reserve(w, 4);
	kw_i8(w, (int8_t)magic);
	kw_i8(w, (int8_t)attr);
	if (magic == 1)
		kw_i64(w, ts);
	kw_bytes(w, key.ptr, key.len, key_null);
	kw_bytes(w, value.ptr, value.len, value_null);
	if (w->oom)
		return;
	kb_put32(w->buf + size_pos, (int32_t)(w->len - crc_pos));
	kb_put32(w->buf + crc_pos, (int32_t)crc32(0L, w->buf + crc_pos + 4, (uInt)(w->len - crc_pos - 4)));
}

typedef struct {
	kw_t *out;           /* where the messages go */
	int magic;
	int attr;            /* the timestamp-type bit of every message (magic 1) */
	int64_t batch_ts;    /* LogAppendTime: the batch's time for every message */
	int64_t first;       /* records below it are left out (uncompressed batches only) */
	bool relative;       /* inner messages of a magic-1 wrapper: offsets from first_seen */
	int64_t first_seen, last_seen;
	int n;
} down_t;

static int down_record(void *arg, int64_t offset, int64_t timestamp, keel_slice_t key, bool key_null,
		       keel_slice_t value, bool value_null, int header_count)
{
	down_t *d = arg;
	(void)header_count; /* the legacy formats have no headers: Kafka drops them too */
	if (offset < d->first)
		return KEEL_OK;
	if (d->n++ == 0)
		d->first_seen = offset;
	d->last_seen = offset;
	put_message(d->out, d->relative ? offset - d->first_seen : offset, d->magic, d->attr,
		    d->attr ? d->batch_ts : timestamp, key, key_null, value, value_null);
	return KEEL_OK;
}

int keel_batch_to_legacy(const uint8_t *buf, size_t len, int magic, int64_t first_offset,
			 size_t max_uncompressed, uint8_t **out, size_t *out_len)
{
	kw_t g, inner;
	int rc = KEEL_OK;

	kw_init(&g, len, false);
	kw_init(&inner, 0, false);

	for (size_t pos = 0; rc == KEEL_OK && len - pos >= KEEL_BATCH_HEADER_LEN;) {
		keel_batch_info_t info;
		size_t blen = (size_t)(uint32_t)kb_get32(buf + pos + KB_OFF_LENGTH) + KEEL_BATCH_LOG_OVERHEAD;
		if (blen > len - pos)
			break; /* a partial batch at the end: not sent, as Kafka leaves it to the next fetch */
		if (keel_batch_header(buf + pos, blen, &info) != KEEL_OK) {
			rc = KERR_CORRUPT_MESSAGE;
			break;
		}
		int codec = info.attributes & KB_ATTR_CODEC_MASK;
		bool append_time = info.attributes & KB_ATTR_LOG_APPEND_TIME;
		down_t d = {.magic = magic, .attr = magic == 1 && append_time ? ATTR_LEGACY_APPEND_TIME : 0,
			    .batch_ts = info.max_timestamp};
		if (info.attributes & KB_ATTR_CONTROL) {
			pos += blen; /* transaction markers: nothing for a legacy reader */
			continue;
		}
		if (codec > KEEL_CODEC_LZ4) {
			rc = KERR_UNSUPPORTED_COMPRESSION_TYPE; /* zstd has no legacy form */
			break;
		}
		if (codec == KEEL_CODEC_NONE) {
			d.out = &g;
			d.first = first_offset;
			rc = keel_batch_foreach(buf + pos, blen, max_uncompressed, down_record, &d);
		} else {
			/* one wrapper with every record, as Kafka converts a compressed batch */
			uint8_t *z = NULL;
			size_t zlen = 0;
			inner.len = 0;
			d.out = &inner;
			d.first = INT64_MIN;
			d.relative = magic == 1;
			rc = keel_batch_foreach(buf + pos, blen, max_uncompressed, down_record, &d);
			if (rc == KEEL_OK && d.n > 0 && !inner.oom) {
				if (keel_compress(codec, inner.buf, inner.len, &z, &zlen) != 0)
					rc = KERR_UNKNOWN_SERVER_ERROR;
				else if (codec == KEEL_CODEC_LZ4 && magic == 0)
					keel_lz4_legacy_header(z, zlen);
				if (rc == KEEL_OK)
					put_message(&g, d.last_seen, magic, codec | d.attr, info.max_timestamp,
						    (keel_slice_t){NULL, 0}, true, (keel_slice_t){z, zlen}, false);
				free(z);
			}
		}
		if (inner.oom)
			g.oom = true;
		pos += blen;
	}
	kw_free(&inner);
	if (rc == KEEL_OK && g.oom)
		rc = KERR_UNKNOWN_SERVER_ERROR;
	if (rc != KEEL_OK) {
		kw_free(&g);
		return rc;
	}
	*out = g.buf;
	*out_len = g.len;
	return KEEL_OK;
}
