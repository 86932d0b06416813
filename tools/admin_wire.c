/* tools/admin_wire.c: the Kafka protocol over a plain blocking socket, for the admin requests
 * librdkafka 2.0 has no API for (ElectLeaders, Alter/ListPartitionReassignments): framing,
 * classic and flexible headers, Metadata v1 (brokers, controller, topics), requests that follow
 * the controller when it moves, and Kafka's names and messages for error codes. */
#include "admin.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "keel.h"

#define WIRE_MAX_FRAME (64 << 20)
#define WIRE_BACKOFF_US 200000
#define WIRE_METADATA_TIMEOUT_MS 5000
#define WIRE_CORRELATION_ID 1 /* one request per connection: any fixed id will do */

/* ================================================================ socket */

/* A blocking TCP connection to host:port with send/receive timeouts; -1 on failure. */
static int tcp_connect(const char *host, int port, int timeout_ms)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	char ports[16];
	int fd = -1;
	snprintf(ports, sizeof(ports), "%d", port);
	if (getaddrinfo(host, ports, &hints, &res) != 0)
		return -1;
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

static int io_all(int fd, void *buf, size_t n, bool wr)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = wr ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* "host:port" (the last ':' splits, so "[::1]:9092" style hosts keep their colons). */
static int split_server(const char *server, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(server, ':');
	int64_t p;
	if (!colon || (size_t)(colon - server) >= hostlen ||
	    admin_parse_int(colon + 1, 1, 65535, &p) < 0)
		return -1;
	snprintf(host, hostlen, "%.*s", (int)(colon - server), server);
	*port = (int)p;
	return 0;
}

/* ================================================================ requests */

/* Size placeholder and request header: v1 (key, version, correlation id, client id) or, for a
 * flexible API, v2 (the same and an empty tag section; client_id stays a classic string). */
static void req_begin(kw_t *w, int16_t key, int16_t version, bool flex)
{
	kw_init(w, 256, false);
	kw_reserve(w, 4);
	kw_i16(w, key);
	kw_i16(w, version);
	kw_i32(w, WIRE_CORRELATION_ID);
	kw_str(w, "keel-admin");
	if (flex)
		kw_uvarint(w, 0);
}

/* Read one size-prefixed frame into *buf (malloc'd); its size, or -1. */
static int32_t read_frame(int fd, uint8_t **buf)
{
	uint8_t hdr[4];
	int32_t size;
	if (io_all(fd, hdr, 4, false) < 0)
		return -1;
	size = (int32_t)((uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3]);
	if (size < 4 || size > WIRE_MAX_FRAME || !(*buf = malloc((size_t)size)))
		return -1;
	if (io_all(fd, *buf, (size_t)size, false) < 0) {
		free(*buf);
		*buf = NULL;
		return -1;
	}
	return size;
}

/* Send body (flexible if body->flex) as key/version on fd and read the answer into *buf
 * (malloc'd, the caller frees it); r is left at the answer's body, past the response header
 * (v1, with tags, for a flexible API). 0, or -1 with *buf NULL. */
static int roundtrip(int fd, int16_t key, int16_t version, const kw_t *body, uint8_t **buf, kr_t *r)
{
	int32_t size;
	kw_t w;
	int rc;
	*buf = NULL;
	if (body->oom)
		return -1;
	req_begin(&w, key, version, body->flex);
	kw_raw(&w, body->buf, body->len);
	kw_patch32(&w, 0, (int32_t)(w.len - 4));
	rc = w.oom ? -1 : io_all(fd, w.buf, w.len, true);
	kw_free(&w);
	if (rc < 0 || (size = read_frame(fd, buf)) < 0)
		return -1;
	kr_init(r, *buf, (size_t)size, body->flex);
	if (kr_i32(r) == WIRE_CORRELATION_ID)
		kr_tags(r);
	else
		r->err = true;
	if (kr_ok(r))
		return 0;
	free(*buf);
	*buf = NULL;
	return -1;
}

