/* src/batch.h: magic-2 record batches: header access, validation, offset assignment. */
#ifndef KEEL_BATCH_H
#define KEEL_BATCH_H

#include "keel.h"

#include <stddef.h>
#include <stdint.h>

#define KEEL_BATCH_HEADER_LEN 61 /* bytes up to and including recordsCount */
#define KEEL_BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */

/* Field offsets inside a batch (protocol.md section 3). */
#define KB_OFF_BASE_OFFSET 0
#define KB_OFF_LENGTH 8
#define KB_OFF_LEADER_EPOCH 12
#define KB_OFF_MAGIC 16
#define KB_OFF_CRC 17
#define KB_OFF_ATTRIBUTES 21
#define KB_OFF_LAST_OFFSET_DELTA 23
#define KB_OFF_BASE_TIMESTAMP 27
#define KB_OFF_MAX_TIMESTAMP 35
#define KB_OFF_PRODUCER_ID 43
#define KB_OFF_PRODUCER_EPOCH 51
#define KB_OFF_BASE_SEQUENCE 53
#define KB_OFF_RECORDS_COUNT 57

#define KB_ATTR_CODEC_MASK 0x07
#define KB_ATTR_LOG_APPEND_TIME 0x08
#define KB_ATTR_TRANSACTIONAL 0x10
#define KB_ATTR_CONTROL 0x20
/* What a rebuilt batch keeps of the old attributes besides its new codec (Kafka's builder
 * writes the timestamp type, transactional and control bits) */
#define KB_ATTR_KEPT_ON_REBUILD (KB_ATTR_LOG_APPEND_TIME | KB_ATTR_TRANSACTIONAL | KB_ATTR_CONTROL)

/* What validation learned about a batch (all header values, host order). */
typedef struct {
	int64_t base_offset;
	int32_t length;          /* batchLength field; whole batch = length + 12 */
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t records_count;
} keel_batch_info_t;

typedef struct {
	size_t max_batch_bytes;  /* message.max.bytes: whole batch (length+12) above it -> MESSAGE_TOO_LARGE */
	size_t max_uncompressed; /* cap on decompressed size (guards decompression bombs) */
	bool from_client;        /* client produce: baseOffset 0, no control bit, ... */
	bool require_keys;       /* a compacted topic: a record without a key is INVALID_RECORD */
	bool check_timestamps;   /* a CreateTime topic with message.timestamp.difference.max.ms: */
	int64_t now_ms;          /*   a record timestamp (not -1) further than timestamp_diff_max_ms */
	int64_t timestamp_diff_max_ms; /* from now_ms either way is INVALID_TIMESTAMP */
} keel_batch_limits_t;

/* Big-endian helpers for batch and index fields. */
static inline int16_t kb_get16(const uint8_t *p) { return (int16_t)((p[0] << 8) | p[1]); }
static inline int32_t kb_get32(const uint8_t *p)
{
	return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}
static inline int64_t kb_get64(const uint8_t *p)
{
	return (int64_t)(((uint64_t)(uint32_t)kb_get32(p) << 32) | (uint32_t)kb_get32(p + 4));
}
static inline void kb_put16(uint8_t *p, int16_t v) { p[0] = (uint8_t)((uint16_t)v >> 8); p[1] = (uint8_t)v; }
static inline void kb_put32(uint8_t *p, int32_t v)
{
	uint32_t u = (uint32_t)v;
	p[0] = (uint8_t)(u >> 24); p[1] = (uint8_t)(u >> 16); p[2] = (uint8_t)(u >> 8); p[3] = (uint8_t)u;
}
static inline void kb_put64(uint8_t *p, int64_t v)
{
	kb_put32(p, (int32_t)((uint64_t)v >> 32));
	kb_put32(p + 4, (int32_t)(uint64_t)v);
}

/* Parse only the 61-byte header (no CRC check). buf must hold >= 61 bytes.
 * Returns KEEL_OK, or KERR_CORRUPT_MESSAGE if the magic is not 2 or the
 * length field is impossible. */
int keel_batch_header(const uint8_t *buf, size_t len, keel_batch_info_t *info);

/* Fully validate one batch occupying exactly buf[0..len) as Kafka's broker does
 * (protocol.md section 4, steps 2-5): size vs limits (MESSAGE_TOO_LARGE), CRC-32C
 * (CORRUPT_MESSAGE), magic 2, recordsCount == lastOffsetDelta + 1 and > 0,
 * client rules (baseOffset 0, no control bit, pid>=0 needs baseSequence>=0:
 * INVALID_RECORD), unknown codec (UNSUPPORTED_COMPRESSION_TYPE), and every record
 * parsed (decompressing first) with offset deltas 0..n-1 and lengths that add up
 * (CORRUPT_MESSAGE/INVALID_RECORD). Then Kafka's record checks (validateKey,
 * validateTimestamp), over every record: a missing key (require_keys) is INVALID_RECORD; a
 * timestamp out of range (check_timestamps), or a client batch claiming LogAppendTime, is
 * INVALID_TIMESTAMP, which wins over INVALID_RECORD as Kafka reports it. Returns a Kafka
 * error code (0 = valid) and fills info. Pure function, any thread. */
