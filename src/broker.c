/* src/broker.c: the broker instance: local partitions, log directories and their checkpoint
 * files, listeners, and applying the cluster view from the coordination thread. Loop thread. */
#include "broker.h"
#include "ctlchan.h"
#include "group.h"
#include "api.h"
#include "compress.h"
#include "conn.h"
#include "fetcher.h"
#include "logger.h"
#include "replica.h"
#include "worker.h"

#include <dirent.h>
#include <inttypes.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CKPT_RECOVERY "recovery-point-offset-checkpoint"
#define CKPT_LOG_START "log-start-offset-checkpoint"
#define CKPT_HW "replication-offset-checkpoint"
#define CLEAN_MARKER ".kafka_cleanshutdown"

static uint32_t phash(const char *t, size_t len, int32_t idx)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)t[i]) * 16777619u;
	return (h ^ (uint32_t)idx) * 16777619u;
}

keel_partition_t *keel_partition_get(keel_broker_t *b, const char *topic, size_t tlen, int32_t index)
{
	if (!b->ptable_size)
		return NULL;
	keel_partition_t *p = b->ptable[phash(topic, tlen, index) % b->ptable_size];
	for (; p; p = p->hnext)
		if (p->index == index && strlen(p->topic) == tlen && memcmp(p->topic, topic, tlen) == 0)
			return p;
	return NULL;
}

static void ptable_insert(keel_broker_t *b, keel_partition_t *p)
{
	if (b->npartitions + 1 > b->ptable_size * 2) {
		size_t n = b->ptable_size ? b->ptable_size * 4 : 256;
		keel_partition_t **t = calloc(n, sizeof(*t));
		if (!t)
			abort();
		for (size_t i = 0; i < b->ptable_size; i++) {
			for (keel_partition_t *q = b->ptable[i], *nx; q; q = nx) {
				nx = q->hnext;
				size_t h = phash(q->topic, strlen(q->topic), q->index) % n;
				q->hnext = t[h];
				t[h] = q;
			}
		}
		free(b->ptable);
		b->ptable = t;
		b->ptable_size = n;
	}
	size_t h = phash(p->topic, strlen(p->topic), p->index) % b->ptable_size;
	p->hnext = b->ptable[h];
	b->ptable[h] = p;
	b->npartitions++;
}

static void ptable_remove(keel_broker_t *b, keel_partition_t *p)
{
	keel_partition_t **pp = &b->ptable[phash(p->topic, strlen(p->topic), p->index) % b->ptable_size];
	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = p->hnext;
		b->npartitions--;
	}
}

/* Visit every local partition; fn may not remove others than p. */
#define FOR_EACH_PARTITION(b, p)                                                      \
	for (size_t _i = 0; _i < (b)->ptable_size; _i++)                              \
		for (keel_partition_t *p = (b)->ptable[_i], *_nx; p && ((_nx = p->hnext), 1); p = _nx)

