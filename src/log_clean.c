/* src/log_clean.c: compaction of a log (cleanup.policy=compact), at batch granularity: over the
 * closed segments below a limit (the high watermark), the latest offset of every key is found,
 * and each segment is rewritten without the batches none of whose records is such a latest
 * record. Offsets never change; kept batches are copied byte for byte; the last batch of each
 * segment always stays, so segments keep their offset range. A rewritten segment replaces the
 * old one through <base>.log.cleaned and <base>.log.swap, which log opening completes or
 * discards after a crash (seg_list_dir). Loop thread (the log's owner). */
#include "log_internal.h"
#include "batch.h"
#include "logger.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* key -> latest offset, open addressing; keys point into the segment buffers read for the map
 * (copied, since buffers are freed segment by segment). */
typedef struct {
	uint64_t hash;
	uint8_t *key;   /* NULL: empty slot */
	size_t len;
	int64_t offset;
} cslot_t;

typedef struct {
	cslot_t *slots;
	size_t cap, n;
	size_t bytes;   /* key bytes held */
	size_t max_bytes;
	bool full;      /* over max_bytes: give up this round */
} cmap_t;

static uint64_t key_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h | 1;
}

static cslot_t *cmap_slot(cmap_t *m, const uint8_t *key, size_t len, uint64_t h)
{
	size_t i = h & (m->cap - 1);
	while (m->slots[i].key && !(m->slots[i].hash == h && m->slots[i].len == len &&
				    !memcmp(m->slots[i].key, key, len)))
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static bool cmap_grow(cmap_t *m)
{
	size_t cap = m->cap ? 2 * m->cap : 1024;
	cmap_t g = { calloc(cap, sizeof(cslot_t)), cap, 0, m->bytes, m->max_bytes, false };
	if (!g.slots)
		return false;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			*cmap_slot(&g, m->slots[i].key, m->slots[i].len, m->slots[i].hash) = m->slots[i];
	g.n = m->n;
	free(m->slots);
	*m = g;
	return true;
}

static void cmap_put(cmap_t *m, const uint8_t *key, size_t len, int64_t offset)
{
	uint64_t h = key_hash(key, len);
	cslot_t *s;
	if (m->full)
		return;
	if ((m->n + 1) * 2 > m->cap && !cmap_grow(m)) {
		m->full = true;
		return;
	}
	s = cmap_slot(m, key, len, h);
	if (s->key) {
		if (offset > s->offset)
			s->offset = offset;
		return;
	}
	if (m->bytes + len + sizeof(*s) > m->max_bytes || !(s->key = malloc(len ? len : 1))) {
		m->full = true;
		return;
	}
	memcpy(s->key, key, len);
	s->hash = h;
	s->len = len;
	s->offset = offset;
	m->bytes += len + sizeof(*s);
	m->n++;
}

static int64_t cmap_get(const cmap_t *m, const uint8_t *key, size_t len)
{
	uint64_t h = key_hash(key, len);
	cslot_t *s = cmap_slot((cmap_t *)m, key, len, h);
	return s->key ? s->offset : -1;
}

static void cmap_free(cmap_t *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
}

/* The whole .log of seg in memory (its size is bounded by segment.bytes). */
static uint8_t *read_segment(const keel_seg_t *seg)
{
	uint8_t *buf = malloc(seg->size ? (size_t)seg->size : 1);
	if (buf && seg_pread_full(seg->fd, buf, (size_t)seg->size, 0) != seg->size) {
		free(buf);
		return NULL;
	}
	return buf;
}

typedef struct {
	cmap_t *map;
	bool keep;     /* per batch: one of its records is a latest one (or has no key) */
} cvisit_t;

static int map_record(void *arg, int64_t offset, int64_t ts, keel_slice_t key, bool key_null,
		      keel_slice_t value, bool value_null, int header_count)
{
	cvisit_t *v = arg;
	(void)ts, (void)value, (void)value_null, (void)header_count;
	if (!key_null)
		cmap_put(v->map, key.ptr, key.len, offset);
	return 0;
}

static int keep_record(void *arg, int64_t offset, int64_t ts, keel_slice_t key, bool key_null,
		       keel_slice_t value, bool value_null, int header_count)
{
	cvisit_t *v = arg;
	(void)ts, (void)value, (void)value_null, (void)header_count;
	if (key_null || cmap_get(v->map, key.ptr, key.len) == offset)
		v->keep = true;
	return 0;
}

/* Visit every whole batch of buf[0..len) (a segment) with fn. */
static void each_batch(const uint8_t *buf, size_t len, keel_record_fn fn, cvisit_t *v,
		       void (*after)(const uint8_t *batch, size_t blen, bool last, cvisit_t *v, void *arg),
		       void *arg)
{
	size_t pos = 0;
	while (len - pos >= KEEL_BATCH_HEADER_LEN) {
		size_t blen = (size_t)kb_get32(buf + pos + KB_OFF_LENGTH) + KEEL_BATCH_LOG_OVERHEAD;
		if (blen < KEEL_BATCH_HEADER_LEN || blen > len - pos)
			break;
		v->keep = (kb_get16(buf + pos + KB_OFF_ATTRIBUTES) & KB_ATTR_CONTROL) != 0;
		/* a batch whose records cannot be read is kept: the cleaner never loses what it
		 * does not understand */
		if (!v->keep && keel_batch_foreach(buf + pos, blen, (size_t)64 << 20, fn, v) != KERR_NONE)
			v->keep = true;
		if (after)
			after(buf + pos, blen, pos + blen + KEEL_BATCH_HEADER_LEN > len, v, arg);
		pos += blen;
	}
}

typedef struct {
	int fd;
	bool failed;
	int64_t kept_bytes, dropped;
} cwrite_t;

static void write_kept(const uint8_t *batch, size_t blen, bool last, cvisit_t *v, void *arg)
{
	cwrite_t *w = arg;
	if (!(v->keep || last)) {
		w->dropped++;
		return;
	}
	for (size_t off = 0; off < blen && !w->failed;) {
		ssize_t n = write(w->fd, batch + off, blen - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			w->failed = true;
		else
			off += (size_t)n;
	}
	w->kept_bytes += (int64_t)blen;
}

/* Replace segment i with the file at cleaned (its new content). The index files go first, so
 * a crash at any point leaves a whole .log (old or new, the .swap rename is completed by log
 * opening) whose indexes are rebuilt. The old segment stays in use (its fd reads the old file)
 * until the new one is open and indexed. */
static int swap_segment(keel_log_t *log, size_t i, const char *cleaned, int64_t now_ms)
{
	keel_seg_t *old = log->segs[i], *seg = NULL;
	char swap[4096], logp[4096], oidx[4096], tidx[4096];
	bool truncated;
	if (seg_path(swap, sizeof(swap), log->dir, old->base, ".log.swap") != KEEL_OK ||
	    seg_path(logp, sizeof(logp), log->dir, old->base, ".log") != KEEL_OK ||
	    seg_path(oidx, sizeof(oidx), log->dir, old->base, ".index") != KEEL_OK ||
	    seg_path(tidx, sizeof(tidx), log->dir, old->base, ".timeindex") != KEEL_OK)
		return KEEL_ERR;
	unlink(oidx);
	unlink(tidx);
	if (log_fsync_dir(log->dir) != KEEL_OK || rename(cleaned, swap) < 0 || rename(swap, logp) < 0 ||
	    log_fsync_dir(log->dir) != KEEL_OK)
		return KEEL_ERR;
	if (seg_open(log->dir, old->base, now_ms, &seg) != KEEL_OK)
		return KEEL_ERR;
	if (seg_recover(seg, &log->cfg, NULL, NULL, &truncated) != KEEL_OK || seg_deactivate(seg) != KEEL_OK) {
		seg_close(seg);
		return KEEL_ERR;
	}
	seg->created_ms = old->created_ms;
	log->segs[i] = seg;
	seg_close(old);
	return KEEL_OK;
}

int keel_log_clean(keel_log_t *log, int64_t limit, size_t max_map_bytes, int64_t now_ms,
		   keel_clean_stats_t *st)
{
	cmap_t map = { .max_bytes = max_map_bytes };
	cvisit_t v = { &map, false };
	size_t n = 0;
	int rc = KEEL_OK;
	memset(st, 0, sizeof(*st));
	/* the closed segments wholly below the limit */
	while (n + 1 < log->nsegs && log->segs[n]->next_offset <= limit)
		n++;
	if (!n || log->segs[n - 1]->next_offset <= log->cleaned_to)
		return KEEL_OK; /* no segment closed since the last pass */
	for (size_t i = 0; i < n && !map.full; i++) {
		uint8_t *buf = read_segment(log->segs[i]);
		if (!buf) {
			cmap_free(&map);
			return KEEL_ERR;
		}
		each_batch(buf, (size_t)log->segs[i]->size, map_record, &v, NULL, NULL);
		free(buf);
	}
	if (map.full) { /* more keys than the dedupe buffer holds: wait for a bigger one */
		klog_warn("log", "%s: not compacted: the keys need more than %zu bytes", log->dir,
			  max_map_bytes);
		cmap_free(&map);
		return KEEL_OK;
	}
	for (size_t i = 0; i < n && rc == KEEL_OK; i++) {
		keel_seg_t *seg = log->segs[i];
		char cleaned[4096];
		cwrite_t w = { -1, false, 0, 0 };
		uint8_t *buf = read_segment(seg);
		int64_t before = seg->size;
		if (!buf || seg_path(cleaned, sizeof(cleaned), log->dir, seg->base, ".log.cleaned") != KEEL_OK) {
			free(buf);
			rc = KEEL_ERR;
			break;
		}
		w.fd = open(cleaned, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (w.fd < 0) {
			free(buf);
			rc = KEEL_ERR;
			break;
		}
		each_batch(buf, (size_t)seg->size, keep_record, &v, write_kept, &w);
		free(buf);
		if (w.failed || fsync(w.fd) < 0)
			rc = KEEL_ERR;
		close(w.fd);
		if (rc != KEEL_OK || !w.dropped) {
			unlink(cleaned); /* nothing to drop here (or failed): the segment stays */
			continue;
		}
		rc = swap_segment(log, i, cleaned, now_ms);
		st->segments++;
		st->batches_dropped += w.dropped;
		st->bytes_before += before;
		st->bytes_after += w.kept_bytes;
	}
	cmap_free(&map);
	if (rc != KEEL_OK)
		klog_error("log", "%s: compaction failed: %s", log->dir, strerror(errno));
	else
		log->cleaned_to = log->segs[n - 1]->next_offset;
	return rc;
}
