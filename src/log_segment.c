/* src/log_segment.c: one segment's files: open/create, append, header scans, recovery, directory cleanup. */
#include "log_internal.h"
#include "batch.h"
#include "logger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int seg_path(char *out, size_t outlen, const char *dir, int64_t base, const char *ext)
{
	int n = snprintf(out, outlen, "%s/%020" PRId64 "%s", dir, base, ext);

	return n < 0 || (size_t)n >= outlen ? KEEL_ERR : KEEL_OK;
}

ssize_t seg_pread_full(int fd, void *buf, size_t len, int64_t pos)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)pos + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int seg_pwrite_full(int fd, const uint8_t *buf, size_t len, int64_t pos)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, buf + done, len - done, (off_t)pos + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return KEEL_ERR;
		}
		done += (size_t)n;
	}
	return KEEL_OK;
}

static void seg_reset_state(keel_seg_t *seg)
{
	seg->next_offset = seg->base;
	seg->bytes_since_index = 0;
	seg->max_ts = KLOG_NO_TIMESTAMP;
	seg->max_ts_offset = -1;
	seg->first_ts = KLOG_NO_TIMESTAMP;
}

/* Open the segment's indexes, or with create (index_bytes >= 0) create them active. */
static int seg_open_indexes(keel_seg_t *seg, const char *dir, int32_t index_bytes)
{
	char opath[4096], tpath[4096];
	bool v1 = true, v2 = true;

	if (seg_path(opath, sizeof(opath), dir, seg->base, ".index") != KEEL_OK ||
	    seg_path(tpath, sizeof(tpath), dir, seg->base, ".timeindex") != KEEL_OK)
		return KEEL_ERR;
	if (index_bytes >= 0)
		return kidx_create(&seg->oidx, opath, KLOG_OIDX_ENTRY, index_bytes) == KEEL_OK &&
		       kidx_create(&seg->tidx, tpath, KLOG_TIDX_ENTRY, index_bytes) == KEEL_OK ? KEEL_OK : KEEL_ERR;
	if (kidx_open(&seg->oidx, opath, KLOG_OIDX_ENTRY, &v1) != KEEL_OK ||
	    kidx_open(&seg->tidx, tpath, KLOG_TIDX_ENTRY, &v2) != KEEL_OK)
		return KEEL_ERR;
	seg->need_rebuild = !v1 || !v2;
	return KEEL_OK;
}

/* seg_open, or with index_bytes >= 0 seg_create. */
static int seg_open_or_create(const char *dir, int64_t base, int64_t now_ms, int32_t index_bytes,
			      keel_seg_t **out)
{
	char path[4096];
	struct stat st;
	bool create = index_bytes >= 0;
	keel_seg_t *seg = calloc(1, sizeof(*seg));

	if (!seg)
		return KEEL_NOMEM;
	seg->fd = -1;
	seg->base = base;
	seg->created_ms = now_ms;
	seg_reset_state(seg);
	if (seg_path(path, sizeof(path), dir, base, ".log") != KEEL_OK ||
	    !(seg->path = strdup(path)))
		goto fail;
	seg->fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0644);
	if (seg->fd < 0 || (!create && fstat(seg->fd, &st) < 0)) {
		klog_error("log", "open %s: %s", path, strerror(errno));
		goto fail;
	}
	seg->size = create ? 0 : st.st_size;
	if (seg_open_indexes(seg, dir, index_bytes) != KEEL_OK)
		goto fail;
	*out = seg;
	return KEEL_OK;
fail:
	seg_close(seg);
	return KEEL_ERR;
}

int seg_open(const char *dir, int64_t base, int64_t now_ms, keel_seg_t **out)
{
	return seg_open_or_create(dir, base, now_ms, -1, out);
}

int seg_create(const char *dir, int64_t base, int64_t now_ms, int32_t index_bytes, keel_seg_t **out)
{
	return seg_open_or_create(dir, base, now_ms, index_bytes < 0 ? 0 : index_bytes, out);
}

void seg_close(keel_seg_t *seg)
{
	if (!seg)
		return;
	if (seg->fd >= 0)
		close(seg->fd);
	kidx_close(&seg->oidx);
	kidx_close(&seg->tidx);
	free(seg->path);
	free(seg);
}

