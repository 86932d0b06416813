/* src/config.c: server.properties parsing: one table of Kafka's keys (type, range, default),
 * Java-properties syntax, precedence rules (log.dirs/log.dir, log.roll.*, log.retention.*). */
#include "config.h"
#include "logger.h"

#include <ctype.h>
#include <errno.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef enum { K_INT, K_BOOL, K_STR, K_ENUM } key_kind_t;

typedef struct cfg_key cfg_key_t;

/* A hook run after the value parsed; it stores the value itself (precedence, lists). */
typedef int (*cfg_apply_fn)(keel_config_t *cfg, const cfg_key_t *k, const char *raw, int64_t v,
			    char *err, size_t errlen);

struct cfg_key {
	const char *name;
	key_kind_t kind;
	size_t off;          /* offset in keel_config_t, NOFIELD: validated, not stored */
	size_t size;         /* size of that field (2, 4 or 8 for integers) */
	int64_t min, max;    /* integers: inclusive range */
	const char *def;     /* default as text; NULL: none (unset) */
	const char *choices; /* K_ENUM: "a|b|c" */
	cfg_apply_fn apply;  /* NULL: store at off */
};

#define NOFIELD SIZE_MAX
#define FSIZE(f) sizeof(((keel_config_t *)0)->f)
#define INT(n, f, lo, hi, d) {n, K_INT, offsetof(keel_config_t, f), FSIZE(f), lo, hi, d, NULL, NULL}
#define BOOL(n, f, d) {n, K_BOOL, offsetof(keel_config_t, f), FSIZE(f), 0, 0, d, NULL, NULL}
#define STR(n, f, d) {n, K_STR, offsetof(keel_config_t, f), FSIZE(f), 0, 0, d, NULL, NULL}
#define ENUM(n, f, c, d) {n, K_ENUM, offsetof(keel_config_t, f), FSIZE(f), 0, 0, d, c, NULL}
#define HOOK(n, kind, lo, hi, d, c, fn) {n, kind, NOFIELD, 0, lo, hi, d, c, fn}
/* Known Kafka keys that keel accepts (type-checked) but does not use. */
#define ACCEPT_INT(n, lo, hi, d) {n, K_INT, NOFIELD, 0, lo, hi, d, NULL, NULL}
#define ACCEPT_BOOL(n, d) {n, K_BOOL, NOFIELD, 0, 0, 0, d, NULL, NULL}
#define ACCEPT_STR(n, d) {n, K_STR, NOFIELD, 0, 0, 0, d, NULL, NULL}

#define I16MAX INT16_MAX
#define I32MAX INT32_MAX
#define I64MAX INT64_MAX
#define I32MIN INT32_MIN
#define I64MIN INT64_MIN

#define DEFAULT_PROTOCOL_MAP "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"

static int apply_listeners(keel_config_t *, const cfg_key_t *, const char *, int64_t, char *, size_t);
static int apply_log_dirs(keel_config_t *, const cfg_key_t *, const char *, int64_t, char *, size_t);
static int apply_time(keel_config_t *, const cfg_key_t *, const char *, int64_t, char *, size_t);
static int apply_zk(keel_config_t *, const cfg_key_t *, const char *, int64_t, char *, size_t);
static int apply_misc(keel_config_t *, const cfg_key_t *, const char *, int64_t, char *, size_t);

