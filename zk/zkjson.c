/* zk/zkjson.c: encoders and decoders of Kafka's znode JSON payloads (jansson). Pure; any thread. */
#include "zkjson.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define ZKJ_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

/* Serialize and release `o`; NULL on any failure (including a NULL o). */
static char *dump_free(json_t *o)
{
	char *s;
	if (!o)
		return NULL;
	s = json_dumps(o, ZKJ_DUMP_FLAGS);
	json_decref(o);
	return s;
}

static json_t *load(const char *json, int len)
{
	json_error_t jerr;
	if (!json || len < 0)
		return NULL;
	return json_loadb(json, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
}

/* An int32 from a JSON integer; -1 if absent or not an in-range integer. */
static int get_i32(const json_t *o, const char *key, int32_t *out)
{
	json_t *v = json_object_get(o, key);
	json_int_t i;
	if (!json_is_integer(v))
		return -1;
	i = json_integer_value(v);
	if (i < INT32_MIN || i > INT32_MAX)
		return -1;
	*out = (int32_t)i;
	return 0;
}

/* Kafka writes timestamps as strings; accept a number as well. */
static int get_ts(const json_t *o, const char *key, int64_t *out)
{
	json_t *v = json_object_get(o, key);
	char *end;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	errno = 0;
	*out = strtoll(json_string_value(v), &end, 10);
	return (errno || *end || end == json_string_value(v)) ? -1 : 0;
}

/* A JSON array of int32 into a malloc'd array (NULL when empty). */
static int int_array(const json_t *a, int32_t *n, int32_t **out)
{
	size_t i, sz;
	int32_t *v = NULL;
	if (!json_is_array(a))
		return -1;
	sz = json_array_size(a);
	if (sz > 100000)
		return -1;
	if (sz) {
		v = calloc(sz, sizeof(*v));
		if (!v)
			return -1;
	}
	for (i = 0; i < sz; i++) {
		json_t *e = json_array_get(a, i);
		if (!json_is_integer(e) || json_integer_value(e) < INT32_MIN ||
		    json_integer_value(e) > INT32_MAX) {
			free(v);
			return -1;
		}
		v[i] = (int32_t)json_integer_value(e);
	}
	*n = (int32_t)sz;
	*out = v;
	return 0;
}

static json_t *int_array_json(int32_t n, const int32_t *v)
{
	json_t *a = json_array();
	for (int32_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

static void ts_string(char *buf, size_t len, int64_t ts)
{
	snprintf(buf, len, "%" PRId64, ts);
}

/* ---------------------------------------------------------------- brokers */

static const char *broker_protocol(const zkj_broker_t *b, int i)
{
	if (b->endpoint_protocols && b->endpoint_protocols[i])
		return b->endpoint_protocols[i];
	return b->endpoint_names[i];
}

char *zkj_broker_encode(const zkj_broker_t *b)
{
	json_t *o = json_object(), *map = json_object(), *eps = json_array();
	char ts[32], ep[512];
	if (!o || !map || !eps) {
		json_decref(o);
		json_decref(map);
		json_decref(eps);
		return NULL;
	}
	for (int i = 0; i < b->nendpoints; i++) {
		const char *h = b->endpoint_hosts[i] ? b->endpoint_hosts[i] : "";
		bool v6 = strchr(h, ':') != NULL;
		snprintf(ep, sizeof(ep), "%s://%s%s%s:%d", b->endpoint_names[i], v6 ? "[" : "", h,
			 v6 ? "]" : "", b->endpoint_ports[i]);
		json_array_append_new(eps, json_string(ep));
		json_object_set_new(map, b->endpoint_names[i], json_string(broker_protocol(b, i)));
	}
	ts_string(ts, sizeof(ts), b->timestamp_ms);
	json_object_set_new(o, "features", json_object());
	json_object_set_new(o, "listener_security_protocol_map", map);
	json_object_set_new(o, "endpoints", eps);
	json_object_set_new(o, "jmx_port", json_integer(-1));
	json_object_set_new(o, "port", json_integer(b->port));
	json_object_set_new(o, "host", b->host ? json_string(b->host) : json_null());
	if (b->rack)
		json_object_set_new(o, "rack", json_string(b->rack));
	json_object_set_new(o, "version", json_integer(5));
	json_object_set_new(o, "timestamp", json_string(ts));
	return dump_free(o);
}

void zkj_broker_free(zkj_broker_t *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->nendpoints; i++) {
		if (b->endpoint_names)
			free(b->endpoint_names[i]);
		if (b->endpoint_hosts)
			free(b->endpoint_hosts[i]);
		if (b->endpoint_protocols)
			free(b->endpoint_protocols[i]);
	}
	free(b->endpoint_names);
	free(b->endpoint_hosts);
	free(b->endpoint_ports);
	free(b->endpoint_protocols);
	free(b->host);
	free(b->rack);
	memset(b, 0, sizeof(*b));
}

/* Parse "NAME://host:port" (host may be "[v6]" or empty) into slot i of b. */
static int parse_endpoint(const char *s, const json_t *map, zkj_broker_t *b, int i)
{
	const char *sep = strstr(s, "://"), *h, *colon, *hend;
	const json_t *proto;
	char *end;
	long port;
	if (!sep || sep == s)
		return -1;
	h = sep + 3;
	colon = strrchr(h, ':');
	if (!colon)
		return -1;
	hend = colon;
	if (*h == '[') {
		if (colon == h || colon[-1] != ']')
			return -1;
		h++;
		hend = colon - 1;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return -1;
	b->endpoint_names[i] = strndup(s, (size_t)(sep - s));
	b->endpoint_hosts[i] = strndup(h, (size_t)(hend - h));
	b->endpoint_ports[i] = (int32_t)port;
	proto = json_object_get(map, b->endpoint_names[i]);
	b->endpoint_protocols[i] = strdup(json_is_string(proto) ? json_string_value(proto)
							    : b->endpoint_names[i]);
	return 0;
}

static int broker_alloc_endpoints(zkj_broker_t *b, int n)
{
	size_t k = n ? (size_t)n : 1;
	b->endpoint_names = calloc(k, sizeof(char *));
	b->endpoint_hosts = calloc(k, sizeof(char *));
	b->endpoint_ports = calloc(k, sizeof(int32_t));
	b->endpoint_protocols = calloc(k, sizeof(char *));
	b->nendpoints = n;
	return (b->endpoint_names && b->endpoint_hosts && b->endpoint_ports &&
		b->endpoint_protocols) ? 0 : -1;
}

/* Endpoints from "endpoints" (v2+), or one PLAINTEXT endpoint from host/port (v1). */
static int broker_decode_endpoints(const json_t *o, zkj_broker_t *b)
{
	const json_t *eps = json_object_get(o, "endpoints");
	const json_t *map = json_object_get(o, "listener_security_protocol_map");
	if (!eps || json_is_null(eps)) {
		if (!b->host || b->port < 0)
			return broker_alloc_endpoints(b, 0);
		if (broker_alloc_endpoints(b, 1))
			return -1;
		b->endpoint_names[0] = strdup("PLAINTEXT");
		b->endpoint_hosts[0] = strdup(b->host);
		b->endpoint_ports[0] = b->port;
		b->endpoint_protocols[0] = strdup("PLAINTEXT");
		return 0;
	}
	if (!json_is_array(eps) || (map && !json_is_null(map) && !json_is_object(map)))
		return -1;
	if (broker_alloc_endpoints(b, (int)json_array_size(eps)))
		return -1;
	for (int i = 0; i < b->nendpoints; i++) {
		const json_t *e = json_array_get(eps, (size_t)i);
		if (!json_is_string(e) || parse_endpoint(json_string_value(e), map, b, i))
			return -1;
	}
	return 0;
}

int zkj_broker_decode(const char *json, int len, zkj_broker_t *out)
{
	json_t *o = load(json, len), *host, *rack;
	zkj_broker_t b;
	memset(&b, 0, sizeof(b));
	if (!json_is_object(o))
		goto fail;
	host = json_object_get(o, "host");
	if (host && !json_is_null(host) && !json_is_string(host))
		goto fail;
	b.host = json_is_string(host) ? strdup(json_string_value(host)) : NULL;
	if (json_object_get(o, "port") && !json_is_null(json_object_get(o, "port"))) {
		if (get_i32(o, "port", &b.port))
			goto fail;
	} else {
		b.port = -1;
	}
	rack = json_object_get(o, "rack");
	if (rack && !json_is_null(rack) && !json_is_string(rack))
		goto fail;
	b.rack = json_is_string(rack) ? strdup(json_string_value(rack)) : NULL;
	if (json_object_get(o, "timestamp") && get_ts(o, "timestamp", &b.timestamp_ms))
		goto fail;
	if (broker_decode_endpoints(o, &b))
		goto fail;
	json_decref(o);
	*out = b;
	return 0;
fail:
	zkj_broker_free(&b);
	json_decref(o);
	return -1;
}

/* ---------------------------------------------------------------- topics */

/* {"<p>":[...],...} of the partitions with a non-empty list (n NULL = none). */
static json_t *replica_map_json(int32_t np, const int32_t *n, int32_t *const *v)
{
	json_t *m = json_object();
	char key[16];
	for (int32_t p = 0; m && n && p < np; p++) {
		if (!n[p])
			continue;
		snprintf(key, sizeof(key), "%d", p);
		json_object_set_new(m, key, int_array_json(n[p], v[p]));
	}
	return m;
}

char *zkj_topic_encode(const zkj_topic_t *t)
{
	json_t *o = json_object(), *parts = json_object();
	char key[16];
	if (!o || !parts) {
		json_decref(o);
		json_decref(parts);
		return NULL;
	}
	for (int32_t p = 0; p < t->npartitions; p++) {
		snprintf(key, sizeof(key), "%d", p);
		json_object_set_new(parts, key, int_array_json(t->nreplicas[p], t->replicas[p]));
	}
	json_object_set_new(o, "version", json_integer(t->topic_id[0] ? 3 : 2));
	json_object_set_new(o, "partitions", parts);
	json_object_set_new(o, "adding_replicas", replica_map_json(t->npartitions, t->nadding, t->adding));
	json_object_set_new(o, "removing_replicas",
			    replica_map_json(t->npartitions, t->nremoving, t->removing));
	if (t->topic_id[0])
		json_object_set_new(o, "topic_id", json_string(t->topic_id));
	return dump_free(o);
}

void zkj_topic_free(zkj_topic_t *t)
{
	if (!t)
		return;
	for (int32_t p = 0; p < t->npartitions; p++)
		if (t->replicas)
			free(t->replicas[p]);
	for (int32_t p = 0; p < t->npartitions; p++) {
		if (t->adding)
			free(t->adding[p]);
		if (t->removing)
			free(t->removing[p]);
	}
	free(t->replicas);
	free(t->nreplicas);
	free(t->adding);
	free(t->nadding);
	free(t->removing);
	free(t->nremoving);
	memset(t, 0, sizeof(*t));
}

/* A partition id key: a canonical non-negative decimal below n. */
static int partition_key(const char *k, int32_t n)
{
	char *end;
	long v;
	if (!*k || (k[0] == '0' && k[1]) || k[0] == '-' || k[0] == '+')
		return -1;
	errno = 0;
	v = strtol(k, &end, 10);
	if (errno || *end || v < 0 || v >= n)
		return -1;
	return (int)v;
}

static int topic_decode_partitions(const json_t *parts, zkj_topic_t *t)
{
	const char *k;
	json_t *v;
	size_t n = json_object_size(parts);
	if (n > 1000000)
		return -1;
	t->npartitions = (int32_t)n;
	t->nreplicas = calloc(n ? n : 1, sizeof(int32_t));
	t->replicas = calloc(n ? n : 1, sizeof(int32_t *));
	if (!t->nreplicas || !t->replicas)
		return -1;
	json_object_foreach((json_t *)parts, k, v) {
		int p = partition_key(k, t->npartitions);
		if (p < 0 || t->replicas[p])
			return -1; /* out of range, or duplicate (cannot happen: keys unique) */
		if (int_array(v, &t->nreplicas[p], &t->replicas[p]) || t->nreplicas[p] == 0)
			return -1;
	}
	return 0;
}

/* Counts entries of an optional "adding_replicas"/"removing_replicas" object. */
/* adding_replicas / removing_replicas: {"<p>":[...]} over partitions of t (absent or null =
 * none). Arrays are allocated only when the map names a partition. */
static int topic_replica_map(const json_t *o, const char *key, const zkj_topic_t *t,
			     int32_t **nout, int32_t ***out)
{
	const json_t *m = json_object_get(o, key);
	const char *k;
	json_t *v;
	if (!m || json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return -1;
	if (json_object_size(m) == 0)
		return 0;
	*nout = calloc((size_t)t->npartitions + 1, sizeof(int32_t));
	*out = calloc((size_t)t->npartitions + 1, sizeof(int32_t *));
	if (!*nout || !*out)
		return -1;
	json_object_foreach((json_t *)m, k, v) {
		int p = partition_key(k, t->npartitions);
		if (p < 0 || (*out)[p] || int_array(v, &(*nout)[p], &(*out)[p]))
			return -1;
	}
	return 0;
}

int zkj_topic_decode(const char *json, int len, zkj_topic_t *out)
{
	json_t *o = load(json, len), *parts, *id;
	zkj_topic_t t;
	memset(&t, 0, sizeof(t));
	if (!json_is_object(o))
		goto fail;
	parts = json_object_get(o, "partitions");
	if (!json_is_object(parts) || topic_decode_partitions(parts, &t))
		goto fail;
	if (topic_replica_map(o, "adding_replicas", &t, &t.nadding, &t.adding) ||
	    topic_replica_map(o, "removing_replicas", &t, &t.nremoving, &t.removing))
		goto fail;
	id = json_object_get(o, "topic_id");
	if (id && !json_is_null(id)) {
		if (!json_is_string(id) || strlen(json_string_value(id)) != 22)
			goto fail;
		memcpy(t.topic_id, json_string_value(id), 23);
	}
	json_decref(o);
	*out = t;
	return 0;
fail:
	zkj_topic_free(&t);
	json_decref(o);
	return -1;
}

/* ---------------------------------------------------------------- partition state */

char *zkj_state_encode(const zkj_state_t *s)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "controller_epoch", json_integer(s->controller_epoch));
	json_object_set_new(o, "leader", json_integer(s->leader));
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "leader_epoch", json_integer(s->leader_epoch));
	json_object_set_new(o, "isr", int_array_json(s->nisr, s->isr));
	return dump_free(o);
}

void zkj_state_free(zkj_state_t *s)
{
	if (!s)
		return;
	free(s->isr);
	memset(s, 0, sizeof(*s));
}

int zkj_state_decode(const char *json, int len, zkj_state_t *out)
{
	json_t *o = load(json, len);
	zkj_state_t s;
	memset(&s, 0, sizeof(s));
	if (!json_is_object(o) || get_i32(o, "controller_epoch", &s.controller_epoch) ||
	    get_i32(o, "leader", &s.leader) || get_i32(o, "leader_epoch", &s.leader_epoch) ||
	    int_array(json_object_get(o, "isr"), &s.nisr, &s.isr)) {
		json_decref(o);
		return -1;
	}
	json_decref(o);
	*out = s;
	return 0;
}

/* ---------------------------------------------------------------- controller, cluster id */

char *zkj_controller_encode(int32_t broker_id, int64_t timestamp_ms)
{
	json_t *o = json_object();
	char ts[32];
	if (!o)
		return NULL;
	ts_string(ts, sizeof(ts), timestamp_ms);
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "brokerid", json_integer(broker_id));
	json_object_set_new(o, "timestamp", json_string(ts));
	return dump_free(o);
}

