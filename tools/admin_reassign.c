/* tools/admin_reassign.c: `keel-admin reassign-partitions` (keel-reassign-partitions.sh): Kafka
 * 2.8's kafka-reassign-partitions.sh. --generate proposes an assignment; --execute, --verify,
 * --cancel and --list drive reassignments through AlterPartitionReassignments and
 * ListPartitionReassignments, sent to the controller over a plain socket (librdkafka 2.0 has no
 * such Admin API), or with --zookeeper through the legacy /admin/reassign_partitions znode.
 * Here are the options, the cluster view the actions check against, and the actions;
 * admin_reassign_io.c reads the reassignment file and makes those requests. */
#include "admin_reassign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keel.h"
#include "zkutil.h"

static const char g_usage[] =
	"Usage: keel-reassign-partitions.sh (--bootstrap-server HOST:PORT | --zookeeper HOST:PORT)\n"
	"                                   (--generate | --execute | --verify | --cancel | --list)\n"
	"Move partition replicas between brokers: propose an assignment, start it, follow it,\n"
	"cancel it.\n"
	"  --bootstrap-server HOST:PORT  brokers to connect to; the controller gets the requests\n"
	"  --zookeeper HOST:PORT[/CHROOT]  write and read the znodes directly (deprecated in\n"
	"                              Kafka); --generate, --execute and --verify only\n"
	"  --generate                  propose an assignment of the topics in\n"
	"                              --topics-to-move-json-file over --broker-list (no change)\n"
	"  --execute                   start the reassignment in --reassignment-json-file\n"
	"  --verify                    tell whether those reassignments are complete\n"
	"  --cancel                    cancel those reassignments\n"
	"  --list                      list the reassignments in progress\n"
	"  --reassignment-json-file FILE  {\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\n"
	"                              \"replicas\":[1,2,3],\"log_dirs\":[\"any\",\"any\",\"any\"]}]}\n"
	"  --topics-to-move-json-file FILE  {\"version\":1,\"topics\":[{\"topic\":\"t\"}]}\n"
	"  --broker-list 1,2,3         the brokers to assign the replicas to (--generate)\n"
	"  --additional                --execute even though other reassignments are running\n"
	"  --throttle B                accepted and ignored: keel has no replication quotas\n"
	"  --replica-alter-log-dirs-throttle B  accepted and ignored, likewise\n"
	"  --disable-rack-aware, --preserve-throttles, --timeout MS  accepted; no effect\n"
	"  --help                      print this help\n";

/* The actions come first: their ids index g_rules. */
enum {
	R_GENERATE = 1, R_EXECUTE, R_VERIFY, R_CANCEL, R_LIST,
	R_BOOTSTRAP, R_ZOOKEEPER, R_JSON, R_TOPICS_JSON, R_BROKER_LIST, R_ADDITIONAL, R_THROTTLE,
	R_LOGDIR_THROTTLE, R_TIMEOUT, R_DISABLE_RACK_AWARE, R_PRESERVE_THROTTLES, R_HELP, R_NOPTS
};

static const admin_opt_t g_opts[] = {
	{"generate", ADMIN_ARG_NONE, R_GENERATE},
	{"execute", ADMIN_ARG_NONE, R_EXECUTE},
	{"verify", ADMIN_ARG_NONE, R_VERIFY},
	{"cancel", ADMIN_ARG_NONE, R_CANCEL},
	{"list", ADMIN_ARG_NONE, R_LIST},
	{"bootstrap-server", ADMIN_ARG_ONE, R_BOOTSTRAP},
	{"zookeeper", ADMIN_ARG_ONE, R_ZOOKEEPER},
	{"reassignment-json-file", ADMIN_ARG_ONE, R_JSON},
	{"topics-to-move-json-file", ADMIN_ARG_ONE, R_TOPICS_JSON},
	{"broker-list", ADMIN_ARG_ONE, R_BROKER_LIST},
	{"additional", ADMIN_ARG_NONE, R_ADDITIONAL},
	{"throttle", ADMIN_ARG_ONE, R_THROTTLE},
	{"replica-alter-log-dirs-throttle", ADMIN_ARG_ONE, R_LOGDIR_THROTTLE},
	{"timeout", ADMIN_ARG_ONE, R_TIMEOUT},
	{"disable-rack-aware", ADMIN_ARG_NONE, R_DISABLE_RACK_AWARE},
	{"preserve-throttles", ADMIN_ARG_NONE, R_PRESERVE_THROTTLES},
	{"help", ADMIN_ARG_NONE, R_HELP},
	{NULL, 0, 0},
};

