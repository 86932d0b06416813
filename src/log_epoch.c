/* src/log_epoch.c: a log's leader-epoch cache (Kafka's LeaderEpochFileCache) and its leader-epoch-checkpoint file. */
#include "log_internal.h"
#include "logger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EPOCH_FILE_MAX (16 << 20)            /* a bigger checkpoint is treated as malformed */
#define EPOCH_REBUILD_MAX_BYTES (1LL << 30)  /* header-scan a log up to this size to rebuild */
#define EPOCH_LINE_MAX 40                    /* "<int32> <int64>\n" */

static const klog_epoch_t *epoch_latest(const keel_log_t *log)
{
	return log->nepochs ? &log->epochs[log->nepochs - 1] : NULL;
}

/* Kafka's isUpdateNeeded: a different epoch than the latest, or an earlier start. */
static bool epoch_update_needed(const keel_log_t *log, int32_t epoch, int64_t start)
{
	const klog_epoch_t *l = epoch_latest(log);

	return !l || epoch != l->epoch || start < l->start;
}

/* Kafka's assign, in memory: drop entries from the end whose epoch >= epoch or whose start
 * >= start, then append (epoch, start). *changed tells whether the cache changed. */
static int epoch_put(keel_log_t *log, int32_t epoch, int64_t start, bool *changed)
{
	size_t n = log->nepochs;

	*changed = false;
	if (!epoch_update_needed(log, epoch, start))
		return KEEL_OK;
	if (log->nepochs == log->cap_epochs) {
		size_t cap = log->cap_epochs ? log->cap_epochs * 2 : 8;
		klog_epoch_t *ne = realloc(log->epochs, cap * sizeof(*ne));

		if (!ne)
			return KEEL_NOMEM;
		log->epochs = ne;
		log->cap_epochs = cap;
	}
	while (n > 0 && (log->epochs[n - 1].epoch >= epoch || log->epochs[n - 1].start >= start))
		n--;
	/* removing one entry that started at the same offset is the expected case (no data yet) */
	if (log->nepochs - n > 1 || (n < log->nepochs && log->epochs[n].start != start))
		klog_warn("log", "%s: epoch %" PRId32 " at offset %" PRId64 " drops %zu later epoch "
			  "entr%s", log->dir, epoch, start, log->nepochs - n,
			  log->nepochs - n == 1 ? "y" : "ies");
	log->epochs[n].epoch = epoch;
	log->epochs[n].start = start;
	log->nepochs = n + 1;
	log->epochs_dirty = true;
	*changed = true;
	return KEEL_OK;
}

struct klog_epoch_writer {
	pthread_mutex_t mu;   /* guards pending, queued, failed, refs */
	pthread_mutex_t wmu;  /* held while the file is written: one write at a time, in order */
	char *path;
	char *pending;        /* the newest snapshot not yet written */
	size_t pending_len;
	bool pending_durable; /* fsync it (see epochs_fresh) */
	bool queued;          /* a job is on the worker's queue */
	bool failed;          /* the last background write failed */
	int refs;             /* the log and a queued job */
};

static int epoch_path(const keel_log_t *log, char *path, size_t size)
{
	return snprintf(path, size, "%s/%s", log->dir, KLOG_EPOCH_FILE) >= (int)size ? KEEL_ERR : KEEL_OK;
}

/* The cache as checkpoint text (malloc'd); *durable: to be written with fsyncs. */
static char *epoch_render(keel_log_t *log, size_t *len, bool *durable)
{
	size_t cap = 32 + log->nepochs * EPOCH_LINE_MAX;
	char *text = malloc(cap);

	if (!text)
		return NULL;
	if (log->nepochs)
		log->epochs_fresh = false;
	*durable = !log->epochs_fresh;
	*len = (size_t)snprintf(text, cap, "0\n%zu\n", log->nepochs);
	for (size_t i = 0; i < log->nepochs; i++)
		*len += (size_t)snprintf(text + *len, cap - *len, "%" PRId32 " %" PRId64 "\n",
					 log->epochs[i].epoch, log->epochs[i].start);
	return text;
}

static void ew_unref(klog_epoch_writer_t *ew)
{
	bool last;

	pthread_mutex_lock(&ew->mu);
	last = --ew->refs == 0;
	pthread_mutex_unlock(&ew->mu);
	if (!last)
		return;
	pthread_mutex_destroy(&ew->mu);
	pthread_mutex_destroy(&ew->wmu);
	free(ew->pending);
	free(ew->path);
	free(ew);
}