int zkj_controller_decode(const char *json, int len, int32_t *broker_id)
{
	json_t *o = load(json, len);
	int32_t id;
	int rc = (json_is_object(o) && get_i32(o, "brokerid", &id) == 0) ? 0 : -1;
	if (rc == 0)
		*broker_id = id;
	json_decref(o);
	return rc;
}

char *zkj_cluster_id_encode(const char *id)
{
	json_t *o = json_object();
	if (!o || !id) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "version", json_string("1"));
	json_object_set_new(o, "id", json_string(id));
	return dump_free(o);
}

int zkj_cluster_id_decode(const char *json, int len, char *id, int idlen)
{
	json_t *o = load(json, len), *v;
	int rc = -1;
	if (!json_is_object(o))
		goto out;
	v = json_object_get(o, "id");
	if (!json_is_string(v) || !json_string_value(v)[0] ||
	    strlen(json_string_value(v)) >= (size_t)idlen)
		goto out;
	snprintf(id, (size_t)idlen, "%s", json_string_value(v));
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* ---------------------------------------------------------------- configs */

char *zkj_config_encode(int n, char *const *keys, char *const *values)
{
	json_t *o = json_object(), *cfg = json_object();
	if (!o || !cfg) {
		json_decref(o);
		json_decref(cfg);
		return NULL;
	}
	for (int i = 0; i < n; i++)
		json_object_set_new(cfg, keys[i], json_string(values[i] ? values[i] : ""));
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "config", cfg);
	return dump_free(o);
}