#define BIT(id) (1u << (id))

/* Kafka's validateAndParseArgs tables: what each action requires, and what else it allows. */
static const struct {
	unsigned required, allowed;
} g_rules[] = {
	[R_GENERATE] = {BIT(R_TOPICS_JSON) | BIT(R_BROKER_LIST),
			BIT(R_BOOTSTRAP) | BIT(R_ZOOKEEPER) | BIT(R_DISABLE_RACK_AWARE)},
	[R_EXECUTE] = {BIT(R_JSON), BIT(R_BOOTSTRAP) | BIT(R_ZOOKEEPER) | BIT(R_ADDITIONAL) |
					    BIT(R_THROTTLE) | BIT(R_LOGDIR_THROTTLE) | BIT(R_TIMEOUT)},
	[R_VERIFY] = {BIT(R_JSON), BIT(R_BOOTSTRAP) | BIT(R_ZOOKEEPER) | BIT(R_PRESERVE_THROTTLES)},
	[R_CANCEL] = {BIT(R_JSON), BIT(R_BOOTSTRAP) | BIT(R_PRESERVE_THROTTLES) | BIT(R_TIMEOUT)},
	[R_LIST] = {0, BIT(R_BOOTSTRAP)},
};

/* Options only the Admin API path has (the legacy znode cannot express them). */
#define BOOTSTRAP_ONLY \
	(BIT(R_ADDITIONAL) | BIT(R_CANCEL) | BIT(R_LOGDIR_THROTTLE) | BIT(R_LIST) | BIT(R_TIMEOUT))

typedef struct {
	int action;
	bool seen[R_NOPTS];
	const char *val[R_NOPTS];
	int64_t throttle, logdir_throttle; /* < 0: none */
	int n;                             /* the reassignment file, sorted by topic, partition */
	zkj_reassign_t *parts;
} reassign_opts_t;

/* The cluster as the tool needs it, from Metadata or from ZooKeeper: the live brokers and the
 * assignment of the topics asked about (one that does not exist has no partitions). */
typedef struct {
	int32_t nbrokers;
	int32_t *brokers;     /* sorted */
	int ntopics;
	char **names;         /* sorted, distinct */
	zkj_topic_t *topics;  /* names[i]'s */
} view_t;

