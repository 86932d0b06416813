/* src/topic_config.c: the topic-level configs Kafka knows (LogConfig), with its types and valid
 * ranges: CreateTopics and keel-topics.sh refuse an unknown name or a bad value with
 * INVALID_CONFIG, and a broker reading /config/topics/<t> uses no value that fails here. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { TC_INT, TC_LONG, TC_DOUBLE, TC_BOOL, TC_ENUM, TC_LIST, TC_VERSION, TC_THROTTLED } tc_type_t;

typedef struct {
	const char *name;
	tc_type_t type;
	int64_t min;             /* TC_INT, TC_LONG: at least this (INT64_MIN: no bound) */
	const char *const *in;   /* TC_ENUM, TC_LIST: the valid values */
} tc_def_t;

static const char *const g_cleanup[] = { "compact", "delete", NULL };
static const char *const g_codecs[] = { "uncompressed", "zstd", "lz4", "snappy", "gzip", "producer", NULL };
static const char *const g_ts_types[] = { "CreateTime", "LogAppendTime", NULL };

static const tc_def_t g_defs[] = {
	{ "cleanup.policy", TC_LIST, 0, g_cleanup },
	{ "compression.type", TC_ENUM, 0, g_codecs },
	{ "delete.retention.ms", TC_LONG, 0, NULL },
	{ "file.delete.delay.ms", TC_LONG, 0, NULL },
	{ "flush.messages", TC_LONG, 0, NULL },
	{ "flush.ms", TC_LONG, 0, NULL },
	{ "follower.replication.throttled.replicas", TC_THROTTLED, 0, NULL },
	{ "index.interval.bytes", TC_INT, 0, NULL },
	{ "leader.replication.throttled.replicas", TC_THROTTLED, 0, NULL },
	{ "max.compaction.lag.ms", TC_LONG, 1, NULL },
	{ "max.message.bytes", TC_INT, 0, NULL },
	{ "message.downconversion.enable", TC_BOOL, 0, NULL },
	{ "message.format.version", TC_VERSION, 0, NULL },
	{ "message.timestamp.difference.max.ms", TC_LONG, 0, NULL },
	{ "message.timestamp.type", TC_ENUM, 0, g_ts_types },
	{ "min.cleanable.dirty.ratio", TC_DOUBLE, 0, NULL },
	{ "min.compaction.lag.ms", TC_LONG, 0, NULL },
	{ "min.insync.replicas", TC_INT, 1, NULL },
	{ "preallocate", TC_BOOL, 0, NULL },
	{ "retention.bytes", TC_LONG, INT64_MIN, NULL },
	{ "retention.ms", TC_LONG, -1, NULL },
	{ "segment.bytes", TC_INT, 14, NULL },
	{ "segment.index.bytes", TC_INT, 0, NULL },
	{ "segment.jitter.ms", TC_LONG, 0, NULL },
	{ "segment.ms", TC_LONG, 1, NULL },
	{ "unclean.leader.election.enable", TC_BOOL, 0, NULL },
};

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* [start, end) of s without surrounding blanks (Kafka trims values before parsing). */
static void trim(const char *s, const char **start, const char **end)
{
	*start = s;
	*end = s + strlen(s);
	while (*start < *end && isspace((unsigned char)**start))
		(*start)++;
	while (*end > *start && isspace((unsigned char)(*end)[-1]))
		(*end)--;
}

/* A whole decimal integer, as Java's Long.parseLong reads one. */
static bool parse_i64(const char *s, int64_t *out)
{
	const char *a, *z;
	char buf[32], *end;
	trim(s, &a, &z);
	if (z == a || (size_t)(z - a) >= sizeof(buf))
		return false;
	memcpy(buf, a, (size_t)(z - a));
	buf[z - a] = '\0';
	if (!isdigit((unsigned char)buf[buf[0] == '-' || buf[0] == '+']))
		return false;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool in_list(const char *const *in, const char *a, size_t n)
{
	for (; *in; in++)
		if (strlen(*in) == n && !strncmp(*in, a, n))
			return true;
	return false;
}

/* Every comma-separated item of a list value passes ok(item, len). */
static bool each_item(const char *v, bool (*ok)(const char *, size_t, const void *), const void *arg)
{
	const char *p = v;
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *e = comma ? comma : p + strlen(p);
		const char *a = p;
		while (a < e && isspace((unsigned char)*a))
			a++;
		while (e > a && isspace((unsigned char)e[-1]))
			e--;
		if (e > a && !ok(a, (size_t)(e - a), arg))
			return false;
		if (!comma)
			return true;
		p = comma + 1;
	}
}

static bool item_in(const char *a, size_t n, const void *in)
{
	return in_list(in, a, n);
}

/* "partition:broker" (Kafka's ThrottledReplicaListValidator; "*" alone is handled apart). */
static bool item_throttled(const char *a, size_t n, const void *unused)
{
	size_t i = 0, digits = 0;
	(void)unused;
	while (i < n && isdigit((unsigned char)a[i]))
		i++, digits++;
	if (!digits || i >= n || a[i++] != ':')
		return false;
	for (digits = 0; i < n && isdigit((unsigned char)a[i]); i++)
		digits++;
	return digits && i == n;
}