void seg_destroy(keel_seg_t *seg)
{
	if (!seg)
		return;
	if (seg->path)
		unlink(seg->path);
	kidx_remove(&seg->oidx);
	kidx_remove(&seg->tidx);
	seg_close(seg);
}

void seg_reader_init(seg_reader_t *rd, const keel_seg_t *seg)
{
	rd->seg = seg;
	rd->win_pos = 0;
	rd->win_len = 0;
}

int seg_read_hdr(seg_reader_t *rd, int64_t pos, seg_hdr_t *h)
{
	const keel_seg_t *seg = rd->seg;
	const uint8_t *p;
	int32_t length, lod;

	if (pos >= seg->size)
		return 0;
	if (seg->size - pos < KEEL_BATCH_HEADER_LEN)
		return KEEL_CORRUPT;
	if (pos < rd->win_pos || pos + KEEL_BATCH_HEADER_LEN > rd->win_pos + (int64_t)rd->win_len) {
		int64_t want = seg->size - pos;
		ssize_t n;

		if (want > KLOG_READER_WINDOW)
			want = KLOG_READER_WINDOW;
		n = seg_pread_full(seg->fd, rd->win, (size_t)want, pos);
		if (n < 0) {
			klog_error("log", "read %s at %" PRId64 ": %s", seg->path, pos, strerror(errno));
			return KEEL_ERR;
		}
		rd->win_pos = pos;
		rd->win_len = (size_t)n;
		if (n < KEEL_BATCH_HEADER_LEN)
			return KEEL_CORRUPT;
	}
	p = rd->win + (pos - rd->win_pos);
	length = kb_get32(p + KB_OFF_LENGTH);
	lod = kb_get32(p + KB_OFF_LAST_OFFSET_DELTA);
	if (p[KB_OFF_MAGIC] != 2 || length < KEEL_BATCH_HEADER_LEN - KEEL_BATCH_LOG_OVERHEAD ||
	    lod < 0 || (int64_t)length + KEEL_BATCH_LOG_OVERHEAD > seg->size - pos)
		return KEEL_CORRUPT;
	h->pos = pos;
	h->base = kb_get64(p + KB_OFF_BASE_OFFSET);
	h->last = h->base + lod;
	h->max_ts = kb_get64(p + KB_OFF_MAX_TIMESTAMP);
	h->size = (int64_t)length + KEEL_BATCH_LOG_OVERHEAD;
	h->attributes = kb_get16(p + KB_OFF_ATTRIBUTES);
	h->epoch = kb_get32(p + KB_OFF_LEADER_EPOCH);
	return 1;
}

int seg_find(seg_reader_t *rd, int64_t offset, seg_hdr_t *h)
{
	const keel_seg_t *seg = rd->seg;
	ssize_t i = kidx_lookup_off(&seg->oidx, offset - seg->base);
	int64_t pos = i >= 0 ? kidx_pos(&seg->oidx, (size_t)i) : 0;
	int rc;

	while ((rc = seg_read_hdr(rd, pos, h)) == 1) {
		if (h->last >= offset)
			return 1;
		pos += h->size;
	}
	return rc;
}

/* Index bookkeeping for a batch written (or found) at pos, as Kafka's LogSegment.append. */
static void seg_index_batch(keel_seg_t *seg, const keel_log_config_t *cfg, int64_t pos,
			    int64_t last, int64_t max_ts, int64_t size)
{
	if (max_ts > seg->max_ts) {
		seg->max_ts = max_ts;
		seg->max_ts_offset = last;
	}
	if (seg->bytes_since_index > cfg->index_interval_bytes) {
		kidx_append_off(&seg->oidx, (int32_t)(last - seg->base), (int32_t)pos);
		if (seg->max_ts > (seg->tidx.n ? kidx_ts(&seg->tidx, seg->tidx.n - 1) : KLOG_NO_TIMESTAMP))
			kidx_append_time(&seg->tidx, seg->max_ts, (int32_t)(seg->max_ts_offset - seg->base));
		seg->bytes_since_index = 0;
	}
	seg->bytes_since_index += size;
	if (pos == 0)
		seg->first_ts = max_ts;
	seg->next_offset = last + 1;
}