/* Order matters only for defaults: a key's default is applied in table order. */
static const cfg_key_t g_keys[] = {
	INT("broker.id", broker_id, -1, I32MAX, "-1"),
	INT("reserved.broker.max.id", reserved_broker_max_id, 0, I32MAX, "1000"),
	INT("zookeeper.max.in.flight.requests", zookeeper_max_in_flight_requests, 1, I32MAX, "10"),
	BOOL("broker.id.generation.enable", broker_id_generation_enable, "true"),
	HOOK("listeners", K_STR, 0, 0, "PLAINTEXT://:9092", NULL, apply_listeners),
	HOOK("advertised.listeners", K_STR, 0, 0, NULL, NULL, apply_listeners),
	HOOK("listener.security.protocol.map", K_STR, 0, 0, DEFAULT_PROTOCOL_MAP, NULL, apply_misc),
	HOOK("inter.broker.listener.name", K_STR, 0, 0, NULL, NULL, apply_misc),
	HOOK("security.inter.broker.protocol", K_ENUM, 0, 0, "PLAINTEXT",
	     "PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL", apply_misc),
	STR("broker.rack", broker_rack, NULL),
	HOOK("log.dir", K_STR, 0, 0, "/tmp/kafka-logs", NULL, apply_log_dirs),
	HOOK("log.dirs", K_STR, 0, 0, NULL, NULL, apply_log_dirs),
	HOOK("zookeeper.connect", K_STR, 0, 0, NULL, NULL, apply_zk),
	HOOK("zookeeper.session.timeout.ms", K_INT, 1, I32MAX, "18000", NULL, apply_zk),
	HOOK("zookeeper.connection.timeout.ms", K_INT, 1, I32MAX, NULL, NULL, apply_zk),
	INT("num.partitions", num_partitions, 1, I32MAX, "1"),
	INT("default.replication.factor", default_replication_factor, 1, I16MAX, "1"),
	INT("min.insync.replicas", min_insync_replicas, 1, I32MAX, "1"),
	BOOL("auto.create.topics.enable", auto_create_topics_enable, "true"),
	BOOL("delete.topic.enable", delete_topic_enable, "true"),
	BOOL("unclean.leader.election.enable", unclean_leader_election_enable, "false"),
	INT("log.segment.bytes", log_segment_bytes, 14, I32MAX, "1073741824"),
	HOOK("log.roll.hours", K_INT, 1, I32MAX, "168", NULL, apply_time),
	HOOK("log.roll.ms", K_INT, 1, I64MAX, NULL, NULL, apply_time),
	INT("log.index.interval.bytes", log_index_interval_bytes, 0, I32MAX, "4096"),
	INT("log.index.size.max.bytes", log_index_size_max_bytes, 4, I32MAX, "10485760"),
	INT("log.flush.interval.messages", log_flush_interval_messages, 1, I64MAX,
	    "9223372036854775807"),
	INT("log.flush.interval.ms", log_flush_interval_ms, 0, I64MAX, NULL),
	HOOK("log.retention.hours", K_INT, I32MIN, I32MAX, "168", NULL, apply_time),
	HOOK("log.retention.minutes", K_INT, I32MIN, I32MAX, NULL, NULL, apply_time),
	HOOK("log.retention.ms", K_INT, I64MIN, I64MAX, NULL, NULL, apply_time),
	INT("log.retention.bytes", log_retention_bytes, I64MIN, I64MAX, "-1"),
	INT("log.retention.check.interval.ms", log_retention_check_interval_ms, 1, I64MAX, "300000"),
	INT("log.segment.delete.delay.ms", log_segment_delete_delay_ms, 0, I64MAX, "60000"),
	HOOK("log.cleanup.policy", K_STR, 0, 0, "delete", NULL, apply_misc),
	ENUM("compression.type", compression_type, "uncompressed|zstd|lz4|snappy|gzip|producer",
	     "producer"),
	INT("message.max.bytes", message_max_bytes, 0, I32MAX, "1048588"),
	INT("socket.request.max.bytes", socket_request_max_bytes, 1, I32MAX, "104857600"),
	INT("socket.send.buffer.bytes", socket_send_buffer_bytes, -1, I32MAX, "102400"),
	INT("socket.receive.buffer.bytes", socket_receive_buffer_bytes, -1, I32MAX, "102400"),
	INT("connections.max.idle.ms", connections_max_idle_ms, I64MIN, I64MAX, "600000"),
	INT("max.connections.per.ip", max_connections_per_ip, 0, I32MAX, "2147483647"),
	INT("max.connections", max_connections, 0, I32MAX, "2147483647"),
	STR("max.connections.per.ip.overrides", max_connections_per_ip_overrides, NULL),
	HOOK("log.message.timestamp.type", K_ENUM, 0, 0, "CreateTime", "CreateTime|LogAppendTime",
	     apply_misc),
	INT("log.message.timestamp.difference.max.ms", log_message_timestamp_difference_max_ms, 0,
	    I64MAX, "9223372036854775807"),
	INT("log.flush.offset.checkpoint.interval.ms", log_flush_offset_checkpoint_interval_ms, 0,
	    I32MAX, "60000"),
	INT("log.flush.start.offset.checkpoint.interval.ms",
	    log_flush_start_offset_checkpoint_interval_ms, 0, I32MAX, "60000"),
	INT("num.recovery.threads.per.data.dir", num_recovery_threads_per_data_dir, 1, I32MAX, "1"),
	BOOL("controlled.shutdown.enable", controlled_shutdown_enable, "true"),
	INT("controlled.shutdown.max.retries", controlled_shutdown_max_retries, 0, I32MAX, "3"),
	INT("controlled.shutdown.retry.backoff.ms", controlled_shutdown_retry_backoff_ms, 0, I64MAX,
	    "5000"),
	INT("replica.lag.time.max.ms", replica_lag_time_max_ms, 1, I64MAX, "30000"),
	INT("replica.fetch.max.bytes", replica_fetch_max_bytes, 0, I32MAX, "1048576"),
	INT("replica.fetch.min.bytes", replica_fetch_min_bytes, 1, I32MAX, "1"),
	INT("replica.fetch.wait.max.ms", replica_fetch_wait_max_ms, 0, I32MAX, "500"),
	INT("replica.fetch.backoff.ms", replica_fetch_backoff_ms, 0, I32MAX, "1000"),
	INT("replica.socket.timeout.ms", replica_socket_timeout_ms, 1, I32MAX, "30000"),
	INT("num.replica.fetchers", num_replica_fetchers, 1, I32MAX, "1"),
	INT("replica.high.watermark.checkpoint.interval.ms",
	    replica_high_watermark_checkpoint_interval_ms, 1, I64MAX, "5000"),
	INT("controller.socket.timeout.ms", controller_socket_timeout_ms, 1, I32MAX, "30000"),
	BOOL("auto.leader.rebalance.enable", auto_leader_rebalance_enable, "true"),
	INT("leader.imbalance.check.interval.seconds", leader_imbalance_check_interval_seconds, 1,
	    I64MAX, "300"),
	INT("leader.imbalance.per.broker.percentage", leader_imbalance_per_broker_percentage, 0,
	    100, "10"),
	INT("offsets.topic.replication.factor", offsets_topic_replication_factor, 1, I16MAX, "3"),
	INT("offsets.topic.num.partitions", offsets_topic_num_partitions, 1, I32MAX, "50"),
	INT("offsets.retention.minutes", offsets_retention_minutes, 1, I32MAX, "10080"),
	INT("transaction.state.log.replication.factor", transaction_state_log_replication_factor, 1,
	    I16MAX, "3"),
	INT("transaction.state.log.min.isr", transaction_state_log_min_isr, 1, I32MAX, "2"),
	INT("transaction.state.log.num.partitions", transaction_state_log_num_partitions, 1, I32MAX,
	    "50"),
	INT("group.initial.rebalance.delay.ms", group_initial_rebalance_delay_ms, 0, I32MAX, "3000"),
	INT("group.min.session.timeout.ms", group_min_session_timeout_ms, 0, I32MAX, "6000"),
	INT("group.max.session.timeout.ms", group_max_session_timeout_ms, 0, I32MAX, "1800000"),
	INT("group.max.size", group_max_size, 1, I32MAX, "2147483647"),
	BOOL("log.cleaner.enable", log_cleaner_enable, "true"),
	INT("log.cleaner.dedupe.buffer.size", log_cleaner_dedupe_buffer_size, 0, I64MAX, "134217728"),
	INT("log.cleaner.backoff.ms", log_cleaner_backoff_ms, 0, I64MAX, "15000"),
	INT("offsets.commit.timeout.ms", offsets_commit_timeout_ms, 1, I32MAX, "5000"),
	INT("offsets.topic.segment.bytes", offsets_topic_segment_bytes, 1, I32MAX, "104857600"),
	INT("offsets.retention.check.interval.ms", offsets_retention_check_interval_ms, 1, I64MAX,
	    "600000"),
	INT("offset.metadata.max.bytes", offset_metadata_max_bytes, 0, I32MAX, "4096"),
	ENUM("keel.log.level", keel_log_level, "error|warn|info|debug|trace", "info"),

	/* Accepted for compatibility with Kafka's files; not used by keel (yet). */
	ACCEPT_INT("num.network.threads", 1, I32MAX, "3"),
	ACCEPT_INT("num.io.threads", 1, I32MAX, "8"),
	ACCEPT_INT("background.threads", 1, I32MAX, "10"),
	ACCEPT_INT("queued.max.requests", 1, I32MAX, "500"),
	ACCEPT_INT("num.replica.alter.log.dirs.threads", 1, I32MAX, NULL),
	ACCEPT_INT("log.flush.scheduler.interval.ms", 0, I64MAX, "9223372036854775807"),
	ACCEPT_BOOL("log.preallocate", "false"),
	ACCEPT_INT("log.cleaner.threads", 0, I32MAX, "1"),
	ACCEPT_INT("log.cleaner.delete.retention.ms", 0, I64MAX, "86400000"),
	ACCEPT_STR("log.message.format.version", "2.8-IV1"),
	ACCEPT_STR("inter.broker.protocol.version", "2.8-IV1"),
	ACCEPT_BOOL("zookeeper.set.acl", "false"),
	ACCEPT_INT("offsets.load.buffer.size", 1, I32MAX, "5242880"),
	ACCEPT_INT("offsets.commit.required.acks", -1, I16MAX, "-1"),
	ACCEPT_INT("offsets.topic.compression.codec", 0, 4, "0"),
	ACCEPT_INT("transaction.max.timeout.ms", 1, I32MAX, "900000"),
	ACCEPT_INT("transactional.id.expiration.ms", 1, I32MAX, "604800000"),
	ACCEPT_INT("producer.purgatory.purge.interval.requests", I32MIN, I32MAX, "1000"),
	ACCEPT_INT("fetch.purgatory.purge.interval.requests", I32MIN, I32MAX, "1000"),
	BOOL("log.message.downconversion.enable", log_message_downconversion_enable, "true"),
};