/* On the worker: write the newest snapshot (none if the log closed meanwhile). */
static void ew_job(void *arg)
{
	klog_epoch_writer_t *ew = arg;
	char *text;
	size_t len;
	bool durable;

	pthread_mutex_lock(&ew->wmu);
	pthread_mutex_lock(&ew->mu);
	text = ew->pending;
	len = ew->pending_len;
	durable = ew->pending_durable;
	ew->pending = NULL;
	ew->queued = false;
	pthread_mutex_unlock(&ew->mu);
	if (text) {
		bool failed = log_write_atomic(ew->path, text, len, durable) != KEEL_OK;

		pthread_mutex_lock(&ew->mu);
		ew->failed = failed;
		pthread_mutex_unlock(&ew->mu);
	}
	pthread_mutex_unlock(&ew->wmu);
	free(text);
	ew_unref(ew);
}

static klog_epoch_writer_t *ew_get(keel_log_t *log)
{
	klog_epoch_writer_t *ew = log->ew;
	char path[4096];

	if (ew)
		return ew;
	if (epoch_path(log, path, sizeof(path)) != KEEL_OK || !(ew = calloc(1, sizeof(*ew))))
		return NULL;
	if (!(ew->path = strdup(path))) {
		free(ew);
		return NULL;
	}
	pthread_mutex_init(&ew->mu, NULL);
	pthread_mutex_init(&ew->wmu, NULL);
	ew->refs = 1;
	return log->ew = ew;
}

/* Hand text to the worker; a snapshot it has not written yet is replaced. */
static int epoch_submit(keel_log_t *log, char *text, size_t len, bool durable)
{
	klog_epoch_writer_t *ew = ew_get(log);
	bool submit;

	if (!ew) {
		free(text);
		return KEEL_NOMEM;
	}
	pthread_mutex_lock(&ew->mu);
	free(ew->pending);
	ew->pending = text;
	ew->pending_len = len;
	ew->pending_durable = durable;
	submit = !ew->queued;
	if (submit) {
		ew->queued = true;
		ew->refs++;
	}
	pthread_mutex_unlock(&ew->mu);
	if (submit)
		keel_worker_submit(log->worker, ew_job, ew);
	return KEEL_OK;
}

/* Write the cache to path on this thread. */
static int epoch_write_now(keel_log_t *log, const char *path)
{
	size_t len;
	bool durable;
	char *text = epoch_render(log, &len, &durable);
	int rc = text ? log_write_atomic(path, text, len, durable) : KEEL_NOMEM;

	free(text);
	if (rc == KEEL_OK)
		log->epochs_dirty = false;
	return rc;
}

int epoch_persist(keel_log_t *log)
{
	char path[4096], *text;
	size_t len;
	bool durable;
	int rc;

	if (!log->epochs_dirty)
		return KEEL_OK;
	if (!log->worker)
		return epoch_path(log, path, sizeof(path)) == KEEL_OK ? epoch_write_now(log, path) : KEEL_ERR;
	if (!(text = epoch_render(log, &len, &durable)))
		return KEEL_NOMEM;
	if ((rc = epoch_submit(log, text, len, durable)) == KEEL_OK)
		log->epochs_dirty = false;
	return rc;
}

/* With ew->wmu held: take the queued snapshot away; does the file lag the cache? */
static bool ew_take_behind(klog_epoch_writer_t *ew)
{
	bool behind;

	pthread_mutex_lock(&ew->mu);
	behind = ew->pending || ew->failed;
	free(ew->pending);
	ew->pending = NULL;
	ew->failed = false; /* epochs_dirty carries it from here */
	pthread_mutex_unlock(&ew->mu);
	return behind;
}

int epoch_persist_sync(keel_log_t *log)
{
	klog_epoch_writer_t *ew = log->ew;
	char path[4096];
	int rc = KEEL_OK;

	if (!ew) {
		if (!log->epochs_dirty)
			return KEEL_OK;
		return epoch_path(log, path, sizeof(path)) == KEEL_OK ? epoch_write_now(log, path) : KEEL_ERR;
	}
	pthread_mutex_lock(&ew->wmu);
	if (ew_take_behind(ew))
		log->epochs_dirty = true;
	if (log->epochs_dirty)
		rc = epoch_write_now(log, ew->path);
	pthread_mutex_unlock(&ew->wmu);
	return rc;
}

void epoch_writer_close(keel_log_t *log, bool keep)
{
	klog_epoch_writer_t *ew = log->ew;

	if (!ew)
		return;
	if (keep)
		epoch_persist_sync(log);
	pthread_mutex_lock(&ew->wmu);
	pthread_mutex_lock(&ew->mu);
	free(ew->pending); /* a queued job finds nothing to write */
	ew->pending = NULL;
	pthread_mutex_unlock(&ew->mu);
	pthread_mutex_unlock(&ew->wmu);
	log->ew = NULL;
	ew_unref(ew);
}