void keel_topic_config_resolve(const keel_broker_t *b, const keel_view_topic_t *t, keel_topic_config_t *out)
{
	const keel_config_t *c = b->cfg;
	out->log.segment_bytes = c->log_segment_bytes;
	out->log.segment_ms = c->log_roll_ms;
	out->log.index_interval_bytes = c->log_index_interval_bytes;
	out->log.index_size_max_bytes = c->log_index_size_max_bytes;
	out->log.flush_interval_messages = c->log_flush_interval_messages;
	out->log.flush_interval_ms = c->log_flush_interval_ms;
	out->log.file_delete_delay_ms = c->log_segment_delete_delay_ms;
	out->max_message_bytes = c->message_max_bytes;
	out->min_insync_replicas = c->min_insync_replicas;
	out->log_append_time = c->log_message_timestamp_log_append;
	out->timestamp_diff_max_ms = c->log_message_timestamp_difference_max_ms;
	out->down_conversion = c->log_message_downconversion_enable;
	out->codec = keel_codec_from_name(c->compression_type);
	out->compact = c->log_cleanup_policy && strstr(c->log_cleanup_policy, "compact");
	out->delete_old = !c->log_cleanup_policy || strstr(c->log_cleanup_policy, "delete");
	out->retention_ms = c->log_retention_ms;
	out->retention_bytes = c->log_retention_bytes;
	for (int i = 0; t && i < t->nconfigs; i++) {
		const char *k = t->config_keys[i], *v = t->config_values[i];
		if (!v)
			continue;
		if (strcmp(k, "segment.bytes") == 0)
			out->log.segment_bytes = strtoll(v, NULL, 10);
		else if (strcmp(k, "segment.ms") == 0)
			out->log.segment_ms = strtoll(v, NULL, 10);
		else if (strcmp(k, "segment.index.bytes") == 0)
			out->log.index_size_max_bytes = (int32_t)strtol(v, NULL, 10);
		else if (strcmp(k, "index.interval.bytes") == 0)
			out->log.index_interval_bytes = (int32_t)strtol(v, NULL, 10);
		else if (strcmp(k, "flush.messages") == 0)
			out->log.flush_interval_messages = strtoll(v, NULL, 10);
		else if (strcmp(k, "flush.ms") == 0)
			out->log.flush_interval_ms = strtoll(v, NULL, 10);
		else if (strcmp(k, "file.delete.delay.ms") == 0)
			out->log.file_delete_delay_ms = strtoll(v, NULL, 10);
		else if (strcmp(k, "min.insync.replicas") == 0)
			out->min_insync_replicas = (int32_t)strtol(v, NULL, 10);
		else if (strcmp(k, "max.message.bytes") == 0)
			out->max_message_bytes = (int32_t)strtol(v, NULL, 10);
		else if (strcmp(k, "message.timestamp.type") == 0)
			out->log_append_time = strcmp(v, "LogAppendTime") == 0;
		else if (strcmp(k, "message.timestamp.difference.max.ms") == 0)
			out->timestamp_diff_max_ms = strtoll(v, NULL, 10);
		else if (strcmp(k, "message.downconversion.enable") == 0)
			out->down_conversion = strcasecmp(v, "true") == 0;
		else if (strcmp(k, "compression.type") == 0)
			out->codec = keel_codec_from_name(v);
		else if (strcmp(k, "cleanup.policy") == 0) {
			out->compact = strstr(v, "compact") != NULL;
			out->delete_old = strstr(v, "delete") != NULL;
		} else if (strcmp(k, "retention.ms") == 0)
			out->retention_ms = strtoll(v, NULL, 10);
		else if (strcmp(k, "retention.bytes") == 0)
			out->retention_bytes = strtoll(v, NULL, 10);
	}
	if (out->log.segment_bytes < 14)
		out->log.segment_bytes = c->log_segment_bytes;
	if (out->codec < KEEL_CODEC_PRODUCER)
		out->codec = KEEL_CODEC_PRODUCER; /* not a codec name (checked before it got here) */
}

keel_partition_t *keel_partition_new(keel_broker_t *b, const char *topic, int32_t index, keel_log_t *log, int dir)
{
	keel_partition_t *p = calloc(1, sizeof(*p));
	if (!p || !(p->topic = strdup(topic)))
		abort();
	p->index = index;
	p->log = log;
	p->log_dir = dir;
	p->waiters.next = p->waiters.prev = &p->waiters;
	p->high_watermark = keel_log_end_offset(log);
	p->maybe_zstd = keel_log_end_offset(log) > keel_log_start_offset(log); /* unknown: assume */
	p->leader_id = -1;
	p->leader_epoch = -1; /* unknown until a view or LeaderAndIsr */
	p->confirmed_epoch = -1;
	p->confirmed_reg = -1;
	p->isr_pending_add = -1;
	/* Kafka's spread: abs(31 * topic.hashCode() + partition) % num.replica.fetchers, with
	 * Java's String.hashCode (the same partitions share a fetcher as on a Kafka broker) */
	uint32_t h = 0;
	for (const char *c = topic; *c; c++)
		h = 31 * h + (unsigned char)*c; /* topic names are ASCII: chars are bytes */
	h = (31 * h + (uint32_t)index) & 0x7fffffff;
	p->fetcher_id = (int32_t)(h % (uint32_t)b->cfg->num_replica_fetchers);
	keel_topic_config_resolve(b, NULL, &p->cfg);
	ptable_insert(b, p);
	return p;
}

static void cursor_fn(void *arg)
{
	(void)arg; /* a wake-up nested in a woken request passes over an outer walk's cursor */
}