/* Write "<key>: <why>" into err; returns KERR_INVALID_CONFIG for tail calls. */
static int __attribute__((format(printf, 4, 5)))
fail(char *err, size_t errlen, const char *key, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s: ", key);

	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return KERR_INVALID_CONFIG;
}

static const cfg_key_t *find_key(const char *name)
{
	for (size_t i = 0; i < KEEL_ARRAY_LEN(g_keys); i++)
		if (strcmp(g_keys[i].name, name) == 0)
			return &g_keys[i];
	return NULL;
}

static bool is_type_bound(int64_t v)
{
	return v == INT16_MIN || v == INT16_MAX || v == INT32_MIN || v == INT32_MAX ||
	       v == INT64_MIN || v == INT64_MAX;
}

/* Parse a whole decimal integer within [k->min, k->max]; err names the range on failure. */
static int parse_int(const cfg_key_t *k, const char *s, int64_t *out, char *err, size_t errlen)
{
	char *end;
	long long v;
	bool syntax;

	errno = 0;
	v = strtoll(s, &end, 10);
	syntax = end == s || *end != '\0' || isspace((unsigned char)*s);
	if (!syntax && errno == 0 && v >= k->min && v <= k->max) {
		*out = v;
		return KEEL_OK;
	}
	if (syntax && is_type_bound(k->min) && is_type_bound(k->max))
		return fail(err, errlen, k->name, "must be a %d-bit integer, got '%s'",
			    k->max == INT16_MAX ? 16 : k->max == INT32_MAX ? 32 : 64, s);
	if (syntax && is_type_bound(k->max))
		return fail(err, errlen, k->name, "must be an integer >= %lld, got '%s'",
			    (long long)k->min, s);
	return fail(err, errlen, k->name, "must be an integer between %lld and %lld, got '%s'",
		    (long long)k->min, (long long)k->max, s);
}

static int parse_bool(const cfg_key_t *k, const char *s, int64_t *out, char *err, size_t errlen)
{
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
		*out = strcasecmp(s, "true") == 0;
		return KEEL_OK;
	}
	return fail(err, errlen, k->name, "must be true or false, got '%s'", s);
}

/* Is s one of the '|'-separated choices? Case-insensitive only for keel.log.level. */
static int parse_enum(const cfg_key_t *k, const char *s, char *err, size_t errlen)
{
	bool nocase = strncmp(k->name, "keel.", 5) == 0;
	const char *c = k->choices;
	size_t n = strlen(s);
	char list[256];

	while (*c) {
		size_t len = strcspn(c, "|");
		if (len == n && (nocase ? strncasecmp(c, s, n) : strncmp(c, s, n)) == 0 && n > 0)
			return KEEL_OK;
		c += len + (c[len] == '|');
	}
	for (size_t i = 0, j = 0; j + 2 < sizeof(list); i++) {
		if (k->choices[i] == '|') {
			list[j++] = ',';
			list[j++] = ' ';
		} else if ((list[j++] = k->choices[i]) == '\0') {
			break;
		}
	}
	list[sizeof(list) - 1] = '\0';
	return fail(err, errlen, k->name, "must be one of %s, got '%s'", list, s);
}

static int set_str(char **field, const char *v)
{
	char *copy = v ? strdup(v) : NULL;

	if (v && !copy)
		return KEEL_NOMEM;
	free(*field);
	*field = copy;
	return KEEL_OK;
}