/* ================================================================ Metadata v1 */

static int cmp_broker(const void *a, const void *b)
{
	int32_t x = ((const admin_broker_t *)a)->id, y = ((const admin_broker_t *)b)->id;
	return (x > y) - (x < y);
}

static int cmp_part(const void *a, const void *b)
{
	int32_t x = ((const admin_part_t *)a)->id, y = ((const admin_part_t *)b)->id;
	return (x > y) - (x < y);
}

static int cmp_topic(const void *a, const void *b)
{
	return strcmp(((const admin_topic_t *)a)->name, ((const admin_topic_t *)b)->name);
}

/* brokers [node_id, host, port, rack] and controller_id. */
static int read_brokers(kr_t *r, admin_cluster_t *c)
{
	int32_t n = kr_array(r, 12);
	if (n > 0 && !(c->brokers = calloc((size_t)n, sizeof(*c->brokers))))
		return -1;
	for (int32_t i = 0; i < n && kr_ok(r); i++) {
		admin_broker_t *b = &c->brokers[c->nbrokers++];
		bool null;
		b->id = kr_i32(r);
		kr_str_buf(r, b->host, sizeof(b->host));
		b->port = kr_i32(r);
		(void)kr_str(r, &null); /* rack */
	}
	c->controller = kr_i32(r);
	keel_qsort(c->brokers, (size_t)c->nbrokers, sizeof(*c->brokers), cmp_broker);
	return kr_ok(r) ? 0 : -1;
}

/* partitions [error, index, leader, replicas [i32], isr [i32]], sorted by index. */
static int read_partitions(kr_t *r, admin_topic_t *t)
{
	int32_t n = kr_array(r, 18);
	if (n > 0 && !(t->partitions = calloc((size_t)n, sizeof(*t->partitions))))
		return -1;
	for (int32_t i = 0; i < n && kr_ok(r); i++) {
		admin_part_t *p = &t->partitions[t->npartitions++];
		int32_t nisr;
		p->error = kr_i16(r);
		p->id = kr_i32(r);
		(void)kr_i32(r); /* leader */
		p->replicas = admin_read_ids(r, &p->nreplicas);
		nisr = kr_array(r, 4);
		kr_skip(r, nisr > 0 ? (size_t)nisr * 4 : 0);
	}
	keel_qsort(t->partitions, (size_t)t->npartitions, sizeof(*t->partitions), cmp_part);
	return kr_ok(r) ? 0 : -1;
}

/* topics [error, name, is_internal, partitions], sorted by name. */
static int read_topics(kr_t *r, admin_cluster_t *c)
{
	int32_t n = kr_array(r, 9);
	if (n > 0 && !(c->topics = calloc((size_t)n, sizeof(*c->topics))))
		return -1;
	for (int32_t i = 0; i < n && kr_ok(r); i++) {
		admin_topic_t *t = &c->topics[c->ntopics++];
		bool null;
		t->error = kr_i16(r);
		t->name = admin_slice_dup(kr_str(r, &null), false);
		(void)kr_bool(r); /* is_internal */
		if (!t->name || read_partitions(r, t) < 0)
			return -1;
	}
	if (kr_ok(r))
		keel_qsort(c->topics, (size_t)c->ntopics, sizeof(*c->topics), cmp_topic);
	return kr_ok(r) ? 0 : -1;
}

/* Metadata v1 from one "host:port". */
static int cluster_from(const char *server, bool topics, admin_cluster_t *c)
{
	char host[256];
	uint8_t *buf = NULL;
	int port, fd, rc = -1;
	kw_t body;
	kr_t r;
	memset(c, 0, sizeof(*c));
	c->controller = -1;
	if (split_server(server, host, sizeof(host), &port) < 0 ||
	    (fd = tcp_connect(host, port, WIRE_METADATA_TIMEOUT_MS)) < 0)
		return -1;
	kw_init(&body, 16, false);
	kw_array(&body, topics ? -1 : 0); /* v1: null asks for every topic, empty for none */
	if (roundtrip(fd, 3, 1, &body, &buf, &r) == 0 && read_brokers(&r, c) == 0 &&
	    (!topics || read_topics(&r, c) == 0))
		rc = 0;
	kw_free(&body);
	free(buf);
	close(fd);
	if (rc < 0)
		admin_cluster_free(c);
	return rc;
}