void zkj_config_free(int n, char **keys, char **values)
{
	for (int i = 0; i < n; i++) {
		if (keys)
			free(keys[i]);
		if (values)
			free(values[i]);
	}
	free(keys);
	free(values);
}

int zkj_config_decode(const char *json, int len, int *n, char ***keys, char ***values)
{
	json_t *o = load(json, len), *cfg, *v;
	const char *k;
	char **ks = NULL, **vs = NULL;
	int i = 0;
	size_t sz;
	if (!json_is_object(o))
		goto fail;
	cfg = json_object_get(o, "config");
	if (!json_is_object(cfg))
		goto fail;
	sz = json_object_size(cfg);
	ks = calloc(sz ? sz : 1, sizeof(char *));
	vs = calloc(sz ? sz : 1, sizeof(char *));
	if (!ks || !vs)
		goto fail;
	json_object_foreach(cfg, k, v) {
		if (!json_is_string(v))
			goto fail;
		ks[i] = strdup(k);
		vs[i] = strdup(json_string_value(v));
		i++;
	}
	json_decref(o);
	*n = i;
	*keys = ks;
	*values = vs;
	return 0;
fail:
	zkj_config_free(i, ks, vs);
	json_decref(o);
	return -1;
}

char *zkj_config_change_encode(const char *entity_path)
{
	json_t *o = json_object();
	if (!o || !entity_path) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "version", json_integer(2));
	json_object_set_new(o, "entity_path", json_string(entity_path));
	return dump_free(o);
}

