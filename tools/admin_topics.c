/* tools/admin_topics.c: `keel-admin topics` (keel-topics.sh): create, delete, list and describe
 * topics through the Kafka Admin API (--bootstrap-server) or directly in ZooKeeper
 * (--zookeeper), with Kafka's kafka-topics.sh flags and output. */
#include "admin.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "coord.h"
#include "keel.h"
#include "zkjson.h"
#include "zkutil.h"

static const char g_usage[] =
	"Usage: keel-topics.sh (--bootstrap-server HOST:PORT | --zookeeper HOST:PORT[/CHROOT])\n"
	"                      (--create | --delete | --list | --describe) [OPTIONS]\n"
	"Create, delete, list or describe topics.\n"
	"  --bootstrap-server HOST:PORT  brokers to connect to (Kafka Admin API)\n"
	"  --zookeeper HOST:PORT[/CHROOT]  write and read the znodes directly (deprecated in Kafka)\n"
	"  --command-config FILE       client properties for the Admin API connection\n"
	"  --create                    create a topic\n"
	"  --delete                    delete topics (--topic is a regular expression)\n"
	"  --list                      list topics (optionally those matching --topic)\n"
	"  --describe                  describe topics (optionally those matching --topic)\n"
	"  --topic TOPIC               the topic; a regular expression except for --create\n"
	"  --partitions N              number of partitions (--create)\n"
	"  --replication-factor N      replicas per partition (--create)\n"
	"  --replica-assignment LIST   manual assignment: b1:b2,b3:b4 (partition 0: b1,b2; ...)\n"
	"  --config NAME=VALUE         topic configuration override (repeatable, --create)\n"
	"  --if-not-exists             with --create: do nothing if the topic exists\n"
	"  --if-exists                 with --delete/--describe: do nothing if no topic matches\n"
	"  --under-replicated-partitions  with --describe: only partitions whose ISR < replicas\n"
	"  --unavailable-partitions    with --describe: only partitions without a live leader\n"
	"  --help                      print this help\n";

enum {
	O_BOOTSTRAP = 1, O_ZOOKEEPER, O_COMMAND_CONFIG, O_CREATE, O_DELETE, O_LIST, O_DESCRIBE,
	O_ALTER, O_TOPIC, O_PARTITIONS, O_RF, O_ASSIGN, O_CONFIG, O_IF_NOT_EXISTS, O_IF_EXISTS,
	O_UNDER_REPLICATED, O_UNAVAILABLE, O_HELP,
};

static const admin_opt_t g_opts[] = {
	{"bootstrap-server", ADMIN_ARG_ONE, O_BOOTSTRAP},
	{"zookeeper", ADMIN_ARG_ONE, O_ZOOKEEPER},
	{"command-config", ADMIN_ARG_ONE, O_COMMAND_CONFIG},
	{"create", ADMIN_ARG_NONE, O_CREATE},
	{"delete", ADMIN_ARG_NONE, O_DELETE},
	{"list", ADMIN_ARG_NONE, O_LIST},
	{"describe", ADMIN_ARG_NONE, O_DESCRIBE},
	{"alter", ADMIN_ARG_NONE, O_ALTER},
	{"topic", ADMIN_ARG_ONE, O_TOPIC},
	{"partitions", ADMIN_ARG_ONE, O_PARTITIONS},
	{"replication-factor", ADMIN_ARG_ONE, O_RF},
	{"replica-assignment", ADMIN_ARG_ONE, O_ASSIGN},
	{"config", ADMIN_ARG_ONE, O_CONFIG},
	{"if-not-exists", ADMIN_ARG_NONE, O_IF_NOT_EXISTS},
	{"if-exists", ADMIN_ARG_NONE, O_IF_EXISTS},
	{"under-replicated-partitions", ADMIN_ARG_NONE, O_UNDER_REPLICATED},
	{"unavailable-partitions", ADMIN_ARG_NONE, O_UNAVAILABLE},
	{"help", ADMIN_ARG_NONE, O_HELP},
	{NULL, 0, 0},
};

#define TIMEOUT_MS 30000
#define ERR_PREFIX "Error while executing topic command : "

/* A manual or computed assignment: replicas[p][0..nreplicas[p]-1]. */
typedef struct {
	int32_t npartitions;
	int32_t *nreplicas;
	int32_t **replicas;
} assignment_t;

typedef struct {
	const char *bootstrap, *zookeeper, *topic, *assign_str;
	int action;               /* O_CREATE, O_DELETE, O_LIST or O_DESCRIBE */
	int64_t partitions, rf;   /* -1 = not given */
	admin_kv_t configs;       /* --config */
	admin_kv_t client_props;  /* --command-config */
	bool if_exists, if_not_exists, under_replicated, unavailable;
	bool has_matcher;
	regex_t matcher;          /* --topic as Kafka's include-list regex */
} topics_opts_t;

/* ---- shared: topic filtering, names, assignment ---- */