int admin_cluster_get(const char *servers, bool topics, admin_cluster_t *out)
{
	char *list = strdup(servers), *save = NULL;
	int rc = -1;
	if (!list)
		abort();
	memset(out, 0, sizeof(*out));
	out->controller = -1;
	for (char *s = strtok_r(list, ",", &save); s && rc < 0; s = strtok_r(NULL, ",", &save))
		rc = cluster_from(s, topics, out);
	free(list);
	return rc;
}

void admin_cluster_free(admin_cluster_t *c)
{
	for (int32_t i = 0; c->topics && i < c->ntopics; i++) {
		for (int32_t j = 0; c->topics[i].partitions && j < c->topics[i].npartitions; j++)
			free(c->topics[i].partitions[j].replicas);
		free(c->topics[i].partitions);
		free(c->topics[i].name);
	}
	free(c->topics);
	free(c->brokers);
	memset(c, 0, sizeof(*c));
	c->controller = -1;
}

const admin_broker_t *admin_cluster_broker(const admin_cluster_t *c, int32_t id)
{
	admin_broker_t key = { .id = id };
	return c->nbrokers ? keel_bsearch(&key, c->brokers, (size_t)c->nbrokers, sizeof(key), cmp_broker) : NULL;
}

const admin_topic_t *admin_cluster_topic(const admin_cluster_t *c, const char *name)
{
	admin_topic_t key = { .name = (char *)name };
	return c->ntopics ? keel_bsearch(&key, c->topics, (size_t)c->ntopics, sizeof(key), cmp_topic) : NULL;
}

/* ================================================================ the controller */

/* Every answer read through admin_controller_call starts with throttle_time_ms and a top-level
 * error code (ElectLeaders v1+, Alter/ListPartitionReassignments); r is not advanced. */
static int16_t top_error(const kr_t *r)
{
	kr_t peek = *r;
	(void)kr_i32(&peek);
	return kr_i16(&peek);
}

/* One attempt: ask servers for the controller and send it the request. 0 with its answer,
 * unless it was NOT_CONTROLLER (the controller moved since: that answer is dropped). */
static int call_once(const char *servers, int16_t key, int16_t version, const kw_t *body,
		     int timeout_ms, uint8_t **buf, kr_t *r)
{
	admin_cluster_t c;
	const admin_broker_t *ctl;
	char host[256];
	int port = -1, fd, rc;
	*buf = NULL;
	if (admin_cluster_get(servers, false, &c) < 0)
		return -1;
	ctl = admin_cluster_broker(&c, c.controller);
	if (ctl) {
		snprintf(host, sizeof(host), "%s", ctl->host);
		port = ctl->port;
	}
	admin_cluster_free(&c);
	if (!ctl || (fd = tcp_connect(host, port, timeout_ms)) < 0)
		return -1;
	rc = roundtrip(fd, key, version, body, buf, r);
	close(fd);
	if (rc == 0 && top_error(r) == KERR_NOT_CONTROLLER) {
		free(*buf);
		*buf = NULL;
		rc = -1;
	}
	return rc;
}

int admin_controller_call(const char *servers, int16_t key, int16_t version, const kw_t *body,
			  int timeout_ms, uint8_t **buf, kr_t *r)
{
	int64_t deadline = admin_mono_us() + (int64_t)timeout_ms * 1000;
	while (!admin_stop) {
		if (call_once(servers, key, version, body, timeout_ms, buf, r) == 0)
			return 0;
		if (admin_mono_us() >= deadline)
			break;
		usleep(WIRE_BACKOFF_US);
	}
	return -1;
}

