/* tests/unit/test_log.c: Check suite for the partition log (segments, indexes, reads, recovery, checkpoints). */
#include "suites.h"
#include "batch.h"
#include "crc32c.h"
#include "log.h"
#include "worker_gate.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static size_t put_varint(uint8_t *p, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 0;

	while (u >= 0x80) {
		p[n++] = (uint8_t)(u | 0x80);
		u >>= 7;
	}
	p[n++] = (uint8_t)u;
	return n;
}

/* A magic-2 batch of n uncompressed records (null key, value of val_len bytes), record i
 * stamped base_ts + i * ts_step, with a correct CRC-32C. Caller frees. */
static uint8_t *mk_batch(int n, int64_t base_ts, int64_t ts_step, size_t val_len, size_t *out_len)
{
	size_t cap = KEEL_BATCH_HEADER_LEN + (size_t)n * (val_len + 40);
	uint8_t *b = calloc(1, cap), rec[64];
	size_t pos = KEEL_BATCH_HEADER_LEN;

	ck_assert_ptr_nonnull(b);
	for (int i = 0; i < n; i++) {
		size_t rl = 0;

		rec[rl++] = 0; /* attributes */
		rl += put_varint(rec + rl, (int64_t)i * ts_step);
		rl += put_varint(rec + rl, i);
		rl += put_varint(rec + rl, -1); /* null key */
		rl += put_varint(rec + rl, (int64_t)val_len);
		pos += put_varint(b + pos, (int64_t)(rl + val_len + 1));
		memcpy(b + pos, rec, rl);
		pos += rl;
		memset(b + pos, 'a' + (i % 26), val_len);
		pos += val_len;
		b[pos++] = 0; /* header count */
	}
	kb_put64(b + KB_OFF_BASE_OFFSET, 0);
	kb_put32(b + KB_OFF_LENGTH, (int32_t)(pos - KEEL_BATCH_LOG_OVERHEAD));
	kb_put32(b + KB_OFF_LEADER_EPOCH, -1);
	b[KB_OFF_MAGIC] = 2;
	kb_put16(b + KB_OFF_ATTRIBUTES, 0);
	kb_put32(b + KB_OFF_LAST_OFFSET_DELTA, n - 1);
	kb_put64(b + KB_OFF_BASE_TIMESTAMP, base_ts);
	kb_put64(b + KB_OFF_MAX_TIMESTAMP, base_ts + (int64_t)(n - 1) * ts_step);
	kb_put64(b + KB_OFF_PRODUCER_ID, -1);
	kb_put16(b + KB_OFF_PRODUCER_EPOCH, -1);
	kb_put32(b + KB_OFF_BASE_SEQUENCE, -1);
	kb_put32(b + KB_OFF_RECORDS_COUNT, n);
	kb_put32(b + KB_OFF_CRC, (int32_t)keel_crc32c(0, b + KB_OFF_ATTRIBUTES, pos - KB_OFF_ATTRIBUTES));
	*out_len = pos;
	return b;
}

static char g_tmp[64];
static char g_dir[128];