/* Store an integer, bool or string at k->off (sized by the field). */
static int store(keel_config_t *cfg, const cfg_key_t *k, const char *raw, int64_t v)
{
	char *p;

	if (k->off == NOFIELD)
		return KEEL_OK;
	p = (char *)cfg + k->off;
	if (k->kind == K_STR || k->kind == K_ENUM)
		return set_str((char **)p, raw);
	if (k->kind == K_BOOL)
		*(bool *)p = v != 0;
	else if (k->size == 2)
		*(int16_t *)p = (int16_t)v;
	else if (k->size == 4)
		*(int32_t *)p = (int32_t)v;
	else
		*(int64_t *)p = v;
	return KEEL_OK;
}

static int set_one(keel_config_t *cfg, const cfg_key_t *k, const char *value, char *err,
		   size_t errlen)
{
	int64_t v = 0;
	int rc = KEEL_OK;

	if (k->kind == K_INT)
		rc = parse_int(k, value, &v, err, errlen);
	else if (k->kind == K_BOOL)
		rc = parse_bool(k, value, &v, err, errlen);
	else if (k->kind == K_ENUM)
		rc = parse_enum(k, value, err, errlen);
	if (rc != KEEL_OK)
		return rc;
	rc = k->apply ? k->apply(cfg, k, value, v, err, errlen) : store(cfg, k, value, v);
	if (rc == KEEL_NOMEM)
		return fail(err, errlen, k->name, "out of memory");
	return rc;
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* ---- hooks ---------------------------------------------------------------------------- */

static bool valid_listener_name(const char *s, size_t n)
{
	if (n == 0 || n >= sizeof(((keel_listener_t *)0)->name))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static bool valid_host(const char *s, size_t n, bool v6)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '.' && c != '_' && !(v6 && (c == ':' || c == '%')))
			return false;
	}
	return true;
}

/* Parse one "NAME://host:port" (trimmed, len bytes) into *l. */
static int parse_listener(const char *key, const char *s, size_t len, keel_listener_t *l,
			  char *err, size_t errlen)
{
	const char *sep = memmem(s, len, "://", 3), *host, *colon, *end = s + len;
	size_t hlen;
	char *pend;
	long port;
	bool v6 = false;

	if (!sep)
		return fail(err, errlen, key, "'%.*s' is not NAME://host:port", (int)len, s);
	if (!valid_listener_name(s, (size_t)(sep - s)))
		return fail(err, errlen, key, "bad listener name in '%.*s'", (int)len, s);
	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < (size_t)(sep - s); i++)
		l->name[i] = (char)toupper((unsigned char)s[i]);
	host = sep + 3;
	if (host < end && *host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));
		if (!rb || rb + 1 >= end || rb[1] != ':')
			return fail(err, errlen, key, "bad IPv6 address in '%.*s'", (int)len, s);
		v6 = true;
		colon = rb + 1;
		hlen = (size_t)(rb - host - 1);
		host++;
	} else {
		colon = memrchr(host, ':', (size_t)(end - host));
		if (!colon)
			return fail(err, errlen, key, "missing port in '%.*s'", (int)len, s);
		hlen = (size_t)(colon - host);
	}
	if (hlen >= sizeof(l->host) || !valid_host(host, hlen, v6) || (v6 && hlen == 0))
		return fail(err, errlen, key, "bad host in '%.*s'", (int)len, s);
	memcpy(l->host, host, hlen);
	errno = 0;
	port = strtol(colon + 1, &pend, 10);
	if (colon + 1 == end || !isdigit((unsigned char)colon[1]) || pend != end || errno ||
	    port < 0 || port > 65535)
		return fail(err, errlen, key, "port must be 0-65535 in '%.*s'", (int)len, s);
	l->port = (int)port;
	return KEEL_OK;
}

/* Parse a comma list of listeners for key (error messages name it); count or -1. */
static int parse_listener_list(const char *key, const char *s, keel_listener_t *out, int n,
			       char *err, size_t errlen)
{
	int count = 0;

	for (const char *p = s;; p++) {
		size_t len = strcspn(p, ",");
		const char *item = p;

		trim(&item, &len);
		if (len == 0 && (count > 0 || p[strcspn(p, ",")] == ',')) {
			fail(err, errlen, key, "empty entry in '%s'", s);
			return -1;
		}
		if (len > 0 && count == n) {
			fail(err, errlen, key, "more than %d listeners", n);
			return -1;
		}
		if (len > 0 && parse_listener(key, item, len, &out[count], err, errlen) != KEEL_OK)
			return -1;
		for (int i = 0; len > 0 && i < count; i++) {
			if (strcmp(out[i].name, out[count].name) == 0) {
				fail(err, errlen, key, "listener name %s is used twice", out[i].name);
				return -1;
			}
		}
		count += len > 0;
		p += strcspn(p, ",");
		if (*p == '\0')
			break;
	}
	if (count == 0)
		fail(err, errlen, key, "must name at least one listener");
	return count > 0 ? count : -1;
}

int keel_config_parse_listeners(const char *s, keel_listener_t *out, int n, char *err, size_t errlen)
{
	return parse_listener_list("listeners", s, out, n, err, errlen);
}

/* listeners / advertised.listeners: parse into a temporary, then replace. */
static int apply_listeners(keel_config_t *cfg, const cfg_key_t *k, const char *raw, int64_t v,
			   char *err, size_t errlen)
{
	keel_listener_t tmp[KEEL_MAX_LISTENERS];
	bool adv = strcmp(k->name, "advertised.listeners") == 0;
	int n = parse_listener_list(k->name, raw, tmp, KEEL_MAX_LISTENERS, err, errlen);

	if (n < 0)
		return KERR_INVALID_CONFIG;
	for (int i = 0; !adv && i < n; i++)
		for (int j = 0; j < i; j++)
			if (tmp[i].port != 0 && tmp[i].port == tmp[j].port)
				return fail(err, errlen, k->name, "port %d is used by both %s and %s",
					    tmp[i].port, tmp[j].name, tmp[i].name);
	memcpy(adv ? cfg->advertised : cfg->listeners, tmp, sizeof(tmp[0]) * (size_t)n);
	if (adv) {
		cfg->nadvertised = n;
		cfg->given.advertised = true;
	} else {
		cfg->nlisteners = n;
	}
	return KEEL_OK;
}