/* ================================================================ small helpers */

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_id(const int32_t *v, int32_t n, int32_t id)
{
	for (int32_t i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

/* The separator before the next item in an rpt_text_open stream: none before the first. */
static const char *sep(FILE *f, const char *s)
{
	return ftell(f) > 0 ? s : "";
}

/* ================================================================ the cluster view */

static void view_free(view_t *v)
{
	for (int i = 0; v->topics && i < v->ntopics; i++)
		zkj_topic_free(&v->topics[i]);
	zkj_strings_free(v->ntopics, v->names);
	free(v->topics);
	free(v->brokers);
	memset(v, 0, sizeof(*v));
}

/* Partition p of topic's replicas (NULL if either does not exist). */
static const int32_t *view_replicas(const view_t *v, const char *topic, int32_t p, int32_t *n)
{
	char **at = v->ntopics ? keel_bsearch(&topic, v->names, (size_t)v->ntopics, sizeof(char *), cmp_str)
			       : NULL;
	const zkj_topic_t *t = at ? &v->topics[at - v->names] : NULL;
	if (!t || p >= t->npartitions || t->nreplicas[p] == 0)
		return NULL;
	*n = t->nreplicas[p];
	return t->replicas[p];
}

/* A Metadata topic as the znode's assignment: partitions 0..max id. */
static void topic_from_md(const admin_topic_t *md, zkj_topic_t *t)
{
	t->npartitions = md->npartitions ? md->partitions[md->npartitions - 1].id + 1 : 0;
	t->nreplicas = calloc((size_t)t->npartitions + 1, sizeof(int32_t));
	t->replicas = calloc((size_t)t->npartitions + 1, sizeof(int32_t *));
	if (!t->nreplicas || !t->replicas)
		abort();
	for (int32_t i = 0; i < md->npartitions; i++) {
		const admin_part_t *p = &md->partitions[i];
		if (p->id < 0 || !p->nreplicas)
			continue;
		if (!(t->replicas[p->id] = malloc((size_t)p->nreplicas * sizeof(int32_t))))
			abort();
		memcpy(t->replicas[p->id], p->replicas, (size_t)p->nreplicas * sizeof(int32_t));
		t->nreplicas[p->id] = p->nreplicas;
	}
}

static int view_from_metadata(const char *servers, view_t *v)
{
	admin_cluster_t c;
	if (admin_cluster_get(servers, true, &c) < 0)
		return admin_error(CMD, "no broker in %s answered a Metadata request", servers);
	if (!(v->brokers = calloc((size_t)c.nbrokers + 1, sizeof(int32_t))))
		abort();
	for (v->nbrokers = 0; v->nbrokers < c.nbrokers; v->nbrokers++)
		v->brokers[v->nbrokers] = c.brokers[v->nbrokers].id;
	for (int i = 0; i < v->ntopics; i++) {
		const admin_topic_t *t = admin_cluster_topic(&c, v->names[i]);
		if (t && t->error != KERR_UNKNOWN_TOPIC_OR_PARTITION)
			topic_from_md(t, &v->topics[i]);
	}
	admin_cluster_free(&c);
	return 0;
}

static int view_from_zk(zhandle_t *zh, view_t *v)
{
	char path[512], *json;
	int rc = admin_zk_broker_ids(zh, &v->brokers, &v->nbrokers), len;
	if (rc != ZOK)
		return admin_error(CMD, "cannot list /brokers/ids: %s", zerror(rc));
	for (int i = 0; i < v->ntopics; i++) {
		snprintf(path, sizeof(path), "/brokers/topics/%s", v->names[i]);
		rc = zku_get(zh, path, 0, &json, &len, NULL);
		if (rc == ZNONODE)
			continue;
		if (rc != ZOK)
			return admin_error(CMD, "cannot read %s: %s", path, zerror(rc));
		rc = json ? zkj_topic_decode(json, len, &v->topics[i]) : -1;
		free(json);
		if (rc)
			return admin_error(CMD, "malformed znode %s", path);
	}
	return 0;
}

/* The view of the sorted, distinct topics names[0..n) (taken), from ZooKeeper if zh, else
 * from servers. 0, or 1 after printing why not (v freed). */
static int view_load(zhandle_t *zh, const char *servers, char **names, int n, view_t *v)
{
	memset(v, 0, sizeof(*v));
	v->ntopics = n;
	v->names = names;
	if (!(v->topics = calloc((size_t)n + 1, sizeof(*v->topics))))
		abort();
	if ((zh ? view_from_zk(zh, v) : view_from_metadata(servers, v)) == 0)
		return 0;
	view_free(v);
	return 1;
}

/* The distinct topics of the reassignment file (sorted, as it is). */
static char **file_topics(const reassign_opts_t *o, int *n)
{
	char **names = calloc((size_t)o->n + 1, sizeof(char *));
	if (!names)
		abort();
	*n = 0;
	for (int i = 0; i < o->n; i = rpt_topic_end(o->parts, o->n, i))
		if (!(names[(*n)++] = strdup(o->parts[i].topic)))
			abort();
	return names;
}

/* ================================================================ --generate */

/* --broker-list "1,2,3" into ids (sorted, distinct). 0, or 1 after printing why not. */
static int parse_broker_list(const char *s, int32_t **ids, int32_t *n)
{
	char *copy = strdup(s), *save = NULL;
	int rc = 0;
	if (!copy || !(*ids = calloc(strlen(s) + 1, sizeof(int32_t))))
		abort();
	*n = 0;
	for (char *b = strtok_r(copy, ",", &save); b && !rc; b = strtok_r(NULL, ",", &save)) {
		int64_t id;
		if (admin_parse_int(b, 0, INT32_MAX, &id) < 0)
			rc = admin_error(CMD, "--broker-list: '%s' is not a broker id", b);
		else
			(*ids)[(*n)++] = (int32_t)id;
	}
	free(copy);
	keel_qsort(*ids, (size_t)*n, sizeof(int32_t), cmp_i32);
	for (int32_t i = 1; !rc && i < *n; i++)
		if ((*ids)[i] == (*ids)[i - 1])
			rc = admin_error(CMD, "Broker list contains duplicate entries: %d", (*ids)[i]);
	if (!rc && !*n)
		rc = admin_error(CMD, "--broker-list names no broker");
	return rc;
}

/* --topics-to-move-json-file into sorted, distinct names. 0, or 1 after printing why not. */
static int load_topics(const char *path, char ***names, int *n)
{
	int len, rc;
	char *data = rpt_read_file(path, &len);
	if (!data)
		return 1;
	rc = zkj_topics_to_move_decode(data, len, n, names);
	free(data);
	if (rc)
		return admin_error(CMD, "%s: topics to move are not {\"version\":1,\"topics\":"
				   "[{\"topic\":...}]}", path);
	keel_qsort(*names, (size_t)*n, sizeof(char *), cmp_str);
	for (int i = 1; i < *n; i++)
		if (strcmp((*names)[i], (*names)[i - 1]) == 0)
			return admin_error(CMD, "List of topics to reassign contains duplicate entries: %s",
					   (*names)[i]);
	return 0;
}

/* Print "<title>\n<json>" with v as Kafka's reassignment file. */
static int print_assignment(const char *title, const zkj_reassign_t *v, int n, bool blank)
{
	char *json = zkj_reassign_encode(n, v, true);
	if (!json)
		return admin_error(CMD, "cannot encode the assignment");
	printf(blank ? "%s\n\n%s\n" : "%s\n%s\n", title, json);
	free(json);
	return 0;
}

/* One topic's partitions in cur (borrowing its arrays) and a proposal for them over brokers
 * in prop (with replica arrays of its own). 0, or -1 with Kafka's message in err. */
static int propose_topic(const char *name, const zkj_topic_t *t, const int32_t *brokers,
			 int32_t nbrokers, zkj_reassign_t *cur, zkj_reassign_t *prop, char *err,
			 size_t errlen)
{
	int32_t rf = t->nreplicas[0], **slots;
	if (admin_assign_check(nbrokers, t->npartitions, rf, err, errlen) < 0)
		return -1;
	if (!(slots = calloc((size_t)t->npartitions, sizeof(*slots))))
		abort();
	for (int32_t p = 0; p < t->npartitions; p++) {
		cur[p] = (zkj_reassign_t){ (char *)name, p, t->nreplicas[p], t->replicas[p], -1, NULL };
		prop[p] = (zkj_reassign_t){ (char *)name, p, rf, calloc((size_t)rf, sizeof(int32_t)), -1, NULL };
		if (!(slots[p] = prop[p].replicas))
			abort();
	}
	admin_assign_replicas(brokers, nbrokers, t->npartitions, rf, slots);
	free(slots);
	return 0;
}

/* Print the view's current assignment and a proposal over brokers, as Kafka's --generate. */
static int generate_print(const view_t *v, const int32_t *brokers, int32_t nbrokers)
{
	int n = 0, rc = 0;
	char err[128];
	for (int i = 0; i < v->ntopics; i++)
		n += v->topics[i].npartitions;
	zkj_reassign_t *cur = calloc((size_t)n + 1, sizeof(*cur));
	zkj_reassign_t *prop = calloc((size_t)n + 1, sizeof(*prop));
	if (!cur || !prop)
		abort();
	for (int i = 0, at = 0; i < v->ntopics && !rc; at += v->topics[i++].npartitions)
		if (propose_topic(v->names[i], &v->topics[i], brokers, nbrokers, cur + at, prop + at,
				  err, sizeof(err)) < 0)
			rc = admin_error(CMD, "%s", err);
	if (!rc)
		rc = print_assignment("Current partition replica assignment", cur, n, false);
	if (!rc) {
		putchar('\n');
		rc = print_assignment("Proposed partition reassignment configuration", prop, n, false);
	}
	for (int i = 0; i < n; i++)
		free(prop[i].replicas);
	free(cur);
	free(prop);
	return rc;
}

/* Kafka's --generate: the topics' current assignment and a rack-unaware proposal over the
 * live brokers of --broker-list (the others are left out, as Kafka does). */
static int generate(reassign_opts_t *o, zhandle_t *zh)
{
	int32_t *list = NULL, nlist, *live, nlive = 0;
	char **names = NULL;
	int ntopics = 0, rc = 0;
	view_t v;
	if (parse_broker_list(o->val[R_BROKER_LIST], &list, &nlist) ||
	    load_topics(o->val[R_TOPICS_JSON], &names, &ntopics)) {
		zkj_strings_free(ntopics, names);
		free(list);
		return 1;
	}
	if (view_load(zh, o->val[R_BOOTSTRAP], names, ntopics, &v)) {
		free(list);
		return 1;
	}
	for (int i = 0; i < v.ntopics && !rc; i++)
		if (!v.topics[i].npartitions)
			rc = admin_error(CMD, "Topic '%s' does not exist", v.names[i]);
	if (!(live = calloc((size_t)nlist + 1, sizeof(int32_t))))
		abort();
	for (int32_t i = 0; i < nlist; i++)
		if (has_id(v.brokers, v.nbrokers, list[i]))
			live[nlive++] = list[i];
	if (!rc)
		rc = generate_print(&v, live, nlive);
	free(live);
	free(list);
	view_free(&v);
	return rc;
}

/* ================================================================ --execute */

/* Replicas listed twice in e, each once, into dups; their count. */
static int32_t duplicate_replicas(const zkj_reassign_t *e, int32_t *dups)
{
	int32_t n = 0;
	for (int32_t i = 0; i < e->nreplicas; i++)
		if (has_id(e->replicas, i, e->replicas[i]) && !has_id(dups, n, e->replicas[i]))
			dups[n++] = e->replicas[i];
	return n;
}

/* Kafka's parseExecuteAssignmentArgs checks. 0, or 1 after printing the first failed. */
static int check_execute_file(const reassign_opts_t *o)
{
	char *buf;
	size_t len;
	FILE *f;
	int rc;
	if (o->n == 0)
		return admin_error(CMD, "Partition reassignment list cannot be empty");
	for (int i = 0; i < o->n; i++)
		if (o->parts[i].nreplicas == 0)
			return admin_error(CMD, "Partition replica list cannot be empty");
	f = rpt_text_open(&buf, &len);
	for (int i = 1; i < o->n; i++) /* sorted: each duplicated partition once */
		if (!rpt_cmp_reassign(&o->parts[i], &o->parts[i - 1]) &&
		    (i == 1 || rpt_cmp_reassign(&o->parts[i - 1], &o->parts[i - 2])))
			fprintf(f, "%s%s-%d", sep(f, ","), o->parts[i].topic, o->parts[i].partition);
	if ((rc = rpt_text_error(f, &buf, &len, "Partition reassignment contains duplicate topic "
				 "partitions: ")))
		return rc;
	f = rpt_text_open(&buf, &len);
	for (int i = 0; i < o->n; i++) {
		const zkj_reassign_t *e = &o->parts[i];
		int32_t *dups = calloc((size_t)e->nreplicas, sizeof(int32_t)), nd;
		if (!dups)
			abort();
		if ((nd = duplicate_replicas(e, dups)) > 0) {
			fprintf(f, "%s%s-%d contains multiple entries for ", sep(f, ". "), e->topic,
				e->partition);
			rpt_print_ids(f, dups, nd);
		}
		free(dups);
	}
	return rpt_text_error(f, &buf, &len,
			      "Partition replica lists may not contain duplicate entries: ");
}

/* Every partition must exist and every replica be a live broker: Kafka's
 * verifyReplicasAndBrokersInAssignment (with --zookeeper) and verifyBrokerIds. */
static int check_against_view(const reassign_opts_t *o, const view_t *v, bool zk)
{
	char *buf;
	size_t len;
	int32_t n, *ids = NULL, nids = 0;
	FILE *f = rpt_text_open(&buf, &len);
	int rc;
	for (int i = 0; i < o->n; i++)
		if (!view_replicas(v, o->parts[i].topic, o->parts[i].partition, &n))
			fprintf(f, "%s%s-%d", sep(f, ","), o->parts[i].topic, o->parts[i].partition);
	rc = rpt_text_error(f, &buf, &len,
			    "The proposed assignment contains non-existent partitions: ");
	for (int i = 0; !rc && i < o->n; i++)
		for (int32_t r = 0; r < o->parts[i].nreplicas; r++) {
			int32_t id = o->parts[i].replicas[r];
			if (has_id(v->brokers, v->nbrokers, id) || has_id(ids, nids, id))
				continue;
			if (!(ids = realloc(ids, (size_t)(nids + 1) * sizeof(int32_t))))
				abort();
			ids[nids++] = id;
		}
	if (!rc && nids && !zk) {
		rc = admin_error(CMD, "Unknown broker id %d", ids[0]);
	} else if (!rc && nids) {
		f = rpt_text_open(&buf, &len);
		rpt_print_ids(f, ids, nids);
		rc = rpt_text_error(f, &buf, &len,
				    "The proposed assignment contains non-existent brokerIDs: ");
	}
	free(ids);
	return rc;
}

/* "Current partition replica assignment" of the proposed partitions, for a rollback. */
static int print_current(const reassign_opts_t *o, const view_t *v)
{
	zkj_reassign_t *cur = calloc((size_t)o->n + 1, sizeof(*cur));
	int n = 0, rc;
	if (!cur)
		abort();
	for (int i = 0; i < o->n; i++) {
		const zkj_reassign_t *e = &o->parts[i];
		int32_t nr;
		const int32_t *r = view_replicas(v, e->topic, e->partition, &nr);
		if (r && (i == 0 || rpt_cmp_reassign(e, e - 1)))
			cur[n++] = (zkj_reassign_t){ e->topic, e->partition, nr, (int32_t *)r, -1, NULL };
	}
	rc = print_assignment("Current partition replica assignment", cur, n, true);
	if (!rc)
		printf("\nSave this to use as the --reassignment-json-file option during rollback\n");
	free(cur);
	return rc;
}

static void warn_throttles(const reassign_opts_t *o)
{
	if (o->throttle >= 0)
		fprintf(stderr, "%s: warning: keel has no replication quotas; --throttle is ignored\n",
			CMD->script);
	if (o->logdir_throttle >= 0)
		fprintf(stderr, "%s: warning: keel has no replication quotas; "
			"--replica-alter-log-dirs-throttle is ignored\n", CMD->script);
}

static void print_tps(const zkj_reassign_t *v, int n)
{
	for (int i = 0; i < n; i++)
		printf("%s%s-%d", i ? "," : "", v[i].topic, v[i].partition);
	putchar('\n');
}

static int execute(reassign_opts_t *o, zhandle_t *zh)
{
	const char *servers = o->val[R_BOOTSTRAP];
	char **names;
	int ntopics, rc;
	view_t v;
	if (rpt_load_reassignment(o->val[R_JSON], &o->n, &o->parts) || check_execute_file(o) ||
	    rpt_check_none_running(zh, o->val[R_BOOTSTRAP], o->seen[R_ADDITIONAL]))
		return 1;
	names = file_topics(o, &ntopics);
	if (view_load(zh, servers, names, ntopics, &v))
		return 1;
	rc = check_against_view(o, &v, zh != NULL);
	if (!rc)
		rc = print_current(o, &v);
	view_free(&v);
	if (rc)
		return rc;
	warn_throttles(o);
	rc = zh ? rpt_zk_start(zh, o->parts, o->n) : rpt_alter(servers, o->parts, o->n, false);
	if (rc)
		return rc;
	printf("Successfully started partition reassignment%s for ", o->n == 1 ? "" : "s");
	print_tps(o->parts, o->n);
	return 0;
}

/* ================================================================ --verify */

/* Kafka's partitionReassignmentStatesToString line for one target partition. */
static void print_state(const zkj_reassign_t *e, bool running, const view_t *v)
{
	int32_t n = 0;
	const int32_t *cur = view_replicas(v, e->topic, e->partition, &n);
	if (running) {
		printf("Reassignment of partition %s-%d is still in progress.\n", e->topic, e->partition);
	} else if (n == e->nreplicas && (!n || !memcmp(cur, e->replicas, (size_t)n * sizeof(int32_t)))) {
		printf("Reassignment of partition %s-%d is complete.\n", e->topic, e->partition);
	} else {
		printf("There is no active reassignment of partition %s-%d, but replica set is ",
		       e->topic, e->partition);
		rpt_print_ids(stdout, cur, cur ? n : 0);
		printf(" rather than ");
		rpt_print_ids(stdout, e->replicas, e->nreplicas);
		printf(".\n");
	}
}

/* Kafka's --verify: running, complete, or done with other replicas than the file's. */
static int verify(reassign_opts_t *o, zhandle_t *zh)
{
	ongoing_t *cur = NULL;
	zkj_reassign_t *pending = NULL;
	int ncur = 0, npending = 0, ntopics, rc;
	char **names;
	view_t v;
	if (rpt_load_reassignment(o->val[R_JSON], &o->n, &o->parts))
		return 1;
	if (zh)
		rpt_zk_pending(zh, &pending, &npending);
	else if (rpt_list_ongoing(o->val[R_BOOTSTRAP], NULL, 0, &cur, &ncur))
		return 1;
	names = file_topics(o, &ntopics);
	if ((rc = view_load(zh, o->val[R_BOOTSTRAP], names, ntopics, &v)) == 0) {
		printf("Status of partition reassignment:\n");
		for (int i = 0; i < o->n; i++) {
			const zkj_reassign_t *e = &o->parts[i];
			bool running = zh ? keel_bsearch(e, pending, (size_t)npending, sizeof(*e),
							 rpt_cmp_reassign) != NULL
					  : rpt_find_ongoing(cur, ncur, e->topic, e->partition) != NULL;
			if (i == 0 || rpt_cmp_reassign(e, e - 1))
				print_state(e, running, &v);
		}
		view_free(&v);
	}
	rpt_ongoing_free(cur, ncur);
	zkj_reassign_free(npending, pending);
	return rc;
}

/* ================================================================ --cancel, --list */

static int cancel(reassign_opts_t *o)
{
	const char *servers = o->val[R_BOOTSTRAP];
	ongoing_t *cur;
	int ncur, n = 0, rc = 0;
	if (rpt_load_reassignment(o->val[R_JSON], &o->n, &o->parts) ||
	    rpt_list_ongoing(servers, o->parts, o->n, &cur, &ncur))
		return 1;
	zkj_reassign_t *active = calloc((size_t)ncur + 1, sizeof(*active));
	if (!active)
		abort();
	/* Kafka cancels only what is really moving: replicas being added or removed */
	for (int i = 0; i < ncur; i++)
		if (cur[i].nadding || cur[i].nremoving)
			active[n++] = (zkj_reassign_t){ cur[i].topic, cur[i].partition, 0, NULL, -1, NULL };
	if (n && !(rc = rpt_alter(servers, active, n, true))) {
		printf("Successfully cancelled partition reassignment%s for: ", n == 1 ? "" : "s");
		print_tps(active, n);
	} else if (!n) {
		printf("None of the specified partition reassignments are active.\n");
	}
	if (!rc)
		printf("None of the specified partition moves are active.\n");
	free(active);
	rpt_ongoing_free(cur, ncur);
	return rc;
}

static int list(reassign_opts_t *o)
{
	ongoing_t *cur;
	int ncur;
	if (rpt_list_ongoing(o->val[R_BOOTSTRAP], NULL, 0, &cur, &ncur))
		return 1;
	printf(ncur ? "Current partition reassignments:\n" : "No partition reassignments found.\n");
	for (int i = 0; i < ncur; i++) {
		printf("%s-%d: replicas: ", cur[i].topic, cur[i].partition);
		rpt_print_ids(stdout, cur[i].replicas, cur[i].nreplicas);
		printf(".");
		if (cur[i].nadding) {
			printf(" adding: ");
			rpt_print_ids(stdout, cur[i].adding, cur[i].nadding);
			printf(".");
		}
		if (cur[i].nremoving) {
			printf(" removing: ");
			rpt_print_ids(stdout, cur[i].removing, cur[i].nremoving);
			printf(".");
		}
		putchar('\n');
	}
	rpt_ongoing_free(cur, ncur);
	return 0;
}

/* ================================================================ options */

static const char *opt_name(int id)
{
	for (const admin_opt_t *o = g_opts; o->name; o++)
		if (o->id == id)
			return o->name;
	return "?";
}

/* Kafka's validateAndParseArgs, in its order. 0, or 1 after a usage error. */
static int check_args(reassign_opts_t *o)
{
	int nactions = 0;
	for (int id = R_GENERATE; id <= R_LIST; id++) {
		if (!o->seen[id])
			continue;
		nactions++;
		o->action = id;
	}
	if (nactions != 1)
		return admin_usage_error(CMD, "Command must include exactly one action: --generate, "
					      "--execute, --verify, --cancel, --list");
	if (!o->seen[R_BOOTSTRAP] && !o->seen[R_ZOOKEEPER])
		return admin_usage_error(CMD, "Please specify --bootstrap-server");
	for (int id = 1; id < R_NOPTS; id++)
		if ((g_rules[o->action].required & BIT(id)) && !o->seen[id])
			return admin_usage_error(CMD, "Missing required argument \"[%s]\"", opt_name(id));
	for (int id = 1; id < R_NOPTS; id++)
		if (o->seen[id] && id != o->action &&
		    !((g_rules[o->action].required | g_rules[o->action].allowed) & BIT(id)))
			return admin_usage_error(CMD, "Option \"[%s]\" can't be used with action \"[%s]\"",
						 opt_name(id), opt_name(o->action));
	for (int id = 1; id < R_NOPTS && !o->seen[R_BOOTSTRAP]; id++)
		if (o->seen[id] && (BOOTSTRAP_ONLY & BIT(id)))
			return admin_usage_error(CMD, "You must specify --bootstrap-server when using "
						      "\"[%s]\"", opt_name(id));
	return 0;
}

/* Record one option; the numeric ones are checked here. 0, or 1 after a usage error. */
static int parse_opt(reassign_opts_t *o, int id, const char *val)
{
	int64_t ignored, *num = id == R_THROTTLE ? &o->throttle
				: id == R_LOGDIR_THROTTLE ? &o->logdir_throttle : &ignored;
	o->seen[id] = true;
	o->val[id] = val;
	if ((id == R_THROTTLE || id == R_LOGDIR_THROTTLE || id == R_TIMEOUT) &&
	    admin_parse_int(val, INT64_MIN, INT64_MAX, num) < 0)
		return admin_usage_error(CMD, "--%s: '%s' is not a number", opt_name(id), val);
	return 0;
}

static int run(reassign_opts_t *o, zhandle_t *zh)
{
	switch (o->action) {
	case R_GENERATE: return generate(o, zh);
	case R_EXECUTE: return execute(o, zh);
	case R_VERIFY: return verify(o, zh);
	case R_CANCEL: return cancel(o);
	default: return list(o);
	}
}

static int reassign_run(int argc, char **argv)
{
	reassign_opts_t o = { .throttle = -1, .logdir_throttle = -1 };
	zhandle_t *zh = NULL;
	admin_parser_t p;
	const char *val;
	char err[512];
	int id, rc;
	admin_parser_init(&p, CMD, argc, argv);
	while ((id = admin_getopt(&p, g_opts, &val)) > 0) {
		if (id == R_HELP)
			return admin_help(CMD);
		if (parse_opt(&o, id, val))
			return 1;
	}
	if (id == ADMIN_OPT_ERROR || check_args(&o))
		return 1;
	if (o.seen[R_BOOTSTRAP] && o.seen[R_ZOOKEEPER])
		fprintf(stderr, "%s: warning: ignoring --zookeeper because --bootstrap-server was "
			"given\n", CMD->script);
	admin_install_signals();
	if (!o.seen[R_BOOTSTRAP] &&
	    !(zh = zku_connect(o.val[R_ZOOKEEPER], REASSIGN_TIMEOUT_MS, REASSIGN_TIMEOUT_MS, NULL,
			       NULL, err, sizeof(err))))
		return admin_error(CMD, "%s", err);
	rc = run(&o, zh);
	if (zh)
		zookeeper_close(zh);
	zkj_reassign_free(o.n, o.parts);
	return rc;
}

const admin_cmd_t admin_cmd_reassign_partitions = {
	.name = "reassign-partitions",
	.script = "keel-reassign-partitions.sh",
	.usage = g_usage,
	.run = reassign_run,
};