static void assignment_free(assignment_t *a)
{
	for (int32_t p = 0; a->replicas && p < a->npartitions; p++)
		free(a->replicas[p]);
	free(a->replicas);
	free(a->nreplicas);
	memset(a, 0, sizeof(*a));
}

static void assignment_alloc(assignment_t *a, int32_t npartitions)
{
	a->npartitions = npartitions;
	a->nreplicas = calloc((size_t)npartitions, sizeof(int32_t));
	a->replicas = calloc((size_t)npartitions, sizeof(int32_t *));
	if (!a->nreplicas || !a->replicas)
		abort();
}

/* --topic as Kafka's IncludeList: ',' means '|', the whole name must match. */
static int compile_matcher(topics_opts_t *o)
{
	char *pat;

	if (!o->topic || o->action == O_CREATE)
		return 0;
	if (asprintf(&pat, "^(%s)$", o->topic) < 0)
		abort();
	for (char *s = pat; *s; s++)
		if (*s == ',')
			*s = '|';
	int rc = regcomp(&o->matcher, pat, REG_EXTENDED | REG_NOSUB);
	free(pat);
	if (rc != 0)
		return admin_usage_error(&admin_cmd_topics, "invalid --topic regular expression '%s'",
					 o->topic),
		       -1;
	o->has_matcher = true;
	return 0;
}

static bool topic_matches(const topics_opts_t *o, const char *name)
{
	if (!o->has_matcher)
		return true;
	return strcmp(name, o->topic) == 0 || regexec(&o->matcher, name, 0, NULL, 0) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Kafka's Topic.validate messages; returns 0 or 1 after printing why. */
static int check_topic_name(const char *t)
{
	if (keel_topic_name_valid(t))
		return 0;
	if (*t == '\0')
		fprintf(stderr, ERR_PREFIX "Topic name is illegal, it can't be empty\n");
	else if (strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
		fprintf(stderr, ERR_PREFIX "Topic name cannot be \".\" or \"..\"\n");
	else if (strlen(t) > 249)
		fprintf(stderr,
			ERR_PREFIX "Topic name is illegal, it can't be longer than 249 characters, "
				   "topic name: %s\n",
			t);
	else
		fprintf(stderr,
			ERR_PREFIX "Topic name \"%s\" is illegal, it contains a character other than "
				   "ASCII alphanumerics, '.', '_' and '-'\n",
			t);
	return 1;
}

static void warn_collision_chars(const char *t)
{
	if (strchr(t, '.') || strchr(t, '_'))
		printf("WARNING: Due to limitations in metric names, topics with a period ('.') or "
		       "underscore ('_') could collide. To avoid issues it is best to use either, but "
		       "not both.\n");
}

/* Parse "1:2,2:3" (partition 0 on brokers 1,2; partition 1 on 2,3). Returns 0 or 1. */
static int parse_assignment(const char *s, assignment_t *a)
{
	int32_t np = 1;

	for (const char *c = s; *c; c++)
		np += *c == ',';
	assignment_alloc(a, np);
	char *copy = strdup(s), *save = NULL;
	int32_t p = 0;
	for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save), p++) {
		char *save2 = NULL;
		a->replicas[p] = calloc(strlen(part) + 1, sizeof(int32_t));
		for (char *b = strtok_r(part, ":", &save2); b; b = strtok_r(NULL, ":", &save2)) {
			int64_t id;
			if (admin_parse_int(b, 0, INT32_MAX, &id) < 0)
				goto bad;
			for (int32_t r = 0; r < a->nreplicas[p]; r++)
				if (a->replicas[p][r] == id) {
					fprintf(stderr, ERR_PREFIX "Partition replica lists may not contain "
								   "duplicate entries: %s\n", b);
					goto fail;
				}
			a->replicas[p][a->nreplicas[p]++] = (int32_t)id;
		}
		if (a->nreplicas[p] == 0 || a->nreplicas[p] != a->nreplicas[0]) {
			fprintf(stderr, ERR_PREFIX "Partition %d has different replication factor: %s\n", p,
				part);
			goto fail;
		}
	}
	if (p != np)
		goto bad;
	free(copy);
	return 0;
bad:
	fprintf(stderr, ERR_PREFIX "Invalid --replica-assignment '%s'\n", s);
fail:
	free(copy);
	assignment_free(a);
	return 1;
}

/* Kafka's rack-unaware assignment over the sorted live brokers. Returns 0 or 1 after printing
 * the error. */
static int compute_assignment(const int32_t *brokers, int32_t n, int32_t npart, int32_t rf,
			      assignment_t *a)
{
	char err[128];

	if (admin_assign_check(n, npart, rf, err, sizeof(err)) < 0)
		return fprintf(stderr, ERR_PREFIX "%s\n", err), 1;
	assignment_alloc(a, npart);
	for (int32_t p = 0; p < npart; p++) {
		a->nreplicas[p] = rf;
		if (!(a->replicas[p] = calloc((size_t)rf, sizeof(int32_t))))
			abort();
	}
	admin_assign_replicas(brokers, n, npart, rf, a->replicas);
	return 0;
}

/* ---- --bootstrap-server: the Admin API ---- */