static void free_log_dirs(keel_config_t *cfg)
{
	for (int i = 0; i < cfg->nlog_dirs; i++)
		free(cfg->log_dirs[i]);
	cfg->nlog_dirs = 0;
}

static void free_strs(char **v, int n)
{
	while (n > 0)
		free(v[--n]);
}

/* log.dirs and log.dir: comma lists (as in Kafka); log.dir counts only if log.dirs is not
 * given. Entries are trimmed; an empty entry is an error. */
static int apply_log_dirs(keel_config_t *cfg, const cfg_key_t *k, const char *raw, int64_t v,
			  char *err, size_t errlen)
{
	bool dirs = strcmp(k->name, "log.dirs") == 0;
	char *tmp[KEEL_MAX_LOG_DIRS];
	int n = 0;

	if (!dirs && cfg->given.log_dirs)
		return KEEL_OK;
	for (const char *p = raw;; p++) {
		size_t len = strcspn(p, ","), next = len;
		const char *item = p;

		trim(&item, &len);
		if (len == 0 || n == KEEL_MAX_LOG_DIRS) {
			free_strs(tmp, n);
			if (len == 0)
				return fail(err, errlen, k->name, "empty directory name in '%s'", raw);
			return fail(err, errlen, k->name, "more than %d directories", KEEL_MAX_LOG_DIRS);
		}
		if (!(tmp[n++] = strndup(item, len))) {
			free_strs(tmp, n - 1);
			return KEEL_NOMEM;
		}
		p += next;
		if (*p == '\0')
			break;
	}
	free_log_dirs(cfg);
	memcpy(cfg->log_dirs, tmp, sizeof(tmp[0]) * (size_t)n);
	cfg->nlog_dirs = n;
	cfg->given.log_dirs |= dirs;
	return KEEL_OK;
}

/* log.roll.ms beats log.roll.hours; log.retention.ms > .minutes > .hours; negative
 * retention means unlimited (-1), as in Kafka. Order in the file does not matter. */
static int apply_time(keel_config_t *cfg, const cfg_key_t *k, const char *raw, int64_t v,
		      char *err, size_t errlen)
{
	const char *unit = k->name + strlen(k->name) - 2;
	bool retention = strncmp(k->name, "log.retention.", 14) == 0;
	int64_t ms;

	if (strcmp(unit, "ms") == 0)
		ms = v;
	else if (strcmp(unit, "es") == 0) /* minutes */
		ms = v * 60000;
	else
		ms = v * 3600000;
	if (!retention) {
		if (strcmp(unit, "ms") == 0)
			cfg->given.log_roll_ms = true;
		else if (cfg->given.log_roll_ms)
			return KEEL_OK;
		cfg->log_roll_ms = ms;
		return KEEL_OK;
	}
	if (strcmp(unit, "ms") == 0)
		cfg->given.log_retention_ms = true;
	else if (cfg->given.log_retention_ms)
		return KEEL_OK;
	else if (strcmp(unit, "es") == 0)
		cfg->given.log_retention_minutes = true;
	else if (cfg->given.log_retention_minutes)
		return KEEL_OK;
	cfg->log_retention_ms = ms < 0 ? -1 : ms;
	return KEEL_OK;
}

/* "host:port[,host:port...][/chroot]": hosts non-empty, ports 1-65535, chroot absolute. */
static int check_zk_connect(const char *s, char *err, size_t errlen)
{
	const char *k = "zookeeper.connect", *chroot = strchr(s, '/');
	size_t hosts_len = chroot ? (size_t)(chroot - s) : strlen(s);

	if (*s == '\0')
		return fail(err, errlen, k, "must not be empty");
	if (chroot && (chroot[1] == '\0' || chroot[strlen(chroot) - 1] == '/' || strstr(chroot, "//")))
		return fail(err, errlen, k, "bad chroot path '%s'", chroot);
	for (const char *p = s; p < s + hosts_len;) {
		size_t len = strcspn(p, ",/");
		const char *colon = memrchr(p, ':', len);
		char *end;
		long port = 0;

		if (colon) {
			errno = 0;
			port = strtol(colon + 1, &end, 10);
		}
		if (len == 0 || colon == p || memchr(p, ' ', len) ||
		    (colon && (colon + 1 == p + len || end != p + len || port < 1 || port > 65535)))
			return fail(err, errlen, k, "bad host:port '%.*s' in '%s'", (int)len, p, s);
		p += len + (p[len] == ',');
	}
	return KEEL_OK;
}

static int apply_zk(keel_config_t *cfg, const cfg_key_t *k, const char *raw, int64_t v,
		    char *err, size_t errlen)
{
	if (strcmp(k->name, "zookeeper.connect") == 0) {
		int rc = check_zk_connect(raw, err, errlen);
		return rc != KEEL_OK ? rc : set_str(&cfg->zookeeper_connect, raw);
	}
	if (strcmp(k->name, "zookeeper.connection.timeout.ms") == 0) {
		cfg->given.zk_connection_timeout = true;
		cfg->zk_connection_timeout_ms = (int32_t)v;
		return KEEL_OK;
	}
	cfg->zk_session_timeout_ms = (int32_t)v;
	if (!cfg->given.zk_connection_timeout)
		cfg->zk_connection_timeout_ms = (int32_t)v;
	return KEEL_OK;
}

