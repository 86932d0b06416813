/* src/api_topics.c: CreateTopics v0-4 and DeleteTopics v0-3: the controller hands them to the
 * coordination thread and the request parks until the znodes are written. */
#include "api.h"
#include "conn.h"
#include "logger.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static char *slice_dup(keel_slice_t s)
{
	char *p = malloc(s.len + 1);
	if (p) {
		if (s.len)
			memcpy(p, s.ptr, s.len);
		p[s.len] = '\0';
	}
	return p;
}

/* Decode one CreateTopics topic entry into t. */
static bool decode_create_topic(kr_t *r, keel_cmd_topic_t *t)
{
	t->name = slice_dup(kr_str(r, NULL));
	t->num_partitions = kr_i32(r);
	t->replication_factor = kr_i16(r);
	int32_t na = kr_array(r, 8);
	if (na > 0) {
		t->nassign = na;
		t->assign_counts = calloc((size_t)na, sizeof(int32_t));
		t->assignments = calloc((size_t)na, sizeof(int32_t *));
		if (!t->assign_counts || !t->assignments)
			return false;
	}
	for (int32_t i = 0; i < na && kr_ok(r); i++) {
		(void)kr_i32(r); /* partition index: the entries come in order */
		int32_t nb = kr_array(r, 4);
		t->assign_counts[i] = nb > 0 ? nb : 0;
		t->assignments[i] = calloc(nb > 0 ? (size_t)nb : 1, sizeof(int32_t));
		if (!t->assignments[i])
			return false;
		for (int32_t j = 0; j < nb; j++)
			t->assignments[i][j] = kr_i32(r);
	}
	int32_t nc = kr_array(r, 4);
	if (nc > 0) {
		t->config_keys = calloc((size_t)nc, sizeof(char *));
		t->config_values = calloc((size_t)nc, sizeof(char *));
		if (!t->config_keys || !t->config_values)
			return false;
	}
	for (int32_t i = 0; i < nc && kr_ok(r); i++) {
		bool null;
		t->config_keys[i] = slice_dup(kr_str(r, NULL));
		keel_slice_t v = kr_str(r, &null);
		t->config_values[i] = null ? NULL : slice_dup(v);
		t->nconfigs++;
	}
	return kr_ok(r) && t->name != NULL;
}

static void respond_topics(keel_request_t *req, keel_cmd_t *cmd)
{
	keel_resp_t resp;
	int16_t ver = req->api_version;
	bool create = req->api_key == KAPI_CREATE_TOPICS;
	keel_resp_begin(req, &resp);
	if ((create && ver >= 2) || (!create && ver >= 1))
		kw_i32(&resp.w, 0); /* throttle_time_ms */
	kw_array(&resp.w, cmd->ntopics);
	for (int i = 0; i < cmd->ntopics; i++) {
		keel_cmd_topic_t *t = &cmd->topics[i];
		kw_str(&resp.w, t->name ? t->name : "");
		kw_i16(&resp.w, t->error);
		if (create && ver >= 1)
			kw_str(&resp.w, t->error ? t->error_message : NULL);
		if (t->error)
			klog_info("admin", "%s %s: error %d %s", create ? "CreateTopics" : "DeleteTopics",
				  t->name ? t->name : "", t->error, t->error_message ? t->error_message : "");
	}
	keel_resp_send(req, &resp);
}

/* Either answer NOT_CONTROLLER at once, or submit cmd and park. Takes ownership of cmd. */
static int submit_or_answer(keel_request_t *req, keel_cmd_t *cmd)
{
	keel_broker_t *b = req->broker;
	if (!keel_api_is_controller(b)) {
		for (int i = 0; i < cmd->ntopics; i++)
			cmd->topics[i].error = KERR_NOT_CONTROLLER;
		respond_topics(req, cmd);
		keel_cmd_free(cmd);
		return KEEL_HANDLED;
	}
	return keel_api_park_on_cmd(req, cmd);
}