static void print_rk_error(rd_kafka_resp_err_t err, const char *msg)
{
	fprintf(stderr, ERR_PREFIX "%s\n", msg && *msg ? msg : rd_kafka_err2str(err));
	fprintf(stderr, "ERROR %s: %s\n", rd_kafka_err2name(err), msg && *msg ? msg : rd_kafka_err2str(err));
}

/* Run one admin operation and wait for its result event; NULL after printing on timeout. */
static rd_kafka_event_t *wait_result(rd_kafka_queue_t *q, rd_kafka_event_type_t type)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS + 5000);

	if (!ev) {
		fprintf(stderr, ERR_PREFIX "Timed out waiting for the broker's answer\n");
		return NULL;
	}
	if (rd_kafka_event_error(ev)) {
		print_rk_error(rd_kafka_event_error(ev), rd_kafka_event_error_string(ev));
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	if (rd_kafka_event_type(ev) != type) {
		fprintf(stderr, ERR_PREFIX "unexpected admin result event %s\n", rd_kafka_event_name(ev));
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
	rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, op);
	char errstr[256];

	rd_kafka_AdminOptions_set_request_timeout(ao, TIMEOUT_MS, errstr, sizeof(errstr));
	if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS)
		rd_kafka_AdminOptions_set_operation_timeout(ao, TIMEOUT_MS, errstr, sizeof(errstr));
	return ao;
}

/* Check the result list of CreateTopics/DeleteTopics; returns the exit status. */
static int check_topic_results(const rd_kafka_topic_result_t **res, size_t n, bool ignore_exists)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
		if (!err || (ignore_exists && err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS))
			continue;
		print_rk_error(err, rd_kafka_topic_result_error_string(res[i]));
		rc = 1;
	}
	return rc;
}

static rd_kafka_NewTopic_t *new_topic(const topics_opts_t *o)
{
	char errstr[512];
	assignment_t a = {0};
	int rf = (int)o->rf, np = (int)o->partitions;

	if (o->assign_str) {
		if (parse_assignment(o->assign_str, &a) != 0)
			return NULL;
		np = a.npartitions;
		rf = -1; /* librdkafka: the assignment says it */
	}
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(o->topic, np, rf, errstr, sizeof(errstr));
	if (!nt) {
		fprintf(stderr, ERR_PREFIX "%s\n", errstr);
		assignment_free(&a);
		return NULL;
	}
	for (int32_t p = 0; p < a.npartitions; p++)
		if (rd_kafka_NewTopic_set_replica_assignment(nt, p, a.replicas[p], (size_t)a.nreplicas[p],
							     errstr, sizeof(errstr))) {
			fprintf(stderr, ERR_PREFIX "%s\n", errstr);
			rd_kafka_NewTopic_destroy(nt);
			nt = NULL;
			break;
		}
	for (int i = 0; nt && i < o->configs.n; i++)
		rd_kafka_NewTopic_set_config(nt, o->configs.keys[i], o->configs.values[i]);
	assignment_free(&a);
	return nt;
}

static int bs_create(rd_kafka_t *rk, rd_kafka_queue_t *q, const topics_opts_t *o)
{
	rd_kafka_NewTopic_t *nt = new_topic(o);
	size_t n;

	if (!nt)
		return 1;
	warn_collision_chars(o->topic);
	rd_kafka_AdminOptions_t *ao = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
	if (!ev)
		return 1;
	const rd_kafka_topic_result_t **res =
		rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
	int rc = check_topic_results(res, n, o->if_not_exists);
	bool existed = n == 1 && rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
	rd_kafka_event_destroy(ev);
	if (rc == 0 && !existed)
		printf("Created topic %s.\n", o->topic);
	return rc;
}

/* Sorted names of the topics in md that --topic matches; *n set. Caller frees the array. */
static const char **bs_matching(const struct rd_kafka_metadata *md, const topics_opts_t *o, int *n)
{
	const char **names = calloc((size_t)md->topic_cnt + 1, sizeof(char *));

	*n = 0;
	for (int i = 0; i < md->topic_cnt; i++)
		if (md->topics[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
		    topic_matches(o, md->topics[i].topic))
			names[(*n)++] = md->topics[i].topic;
	keel_qsort(names, (size_t)*n, sizeof(char *), cmp_str);
	return names;
}

static int not_found(const topics_opts_t *o)
{
	if (o->if_exists)
		return 0;
	fprintf(stderr, ERR_PREFIX "Topic '%s' does not exist as expected\n", o->topic);
	return 1;
}

static int bs_delete(rd_kafka_t *rk, rd_kafka_queue_t *q, const struct rd_kafka_metadata *md,
		     const topics_opts_t *o)
{
	int n;
	size_t nres;
	const char **names = bs_matching(md, o, &n);

	if (n == 0) {
		free(names);
		return not_found(o);
	}
	rd_kafka_DeleteTopic_t **dts = calloc((size_t)n, sizeof(*dts));
	for (int i = 0; i < n; i++)
		dts[i] = rd_kafka_DeleteTopic_new(names[i]);
	rd_kafka_AdminOptions_t *ao = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
	rd_kafka_DeleteTopics(rk, dts, (size_t)n, ao, q);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_DeleteTopic_destroy_array(dts, (size_t)n);
	free(dts);
	free(names);
	rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
	if (!ev)
		return 1;
	const rd_kafka_topic_result_t **res =
		rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &nres);
	int rc = check_topic_results(res, nres, false);
	rd_kafka_event_destroy(ev);
	return rc;
}

