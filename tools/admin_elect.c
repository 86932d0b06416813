/* tools/admin_elect.c: `keel-admin leader-election` (keel-leader-election.sh): preferred or
 * unclean leader elections through ElectLeaders v1, sent over a plain socket to the controller
 * (librdkafka 2.0 has no such Admin API), with Kafka's kafka-leader-election.sh flags and output. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keel.h"
#include "zkjson.h"

#define ELECT_TIMEOUT_MS 30000 /* Kafka's LeaderElectionCommand waits 30 s */

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

/* ================================================================ the request */

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

/* ElectLeaders v1 response: top-level error and the per-partition results. 0 or -1. */
static int read_elect(kr_t *r, int16_t *error, admin_tp_result_t **out, int *nout)
{
	(void)kr_i32(r); /* throttle_time_ms */
	*error = kr_i16(r);
	return admin_read_tp_results(r, out, nout);
}

/* Send the election to the controller, following it if it moves. 0 with the results; -1
 * after printing why not. */
static int elect(const elect_opts_t *o, int16_t *error, admin_tp_result_t **res, int *nres)
{
	uint8_t *buf = NULL;
	kw_t body;
	kr_t r;
	int rc;
	kw_init(&body, 256, false);
	write_elect(&body, o);
	rc = admin_controller_call(o->bootstrap, 43, 1, &body, ELECT_TIMEOUT_MS, &buf, &r);
	kw_free(&body);
	if (rc < 0) {
		printf("Timeout waiting for election results\n");
		return admin_error(CMD, "timed out waiting for the controller at %s", o->bootstrap), -1;
	}
	rc = read_elect(&r, error, res, nres);
	free(buf);
	if (rc < 0)
		return admin_error(CMD, "malformed ElectLeaders answer from the controller"), -1;
	return 0;
}

/* ================================================================ output */

/* Print the partitions of res whose error matches (or, with except, does not) as "t-0, t-1". */
static void print_tps(const admin_tp_result_t *res, int n, int16_t code, bool except)
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
static int report(const elect_opts_t *o, const admin_tp_result_t *res, int n)
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
		admin_kafka_error(res[i].error, &cls, &name, &dflt);
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
		admin_kafka_error(res[i].error, &cls, &name, &dflt);
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
	keel_qsort(o->tps, (size_t)o->ntps, sizeof(*o->tps), tp_cmp);
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
	admin_tp_result_t *res = NULL;
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
			admin_kafka_error(error, &cls, &name, &dflt);
			rc = admin_error(CMD, "org.apache.kafka.common.errors.%s: %s (%s)", cls, dflt, name);
		} else {
			rc = report(&o, res, nres);
		}
	}
	admin_tp_results_free(res, nres);
	zkj_tps_free(o.ntps, o.tps);
	return rc;
}

const admin_cmd_t admin_cmd_leader_election = {
	.name = "leader-election",
	.script = "keel-leader-election.sh",
	.usage = g_usage,
	.run = elect_run,
};
