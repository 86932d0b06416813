/* tools/admin_reassign_io.c: what keel-reassign-partitions.sh reads and sends, apart from its
 * options and actions (admin_reassign.c): the --reassignment-json-file, checked as Kafka reads
 * it; ListPartitionReassignments and AlterPartitionReassignments, sent to the controller over
 * a plain socket (librdkafka 2.0 has no such Admin API); and, with --zookeeper, the legacy
 * /admin/reassign_partitions znode. */
#include "admin_reassign.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keel.h"
#include "zkutil.h"

#define REASSIGN_ZNODE "/admin/reassign_partitions"

/* Kafka's cannotExecuteBecauseOfExistingMessage, word for word (two spaces included). */
#define CANNOT_EXECUTE                                                                           \
	"Cannot execute because there is an existing partition assignment.  Use --additional to " \
	"override this and create a new partition assignment in addition to the existing one. "  \
	"The --additional flag can also be used to change the throttle by resubmitting the "      \
	"current reassignment."

/* ================================================================ small helpers */

static int cmp_tp(const char *t1, int32_t p1, const char *t2, int32_t p2)
{
	int d = strcmp(t1, t2);
	return d ? d : (p1 > p2) - (p1 < p2);
}

int rpt_cmp_reassign(const void *a, const void *b)
{
	const zkj_reassign_t *x = a, *y = b;
	return cmp_tp(x->topic, x->partition, y->topic, y->partition);
}

static int cmp_ongoing(const void *a, const void *b)
{
	const ongoing_t *x = a, *y = b;
	return cmp_tp(x->topic, x->partition, y->topic, y->partition);
}

void rpt_print_ids(FILE *out, const int32_t *v, int32_t n)
{
	for (int32_t i = 0; i < n; i++)
		fprintf(out, i ? ",%d" : "%d", v[i]);
}

FILE *rpt_text_open(char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	if (!f)
		abort();
	return f;
}

int rpt_text_error(FILE *f, char **buf, size_t *len, const char *head)
{
	int rc;
	fclose(f);
	rc = *len ? admin_error(CMD, "%s%s", head, *buf) : 0;
	free(*buf);
	return rc;
}

int rpt_topic_end(const zkj_reassign_t *v, int n, int i)
{
	int j = i + 1;
	while (j < n && strcmp(v[j].topic, v[i].topic) == 0)
		j++;
	return j;
}

char *rpt_read_file(const char *path, int *len)
{
	FILE *f = fopen(path, "r");
	char *data = NULL;
	size_t cap = 0;
	ssize_t n;
	if (!f) {
		admin_error(CMD, "%s: %s", path, strerror(errno));
		return NULL;
	}
	n = getdelim(&data, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(data);
		admin_error(CMD, "%s: cannot read it", path);
		return NULL;
	}
	*len = (int)n;
	return data;
}

static int timed_out(const char *servers)
{
	return admin_error(CMD, "timed out waiting for the controller at %s", servers);
}

/* A top-level error in the controller's answer, as Kafka's tool reports the exception. */
static int top_level_error(int16_t code, const char *msg)
{
	const char *cls, *name, *dflt;
	admin_kafka_error(code, &cls, &name, &dflt);
	return admin_error(CMD, "org.apache.kafka.common.errors.%s: %s (%s)", cls, msg ? msg : dflt,
			   name);
}

/* ================================================================ the reassignment file */

/* "Size of replicas list ... is different from size of log dirs list ..." and keel's own
 * refusal of log directory moves. 0, or 1 after printing the problem. */