/* "NAME:PROTOCOL,..." with known protocols and unique names. */
static int check_protocol_map(const char *s, char *err, size_t errlen)
{
	const char *k = "listener.security.protocol.map";
	static const cfg_key_t proto = {"listener.security.protocol.map", K_ENUM, NOFIELD, 0, 0, 0,
					NULL, "PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL", NULL};

	for (const char *p = s; *p; p += *p == ',') {
		size_t len = strcspn(p, ",");
		const char *item = p, *colon;
		char buf[64];

		trim(&item, &len);
		colon = memchr(item, ':', len);
		if (!colon || !valid_listener_name(item, (size_t)(colon - item)))
			return fail(err, errlen, k, "'%.*s' is not NAME:PROTOCOL", (int)len, item);
		snprintf(buf, sizeof(buf), "%.*s", (int)(item + len - colon - 1), colon + 1);
		for (char *b = buf; *b; b++)
			*b = (char)toupper((unsigned char)*b);
		if (parse_enum(&proto, buf, err, errlen) != KEEL_OK)
			return KERR_INVALID_CONFIG;
		p += strcspn(p, ",");
	}
	return KEEL_OK;
}

static int apply_misc(keel_config_t *cfg, const cfg_key_t *k, const char *raw, int64_t v,
		      char *err, size_t errlen)
{
	if (strcmp(k->name, "log.message.timestamp.type") == 0) {
		cfg->log_message_timestamp_log_append = strcmp(raw, "LogAppendTime") == 0;
		return KEEL_OK;
	}
	if (strcmp(k->name, "security.inter.broker.protocol") == 0)
		return strcmp(raw, "PLAINTEXT") == 0 ? KEEL_OK :
			fail(err, errlen, k->name, "%s is not supported yet (PLAINTEXT only)", raw);
	if (strcmp(k->name, "inter.broker.listener.name") == 0) {
		if (!valid_listener_name(raw, strlen(raw)))
			return fail(err, errlen, k->name, "bad listener name '%s'", raw);
		cfg->given.inter_broker_listener = true;
		return set_str(&cfg->inter_broker_listener_name, raw);
	}
	if (strcmp(k->name, "log.cleanup.policy") == 0) {
		if (strcmp(raw, "delete") && strcmp(raw, "compact") && strcmp(raw, "compact,delete") &&
		    strcmp(raw, "delete,compact"))
			return fail(err, errlen, k->name,
				    "must be delete, compact or both (comma-separated), got '%s'", raw);
		return set_str(&cfg->log_cleanup_policy, raw);
	}
	if (check_protocol_map(raw, err, errlen) != KEEL_OK)
		return KERR_INVALID_CONFIG;
	return set_str(&cfg->listener_security_protocol_map, raw);
}

/* ---- public --------------------------------------------------------------------------- */

void keel_config_defaults(keel_config_t *cfg)
{
	char err[256];

	memset(cfg, 0, sizeof(*cfg));
	cfg->log_flush_interval_ms = INT64_MAX;
	for (size_t i = 0; i < KEEL_ARRAY_LEN(g_keys); i++)
		if (g_keys[i].def && set_one(cfg, &g_keys[i], g_keys[i].def, err, sizeof(err)))
			klog_error("config", "default %s", err); /* a bug in g_keys */
	memset(&cfg->given, 0, sizeof(cfg->given));
}

const char *keel_config_default(const char *key)
{
	const cfg_key_t *k = find_key(key);

	return k ? k->def : NULL;
}

int keel_config_set(keel_config_t *cfg, const char *key, const char *value, char *err, size_t errlen)
{
	const cfg_key_t *k = find_key(key);
	size_t len = strlen(value);
	char *v;
	int rc;

	if (!k) {
		klog_warn("config", "unknown configuration key '%s' ignored", key);
		return KEEL_OK;
	}
	trim(&value, &len);
	if (!(v = strndup(value, len)))
		return fail(err, errlen, key, "out of memory");
	rc = set_one(cfg, k, v, err, errlen);
	free(v);
	return rc;
}

void keel_config_free(keel_config_t *cfg)
{
	for (size_t i = 0; i < KEEL_ARRAY_LEN(g_keys); i++)
		if (g_keys[i].off != NOFIELD && (g_keys[i].kind == K_STR || g_keys[i].kind == K_ENUM))
			set_str((char **)((char *)cfg + g_keys[i].off), NULL);
	set_str(&cfg->zookeeper_connect, NULL);
	set_str(&cfg->listener_security_protocol_map, NULL);
	set_str(&cfg->inter_broker_listener_name, NULL);
	set_str(&cfg->log_cleanup_policy, NULL);
	free_log_dirs(cfg);
}

/* ---- Java-properties files -------------------------------------------------------------- */

typedef struct {
	char *buf;
	size_t len, cap;
} strbuf_t;

static int sb_add(strbuf_t *sb, const char *s, size_t n)
{
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = (sb->len + n + 1) * 2;
		char *b = realloc(sb->buf, cap);
		if (!b)
			return KEEL_NOMEM;
		sb->buf = b;
		sb->cap = cap;
	}
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
	return KEEL_OK;
}

/* Undo Java-properties escapes in place: \t \n \r \f, and \x = x for any other x. */
static int unescape(char *s, const char **why)
{
	char *w = s;

	for (const char *r = s; *r; r++) {
		if (*r != '\\' || r[1] == '\0') {
			*w++ = *r;
			continue;
		}
		switch (*++r) {
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 'f': *w++ = '\f'; break;
		case 'u': *why = "\\uXXXX escapes are not supported"; return KERR_INVALID_CONFIG;
		default: *w++ = *r; break;
		}
	}
	*w = '\0';
	return KEEL_OK;
}

/* Split a logical line into key and value (Java rules: the key ends at the first unescaped
 * '=', ':' or blank; one '=' or ':' may follow blanks), unescape both, and apply it. */
static int apply_line(keel_config_t *cfg, char *line, char *err, size_t errlen)
{
	char *p = line, *key, *value;
	const char *why = NULL;

	while (*p && !strchr("=: \t\f", *p))
		p += (*p == '\\' && p[1]) ? 2 : 1;
	value = p + strspn(p, " \t\f");
	if (*value == '=' || *value == ':')
		value += 1 + strspn(value + 1, " \t\f");
	*p = '\0';
	key = line;
	if (unescape(key, &why) != KEEL_OK || unescape(value, &why) != KEEL_OK)
		return fail(err, errlen, key, "%s", why);
	return keel_config_set(cfg, key, value, err, errlen);
}