void keel_partition_wake(keel_broker_t *b, keel_partition_t *p)
{
	(void)b;
	/* A cursor node walks the list: a woken request may unlink (and free) any waiters, its own
	 * or others', but never the cursor; waiters linked meanwhile go in at the head, behind it.
	 * Every waiter is woken once, however many stay linked (pipelined produces). */
	keel_waiter_t cursor = {.fn = cursor_fn};
	for (keel_waiter_t *w = p->waiters.next; w != &p->waiters;) {
		cursor.prev = w;
		cursor.next = w->next;
		w->next->prev = &cursor;
		w->next = &cursor;
		w->fn(w->arg);
		w = cursor.next;
		keel_waiter_unlink(&cursor);
	}
}

void keel_partition_drop(keel_broker_t *b, keel_partition_t *p, bool delete_log)
{
	if (b->groups)
		keel_coordinator_resigned(b, p->topic, p->index);
	/* parked requests answer now: not the leader any more, the partition is about to vanish */
	p->leader = false;
	keel_partition_wake(b, p);
	if (p->waiters.next != &p->waiters)
		klog_error("broker", "%s-%d: a parked request did not answer on removal", p->topic, p->index);
	ptable_remove(b, p);
	if (delete_log) {
		klog_info("broker", "deleting log of %s-%d", p->topic, p->index);
		keel_log_delete(p->log);
	} else {
		keel_log_close(p->log);
	}
	free(p->topic);
	free(p);
}

/* ---- log directories ---- */

/* One partition directory found at start-up, and its log once opened. */
typedef struct {
	char path[4096];
	char topic[256];
	int32_t part;
	int64_t recovery, start;
	keel_log_t *log;
	int rc;
} found_log_t;

/* fn(ctx, i) for every i below n, on up to `threads` threads (this one included), as Kafka's
 * per-data-dir pools of num.recovery.threads.per.data.dir threads open and close logs. Returns
 * how many threads ran. */
typedef struct {
	void (*fn)(void *ctx, size_t i);
	void *ctx;
	size_t n;
	atomic_size_t next;
} par_jobs_t;

static void *par_worker(void *arg)
{
	par_jobs_t *j = arg;
	for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;)
		j->fn(j->ctx, i);
	return NULL;
}

static size_t run_parallel(size_t n, size_t threads, void (*fn)(void *ctx, size_t i), void *ctx)
{
	par_jobs_t j = {.fn = fn, .ctx = ctx, .n = n};
	pthread_t *tids = threads > 1 && n > 1 ? calloc(threads - 1, sizeof(*tids)) : NULL;
	size_t nt = 0;

	atomic_init(&j.next, 0);
	for (; tids && nt < threads - 1 && nt < n - 1; nt++)
		if (pthread_create(&tids[nt], NULL, par_worker, &j) != 0)
			break; /* fewer threads then: the work still gets done */
	par_worker(&j);
	for (size_t i = 0; i < nt; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	return nt + 1;
}

/* num.recovery.threads.per.data.dir for each of log.dirs */
static size_t log_threads(const keel_broker_t *b)
{
	return (size_t)b->cfg->num_recovery_threads_per_data_dir * (size_t)b->cfg->nlog_dirs;
}

typedef struct {
	keel_broker_t *b;
	found_log_t *logs;
	bool clean;
} log_opener_t;

/* Open (and recover) found log i; any number of threads at once. */
static void open_log(void *arg, size_t i)
{
	log_opener_t *o = arg;
	found_log_t *f = &o->logs[i];
	keel_topic_config_t tc;
	keel_topic_config_resolve(o->b, NULL, &tc);
	f->rc = keel_log_open(f->path, &tc.log, o->b->worker, f->recovery, o->clean, f->start, &f->log);
}

/* Open the n logs in parallel (log_threads). */
static void open_found_logs(keel_broker_t *b, found_log_t *logs, size_t n, bool clean)
{
	log_opener_t o = {.b = b, .logs = logs, .clean = clean};
	int64_t started = keel_mono_ms();
	size_t nt = run_parallel(n, log_threads(b), open_log, &o);

	klog_info("broker", "opened %zu logs with %zu thread(s) in %" PRId64 " ms", n, nt,
		  keel_mono_ms() - started);
}

static int64_t ckpt_offset(const keel_ckpt_entry_t *e, size_t n, const char *topic, int32_t part,
			   int64_t none)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].partition == part && strcmp(e[i].topic, topic) == 0)
			return e[i].offset;
	return none;
}