/* ================================================================ reading answers */

int32_t *admin_read_ids(kr_t *r, int32_t *n)
{
	int32_t *v = NULL;
	*n = kr_array(r, 4);
	if (*n < 0)
		*n = 0;
	if (*n > 0 && !(v = calloc((size_t)*n, sizeof(*v))))
		abort();
	for (int32_t i = 0; i < *n; i++)
		v[i] = kr_i32(r);
	return v;
}

void admin_tp_results_free(admin_tp_result_t *v, int n)
{
	for (int i = 0; v && i < n; i++) {
		free(v[i].topic);
		free(v[i].message);
	}
	free(v);
}

/* One topic's [partition, error_code, error_message] results appended to *v at *n. */
static int read_tp_partitions(kr_t *r, keel_slice_t topic, admin_tp_result_t **v, int *n)
{
	int32_t np = kr_array(r, 8); /* index, error, message, tags: 8 bytes at least either way */
	admin_tp_result_t *nv = np > 0 ? realloc(*v, (size_t)(*n + np) * sizeof(**v)) : *v;
	if (np > 0 && !nv)
		return -1;
	*v = nv;
	for (int32_t j = 0; j < np && kr_ok(r); j++, (*n)++) {
		admin_tp_result_t *res = &nv[*n];
		bool null;
		keel_slice_t msg;
		res->topic = admin_slice_dup(topic, false);
		res->partition = kr_i32(r);
		res->error = kr_i16(r);
		msg = kr_str(r, &null);
		res->message = kr_ok(r) ? admin_slice_dup(msg, null) : NULL;
		kr_tags(r);
	}
	return 0;
}

int admin_read_tp_results(kr_t *r, admin_tp_result_t **out, int *nout)
{
	admin_tp_result_t *v = NULL;
	int n = 0, rc = 0;
	int32_t nt = kr_array(r, r->flex ? 3 : 6); /* the shortest topic entry, empty */
	for (int32_t i = 0; i < nt && kr_ok(r) && rc == 0; i++) {
		bool null;
		keel_slice_t topic = kr_str(r, &null);
		rc = read_tp_partitions(r, topic, &v, &n);
		kr_tags(r);
	}
	if (rc < 0 || !kr_ok(r)) {
		admin_tp_results_free(v, n);
		return -1;
	}
	*out = v;
	*nout = n;
	return 0;
}

/* ================================================================ helpers */

char *admin_slice_dup(keel_slice_t s, bool null)
{
	char *copy;
	if (null)
		return NULL;
	if (!(copy = strndup(s.ptr ? (const char *)s.ptr : "", s.len)))
		abort();
	return copy;
}

