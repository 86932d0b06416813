/* tools/admin_elect.c: `keel-admin leader-election` (keel-leader-election.sh): preferred or
 * unclean leader elections through ElectLeaders v1, sent over a plain socket to the controller
 * (librdkafka 2.0 has no such Admin API), with Kafka's kafka-leader-election.sh flags and output. */
#include "admin.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "codec.h"
#include "keel.h"
#include "zkjson.h"

#define ELECT_TIMEOUT_MS 30000 /* Kafka's LeaderElectionCommand waits 30 s */
#define ELECT_BACKOFF_US 200000
#define ELECT_MAX_FRAME (64 << 20)

static const char g_usage[] =
	"Usage: keel-leader-election.sh --bootstrap-server HOST:PORT --election-type TYPE\n"
	"                               (--all-topic-partitions | --topic T --partition P |\n"
	"                                --path-to-json-file FILE)\n"
	"Elect partition leaders: the preferred replica, or (unclean) any live replica of a\n"
	"partition without a live leader.\n"
	"  --bootstrap-server HOST:PORT  brokers to connect to (comma-separated); REQUIRED\n"
	"  --election-type TYPE        preferred or unclean; REQUIRED\n"
	"  --all-topic-partitions      elect on every partition of every topic\n"
	"  --topic TOPIC               the topic of a single partition (needs --partition)\n"
	"  --partition P               the partition id (with --topic)\n"
	"  --path-to-json-file FILE    partitions as {\"partitions\":[{\"topic\":\"foo\",\"partition\":1}]}\n"
	"  --help                      print this help\n";

enum { E_BOOTSTRAP = 1, E_TYPE, E_ALL, E_TOPIC, E_PARTITION, E_JSON, E_HELP };

static const admin_opt_t g_opts[] = {
	{"bootstrap-server", ADMIN_ARG_ONE, E_BOOTSTRAP},
	{"election-type", ADMIN_ARG_ONE, E_TYPE},
	{"all-topic-partitions", ADMIN_ARG_NONE, E_ALL},
	{"topic", ADMIN_ARG_ONE, E_TOPIC},
	{"partition", ADMIN_ARG_ONE, E_PARTITION},
	{"path-to-json-file", ADMIN_ARG_ONE, E_JSON},
	{"help", ADMIN_ARG_NONE, E_HELP},
	{NULL, 0, 0},
};

#define CMD (&admin_cmd_leader_election)

typedef struct {
	const char *bootstrap, *topic, *partition, *json;
	bool all;
	int8_t type;          /* 0 preferred, 1 unclean, -1 unset */
	int ntps;             /* -1 = all partitions */
	zkj_tp_t *tps;
} elect_opts_t;

/* One partition's result from the controller. */
typedef struct {
	char *topic;
	int32_t partition;
	int16_t error;
	char *message;
} elect_result_t;

/* ================================================================ the wire */

static int64_t now_ms(void)
{
	return admin_mono_us() / 1000;
}

/* A blocking TCP connection to "host:port" with send/receive timeouts; -1 on failure. */
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

/* Start a request: size placeholder and header v1 (key, version, correlation id, client id). */
static void req_begin(kw_t *w, int16_t key, int16_t version)
{
	kw_init(w, 256, false);
	kw_reserve(w, 4);
	kw_i16(w, key);
	kw_i16(w, version);
	kw_i32(w, 1);
	kw_str(w, "keel-admin");
}

/* Send w (freed) and read the response body into *buf (malloc'd); r is positioned after the
 * correlation id. 0 or -1. */
static int roundtrip(int fd, kw_t *w, uint8_t **buf, kr_t *r)
{
	uint8_t hdr[4];
	int32_t size;
	int rc;
	kw_patch32(w, 0, (int32_t)(w->len - 4));
	rc = w->oom ? -1 : io_all(fd, w->buf, w->len, true);
	kw_free(w);
	if (rc < 0 || io_all(fd, hdr, 4, false) < 0)
		return -1;
	size = (int32_t)((uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3]);
	if (size < 4 || size > ELECT_MAX_FRAME || !(*buf = malloc((size_t)size)))
		return -1;
	if (io_all(fd, *buf, (size_t)size, false) < 0) {
		free(*buf);
		*buf = NULL;
		return -1;
	}
	kr_init(r, *buf, (size_t)size, false);
	if (kr_i32(r) != 1) { /* correlation id */
		free(*buf);
		*buf = NULL;
		return -1;
	}
	return 0;
}