static int open_dir_logs(keel_broker_t *b, int d)
{
	const char *dir = b->cfg->log_dirs[d];
	char path[4096], topic[256];
	keel_ckpt_entry_t *rp = NULL, *ls = NULL, *hw = NULL;
	size_t nrp = 0, nls = 0, nhw = 0, nfound = 0, cap = 0;
	found_log_t *found = NULL;
	int32_t part;
	struct stat st;
	bool clean;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, CLEAN_MARKER);
	clean = stat(path, &st) == 0;
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, CKPT_RECOVERY);
	if (keel_ckpt_read(path, &rp, &nrp) != KEEL_OK)
		klog_warn("broker", "%s is corrupt; recovering every segment", path);
	snprintf(path, sizeof(path), "%s/%s", dir, CKPT_LOG_START);
	if (keel_ckpt_read(path, &ls, &nls) != KEEL_OK)
		klog_warn("broker", "%s is corrupt; ignoring it", path);
	snprintf(path, sizeof(path), "%s/%s", dir, CKPT_HW);
	if (keel_ckpt_read(path, &hw, &nhw) != KEEL_OK)
		klog_warn("broker", "%s is corrupt; high watermarks start at 0", path);
	DIR *dh = opendir(dir);
	if (!dh)
		return -1;
	for (struct dirent *de; (de = readdir(dh));) {
		if (de->d_name[0] != '.' && keel_log_deleted_dirname(de->d_name)) {
			/* a deletion a crash interrupted: finish it (Kafka does at start-up too) */
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			klog_info("broker", "removing %s, deleted before the last shutdown", path);
			keel_log_remove_dir(path, b->worker);
			continue;
		}
		if (de->d_name[0] == '.' || !keel_log_parse_dirname(de->d_name, topic, &part))
			continue;
		if (nfound == cap) {
			found_log_t *more = realloc(found, (cap = cap ? 2 * cap : 64) * sizeof(*found));
			if (!more)
				abort();
			found = more;
		}
		found_log_t *f = &found[nfound++];
		snprintf(f->path, sizeof(f->path), "%s/%s", dir, de->d_name);
		snprintf(f->topic, sizeof(f->topic), "%s", topic);
		f->part = part;
		f->recovery = ckpt_offset(rp, nrp, topic, part, 0);
		f->start = ckpt_offset(ls, nls, topic, part, -1);
		f->log = NULL;
	}
	closedir(dh);
	open_found_logs(b, found, nfound, clean);
	for (size_t i = 0; i < nfound; i++) {
		found_log_t *f = &found[i];
		if (f->rc != KEEL_OK || rc < 0) {
			if (f->rc != KEEL_OK)
				klog_error("broker", "cannot open log %s", f->path);
			else
				keel_log_close(f->log);
			rc = -1;
			continue;
		}
		keel_partition_t *p = keel_partition_new(b, f->topic, f->part, f->log, d);
		int64_t h = ckpt_offset(hw, nhw, f->topic, f->part, 0), leo = keel_log_end_offset(f->log);
		p->high_watermark = h < leo ? h : leo;
	}
	free(found);
	keel_ckpt_free(rp, nrp);
	keel_ckpt_free(ls, nls);
	keel_ckpt_free(hw, nhw);
	if (rc == 0)
		klog_info("broker", "log dir %s: %s shutdown, %zu partitions", dir, clean ? "clean" : "unclean",
			  b->npartitions);
	return rc;
}

int keel_broker_load_logs(keel_broker_t *b)
{
	for (int d = 0; d < b->cfg->nlog_dirs; d++) {
		const char *dir = b->cfg->log_dirs[d];
		char path[4096];
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			klog_error("broker", "log.dirs: cannot create %s: %s", dir, strerror(errno));
			return -1;
		}
		snprintf(path, sizeof(path), "%s/.lock", dir);
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
			klog_error("broker", "log dir %s is locked by another broker (%s)", dir, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		/* the lock fd stays open for the life of the process */
		if (open_dir_logs(b, d) < 0)
			return -1;
	}
	return 0;
}