/* ---------------------------------------------------------------- isr change notifications */

/* {"version":1,"partitions":parts}, serialized; takes parts (NULL: a failure upstream). */
static char *partitions_dump(json_t *parts)
{
	json_t *o = parts ? json_object() : NULL;
	if (!o) {
		json_decref(parts);
		return NULL;
	}
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "partitions", parts);
	return dump_free(o);
}

/* {"topic":..,"partition":..}; NULL without a topic (or memory). */
static json_t *tp_json(const char *topic, int32_t partition)
{
	json_t *e = topic ? json_object() : NULL;
	if (e) {
		json_object_set_new(e, "topic", json_string(topic));
		json_object_set_new(e, "partition", json_integer(partition));
	}
	return e;
}

/* Append e (taken; NULL fails) to *parts; on failure *parts is released and set to NULL. */
static void append_or_drop(json_t **parts, json_t *e)
{
	if (json_array_append_new(*parts, e) < 0) {
		json_decref(*parts);
		*parts = NULL;
	}
}

char *zkj_isr_change_encode(int n, const zkj_tp_t *tps)
{
	json_t *parts = json_array();
	for (int i = 0; parts && i < n; i++)
		append_or_drop(&parts, tp_json(tps[i].topic, tps[i].partition));
	return partitions_dump(parts);
}