static int check_log_dirs(const zkj_reassign_t *e)
{
	if (e->nlog_dirs < 0)
		return 0;
	if (e->nlog_dirs != e->nreplicas) {
		char *buf;
		size_t len;
		FILE *f = rpt_text_open(&buf, &len);
		fprintf(f, "Size of replicas list [");
		rpt_print_ids(f, e->replicas, e->nreplicas);
		fprintf(f, "] is different from size of log dirs list [");
		for (int32_t i = 0; i < e->nlog_dirs; i++)
			fprintf(f, "%s%s", i ? "," : "", e->log_dirs[i]);
		fprintf(f, "] for partition %s-%d", e->topic, e->partition);
		return rpt_text_error(f, &buf, &len, "");
	}
	for (int32_t i = 0; i < e->nlog_dirs; i++)
		if (strcmp(e->log_dirs[i], "any") != 0)
			return admin_error(CMD, "log directory \"%s\" for replica %d of partition %s-%d: "
					   "keel cannot move replicas between log directories; only \"any\" "
					   "is supported", e->log_dirs[i], e->replicas[i], e->topic,
					   e->partition);
	return 0;
}

int rpt_load_reassignment(const char *path, int *n, zkj_reassign_t **parts)
{
	int len, rc;
	char *data = rpt_read_file(path, &len);
	if (!data)
		return 1;
	rc = zkj_reassign_decode(data, len, n, parts);
	free(data);
	if (rc)
		return admin_error(CMD, "%s: partition reassignment data is not {\"version\":1,"
				   "\"partitions\":[{\"topic\":...,\"partition\":...,\"replicas\":[...]}]}",
				   path);
	for (int i = 0; i < *n; i++)
		if (check_log_dirs(&(*parts)[i]))
			return 1;
	keel_qsort(*parts, (size_t)*n, sizeof(**parts), rpt_cmp_reassign);
	return 0;
}

/* ================================================================ the wire */

/* ListPartitionReassignments v0: the partitions of v[0..n) sorted by topic, or all (v NULL). */
static void write_list(kw_t *w, const zkj_reassign_t *v, int n)
{
	int ntopics = 0;
	kw_i32(w, REASSIGN_TIMEOUT_MS);
	for (int i = 0; v && i < n; i = rpt_topic_end(v, n, i))
		ntopics++;
	kw_array(w, v ? ntopics : -1);
	for (int i = 0, j; v && i < n; i = j) {
		j = rpt_topic_end(v, n, i);
		kw_str(w, v[i].topic);
		kw_array(w, j - i);
		for (int k = i; k < j; k++)
			kw_i32(w, v[k].partition);
		kw_tags(w);
	}
	kw_tags(w);
}

/* AlterPartitionReassignments v0 for v[0..n) sorted by topic: each partition's target
 * replicas, or null to cancel its reassignment. */
static void write_alter(kw_t *w, const zkj_reassign_t *v, int n, bool cancel)
{
	int ntopics = 0;
	kw_i32(w, REASSIGN_TIMEOUT_MS);
	for (int i = 0; i < n; i = rpt_topic_end(v, n, i))
		ntopics++;
	kw_array(w, ntopics);
	for (int i = 0, j; i < n; i = j) {
		j = rpt_topic_end(v, n, i);
		kw_str(w, v[i].topic);
		kw_array(w, j - i);
		for (int k = i; k < j; k++) {
			kw_i32(w, v[k].partition);
			kw_array(w, cancel ? -1 : v[k].nreplicas);
			for (int32_t r = 0; !cancel && r < v[k].nreplicas; r++)
				kw_i32(w, v[k].replicas[r]);
			kw_tags(w);
		}
		kw_tags(w);
	}
	kw_tags(w);
}

void rpt_ongoing_free(ongoing_t *v, int n)
{
	for (int i = 0; v && i < n; i++) {
		free(v[i].topic);
		free(v[i].replicas);
		free(v[i].adding);
		free(v[i].removing);
	}
	free(v);
}

/* One topic's [partition_index, replicas, adding_replicas, removing_replicas] onto *v. */
static int read_ongoing_partitions(kr_t *r, keel_slice_t topic, ongoing_t **v, int *n)
{
	int32_t np = kr_array(r, 8); /* index, three compact arrays and tags: 8 bytes at least */
	ongoing_t *nv = np > 0 ? realloc(*v, (size_t)(*n + np) * sizeof(**v)) : *v;
	if (np > 0 && !nv)
		return -1;
	*v = nv;
	for (int32_t j = 0; j < np && kr_ok(r); j++, (*n)++) {
		ongoing_t *e = &nv[*n];
		e->topic = admin_slice_dup(topic, false);
		e->partition = kr_i32(r);
		e->replicas = admin_read_ids(r, &e->nreplicas);
		e->adding = admin_read_ids(r, &e->nadding);
		e->removing = admin_read_ids(r, &e->nremoving);
		kr_tags(r);
	}
	return 0;
}