/* Read broker.id and cluster.id from the first meta.properties found. */
int keel_broker_read_meta(keel_broker_t *b, int32_t *broker_id, char *cluster_id, size_t len)
{
	*broker_id = -1;
	cluster_id[0] = '\0';
	for (int d = 0; d < b->cfg->nlog_dirs; d++) {
		char path[4096], line[512];
		snprintf(path, sizeof(path), "%s/meta.properties", b->cfg->log_dirs[d]);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\r\n")] = '\0';
			if (strncmp(line, "broker.id=", 10) == 0)
				*broker_id = (int32_t)strtol(line + 10, NULL, 10);
			else if (strncmp(line, "cluster.id=", 11) == 0)
				snprintf(cluster_id, len, "%s", line + 11);
		}
		fclose(f);
		return 1;
	}
	return 0;
}

int keel_broker_write_meta(keel_broker_t *b)
{
	for (int d = 0; d < b->cfg->nlog_dirs; d++) {
		char path[4096], tmp[4200], ts[64];
		time_t now = time(NULL);
		struct tm tm;
		snprintf(path, sizeof(path), "%s/meta.properties", b->cfg->log_dirs[d]);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		FILE *f = fopen(tmp, "w");
		if (!f)
			return -1;
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%a %b %d %H:%M:%S UTC %Y", &tm);
		fprintf(f, "#\n#%s\nversion=0\nbroker.id=%d\ncluster.id=%s\n", ts, b->id, b->cluster_id);
		if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
			fclose(f);
			return -1;
		}
		fclose(f);
		if (rename(tmp, path) < 0)
			return -1;
	}
	return 0;
}

/* Checkpoint files to write, snapshotted on the loop thread (topic names copied), written by
 * ckpt_job_run on the disk worker or, at shutdown, inline. */
typedef struct {
	char *path;
	keel_ckpt_entry_t *e;
	size_t n;
} ckpt_file_t;

typedef struct {
	ckpt_file_t files[3 * KEEL_MAX_LOG_DIRS];
	int nfiles;
} ckpt_job_t;

static void ckpt_job_run(void *arg)
{
	ckpt_job_t *job = arg;
	for (int i = 0; i < job->nfiles; i++) {
		ckpt_file_t *f = &job->files[i];
		if (keel_ckpt_write(f->path, f->e, f->n) != KEEL_OK)
			klog_error("broker", "cannot write %s", f->path);
		for (size_t k = 0; k < f->n; k++)
			free(f->e[k].topic);
		free(f->e);
		free(f->path);
	}
	free(job);
}

/* Snapshot one checkpoint file of log dir d: which = 0 HW, 1 recovery point, 2 log start
 * (bit 1 << which of write_checkpoints' mask; CKPT_ALL: all three). */
#define CKPT_ALL 7u

static void ckpt_add(keel_broker_t *b, ckpt_job_t *job, int d, int which)
{
	static const char *const names[] = {CKPT_HW, CKPT_RECOVERY, CKPT_LOG_START};
	ckpt_file_t *f = &job->files[job->nfiles];
	f->e = calloc(b->npartitions + 1, sizeof(*f->e));
	if (!f->e || asprintf(&f->path, "%s/%s", b->cfg->log_dirs[d], names[which]) < 0) {
		free(f->e);
		return;
	}
	FOR_EACH_PARTITION(b, p) {
		if (p->log_dir != d || !(f->e[f->n].topic = strdup(p->topic)))
			continue;
		f->e[f->n].partition = p->index;
		f->e[f->n++].offset = which == 0 ? p->high_watermark
				      : which == 1 ? keel_log_recovery_point(p->log) : keel_log_start_offset(p->log);
	}
	job->nfiles++;
}

/* Write the per-directory checkpoint files of the kinds in `which` (CKPT_ALL: every one), on
 * the disk worker when async. */
static void write_checkpoints(keel_broker_t *b, unsigned which, bool async)
{
	ckpt_job_t *job = calloc(1, sizeof(*job));
	if (!job)
		return;
	for (int d = 0; d < b->cfg->nlog_dirs; d++)
		for (int kind = 0; kind < 3; kind++)
			if (which & (1u << kind))
				ckpt_add(b, job, d, kind);
	if (async && b->worker)
		keel_worker_submit(b->worker, ckpt_job_run, job);
	else
		ckpt_job_run(job);
}

/* Compact a partition of a compacted topic below its high watermark (Kafka's log cleaner,
 * every log.cleaner.backoff.ms, on every replica). */