/* ---- The answers wait, at most timeout_ms, as Kafka's DelayedCreatePartitions and
 * DelayedDeleteTopics do: CreateTopics until every partition of its topics has a leader in this
 * broker's metadata, DeleteTopics until its topics are gone from the cluster view. Topics not
 * there by then get REQUEST_TIMED_OUT (created or deleted all the same, later). */

/* Is topic t of cmd where the answer waits for it to be? */
static bool topic_settled(keel_broker_t *b, const keel_cmd_t *cmd, const keel_cmd_topic_t *t)
{
	const keel_view_topic_t *vt;
	if (t->error != KERR_NONE || !t->name || !b->view)
		return true;
	vt = keel_view_topic(b->view, t->name);
	if (cmd->type == KEEL_CMD_DELETE_TOPICS)
		return !vt;
	if (!vt || vt->deleting || vt->npartitions == 0)
		return false;
	for (int32_t p = 0; p < vt->npartitions; p++)
		if (!keel_api_leader_known(b, vt, &vt->partitions[p]))
			return false;
	return true;
}

static bool topics_settled(keel_broker_t *b, keel_cmd_t *cmd, bool timed_out)
{
	bool settled = true;
	for (int i = 0; i < cmd->ntopics; i++) {
		keel_cmd_topic_t *t = &cmd->topics[i];
		if (topic_settled(b, cmd, t))
			continue;
		settled = false;
		if (timed_out) {
			t->error = KERR_REQUEST_TIMED_OUT;
			free(t->error_message);
			t->error_message = strdup(cmd->type == KEEL_CMD_DELETE_TOPICS ? "The topic is not deleted yet." :
						  "The topic is created; not every partition has a leader yet.");
		}
	}
	return settled || timed_out;
}

static void topic_waits_timer_arm(keel_broker_t *b)
{
	int64_t next = INT64_MAX, now = keel_mono_ms();
	for (keel_cmd_t *c = b->topic_waits; c; c = c->wait_next)
		if (c->deadline_ms < next)
			next = c->deadline_ms;
	if (next == INT64_MAX)
		keel_timer_cancel(b->loop, &b->topic_waits_timer);
	else
		keel_timer_arm(b->loop, &b->topic_waits_timer, next > now ? next - now : 0);
}

static void answer_topics(keel_cmd_t *cmd)
{
	keel_request_t *req = keel_api_cmd_request(cmd);
	if (req) {
		respond_topics(req, cmd);
		keel_request_done(req);
	}
	keel_cmd_free(cmd);
}

static void topic_waits_run(keel_broker_t *b)
{
	int64_t now = keel_mono_ms();
	for (keel_cmd_t **pp = &b->topic_waits; *pp;) {
		keel_cmd_t *c = *pp;
		if (c->ctx && !topics_settled(b, c, now >= c->deadline_ms)) {
			pp = &c->wait_next;
			continue;
		}
		*pp = c->wait_next;
		answer_topics(c); /* or just free it: the connection closed */
	}
	topic_waits_timer_arm(b);
}

static void topic_waits_timer_fn(keel_loop_t *loop, keel_timer_t *t)
{
	keel_broker_t *b = (keel_broker_t *)((char *)t - offsetof(keel_broker_t, topic_waits_timer));
	(void)loop;
	topic_waits_run(b);
}

void keel_api_topic_waits_init(keel_broker_t *b)
{
	b->topic_waits = NULL;
	keel_timer_init(&b->topic_waits_timer, topic_waits_timer_fn);
}

void keel_api_topic_waits_check(keel_broker_t *b)
{
	if (b->topic_waits)
		topic_waits_run(b);
}

void keel_api_topic_waits_free(keel_broker_t *b)
{
	while (b->topic_waits) {
		keel_cmd_t *c = b->topic_waits;
		b->topic_waits = c->wait_next;
		keel_cmd_free(c);
	}
	keel_timer_cancel(b->loop, &b->topic_waits_timer);
}