int keel_batch_validate(const uint8_t *buf, size_t len, const keel_batch_limits_t *lim,
			keel_batch_info_t *info);

/* Check only the CRC and the framing of a batch read back from disk (recovery).
 * Returns true if buf[0..len) is one whole, CRC-correct magic-2 batch. */
bool keel_batch_crc_ok(const uint8_t *buf, size_t len);

/* Rewrite fields outside the CRC. */
void keel_batch_set_base_offset(uint8_t *buf, int64_t base_offset);
void keel_batch_set_leader_epoch(uint8_t *buf, int32_t epoch);
/* LogAppendTime: set attribute bit 3, maxTimestamp = now, and recompute the CRC. */
void keel_batch_set_log_append_time(uint8_t *buf, size_t len, int64_t now_ms);

/* Iterate the records of a batch, decompressing if needed: calls fn for each record
 * with its absolute offset, timestamp, key and value (NULL ptr = null). Returns a
 * Kafka error code. Used by tests and by later modules (compaction, offsets topic). */
typedef int (*keel_record_fn)(void *arg, int64_t offset, int64_t timestamp,
			      keel_slice_t key, bool key_null, keel_slice_t value, bool value_null,
			      int header_count);
int keel_batch_foreach(const uint8_t *buf, size_t len, size_t max_uncompressed,
		       keel_record_fn fn, void *arg);

/* Build an uncompressed or compressed batch from records (tests, tools, benchmarks).
 * keys/values may contain NULL entries for null. Returns a malloc'd batch (caller frees). */
uint8_t *keel_batch_build(int codec, int64_t base_timestamp, int n,
			  const keel_slice_t *keys, const keel_slice_t *values, size_t *out_len);

/* Rewrite one whole batch buf[0..len) with another codec (KEEL_CODEC_NONE: uncompressed), as
 * Kafka's LogValidator does when a topic's compression.type differs from the producer's codec.
 * The records section is decompressed (bounded by max_uncompressed) and compressed again: the
 * records are unchanged byte for byte (keys, values, headers, timestamp and offset deltas).
 * Every header field is kept (base offset, leader epoch, base and max timestamp, producer id,
 * epoch and base sequence, counts) except the length, the codec bits (the timestamp-type,
 * transactional and control bits stay; others are dropped) and the CRC-32C, recomputed.
 * buf should have passed keel_batch_validate. On KEEL_OK, *out is a new malloc'd batch of
 * *out_len bytes (the caller frees it); else a Kafka error code. Pure function, any thread. */
/* The same with record i's timestamp timestamps[i] (the first is the base timestamp, the
 * largest the max timestamp), as Kafka's builder writes converted records. */
uint8_t *keel_batch_build_ts(int codec, int n, const int64_t *timestamps, const keel_slice_t *keys,
			     const keel_slice_t *values, size_t *out_len);

/* Produce v0-v2 carry legacy message sets (magic 0 and 1), which Kafka converts to the log's
 * format, v2, on append (LogValidator). Convert the message set buf[0..len) into one magic-2
 * batch: every message, or every inner message of compressed wrappers, becomes a record with
 * its key, value and timestamp (magic 0: none, -1), in order; the batch takes the wrappers'
 * codec (gzip, snappy, lz4), uncompressed if there are none. CRC-32 of each message checked;
 * decompression bounded by max_uncompressed. Errors: CORRUPT_MESSAGE (framing, CRC, magic,
 * nested compression, inner magic unlike its wrapper), UNSUPPORTED_COMPRESSION_TYPE (zstd or
 * an unknown codec), INVALID_TIMESTAMP (a message claiming LogAppendTime). On KEEL_OK *out is
 * a new malloc'd batch of *out_len bytes (the caller frees it). Pure function, any thread. */
int keel_batch_from_legacy(const uint8_t *buf, size_t len, size_t max_uncompressed, uint8_t **out,
			   size_t *out_len);

/* Fetch v0-v3 answer with legacy message sets: convert the whole magic-2 batches in buf[0..len)
 * (a partial one at the end is left out) to messages of magic 0 or 1, as Kafka's down-conversion
 * does: a record per message (headers dropped; magic 0 without timestamps; LogAppendTime as
 * the message timestamp type), records of uncompressed batches below first_offset left out, a
 * compressed batch as one wrapper of its codec (magic 1: inner offsets relative, the wrapper's
 * the last; magic 0: absolute; lz4 with the old header checksum), control batches skipped.
 * On KEEL_OK *out (malloc'd, the caller frees it) holds *out_len bytes; else a Kafka error code
 * (UNSUPPORTED_COMPRESSION_TYPE for zstd). Pure function, any thread. */
int keel_batch_to_legacy(const uint8_t *buf, size_t len, int magic, int64_t first_offset,
			 size_t max_uncompressed, uint8_t **out, size_t *out_len);

int keel_batch_recompress(const uint8_t *buf, size_t len, int codec, size_t max_uncompressed,
			  uint8_t **out, size_t *out_len);

#endif
