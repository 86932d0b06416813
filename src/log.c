/* src/log.c: one partition's log: the segment list, open and recovery, append and roll, fetch reads, flush, truncation, deletion. */
#include "log_internal.h"
#include "batch.h"
#include "logger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MAX_UNCOMPRESSED (128u << 20) /* cap when decoding one batch for ListOffsets */

/* mkdir -p; *created tells whether dir itself is new (so empty). */
static int mkdir_p(const char *dir, bool *created)
{
	char tmp[4096];
	size_t len = strlen(dir);

	*created = false;
	if (len == 0 || len >= sizeof(tmp))
		return KEEL_ERR;
	if (mkdir(dir, 0755) == 0) { /* the usual case: only the last component is missing */
		*created = true;
		return KEEL_OK;
	}
	if (errno == EEXIST)
		return KEEL_OK;
	memcpy(tmp, dir, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return KEEL_ERR;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0)
		return errno == EEXIST ? KEEL_OK : KEEL_ERR;
	*created = true;
	return KEEL_OK;
}

int log_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = KEEL_OK;

	if (fd < 0 || fsync(fd) < 0) {
		klog_error("log", "fsync dir %s: %s", dir, strerror(errno));
		rc = KEEL_ERR;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static keel_seg_t *log_active(const keel_log_t *log)
{
	return log->segs[log->nsegs - 1];
}

static int log_push_seg(keel_log_t *log, keel_seg_t *seg)
{
	if (log->nsegs == log->cap_segs) {
		size_t cap = log->cap_segs ? log->cap_segs * 2 : 8;
		keel_seg_t **ns = realloc(log->segs, cap * sizeof(*ns));

		if (!ns)
			return KEEL_NOMEM;
		log->segs = ns;
		log->cap_segs = cap;
	}
	log->segs[log->nsegs++] = seg;
	return KEEL_OK;
}

/* Index of the segment holding offset: the greatest base <= offset (0 if below all). */
static size_t log_seg_index(const keel_log_t *log, int64_t offset)
{
	size_t lo = 0, hi = log->nsegs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (log->segs[mid]->base <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : 0;
}

/* Exclusive upper bound of the offsets in segment i. */
static int64_t log_seg_end(const keel_log_t *log, size_t i)
{
	return i + 1 < log->nsegs ? log->segs[i + 1]->base : log->leo;
}

/* Delete the segments after index i, files included. */
static void log_drop_after(keel_log_t *log, size_t i)
{
	while (log->nsegs > i + 1) {
		keel_seg_t *seg = log->segs[--log->nsegs];

		klog_warn("log", "%s: deleting segment %020" PRId64, log->dir, seg->base);
		seg_destroy(seg);
		log->dir_dirty = true;
	}
}

/* Create an empty segment at base, make it the active one. */
static int log_new_segment(keel_log_t *log, int64_t base, int64_t now_ms)
{
	keel_seg_t *seg;

	if (seg_create(log->dir, base, now_ms, log->cfg.index_size_max_bytes, &seg) != KEEL_OK)
		return KEEL_ERR;
	if (log_push_seg(log, seg) != KEEL_OK) {
		seg_destroy(seg);
		return KEEL_ERR;
	}
	log->dir_dirty = true;
	return KEEL_OK;
}

/* Load segment i after open: trust its indexes if they pass the checks (unless scan),
 * else re-read it with CRC checks, truncating a bad tail and deleting later segments. */
static int log_load_seg(keel_log_t *log, size_t i, bool scan)
{
	keel_seg_t *seg = log->segs[i];
	bool last = i + 1 == log->nsegs, trunc = false;
	int64_t rel_end = last ? INT64_MAX : log->segs[i + 1]->base - seg->base;
	int rc;

	if (!scan && (seg->need_rebuild || !kidx_check_off(&seg->oidx, seg->size, rel_end)))
		scan = true;
	if (!scan && last) {
		rc = seg_load_tail(seg, false);
		if (rc != KEEL_OK && rc != KEEL_CORRUPT)
			return rc;
		scan = rc == KEEL_CORRUPT;
		rel_end = seg->next_offset - seg->base;
	}
	if (!scan && !kidx_check_time(&seg->tidx, rel_end))
		scan = true;
	if (!scan) {
		if (!last && seg->tidx.n) {
			seg->max_ts = kidx_ts(&seg->tidx, seg->tidx.n - 1);
			seg->max_ts_offset = seg->base + kidx_rel(&seg->tidx, seg->tidx.n - 1);
		}
		return KEEL_OK;
	}
	klog_info("log", "%s: recovering segment %020" PRId64, log->dir, seg->base);
	if ((rc = seg_recover(seg, &log->cfg, epoch_on_recovered, log, &trunc)) != KEEL_OK)
		return rc;
	if (trunc)
		log_drop_after(log, i);
	if (i + 1 < log->nsegs)
		return seg_deactivate(seg);
	return KEEL_OK;
}

static int log_load(keel_log_t *log, int64_t recovery_point, bool clean)
{
	size_t first = clean ? SIZE_MAX : log_seg_index(log, recovery_point);
	keel_seg_t *act;
	int rc;

	for (size_t i = 0; i < log->nsegs; i++)
		if ((rc = log_load_seg(log, i, i >= first)) != KEEL_OK)
			return rc;
	act = log_active(log);
	if (kidx_activate(&act->oidx, log->cfg.index_size_max_bytes) != KEEL_OK ||
	    kidx_activate(&act->tidx, log->cfg.index_size_max_bytes) != KEEL_OK)
		return KEEL_ERR;
	log->leo = act->next_offset;
	return KEEL_OK;
}

/* Open the segments in the log's directory (none if fresh: the directory is new). */
static int log_open_segments(keel_log_t *log, int64_t log_start_offset, bool fresh)
{
	int64_t *bases = NULL, now = keel_now_ms();
	size_t n = 0;
	int rc = fresh ? KEEL_OK : seg_list_dir(log->dir, &bases, &n);

	for (size_t i = 0; rc == KEEL_OK && i < n; i++) {
		keel_seg_t *seg;

		rc = seg_open(log->dir, bases[i], now, &seg);
		if (rc == KEEL_OK && (rc = log_push_seg(log, seg)) != KEEL_OK)
			seg_close(seg);
	}
	free(bases);
	if (rc == KEEL_OK && log->nsegs == 0)
		rc = log_new_segment(log, log_start_offset > 0 ? log_start_offset : 0, now);
	return rc;
}

static struct klog_rflush *rflush_new(void);
static void rflush_unref(struct klog_rflush *st);

int keel_log_open(const char *dir, const keel_log_config_t *cfg, keel_worker_t *worker,
		  int64_t recovery_point, bool clean_shutdown, int64_t log_start_offset,
		  keel_log_t **out)
{
	keel_log_t *log = calloc(1, sizeof(*log));
	bool bad_epochs = false, fresh;
	size_t l;
	int rc;

	if (!log || !(log->dir = strdup(dir))) {
		free(log);
		return KEEL_NOMEM;
	}
	for (l = strlen(log->dir); l > 1 && log->dir[l - 1] == '/'; l--)
		log->dir[l - 1] = '\0';
	log->cfg = *cfg;
	log->worker = worker;
	log->rflush = rflush_new(); /* (without one, the recovery point moves on flushes only) */
	if (mkdir_p(log->dir, &fresh) != KEEL_OK) {
		klog_error("log", "create %s: %s", log->dir, strerror(errno));
		rc = KEEL_ERR;
		goto fail;
	}
	if ((rc = log_open_segments(log, log_start_offset, fresh)) != KEEL_OK ||
	    (rc = epoch_load(log, fresh, &bad_epochs)) != KEEL_OK ||
	    (rc = log_load(log, recovery_point, clean_shutdown)) != KEEL_OK)
		goto fail;
	log->start = log->segs[0]->base;
	if (log_start_offset > log->start)
		log->start = log_start_offset;
	if (log->start > log->leo)
		log->start = log->leo;
	log->recovery_point = clean_shutdown || recovery_point > log->leo ? log->leo : recovery_point;
	epoch_open_done(log, bad_epochs);
	log->last_flush_ms = keel_now_ms();
	klog_info("log", "%s: loaded %zu segment(s), start %" PRId64 ", end %" PRId64, log->dir,
		  log->nsegs, log->start, log->leo);
	*out = log;
	return KEEL_OK;
fail:
	klog_error("log", "%s: cannot open log", log->dir);
	log->epochs_dirty = false;
	keel_log_close(log);
	return rc;
}

/* Kafka's roll rules, checked before appending a batch of len bytes. */
static bool log_should_roll(const keel_log_t *log, const keel_seg_t *seg, size_t len,
			    int64_t last_offset, int64_t max_ts, int64_t now_ms)
{
	int64_t waited;

	if (seg->size == 0)
		return false;
	if (seg->size > log->cfg.segment_bytes - (int64_t)len || seg->size > INT32_MAX - (int64_t)len)
		return true;
	/* as Kafka: incoming maxTimestamp - first batch maxTimestamp, else now - created */
	waited = seg->first_ts >= 0 ? max_ts - seg->first_ts : now_ms - seg->created_ms;
	if (waited > log->cfg.segment_ms)
		return true;
	if (kidx_full(&seg->oidx) || kidx_full(&seg->tidx))
		return true;
	return last_offset - seg->base > INT32_MAX;
}

/* ---- Flush on roll, as Kafka flushes a log up to a new segment's base when it rolls: the
 * closed segments written since their last flush (their .log, .index and .timeindex) and the
 * directory are fsynced on the disk worker, and then the recovery point may move to the new
 * segment's base, so a restart after a crash re-checks only what came after. Results are
 * shared with the loop under a mutex; a truncation voids those still in flight. */
struct klog_rflush {
	pthread_mutex_t mu;
	int refs;
	uint64_t gen;          /* bumped by every truncation */
	int64_t flushed_to;    /* below this, the data is durable (and not truncated since) */
};

typedef struct {
	struct klog_rflush *st;
	uint64_t gen;
	int64_t upto;
	int n;
	int *fds;              /* dup'd .log descriptors */
	char **paths;          /* their index files, two each (NULL: none) */
	char *dir;             /* the directory, if segment files were created since its fsync */
} rflush_job_t;

static struct klog_rflush *rflush_new(void)
{
	struct klog_rflush *st = calloc(1, sizeof(*st));
	if (st && pthread_mutex_init(&st->mu, NULL) != 0) {
		free(st);
		return NULL;
	}
	if (st)
		st->refs = 1;
	return st;
}

static void rflush_unref(struct klog_rflush *st)
{
	bool last;
	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	last = --st->refs == 0;
	pthread_mutex_unlock(&st->mu);
	if (last) {
		pthread_mutex_destroy(&st->mu);
		free(st);
	}
}

static bool fsync_path(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	bool ok = fd >= 0 && fsync(fd) == 0;
	if (!ok)
		klog_error("log", "fsync %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

static void rflush_job(void *arg)
{
	rflush_job_t *j = arg;
	bool ok = true;
	for (int i = 0; i < j->n; i++) {
		if (fdatasync(j->fds[i]) < 0) {
			klog_error("log", "fdatasync a rolled segment: %s", strerror(errno));
			ok = false;
		}
		close(j->fds[i]);
	}
	for (int i = 0; i < 2 * j->n; i++) {
		if (j->paths[i] && !fsync_path(j->paths[i], 0))
			ok = false;
		free(j->paths[i]);
	}
	if (j->dir && !fsync_path(j->dir, O_DIRECTORY))
		ok = false;
	pthread_mutex_lock(&j->st->mu);
	if (ok && j->gen == j->st->gen && j->upto > j->st->flushed_to)
		j->st->flushed_to = j->upto;
	pthread_mutex_unlock(&j->st->mu);
	rflush_unref(j->st);
	free(j->fds);
	free(j->paths);
	free(j->dir);
	free(j);
}

/* Hand the closed segments not flushed yet to the worker; upto: the new active segment's base. */
static void rflush_submit(keel_log_t *log, int64_t upto)
{
	rflush_job_t *j = calloc(1, sizeof(*j));
	size_t closed = log->nsegs - 1;
	if (!j || !(j->fds = calloc(closed ? closed : 1, sizeof(int))) ||
	    !(j->paths = calloc(closed ? 2 * closed : 1, sizeof(char *))) ||
	    (log->dir_dirty && !(j->dir = strdup(log->dir)))) {
		if (j) {
			free(j->fds);
			free(j->paths);
		}
		free(j);
		return; /* the recovery point waits for the next flush */
	}
	for (size_t i = 0; i < closed; i++) {
		keel_seg_t *seg = log->segs[i];
		int fd;
		if (!seg->dirty || (fd = fcntl(seg->fd, F_DUPFD_CLOEXEC, 0)) < 0)
			continue;
		j->fds[j->n] = fd;
		j->paths[2 * j->n] = seg->oidx.path ? strdup(seg->oidx.path) : NULL;
		j->paths[2 * j->n + 1] = seg->tidx.path ? strdup(seg->tidx.path) : NULL;
		j->n++;
		seg->dirty = false; /* the job's now (a later flush of the log finds it clean) */
	}
	log->dir_dirty = false;
	pthread_mutex_lock(&log->rflush->mu);
	j->st = log->rflush;
	j->gen = log->rflush->gen;
	log->rflush->refs++;
	pthread_mutex_unlock(&log->rflush->mu);
	j->upto = upto;
	keel_worker_submit(log->worker, rflush_job, j);
}

/* A truncation to end: results still in flight no longer count, and none above end does. */
static void rflush_void(keel_log_t *log, int64_t end)
{
	if (!log->rflush)
		return;
	pthread_mutex_lock(&log->rflush->mu);
	log->rflush->gen++;
	if (log->rflush->flushed_to > end)
		log->rflush->flushed_to = end;
	pthread_mutex_unlock(&log->rflush->mu);
}

static int log_roll(keel_log_t *log, int64_t now_ms)
{
	keel_seg_t *old = log_active(log);

	if (log_new_segment(log, log->leo, now_ms) != KEEL_OK)
		return KEEL_ERR;
	klog_info("log", "%s: rolled new segment %020" PRId64, log->dir, log->leo);
	if (seg_deactivate(old) != KEEL_OK)
		klog_warn("log", "%s: could not trim the indexes of %020" PRId64, log->dir, old->base);
	if (log->worker && log->rflush)
		rflush_submit(log, log->leo);
	return KEEL_OK;
}

static bool batch_framing_ok(const uint8_t *buf, size_t len)
{
	return len >= KEEL_BATCH_HEADER_LEN && buf[KB_OFF_MAGIC] == 2 &&
	       (int64_t)kb_get32(buf + KB_OFF_LENGTH) + KEEL_BATCH_LOG_OVERHEAD == (int64_t)len &&
	       kb_get32(buf + KB_OFF_LAST_OFFSET_DELTA) >= 0;
}

/* Remember batch t, just appended to seg: it joins the tail if it follows the newest one in
 * the same segment, else starts it again (a roll, or a truncation in between). */
static void tail_note(keel_log_t *log, const keel_seg_t *seg, klog_tail_t t)
{
	const klog_tail_t *prev =
		log->tail_n ? &log->tail[(log->tail_first + log->tail_n - 1) % KLOG_TAIL] : NULL;

	if (log->tail_seg != seg || !prev || prev->pos + prev->size != t.pos || prev->last >= t.base) {
		log->tail_seg = seg;
		log->tail_first = 0;
		log->tail_n = 0;
	}
	if (log->tail_n == KLOG_TAIL) {
		log->tail_first = (log->tail_first + 1) % KLOG_TAIL;
		log->tail_n--;
	}
	log->tail[(log->tail_first + log->tail_n++) % KLOG_TAIL] = t;
}

/* keel_log_read from the remembered tail, without reading a header from disk, when offset is
 * in it (nearly every fetch of a follower or a consumer that keeps up). Returns false if not:
 * the tail is stale (the log was truncated or rolled since) or offset is before it. The range
 * is the same log_read_range finds. */
static bool tail_read(keel_log_t *log, int64_t offset, size_t max_bytes, int64_t max_offset, bool min_one,
		      keel_log_range_t *out)
{
	const keel_seg_t *seg = log_active(log);
	const klog_tail_t *t = log->tail, *newest;
	unsigned i = 0, n = log->tail_n, f = log->tail_first;
	int64_t start, end;

	if (!n || log->tail_seg != seg)
		return false;
	newest = &t[(f + n - 1) % KLOG_TAIL];
	if (newest->pos + newest->size != seg->size || newest->last + 1 != log->leo ||
	    t[f].base > offset)
		return false;
	while (i < n && t[(f + i) % KLOG_TAIL].last < offset)
		i++;
	if (i == n || t[(f + i) % KLOG_TAIL].base >= max_offset)
		return true; /* nothing to send (offset < leo, so i < n) */
	const klog_tail_t *first = &t[(f + i) % KLOG_TAIL];
	out->fd = seg->fd;
	out->pos = (off_t)first->pos;
	out->first_offset = first->base;
	if ((uint64_t)first->size > max_bytes) {
		out->len = min_one ? (size_t)first->size : 0;
		return true;
	}
	start = first->pos;
	end = first->pos + first->size;
	for (i++; i < n; i++) {
		const klog_tail_t *h = &t[(f + i) % KLOG_TAIL];
		if (h->base >= max_offset || (uint64_t)(end + h->size - start) > max_bytes)
			break;
		end += h->size;
	}
	out->len = (size_t)(end - start);
	return true;
}

static int log_append_batch(keel_log_t *log, const uint8_t *buf, size_t len, int64_t now_ms)
{
	int32_t lod = kb_get32(buf + KB_OFF_LAST_OFFSET_DELTA);
	int64_t base = kb_get64(buf + KB_OFF_BASE_OFFSET), last = base + lod;
	keel_seg_t *seg;
	int64_t pos;

	if (log_should_roll(log, log_active(log), len, last, kb_get64(buf + KB_OFF_MAX_TIMESTAMP), now_ms) &&
	    log_roll(log, now_ms) != KEEL_OK)
		return KEEL_ERR;
	seg = log_active(log);
	pos = seg->size;
	if (seg_append(seg, &log->cfg, buf, len) != KEEL_OK)
		return KEEL_ERR;
	tail_note(log, seg, (klog_tail_t){ pos, (int64_t)len, base, last });
	log->leo = last + 1;
	log->unflushed_msgs += (int64_t)lod + 1;
	return KEEL_OK;
}

int keel_log_append(keel_log_t *log, uint8_t *buf, size_t len, int32_t leader_epoch,
		    int64_t now_ms, int64_t *base_offset)
{
	if (!batch_framing_ok(buf, len)) {
		klog_error("log", "%s: refusing a malformed batch of %zu bytes", log->dir, len);
		return KEEL_ERR;
	}
	kb_put64(buf + KB_OFF_BASE_OFFSET, log->leo);
	kb_put32(buf + KB_OFF_LEADER_EPOCH, leader_epoch);
	*base_offset = log->leo;
	if (log_append_batch(log, buf, len, now_ms) != KEEL_OK)
		return KEEL_ERR;
	/* a failed checkpoint write stays pending (epochs_dirty) until the next flush */
	epoch_note_batch(log, leader_epoch, *base_offset);
	return KEEL_OK;
}

int keel_log_append_raw(keel_log_t *log, const uint8_t *buf, size_t len, int64_t now_ms)
{
	/* a compacted leader's log has gaps: a batch may start past our end, never before it */
	if (!batch_framing_ok(buf, len) || kb_get64(buf + KB_OFF_BASE_OFFSET) < log->leo) {
		klog_error("log", "%s: refusing a batch at offset %" PRId64 " (end offset %" PRId64 ")",
			   log->dir, len >= 8 ? kb_get64(buf) : -1, log->leo);
		return KEEL_ERR;
	}
	if (log_append_batch(log, buf, len, now_ms) != KEEL_OK)
		return KEEL_ERR;
	epoch_note_batch(log, kb_get32(buf + KB_OFF_LEADER_EPOCH), kb_get64(buf + KB_OFF_BASE_OFFSET));
	return KEEL_OK;
}

int64_t keel_log_end_offset(const keel_log_t *log) { return log->leo; }
int64_t keel_log_start_offset(const keel_log_t *log) { return log->start; }
int64_t keel_log_recovery_point(const keel_log_t *log)
{
	int64_t rp = log->recovery_point;
	if (log->rflush) {
		pthread_mutex_lock(&log->rflush->mu);
		if (log->rflush->flushed_to > rp && log->rflush->flushed_to <= log->leo)
			rp = log->rflush->flushed_to;
		pthread_mutex_unlock(&log->rflush->mu);
	}
	return rp;
}
const char *keel_log_dir(const keel_log_t *log) { return log->dir; }
size_t keel_log_segment_count(const keel_log_t *log) { return log->nsegs; }

int64_t keel_log_size_bytes(const keel_log_t *log)
{
	int64_t total = 0;

	for (size_t i = 0; i < log->nsegs; i++)
		total += log->segs[i]->size;
	return total;
}

/* Extend a read from the batch *first over whole batches of segment i. */
static int log_read_range(keel_log_t *log, size_t i, seg_reader_t *rd, const seg_hdr_t *first,
			  size_t max_bytes, int64_t max_offset, bool min_one, keel_log_range_t *out)
{
	keel_seg_t *seg = log->segs[i];
	int64_t start = first->pos, end = first->pos + first->size, limit;
	seg_hdr_t h;
	ssize_t j;
	int rc;

	if (first->base >= max_offset)
		return KEEL_OK;
	out->fd = seg->fd;
	out->pos = (off_t)start;
	out->first_offset = first->base;
	if ((uint64_t)first->size > max_bytes) {
		out->len = min_one ? (size_t)first->size : 0;
		return KEEL_OK;
	}
	limit = max_bytes >= (uint64_t)seg->size ? seg->size : start + (int64_t)max_bytes;
	if (seg->size <= limit && log_seg_end(log, i) <= max_offset) {
		out->len = (size_t)(seg->size - start);
		return KEEL_OK;
	}
	/* every batch before an index entry inside the limits qualifies: jump there */
	j = kidx_lookup_bounded(&seg->oidx, limit, max_offset - seg->base);
	if (j >= 0 && kidx_pos(&seg->oidx, (size_t)j) > end)
		end = kidx_pos(&seg->oidx, (size_t)j);
	while ((rc = seg_read_hdr(rd, end, &h)) == 1 && h.base < max_offset && end + h.size <= limit)
		end += h.size;
	if (rc < 0) {
		klog_error("log", "%s: bad batch at %" PRId64 " in segment %020" PRId64, log->dir, end,
			   seg->base);
		return KEEL_ERR;
	}
	out->len = (size_t)(end - start);
	return KEEL_OK;
}

int keel_log_read(keel_log_t *log, int64_t offset, size_t max_bytes, int64_t max_offset,
		  bool min_one, keel_log_range_t *out)
{
	seg_reader_t rd;
	seg_hdr_t h;

	out->fd = -1;
	out->pos = 0;
	out->len = 0;
	out->first_offset = offset;
	if (offset < log->start || offset > log->leo)
		return KERR_OFFSET_OUT_OF_RANGE;
	if (offset == log->leo || offset >= max_offset)
		return KEEL_OK;
	if (tail_read(log, offset, max_bytes, max_offset, min_one, out))
		return KEEL_OK;
	for (size_t i = log_seg_index(log, offset); i < log->nsegs; i++) {
		int rc;

		seg_reader_init(&rd, log->segs[i]);
		rc = seg_find(&rd, offset, &h);
		if (rc == 1)
			return log_read_range(log, i, &rd, &h, max_bytes, max_offset, min_one, out);
		if (rc < 0) {
			klog_error("log", "%s: bad batch in segment %020" PRId64 " reading offset %" PRId64,
				   log->dir, log->segs[i]->base, offset);
			return KEEL_ERR;
		}
	}
	return KEEL_OK;
}

typedef struct {
	int64_t target, min_offset, offset, timestamp;
	bool found;
} time_search_t;

static int time_search_cb(void *arg, int64_t offset, int64_t timestamp, keel_slice_t key,
			  bool key_null, keel_slice_t value, bool value_null, int header_count)
{
	time_search_t *ts = arg;

	if (!ts->found && offset >= ts->min_offset && timestamp >= ts->target) {
		ts->found = true;
		ts->offset = offset;
		ts->timestamp = timestamp;
	}
	return 0;
}

/* The first record of batch h with offset >= log start and timestamp >= target. */
static int log_batch_time(keel_log_t *log, keel_seg_t *seg, const seg_hdr_t *h, int64_t target,
			  int64_t *offset, int64_t *timestamp)
{
	time_search_t ts = {.target = target, .min_offset = log->start};
	uint8_t *buf;
	int rc;

	*offset = h->base > log->start ? h->base : log->start;
	*timestamp = h->max_ts;
	if (h->attributes & KB_ATTR_LOG_APPEND_TIME)
		return KEEL_OK;
	if (!(buf = malloc((size_t)h->size)))
		return KEEL_NOMEM;
	if (seg_pread_full(seg->fd, buf, (size_t)h->size, h->pos) != (ssize_t)h->size) {
		free(buf);
		return KEEL_ERR;
	}
	rc = keel_batch_foreach(buf, (size_t)h->size, LOG_MAX_UNCOMPRESSED, time_search_cb, &ts);
	free(buf);
	if (rc != 0)
		return KEEL_OK; /* undecodable: fall back to the batch's base offset and max timestamp */
	if (!ts.found)
		return KEEL_NOTFOUND;
	*offset = ts.offset;
	*timestamp = ts.timestamp;
	return KEEL_OK;
}

static int log_seg_time(keel_log_t *log, keel_seg_t *seg, int64_t target, int64_t *offset,
			int64_t *timestamp)
{
	ssize_t t = kidx_lookup_time_below(&seg->tidx, target);
	int64_t pos = 0;
	seg_reader_t rd;
	seg_hdr_t h;
	int rc;

	/* every record up to the entry's offset has a timestamp <= the entry's < target */
	if (t >= 0) {
		ssize_t o = kidx_lookup_off(&seg->oidx, kidx_rel(&seg->tidx, (size_t)t));
		pos = o >= 0 ? kidx_pos(&seg->oidx, (size_t)o) : 0;
	}
	seg_reader_init(&rd, seg);
	while ((rc = seg_read_hdr(&rd, pos, &h)) == 1) {
		if (h.max_ts >= target && h.last >= log->start) {
			rc = log_batch_time(log, seg, &h, target, offset, timestamp);
			if (rc != KEEL_NOTFOUND)
				return rc;
		}
		pos += h.size;
	}
	return rc < 0 ? KEEL_ERR : KEEL_NOTFOUND;
}

int keel_log_offset_for_time(keel_log_t *log, int64_t ts, int64_t *offset, int64_t *timestamp)
{
	for (size_t i = log_seg_index(log, log->start); i < log->nsegs; i++) {
		keel_seg_t *seg = log->segs[i];
		int rc;

		if (seg->max_ts < ts)
			continue;
		rc = log_seg_time(log, seg, ts, offset, timestamp);
		if (rc != KEEL_NOTFOUND)
			return rc;
	}
	return KEEL_NOTFOUND;
}

int keel_log_flush(keel_log_t *log)
{
	int rc = KEEL_OK;

	for (size_t i = 0; i < log->nsegs; i++)
		if (seg_flush(log->segs[i]) != KEEL_OK)
			rc = KEEL_ERR;
	if (epoch_persist_sync(log) != KEEL_OK)
		rc = KEEL_ERR;
	if (rc == KEEL_OK && log->dir_dirty) {
		rc = log_fsync_dir(log->dir);
		log->dir_dirty = rc != KEEL_OK;
	}
	if (rc == KEEL_OK) {
		log->recovery_point = log->leo;
		log->unflushed_msgs = 0;
	}
	log->last_flush_ms = keel_now_ms();
	return rc;
}

void keel_log_maybe_flush(keel_log_t *log, int64_t now_ms)
{
	if (log->unflushed_msgs >= log->cfg.flush_interval_messages ||
	    (log->cfg.flush_interval_ms != INT64_MAX && now_ms - log->last_flush_ms >= log->cfg.flush_interval_ms)) {
		keel_log_flush(log);
		log->last_flush_ms = now_ms;
	}
}

/* ---- Retention: the oldest segments go as Kafka's deleteOldSegments lets them: renamed
 * to <name>.deleted on the loop (so no later file of the same name is touched, and a crash
 * leaves only names that opening removes), unlinked on the disk worker file.delete.delay.ms
 * later (or when it stops). */

typedef struct {
	char *path[3];
} seg_files_t;

static void unlink_files_job(void *arg)
{
	seg_files_t *f = arg;
	for (int i = 0; i < 3; i++) {
		if (f->path[i] && unlink(f->path[i]) < 0 && errno != ENOENT)
			klog_warn("log", "remove %s: %s", f->path[i], strerror(errno));
		free(f->path[i]);
	}
	free(f);
}

/* Rename one file to <path>.deleted; the new name (malloc'd), or NULL if there is none. */
static char *rename_deleted(const char *path)
{
	char *to = NULL;
	if (!path || asprintf(&to, "%s.deleted", path) < 0)
		return NULL;
	if (rename(path, to) < 0) {
		if (errno != ENOENT)
			klog_warn("log", "rename %s for deletion: %s", path, strerror(errno));
		free(to);
		return NULL;
	}
	return to;
}

/* Delete the first n segments (never all of them); the log start moves to the next one's base. */
static void log_drop_first(keel_log_t *log, size_t n)
{
	if (n == 0 || n >= log->nsegs)
		return;
	for (size_t i = 0; i < n; i++) {
		keel_seg_t *seg = log->segs[i];
		seg_files_t *f = calloc(1, sizeof(*f));
		klog_info("log", "%s: deleting segment %020" PRId64 " (offsets below %" PRId64 ")", log->dir,
			  seg->base, log->segs[i + 1]->base);
		if (!f) {
			seg_destroy(seg);
			continue;
		}
		f->path[0] = rename_deleted(seg->path);
		f->path[1] = rename_deleted(seg->oidx.path);
		f->path[2] = rename_deleted(seg->tidx.path);
		seg_close(seg);
		if (log->worker)
			keel_worker_submit_after(log->worker, log->cfg.file_delete_delay_ms, unlink_files_job, f);
		else
			unlink_files_job(f);
	}
	memmove(log->segs, log->segs + n, (log->nsegs - n) * sizeof(*log->segs));
	log->nsegs -= n;
	if (log->start < log->segs[0]->base)
		log->start = log->segs[0]->base;
	if (log->recovery_point < log->start)
		log->recovery_point = log->start;
	epoch_truncate_start(log, log->start);
}

/* Kafka's segment.largestTimestamp: the newest batch timestamp, else the file's mtime. */
static int64_t seg_largest_ts(const keel_seg_t *seg)
{
	struct stat st;
	if (seg->max_ts >= 0)
		return seg->max_ts;
	if (fstat(seg->fd, &st) == 0)
		return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	return seg->created_ms;
}

int keel_log_retain(keel_log_t *log, int64_t now_ms, int64_t retention_ms, int64_t retention_bytes,
		    int64_t limit)
{
	int64_t total = keel_log_size_bytes(log);
	size_t n = 0;
	while (n + 1 < log->nsegs && log->segs[n + 1]->base <= limit) {
		const keel_seg_t *seg = log->segs[n];
		bool by_time = retention_ms >= 0 && now_ms - seg_largest_ts(seg) > retention_ms;
		bool by_size = retention_bytes >= 0 && total - seg->size >= retention_bytes;
		if (!by_time && !by_size)
			break;
		total -= seg->size;
		n++;
	}
	log_drop_first(log, n);
	return (int)n;
}

void keel_log_advance_start(keel_log_t *log, int64_t offset)
{
	size_t n = 0;
	if (offset > log->leo)
		offset = log->leo;
	if (offset <= log->start)
		return;
	while (n + 1 < log->nsegs && log->segs[n + 1]->base <= offset)
		n++;
	log_drop_first(log, n);
	if (log->start < offset) {
		log->start = offset;
		if (log->recovery_point < offset)
			log->recovery_point = offset;
		epoch_truncate_start(log, offset);
	}
}

static int log_truncate_fully(keel_log_t *log, int64_t offset)
{
	rflush_void(log, offset);
	log_drop_after(log, 0);
	seg_destroy(log->segs[0]);
	log->nsegs = 0;
	epoch_clear(log);
	if (log_new_segment(log, offset, keel_now_ms()) != KEEL_OK)
		return KEEL_ERR;
	log->leo = log->start = log->recovery_point = offset;
	return KEEL_OK;
}

int keel_log_reset(keel_log_t *log, int64_t offset)
{
	if (offset < 0)
		return KEEL_ERR;
	klog_info("log", "%s: emptied to start again at offset %" PRId64 " (end offset was %" PRId64 ")",
		  log->dir, offset, log->leo);
	return log_truncate_fully(log, offset);
}

int keel_log_truncate_to(keel_log_t *log, int64_t offset)
{
	seg_reader_t rd;
	keel_seg_t *seg;
	seg_hdr_t h;
	int rc;

	if (offset < 0)
		return KEEL_ERR;
	if (offset >= log->leo)
		return KEEL_OK;
	klog_info("log", "%s: truncating to offset %" PRId64 " (end offset %" PRId64 ")", log->dir,
		  offset, log->leo);
	if (offset < log->segs[0]->base)
		return log_truncate_fully(log, offset);
	log_drop_after(log, log_seg_index(log, offset));
	seg = log_active(log);
	if (kidx_activate(&seg->oidx, log->cfg.index_size_max_bytes) != KEEL_OK ||
	    kidx_activate(&seg->tidx, log->cfg.index_size_max_bytes) != KEEL_OK)
		return KEEL_ERR;
	seg_reader_init(&rd, seg);
	rc = seg_find(&rd, offset, &h);
	if (rc == 1)
		rc = seg_truncate_pos(seg, h.pos, h.base);
	if (rc < 0 || seg_load_tail(seg, true) != KEEL_OK)
		return KEEL_ERR;
	log->leo = seg->next_offset;
	rflush_void(log, log->leo);
	if (log->start > log->leo)
		log->start = log->leo;
	if (log->recovery_point > log->leo)
		log->recovery_point = log->leo;
	epoch_truncate_end(log, log->leo);
	return KEEL_OK;
}

void keel_log_set_config(keel_log_t *log, const keel_log_config_t *cfg)
{
	log->cfg = *cfg;
}

void keel_log_set_worker(keel_log_t *log, keel_worker_t *worker)
{
	epoch_writer_close(log, true);
	log->worker = worker;
}

void keel_log_close(keel_log_t *log)
{
	if (!log)
		return;
	epoch_writer_close(log, log->nsegs > 0);
	log->worker = NULL;
	if (log->nsegs) {
		seg_deactivate(log_active(log));
		epoch_persist(log); /* only if an earlier write failed (inline now) */
	}
	for (size_t i = 0; i < log->nsegs; i++)
		seg_close(log->segs[i]);
	rflush_unref(log->rflush);
	free(log->epochs);
	free(log->segs);
	free(log->dir);
	free(log);
}

static void random_hex(char out[33])
{
	uint8_t r[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
		uint64_t x = (uint64_t)keel_now_ms() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)out;
		for (size_t i = 0; i < sizeof(r); i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			r[i] = (uint8_t)(x >> 56);
		}
	}
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static int remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = KEEL_OK;

	if (!d)
		return KEEL_ERR;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			klog_error("log", "remove %s/%s: %s", dir, de->d_name, strerror(errno));
			rc = KEEL_ERR;
		}
	}
	closedir(d);
	if (rmdir(dir) < 0) {
		klog_error("log", "rmdir %s: %s", dir, strerror(errno));
		rc = KEEL_ERR;
	}
	return rc;
}

static void remove_dir_job(void *arg)
{
	remove_dir(arg);
	free(arg);
}

void keel_log_remove_dir(const char *dir, keel_worker_t *worker)
{
	char *copy = worker ? strdup(dir) : NULL;

	if (copy)
		keel_worker_submit(worker, remove_dir_job, copy);
	else
		remove_dir(dir);
}

int keel_log_delete(keel_log_t *log)
{
	char hex[33], path[4096];
	keel_worker_t *worker = log->worker;
	int rc;

	epoch_writer_close(log, false); /* no late write into the renamed or a recreated dir */
	for (size_t i = 0; i < log->nsegs; i++)
		seg_close(log->segs[i]);
	log->nsegs = 0;
	log->epochs_dirty = false;
	random_hex(hex);
	klog_info("log", "deleting log %s", log->dir);
	if (snprintf(path, sizeof(path), "%s.%s-delete", log->dir, hex) >= (int)sizeof(path) ||
	    rename(log->dir, path) < 0) {
		klog_error("log", "rename %s for deletion: %s", log->dir, strerror(errno));
		rc = remove_dir(log->dir);
	} else if (worker) {
		keel_log_remove_dir(path, worker);
		rc = KEEL_OK;
	} else {
		rc = remove_dir(path);
	}
	keel_log_close(log);
	return rc;
}