static int bs_list(const struct rd_kafka_metadata *md, const topics_opts_t *o)
{
	int n;
	const char **names = bs_matching(md, o, &n);

	for (int i = 0; i < n; i++)
		printf("%s\n", names[i]);
	free(names);
	return 0;
}

/* Non-default configs of the topic as "k=v,k=v" (malloc'd); "" if DescribeConfigs fails. */
static char *bs_topic_configs(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *topic)
{
	rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_AdminOptions_t *ao = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	char *buf = NULL;
	size_t len = 0, nres, nent;
	FILE *out = open_memstream(&buf, &len);

	rd_kafka_DescribeConfigs(rk, &cr, 1, ao, q);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_ConfigResource_destroy(cr);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS + 5000);
	if (ev && !rd_kafka_event_error(ev) &&
	    rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT) {
		const rd_kafka_ConfigResource_t **res = rd_kafka_DescribeConfigs_result_resources(
			rd_kafka_event_DescribeConfigs_result(ev), &nres);
		const rd_kafka_ConfigEntry_t **ents =
			nres == 1 && !rd_kafka_ConfigResource_error(res[0])
				? rd_kafka_ConfigResource_configs(res[0], &nent)
				: NULL;
		const char *sep = "";
		for (size_t i = 0; ents && i < nent; i++) {
			if (rd_kafka_ConfigEntry_is_default(ents[i]) ||
			    rd_kafka_ConfigEntry_source(ents[i]) != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG)
				continue;
			const char *v = rd_kafka_ConfigEntry_value(ents[i]);
			fprintf(out, "%s%s=%s", sep, rd_kafka_ConfigEntry_name(ents[i]), v ? v : "null");
			sep = ",";
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	fclose(out);
	return buf;
}

static void print_leader(int32_t leader)
{
	if (leader >= 0)
		printf("%d", leader);
	else
		printf("none");
}

static void print_ids(const char *label, const int32_t *ids, int n)
{
	printf("\t%s: ", label);
	for (int i = 0; i < n; i++)
		printf(i ? ",%d" : "%d", ids[i]);
}

static int cmp_md_part(const void *a, const void *b)
{
	const rd_kafka_metadata_partition_t *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static bool broker_live(const struct rd_kafka_metadata *md, int32_t id)
{
	for (int i = 0; i < md->broker_cnt; i++)
		if (md->brokers[i].id == id)
			return true;
	return false;
}

static void bs_describe_one(rd_kafka_t *rk, rd_kafka_queue_t *q, const struct rd_kafka_metadata *md,
			    const rd_kafka_metadata_topic_t *t, const topics_opts_t *o)
{
	int np = t->partition_cnt;
	rd_kafka_metadata_partition_t *parts = calloc((size_t)np + 1, sizeof(*parts));

	memcpy(parts, t->partitions, sizeof(*parts) * (size_t)np);
	keel_qsort(parts, (size_t)np, sizeof(*parts), cmp_md_part);
	if (!o->under_replicated && !o->unavailable) {
		char *configs = bs_topic_configs(rk, q, t->topic);
		printf("Topic: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n", t->topic, np,
		       np ? parts[0].replica_cnt : 0, configs);
		free(configs);
	}
	for (int i = 0; i < np; i++) {
		const rd_kafka_metadata_partition_t *p = &parts[i];
		bool live = p->leader >= 0 && broker_live(md, p->leader);
		if ((o->under_replicated && p->isr_cnt >= p->replica_cnt) || (o->unavailable && live))
			continue;
		printf("\tTopic: %s\tPartition: %d\tLeader: ", t->topic, p->id);
		print_leader(p->leader);
		print_ids("Replicas", p->replicas, p->replica_cnt);
		print_ids("Isr", p->isrs, p->isr_cnt);
		printf("\n");
	}
	free(parts);
}

static int bs_describe(rd_kafka_t *rk, rd_kafka_queue_t *q, const struct rd_kafka_metadata *md,
		       const topics_opts_t *o)
{
	int n;
	const char **names = bs_matching(md, o, &n);

	if (n == 0 && o->topic) {
		free(names);
		return not_found(o);
	}
	for (int i = 0; i < n; i++)
		bs_describe_one(rk, q, md, admin_md_topic(md, names[i]), o);
	free(names);
	return 0;
}

static int run_bootstrap(topics_opts_t *o)
{
	char errstr[512];
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_conf_t *conf = admin_rk_conf(&admin_cmd_topics, o->bootstrap, &o->client_props);
	int rc = 1;

	if (!conf)
		return 1;
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return admin_error(&admin_cmd_topics, "%s", errstr);
	}
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	if (o->action == O_CREATE) {
		rc = bs_create(rk, q, o);
		goto out;
	}
	rd_kafka_resp_err_t err = admin_metadata(rk, TIMEOUT_MS, &md);
	if (err) {
		print_rk_error(err, NULL);
		goto out;
	}
	if (o->action == O_DELETE)
		rc = bs_delete(rk, q, md, o);
	else if (o->action == O_LIST)
		rc = bs_list(md, o);
	else
		rc = bs_describe(rk, q, md, o);
	rd_kafka_metadata_destroy(md);
out:
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

/* ---- --zookeeper: the znodes directly ---- */

/* Connect, waiting up to TIMEOUT_MS. NULL after printing on failure. */
static zhandle_t *zk_open(const char *connect)
{
	char err[512];
	zhandle_t *zh = zku_connect(connect, TIMEOUT_MS, TIMEOUT_MS, NULL, NULL, err, sizeof(err));

	if (!zh)
		fprintf(stderr, ERR_PREFIX "%s\n", err);
	return zh;
}

/* Read a znode's data (malloc'd, NUL-terminated; null data reads as "", *len 0). */
static int zk_read(zhandle_t *zh, const char *path, char **data, int *len)
{
	int rc = zku_get(zh, path, 0, data, len, NULL);

	if (rc == ZOK && !*data) {
		*data = strdup("");
		*len = 0;
	}
	return rc;
}

/* Create a persistent znode (data NULL = null data), creating missing parents. */
static int zk_create_all(zhandle_t *zh, const char *path, const char *data)
{
	int rc = zku_create(zh, path, data, ZOO_PERSISTENT);

	if (rc != ZNONODE)
		return rc;
	char *parent = strdup(path);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		rc = zku_mkdirs(zh, parent);
	}
	free(parent);
	return rc == ZOK ? zku_create(zh, path, data, ZOO_PERSISTENT) : rc;
}

static int zk_fail(const char *what, const char *path, int rc)
{
	fprintf(stderr, ERR_PREFIX "%s %s: %s\n", what, path, zerror(rc));
	return 1;
}

/* Children of path, sorted (empty if the node is missing). Caller deallocate_String_vector. */
static int zk_children(zhandle_t *zh, const char *path, struct String_vector *v)
{
	int rc = zku_children(zh, path, 0, v);
	if (rc == ZNONODE)
		return ZOK;
	if (rc == ZOK)
		keel_qsort(v->data, (size_t)v->count, sizeof(char *), cmp_str);
	return rc;
}

static bool zk_exists(zhandle_t *zh, const char *path)
{
	return zku_exists(zh, path, 0, NULL) == ZOK;
}

/* Sorted live broker ids from /brokers/ids. Returns 0 or 1. */
static int zk_live_brokers(zhandle_t *zh, int32_t **ids, int32_t *n)
{
	int rc = admin_zk_broker_ids(zh, ids, n);

	return rc == ZOK ? 0 : zk_fail("cannot list", "/brokers/ids", rc);
}

/* Kafka refuses a name that equals an existing one once '.' and '_' are identified. */
static int zk_check_collision(const struct String_vector *topics, const char *t)
{
	char *a = strdup(t);

	for (char *c = a; *c; c++)
		*c = *c == '.' ? '_' : *c;
	for (int i = 0; i < topics->count; i++) {
		char *b = strdup(topics->data[i]);
		for (char *c = b; *c; c++)
			*c = *c == '.' ? '_' : *c;
		bool clash = strcmp(a, b) == 0 && strcmp(t, topics->data[i]) != 0;
		free(b);
		if (clash) {
			fprintf(stderr, ERR_PREFIX "Topic '%s' collides with existing topic: %s\n", t,
				topics->data[i]);
			free(a);
			return 1;
		}
	}
	free(a);
	return 0;
}

/* The assignment for --create: manual, or computed over the live brokers. */
static int zk_assignment(zhandle_t *zh, const topics_opts_t *o, assignment_t *a)
{
	int32_t *brokers, nbrokers;

	if (o->assign_str)
		return parse_assignment(o->assign_str, a);
	if (zk_live_brokers(zh, &brokers, &nbrokers) != 0)
		return 1;
	int rc = compute_assignment(brokers, nbrokers, (int32_t)o->partitions, (int32_t)o->rf, a);
	free(brokers);
	return rc;
}

/* Write /config/topics/<t> (create or overwrite, as Kafka's setOrCreateEntityConfigs). */
static int zk_write_config(zhandle_t *zh, const topics_opts_t *o)
{
	char path[512];
	char *json = zkj_config_encode(o->configs.n, o->configs.keys, o->configs.values);

	if (!json)
		return fprintf(stderr, ERR_PREFIX "cannot encode the topic config\n"), 1;
	snprintf(path, sizeof(path), "/config/topics/%s", o->topic);
	int rc = zku_set(zh, path, json, -1, NULL);
	if (rc == ZNONODE)
		rc = zk_create_all(zh, path, json);
	free(json);
	return rc == ZOK ? 0 : zk_fail("cannot write", path, rc);
}

static int zk_create(zhandle_t *zh, const topics_opts_t *o)
{
	char path[512];
	struct String_vector topics;
	assignment_t a = {0};
	zkj_topic_t t = {0};
	char err[256];

	/* the configs as the controller would check them (it never sees a --zookeeper creation) */
	if (keel_topic_configs_check(o->configs.n, (const char *const *)o->configs.keys,
				     (const char *const *)o->configs.values, err, sizeof(err)) != 0)
		return fprintf(stderr, ERR_PREFIX "%s\n", err), 1;

	snprintf(path, sizeof(path), "/brokers/topics/%s", o->topic);
	int rc = zk_children(zh, "/brokers/topics", &topics);
	if (rc != ZOK)
		return zk_fail("cannot list", "/brokers/topics", rc);
	bool exists = zk_exists(zh, path);
	rc = exists ? 0 : zk_check_collision(&topics, o->topic);
	deallocate_String_vector(&topics);
	if (exists && o->if_not_exists)
		return 0;
	if (exists)
		return fprintf(stderr, ERR_PREFIX "Topic '%s' already exists.\n", o->topic), 1;
	if (rc != 0 || zk_assignment(zh, o, &a) != 0)
		return 1;
	warn_collision_chars(o->topic);
	if (zk_write_config(zh, o) != 0) {
		assignment_free(&a);
		return 1;
	}
	t.npartitions = a.npartitions;
	t.nreplicas = a.nreplicas;
	t.replicas = a.replicas;
	zkj_random_uuid(t.topic_id);
	char *json = zkj_topic_encode(&t);
	rc = json ? zk_create_all(zh, path, json) : ZSYSTEMERROR;
	free(json);
	assignment_free(&a);
	if (rc == ZNODEEXISTS)
		return o->if_not_exists ? 0
					: (fprintf(stderr, ERR_PREFIX "Topic '%s' already exists.\n", o->topic), 1);
	if (rc != ZOK)
		return zk_fail("cannot create", path, rc);
	printf("Created topic %s.\n", o->topic);
	return 0;
}

/* Sorted topic names under /brokers/topics matching --topic (caller frees the vector). */
static int zk_matching(zhandle_t *zh, const topics_opts_t *o, struct String_vector *v)
{
	int rc = zk_children(zh, "/brokers/topics", v);
	int n = 0;

	if (rc != ZOK)
		return zk_fail("cannot list", "/brokers/topics", rc);
	for (int i = 0; i < v->count; i++) {
		if (topic_matches(o, v->data[i]))
			v->data[n++] = v->data[i];
		else
			free(v->data[i]);
	}
	v->count = n;
	return 0;
}

static bool zk_marked_for_deletion(zhandle_t *zh, const char *topic)
{
	char path[512];

	snprintf(path, sizeof(path), "/admin/delete_topics/%s", topic);
	return zk_exists(zh, path);
}

static int zk_delete(zhandle_t *zh, const topics_opts_t *o)
{
	struct String_vector v;
	char path[512];
	int status = 0;

	if (zk_matching(zh, o, &v) != 0)
		return 1;
	if (v.count == 0) {
		deallocate_String_vector(&v);
		return not_found(o);
	}
	for (int i = 0; i < v.count; i++) {
		const char *t = v.data[i];
		if (strcmp(t, "__consumer_offsets") == 0 || strcmp(t, "__transaction_state") == 0) {
			fprintf(stderr, ERR_PREFIX "Topic %s is a kafka internal topic and is not allowed "
						   "to be marked for deletion.\n", t);
			status = 1;
			continue;
		}
		snprintf(path, sizeof(path), "/admin/delete_topics/%s", t);
		int rc = zk_create_all(zh, path, NULL);
		if (rc == ZNODEEXISTS) {
			printf("Topic %s is already marked for deletion.\n", t);
		} else if (rc == ZOK) {
			printf("Topic %s is marked for deletion.\n", t);
			printf("Note: This will have no impact if delete.topic.enable is not set to true.\n");
		} else {
			status = zk_fail("cannot create", path, rc);
		}
	}
	deallocate_String_vector(&v);
	return status;
}

static int zk_list(zhandle_t *zh, const topics_opts_t *o)
{
	struct String_vector v;

	if (zk_matching(zh, o, &v) != 0)
		return 1;
	for (int i = 0; i < v.count; i++)
		printf("%s%s\n", v.data[i],
		       zk_marked_for_deletion(zh, v.data[i]) ? " - marked for deletion" : "");
	deallocate_String_vector(&v);
	return 0;
}

/* "k=v,k=v" from /config/topics/<t> (malloc'd; "" if none). */
static char *zk_topic_configs(zhandle_t *zh, const char *topic)
{
	char path[512], *json, *buf = NULL, **keys, **values;
	int len, n;
	size_t blen = 0;
	FILE *out = open_memstream(&buf, &blen);

	snprintf(path, sizeof(path), "/config/topics/%s", topic);
	if (zk_read(zh, path, &json, &len) == ZOK) {
		if (len > 0 && zkj_config_decode(json, len, &n, &keys, &values) == 0) {
			for (int i = 0; i < n; i++)
				fprintf(out, i ? ",%s=%s" : "%s=%s", keys[i], values[i]);
			zkj_config_free(n, keys, values);
		}
		free(json);
	}
	fclose(out);
	return buf;
}

/* Partition p's state (leader -1 and an empty ISR if it has none yet). */
static void zk_partition_state(zhandle_t *zh, const char *topic, int32_t p, zkj_state_t *st)
{
	char path[600], *json;
	int len;

	memset(st, 0, sizeof(*st));
	st->leader = -1;
	snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state", topic, p);
	if (zk_read(zh, path, &json, &len) != ZOK)
		return;
	if (len == 0 || zkj_state_decode(json, len, st) != 0) {
		memset(st, 0, sizeof(*st));
		st->leader = -1;
	}
	free(json);
}

static bool id_in(const int32_t *ids, int32_t n, int32_t id)
{
	for (int32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static void zk_describe_partitions(zhandle_t *zh, const char *topic, const zkj_topic_t *t,
				   const int32_t *live, int32_t nlive, bool deleting,
				   const topics_opts_t *o)
{
	for (int32_t p = 0; p < t->npartitions; p++) {
		zkj_state_t st;
		zk_partition_state(zh, topic, p, &st);
		bool available = st.leader >= 0 && id_in(live, nlive, st.leader);
		if ((o->under_replicated && st.nisr >= t->nreplicas[p]) || (o->unavailable && available)) {
			zkj_state_free(&st);
			continue;
		}
		printf("\tTopic: %s\tPartition: %d\tLeader: ", topic, p);
		print_leader(st.leader);
		print_ids("Replicas", t->replicas[p], t->nreplicas[p]);
		print_ids("Isr", st.isr, st.nisr);
		printf("%s\n", deleting ? "\tMarkedForDeletion: true" : "");
		zkj_state_free(&st);
	}
}

static int zk_describe_one(zhandle_t *zh, const char *topic, const int32_t *live, int32_t nlive,
			   const topics_opts_t *o)
{
	char path[512], *json;
	int len;
	zkj_topic_t t;

	snprintf(path, sizeof(path), "/brokers/topics/%s", topic);
	int rc = zk_read(zh, path, &json, &len);
	if (rc == ZNONODE)
		return 0; /* deleted meanwhile */
	if (rc != ZOK)
		return zk_fail("cannot read", path, rc);
	rc = zkj_topic_decode(json, len, &t);
	free(json);
	if (rc != 0)
		return fprintf(stderr, ERR_PREFIX "malformed znode %s\n", path), 1;
	bool deleting = zk_marked_for_deletion(zh, topic);
	if (!o->under_replicated && !o->unavailable) {
		char *configs = zk_topic_configs(zh, topic);
		printf("Topic: %s", topic);
		if (t.topic_id[0])
			printf("\tTopicId: %s", t.topic_id);
		printf("\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s%s\n", t.npartitions,
		       t.npartitions ? t.nreplicas[0] : 0, configs,
		       deleting ? "\tMarkedForDeletion: true" : "");
		free(configs);
	}
	zk_describe_partitions(zh, topic, &t, live, nlive, deleting, o);
	zkj_topic_free(&t);
	return 0;
}

static int zk_describe(zhandle_t *zh, const topics_opts_t *o)
{
	struct String_vector v;
	int32_t *live, nlive;
	int status = 0;

	if (zk_matching(zh, o, &v) != 0)
		return 1;
	if (v.count == 0 && o->topic) {
		deallocate_String_vector(&v);
		return not_found(o);
	}
	if (zk_live_brokers(zh, &live, &nlive) != 0) {
		deallocate_String_vector(&v);
		return 1;
	}
	for (int i = 0; i < v.count; i++)
		status |= zk_describe_one(zh, v.data[i], live, nlive, o);
	free(live);
	deallocate_String_vector(&v);
	return status;
}

static int run_zookeeper(const topics_opts_t *o)
{
	zhandle_t *zh = zk_open(o->zookeeper);
	int rc;

	if (!zh)
		return 1;
	switch (o->action) {
	case O_CREATE: rc = zk_create(zh, o); break;
	case O_DELETE: rc = zk_delete(zh, o); break;
	case O_LIST: rc = zk_list(zh, o); break;
	default: rc = zk_describe(zh, o); break;
	}
	zookeeper_close(zh);
	return rc;
}

/* ---- options ---- */

static int set_action(topics_opts_t *o, int id)
{
	if (o->action)
		return admin_usage_error(&admin_cmd_topics, "Command must include exactly one action: "
							    "--list, --describe, --create or --delete");
	o->action = id;
	return 0;
}

static int parse_opt(topics_opts_t *o, int id, const char *val)
{
	switch (id) {
	case O_BOOTSTRAP: o->bootstrap = val; return 0;
	case O_ZOOKEEPER: o->zookeeper = val; return 0;
	case O_COMMAND_CONFIG:
		if (admin_kv_load_file(&o->client_props, val) < 0)
			return admin_error(&admin_cmd_topics, "cannot read %s: %s", val, strerror(errno));
		return 0;
	case O_CREATE: case O_DELETE: case O_LIST: case O_DESCRIBE: return set_action(o, id);
	case O_ALTER: return admin_usage_error(&admin_cmd_topics, "--alter is not supported yet");
	case O_TOPIC: o->topic = val; return 0;
	case O_PARTITIONS:
		if (admin_parse_int(val, INT32_MIN, INT32_MAX, &o->partitions) < 0)
			return admin_usage_error(&admin_cmd_topics, "--partitions: '%s' is not a number", val);
		return 0;
	case O_RF:
		if (admin_parse_int(val, INT32_MIN, INT32_MAX, &o->rf) < 0)
			return admin_usage_error(&admin_cmd_topics, "--replication-factor: '%s' is not a number",
						 val);
		return 0;
	case O_ASSIGN: o->assign_str = val; return 0;
	case O_CONFIG:
		if (admin_kv_add(&o->configs, val) < 0)
			return admin_usage_error(&admin_cmd_topics, "Invalid topic config: all configs to be "
								    "added must be in the format \"key=val\".");
		return 0;
	case O_IF_NOT_EXISTS: o->if_not_exists = true; return 0;
	case O_IF_EXISTS: o->if_exists = true; return 0;
	case O_UNDER_REPLICATED: o->under_replicated = true; return 0;
	case O_UNAVAILABLE: o->unavailable = true; return 0;
	}
	return 1;
}

/* Kafka's TopicCommandOptions.checkArgs, for the options keel supports. */
static int check_args(const topics_opts_t *o)
{
	const admin_cmd_t *c = &admin_cmd_topics;

	if (!o->action)
		return admin_usage_error(c, "Command must include exactly one action: --list, --describe, "
					    "--create or --delete");
	if (!o->bootstrap == !o->zookeeper)
		return admin_usage_error(c, "Only one of --bootstrap-server or --zookeeper must be specified");
	if (!o->topic && (o->action == O_CREATE || o->action == O_DELETE))
		return admin_usage_error(c, "--topic is required");
	if (o->action == O_CREATE && o->zookeeper && !o->assign_str && (o->partitions < 0 || o->rf < 0))
		return admin_usage_error(c, "Missing required argument \"[%s]\"",
					 o->partitions < 0 ? "partitions" : "replication-factor");
	if (o->action != O_CREATE && (o->partitions >= 0 || o->rf >= 0 || o->configs.n || o->assign_str))
		return admin_usage_error(c, "--partitions, --replication-factor, --replica-assignment "
					    "and --config can only be used with --create");
	if (o->assign_str && (o->partitions >= 0 || o->rf >= 0))
		return admin_usage_error(c, "--replica-assignment cannot be used with --partitions or "
					    "--replication-factor");
	if (o->partitions == 0 || o->partitions < -1)
		return admin_usage_error(c, "The partitions must be greater than 0");
	if (o->rf == 0 || o->rf < -1 || o->rf > 32767)
		return admin_usage_error(c, "The replication factor must be between 1 and 32767");
	if (o->if_not_exists && o->action != O_CREATE)
		return admin_usage_error(c, "Option if-not-exists can only be used with --create");
	if (o->if_exists && o->action != O_DELETE && o->action != O_DESCRIBE)
		return admin_usage_error(c, "Option if-exists can only be used with --delete or --describe");
	if ((o->under_replicated || o->unavailable) && o->action != O_DESCRIBE)
		return admin_usage_error(c, "--under-replicated-partitions and --unavailable-partitions "
					    "can only be used with --describe");
	if (o->action == O_CREATE)
		return check_topic_name(o->topic);
	return 0;
}

static int topics_run(int argc, char **argv)
{
	topics_opts_t o = {.partitions = -1, .rf = -1};
	admin_parser_t p;
	const char *val;
	int id, rc = 1;

	if (argc < 2)
		return admin_usage_error(&admin_cmd_topics, "an action is required");
	admin_parser_init(&p, &admin_cmd_topics, argc, argv);
	while ((id = admin_getopt(&p, g_opts, &val)) > 0) {
		if (id == O_HELP) {
			rc = admin_help(&admin_cmd_topics);
			goto out;
		}
		if (parse_opt(&o, id, val) != 0)
			goto out;
	}
	if (id == ADMIN_OPT_ERROR || check_args(&o) != 0 || compile_matcher(&o) != 0)
		goto out;
	rc = o.bootstrap ? run_bootstrap(&o) : run_zookeeper(&o);
out:
	if (o.has_matcher)
		regfree(&o.matcher);
	admin_kv_free(&o.configs);
	admin_kv_free(&o.client_props);
	return rc;
}

const admin_cmd_t admin_cmd_topics = {
	.name = "topics",
	.script = "keel-topics.sh",
	.usage = g_usage,
	.run = topics_run,
};