void zkj_tps_free(int n, zkj_tp_t *tps)
{
	for (int i = 0; tps && i < n; i++)
		free(tps[i].topic);
	free(tps);
}

/* {"partitions":[{"topic":..,"partition":..},...]}; a missing list is empty if missing_ok. */
static int decode_tps(const char *json, int len, bool missing_ok, int *n, zkj_tp_t **tps)
{
	json_t *o = load(json, len), *parts;
	zkj_tp_t *v = NULL;
	size_t i = 0, sz = 0;
	if (!json_is_object(o))
		goto fail;
	parts = json_object_get(o, "partitions");
	if (!(missing_ok && !parts) &&
	    (!json_is_array(parts) || (sz = json_array_size(parts)) > 1000000))
		goto fail;
	v = calloc(sz ? sz : 1, sizeof(*v));
	if (!v)
		goto fail;
	for (; i < sz; i++) {
		json_t *e = json_array_get(parts, i), *t = json_object_get(e, "topic");
		if (!json_is_string(t) || get_i32(e, "partition", &v[i].partition) ||
		    v[i].partition < 0 || !(v[i].topic = strdup(json_string_value(t))))
			goto fail;
	}
	json_decref(o);
	*n = (int)sz;
	*tps = v;
	return 0;
fail:
	zkj_tps_free((int)i, v);
	json_decref(o);
	return -1;
}

