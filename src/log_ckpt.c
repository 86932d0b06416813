/* src/log_ckpt.c: per-log-dir checkpoint files in Kafka's text format, and partition directory names. */
#include "log.h"
#include "log_internal.h"
#include "logger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CKPT_MAX_ENTRIES 10000000

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return KEEL_ERR;
		buf += n;
		len -= (size_t)n;
	}
	return KEEL_OK;
}

static int fsync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t l = slash ? (size_t)(slash - path) : 1;
	int fd, rc = KEEL_OK;

	if (l >= sizeof(dir))
		return KEEL_ERR;
	if (!slash)
		memcpy(dir, ".", 2);
	else if (l == 0)
		memcpy(dir, "/", 2);
	else {
		memcpy(dir, path, l);
		dir[l] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = KEEL_ERR;
	if (fd >= 0)
		close(fd);
	return rc;
}

int log_write_atomic(const char *path, const char *text, size_t len, bool durable)
{
	char tmp[4200];
	int fd = -1, rc = KEEL_ERR;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return KEEL_ERR;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0 && write_all(fd, text, len) == KEEL_OK && (!durable || fsync(fd) == 0)) {
		close(fd);
		fd = -1;
		if (rename(tmp, path) == 0)
			rc = durable ? fsync_parent(path) : KEEL_OK;
	}
	if (rc != KEEL_OK)
		klog_error("log", "write %s: %s", path, strerror(errno));
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	return rc;
}

int keel_ckpt_write(const char *path, const keel_ckpt_entry_t *entries, size_t n)
{
	char *text = NULL;
	size_t text_len = 0;
	FILE *mem = open_memstream(&text, &text_len);
	int rc = KEEL_ERR;

	if (!mem)
		return KEEL_NOMEM;
	fprintf(mem, "0\n%zu\n", n);
	for (size_t i = 0; i < n; i++)
		fprintf(mem, "%s %" PRId32 " %" PRId64 "\n", entries[i].topic, entries[i].partition,
			entries[i].offset);
	if (fclose(mem) == 0 && text)
		rc = log_write_atomic(path, text, text_len, true);
	free(text);
	return rc;
}

/* Parse a whole decimal token into [lo, hi]. */
bool log_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* One "<topic> <partition> <offset>" line (whitespace-separated, nothing else). */
static bool parse_entry(char *line, keel_ckpt_entry_t *e)
{
	char *save = NULL;
	char *topic = strtok_r(line, " \t", &save);
	char *part = strtok_r(NULL, " \t", &save);
	char *off = strtok_r(NULL, " \t", &save);
	int64_t p, o;

	if (!topic || !log_parse_int(part, 0, INT32_MAX, &p) || !log_parse_int(off, INT64_MIN, INT64_MAX, &o) ||
	    strtok_r(NULL, " \t", &save) || !(e->topic = strdup(topic)))
		return false;
	e->partition = (int32_t)p;
	e->offset = o;
	return true;
}

/* Parse the file text (NUL-terminated, modified in place). */
static int ckpt_parse(char *text, keel_ckpt_entry_t **entries, size_t *n)
{
	char *line;
	int64_t version, count;
	keel_ckpt_entry_t *e = NULL;
	size_t got = 0;
	size_t tlen = strlen(text);

	/* Java's readLine: a final newline does not start another line */
	if (tlen && text[tlen - 1] == '\n')
		text[tlen - 1] = '\0';
	line = strsep(&text, "\n");
	if (!line || !log_parse_int(line, 0, 0, &version))
		return KEEL_CORRUPT;
	line = strsep(&text, "\n");
	if (!line || !log_parse_int(line, 0, CKPT_MAX_ENTRIES, &count))
		return KEEL_CORRUPT;
	if (count && !(e = calloc((size_t)count, sizeof(*e))))
		return KEEL_NOMEM;
	while ((line = strsep(&text, "\n")) != NULL) {
		if (got == (size_t)count || !parse_entry(line, &e[got])) {
			keel_ckpt_free(e, got);
			return KEEL_CORRUPT;
		}
		got++;
	}
	if (got != (size_t)count) {
		keel_ckpt_free(e, got);
		return KEEL_CORRUPT;
	}
	*entries = e;
	*n = got;
	return KEEL_OK;
}

int keel_ckpt_read(const char *path, keel_ckpt_entry_t **entries, size_t *n)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t cap = 0, len = 0;
	int rc;

	*entries = NULL;
	*n = 0;
	if (!f)
		return errno == ENOENT ? KEEL_OK : KEEL_ERR;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nt = realloc(text, cap = cap ? cap * 2 : 8192);
			if (!nt) {
				free(text);
				fclose(f);
				return KEEL_NOMEM;
			}
			text = nt;
		}
		size_t r = fread(text + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0)
			break;
	}
	rc = ferror(f) ? KEEL_ERR : KEEL_OK;
	fclose(f);
	if (rc == KEEL_OK) {
		text[len] = '\0';
		rc = strlen(text) == len ? ckpt_parse(text, entries, n) : KEEL_CORRUPT;
	}
	if (rc == KEEL_CORRUPT)
		klog_error("log", "malformed checkpoint file %s", path);
	free(text);
	return rc;
}

void keel_ckpt_free(keel_ckpt_entry_t *entries, size_t n)
{
	for (size_t i = 0; entries && i < n; i++)
		free(entries[i].topic);
	free(entries);
}

static bool ends_with(const char *s, const char *suf)
{
	size_t ls = strlen(s), lf = strlen(suf);

	return ls >= lf && strcmp(s + ls - lf, suf) == 0;
}

bool keel_log_deleted_dirname(const char *name)
{
	char copy[300], topic[256];
	size_t len = strlen(name);
	int32_t part;
	const char *dot;

	if (!ends_with(name, "-delete") || len >= sizeof(copy))
		return false;
	memcpy(copy, name, len - 7); /* without "-delete" */
	copy[len - 7] = '\0';
	dot = strrchr(copy, '.');
	if (!dot || strlen(dot + 1) != 32 || strspn(dot + 1, "0123456789abcdef") != 32)
		return false;
	copy[dot - copy] = '\0';
	return keel_log_parse_dirname(copy, topic, &part);
}

bool keel_log_parse_dirname(const char *name, char *topic, int32_t *partition)
{
	const char *dash = strrchr(name, '-');
	int64_t p;
	size_t tlen;

	if (!dash || ends_with(name, "-delete") || ends_with(name, "-future"))
		return false;
	tlen = (size_t)(dash - name);
	if (tlen == 0 || tlen > 255 || dash[1] < '0' || dash[1] > '9' ||
	    !log_parse_int(dash + 1, 0, INT32_MAX, &p))
		return false;
	memcpy(topic, name, tlen);
	topic[tlen] = '\0';
	*partition = (int32_t)p;
	return true;
}