void admin_kafka_error(int16_t code, const char **cls, const char **name, const char **msg)
{
	static const struct {
		int16_t code;
		const char *cls, *name, *msg;
	} tab[] = {
		{KERR_UNKNOWN_TOPIC_OR_PARTITION, "UnknownTopicOrPartitionException",
		 "UNKNOWN_TOPIC_OR_PARTITION", "This server does not host this topic-partition."},
		{KERR_REQUEST_TIMED_OUT, "TimeoutException", "REQUEST_TIMED_OUT",
		 "The request timed out."},
		{KERR_INVALID_TOPIC_EXCEPTION, "InvalidTopicException", "INVALID_TOPIC_EXCEPTION",
		 "The request attempted to perform an operation on an invalid topic."},
		{KERR_INVALID_REPLICA_ASSIGNMENT, "InvalidReplicaAssignmentException",
		 "INVALID_REPLICA_ASSIGNMENT", "Replica assignment is invalid."},
		{KERR_NOT_CONTROLLER, "NotControllerException", "NOT_CONTROLLER",
		 "This is not the correct controller for this cluster."},
		{KERR_INVALID_REQUEST, "InvalidRequestException", "INVALID_REQUEST",
		 "This most likely occurs because of a request being malformed by the client library or "
		 "the message was sent to an incompatible broker. See the broker logs for more details."},
		{KERR_PREFERRED_LEADER_NOT_AVAILABLE, "PreferredLeaderNotAvailableException",
		 "PREFERRED_LEADER_NOT_AVAILABLE", "The preferred leader was not available."},
		{KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE, "EligibleLeadersNotAvailableException",
		 "ELIGIBLE_LEADERS_NOT_AVAILABLE", "Eligible topic partition leaders are not available."},
		{KERR_ELECTION_NOT_NEEDED, "ElectionNotNeededException", "ELECTION_NOT_NEEDED",
		 "Leader election not needed for topic partition."},
		{KERR_NO_REASSIGNMENT_IN_PROGRESS, "NoReassignmentInProgressException",
		 "NO_REASSIGNMENT_IN_PROGRESS", "No partition reassignment is in progress."},
		/* the group coordinator's (keel.h does not name these codes; librdkafka does) */
		{RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE, "OffsetMetadataTooLarge",
		 "OFFSET_METADATA_TOO_LARGE", "The metadata field of the offset request was too large."},
		{RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, "CoordinatorLoadInProgressException",
		 "COORDINATOR_LOAD_IN_PROGRESS", "The coordinator is loading and hence can't process requests."},
		{RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, "CoordinatorNotAvailableException",
		 "COORDINATOR_NOT_AVAILABLE", "The coordinator is not available."},
		{RD_KAFKA_RESP_ERR_NOT_COORDINATOR, "NotCoordinatorException", "NOT_COORDINATOR",
		 "This is not the correct coordinator."},
		{RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, "IllegalGenerationException", "ILLEGAL_GENERATION",
		 "Specified group generation id is not valid."},
		{RD_KAFKA_RESP_ERR_INVALID_GROUP_ID, "InvalidGroupIdException", "INVALID_GROUP_ID",
		 "The configured groupId is invalid."},
		{RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID, "UnknownMemberIdException", "UNKNOWN_MEMBER_ID",
		 "The coordinator is not aware of this member."},
		{RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, "RebalanceInProgressException",
		 "REBALANCE_IN_PROGRESS", "The group is rebalancing, so a rejoin is needed."},
		{RD_KAFKA_RESP_ERR_INVALID_COMMIT_OFFSET_SIZE, "InvalidCommitOffsetSizeException",
		 "INVALID_COMMIT_OFFSET_SIZE", "The committing offset data size is not valid."},
		{RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "TopicAuthorizationException",
		 "TOPIC_AUTHORIZATION_FAILED", "Topic authorization failed."},
		{RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, "GroupAuthorizationException",
		 "GROUP_AUTHORIZATION_FAILED", "Group authorization failed."},
		{KERR_UNSUPPORTED_VERSION, "UnsupportedVersionException", "UNSUPPORTED_VERSION",
		 "The version of API is not supported."},
		{RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP, "GroupNotEmptyException", "NON_EMPTY_GROUP",
		 "The group is not empty."},
		{RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND, "GroupIdNotFoundException", "GROUP_ID_NOT_FOUND",
		 "The group id does not exist."},
		{RD_KAFKA_RESP_ERR_GROUP_SUBSCRIBED_TO_TOPIC, "GroupSubscribedToTopicException",
		 "GROUP_SUBSCRIBED_TO_TOPIC",
		 "Deleting offsets of a topic is forbidden while the consumer group is actively subscribed "
		 "to it."},
		{RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT, "UnstableOffsetCommitException",
		 "UNSTABLE_OFFSET_COMMIT", "There are unstable offsets that need to be cleared."},
	};
	*cls = "UnknownServerException";
	*name = "UNKNOWN_SERVER_ERROR";
	*msg = "The server experienced an unexpected error when processing the request.";
	for (size_t i = 0; i < KEEL_ARRAY_LEN(tab); i++)
		if (tab[i].code == code) {
			*cls = tab[i].cls;
			*name = tab[i].name;
			*msg = tab[i].msg;
		}
}
