/* src/compress.h: the record-batch compression codecs (gzip, snappy both framings, lz4 frame, zstd). */
#ifndef KEEL_COMPRESS_H
#define KEEL_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

enum {
	KEEL_CODEC_NONE = 0,
	KEEL_CODEC_GZIP = 1,
	KEEL_CODEC_SNAPPY = 2,
	KEEL_CODEC_LZ4 = 3,
	KEEL_CODEC_ZSTD = 4,
	KEEL_CODEC_PRODUCER = -1, /* compression.type=producer: keep the producer's codec */
};

/* A compression.type value (uncompressed, gzip, snappy, lz4, zstd, producer) as a KEEL_CODEC_*
 * value, KEEL_CODEC_PRODUCER for producer; -2 for anything else. Pure function. */
int keel_codec_from_name(const char *name);

/* Decompress in[0..inlen) written with codec into a new malloc'd buffer
 * (*out, *outlen; the caller frees). Fails (returns -1, *out untouched) on bad
 * input or if the output would exceed max_out bytes. snappy accepts the xerial
 * stream (magic 82 'SNAPPY' 00) and a raw block; lz4 accepts an LZ4 frame and
 * ignores a wrong header checksum (Kafka's old-client bug); zstd streams frames
 * with or without a content size. Any thread. */
int keel_decompress(int codec, const uint8_t *in, size_t inlen, size_t max_out,
		    uint8_t **out, size_t *outlen);

/* Compress (produce rebuilding a batch for compression.type, tests, benchmarks). Output framing
 * matches what the Java client writes (gzip stream, xerial snappy, lz4 frame
 * with independent blocks, zstd frame). Returns 0 or -1. Any thread. */
/* Rewrite the header checksum of the LZ4 frame at frame[0..len) the way Kafka clients before
 * 0.10 computed it (over the frame magic as well), for messages of magic 0. */
void keel_lz4_legacy_header(uint8_t *frame, size_t len);

int keel_compress(int codec, const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen);

#endif
