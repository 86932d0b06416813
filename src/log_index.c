/* src/log_index.c: the mmapped sparse .index and .timeindex files of one segment. */
#include "log_internal.h"
#include "batch.h"
#include "logger.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int kidx_map(kidx_t *ix, int fd, size_t len)
{
	ix->map = NULL;
	ix->map_len = 0;
	ix->cap = 0;
	if (len == 0)
		return KEEL_OK;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		klog_error("log", "mmap %s: %s", ix->path, strerror(errno));
		return KEEL_ERR;
	}
	/* No readahead: a fault in the sparse tail would otherwise fill a whole window of zero pages
	 * (about 2 ms of the event loop for the first entry of every new index file), and lookups
	 * are binary searches anyway. */
	if (madvise(p, len, MADV_RANDOM) < 0)
		klog_warn("log", "madvise %s: %s", ix->path, strerror(errno));
	ix->map = p;
	ix->map_len = len;
	ix->cap = len / ix->esz;
	return KEEL_OK;
}

static void kidx_unmap(kidx_t *ix)
{
	if (ix->map)
		munmap(ix->map, ix->map_len);
	ix->map = NULL;
	ix->map_len = 0;
	ix->cap = 0;
}

int kidx_open(kidx_t *ix, const char *path, unsigned esz, bool *valid)
{
	struct stat st;
	int fd, rc;

	memset(ix, 0, sizeof(*ix));
	ix->esz = esz;
	ix->path = strdup(path);
	if (!ix->path)
		return KEEL_NOMEM;
	*valid = access(path, F_OK) == 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || fstat(fd, &st) < 0) {
		klog_error("log", "open %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return KEEL_ERR;
	}
	if (st.st_size % esz != 0) {
		*valid = false;
		if (ftruncate(fd, 0) < 0) {
			close(fd);
			return KEEL_ERR;
		}
		st.st_size = 0;
	}
	rc = kidx_map(ix, fd, (size_t)st.st_size);
	close(fd);
	ix->n = ix->cap;
	return rc;
}

int kidx_create(kidx_t *ix, const char *path, unsigned esz, int32_t max_bytes)
{
	size_t len = max_bytes > 0 ? (size_t)max_bytes / esz * esz : 0;
	int fd, rc;

	memset(ix, 0, sizeof(*ix));
	ix->esz = esz;
	if (!(ix->path = strdup(path)))
		return KEEL_NOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)len) < 0) {
		klog_error("log", "create %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return KEEL_ERR;
	}
	rc = kidx_map(ix, fd, len);
	close(fd);
	return rc;
}

int kidx_resize(kidx_t *ix, size_t cap)
{
	size_t n = ix->n < cap ? ix->n : cap;
	size_t len = cap * ix->esz;
	int fd, rc;

	if (ix->map && len == ix->map_len)
		return KEEL_OK;
	kidx_unmap(ix);
	fd = open(ix->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		klog_error("log", "open %s: %s", ix->path, strerror(errno));
		ix->n = 0;
		return KEEL_ERR;
	}
	if (ftruncate(fd, (off_t)len) < 0) {
		klog_error("log", "resize %s: %s", ix->path, strerror(errno));
		close(fd);
		ix->n = 0;
		return KEEL_ERR;
	}
	rc = kidx_map(ix, fd, len);
	close(fd);
	ix->n = rc == KEEL_OK ? n : 0;
	return rc;
}

int kidx_activate(kidx_t *ix, int32_t max_bytes)
{
	size_t cap = max_bytes > 0 ? (size_t)max_bytes / ix->esz : 0;

	if (cap < ix->n)
		cap = ix->n;
	return kidx_resize(ix, cap);
}

int kidx_trim(kidx_t *ix)
{
	return kidx_resize(ix, ix->n);
}

int kidx_sync(kidx_t *ix)
{
	if (ix->map && msync(ix->map, ix->map_len, MS_SYNC) < 0) {
		klog_error("log", "msync %s: %s", ix->path, strerror(errno));
		return KEEL_ERR;
	}
	return KEEL_OK;
}

void kidx_close(kidx_t *ix)
{
	kidx_unmap(ix);
	free(ix->path);
	ix->path = NULL;
	ix->n = 0;
}