void keel_api_topics_done(keel_broker_t *b, keel_cmd_t *cmd)
{
	if ((cmd->type == KEEL_CMD_DELETE_TOPICS || cmd->type == KEEL_CMD_CREATE_TOPICS) && cmd->ctx &&
	    !cmd->auto_create && cmd->timeout_ms > 0 && !cmd->validate_only && !topics_settled(b, cmd, false)) {
		cmd->deadline_ms = keel_mono_ms() + cmd->timeout_ms;
		cmd->wait_next = b->topic_waits;
		b->topic_waits = cmd; /* still the connection's pending command */
		topic_waits_timer_arm(b);
		return;
	}
	if (cmd->auto_create) {
		for (int i = 0; i < cmd->ntopics; i++) {
			for (int j = 0; j < b->nautocreate; j++) {
				if (strcmp(b->autocreate_pending[j], cmd->topics[i].name) == 0) {
					free(b->autocreate_pending[j]);
					b->autocreate_pending[j] = b->autocreate_pending[--b->nautocreate];
					break;
				}
			}
		}
	} else {
		keel_request_t *req = keel_api_cmd_request(cmd);
		if (req) {
			respond_topics(req, cmd);
			keel_request_done(req);
		}
	}
	keel_cmd_free(cmd);
}

int keel_api_create_topics(keel_request_t *req)
{
	kr_t *r = &req->body;
	keel_cmd_t *cmd = calloc(1, sizeof(*cmd));
	int32_t n = kr_array(r, 12);
	if (!cmd)
		return KEEL_CLOSE;
	cmd->type = KEEL_CMD_CREATE_TOPICS;
	cmd->topics = calloc(n > 0 ? (size_t)n : 1, sizeof(*cmd->topics));
	if (!cmd->topics)
		goto bad;
	for (int32_t i = 0; i < n; i++) {
		cmd->ntopics++;
		if (!decode_create_topic(r, &cmd->topics[i]))
			goto bad;
		keel_cmd_topic_t *t = &cmd->topics[i];
		if (req->api_version < 4 && (t->num_partitions < 0 || t->replication_factor < 0) && t->nassign == 0)
			t->error = KERR_INVALID_REQUEST; /* -1 defaults arrived in v4 */
		bool too_many = t->replication_factor > KEEL_MAX_REPLICAS;
		for (int32_t p = 0; p < t->nassign; p++)
			too_many |= t->assign_counts[p] > KEEL_MAX_REPLICAS;
		if (too_many && !t->error) {
			t->error = KERR_INVALID_REPLICATION_FACTOR;
			if (asprintf(&t->error_message, "Replication factor above %d is not supported.",
				     KEEL_MAX_REPLICAS) < 0)
				t->error_message = NULL;
		}
	}
	cmd->timeout_ms = kr_i32(r);
	if (req->api_version >= 1)
		cmd->validate_only = kr_bool(r);
	if (!kr_ok(r))
		goto bad;
	return submit_or_answer(req, cmd);
bad:
	keel_cmd_free(cmd);
	return KEEL_CLOSE;
}

int keel_api_delete_topics(keel_request_t *req)
{
	kr_t *r = &req->body;
	keel_cmd_t *cmd = calloc(1, sizeof(*cmd));
	int32_t n = kr_array(r, 2);
	if (!cmd)
		return KEEL_CLOSE;
	cmd->type = KEEL_CMD_DELETE_TOPICS;
	cmd->topics = calloc(n > 0 ? (size_t)n : 1, sizeof(*cmd->topics));
	for (int32_t i = 0; cmd->topics && i < n && kr_ok(r); i++) {
		cmd->topics[i].name = slice_dup(kr_str(r, NULL));
		cmd->ntopics++;
	}
	cmd->timeout_ms = kr_i32(r);
	if (!cmd->topics || !kr_ok(r)) {
		keel_cmd_free(cmd);
		return KEEL_CLOSE;
	}
	return submit_or_answer(req, cmd);
}
