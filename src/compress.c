/* src/compress.c: record-batch codecs (gzip, snappy raw + xerial, lz4 frame, zstd), bounded decoding. */
#include "compress.h"
#include "keel.h"
#include "logger.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define OUT_INITIAL 4096
#define XERIAL_BLOCK (32 * 1024)

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

/* A growable output buffer, owned by the decoder until handed to the caller.
 * limit = max_out + 1, so filling past max_out is detectable without a probe. */
typedef struct {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t limit;
} outbuf_t;

/* Prepare an empty buffer whose first allocation is small (inlen*4, capped). */
static int ob_init(outbuf_t *ob, size_t inlen, size_t max_out)
{
	size_t first = inlen > SIZE_MAX / 4 ? SIZE_MAX : inlen * 4;

	ob->limit = max_out == SIZE_MAX ? SIZE_MAX : max_out + 1;
	if (first < OUT_INITIAL)
		first = OUT_INITIAL;
	if (first > ob->limit)
		first = ob->limit;
	ob->len = 0;
	ob->cap = first;
	ob->buf = malloc(first);
	return ob->buf ? 0 : -1;
}

/* Make room for at least `need` more bytes (or as many as the limit allows),
 * doubling. Returns -1 if the buffer is already at the limit or malloc fails. */
static int ob_reserve(outbuf_t *ob, size_t need)
{
	size_t cap = ob->cap;
	uint8_t *nb;

	if (ob->cap - ob->len >= need)
		return 0;
	if (ob->cap >= ob->limit)
		return -1;
	while (cap - ob->len < need && cap < ob->limit)
		cap = cap > ob->limit / 2 ? ob->limit : cap * 2;
	nb = realloc(ob->buf, cap);
	if (!nb)
		return -1;
	ob->buf = nb;
	ob->cap = cap;
	return 0;
}

/* Grow by at least one byte (geometric). */
static int ob_grow(outbuf_t *ob)
{
	return ob_reserve(ob, ob->cap - ob->len + 1);
}

/* Hand the buffer to the caller if it stayed within max_out, else free it. */
static int ob_finish(outbuf_t *ob, int rc, uint8_t **out, size_t *outlen)
{
	if (rc == 0 && ob->len < ob->limit) {
		*out = ob->buf;
		*outlen = ob->len;
		return 0;
	}
	free(ob->buf);
	return -1;
}

/* ---- gzip ---- */

/* Inflate one or more concatenated gzip (or zlib) members; the input must end
 * exactly at the end of a member. */
static int gzip_decode(const uint8_t *in, size_t inlen, outbuf_t *ob)
{
	z_stream zs;
	int zr;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 32) != Z_OK)
		return -1;
	for (;;) {
		if (ob->cap == ob->len && ob_grow(ob) != 0) {
			zr = Z_MEM_ERROR;
			break;
		}
		uInt in_n = inlen > UINT32_MAX ? UINT32_MAX : (uInt)inlen;
		size_t room = ob->cap - ob->len;
		uInt out_n = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
		zs.next_in = (Bytef *)in;
		zs.avail_in = in_n;
		zs.next_out = ob->buf + ob->len;
		zs.avail_out = out_n;
		zr = inflate(&zs, Z_NO_FLUSH);
		ob->len += out_n - zs.avail_out;
		in += in_n - zs.avail_in;
		inlen -= in_n - zs.avail_in;
		if (zr == Z_STREAM_END) {
			if (inlen == 0 || inflateReset(&zs) != Z_OK)
				break;
			continue; /* another member follows */
		}
		if (zr == Z_OK || (zr == Z_BUF_ERROR && zs.avail_out == 0))
			continue;
		break; /* data error, or truncated (no progress possible) */
	}
	inflateEnd(&zs);
	return zr == Z_STREAM_END && inlen == 0 ? 0 : -1;
}