/* Read the next natural line at *p (ending at \n, \r or \r\n); advances *p. */
static const char *next_line(const char **p, const char *end, size_t *len)
{
	const char *s = *p, *e = s;

	while (e < end && *e != '\n' && *e != '\r')
		e++;
	*len = (size_t)(e - s);
	if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
		e++;
	*p = e < end ? e + 1 : end;
	return s;
}

/* Gather one logical line (comments and blanks give an empty one) into sb; *lineno advances. */
static int logical_line(const char **p, const char *end, strbuf_t *sb, int *lineno)
{
	bool first = true;

	sb->len = 0;
	while (*p < end) {
		size_t len, bs = 0;
		const char *s = next_line(p, end, &len);

		(*lineno)++;
		while (len > 0 && strchr(" \t\f", *s)) {
			s++;
			len--;
		}
		if (first && (len == 0 || *s == '#' || *s == '!'))
			return KEEL_OK;
		first = false;
		while (bs < len && s[len - 1 - bs] == '\\')
			bs++;
		if (sb_add(sb, s, len - (bs % 2)) != KEEL_OK)
			return KEEL_NOMEM;
		if (bs % 2 == 0)
			break;
	}
	return sb_add(sb, "", 0);
}

static int parse_text(keel_config_t *cfg, const char *path, const char *text, size_t n,
		      char *err, size_t errlen)
{
	const char *p = text, *end = text + n;
	strbuf_t sb = {0};
	int lineno = 0, rc = KEEL_OK;

	while (p < end && rc == KEEL_OK) {
		int start = lineno + 1;
		char msg[512];

		rc = logical_line(&p, end, &sb, &lineno);
		if (rc == KEEL_NOMEM) {
			snprintf(err, errlen, "%s: out of memory", path);
			break;
		}
		if (sb.len == 0)
			continue;
		rc = apply_line(cfg, sb.buf, msg, sizeof(msg));
		if (rc != KEEL_OK)
			snprintf(err, errlen, "%s:%d: %s", path, start, msg);
	}
	free(sb.buf);
	return rc;
}

int keel_config_load(keel_config_t *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	strbuf_t sb = {0};
	char chunk[4096];
	size_t n;
	int rc = KEEL_OK;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return KEEL_ERR;
	}
	while (rc == KEEL_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = sb_add(&sb, chunk, n);
	if (rc == KEEL_OK && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = KEEL_ERR;
	} else if (rc != KEEL_OK) {
		snprintf(err, errlen, "%s: out of memory", path);
	}
	fclose(f);
	if (rc == KEEL_OK)
		rc = parse_text(cfg, path, sb.buf ? sb.buf : "", sb.len, err, errlen);
	free(sb.buf);
	return rc;
}

/* ---- cross-key checks -------------------------------------------------------------------- */

/* The security protocol listener.security.protocol.map gives name (PLAINTEXT if absent). */
static void protocol_of(const keel_config_t *cfg, keel_listener_t *l)
{
	const char *p = cfg->listener_security_protocol_map ? cfg->listener_security_protocol_map : "";
	size_t nlen = strlen(l->name);

	snprintf(l->security_protocol, sizeof(l->security_protocol), "PLAINTEXT");
	for (; *p; p += *p == ',') {
		size_t len = strcspn(p, ",");
		const char *item = p, *colon;

		trim(&item, &len);
		colon = memchr(item, ':', len);
		p += strcspn(p, ",");
		if (!colon || (size_t)(colon - item) != nlen || strncasecmp(item, l->name, nlen))
			continue;
		item = colon + 1;
		len -= nlen + 1;
		trim(&item, &len);
		snprintf(l->security_protocol, sizeof(l->security_protocol), "%.*s", (int)len, item);
		for (char *c = l->security_protocol; *c; c++)
			*c = (char)toupper((unsigned char)*c);
	}
}

/* This machine's canonical hostname (as Kafka's InetAddress.getCanonicalHostName). */
static void canonical_hostname(char *out, size_t len)
{
	struct addrinfo hints = {.ai_flags = AI_CANONNAME, .ai_family = AF_UNSPEC}, *ai = NULL;
	char host[256] = "localhost";

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (getaddrinfo(host, NULL, &hints, &ai) == 0 && ai && ai->ai_canonname)
		snprintf(out, len, "%s", ai->ai_canonname);
	else
		snprintf(out, len, "%s", host);
	if (ai)
		freeaddrinfo(ai);
}

static int finish_listeners(keel_config_t *cfg, char *err, size_t errlen)
{
	const char *ak = "advertised.listeners";

	if (!cfg->given.advertised) {
		memcpy(cfg->advertised, cfg->listeners, sizeof(cfg->listeners));
		cfg->nadvertised = cfg->nlisteners;
	}
	for (int i = 0; i < cfg->nlisteners; i++) {
		protocol_of(cfg, &cfg->listeners[i]);
		if (strcmp(cfg->listeners[i].security_protocol, "PLAINTEXT") != 0)
			return fail(err, errlen, "listeners",
				    "listener %s uses security protocol %s, which is not supported yet",
				    cfg->listeners[i].name, cfg->listeners[i].security_protocol);
	}
	for (int i = 0; i < cfg->nadvertised; i++) {
		keel_listener_t *a = &cfg->advertised[i];
		int j = 0;

		while (j < cfg->nlisteners && strcmp(cfg->listeners[j].name, a->name) != 0)
			j++;
		if (j == cfg->nlisteners)
			return fail(err, errlen, ak, "listener %s is not in listeners", a->name);
		if (strcmp(a->host, "0.0.0.0") == 0 || strcmp(a->host, "::") == 0)
			return fail(err, errlen, ak, "cannot advertise the non-routable address %s%s",
				    a->host, cfg->given.advertised ? "" :
				    " (taken from listeners; set advertised.listeners)");
		protocol_of(cfg, a);
		if (a->host[0] == '\0')
			canonical_hostname(a->host, sizeof(a->host));
	}
	return KEEL_OK;
}