static void setup_dir(void)
{
	strcpy(g_tmp, "/tmp/keel_log_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(g_tmp));
	snprintf(g_dir, sizeof(g_dir), "%s/my-topic-0", g_tmp);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void teardown_dir(void)
{
	nftw(g_tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static keel_log_config_t cfg_default(void)
{
	keel_log_config_t c = {
		.segment_bytes = 1 << 30,
		.segment_ms = INT64_MAX,
		.index_interval_bytes = 4096,
		.index_size_max_bytes = 10 << 20,
		.flush_interval_messages = INT64_MAX,
		.flush_interval_ms = INT64_MAX,
	};
	return c;
}

static keel_log_t *open_log(const keel_log_config_t *c, int64_t rp, bool clean)
{
	keel_log_t *log = NULL;

	ck_assert_int_eq(keel_log_open(g_dir, c, NULL, rp, clean, -1, &log), KEEL_OK);
	return log;
}

/* Append a batch of n records with timestamps ts, ts+1...; returns the base offset. */
static int64_t append_n(keel_log_t *log, int n, int64_t ts, size_t val_len)
{
	size_t len;
	uint8_t *b = mk_batch(n, ts, 1, val_len, &len);
	int64_t base = -1, leo = keel_log_end_offset(log);

	ck_assert_int_eq(keel_log_append(log, b, len, 7, ts, &base), KEEL_OK);
	ck_assert_int_eq(base, leo);
	ck_assert_int_eq(keel_log_end_offset(log), leo + n);
	free(b);
	return base;
}

static uint8_t *range_bytes(const keel_log_range_t *r)
{
	uint8_t *b = malloc(r->len ? r->len : 1);

	ck_assert_int_eq(pread(r->fd, b, r->len, r->pos), (ssize_t)r->len);
	return b;
}

/* Walk whole batches of a range: checks CRCs and contiguity, returns the batch count and
 * the base offset of the first / last offset of the last batch. */
static int range_batches(const keel_log_range_t *r, int64_t *first, int64_t *last)
{
	uint8_t *b = range_bytes(r);
	size_t pos = 0;
	int n = 0;

	while (pos < r->len) {
		size_t sz;

		ck_assert_uint_ge(r->len - pos, KEEL_BATCH_HEADER_LEN);
		sz = (size_t)kb_get32(b + pos + KB_OFF_LENGTH) + KEEL_BATCH_LOG_OVERHEAD;
		ck_assert_uint_le(sz, r->len - pos);
		ck_assert(keel_batch_crc_ok(b + pos, sz));
		if (n == 0 && first)
			*first = kb_get64(b + pos);
		if (last)
			*last = kb_get64(b + pos) + kb_get32(b + pos + KB_OFF_LAST_OFFSET_DELTA);
		if (n > 0 && last)
			ck_assert_int_le(kb_get64(b + pos), *last);
		pos += sz;
		n++;
	}
	free(b);
	return n;
}

static void seg_file(char *out, size_t len, int64_t base, const char *ext)
{
	snprintf(out, len, "%s/%020" PRId64 "%s", g_dir, base, ext);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Read every offset in [from, to) one batch at a time and check containment. */
static void check_all_offsets(keel_log_t *log, int64_t from, int64_t to)
{
	for (int64_t o = from; o < to; o++) {
		keel_log_range_t r;
		int64_t f = -1, l = -1;

		ck_assert_int_eq(keel_log_read(log, o, 1, INT64_MAX, true, &r), KEEL_OK);
		ck_assert_int_eq(range_batches(&r, &f, &l), 1);
		ck_assert_int_le(f, o);
		ck_assert_int_ge(l, o);
		ck_assert_int_eq(r.first_offset, f);
	}
}

/* ---- compaction ---- */

/* Base offsets of every batch, read from offset 0 to the end. */
static int all_bases(keel_log_t *log, int64_t *out, int max)
{
	int n = 0;
	int64_t off = 0;
	while (off < keel_log_end_offset(log)) {
		keel_log_range_t r;
		uint8_t *b;
		size_t pos = 0;
		ck_assert_int_eq(keel_log_read(log, off, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
		ck_assert_uint_gt(r.len, 0);
		b = range_bytes(&r);
		while (pos < r.len) {
			size_t sz = (size_t)kb_get32(b + pos + KB_OFF_LENGTH) + KEEL_BATCH_LOG_OVERHEAD;
			ck_assert(keel_batch_crc_ok(b + pos, sz));
			ck_assert_int_lt(n, max);
			out[n++] = kb_get64(b + pos);
			off = kb_get64(b + pos) + kb_get32(b + pos + KB_OFF_LAST_OFFSET_DELTA) + 1;
			pos += sz;
		}
		free(b);
	}
	return n;
}

/* Twelve one-record batches with keys a, b, c, a, b, c, ... in segments of three: the closed
 * segments keep the latest record of each key, and each keeps its last batch; the active
 * segment is untouched; offsets never move; the result survives a reopen. */
START_TEST(test_compaction)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	keel_clean_stats_t st;
	size_t len;
	int64_t bases[16], base;
	const int64_t want[] = { 2, 5, 6, 7, 8, 9, 10, 11 };
	const char *keys[] = { "a", "b", "c" };
	keel_slice_t k, v = { (const uint8_t *)"value", 5 };
	uint8_t *b;

	k = (keel_slice_t){ (const uint8_t *)"a", 1 };
	b = keel_batch_build(0, 1000, 1, &k, &v, &len);
	free(b);
	c.segment_bytes = (int64_t)len * 3 + 1;
	log = open_log(&c, 0, false);
	for (int i = 0; i < 12; i++) {
		k = (keel_slice_t){ (const uint8_t *)keys[i % 3], 1 };
		b = keel_batch_build(0, 1000 + i, 1, &k, &v, &len);
		ck_assert_int_eq(keel_log_append(log, b, len, 0, 1000 + i, &base), KEEL_OK);
		ck_assert_int_eq(base, i);
		free(b);
	}
	ck_assert_uint_eq(keel_log_segment_count(log), 4);
	/* nothing below the limit: nothing to do */
	ck_assert_int_eq(keel_log_clean(log, 2, 1 << 20, 5000, &st), KEEL_OK);
	ck_assert_int_eq(st.segments, 0);
	ck_assert_int_eq(keel_log_clean(log, 12, 1 << 20, 5000, &st), KEEL_OK);
	ck_assert_int_eq(st.segments, 2);
	ck_assert_int_eq(st.batches_dropped, 4);
	ck_assert_int_eq(st.bytes_after, st.bytes_before / 3);
	ck_assert_int_eq(all_bases(log, bases, 16), 8);
	ck_assert_mem_eq(bases, want, sizeof(want));
	ck_assert_int_eq(keel_log_end_offset(log), 12);
	/* a read at a dropped offset starts at the next batch kept */
	keel_log_range_t r;
	ck_assert_int_eq(keel_log_read(log, 3, 1, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_int_eq(r.first_offset, 5);
	/* cleaning again drops nothing more (nothing closed since) */
	ck_assert_int_eq(keel_log_clean(log, 12, 1 << 20, 5000, &st), KEEL_OK);
	ck_assert_int_eq(st.batches_dropped, 0);
	keel_log_close(log);
	log = open_log(&c, 0, true);
	ck_assert_int_eq(all_bases(log, bases, 16), 8);
	ck_assert_mem_eq(bases, want, sizeof(want));
	ck_assert_int_eq(keel_log_end_offset(log), 12);
	/* too little room for the key map: left alone */
	keel_log_close(log);
	log = open_log(&c, 0, true);
	ck_assert_int_eq(keel_log_clean(log, 12, 8, 5000, &st), KEEL_OK);
	ck_assert_int_eq(st.segments, 0);
	keel_log_close(log);
}
END_TEST

/* A batch whose records cannot be read (a wrong record count under a good CRC) is kept. */
START_TEST(test_compaction_keeps_unreadable)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	keel_clean_stats_t st;
	size_t len;
	int64_t bases[8], base;
	const int64_t want[] = { 0, 2, 3, 4, 5 };
	keel_slice_t k = { (const uint8_t *)"a", 1 }, v = { (const uint8_t *)"value", 5 };
	uint8_t *b = keel_batch_build(0, 1000, 1, &k, &v, &len);

	free(b);
	c.segment_bytes = (int64_t)len * 3 + 1;
	log = open_log(&c, 0, false);
	for (int i = 0; i < 6; i++) {
		b = keel_batch_build(0, 1000 + i, 1, &k, &v, &len);
		if (i == 0) {
			kb_put32(b + KB_OFF_RECORDS_COUNT, 3);
			kb_put32(b + KB_OFF_CRC, (int32_t)keel_crc32c(0, b + KB_OFF_ATTRIBUTES,
								      len - KB_OFF_ATTRIBUTES));
		}
		ck_assert_int_eq(keel_log_append(log, b, len, 0, 1000 + i, &base), KEEL_OK);
		free(b);
	}
	ck_assert_int_eq(keel_log_clean(log, 6, 1 << 20, 5000, &st), KEEL_OK);
	ck_assert_int_eq(st.batches_dropped, 1);
	ck_assert_int_eq(all_bases(log, bases, 8), 5);
	ck_assert_mem_eq(bases, want, sizeof(want));
	keel_log_close(log);
}
END_TEST

/* ---- append and read ---- */

START_TEST(test_append_read_roundtrip)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log = open_log(&c, 0, false);
	keel_log_range_t r;
	uint8_t *b;
	size_t pos = 0;

	ck_assert_int_eq(keel_log_end_offset(log), 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(append_n(log, 3, 1000 + i, 20), 3 * i);
	ck_assert_int_eq(keel_log_read(log, 0, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_int_eq(r.first_offset, 0);
	ck_assert_int_eq(r.pos, 0);
	ck_assert_int_eq((int64_t)r.len, keel_log_size_bytes(log));
	b = range_bytes(&r);
	for (int i = 0; i < 10; i++) {
		size_t sz = (size_t)kb_get32(b + pos + KB_OFF_LENGTH) + 12;
		ck_assert_int_eq(kb_get64(b + pos), 3 * i);
		ck_assert_int_eq(kb_get32(b + pos + KB_OFF_LEADER_EPOCH), 7);
		ck_assert(keel_batch_crc_ok(b + pos, sz));
		pos += sz;
	}
	ck_assert_uint_eq(pos, r.len);
	free(b);
	ck_assert_str_eq(keel_log_dir(log), g_dir);
	ck_assert_uint_eq(keel_log_segment_count(log), 1);
	keel_log_close(log);
}
END_TEST

START_TEST(test_read_mid_batch)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log = open_log(&c, 0, false);
	keel_log_range_t r;
	int64_t f, l;

	for (int i = 0; i < 5; i++)
		append_n(log, 3, 1000, 10);
	ck_assert_int_eq(keel_log_read(log, 4, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_int_eq(r.first_offset, 3);
	ck_assert_int_eq(range_batches(&r, &f, &l), 4);
	ck_assert_int_eq(f, 3);
	ck_assert_int_eq(l, 14);
	check_all_offsets(log, 0, 15);
	keel_log_close(log);
}
END_TEST

START_TEST(test_max_bytes_and_min_one)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log = open_log(&c, 0, false);
	keel_log_range_t r;
	size_t one;

	for (int i = 0; i < 6; i++)
		append_n(log, 2, 1000, 100);
	one = (size_t)keel_log_size_bytes(log) / 6;
	ck_assert_int_eq(keel_log_read(log, 0, one * 2 + one / 2, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_uint_eq(r.len, 2 * one);
	ck_assert_int_eq(range_batches(&r, NULL, NULL), 2);
	ck_assert_int_eq(keel_log_read(log, 2, one * 3, INT64_MAX, false, &r), KEEL_OK);
	ck_assert_uint_eq(r.len, 3 * one);
	ck_assert_int_eq(r.pos, (off_t)one);
	/* KIP-74: the first batch whole even when larger than max_bytes */
	ck_assert_int_eq(keel_log_read(log, 4, one - 1, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_uint_eq(r.len, one);
	ck_assert_int_eq(r.first_offset, 4);
	ck_assert_int_eq(keel_log_read(log, 4, one - 1, INT64_MAX, false, &r), KEEL_OK);
	ck_assert_uint_eq(r.len, 0);
	keel_log_close(log);
}
END_TEST

START_TEST(test_read_bounds)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log = open_log(&c, 0, false);
	keel_log_range_t r;

	for (int i = 0; i < 4; i++)
		append_n(log, 3, 1000, 10);
	ck_assert_int_eq(keel_log_read(log, 12, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_int_eq(keel_log_read(log, 13, 1 << 20, INT64_MAX, true, &r), KERR_OFFSET_OUT_OF_RANGE);
	ck_assert_int_eq(keel_log_read(log, -1, 1 << 20, INT64_MAX, true, &r), KERR_OFFSET_OUT_OF_RANGE);
	keel_log_close(log);
	/* a log start offset above the first segment's base */
	ck_assert_int_eq(keel_log_open(g_dir, &c, NULL, 12, true, 6, &log), KEEL_OK);
	ck_assert_int_eq(keel_log_start_offset(log), 6);
	ck_assert_int_eq(keel_log_read(log, 5, 1 << 20, INT64_MAX, true, &r), KERR_OFFSET_OUT_OF_RANGE);
	ck_assert_int_eq(keel_log_read(log, 7, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_int_eq(r.first_offset, 6);
	keel_log_close(log);
}
END_TEST

/* Every read over offsets x max_bytes x max_offset x min_one; the answers of the live log (from
 * the batches it remembers at its end, when it can) and of the same log just reopened (every
 * header read from disk) must agree. */
#define TAIL_READS 4096
typedef struct {
	int64_t first;
	off_t pos;
	size_t len;
	int rc;
} read_ans_t;

static int all_reads(keel_log_t *log, read_ans_t *out)
{
	int64_t leo = keel_log_end_offset(log);
	size_t sizes[] = { 1, 60, 200, 700, 2500, 1 << 20 };
	int n = 0;

	for (int64_t o = keel_log_start_offset(log); o <= leo; o++)
		for (size_t m = 0; m < KEEL_ARRAY_LEN(sizes); m++)
			for (int64_t cut = leo - 7; cut <= leo; cut += 3)
				for (int one = 0; one < 2; one++) {
					keel_log_range_t r;
					ck_assert_int_lt(n, TAIL_READS);
					out[n].rc = keel_log_read(log, o, sizes[m], cut, one, &r);
					out[n].first = r.first_offset;
					out[n].pos = r.pos;
					out[n++].len = r.len;
				}
	return n;
}

static void check_reads_as_reopened(keel_log_t **log, const keel_log_config_t *c)
{
	read_ans_t *live = calloc(TAIL_READS, sizeof(*live)), *disk = calloc(TAIL_READS, sizeof(*disk));
	int n = all_reads(*log, live), sent = 0;

	keel_log_close(*log);
	*log = open_log(c, 0, true);
	ck_assert_int_eq(all_reads(*log, disk), n);
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(live[i].rc, disk[i].rc);
		ck_assert_int_eq(live[i].len, disk[i].len);
		if (disk[i].len) {
			ck_assert_int_eq(live[i].pos, disk[i].pos);
			ck_assert_int_eq(live[i].first, disk[i].first);
			sent++;
		}
	}
	ck_assert_int_gt(sent, n / 4); /* the cases are not all empty answers */
	free(live);
	free(disk);
}

START_TEST(test_read_from_tail_as_from_disk)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;

	c.segment_bytes = 6000; /* a few rolls: reads across segments, tails started again */
	c.index_interval_bytes = 500;
	log = open_log(&c, 0, false);
	for (int i = 0; i < 30; i++)
		append_n(log, 1 + i % 4, 1000 + i, 10 + (size_t)(i * 37) % 300);
	check_reads_as_reopened(&log, &c);
	/* back into the remembered batches, then on: the tail restarts at the truncation */
	for (int i = 0; i < 5; i++)
		append_n(log, 2, 2000 + i, 50);
	ck_assert_int_eq(keel_log_truncate_to(log, keel_log_end_offset(log) - 5), KEEL_OK);
	for (int i = 0; i < 3; i++)
		append_n(log, 3, 3000 + i, 120);
	check_reads_as_reopened(&log, &c);
	keel_log_close(log);
}
END_TEST

START_TEST(test_max_offset_cutoff)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log = open_log(&c, 0, false);
	keel_log_range_t r;
	int64_t f, l;

	for (int i = 0; i < 5; i++)
		append_n(log, 3, 1000, 10);
	ck_assert_int_eq(keel_log_read(log, 0, 1 << 20, 9, true, &r), KEEL_OK);
	ck_assert_int_eq(range_batches(&r, &f, &l), 3);
	ck_assert_int_eq(l, 8);
	ck_assert_int_eq(keel_log_read(log, 0, 1 << 20, 10, true, &r), KEEL_OK);
	ck_assert_int_eq(range_batches(&r, &f, &l), 4); /* batch 9..11 starts below 10 */
	ck_assert_int_eq(keel_log_read(log, 9, 1 << 20, 9, true, &r), KEEL_OK);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_int_eq(keel_log_read(log, 11, 1 << 20, 9, true, &r), KEEL_OK);
	ck_assert_uint_eq(r.len, 0);
	keel_log_close(log);
}
END_TEST

/* Every .index entry of segment 0 is (batch last offset - base, batch start position). */
static void check_index_entries(void)
{
	char path[256];
	off_t n;
	uint8_t *ix, hdr[KEEL_BATCH_HEADER_LEN];
	int fd, lfd;

	seg_file(path, sizeof(path), 0, ".index");
	n = file_size(path);
	ck_assert(n >= 0);
	size_t sz = n > 0 ? (size_t)n : 0;
	ix = malloc(sz + 1);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(read(fd, ix, sz), n);
	close(fd);
	seg_file(path, sizeof(path), 0, ".log");
	lfd = open(path, O_RDONLY);
	for (off_t i = 0; i < n; i += 8) {
		int32_t rel = kb_get32(ix + i), pos = kb_get32(ix + i + 4);
		ck_assert_int_eq(pread(lfd, hdr, sizeof(hdr), pos), (ssize_t)sizeof(hdr));
		ck_assert_int_eq(kb_get64(hdr) + kb_get32(hdr + KB_OFF_LAST_OFFSET_DELTA), rel);
	}
	close(lfd);
	free(ix);
}

START_TEST(test_index_lookup_many)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	keel_log_range_t r;
	int64_t leo, f, l;
	char path[256];

	c.index_interval_bytes = 150;
	log = open_log(&c, 0, false);
	for (int i = 0; i < 3000; i++)
		append_n(log, 1 + i % 5, 1000 + i, (size_t)(i % 7) * 10);
	leo = keel_log_end_offset(log);
	ck_assert_int_eq(leo, 3000 / 5 * 15);
	check_all_offsets(log, 0, leo);
	/* a long read and a read bounded by both max_bytes and max_offset */
	ck_assert_int_eq(keel_log_read(log, 100, 1 << 30, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_int_eq(r.pos + (off_t)r.len, keel_log_size_bytes(log));
	ck_assert_int_eq(keel_log_read(log, 100, 20000, 5000, true, &r), KEEL_OK);
	range_batches(&r, &f, &l);
	ck_assert_uint_le(r.len, 20000);
	ck_assert_uint_gt(r.len, 20000 - 400);
	ck_assert_int_eq(keel_log_read(log, 100, 1 << 30, 5000, true, &r), KEEL_OK);
	range_batches(&r, &f, &l);
	ck_assert_int_ge(l, 4999);
	ck_assert_int_le(l - 4, 4999);
	keel_log_close(log);
	seg_file(path, sizeof(path), 0, ".index");
	ck_assert_int_gt(file_size(path), 800);  /* trimmed, many entries */
	ck_assert_int_eq(file_size(path) % 8, 0);
	check_index_entries();
	seg_file(path, sizeof(path), 0, ".timeindex");
	ck_assert_int_gt(file_size(path), 800);
	ck_assert_int_eq(file_size(path) % 12, 0);
	log = open_log(&c, 0, true);
	check_all_offsets(log, 0, leo);
	keel_log_close(log);
}
END_TEST

/* The VmFlags of the mapping of path in /proc/self/smaps ("" if it is not mapped). */
static void mapping_flags(const char *path, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[4096];
	bool in = false;

	out[0] = '\0';
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line), plen = strlen(path);
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (strchr(line, '-') && strchr(line, ' ') && strncmp(line, "VmFlags", 7) != 0 &&
		    isxdigit((unsigned char)line[0]))
			in = n >= plen && strcmp(line + n - plen, path) == 0;
		else if (in && strncmp(line, "VmFlags:", 8) == 0)
			snprintf(out, len, "%s", line + 8);
	}
	fclose(f);
}

/* Index mappings ask for no readahead ("rr"): a fault in a new, sparse index would otherwise
 * fill a whole readahead window with zero pages, stalling the caller for milliseconds. */
START_TEST(test_index_no_readahead)
{
	keel_log_config_t c = cfg_default();
	char path[256], flags[4096];
	keel_log_t *log = open_log(&c, 0, false);

	append_n(log, 1, 1000, 10);
	seg_file(path, sizeof(path), 0, ".index");
	mapping_flags(path, flags, sizeof(flags));
	ck_assert_msg(strstr(flags, " rr") != NULL, ".index VmFlags: '%s'", flags);
	seg_file(path, sizeof(path), 0, ".timeindex");
	mapping_flags(path, flags, sizeof(flags));
	ck_assert_msg(strstr(flags, " rr") != NULL, ".timeindex VmFlags: '%s'", flags);
	keel_log_close(log);
}
END_TEST

/* ---- rolling ---- */

START_TEST(test_roll_segment_bytes)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	keel_log_range_t r;
	size_t len;
	uint8_t *b = mk_batch(3, 1000, 1, 50, &len);
	char path[256];

	free(b);
	c.segment_bytes = (int64_t)len * 3 + 1;
	log = open_log(&c, 0, false);
	for (int i = 0; i < 10; i++)
		append_n(log, 3, 1000, 50);
	ck_assert_uint_eq(keel_log_segment_count(log), 4);
	for (int64_t base = 0; base <= 27; base += 9) {
		seg_file(path, sizeof(path), base, ".log");
		ck_assert_int_eq(file_size(path), base < 27 ? (off_t)(3 * len) : (off_t)len);
	}
	ck_assert(access(g_tmp, F_OK) == 0);
	snprintf(path, sizeof(path), "%s/00000000000000000009.log", g_dir);
	ck_assert(access(path, F_OK) == 0);
	/* one segment per read */
	ck_assert_int_eq(keel_log_read(log, 0, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_int_eq(range_batches(&r, NULL, NULL), 3);
	ck_assert_int_eq(keel_log_read(log, 10, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_int_eq(r.first_offset, 9);
	ck_assert_int_eq(range_batches(&r, NULL, NULL), 3);
	check_all_offsets(log, 0, 30);
	keel_log_close(log);
	log = open_log(&c, 0, true);
	ck_assert_uint_eq(keel_log_segment_count(log), 4);
	ck_assert_int_eq(keel_log_end_offset(log), 30);
	check_all_offsets(log, 0, 30);
	keel_log_close(log);
}
END_TEST

/* Retention: ten batches of three records in segments of three batches (bases 0, 9, 18, 27),
 * timestamps 1000 + 1000 * batch. */
static keel_log_t *retention_log(size_t *seg_len)
{
	keel_log_config_t c = cfg_default();
	size_t len;
	uint8_t *b = mk_batch(3, 1000, 1, 50, &len);
	keel_log_t *log;
	free(b);
	c.segment_bytes = (int64_t)len * 3 + 1;
	log = open_log(&c, 0, false);
	for (int i = 0; i < 10; i++)
		append_n(log, 3, 1000 + 1000 * i, 50);
	ck_assert_uint_eq(keel_log_segment_count(log), 4);
	*seg_len = 3 * len;
	return log;
}

START_TEST(test_retention_by_time)
{
	size_t seg_len;
	keel_log_t *log = retention_log(&seg_len);
	keel_log_range_t r;
	char path[256];
	/* newest timestamps: 3002, 6002, 9002 (closed segments), 10002 (active) */
	ck_assert_int_eq(keel_log_retain(log, 10000, 7000, -1, INT64_MAX), 0); /* 10000 - 3002 <= 7000 */
	ck_assert_int_eq(keel_log_retain(log, 10003, 7000, -1, INT64_MAX), 1);
	ck_assert_int_eq(keel_log_start_offset(log), 9);
	seg_file(path, sizeof(path), 0, ".log");
	ck_assert(access(path, F_OK) != 0);
	seg_file(path, sizeof(path), 0, ".index");
	ck_assert(access(path, F_OK) != 0);
	ck_assert_int_eq(keel_log_read(log, 8, 1 << 20, INT64_MAX, true, &r), KERR_OFFSET_OUT_OF_RANGE);
	check_all_offsets(log, 9, 30);
	/* everything old, but the active segment stays, and nothing at or above the limit goes */
	ck_assert_int_eq(keel_log_retain(log, 1000000, 0, -1, 18), 1);
	ck_assert_int_eq(keel_log_start_offset(log), 18);
	ck_assert_int_eq(keel_log_retain(log, 1000000, 0, -1, INT64_MAX), 1);
	ck_assert_int_eq(keel_log_start_offset(log), 27);
	ck_assert_uint_eq(keel_log_segment_count(log), 1);
	ck_assert_int_eq(keel_log_retain(log, 1000000, 0, -1, INT64_MAX), 0);
	/* the start survives a reopen through the log start offset a restart is given */
	keel_log_close(log);
	keel_log_config_t c = cfg_default();
	ck_assert_int_eq(keel_log_open(g_dir, &c, NULL, 0, true, 27, &log), KEEL_OK);
	ck_assert_int_eq(keel_log_start_offset(log), 27);
	ck_assert_int_eq(keel_log_end_offset(log), 30);
	keel_log_close(log);
}
END_TEST

START_TEST(test_retention_by_size_and_start)
{
	size_t seg_len;
	keel_log_t *log = retention_log(&seg_len);
	int64_t total = keel_log_size_bytes(log);
	/* keep at least retention_bytes: the oldest goes only while the rest still holds that much */
	ck_assert_int_eq(keel_log_retain(log, 0, -1, total - (int64_t)seg_len + 1, INT64_MAX), 0);
	ck_assert_int_eq(keel_log_retain(log, 0, -1, total - (int64_t)seg_len, INT64_MAX), 1);
	ck_assert_int_eq(keel_log_start_offset(log), 9);
	ck_assert_int_eq(keel_log_retain(log, 0, -1, 0, INT64_MAX), 2); /* never the active one */
	ck_assert_int_eq(keel_log_start_offset(log), 27);
	keel_log_close(log);
	teardown_dir();
	setup_dir();
	/* a follower following its leader's log start, then starting over past its own end */
	log = retention_log(&seg_len);
	keel_log_advance_start(log, 12);
	ck_assert_int_eq(keel_log_start_offset(log), 12);
	ck_assert_uint_eq(keel_log_segment_count(log), 3);      /* the segment at 9 holds 12 */
	check_all_offsets(log, 12, 30);
	keel_log_advance_start(log, 5);                         /* never backwards */
	ck_assert_int_eq(keel_log_start_offset(log), 12);
	ck_assert_int_eq(keel_log_reset(log, 100), KEEL_OK);
	ck_assert_int_eq(keel_log_start_offset(log), 100);
	ck_assert_int_eq(keel_log_end_offset(log), 100);
	ck_assert_uint_eq(keel_log_segment_count(log), 1);
	ck_assert_int_eq(append_n(log, 3, 5000, 10), 100);
	check_all_offsets(log, 100, 103);
	keel_log_close(log);
}
END_TEST

/* A roll hands the closed segments to the worker to fsync; the recovery point moves to the new
 * segment's base once that is done, and a truncation voids a flush still in flight. */
START_TEST(test_roll_flush_on_worker)
{
	keel_log_config_t c = cfg_default();
	size_t len;
	uint8_t *b = mk_batch(3, 1000, 1, 50, &len);
	keel_worker_t *w = gated_worker();
	keel_log_t *log = NULL;
	free(b);
	c.segment_bytes = (int64_t)len * 3 + 1;
	ck_assert_int_eq(keel_log_open(g_dir, &c, w, 0, false, -1, &log), KEEL_OK);
	for (int i = 0; i < 4; i++)
		append_n(log, 3, 1000, 50); /* segments at 0 (offsets 0-8) and 9 (9-11) */
	ck_assert_uint_eq(keel_log_segment_count(log), 2);
	ck_assert_int_eq(keel_log_recovery_point(log), 0); /* the flush waits at the gate */
	gate_open();
	worker_fence(w);
	ck_assert_int_eq(keel_log_recovery_point(log), 9);
	gated_worker_stop(w);
	w = gated_worker();
	keel_log_set_worker(log, w);
	for (int i = 0; i < 3; i++)
		append_n(log, 3, 1000, 50); /* 12-14, 15-17, then a roll at 18 */
	ck_assert_uint_eq(keel_log_segment_count(log), 3);
	ck_assert_int_eq(keel_log_truncate_to(log, 12), KEEL_OK);
	gate_open();
	worker_fence(w);
	ck_assert_int_eq(keel_log_recovery_point(log), 9); /* not 18: those offsets are gone */
	keel_log_close(log);
	gated_worker_stop(w);
}
END_TEST

START_TEST(test_roll_segment_ms)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	int64_t base;

	c.segment_ms = 1000;
	log = open_log(&c, 0, false);
	append_n(log, 1, 10000, 10);
	append_n(log, 1, 10500, 10);
	append_n(log, 1, 11000, 10);
	ck_assert_uint_eq(keel_log_segment_count(log), 1);
	base = append_n(log, 1, 11001, 10);
	ck_assert_uint_eq(keel_log_segment_count(log), 2);
	ck_assert_int_eq(base, 3);
	append_n(log, 1, 11500, 10);
	ck_assert_uint_eq(keel_log_segment_count(log), 2);
	check_all_offsets(log, 0, 5);
	keel_log_close(log);
}
END_TEST

START_TEST(test_roll_index_full)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	char path[256];

	c.index_interval_bytes = 0;
	c.index_size_max_bytes = 40; /* 5 offset entries, 3 time entries */
	log = open_log(&c, 0, false);
	for (int i = 0; i < 40; i++)
		append_n(log, 2, 1000 + i, 10);
	ck_assert_uint_gt(keel_log_segment_count(log), 8);
	seg_file(path, sizeof(path), 0, ".timeindex");
	ck_assert_int_eq(file_size(path), 36); /* trimmed at roll */
	seg_file(path, sizeof(path), 0, ".index");
	ck_assert_int_eq(file_size(path), 24);
	check_all_offsets(log, 0, 80);
	keel_log_close(log);
	log = open_log(&c, 0, true);
	check_all_offsets(log, 0, 80);
	keel_log_close(log);
}
END_TEST

/* A new log: an empty segment whose indexes are preallocated (rounded down to whole entries),
 * and an empty leader-epoch checkpoint; a roll creates the next segment the same way over
 * whatever files a crash left at its name. */
START_TEST(test_new_log_files)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	char path[256], text[16] = "";
	FILE *f;

	c.index_size_max_bytes = 100;
	c.segment_bytes = 1;
	ck_assert_int_ne(access(g_dir, F_OK), 0); /* the directory is made by the open */
	log = open_log(&c, 0, false);
	seg_file(path, sizeof(path), 0, ".log");
	ck_assert_int_eq(file_size(path), 0);
	seg_file(path, sizeof(path), 0, ".index");
	ck_assert_int_eq(file_size(path), 96);
	seg_file(path, sizeof(path), 0, ".timeindex");
	ck_assert_int_eq(file_size(path), 96);
	snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", g_dir);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_int_eq(fread(text, 1, sizeof(text) - 1, f), 4);
	fclose(f);
	ck_assert_str_eq(text, "0\n0\n");
	seg_file(path, sizeof(path), 2, ".index"); /* a stale index where the next segment goes */
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("stale", f);
	fclose(f);
	append_n(log, 2, 1000, 10);
	append_n(log, 1, 1001, 10);
	ck_assert_uint_eq(keel_log_segment_count(log), 2);
	ck_assert_int_eq(file_size(path), 96);
	check_all_offsets(log, 0, 3);
	keel_log_close(log);
}
END_TEST

/* ---- reopen and recovery ---- */

START_TEST(test_reopen_clean)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	keel_log_range_t r;
	uint8_t *before, *after;
	size_t len;

	c.segment_bytes = 4000;
	c.index_interval_bytes = 300;
	log = open_log(&c, 0, false);
	for (int i = 0; i < 200; i++)
		append_n(log, 1 + i % 3, 5000 + i, 30);
	ck_assert_int_eq(keel_log_read(log, 150, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
	before = range_bytes(&r);
	len = r.len;
	keel_log_close(log);
	log = open_log(&c, 0, true);
	ck_assert_int_eq(keel_log_end_offset(log), 399);
	ck_assert_int_eq(keel_log_recovery_point(log), 399);
	ck_assert_int_eq(keel_log_read(log, 150, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_uint_eq(r.len, len);
	after = range_bytes(&r);
	ck_assert_mem_eq(before, after, len);
	free(before);
	free(after);
	check_all_offsets(log, 0, 399);
	ck_assert_int_eq(append_n(log, 2, 9000, 30), 399);
	keel_log_close(log);
}
END_TEST

/* 10 batches of 3 records (offsets 0..29) in one segment; returns each batch's size. */
static size_t fill_ten(void)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log = open_log(&c, 0, false);
	size_t len;
	uint8_t *b = mk_batch(3, 1000, 1, 40, &len);

	free(b);
	for (int i = 0; i < 10; i++)
		append_n(log, 3, 1000, 40);
	keel_log_close(log);
	return len;
}

static void expect_recovered(int64_t leo)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log = open_log(&c, 0, false);
	keel_log_range_t r;
	int64_t f, l;

	ck_assert_int_eq(keel_log_end_offset(log), leo);
	ck_assert_int_eq(keel_log_read(log, 0, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_int_eq(range_batches(&r, &f, &l), (int)(leo / 3));
	ck_assert_int_eq(l, leo - 1);
	check_all_offsets(log, 0, leo);
	ck_assert_int_eq(append_n(log, 3, 2000, 40), leo);
	check_all_offsets(log, 0, leo + 3);
	keel_log_close(log);
}

START_TEST(test_recover_torn_tail)
{
	size_t len = fill_ten();
	char path[256];

	seg_file(path, sizeof(path), 0, ".log");
	ck_assert_int_eq(truncate(path, (off_t)(10 * len - len / 2)), 0);
	expect_recovered(27);
	ck_assert_int_eq(file_size(path), (off_t)(10 * len));
}
END_TEST

START_TEST(test_recover_flipped_byte)
{
	size_t len = fill_ten();
	char path[256];
	int fd;
	uint8_t x;

	seg_file(path, sizeof(path), 0, ".log");
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &x, 1, (off_t)(9 * len + 70)), 1);
	x ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &x, 1, (off_t)(9 * len + 70)), 1);
	close(fd);
	expect_recovered(27);
}
END_TEST

START_TEST(test_recover_garbage_tail)
{
	size_t len = fill_ten();
	char path[256], junk[100];
	FILE *f;

	seg_file(path, sizeof(path), 0, ".log");
	memset(junk, 0x5a, sizeof(junk));
	f = fopen(path, "ab");
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	ck_assert_int_eq(file_size(path), (off_t)(10 * len + 100));
	expect_recovered(30);
	/* zeros, as after a crash with preallocated blocks */
	memset(junk, 0, sizeof(junk));
	f = fopen(path, "ab");
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	expect_recovered(33);
}
END_TEST

START_TEST(test_recover_deletes_later_segments)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	size_t len;
	uint8_t *b = mk_batch(3, 1000, 1, 40, &len), x;
	char path[256];
	int fd;

	free(b);
	c.segment_bytes = (int64_t)len * 4;
	log = open_log(&c, 0, false);
	for (int i = 0; i < 16; i++)
		append_n(log, 3, 1000, 40);
	ck_assert_uint_eq(keel_log_segment_count(log), 4);
	keel_log_close(log);
	/* corrupt the third batch of the second segment (offsets 18..20) */
	seg_file(path, sizeof(path), 12, ".log");
	fd = open(path, O_RDWR);
	ck_assert_int_eq(pread(fd, &x, 1, (off_t)(2 * len + 80)), 1);
	x ^= 1;
	ck_assert_int_eq(pwrite(fd, &x, 1, (off_t)(2 * len + 80)), 1);
	close(fd);
	/* recovery point inside the second segment: the first one is trusted */
	log = open_log(&c, 15, false);
	ck_assert_int_eq(keel_log_end_offset(log), 18);
	ck_assert_uint_eq(keel_log_segment_count(log), 2);
	ck_assert_int_eq(keel_log_recovery_point(log), 15);
	seg_file(path, sizeof(path), 24, ".log");
	ck_assert(access(path, F_OK) != 0);
	seg_file(path, sizeof(path), 36, ".index");
	ck_assert(access(path, F_OK) != 0);
	check_all_offsets(log, 0, 18);
	ck_assert_int_eq(append_n(log, 3, 1000, 40), 18);
	keel_log_close(log);
}
END_TEST

START_TEST(test_rebuild_missing_indexes)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	char path[256];
	off_t isz[2];

	c.segment_bytes = 20000;
	c.index_interval_bytes = 200;
	log = open_log(&c, 0, false);
	for (int i = 0; i < 500; i++)
		append_n(log, 2, 1000 + i, 50);
	ck_assert_uint_gt(keel_log_segment_count(log), 2);
	keel_log_close(log);
	seg_file(path, sizeof(path), 0, ".index");
	isz[0] = file_size(path);
	unlink(path);
	seg_file(path, sizeof(path), 0, ".timeindex");
	isz[1] = file_size(path);
	unlink(path);
	ck_assert_int_gt(isz[0], 0);
	log = open_log(&c, 1000, true);
	ck_assert_int_eq(keel_log_end_offset(log), 1000);
	check_all_offsets(log, 0, 1000);
	keel_log_close(log);
	seg_file(path, sizeof(path), 0, ".index");
	ck_assert_int_eq(file_size(path), isz[0]);
	seg_file(path, sizeof(path), 0, ".timeindex");
	ck_assert_int_eq(file_size(path), isz[1]);
	/* a corrupt (non-monotonic) index is rebuilt too */
	seg_file(path, sizeof(path), 0, ".index");
	{
		int fd = open(path, O_RDWR);
		uint8_t z[8] = {0};
		ck_assert_int_eq(pwrite(fd, z, 8, 16), 8);
		close(fd);
	}
	log = open_log(&c, 1000, true);
	check_all_offsets(log, 0, 1000);
	keel_log_close(log);
}
END_TEST

START_TEST(test_leftover_files)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	char path[256], swp[300];
	FILE *f;

	log = open_log(&c, 0, false);
	for (int i = 0; i < 5; i++)
		append_n(log, 2, 1000, 20);
	keel_log_close(log);
	seg_file(path, sizeof(path), 0, ".log");
	snprintf(swp, sizeof(swp), "%s.swap", path);
	ck_assert_int_eq(rename(path, swp), 0);
	snprintf(swp, sizeof(swp), "%s/00000000000000000004.log.cleaned", g_dir);
	f = fopen(swp, "w");
	fclose(f);
	snprintf(swp, sizeof(swp), "%s/00000000000000000007.index", g_dir); /* orphan */
	f = fopen(swp, "w");
	fclose(f);
	snprintf(swp, sizeof(swp), "%s/recovery.tmp", g_dir);
	f = fopen(swp, "w");
	fclose(f);
	log = open_log(&c, 10, true);
	ck_assert_int_eq(keel_log_end_offset(log), 10);
	ck_assert(access(path, F_OK) == 0);
	ck_assert(access(swp, F_OK) != 0);
	snprintf(swp, sizeof(swp), "%s/00000000000000000007.index", g_dir);
	ck_assert(access(swp, F_OK) != 0);
	snprintf(swp, sizeof(swp), "%s/00000000000000000004.log.cleaned", g_dir);
	ck_assert(access(swp, F_OK) != 0);
	check_all_offsets(log, 0, 10);
	keel_log_close(log);
}
END_TEST

START_TEST(test_empty_dir_start_offset)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	char path[256];

	ck_assert_int_eq(keel_log_open(g_dir, &c, NULL, 0, false, 100, &log), KEEL_OK);
	ck_assert_int_eq(keel_log_end_offset(log), 100);
	ck_assert_int_eq(keel_log_start_offset(log), 100);
	seg_file(path, sizeof(path), 100, ".log");
	ck_assert(access(path, F_OK) == 0);
	ck_assert_int_eq(append_n(log, 2, 1000, 10), 100);
	keel_log_close(log);
	ck_assert_int_eq(keel_log_open(g_dir, &c, NULL, 0, false, -1, &log), KEEL_OK);
	ck_assert_int_eq(keel_log_start_offset(log), 100);
	ck_assert_int_eq(keel_log_end_offset(log), 102);
	keel_log_close(log);
}
END_TEST

/* ---- offsets by time, truncation, append_raw, flush, delete ---- */

START_TEST(test_offset_for_time)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	int64_t off, ts;

	c.index_interval_bytes = 100;
	c.segment_bytes = 30000;
	log = open_log(&c, 0, false);
	for (int i = 0; i < 1000; i++) { /* batch i: offsets 3i.., timestamps 1000i, +10, +20 */
		size_t len;
		uint8_t *b = mk_batch(3, 1000 * (int64_t)i, 10, 30, &len);
		int64_t base;
		ck_assert_int_eq(keel_log_append(log, b, len, 0, 1000 * (int64_t)i, &base), KEEL_OK);
		free(b);
	}
	ck_assert_uint_gt(keel_log_segment_count(log), 2);
	for (int pass = 0; pass < 2; pass++) {
		ck_assert_int_eq(keel_log_offset_for_time(log, 0, &off, &ts), KEEL_OK);
		ck_assert_int_eq(off, 0);
		ck_assert_int_eq(ts, 0);
		ck_assert_int_eq(keel_log_offset_for_time(log, 15, &off, &ts), KEEL_OK);
		ck_assert_int_eq(off, 2);
		ck_assert_int_eq(ts, 20);
		ck_assert_int_eq(keel_log_offset_for_time(log, 2005, &off, &ts), KEEL_OK);
		ck_assert_int_eq(off, 7);
		ck_assert_int_eq(ts, 2010);
		for (int64_t t = 0; t < 999000; t += 7777) {
			int64_t i = t / 1000, r = t % 1000, want;
			want = r == 0 ? 3 * i : r <= 10 ? 3 * i + 1 : r <= 20 ? 3 * i + 2 : 3 * (i + 1);
			ck_assert_int_eq(keel_log_offset_for_time(log, t, &off, &ts), KEEL_OK);
			ck_assert_int_eq(off, want);
		}
		ck_assert_int_eq(keel_log_offset_for_time(log, 999020, &off, &ts), KEEL_OK);
		ck_assert_int_eq(off, 2999);
		ck_assert_int_eq(keel_log_offset_for_time(log, 999021, &off, &ts), KEEL_NOTFOUND);
		keel_log_close(log);
		log = open_log(&c, 0, true);
	}
	keel_log_close(log);
}
END_TEST

START_TEST(test_truncate_to)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;
	keel_log_range_t r;
	size_t len;
	uint8_t *b = mk_batch(3, 1000, 1, 40, &len);
	int64_t off, ts;

	free(b);
	c.segment_bytes = (int64_t)len * 4;
	c.index_interval_bytes = 0;
	log = open_log(&c, 0, false);
	for (int i = 0; i < 16; i++)
		append_n(log, 3, 1000 + 100 * i, 40);
	ck_assert_int_eq(keel_log_flush(log), KEEL_OK);
	ck_assert_int_eq(keel_log_truncate_to(log, 48), KEEL_OK); /* no-op */
	ck_assert_int_eq(keel_log_end_offset(log), 48);
	ck_assert_int_eq(keel_log_truncate_to(log, 30), KEEL_OK);
	ck_assert_int_eq(keel_log_end_offset(log), 30);
	ck_assert_uint_eq(keel_log_segment_count(log), 3);
	ck_assert_int_eq(keel_log_recovery_point(log), 30);
	ck_assert_int_eq(keel_log_read(log, 30, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_int_eq(keel_log_read(log, 31, 1 << 20, INT64_MAX, true, &r), KERR_OFFSET_OUT_OF_RANGE);
	/* mid-batch: the containing batch goes */
	ck_assert_int_eq(keel_log_truncate_to(log, 26), KEEL_OK);
	ck_assert_int_eq(keel_log_end_offset(log), 24);
	ck_assert_uint_eq(keel_log_segment_count(log), 3);
	check_all_offsets(log, 0, 24);
	ck_assert_int_eq(keel_log_offset_for_time(log, 1700, &off, &ts), KEEL_OK);
	ck_assert_int_eq(off, 21);
	ck_assert_int_eq(keel_log_offset_for_time(log, 1800, &off, &ts), KEEL_NOTFOUND);
	ck_assert_int_eq(append_n(log, 3, 5000, 40), 24);
	ck_assert_int_eq(keel_log_offset_for_time(log, 1800, &off, &ts), KEEL_OK);
	ck_assert_int_eq(off, 24);
	check_all_offsets(log, 0, 27);
	/* at a segment boundary, then everything */
	ck_assert_int_eq(keel_log_truncate_to(log, 12), KEEL_OK);
	ck_assert_int_eq(keel_log_end_offset(log), 12);
	ck_assert_uint_eq(keel_log_segment_count(log), 2);
	ck_assert_int_eq(keel_log_truncate_to(log, 0), KEEL_OK);
	ck_assert_int_eq(keel_log_end_offset(log), 0);
	ck_assert_uint_eq(keel_log_segment_count(log), 1);
	ck_assert_int_eq(keel_log_size_bytes(log), 0);
	ck_assert_int_eq(append_n(log, 3, 1000, 40), 0);
	keel_log_close(log);
	log = open_log(&c, 0, false);
	ck_assert_int_eq(keel_log_end_offset(log), 3);
	keel_log_close(log);
}
END_TEST

START_TEST(test_append_write_error)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log = open_log(&c, 0, false);
	size_t len;
	uint8_t *b = mk_batch(3, 1000, 1, 200, &len);
	struct rlimit old, lim;
	char path[256];
	int64_t base;

	append_n(log, 3, 1000, 200);
	append_n(log, 3, 1000, 200);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)(2 * len + len / 2); /* the third batch is cut short */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ck_assert_int_eq(keel_log_append(log, b, len, 0, 1000, &base), KEEL_ERR);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	ck_assert_int_eq(keel_log_end_offset(log), 6);
	seg_file(path, sizeof(path), 0, ".log");
	ck_assert_int_eq(file_size(path), (off_t)(2 * len));
	ck_assert_int_eq(append_n(log, 3, 1000, 200), 6);
	check_all_offsets(log, 0, 9);
	free(b);
	keel_log_close(log);
}
END_TEST

START_TEST(test_append_raw)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log = open_log(&c, 0, false);
	size_t len;
	uint8_t *b = mk_batch(4, 1000, 1, 10, &len);
	keel_log_range_t r;

	kb_put64(b, 0);
	ck_assert_int_eq(keel_log_append_raw(log, b, len, 1000), KEEL_OK);
	ck_assert_int_eq(keel_log_end_offset(log), 4);
	kb_put64(b, 2); /* overlaps what we have */
	ck_assert_int_eq(keel_log_append_raw(log, b, len, 1000), KEEL_ERR);
	kb_put64(b, 4);
	ck_assert_int_eq(keel_log_append_raw(log, b, len - 1, 1000), KEEL_ERR); /* bad framing */
	ck_assert_int_eq(keel_log_end_offset(log), 4);
	kb_put64(b, 9); /* a gap, as a compacted leader sends */
	ck_assert_int_eq(keel_log_append_raw(log, b, len, 1000), KEEL_OK);
	ck_assert_int_eq(keel_log_end_offset(log), 13);
	ck_assert_int_eq(keel_log_read(log, 0, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_uint_eq(r.len, 2 * len);
	ck_assert_int_eq(keel_log_read(log, 5, 1 << 20, INT64_MAX, true, &r), KEEL_OK);
	ck_assert_int_eq(r.first_offset, 9);
	free(b);
	keel_log_close(log);
}
END_TEST

START_TEST(test_flush)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;

	c.flush_interval_messages = 10;
	log = open_log(&c, 0, false);
	ck_assert_int_eq(keel_log_recovery_point(log), 0);
	append_n(log, 4, 1000, 10);
	append_n(log, 4, 1000, 10);
	keel_log_maybe_flush(log, 1000);
	ck_assert_int_eq(keel_log_recovery_point(log), 0);
	append_n(log, 4, 1000, 10);
	keel_log_maybe_flush(log, 1000);
	ck_assert_int_eq(keel_log_recovery_point(log), 12);
	append_n(log, 1, 1000, 10);
	ck_assert_int_eq(keel_log_flush(log), KEEL_OK);
	ck_assert_int_eq(keel_log_recovery_point(log), 13);
	keel_log_close(log);
	c.flush_interval_messages = INT64_MAX;
	c.flush_interval_ms = 500;
	log = open_log(&c, 13, false);
	append_n(log, 1, 1000, 10);
	keel_log_maybe_flush(log, 1); /* long before the open: nothing */
	ck_assert_int_eq(keel_log_recovery_point(log), 13);
	keel_log_maybe_flush(log, INT64_MAX / 2);
	ck_assert_int_eq(keel_log_recovery_point(log), 14);
	keel_log_close(log);
}
END_TEST

/* Entries of dir other than dot files. */
static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

START_TEST(test_delete)
{
	keel_log_config_t c = cfg_default();
	keel_log_t *log;

	c.segment_bytes = 500;
	log = open_log(&c, 0, false);
	for (int i = 0; i < 20; i++)
		append_n(log, 2, 1000, 30);
	ck_assert_uint_gt(keel_log_segment_count(log), 2);
	ck_assert_int_eq(keel_log_delete(log), KEEL_OK);
	ck_assert(access(g_dir, F_OK) != 0);
	ck_assert_int_eq(dir_entries(g_tmp), 0);
}
END_TEST

/* With a worker the directory is renamed at once (its name free for a new log) and its files
 * are removed on the worker. */
START_TEST(test_delete_on_worker)
{
	keel_log_config_t c = cfg_default();
	keel_worker_t *w = keel_worker_start();
	keel_log_t *log = NULL;

	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(keel_log_open(g_dir, &c, w, 0, false, -1, &log), KEEL_OK);
	append_n(log, 2, 1000, 30);
	ck_assert_int_eq(keel_log_delete(log), KEEL_OK);
	ck_assert(access(g_dir, F_OK) != 0);
	keel_worker_stop(w); /* runs the removal */
	ck_assert_int_eq(dir_entries(g_tmp), 0);
}
END_TEST

static void count_job(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

/* A delayed job runs once it is due, after jobs queued later without delay; one not due yet
 * runs when the worker stops. */
START_TEST(test_worker_delayed_jobs)
{
	keel_worker_t *w = gated_worker();
	atomic_int soon = 0, later = 0, now = 0;

	gate_open();
	keel_worker_submit_after(w, 3600 * 1000, count_job, &later);
	keel_worker_submit_after(w, 20, count_job, &soon);
	keel_worker_submit(w, count_job, &now);
	worker_fence(w);
	ck_assert_int_eq(atomic_load(&now), 1);
	ck_assert_int_eq(atomic_load(&later), 0);
	for (int i = 0; i < 1000 && atomic_load(&soon) == 0; i++)
		usleep(10 * 1000);
	ck_assert_int_eq(atomic_load(&soon), 1);
	ck_assert_int_eq(atomic_load(&later), 0);
	gated_worker_stop(w);
	ck_assert_int_eq(atomic_load(&later), 1);
}
END_TEST

/* Retention leaves deleted segments as <name>.deleted for file_delete_delay_ms, then unlinks
 * them on the worker. */
START_TEST(test_retention_delete_delay)
{
	keel_log_config_t c = cfg_default();
	keel_worker_t *w = gated_worker();
	keel_log_t *log = NULL;
	char path[4096];

	gate_open();
	c.segment_bytes = 1024;
	c.file_delete_delay_ms = 3600 * 1000;
	ck_assert_int_eq(keel_log_open(g_dir, &c, w, 0, false, -1, &log), KEEL_OK);
	for (int i = 0; i < 10; i++)
		append_n(log, 3, 1000, 300); /* a segment each */
	ck_assert_int_gt(keel_log_retain(log, keel_now_ms(), -1, 1024, keel_log_end_offset(log)), 0);
	worker_fence(w);
	snprintf(path, sizeof(path), "%s/%020d.log.deleted", g_dir, 0);
	ck_assert_int_eq(access(path, F_OK), 0); /* still there: not due */
	gated_worker_stop(w);                     /* stopping runs it */
	ck_assert(access(path, F_OK) != 0);
	keel_log_close(log);
}
END_TEST

/* ---- checkpoints and directory names ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_ckpt_roundtrip)
{
	char path[256], text[256];
	keel_ckpt_entry_t in[3] = {{"my-topic", 0, 1520}, {"my-topic", 1, 998}, {"other", 12, 0}};
	keel_ckpt_entry_t *out;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/recovery-point-offset-checkpoint", g_tmp);
	ck_assert_int_eq(keel_ckpt_write(path, in, 3), KEEL_OK);
	f = fopen(path, "r");
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	ck_assert_str_eq(text, "0\n3\nmy-topic 0 1520\nmy-topic 1 998\nother 12 0\n");
	ck_assert_int_eq(keel_ckpt_read(path, &out, &n), KEEL_OK);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(out[i].topic, in[i].topic);
		ck_assert_int_eq(out[i].partition, in[i].partition);
		ck_assert_int_eq(out[i].offset, in[i].offset);
	}
	keel_ckpt_free(out, n);
	strcat(path, ".tmp");
	ck_assert(access(path, F_OK) != 0);
	path[strlen(path) - 4] = '\0';
	ck_assert_int_eq(keel_ckpt_write(path, NULL, 0), KEEL_OK);
	ck_assert_int_eq(keel_ckpt_read(path, &out, &n), KEEL_OK);
	ck_assert_uint_eq(n, 0);
	keel_ckpt_free(out, n);
}
END_TEST

START_TEST(test_ckpt_missing_and_malformed)
{
	static const char *const bad[] = {
		"", "1\n0\n", "0\n", "0\n2\nt 0 5\n", "0\n1\nt 0 5\nt 1 6\n", "0\n1\nt x 5\n",
		"0\n1\nt 0\n", "0\n1\nt 0 5 9\n", "0\n1\nt -1 5\n", "0\n-1\n", "0\n1\nt 0 5\n\n",
		"zero\n0\n",
	};
	char path[256];
	keel_ckpt_entry_t *out;
	size_t n;

	snprintf(path, sizeof(path), "%s/nope", g_tmp);
	ck_assert_int_eq(keel_ckpt_read(path, &out, &n), KEEL_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(out);
	snprintf(path, sizeof(path), "%s/ckpt", g_tmp);
	for (size_t i = 0; i < KEEL_ARRAY_LEN(bad); i++) {
		write_file(path, bad[i]);
		ck_assert_msg(keel_ckpt_read(path, &out, &n) == KEEL_CORRUPT, "case %zu", i);
	}
	write_file(path, "0\n1\nt 3 -1");
	ck_assert_int_eq(keel_ckpt_read(path, &out, &n), KEEL_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(out[0].partition, 3);
	ck_assert_int_eq(out[0].offset, -1);
	keel_ckpt_free(out, n);
}
END_TEST

START_TEST(test_parse_dirname)
{
	char topic[256];
	int32_t p = -1;

	ck_assert(keel_log_parse_dirname("my-topic-12", topic, &p));
	ck_assert_str_eq(topic, "my-topic");
	ck_assert_int_eq(p, 12);
	ck_assert(keel_log_parse_dirname("t-0", topic, &p));
	ck_assert_str_eq(topic, "t");
	ck_assert_int_eq(p, 0);
	ck_assert(keel_log_parse_dirname("__consumer_offsets-49", topic, &p));
	ck_assert_str_eq(topic, "__consumer_offsets");
	ck_assert(!keel_log_parse_dirname("topic", topic, &p));
	ck_assert(!keel_log_parse_dirname("-3", topic, &p));
	ck_assert(!keel_log_parse_dirname("t-", topic, &p));
	ck_assert(!keel_log_parse_dirname("t-1x", topic, &p));
	ck_assert(keel_log_parse_dirname("t--1", topic, &p));
	ck_assert_str_eq(topic, "t-");
	ck_assert_int_eq(p, 1);
	ck_assert(!keel_log_parse_dirname("t-0.0123456789abcdef0123456789abcdef-delete", topic, &p));
	ck_assert(!keel_log_parse_dirname("t-0.0123456789abcdef0123456789abcdef-future", topic, &p));
	ck_assert(!keel_log_parse_dirname("t-99999999999", topic, &p));
	/* what a deletion leaves while it runs, and what it does not */
	ck_assert(keel_log_deleted_dirname("t-0.0123456789abcdef0123456789abcdef-delete"));
	ck_assert(keel_log_deleted_dirname("my.topic-7.0123456789abcdef0123456789abcdef-delete"));
	ck_assert(!keel_log_deleted_dirname("t-0.0123456789abcdef0123456789abcdef-future"));
	ck_assert(!keel_log_deleted_dirname("t-0.0123456789abcdef-delete"));
	ck_assert(!keel_log_deleted_dirname("t-0.0123456789ABCDEF0123456789abcdef-delete"));
	ck_assert(!keel_log_deleted_dirname("t.0123456789abcdef0123456789abcdef-delete"));
	ck_assert(!keel_log_deleted_dirname("t-0-delete"));
	ck_assert(!keel_log_deleted_dirname("t-0"));
}
END_TEST

Suite *suite_log(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_append_read_roundtrip);
	tcase_add_test(tc, test_compaction);
	tcase_add_test(tc, test_compaction_keeps_unreadable);
	tcase_add_test(tc, test_read_mid_batch);
	tcase_add_test(tc, test_max_bytes_and_min_one);
	tcase_add_test(tc, test_read_bounds);
	tcase_add_test(tc, test_read_from_tail_as_from_disk);
	tcase_add_test(tc, test_max_offset_cutoff);
	tcase_add_test(tc, test_index_lookup_many);
	tcase_add_test(tc, test_index_no_readahead);
	tcase_add_test(tc, test_roll_segment_bytes);
	tcase_add_test(tc, test_retention_by_time);
	tcase_add_test(tc, test_roll_flush_on_worker);
	tcase_add_test(tc, test_retention_by_size_and_start);
	tcase_add_test(tc, test_roll_segment_ms);
	tcase_add_test(tc, test_roll_index_full);
	tcase_add_test(tc, test_new_log_files);
	tcase_add_test(tc, test_reopen_clean);
	tcase_add_test(tc, test_recover_torn_tail);
	tcase_add_test(tc, test_recover_flipped_byte);
	tcase_add_test(tc, test_recover_garbage_tail);
	tcase_add_test(tc, test_recover_deletes_later_segments);
	tcase_add_test(tc, test_rebuild_missing_indexes);
	tcase_add_test(tc, test_leftover_files);
	tcase_add_test(tc, test_empty_dir_start_offset);
	tcase_add_test(tc, test_offset_for_time);
	tcase_add_test(tc, test_truncate_to);
	tcase_add_test(tc, test_append_write_error);
	tcase_add_test(tc, test_append_raw);
	tcase_add_test(tc, test_flush);
	tcase_add_test(tc, test_delete);
	tcase_add_test(tc, test_delete_on_worker);
	tcase_add_test(tc, test_worker_delayed_jobs);
	tcase_add_test(tc, test_retention_delete_delay);
	tcase_add_test(tc, test_ckpt_roundtrip);
	tcase_add_test(tc, test_ckpt_missing_and_malformed);
	tcase_add_test(tc, test_parse_dirname);
	suite_add_tcase(s, tc);
	return s;
}