/* Write one gzip stream into a new buffer. */
static int gzip_encode(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	z_stream zs;
	uLong cap;
	uint8_t *buf;
	int zr;

	if (inlen > UINT32_MAX / 2)
		return -1;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	cap = deflateBound(&zs, (uLong)inlen) + 32;
	buf = malloc(cap);
	if (!buf) {
		deflateEnd(&zs);
		return -1;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)inlen;
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	zr = deflate(&zs, Z_FINISH);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	if (zr != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

/* ---- snappy ---- */

/* Append one raw snappy block's output, refusing it if it would pass the limit. */
static int snappy_block(const uint8_t *in, size_t inlen, outbuf_t *ob)
{
	size_t ulen;

	if (snappy_uncompressed_length((const char *)in, inlen, &ulen) != SNAPPY_OK)
		return -1;
	if (ulen >= ob->limit - ob->len)
		return -1;
	if (ob_reserve(ob, ulen) != 0)
		return -1;
	if (snappy_uncompress((const char *)in, inlen, (char *)ob->buf + ob->len, &ulen) != SNAPPY_OK)
		return -1;
	ob->len += ulen;
	return 0;
}

static uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Decode the xerial stream (magic, version, compat, then length-prefixed blocks)
 * or, without the magic, a single raw block. */
static int snappy_decode(const uint8_t *in, size_t inlen, outbuf_t *ob)
{
	size_t pos = 16;

	if (inlen < 16 || memcmp(in, xerial_magic, sizeof(xerial_magic)) != 0)
		return snappy_block(in, inlen, ob);
	while (pos < inlen) {
		uint32_t blen;

		if (inlen - pos < 4)
			return -1;
		blen = get_be32(in + pos);
		pos += 4;
		if (blen > inlen - pos)
			return -1;
		if (snappy_block(in + pos, blen, ob) != 0)
			return -1;
		pos += blen;
	}
	return 0;
}

/* Write the xerial stream with 32 KiB blocks, as the Java client does. */
static int snappy_encode(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	size_t nblocks = (inlen + XERIAL_BLOCK - 1) / XERIAL_BLOCK;
	size_t cap = 16 + nblocks * (4 + snappy_max_compressed_length(XERIAL_BLOCK));
	size_t pos = 16;
	uint8_t *buf = malloc(cap);

	if (!buf)
		return -1;
	memcpy(buf, xerial_magic, 8);
	put_be32(buf + 8, 1);
	put_be32(buf + 12, 1);
	for (size_t off = 0; off < inlen; off += XERIAL_BLOCK) {
		size_t n = inlen - off < XERIAL_BLOCK ? inlen - off : XERIAL_BLOCK;
		size_t clen = cap - pos - 4;

		if (snappy_compress((const char *)in + off, n, (char *)buf + pos + 4, &clen) != SNAPPY_OK) {
			free(buf);
			return -1;
		}
		put_be32(buf + pos, (uint32_t)clen);
		pos += 4 + clen;
	}
	*out = buf;
	*outlen = pos;
	return 0;
}

/* ---- lz4 ---- */

#define XXH_P1 2654435761u
#define XXH_P2 2246822519u
#define XXH_P3 3266489917u
#define XXH_P4 668265263u
#define XXH_P5 374761393u

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t xxh32_round(uint32_t acc, uint32_t lane)
{
	return rotl32(acc + lane * XXH_P2, 13) * XXH_P1;
}

/* XXH32 (the LZ4 frame header checksum hash). Pure function. */
static uint32_t xxh32(const uint8_t *p, size_t len, uint32_t seed)
{
	const uint8_t *end = p + len;
	uint32_t h;

	if (len >= 16) {
		uint32_t v1 = seed + XXH_P1 + XXH_P2, v2 = seed + XXH_P2, v3 = seed, v4 = seed - XXH_P1;
		for (; end - p >= 16; p += 16) {
			v1 = xxh32_round(v1, get_le32(p));
			v2 = xxh32_round(v2, get_le32(p + 4));
			v3 = xxh32_round(v3, get_le32(p + 8));
			v4 = xxh32_round(v4, get_le32(p + 12));
		}
		h = rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18);
	} else {
		h = seed + XXH_P5;
	}
	h += (uint32_t)len;
	for (; end - p >= 4; p += 4)
		h = rotl32(h + get_le32(p) * XXH_P3, 17) * XXH_P4;
	for (; p < end; p++)
		h = rotl32(h + *p * XXH_P5, 11) * XXH_P1;
	h ^= h >> 15;
	h *= XXH_P2;
	h ^= h >> 13;
	h *= XXH_P3;
	h ^= h >> 16;
	return h;
}

/* If a standard LZ4 frame starts at in[pos] and its header checksum byte is wrong
 * (old Kafka clients hashed the magic too), fix it in *copy (made on first need;
 * the caller frees it) and point *src at the copy. Anything else is left to LZ4F. */
static int lz4_fix_hc(const uint8_t **src, uint8_t **copy, size_t inlen, size_t pos)
{
	const uint8_t *f = *src + pos;
	size_t hpos = 6;
	uint8_t hc;

	if (inlen - pos < 7 || get_le32(f) != 0x184D2204u)
		return 0;
	if (f[4] & 0x08)
		hpos += 8;
	if (f[4] & 0x01)
		hpos += 4;
	if (inlen - pos <= hpos)
		return 0;
	hc = (uint8_t)(xxh32(f + 4, hpos - 4, 0) >> 8);
	if (f[hpos] == hc)
		return 0;
	if (!*copy) {
		*copy = malloc(inlen);
		if (!*copy)
			return -1;
		memcpy(*copy, *src, inlen);
		*src = *copy;
	}
	(*copy)[pos + hpos] = hc;
	klog_debug("compress", "lz4: repaired frame header checksum at %zu", pos);
	return 0;
}

void keel_lz4_legacy_header(uint8_t *frame, size_t len)
{
	size_t hpos = 6;

	if (len < 7 || get_le32(frame) != 0x184D2204u)
		return;
	if (frame[4] & 0x08)
		hpos += 8;
	if (frame[4] & 0x01)
		hpos += 4;
	if (len > hpos)
		frame[hpos] = (uint8_t)(xxh32(frame, hpos, 0) >> 8); /* over the magic too */
}

/* Drive LZ4F over every frame in the input, repairing header checksums at each frame start. */
static int lz4_run(LZ4F_dctx *dctx, const uint8_t *in, size_t inlen, outbuf_t *ob)
{
	uint8_t *copy = NULL;
	size_t pos = 0, r = 1;
	int rc = -1;
	bool frame_start = true;

	while (pos < inlen || r != 0) {
		if (frame_start && pos < inlen && lz4_fix_hc(&in, &copy, inlen, pos) != 0)
			break;
		if (ob->cap == ob->len && ob_grow(ob) != 0)
			break;
		size_t src_n = inlen - pos, dst_n = ob->cap - ob->len;
		r = LZ4F_decompress(dctx, ob->buf + ob->len, &dst_n, in + pos, &src_n, NULL);
		if (LZ4F_isError(r))
			break;
		pos += src_n;
		ob->len += dst_n;
		frame_start = r == 0;
		if (r == 0 && pos == inlen) {
			rc = 0;
			break;
		}
		if (src_n == 0 && dst_n == 0 && ob->len < ob->cap)
			break; /* no progress: truncated frame */
	}
	free(copy);
	return rc;
}

static int lz4_decode(const uint8_t *in, size_t inlen, outbuf_t *ob)
{
	LZ4F_dctx *dctx;
	int rc;

	if (inlen == 0 || LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
		return -1;
	rc = lz4_run(dctx, in, inlen, ob);
	LZ4F_freeDecompressionContext(dctx);
	return rc;
}

/* One LZ4 frame, independent 64 KiB blocks (what the Java client writes for magic 2). */
static int lz4_encode(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	LZ4F_preferences_t prefs;
	size_t cap, n;
	uint8_t *buf;

	memset(&prefs, 0, sizeof(prefs));
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	cap = LZ4F_compressFrameBound(inlen, &prefs);
	buf = malloc(cap);
	if (!buf)
		return -1;
	n = LZ4F_compressFrame(buf, cap, in, inlen, &prefs);
	if (LZ4F_isError(n)) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* ---- zstd ---- */

/* Streaming decode of one or more frames, with or without a content size. */
static int zstd_decode(const uint8_t *in, size_t inlen, outbuf_t *ob)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	ZSTD_inBuffer ib = {in, inlen, 0};
	size_t r = 1;
	int rc = -1;

	if (!ds || inlen == 0) {
		ZSTD_freeDStream(ds);
		return -1;
	}
	ZSTD_initDStream(ds);
	for (;;) {
		if (ob->cap == ob->len && ob_grow(ob) != 0)
			break;
		ZSTD_outBuffer obuf = {ob->buf, ob->cap, ob->len};
		size_t in_before = ib.pos;
		r = ZSTD_decompressStream(ds, &obuf, &ib);
		if (ZSTD_isError(r))
			break;
		bool progress = ib.pos != in_before || obuf.pos != ob->len;
		ob->len = obuf.pos;
		if (r == 0 && ib.pos == ib.size) {
			rc = 0;
			break;
		}
		if (!progress && ob->len < ob->cap)
			break; /* truncated input */
	}
	ZSTD_freeDStream(ds);
	return rc;
}

static int zstd_encode(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	size_t cap = ZSTD_compressBound(inlen), n;
	uint8_t *buf = malloc(cap);

	if (!buf)
		return -1;
	n = ZSTD_compress(buf, cap, in, inlen, 3);
	if (ZSTD_isError(n)) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* ---- entry points ---- */

int keel_codec_from_name(const char *name)
{
	static const char *const names[] = {"uncompressed", "gzip", "snappy", "lz4", "zstd"};

	for (int i = 0; i < (int)KEEL_ARRAY_LEN(names); i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return strcmp(name, "producer") == 0 ? KEEL_CODEC_PRODUCER : -2;
}

int keel_decompress(int codec, const uint8_t *in, size_t inlen, size_t max_out,
		    uint8_t **out, size_t *outlen)
{
	outbuf_t ob;
	int rc;

	if (codec < KEEL_CODEC_GZIP || codec > KEEL_CODEC_ZSTD)
		return -1;
	if (ob_init(&ob, inlen, max_out) != 0)
		return -1;
	switch (codec) {
	case KEEL_CODEC_GZIP: rc = gzip_decode(in, inlen, &ob); break;
	case KEEL_CODEC_SNAPPY: rc = snappy_decode(in, inlen, &ob); break;
	case KEEL_CODEC_LZ4: rc = lz4_decode(in, inlen, &ob); break;
	default: rc = zstd_decode(in, inlen, &ob); break;
	}
	rc = ob_finish(&ob, rc, out, outlen);
	if (rc != 0)
		klog_debug("compress", "codec %d: %zu input bytes failed to decode within %zu", codec,
			   inlen, max_out);
	return rc;
}

int keel_compress(int codec, const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	switch (codec) {
	case KEEL_CODEC_GZIP: return gzip_encode(in, inlen, out, outlen);
	case KEEL_CODEC_SNAPPY: return snappy_encode(in, inlen, out, outlen);
	case KEEL_CODEC_LZ4: return lz4_encode(in, inlen, out, outlen);
	case KEEL_CODEC_ZSTD: return zstd_encode(in, inlen, out, outlen);
	default: return -1;
	}
}
