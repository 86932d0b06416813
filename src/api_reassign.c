/* src/api_reassign.c: AlterPartitionReassignments and ListPartitionReassignments v0 (KIP-455,
 * flexible from v0), as kafka-reassign-partitions.sh --bootstrap-server sends them. The
 * controller's coordination thread does the work (zk/controller_reassign.c); the request
 * parks meanwhile. */
#include "api.h"
#include "conn.h"
#include "logger.h"

#include <stdlib.h>
#include <string.h>

static char *slice_dup(keel_slice_t s)
{
	return strndup(s.ptr ? (const char *)s.ptr : "", s.len);
}

/* Alter v0: timeout_ms, topics [name, partitions [partition_index, replicas (nullable: cancel)
 * tags] tags] tags. */
static bool decode_alter(keel_request_t *req, keel_cmd_t *cmd)
{
	kr_t *r = &req->body;
	int32_t nt;
	(void)kr_i32(r); /* timeout_ms: the controller answers once the znodes are written */
	nt = kr_array(r, 3);
	for (int32_t i = 0; i < nt && kr_ok(r); i++) {
		keel_slice_t name = kr_str(r, NULL);
		int32_t np = kr_array(r, 3);
		keel_cmd_reassign_t *v;
		if (np <= 0)
			goto tags;
		v = realloc(cmd->reassign, (size_t)(cmd->n_reassign + np) * sizeof(*v));
		if (!v)
			return false;
		cmd->reassign = v;
		for (int32_t j = 0; j < np && kr_ok(r); j++) {
			keel_cmd_reassign_t *e = &v[cmd->n_reassign];
			int32_t nr;
			memset(e, 0, sizeof(*e));
			e->partition = kr_i32(r);
			nr = kr_array(r, 4);
			e->nreplicas = nr;
			e->replicas = malloc((size_t)(nr > 0 ? nr : 1) * sizeof(int32_t));
			if (!e->replicas || !(e->topic = slice_dup(name))) {
				free(e->replicas);
				return false;
			}
			cmd->n_reassign++;
			for (int32_t k = 0; k < nr && kr_ok(r); k++)
				e->replicas[k] = kr_i32(r);
			kr_tags(r);
		}
tags:
		kr_tags(r);
	}
	kr_tags(r);
	return kr_ok(r) && kr_remaining(r) == 0;
}

/* List v0: timeout_ms, topics (nullable: all) [name, partition_indexes [i32] tags] tags. */
static bool decode_list(keel_request_t *req, keel_cmd_t *cmd)
{
	kr_t *r = &req->body;
	int32_t nt;
	(void)kr_i32(r);
	nt = kr_array(r, 3);
	if (nt >= 0 && !(cmd->list_tps = calloc(1, sizeof(*cmd->list_tps))))
		return false;
	for (int32_t i = 0; i < nt && kr_ok(r); i++) {
		keel_slice_t name = kr_str(r, NULL);
		int32_t np = kr_array(r, 4);
		keel_cmd_tp_t *v = np > 0 ? realloc(cmd->list_tps, (size_t)(cmd->n_list_tps + np) *
							     sizeof(*v)) : cmd->list_tps;
		if (!v)
			return false;
		cmd->list_tps = v;
		for (int32_t j = 0; j < np && kr_ok(r); j++) {
			v[cmd->n_list_tps].partition = kr_i32(r);
			if (!(v[cmd->n_list_tps].topic = slice_dup(name)))
				return false;
			cmd->n_list_tps++;
		}
		kr_tags(r);
	}
	kr_tags(r);
	return kr_ok(r) && kr_remaining(r) == 0;
}

/* Topics run in cmd->reassign order: consecutive entries of one name form a topic. The alter
 * entries keep the request's order, so a name split in two groups is listed twice (Kafka
 * merges by name; clients read either). */
static int topic_run(const keel_cmd_t *cmd, int i)
{
	int j = i;
	while (j < cmd->n_reassign && !strcmp(cmd->reassign[j].topic, cmd->reassign[i].topic))
		j++;
	return j;
}