int zkj_isr_change_decode(const char *json, int len, int *n, zkj_tp_t **tps)
{
	return decode_tps(json, len, false, n, tps);
}

/* ---------------------------------------------------------------- preferred replica election */

char *zkj_preferred_election_encode(int n, const zkj_tp_t *tps)
{
	return zkj_isr_change_encode(n, tps); /* the same payload */
}

int zkj_preferred_election_decode(const char *json, int len, int *n, zkj_tp_t **tps)
{
	return decode_tps(json, len, true, n, tps);
}

/* ---------------------------------------------------------------- partition reassignment */

void zkj_strings_free(int n, char **v)
{
	for (int i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void zkj_reassign_free(int n, zkj_reassign_t *v)
{
	for (int i = 0; v && i < n; i++) {
		free(v[i].topic);
		free(v[i].replicas);
		zkj_strings_free(v[i].nlog_dirs, v[i].log_dirs);
	}
	free(v);
}

/* An entry's own log_dirs, else "any" for each replica (Kafka's default). */
static json_t *log_dirs_json(const zkj_reassign_t *e)
{
	json_t *a = json_array();
	int32_t n = e->nlog_dirs >= 0 ? e->nlog_dirs : e->nreplicas;
	for (int32_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(e->nlog_dirs >= 0 ? e->log_dirs[i] : "any"));
	return a;
}

char *zkj_reassign_encode(int n, const zkj_reassign_t *v, bool log_dirs)
{
	json_t *parts = json_array();
	for (int i = 0; parts && i < n; i++) {
		json_t *e = tp_json(v[i].topic, v[i].partition);
		if (e) {
			json_object_set_new(e, "replicas", int_array_json(v[i].nreplicas, v[i].replicas));
			if (log_dirs)
				json_object_set_new(e, "log_dirs", log_dirs_json(&v[i]));
		}
		append_or_drop(&parts, e);
	}
	return partitions_dump(parts);
}

/* Kafka's tools read a missing "version" as the earliest, 1, and know no other. */
static bool version_1(const json_t *o)
{
	const json_t *v = json_object_get(o, "version");
	return !v || (json_is_integer(v) && json_integer_value(v) == 1);
}

/* o[key] as an array and its size; absent reads as empty. -1 if it is anything else. */
static int opt_array(const json_t *o, const char *key, json_t **a, size_t *n)
{
	*a = json_object_get(o, key);
	*n = 0;
	if (!*a)
		return 0;
	if (!json_is_array(*a) || (*n = json_array_size(*a)) > 1000000)
		return -1;
	return 0;
}

/* A JSON array of strings into a malloc'd array of copies. */
static int string_array(const json_t *a, int32_t *n, char ***out)
{
	size_t sz = json_is_array(a) ? json_array_size(a) : 0;
	char **v;
	if (!json_is_array(a) || sz > 100000 || !(v = calloc(sz ? sz : 1, sizeof(*v))))
		return -1;
	for (size_t i = 0; i < sz; i++) {
		const json_t *e = json_array_get(a, i);
		if (!json_is_string(e) || !(v[i] = strdup(json_string_value(e)))) {
			zkj_strings_free((int)sz, v);
			return -1;
		}
	}
	*n = (int32_t)sz;
	*out = v;
	return 0;
}

/* One {"topic","partition","replicas"[,"log_dirs"]} into r (zeroed; the caller frees it). */
static int reassign_entry(const json_t *e, zkj_reassign_t *r)
{
	const json_t *t = json_object_get(e, "topic"), *dirs = json_object_get(e, "log_dirs");
	r->nlog_dirs = -1;
	if (!json_is_string(t) || get_i32(e, "partition", &r->partition) || r->partition < 0 ||
	    int_array(json_object_get(e, "replicas"), &r->nreplicas, &r->replicas) ||
	    !(r->topic = strdup(json_string_value(t))))
		return -1;
	return dirs ? string_array(dirs, &r->nlog_dirs, &r->log_dirs) : 0;
}

int zkj_reassign_decode(const char *json, int len, int *n, zkj_reassign_t **out)
{
	json_t *o = load(json, len), *parts;
	zkj_reassign_t *v = NULL;
	size_t sz = 0;
	if (!json_is_object(o) || !version_1(o) || opt_array(o, "partitions", &parts, &sz) ||
	    !(v = calloc(sz ? sz : 1, sizeof(*v))))
		goto fail;
	for (size_t i = 0; i < sz; i++)
		if (reassign_entry(json_array_get(parts, i), &v[i]))
			goto fail;
	json_decref(o);
	*n = (int)sz;
	*out = v;
	return 0;
fail:
	zkj_reassign_free((int)sz, v); /* calloc'd: untouched entries free as empty */
	json_decref(o);
	return -1;
}

int zkj_topics_to_move_decode(const char *json, int len, int *n, char ***topics)
{
	json_t *o = load(json, len), *list;
	char **v = NULL;
	size_t sz = 0;
	if (!json_is_object(o) || !version_1(o) || opt_array(o, "topics", &list, &sz) ||
	    !(v = calloc(sz ? sz : 1, sizeof(*v))))
		goto fail;
	for (size_t i = 0; i < sz; i++) {
		const json_t *t = json_object_get(json_array_get(list, i), "topic");
		if (!json_is_string(t) || !(v[i] = strdup(json_string_value(t))))
			goto fail;
	}
	json_decref(o);
	*n = (int)sz;
	*topics = v;
	return 0;
fail:
	zkj_strings_free((int)sz, v);
	json_decref(o);
	return -1;
}

/* ---------------------------------------------------------------- uuid */

static void fill_random(uint8_t *b, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(b + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			abort(); /* no entropy source: cannot make ids safely */
		}
		got += (size_t)r;
	}
}

/* Like Kafka's Uuid.randomUuid: a version-4 UUID, never all-zero, never starting with '-'. */
void zkj_random_uuid(char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t b[18];
	do {
		int o = 0;
		fill_random(b, 16);
		b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
		b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
		b[16] = b[17] = 0;
		for (int i = 0; i < 16; i += 3) {
			uint32_t v = ((uint32_t)b[i] << 16) | ((uint32_t)b[i + 1] << 8) | b[i + 2];
			out[o++] = tab[(v >> 18) & 63];
			out[o++] = tab[(v >> 12) & 63];
			if (o < 22)
				out[o++] = tab[(v >> 6) & 63];
			if (o < 22)
				out[o++] = tab[v & 63];
		}
		out[22] = '\0';
	} while (out[0] == '-');
}