int seg_append(keel_seg_t *seg, const keel_log_config_t *cfg, const uint8_t *buf, size_t len)
{
	int64_t pos = seg->size;
	int64_t base = kb_get64(buf + KB_OFF_BASE_OFFSET);
	int64_t last = base + kb_get32(buf + KB_OFF_LAST_OFFSET_DELTA);

	if (seg_pwrite_full(seg->fd, buf, len, pos) != KEEL_OK) {
		int err = errno;

		if (ftruncate(seg->fd, (off_t)pos) < 0)
			klog_error("log", "truncate after failed write %s: %s", seg->path,
				   strerror(errno));
		klog_error("log", "write segment %020" PRId64 ": %s", seg->base, strerror(err));
		errno = err;
		return KEEL_ERR;
	}
	seg->size += (int64_t)len;
	seg->dirty = true;
	seg_index_batch(seg, cfg, pos, last, kb_get64(buf + KB_OFF_MAX_TIMESTAMP), (int64_t)len);
	return KEEL_OK;
}

/* Read and check the whole batch at pos into *buf. 1 = good (*h filled), 0 = bad or torn,
 * KEEL_ERR = I/O error. */
static int seg_read_checked(keel_seg_t *seg, int64_t pos, uint8_t **buf, size_t *cap, seg_hdr_t *h)
{
	uint8_t pre[KEEL_BATCH_LOG_OVERHEAD];
	int32_t length, lod;
	size_t total;

	if (seg->size - pos < KEEL_BATCH_HEADER_LEN)
		return 0;
	if (seg_pread_full(seg->fd, pre, sizeof(pre), pos) != (ssize_t)sizeof(pre))
		return KEEL_ERR;
	length = kb_get32(pre + KB_OFF_LENGTH);
	if (length < KEEL_BATCH_HEADER_LEN - KEEL_BATCH_LOG_OVERHEAD ||
	    (int64_t)length + KEEL_BATCH_LOG_OVERHEAD > seg->size - pos)
		return 0;
	total = (size_t)length + KEEL_BATCH_LOG_OVERHEAD;
	if (total > *cap) {
		uint8_t *nb = realloc(*buf, total);
		if (!nb)
			return KEEL_ERR;
		*buf = nb;
		*cap = total;
	}
	if (seg_pread_full(seg->fd, *buf, total, pos) != (ssize_t)total)
		return KEEL_ERR;
	if (!keel_batch_crc_ok(*buf, total))
		return 0;
	lod = kb_get32(*buf + KB_OFF_LAST_OFFSET_DELTA);
	h->pos = pos;
	h->base = kb_get64(*buf + KB_OFF_BASE_OFFSET);
	h->last = h->base + lod;
	h->max_ts = kb_get64(*buf + KB_OFF_MAX_TIMESTAMP);
	h->size = (int64_t)total;
	h->attributes = kb_get16(*buf + KB_OFF_ATTRIBUTES);
	h->epoch = kb_get32(*buf + KB_OFF_LEADER_EPOCH);
	if (lod < 0 || h->base < seg->next_offset || h->last - seg->base > INT32_MAX)
		return 0;
	return 1;
}

int seg_recover(keel_seg_t *seg, const keel_log_config_t *cfg, seg_batch_fn on_batch, void *arg,
		bool *truncated)
{
	uint8_t *buf = NULL;
	size_t cap = 0;
	int64_t pos = 0;
	seg_hdr_t h;
	int rc = 0;

	*truncated = false;
	if (kidx_activate(&seg->oidx, cfg->index_size_max_bytes) != KEEL_OK ||
	    kidx_activate(&seg->tidx, cfg->index_size_max_bytes) != KEEL_OK)
		return KEEL_ERR;
	seg->oidx.n = 0;
	seg->tidx.n = 0;
	seg_reset_state(seg);
	while (pos < seg->size && (rc = seg_read_checked(seg, pos, &buf, &cap, &h)) == 1) {
		seg_index_batch(seg, cfg, pos, h.last, h.max_ts, h.size);
		if (on_batch)
			on_batch(arg, &h);
		pos += h.size;
	}
	free(buf);
	if (rc == KEEL_ERR) {
		klog_error("log", "recovering %s: read error: %s", seg->path, strerror(errno));
		return KEEL_ERR;
	}
	if (pos < seg->size) {
		klog_warn("log", "%s: corrupt or torn batch at position %" PRId64 ", truncating %" PRId64
			  " bytes", seg->path, pos, seg->size - pos);
		if (ftruncate(seg->fd, (off_t)pos) < 0) {
			klog_error("log", "truncate %s: %s", seg->path, strerror(errno));
			return KEEL_ERR;
		}
		seg->size = pos;
		*truncated = true;
	}
	seg->dirty = true;
	seg->need_rebuild = false;
	return KEEL_OK;
}