/* A Kafka version such as 2.8, 0.10.2 or 2.1-IV2. */
static bool version_ok(const char *v)
{
	const char *a, *z;
	int parts = 0;
	trim(v, &a, &z);
	while (a < z && isdigit((unsigned char)*a)) {
		while (a < z && isdigit((unsigned char)*a))
			a++;
		parts++;
		if (a < z && *a == '.')
			a++;
		else
			break;
	}
	if (a < z && *a == '-') {
		if (z - a < 4 || a[1] != 'I' || a[2] != 'V')
			return false;
		for (a += 3; a < z; a++)
			if (!isdigit((unsigned char)*a))
				return false;
	}
	return parts >= 2 && a == z;
}

int keel_topic_config_check(const char *key, const char *value, char *err, size_t errlen)
{
	const tc_def_t *d = NULL;
	int64_t n;
	for (size_t i = 0; i < sizeof(g_defs) / sizeof(g_defs[0]) && !d; i++)
		if (!strcmp(g_defs[i].name, key))
			d = &g_defs[i];
	if (!d)
		return bad(err, errlen, "Unknown topic config name: %s", key);
	if (!value)
		return bad(err, errlen, "Null value not supported for topic configs: %s", key);
	switch (d->type) {
	case TC_INT:
	case TC_LONG:
		if (!parse_i64(value, &n) || (d->type == TC_INT && (n < INT32_MIN || n > INT32_MAX)))
			return bad(err, errlen, "Invalid value %s for configuration %s: Not a number of type %s",
				   value, key, d->type == TC_INT ? "INT" : "LONG");
		if (d->min != INT64_MIN && n < d->min)
			return bad(err, errlen, "Invalid value %s for configuration %s: Value must be at least %" PRId64,
				   value, key, d->min);
		return 0;
	case TC_DOUBLE: {
		const char *a, *z;
		char buf[64], *end;
		trim(value, &a, &z);
		if (z == a || (size_t)(z - a) >= sizeof(buf))
			return bad(err, errlen, "Invalid value %s for configuration %s: Not a number of type DOUBLE",
				   value, key);
		memcpy(buf, a, (size_t)(z - a));
		buf[z - a] = '\0';
		double x = strtod(buf, &end);
		if (*end)
			return bad(err, errlen, "Invalid value %s for configuration %s: Not a number of type DOUBLE",
				   value, key);
		if (!(x >= 0.0 && x <= 1.0))
			return bad(err, errlen, "Invalid value %s for configuration %s: Value must be between 0 and 1",
				   value, key);
		return 0;
	}
	case TC_BOOL: {
		const char *a, *z;
		trim(value, &a, &z);
		if (!((z - a == 4 && !strncasecmp(a, "true", 4)) || (z - a == 5 && !strncasecmp(a, "false", 5))))
			return bad(err, errlen, "Invalid value %s for configuration %s: Expected value to be either true or false",
				   value, key);
		return 0;
	}
	case TC_ENUM: {
		const char *a, *z;
		trim(value, &a, &z);
		if (!in_list(d->in, a, (size_t)(z - a)))
			return bad(err, errlen, "Invalid value %s for configuration %s: String must be one of the valid values",
				   value, key);
		return 0;
	}
	case TC_LIST:
		if (!each_item(value, item_in, d->in))
			return bad(err, errlen, "Invalid value %s for configuration %s: every item must be one of the valid values",
				   value, key);
		return 0;
	case TC_VERSION:
		if (!version_ok(value))
			return bad(err, errlen, "Invalid value %s for configuration %s: not a Kafka version", value, key);
		return 0;
	case TC_THROTTLED: {
		const char *a, *z;
		trim(value, &a, &z);
		if ((z - a == 1 && *a == '*') || each_item(value, item_throttled, NULL))
			return 0;
		return bad(err, errlen, "Invalid value %s for configuration %s: must be * or a list of partition:broker",
			   value, key);
	}
	}
	return 0;
}

int keel_topic_configs_check(int n, const char *const *keys, const char *const *values, char *err, size_t errlen)
{
	int64_t min_lag = 0, max_lag = INT64_MAX, v;
	for (int i = 0; i < n; i++) {
		if (keel_topic_config_check(keys[i], values[i], err, errlen) != 0)
			return -1;
		if (!strcmp(keys[i], "min.compaction.lag.ms") && parse_i64(values[i], &v))
			min_lag = v;
		else if (!strcmp(keys[i], "max.compaction.lag.ms") && parse_i64(values[i], &v))
			max_lag = v;
	}
	if (min_lag > max_lag)
		return bad(err, errlen, "conflict topic config setting min.compaction.lag.ms (%" PRId64
			   ") > max.compaction.lag.ms (%" PRId64 ")", min_lag, max_lag);
	return 0;
}