/* ListPartitionReassignments v0 answer into *out (sorted). 0, the top-level error code after
 * printing it, or -1 if malformed. */
static int read_list(kr_t *r, ongoing_t **out, int *nout)
{
	ongoing_t *v = NULL;
	int n = 0, rc = 0;
	bool null, msg_null;
	(void)kr_i32(r); /* throttle_time_ms */
	int16_t error = kr_i16(r);
	keel_slice_t msg = kr_str(r, &msg_null);
	int32_t nt = kr_array(r, 3);
	for (int32_t i = 0; i < nt && kr_ok(r) && rc == 0; i++) {
		keel_slice_t topic = kr_str(r, &null);
		rc = read_ongoing_partitions(r, topic, &v, &n);
		kr_tags(r);
	}
	kr_tags(r);
	if (rc == 0 && kr_ok(r) && error) {
		char *m = admin_slice_dup(msg, msg_null);
		rc = top_level_error(error, m);
		free(m);
	} else if (rc < 0 || !kr_ok(r)) {
		rc = -1;
	}
	if (rc) {
		rpt_ongoing_free(v, n);
		return rc;
	}
	keel_qsort(v, (size_t)n, sizeof(*v), cmp_ongoing);
	*out = v;
	*nout = n;
	return 0;
}

int rpt_list_ongoing(const char *servers, const zkj_reassign_t *v, int n, ongoing_t **out,
		     int *nout)
{
	uint8_t *buf;
	kw_t body;
	kr_t r;
	int rc;
	*out = NULL;
	*nout = 0;
	kw_init(&body, 256, true);
	write_list(&body, v, n);
	rc = admin_controller_call(servers, 46, 0, &body, REASSIGN_TIMEOUT_MS, &buf, &r);
	kw_free(&body);
	if (rc < 0)
		return timed_out(servers);
	rc = read_list(&r, out, nout);
	free(buf);
	if (rc < 0)
		return admin_error(CMD, "malformed ListPartitionReassignments answer from the controller");
	return rc ? 1 : 0;
}

const ongoing_t *rpt_find_ongoing(const ongoing_t *v, int n, const char *topic, int32_t p)
{
	ongoing_t key = { .topic = (char *)topic, .partition = p };
	return n ? keel_bsearch(&key, v, (size_t)n, sizeof(key), cmp_ongoing) : NULL;
}

/* The error for e's partition in an AlterPartitionReassignments answer: the top-level one if
 * set, else its own result's; *msg is the message to print. */