int seg_load_tail(keel_seg_t *seg, bool exact_max_ts)
{
	const kidx_t *ti = &seg->tidx, *oi = &seg->oidx;
	seg_reader_t *rd = malloc(sizeof(*rd));
	int64_t pos = oi->n ? kidx_pos(oi, oi->n - 1) : 0;
	seg_hdr_t h;
	int rc;

	if (!rd)
		return KEEL_NOMEM;
	seg_reset_state(seg);
	if (ti->n) {
		seg->max_ts = kidx_ts(ti, ti->n - 1);
		seg->max_ts_offset = seg->base + kidx_rel(ti, ti->n - 1);
		if (exact_max_ts) {
			ssize_t i = kidx_lookup_off(oi, kidx_rel(ti, ti->n - 1));
			pos = i >= 0 ? kidx_pos(oi, (size_t)i) : 0;
		}
	} else if (exact_max_ts) {
		pos = 0;
	}
	seg_reader_init(rd, seg);
	if (seg->size > 0 && (rc = seg_read_hdr(rd, 0, &h)) != 1)
		goto out;
	seg->first_ts = seg->size > 0 ? h.max_ts : KLOG_NO_TIMESTAMP;
	while ((rc = seg_read_hdr(rd, pos, &h)) == 1) {
		if (h.max_ts > seg->max_ts) {
			seg->max_ts = h.max_ts;
			seg->max_ts_offset = h.last;
		}
		seg->next_offset = h.last + 1;
		pos += h.size;
	}
	seg->bytes_since_index = seg->size - (oi->n ? kidx_pos(oi, oi->n - 1) : 0);
out:
	free(rd);
	return rc < 0 ? rc : KEEL_OK;
}

int seg_truncate_pos(keel_seg_t *seg, int64_t pos, int64_t next_offset)
{
	if (ftruncate(seg->fd, (off_t)pos) < 0) {
		klog_error("log", "truncate %s: %s", seg->path, strerror(errno));
		return KEEL_ERR;
	}
	seg->size = pos;
	seg->next_offset = next_offset;
	kidx_truncate_pos(&seg->oidx, pos);
	kidx_truncate_rel(&seg->tidx, next_offset - seg->base);
	seg->dirty = true;
	return KEEL_OK;
}

int seg_deactivate(keel_seg_t *seg)
{
	int rc;

	if (seg->max_ts >= 0 && seg->max_ts_offset >= seg->base)
		kidx_put_last_time(&seg->tidx, seg->max_ts, (int32_t)(seg->max_ts_offset - seg->base));
	rc = kidx_trim(&seg->oidx);
	if (kidx_trim(&seg->tidx) != KEEL_OK)
		rc = KEEL_ERR;
	return rc;
}

int seg_flush(keel_seg_t *seg)
{
	int rc = KEEL_OK;

	if (!seg->dirty)
		return KEEL_OK;
	if (fdatasync(seg->fd) < 0) {
		klog_error("log", "fdatasync segment %020" PRId64 ": %s", seg->base, strerror(errno));
		rc = KEEL_ERR;
	}
	if (kidx_sync(&seg->oidx) != KEEL_OK || kidx_sync(&seg->tidx) != KEEL_OK)
		rc = KEEL_ERR;
	if (rc == KEEL_OK)
		seg->dirty = false;
	return rc;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t ls = strlen(s), lf = strlen(suf);

	return ls >= lf && strcmp(s + ls - lf, suf) == 0;
}