/* Metadata v1 with no topics from one bootstrap server: the controller's host and port.
 * 0, or -1 if the server is unreachable or names no live controller. */
static int find_controller(const char *server, char *host, size_t hostlen, int *port)
{
	char h[256];
	const char *colon = strrchr(server, ':');
	uint8_t *buf = NULL;
	kr_t r;
	kw_t w;
	int fd, rc = -1;
	int32_t nb, ctl;
	if (!colon || (size_t)(colon - server) >= sizeof(h))
		return -1;
	snprintf(h, sizeof(h), "%.*s", (int)(colon - server), server);
	if ((fd = tcp_connect(h, atoi(colon + 1), 5000)) < 0)
		return -1;
	req_begin(&w, 3, 1);
	kw_array(&w, 0);
	if (roundtrip(fd, &w, &buf, &r) == 0) {
		nb = kr_array(&r, 12);
		int32_t *ids = calloc((size_t)(nb > 0 ? nb : 1), sizeof(*ids));
		char (*hosts)[256] = calloc((size_t)(nb > 0 ? nb : 1), sizeof(*hosts));
		int32_t *ports = calloc((size_t)(nb > 0 ? nb : 1), sizeof(*ports));
		for (int32_t i = 0; ids && hosts && ports && i < nb && kr_ok(&r); i++) {
			bool null;
			ids[i] = kr_i32(&r);
			kr_str_buf(&r, hosts[i], sizeof(hosts[i]));
			ports[i] = kr_i32(&r);
			(void)kr_str(&r, &null); /* rack */
		}
		ctl = kr_i32(&r);
		for (int32_t i = 0; ids && hosts && ports && kr_ok(&r) && i < nb; i++)
			if (ids[i] == ctl && ctl >= 0) {
				snprintf(host, hostlen, "%s", hosts[i]);
				*port = ports[i];
				rc = 0;
			}
		free(ids);
		free(hosts);
		free(ports);
	}
	free(buf);
	close(fd);
	return rc;
}

/* ElectLeaders v1 request body. */
static void write_elect(kw_t *w, const elect_opts_t *o)
{
	int ntopics = 0;
	kw_i8(w, o->type);
	if (o->ntps < 0) {
		kw_array(w, -1);
	} else {
		for (int i = 0; i < o->ntps; i++)
			ntopics += i == 0 || strcmp(o->tps[i].topic, o->tps[i - 1].topic) != 0;
		kw_array(w, ntopics);
		for (int i = 0, j; i < o->ntps; i = j) {
			for (j = i; j < o->ntps && !strcmp(o->tps[j].topic, o->tps[i].topic); j++)
				;
			kw_str(w, o->tps[i].topic);
			kw_array(w, j - i);
			for (int k = i; k < j; k++)
				kw_i32(w, o->tps[k].partition);
		}
	}
	kw_i32(w, ELECT_TIMEOUT_MS);
}

static void results_free(elect_result_t *v, int n)
{
	for (int i = 0; v && i < n; i++) {
		free(v[i].topic);
		free(v[i].message);
	}
	free(v);
}

static char *slice_dup(keel_slice_t s, bool null)
{
	return null ? NULL : strndup(s.ptr ? (const char *)s.ptr : "", s.len);
}

/* ElectLeaders v1 response: top-level error and the per-partition results. 0 or -1. */
static int read_elect(kr_t *r, int16_t *error, elect_result_t **out, int *nout)
{
	elect_result_t *v = NULL;
	int n = 0;
	int32_t nt;
	(void)kr_i32(r); /* throttle_time_ms */
	*error = kr_i16(r);
	nt = kr_array(r, 6);
	for (int32_t i = 0; i < nt && kr_ok(r); i++) {
		bool null;
		keel_slice_t topic = kr_str(r, &null);
		int32_t np = kr_array(r, 8);
		elect_result_t *nv = np > 0 ? realloc(v, (size_t)(n + np) * sizeof(*v)) : v;
		if (!nv)
			break;
		v = nv;
		for (int32_t j = 0; j < np && kr_ok(r); j++, n++) {
			keel_slice_t msg;
			v[n].topic = slice_dup(topic, false);
			v[n].partition = kr_i32(r);
			v[n].error = kr_i16(r);
			msg = kr_str(r, &null);
			v[n].message = slice_dup(msg, null);
		}
	}
	if (!kr_ok(r)) {
		results_free(v, n);
		return -1;
	}
	*out = v;
	*nout = n;
	return 0;
}