static int count_runs(const keel_cmd_t *cmd)
{
	int n = 0;
	for (int i = 0; i < cmd->n_reassign; i = topic_run(cmd, i))
		n++;
	return n;
}

static const char *top_message(int16_t err)
{
	return err == KERR_NOT_CONTROLLER ? "This is not the correct controller for this cluster."
	       : err == KERR_REQUEST_TIMED_OUT ? "No ZooKeeper session." : NULL;
}

/* Both responses (v0): throttle, error_code, error_message, then per topic [name, partitions
 * [partition_index, ... tags] tags] tags, where a partition of Alter has error_code and
 * error_message, and one of List its replicas, adding_replicas and removing_replicas. A
 * top-level error leaves the list empty, as Kafka does. */
static void respond(keel_request_t *req, keel_cmd_t *cmd)
{
	keel_resp_t resp;
	int16_t top = cmd->reassign_error;
	bool alter = cmd->type == KEEL_CMD_ALTER_REASSIGNMENTS;
	keel_resp_begin(req, &resp);
	kw_i32(&resp.w, 0);
	kw_i16(&resp.w, top);
	kw_str(&resp.w, top_message(top));
	kw_array(&resp.w, top ? 0 : count_runs(cmd));
	for (int i = 0, j; !top && i < cmd->n_reassign; i = j) {
		j = topic_run(cmd, i);
		kw_str(&resp.w, cmd->reassign[i].topic);
		kw_array(&resp.w, j - i);
		for (int k = i; k < j; k++) {
			const keel_cmd_reassign_t *e = &cmd->reassign[k];
			kw_i32(&resp.w, e->partition);
			if (alter) {
				kw_i16(&resp.w, e->error);
				kw_str(&resp.w, e->error ? e->message : NULL);
			} else {
				kw_i32s(&resp.w, e->nreplicas, e->replicas);
				kw_i32s(&resp.w, e->nadding, e->adding);
				kw_i32s(&resp.w, e->nremoving, e->removing);
			}
			kw_tags(&resp.w);
		}
		kw_tags(&resp.w);
	}
	kw_tags(&resp.w);
	keel_resp_send(req, &resp);
}

static int handle(keel_request_t *req, keel_cmd_type_t type)
{
	keel_cmd_t *cmd = calloc(1, sizeof(*cmd));
	bool ok;
	if (!cmd)
		return KEEL_CLOSE;
	cmd->type = type;
	ok = type == KEEL_CMD_ALTER_REASSIGNMENTS ? decode_alter(req, cmd) : decode_list(req, cmd);
	if (!ok) {
		keel_cmd_free(cmd);
		return KEEL_CLOSE;
	}
	klog_info("admin", "%s: %s for %d partition(s)", req->conn->peer,
		  keel_apis[req->api_key].name,
		  type == KEEL_CMD_ALTER_REASSIGNMENTS ? cmd->n_reassign : cmd->n_list_tps);
	if (!keel_api_is_controller(req->broker)) {
		cmd->reassign_error = KERR_NOT_CONTROLLER;
		if (type == KEEL_CMD_LIST_REASSIGNMENTS) /* the list holds results, not requests */
			cmd->n_reassign = 0;
		respond(req, cmd);
		keel_cmd_free(cmd);
		return KEEL_HANDLED;
	}
	return keel_api_park_on_cmd(req, cmd);
}

int keel_api_alter_partition_reassignments(keel_request_t *req)
{
	return handle(req, KEEL_CMD_ALTER_REASSIGNMENTS);
}

int keel_api_list_partition_reassignments(keel_request_t *req)
{
	return handle(req, KEEL_CMD_LIST_REASSIGNMENTS);
}

/* Loop thread: KEEL_MSG_CMD_DONE of either command. Frees cmd. */
void keel_api_reassign_done(keel_broker_t *b, keel_cmd_t *cmd)
{
	keel_request_t *req = keel_api_cmd_request(cmd);
	(void)b;
	if (req) {
		respond(req, cmd);
		keel_request_done(req);
	}
	keel_cmd_free(cmd);
}