void kidx_remove(kidx_t *ix)
{
	if (ix->path)
		unlink(ix->path);
	kidx_close(ix);
}

bool kidx_full(const kidx_t *ix)
{
	return ix->n >= ix->cap;
}

int32_t kidx_rel(const kidx_t *ix, size_t i)
{
	const uint8_t *e = ix->map + i * ix->esz;
	return kb_get32(ix->esz == KLOG_OIDX_ENTRY ? e : e + 8);
}

int32_t kidx_pos(const kidx_t *ix, size_t i)
{
	return kb_get32(ix->map + i * ix->esz + 4);
}

int64_t kidx_ts(const kidx_t *ix, size_t i)
{
	return kb_get64(ix->map + i * ix->esz);
}

void kidx_append_off(kidx_t *ix, int32_t rel, int32_t pos)
{
	uint8_t *e;

	if (kidx_full(ix))
		return;
	e = ix->map + ix->n * ix->esz;
	kb_put32(e, rel);
	kb_put32(e + 4, pos);
	ix->n++;
}

void kidx_append_time(kidx_t *ix, int64_t ts, int32_t rel)
{
	uint8_t *e;

	if (kidx_full(ix))
		return;
	e = ix->map + ix->n * ix->esz;
	kb_put64(e, ts);
	kb_put32(e + 8, rel);
	ix->n++;
}

void kidx_put_last_time(kidx_t *ix, int64_t ts, int32_t rel)
{
	if (ix->n > 0 && ts <= kidx_ts(ix, ix->n - 1))
		return;
	if (kidx_full(ix) && ix->n > 0)
		ix->n--;        /* still correct: max-so-far over a longer prefix */
	kidx_append_time(ix, ts, rel);
}

/* Number of leading entries for which pred holds (pred is prefix-closed). */
#define KIDX_PARTITION(ix, pred)                          \
	({                                                \
		size_t lo_ = 0, hi_ = (ix)->n;            \
		while (lo_ < hi_) {                       \
			size_t i = lo_ + (hi_ - lo_) / 2; \
			if (pred)                         \
				lo_ = i + 1;              \
			else                              \
				hi_ = i;                  \
		}                                         \
		lo_;                                      \
	})

ssize_t kidx_lookup_off(const kidx_t *ix, int64_t rel)
{
	return (ssize_t)KIDX_PARTITION(ix, kidx_rel(ix, i) <= rel) - 1;
}

ssize_t kidx_lookup_time_below(const kidx_t *ix, int64_t ts)
{
	return (ssize_t)KIDX_PARTITION(ix, kidx_ts(ix, i) < ts) - 1;
}

ssize_t kidx_lookup_bounded(const kidx_t *ix, int64_t pos_limit, int64_t rel_limit)
{
	return (ssize_t)KIDX_PARTITION(ix, kidx_pos(ix, i) <= pos_limit &&
					       kidx_rel(ix, i) < rel_limit) - 1;
}

void kidx_truncate_pos(kidx_t *ix, int64_t pos)
{
	ix->n = KIDX_PARTITION(ix, kidx_pos(ix, i) < pos);
}

void kidx_truncate_rel(kidx_t *ix, int64_t rel)
{
	ix->n = KIDX_PARTITION(ix, kidx_rel(ix, i) < rel);
}

bool kidx_check_off(const kidx_t *ix, int64_t log_size, int64_t rel_end)
{
	for (size_t i = 0; i < ix->n; i++) {
		int32_t rel = kidx_rel(ix, i), pos = kidx_pos(ix, i);

		if (rel < 0 || pos <= 0 || pos >= log_size || rel >= rel_end)
			return false;
		if (i > 0 && (rel <= kidx_rel(ix, i - 1) || pos <= kidx_pos(ix, i - 1)))
			return false;
	}
	return true;
}

bool kidx_check_time(const kidx_t *ix, int64_t rel_end)
{
	for (size_t i = 0; i < ix->n; i++) {
		int32_t rel = kidx_rel(ix, i);
		int64_t ts = kidx_ts(ix, i);

		if (rel < 0 || rel >= rel_end || ts < 0)
			return false;
		if (i > 0 && (ts <= kidx_ts(ix, i - 1) || rel < kidx_rel(ix, i - 1)))
			return false;
	}
	return true;
}