/* Parse the checkpoint text (modified in place) into the cache, through assign as Kafka's
 * constructor does. KEEL_CORRUPT if malformed. */
static int epoch_parse(keel_log_t *log, char *text)
{
	size_t tlen = strlen(text), got = 0;
	int64_t version, count, e, o;
	char *line, *save, *a, *b;
	bool changed;

	if (tlen == 0)
		return KEEL_OK; /* Kafka reads an empty file as no entries */
	if (text[tlen - 1] == '\n')
		text[tlen - 1] = '\0'; /* a final newline does not start another line */
	line = strsep(&text, "\n");
	if (!log_parse_int(line, 0, 0, &version))
		return KEEL_CORRUPT;
	line = strsep(&text, "\n");
	if (!line || !log_parse_int(line, 0, INT32_MAX, &count))
		return KEEL_CORRUPT;
	while ((line = strsep(&text, "\n")) != NULL) {
		save = NULL;
		a = strtok_r(line, " \t", &save);
		b = strtok_r(NULL, " \t", &save);
		if (!log_parse_int(a, 0, INT32_MAX, &e) || !log_parse_int(b, 0, INT64_MAX, &o) ||
		    strtok_r(NULL, " \t", &save) || (int64_t)++got > count)
			return KEEL_CORRUPT;
		if (epoch_put(log, (int32_t)e, o, &changed) != KEEL_OK)
			return KEEL_NOMEM;
	}
	return (int64_t)got == count ? KEEL_OK : KEEL_CORRUPT;
}

/* Read the whole file into a malloc'd NUL-terminated string. KEEL_NOTFOUND if missing. */
static int epoch_read_file(const char *path, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text = NULL;
	ssize_t n;
	int rc = KEEL_ERR;

	if (fd < 0)
		return errno == ENOENT ? KEEL_NOTFOUND : KEEL_ERR;
	if (fstat(fd, &st) < 0)
		goto out;
	rc = KEEL_CORRUPT;
	if (st.st_size > EPOCH_FILE_MAX || !(text = malloc((size_t)st.st_size + 1)))
		goto out;
	n = seg_pread_full(fd, text, (size_t)st.st_size, 0);
	if (n != (ssize_t)st.st_size) {
		rc = KEEL_ERR;
		goto out;
	}
	text[n] = '\0';
	rc = strlen(text) == (size_t)n ? KEEL_OK : KEEL_CORRUPT;
out:
	close(fd);
	if (rc == KEEL_OK)
		*out = text;
	else
		free(text);
	return rc;
}

int epoch_load(keel_log_t *log, bool fresh, bool *malformed)
{
	char path[4096], *text = NULL;
	int rc;

	*malformed = false;
	log->nepochs = 0;
	if (fresh) { /* a new directory: nothing to read */
		log->epochs_dirty = log->epochs_fresh = true;
		return KEEL_OK;
	}
	if (snprintf(path, sizeof(path), "%s/%s", log->dir, KLOG_EPOCH_FILE) >= (int)sizeof(path))
		return KEEL_ERR;
	rc = epoch_read_file(path, &text);
	if (rc == KEEL_NOTFOUND) {
		log->epochs_dirty = true; /* Kafka writes the (empty) file with every log */
		return KEEL_OK;
	}
	if (rc == KEEL_OK)
		rc = epoch_parse(log, text);
	free(text);
	if (rc == KEEL_NOMEM)
		return rc;
	if (rc != KEEL_OK) {
		klog_warn("log", "%s: unreadable or malformed %s; rebuilding the leader epoch cache",
			  log->dir, KLOG_EPOCH_FILE);
		log->nepochs = 0;
		log->epochs_dirty = true;
		*malformed = true;
	}
	return KEEL_OK;
}

/* Kafka's recovery rule: a batch's epoch larger than the latest starts at its base offset. */
static void epoch_from_batch(keel_log_t *log, int32_t epoch, int64_t base)
{
	const klog_epoch_t *l = epoch_latest(log);
	bool changed;

	if (epoch >= 0 && base >= 0 && (!l || epoch > l->epoch) &&
	    epoch_put(log, epoch, base, &changed) != KEEL_OK)
		klog_error("log", "%s: out of memory in the leader epoch cache", log->dir);
}

void epoch_on_recovered(void *arg, const seg_hdr_t *h)
{
	epoch_from_batch(arg, h->epoch, h->base);
}