static void clean_partition(keel_broker_t *b, keel_partition_t *p, int64_t now)
{
	keel_clean_stats_t st;
	if (!p->cfg.compact)
		return;
	if (keel_log_clean(p->log, p->high_watermark, (size_t)b->cfg->log_cleaner_dedupe_buffer_size,
			   now, &st) == KEEL_OK && st.segments)
		klog_info("cleaner", "%s-%d: compacted %d segment(s): %lld batch(es) dropped, %lld to %lld "
			  "bytes", p->topic, p->index, st.segments, (long long)st.batches_dropped,
			  (long long)st.bytes_before, (long long)st.bytes_after);
}

/* Time and size retention of one log (cleanup.policy with delete), below its high watermark. */
static void retain_partition(keel_partition_t *p, int64_t now)
{
	int n;
	if (!p->cfg.delete_old || (p->cfg.retention_ms < 0 && p->cfg.retention_bytes < 0))
		return;
	n = keel_log_retain(p->log, now, p->cfg.retention_ms, p->cfg.retention_bytes, p->high_watermark);
	if (n > 0)
		klog_info("broker", "%s-%d: retention deleted %d segment(s); log start offset now %" PRId64,
			  p->topic, p->index, n, keel_log_start_offset(p->log));
}

/* Each checkpoint file on its own interval, as Kafka's three scheduled tasks:
 * replica.high.watermark.checkpoint.interval.ms, log.flush.offset.checkpoint.interval.ms and
 * log.flush.start.offset.checkpoint.interval.ms. */
static void write_due_checkpoints(keel_broker_t *b, int64_t now)
{
	const keel_config_t *cfg = b->cfg;
	int64_t *last[3] = {&b->last_hw_ckpt_ms, &b->last_ckpt_ms, &b->last_start_ckpt_ms};
	const int64_t every[3] = {cfg->replica_high_watermark_checkpoint_interval_ms,
				  cfg->log_flush_offset_checkpoint_interval_ms,
				  cfg->log_flush_start_offset_checkpoint_interval_ms};
	unsigned due = 0;
	for (int k = 0; k < 3; k++) {
		if (now - *last[k] >= every[k]) {
			due |= 1u << k;
			*last[k] = now;
		}
	}
	if (due)
		write_checkpoints(b, due, true);
}

static void housekeeping(keel_loop_t *loop, keel_timer_t *t)
{
	keel_broker_t *b = (keel_broker_t *)((char *)t - offsetof(keel_broker_t, housekeeping));
	int64_t now = keel_now_ms();
	FOR_EACH_PARTITION(b, p) keel_log_maybe_flush(p->log, now);
	keel_replica_check_isr(b);
	keel_conns_close_idle(b, keel_mono_ms());
	if (now - b->last_retention_ms >= b->cfg->log_retention_check_interval_ms) {
		b->last_retention_ms = now;
		FOR_EACH_PARTITION(b, p) retain_partition(p, now);
	}
	if (b->cfg->log_cleaner_enable && now - b->last_clean_ms >= b->cfg->log_cleaner_backoff_ms) {
		b->last_clean_ms = now;
		FOR_EACH_PARTITION(b, p) clean_partition(b, p, now);
	}
	write_due_checkpoints(b, now);
	keel_timer_arm(loop, t, 1000);
}

int keel_broker_init(keel_broker_t *b, keel_config_t *cfg)
{
	memset(b, 0, sizeof(*b));
	b->cfg = cfg;
	b->id = cfg->broker_id;
	b->signal_fd = -1;
	b->loop = keel_loop_new();
	b->mq = keel_mq_new();
	if (!b->loop || !b->mq)
		return -1;
	keel_loop_set_before_sleep(b->loop, keel_conns_flush, b);
	keel_timer_init(&b->housekeeping, housekeeping);
	keel_conns_init(b);
	keel_api_topic_waits_init(b);
	if (keel_coordinator_init(b))
		return -1;
	keel_timer_init(&b->shutdown_timer, NULL); /* armed by a controlled shutdown */
	b->worker = keel_worker_start();
	if (!b->worker)
		return -1;
	b->last_ckpt_ms = b->last_start_ckpt_ms = b->last_retention_ms = keel_now_ms();
	keel_timer_arm(b->loop, &b->housekeeping, 1000);
	return 0;
}