/* Send the election to the controller, following it if it moves. 0 with the results; -1
 * after printing why not. */
static int elect(const elect_opts_t *o, int16_t *error, elect_result_t **res, int *nres)
{
	int64_t deadline = now_ms() + ELECT_TIMEOUT_MS;
	while (!admin_stop) {
		char *servers = strdup(o->bootstrap), *save = NULL, host[256];
		int port = -1, found = -1, fd = -1;
		for (char *s = strtok_r(servers, ",", &save); s && found < 0; s = strtok_r(NULL, ",", &save))
			found = find_controller(s, host, sizeof(host), &port);
		free(servers);
		if (found == 0 && (fd = tcp_connect(host, port, ELECT_TIMEOUT_MS)) >= 0) {
			uint8_t *buf = NULL;
			kw_t w;
			kr_t r;
			int rc = -1;
			req_begin(&w, 43, 1);
			write_elect(&w, o);
			if (roundtrip(fd, &w, &buf, &r) == 0)
				rc = read_elect(&r, error, res, nres);
			free(buf);
			close(fd);
			if (rc == 0 && *error != KERR_NOT_CONTROLLER)
				return 0;
			if (rc == 0)
				results_free(*res, *nres);
		}
		if (now_ms() >= deadline)
			break;
		usleep(ELECT_BACKOFF_US);
	}
	printf("Timeout waiting for election results\n");
	return admin_error(CMD, "timed out waiting for the controller at %s", o->bootstrap), -1;
}

/* ================================================================ output */

/* Kafka's exception class and default message for an error code. */
static void error_info(int16_t code, const char **cls, const char **name, const char **dflt)
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
	};
	*cls = "UnknownServerException";
	*name = "UNKNOWN_SERVER_ERROR";
	*dflt = "The server experienced an unexpected error when processing the request.";
	for (size_t i = 0; i < KEEL_ARRAY_LEN(tab); i++)
		if (tab[i].code == code) {
			*cls = tab[i].cls;
			*name = tab[i].name;
			*dflt = tab[i].msg;
		}
}

/* Print the partitions of res whose error matches (or, with except, does not) as "t-0, t-1". */
static void print_tps(const elect_result_t *res, int n, int16_t code, bool except)
{
	bool first = true;
	for (int i = 0; i < n; i++)
		if ((res[i].error == code) != except) {
			printf("%s%s-%d", first ? "" : ", ", res[i].topic, res[i].partition);
			first = false;
		}
	putchar('\n');
}

/* Kafka's LeaderElectionCommand output; returns the exit status. */
static int report(const elect_opts_t *o, const elect_result_t *res, int n)
{
	const char *type = o->type == 0 ? "PREFERRED" : "UNCLEAN", *cls, *name, *dflt;
	int nok = 0, nnoop = 0, nfail = 0;
	for (int i = 0; i < n; i++) {
		nok += res[i].error == KERR_NONE;
		nnoop += res[i].error == KERR_ELECTION_NOT_NEEDED;
	}
	nfail = n - nok - nnoop;
	if (nok) {
		printf("Successfully completed leader election (%s) for partitions ", type);
		print_tps(res, n, KERR_NONE, false);
	}
	if (nnoop) {
		printf("Valid replica already elected for partitions ");
		print_tps(res, n, KERR_ELECTION_NOT_NEEDED, false);
	}
	for (int i = 0; i < n; i++) {
		if (res[i].error == KERR_NONE || res[i].error == KERR_ELECTION_NOT_NEEDED)
			continue;
		error_info(res[i].error, &cls, &name, &dflt);
		printf("Error completing leader election (%s) for partition: %s-%d: "
		       "org.apache.kafka.common.errors.%s: %s\n", type, res[i].topic, res[i].partition,
		       cls, res[i].message ? res[i].message : dflt);
	}
	if (!nfail)
		return 0;
	fprintf(stderr, "%s: %d replica(s) could not be elected:", CMD->script, nfail);
	for (int i = 0; i < n; i++) {
		if (res[i].error == KERR_NONE || res[i].error == KERR_ELECTION_NOT_NEEDED)
			continue;
		error_info(res[i].error, &cls, &name, &dflt);
		fprintf(stderr, " %s-%d: %s", res[i].topic, res[i].partition, name);
	}
	fputc('\n', stderr);
	return 1;
}

/* ================================================================ options */