/* "<20 digits><ext>" -> base offset. */
static bool parse_seg_name(const char *name, const char *ext, int64_t *base)
{
	int64_t v = 0;

	if (strlen(name) != KLOG_NAME_DIGITS + strlen(ext) || strcmp(name + KLOG_NAME_DIGITS, ext) != 0)
		return false;
	for (int i = 0; i < KLOG_NAME_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (name[i] - '0');
	}
	*base = v;
	return true;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Read every entry name of dfd's directory into a malloc'd array. */
static int list_names(DIR *d, char ***names, size_t *n)
{
	struct dirent *de;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			char **nn = realloc(*names, (cap = cap ? cap * 2 : 16) * sizeof(char *));
			if (!nn)
				return KEEL_NOMEM;
			*names = nn;
		}
		if (!((*names)[*n] = strdup(de->d_name)))
			return KEEL_NOMEM;
		(*n)++;
	}
	return KEEL_OK;
}

/* Delete temporary files and finish .swap renames; names[i] is set to NULL when gone. */
static void clean_names(int dfd, const char *dir, char **names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *nm = names[i];
		int64_t base;

		if (has_suffix(nm, ".tmp") || has_suffix(nm, ".cleaned") || has_suffix(nm, ".deleted")) {
			klog_info("log", "%s: removing leftover %s", dir, nm);
			unlinkat(dfd, nm, 0);
		} else if (has_suffix(nm, ".swap")) {
			nm[strlen(nm) - 5] = '\0';
			if (parse_seg_name(nm, ".log", &base)) {
				char idx[64];
				char swp[300];

				snprintf(swp, sizeof(swp), "%s.swap", nm);
				klog_info("log", "%s: completing swap of %s", dir, nm);
				if (renameat(dfd, swp, dfd, nm) < 0)
					klog_error("log", "%s: rename %s: %s", dir, swp, strerror(errno));
				snprintf(idx, sizeof(idx), "%020" PRId64 ".index", base);
				unlinkat(dfd, idx, 0);
				snprintf(idx, sizeof(idx), "%020" PRId64 ".timeindex", base);
				unlinkat(dfd, idx, 0);
				continue; /* keep the name: it is now a segment */
			}
			strcat(nm, ".swap");
			unlinkat(dfd, nm, 0);
		} else {
			continue;
		}
		free(nm);
		names[i] = NULL;
	}
}

static bool has_base(const int64_t *bases, size_t n, int64_t b)
{
	return keel_bsearch(&b, bases, n, sizeof(*bases), cmp_i64) != NULL;
}

int seg_list_dir(const char *dir, int64_t **bases, size_t *n)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t nn = 0, nb = 0;
	int64_t *b = NULL, base;
	int rc;

	if (!d) {
		klog_error("log", "opendir %s: %s", dir, strerror(errno));
		return KEEL_ERR;
	}
	rc = list_names(d, &names, &nn);
	if (rc == KEEL_OK) {
		clean_names(dirfd(d), dir, names, nn);
		b = malloc((nn ? nn : 1) * sizeof(*b));
		rc = b ? KEEL_OK : KEEL_NOMEM;
	}
	for (size_t i = 0; rc == KEEL_OK && i < nn; i++)
		if (names[i] && parse_seg_name(names[i], ".log", &base))
			b[nb++] = base;
	if (rc == KEEL_OK) {
		size_t u = 0;

		keel_qsort(b, nb, sizeof(*b), cmp_i64);
		for (size_t i = 0; i < nb; i++)
			if (u == 0 || b[u - 1] != b[i])
				b[u++] = b[i];
		nb = u;
		for (size_t i = 0; i < nn; i++) {
			if (names[i] && (parse_seg_name(names[i], ".index", &base) ||
					 parse_seg_name(names[i], ".timeindex", &base)) &&
			    !has_base(b, nb, base))
				unlinkat(dirfd(d), names[i], 0);
		}
	}
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	closedir(d);
	if (rc != KEEL_OK) {
		free(b);
		return rc;
	}
	*bases = b;
	*n = nb;
	return KEEL_OK;
}