int keel_broker_listen(keel_broker_t *b)
{
	for (int i = 0; i < b->cfg->nlisteners; i++) {
		const keel_listener_t *l = &b->cfg->listeners[i];
		struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
		struct addrinfo *ai;
		char port[16];
		int one = 1, fd;
		snprintf(port, sizeof(port), "%d", l->port);
		if (getaddrinfo(l->host[0] ? l->host : NULL, port, &hints, &ai) != 0) {
			klog_error("broker", "listeners: cannot resolve %s", l->host);
			return -1;
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* accepted sockets inherit the receive buffer (and the window scale it implies) */
		if (b->cfg->socket_receive_buffer_bytes >= 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b->cfg->socket_receive_buffer_bytes, sizeof(int));
		if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
			klog_error("broker", "listeners: cannot listen on %s:%d (%s): %s", l->host, l->port,
				   l->name, strerror(errno));
			freeaddrinfo(ai);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		freeaddrinfo(ai);
		b->listen_fds[b->nlisten++] = fd;
		keel_loop_add(b->loop, fd, EPOLLIN, keel_conn_accept, b);
		klog_info("broker", "listening on %s:%d (%s)", l->host[0] ? l->host : "*", l->port, l->name);
	}
	return 0;
}

/* Logs write their leader-epoch checkpoints inline from here; queued jobs run, then the
 * worker goes. */
static void stop_worker(keel_broker_t *b)
{
	if (!b->worker)
		return;
	FOR_EACH_PARTITION(b, p) keel_log_set_worker(p->log, NULL);
	keel_worker_stop(b->worker);
	b->worker = NULL;
}

static void flush_log(void *arg, size_t i)
{
	keel_log_flush(((keel_partition_t **)arg)[i]->log);
}

/* Flush every log, in parallel as Kafka's shutdown closes them (log_threads). */
static void flush_all(keel_broker_t *b)
{
	size_t n = 0, i = 0, nt;
	keel_partition_t **parts;
	int64_t started = keel_mono_ms();

	FOR_EACH_PARTITION(b, p) n++;
	if (!(parts = calloc(n ? n : 1, sizeof(*parts)))) {
		FOR_EACH_PARTITION(b, p) keel_log_flush(p->log);
		return;
	}
	FOR_EACH_PARTITION(b, p) parts[i++] = p;
	nt = run_parallel(n, log_threads(b), flush_log, parts);
	free(parts);
	klog_info("broker", "flushed %zu logs with %zu thread(s) in %" PRId64 " ms", n, nt,
		  keel_mono_ms() - started);
}

void keel_broker_shutdown(keel_broker_t *b)
{
	keel_timer_cancel(b->loop, &b->accept_timer);
	for (int i = 0; i < b->nlisten; i++) {
		keel_loop_del(b->loop, b->listen_fds[i]);
		close(b->listen_fds[i]);
	}
	b->nlisten = 0;
	keel_conns_close_all(b);
	keel_fetchers_free(b);
	keel_ctlchan_reset(b);
	keel_api_topic_waits_free(b);
	keel_coordinator_free(b); /* before the partitions its writes wait on */
	keel_new_logs_cancel(b);
	stop_worker(b); /* earlier checkpoints first: the final ones must win */
	flush_all(b);
	write_checkpoints(b, CKPT_ALL, false);
	FOR_EACH_PARTITION(b, p) {
		ptable_remove(b, p);
		keel_log_close(p->log);
		free(p->topic);
		free(p);
	}
	for (int d = 0; d < b->cfg->nlog_dirs; d++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", b->cfg->log_dirs[d], CLEAN_MARKER);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	klog_info("broker", "logs flushed, checkpoints and clean-shutdown markers written");
}

void keel_broker_free(keel_broker_t *b)
{
	stop_worker(b);
	keel_timer_cancel(b->loop, &b->housekeeping);
	keel_view_free(b->view);
	keel_lead_words_free(b);
	for (int i = 0; i < b->nautocreate; i++)
		free(b->autocreate_pending[i]);
	free(b->autocreate_pending);
	for (int i = 0; i < b->nstopped; i++)
		free(b->stopped[i].topic);
	free(b->stopped);
	free(b->ptable);
	keel_loop_free(b->loop);
	keel_mq_free(b->mq);
}