/* Rebuild the whole cache from the batch headers of every segment. */
static void epoch_rebuild(keel_log_t *log)
{
	seg_reader_t *rd = malloc(sizeof(*rd));
	seg_hdr_t h;
	int rc = 0;

	log->nepochs = 0;
	log->epochs_dirty = true;
	for (size_t i = 0; rd && rc >= 0 && i < log->nsegs; i++) {
		int64_t pos = 0;

		seg_reader_init(rd, log->segs[i]);
		while ((rc = seg_read_hdr(rd, pos, &h)) == 1) {
			epoch_from_batch(log, h.epoch, h.base);
			pos += h.size;
		}
	}
	if (!rd || rc < 0) {
		klog_warn("log", "%s: cannot rebuild the leader epoch cache; starting empty", log->dir);
		log->nepochs = 0;
	}
	free(rd);
}

/* truncateFromEnd in memory: true if entries were dropped. */
static bool epoch_cut_end(keel_log_t *log, int64_t end)
{
	size_t n = log->nepochs;

	while (end >= 0 && n > 0 && log->epochs[n - 1].start >= end)
		n--;
	if (n == log->nepochs)
		return false;
	log->nepochs = n;
	log->epochs_dirty = true;
	return true;
}

/* truncateFromStart in memory: entries starting at or before start collapse into the last
 * of them, moved up to start. True if the cache changed. */
static bool epoch_cut_start(keel_log_t *log, int64_t start)
{
	size_t k = 0;

	while (k < log->nepochs && log->epochs[k].start <= start)
		k++;
	if (k == 0 || (k == 1 && log->epochs[0].start == start))
		return false;
	log->epochs[0].epoch = log->epochs[k - 1].epoch;
	log->epochs[0].start = start;
	memmove(&log->epochs[1], &log->epochs[k], (log->nepochs - k) * sizeof(*log->epochs));
	log->nepochs -= k - 1;
	log->epochs_dirty = true;
	return true;
}

void epoch_open_done(keel_log_t *log, bool malformed)
{
	if (malformed) {
		if (keel_log_size_bytes(log) <= EPOCH_REBUILD_MAX_BYTES)
			epoch_rebuild(log);
		else
			klog_warn("log", "%s: log too large to rebuild the leader epoch cache; starting "
				  "empty", log->dir);
	}
	epoch_cut_end(log, log->leo);
	epoch_cut_start(log, log->start);
	epoch_persist(log);
}

void epoch_truncate_end(keel_log_t *log, int64_t end)
{
	if (epoch_cut_end(log, end))
		epoch_persist(log);
}

void epoch_truncate_start(keel_log_t *log, int64_t start)
{
	if (epoch_cut_start(log, start))
		epoch_persist(log);
}

void epoch_clear(keel_log_t *log)
{
	if (log->nepochs == 0 && !log->epochs_dirty)
		return;
	log->nepochs = 0;
	log->epochs_dirty = true;
	epoch_persist(log);
}

int keel_log_epoch_assign(keel_log_t *log, int32_t epoch, int64_t start_offset)
{
	bool changed;
	int rc;

	if (epoch < 0 || start_offset < 0) {
		klog_warn("log", "%s: ignoring invalid leader epoch entry (%" PRId32 ", %" PRId64 ")",
			  log->dir, epoch, start_offset);
		return KEEL_ERR;
	}
	if ((rc = epoch_put(log, epoch, start_offset, &changed)) != KEEL_OK)
		return rc;
	if (changed)
		klog_debug("log", "%s: leader epoch %" PRId32 " starts at offset %" PRId64, log->dir,
			   epoch, start_offset);
	return changed ? epoch_persist(log) : KEEL_OK;
}

int epoch_note_batch(keel_log_t *log, int32_t epoch, int64_t base)
{
	if (epoch < 0 || !epoch_update_needed(log, epoch, base))
		return KEEL_OK;
	return keel_log_epoch_assign(log, epoch, base);
}

int32_t keel_log_latest_epoch(const keel_log_t *log)
{
	const klog_epoch_t *l = epoch_latest(log);

	return l ? l->epoch : -1;
}

int keel_log_end_offset_for_epoch(const keel_log_t *log, int32_t epoch, int32_t *found_epoch,
				  int64_t *end_offset)
{
	size_t lo = 0, hi = log->nepochs;

	/* lo = the number of entries with an epoch <= the requested one */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (log->epochs[mid].epoch <= epoch)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Kafka 2.8's LeaderEpochFileCache.endOffsetFor */
	if (epoch >= 0 && log->nepochs && epoch == log->epochs[log->nepochs - 1].epoch) {
		*found_epoch = epoch;
		*end_offset = log->leo;
		return KEEL_OK;
	}
	if (epoch < 0 || lo == log->nepochs) { /* undefined, or newer than any we know */
		*found_epoch = -1;
		*end_offset = -1;
		return KEEL_NOTFOUND;
	}
	/* older than every entry: the requested epoch ends where our first one starts */
	*found_epoch = lo == 0 ? epoch : log->epochs[lo - 1].epoch;
	*end_offset = log->epochs[lo].start;
	return KEEL_OK;
}