static int16_t alter_error(const zkj_reassign_t *e, int16_t top, const char *top_msg,
			   const admin_tp_result_t *res, int nres, const char **msg)
{
	const char *cls, *name;
	int16_t code = top;
	bool found = top != KERR_NONE;
	*msg = top_msg;
	for (int i = 0; !found && i < nres; i++)
		if (!cmp_tp(res[i].topic, res[i].partition, e->topic, e->partition)) {
			code = res[i].error;
			*msg = res[i].message;
			found = true;
		}
	if (!found) {
		*msg = "The controller's answer has no result for this partition.";
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	if (code != KERR_NONE && !*msg)
		admin_kafka_error(code, &cls, &name, msg);
	return code;
}

/* Kafka's report of the partitions the controller refused; 0 if none, else 1. */
static int report_alter(const zkj_reassign_t *v, int n, bool cancel, int16_t top,
			const char *top_msg, const admin_tp_result_t *res, int nres)
{
	const char *msg;
	int nfail = 0;
	for (int i = 0; i < n; i++)
		nfail += alter_error(&v[i], top, top_msg, res, nres, &msg) != KERR_NONE;
	if (!nfail)
		return 0;
	if (cancel)
		fprintf(stderr, "%s: Error cancelling partition reassignment%s for:\n", CMD->script,
			nfail == 1 ? "" : "s");
	else
		fprintf(stderr, "%s: Error reassigning partition(s):\n", CMD->script);
	for (int i = 0; i < n; i++)
		if (alter_error(&v[i], top, top_msg, res, nres, &msg) != KERR_NONE)
			fprintf(stderr, "%s-%d: %s\n", v[i].topic, v[i].partition, msg);
	return 1;
}

int rpt_alter(const char *servers, const zkj_reassign_t *v, int n, bool cancel)
{
	admin_tp_result_t *res = NULL;
	uint8_t *buf;
	char *top_msg = NULL;
	int16_t top;
	int nres = 0, rc;
	bool null;
	kw_t body;
	kr_t r;
	kw_init(&body, 256, true);
	write_alter(&body, v, n, cancel);
	rc = admin_controller_call(servers, 45, 0, &body, REASSIGN_TIMEOUT_MS, &buf, &r);
	kw_free(&body);
	if (rc < 0)
		return timed_out(servers);
	(void)kr_i32(&r); /* throttle_time_ms */
	top = kr_i16(&r);
	keel_slice_t msg = kr_str(&r, &null);
	if (kr_ok(&r))
		top_msg = admin_slice_dup(msg, null);
	rc = admin_read_tp_results(&r, &res, &nres);
	kr_tags(&r);
	free(buf);
	if (rc < 0 || !kr_ok(&r))
		rc = admin_error(CMD, "malformed AlterPartitionReassignments answer from the controller");
	else
		rc = report_alter(v, n, cancel, top, top_msg, res, nres);
	admin_tp_results_free(res, nres);
	free(top_msg);
	return rc;
}

/* ================================================================ the legacy znode */

int rpt_zk_start(zhandle_t *zh, const zkj_reassign_t *v, int n)
{
	char *json = zkj_reassign_encode(n, v, false);
	int rc = json ? zku_create(zh, REASSIGN_ZNODE, json, ZOO_PERSISTENT) : ZSYSTEMERROR;
	if (rc == ZNONODE && (rc = zku_mkdirs(zh, "/admin")) == ZOK)
		rc = zku_create(zh, REASSIGN_ZNODE, json, ZOO_PERSISTENT);
	free(json);
	if (rc == ZNODEEXISTS)
		return admin_error(CMD, "%s", CANNOT_EXECUTE);
	if (rc != ZOK)
		return admin_error(CMD, "cannot create %s: %s", REASSIGN_ZNODE, zerror(rc));
	return 0;
}

int rpt_check_none_running(zhandle_t *zh, const char *servers, bool additional)
{
	ongoing_t *cur;
	int ncur, rc;
	if (zh) {
		rc = zku_exists(zh, REASSIGN_ZNODE, 0, NULL);
		if (rc == ZOK)
			return admin_error(CMD, "%s", CANNOT_EXECUTE);
		return rc == ZNONODE ? 0 : admin_error(CMD, "cannot read %s: %s", REASSIGN_ZNODE, zerror(rc));
	}
	if (rpt_list_ongoing(servers, NULL, 0, &cur, &ncur))
		return 1;
	rpt_ongoing_free(cur, ncur);
	return ncur && !additional ? admin_error(CMD, "%s", CANNOT_EXECUTE) : 0;
}

void rpt_zk_pending(zhandle_t *zh, zkj_reassign_t **v, int *n)
{
	char *json;
	int len, rc = zku_get(zh, REASSIGN_ZNODE, 0, &json, &len, NULL);
	*v = NULL;
	*n = 0;
	if (rc != ZOK && rc != ZNONODE)
		fprintf(stderr, "%s: warning: cannot read %s: %s\n", CMD->script, REASSIGN_ZNODE,
			zerror(rc));
	if (rc != ZOK)
		return;
	if (!json || zkj_reassign_decode(json, len, n, v) != 0)
		fprintf(stderr, "%s: warning: ignoring %s: malformed\n", CMD->script, REASSIGN_ZNODE);
	else
		keel_qsort(*v, (size_t)*n, sizeof(**v), rpt_cmp_reassign);
	free(json);
}