static int tp_cmp(const void *a, const void *b)
{
	const zkj_tp_t *x = a, *y = b;
	int d = strcmp(x->topic, y->topic);
	return d ? d : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Kafka's parseReplicaElectionData: {"partitions":[{"topic":..,"partition":..}]}, no
 * duplicates. Fills o->tps (sorted). 0, or 1 after printing the problem. */
static int load_json(elect_opts_t *o)
{
	FILE *f = fopen(o->json, "r");
	char *data = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc;
	if (!f)
		return admin_error(CMD, "%s: %s", o->json, strerror(errno));
	len = getdelim(&data, &cap, '\0', f);
	fclose(f);
	rc = len < 0 ? -1 : zkj_isr_change_decode(data, (int)len, &o->ntps, &o->tps);
	free(data);
	if (rc)
		return admin_error(CMD, "%s: replica election data is not {\"partitions\":"
				   "[{\"topic\":...,\"partition\":...}]}", o->json);
	qsort(o->tps, (size_t)o->ntps, sizeof(*o->tps), tp_cmp);
	for (int i = 1; i < o->ntps; i++)
		if (!tp_cmp(&o->tps[i], &o->tps[i - 1]))
			return admin_error(CMD, "Replica election data contains duplicate partitions: %s-%d",
					   o->tps[i].topic, o->tps[i].partition);
	return 0;
}

/* Kafka's LeaderElectionCommandOptions.validate, then the partition list. 0 or 1. */
static int check_opts(elect_opts_t *o)
{
	int64_t p;
	if (!o->bootstrap || o->type < 0)
		return admin_usage_error(CMD, "Missing required option(s): %s",
					 !o->bootstrap ? "bootstrap-server" : "election-type");
	if (!!o->topic + o->all + !!o->json != 1)
		return admin_usage_error(CMD, "%s", !o->topic && !o->all && !o->json
			? "One and only one of the following options is required: topic, "
			  "all-topic-partitions, path-to-json-file"
			: "Mutually exclusive options were provided: topic, all-topic-partitions, "
			  "path-to-json-file");
	if (o->topic && !o->partition)
		return admin_usage_error(CMD, "Missing required option(s): partition");
	if (!o->topic && o->partition)
		return admin_usage_error(CMD, "Option partition is only allowed if topic is used");
	if (o->json)
		return load_json(o);
	o->ntps = -1;
	if (!o->topic)
		return 0;
	if (admin_parse_int(o->partition, 0, INT32_MAX, &p) < 0)
		return admin_usage_error(CMD, "invalid --partition '%s'", o->partition);
	o->ntps = 1;
	if (!(o->tps = calloc(1, sizeof(*o->tps))) || !(o->tps[0].topic = strdup(o->topic)))
		abort();
	o->tps[0].partition = (int32_t)p;
	return 0;
}

static int elect_run(int argc, char **argv)
{
	elect_opts_t o = { .type = -1 };
	admin_parser_t p;
	elect_result_t *res = NULL;
	const char *val, *cls, *name, *dflt;
	int id, nres = 0, rc;
	int16_t error = 0;
	admin_parser_init(&p, CMD, argc, argv);
	while ((id = admin_getopt(&p, g_opts, &val)) > 0) {
		switch (id) {
		case E_BOOTSTRAP: o.bootstrap = val; break;
		case E_TOPIC: o.topic = val; break;
		case E_PARTITION: o.partition = val; break;
		case E_JSON: o.json = val; break;
		case E_ALL: o.all = true; break;
		case E_HELP: return admin_help(CMD);
		case E_TYPE:
			if (!strcasecmp(val, "preferred"))
				o.type = 0;
			else if (!strcasecmp(val, "unclean"))
				o.type = 1;
			else
				return admin_usage_error(CMD, "invalid --election-type '%s': "
							 "preferred or unclean", val);
			break;
		}
	}
	if (id == ADMIN_OPT_ERROR)
		return 1;
	if ((rc = check_opts(&o)) == 0) {
		admin_install_signals();
		if (elect(&o, &error, &res, &nres) < 0) {
			rc = 1;
		} else if (error) {
			error_info(error, &cls, &name, &dflt);
			rc = admin_error(CMD, "org.apache.kafka.common.errors.%s: %s (%s)", cls, dflt, name);
		} else {
			rc = report(&o, res, nres);
		}
	}
	results_free(res, nres);
	zkj_tps_free(o.ntps, o.tps);
	return rc;
}

const admin_cmd_t admin_cmd_leader_election = {
	.name = "leader-election",
	.script = "keel-leader-election.sh",
	.usage = g_usage,
	.run = elect_run,
};