static int finish_inter_broker(keel_config_t *cfg, char *err, size_t errlen)
{
	const char *k = "inter.broker.listener.name";
	const char *name = cfg->nadvertised > 0 ? cfg->advertised[0].name : "PLAINTEXT";
	char upper[64];

	for (int i = 0; i < cfg->nadvertised; i++)
		if (strcmp(cfg->advertised[i].name, "PLAINTEXT") == 0)
			name = "PLAINTEXT";
	if (cfg->given.inter_broker_listener) {
		snprintf(upper, sizeof(upper), "%s", cfg->inter_broker_listener_name);
		for (char *c = upper; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		for (int i = 0; i < cfg->nadvertised; i++)
			if (strcmp(cfg->advertised[i].name, upper) == 0)
				return set_str(&cfg->inter_broker_listener_name, upper) == KEEL_OK ?
					KEEL_OK : fail(err, errlen, k, "out of memory");
		return fail(err, errlen, k, "%s is not in advertised.listeners", upper);
	}
	if (set_str(&cfg->inter_broker_listener_name, name) != KEEL_OK)
		return fail(err, errlen, k, "out of memory");
	return KEEL_OK;
}

/* max.connections.per.ip.overrides: "name-or-address:count,..." (the last colon separates, so
 * IPv6 addresses work); names resolve to every address they have, as Kafka resolves them. */
static int finish_ip_limits(keel_config_t *cfg, char *err, size_t errlen)
{
	const char *k = "max.connections.per.ip.overrides";
	const char *p = cfg->max_connections_per_ip_overrides ? cfg->max_connections_per_ip_overrides : "";

	cfg->nip_limits = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		char item[300], *colon, *end;
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
		const char *it = p;
		long long max;

		p += len + (p[len] == ',');
		trim(&it, &len);
		if (len == 0)
			continue;
		if (len >= sizeof(item))
			return fail(err, errlen, k, "entry too long");
		memcpy(item, it, len);
		item[len] = '\0';
		colon = strrchr(item, ':');
		if (!colon || colon == item)
			return fail(err, errlen, k, "%s is not host:count", item);
		*colon = '\0';
		errno = 0;
		max = strtoll(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || max < 0 || max > INT32_MAX)
			return fail(err, errlen, k, "%s: bad count %s", item, colon + 1);
		if (getaddrinfo(item, NULL, &hints, &ai) != 0 || !ai)
			return fail(err, errlen, k, "cannot resolve %s", item);
		for (struct addrinfo *a = ai; a; a = a->ai_next) {
			if (cfg->nip_limits == KEEL_MAX_IP_LIMITS) {
				freeaddrinfo(ai);
				return fail(err, errlen, k, "more than %d addresses", KEEL_MAX_IP_LIMITS);
			}
			const void *addr = a->ai_family == AF_INET6 ?
				(const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr :
				(const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
			inet_ntop(a->ai_family, addr, cfg->ip_limits[cfg->nip_limits].addr,
				  sizeof(cfg->ip_limits[0].addr));
			cfg->ip_limits[cfg->nip_limits++].max = (int32_t)max;
		}
		freeaddrinfo(ai);
	}
	if (cfg->max_connections_per_ip == 0 && cfg->nip_limits == 0)
		return fail(err, errlen, "max.connections.per.ip", "may be 0 only with "
			    "max.connections.per.ip.overrides set");
	return KEEL_OK;
}

int keel_config_max_connections(const keel_config_t *cfg, const char *addr)
{
	for (int i = 0; i < cfg->nip_limits; i++)
		if (strcmp(cfg->ip_limits[i].addr, addr) == 0)
			return cfg->ip_limits[i].max;
	return cfg->max_connections_per_ip;
}

int keel_config_finish(keel_config_t *cfg, char *err, size_t errlen)
{
	const char *bk = "broker.id";
	int rc;

	if (!cfg->zookeeper_connect)
		return fail(err, errlen, "zookeeper.connect", "required");
	if (cfg->broker_id == -1 && !cfg->broker_id_generation_enable)
		return fail(err, errlen, bk, "must be set (>= 0) when broker.id.generation.enable "
			    "is false");
	if (cfg->broker_id > cfg->reserved_broker_max_id)
		return fail(err, errlen, bk, "must be -1 or between 0 and reserved.broker.max.id "
			    "(%d), got %d", cfg->reserved_broker_max_id, cfg->broker_id);
	if (cfg->nlog_dirs == 0)
		return fail(err, errlen, "log.dirs", "must name at least one directory");
	if (cfg->replica_fetch_wait_max_ms > cfg->replica_lag_time_max_ms)
		return fail(err, errlen, "replica.fetch.wait.max.ms", "must not exceed "
			    "replica.lag.time.max.ms (%lld), got %d",
			    (long long)cfg->replica_lag_time_max_ms, cfg->replica_fetch_wait_max_ms);
	if (cfg->replica_fetch_wait_max_ms > cfg->replica_socket_timeout_ms)
		return fail(err, errlen, "replica.socket.timeout.ms", "must be at least "
			    "replica.fetch.wait.max.ms (%d), got %d", cfg->replica_fetch_wait_max_ms,
			    cfg->replica_socket_timeout_ms);
	if (!cfg->given.zk_connection_timeout)
		cfg->zk_connection_timeout_ms = cfg->zk_session_timeout_ms;
	if ((rc = finish_ip_limits(cfg, err, errlen)) != KEEL_OK)
		return rc;
	if ((rc = finish_listeners(cfg, err, errlen)) != KEEL_OK)
		return rc;
	return finish_inter_broker(cfg, err, errlen);
}
