/* src/api_elect_leaders.c: ElectLeaders v0-1 (Kafka's kafka-leader-election.sh): the controller's
 * coordination thread runs preferred or unclean elections; the request parks meanwhile. */
#include "api.h"
#include "conn.h"
#include "logger.h"

#include <stdlib.h>
#include <string.h>

/* Request v0: topic_partitions [topic, partition_id [i32]] (null = all), timeout_ms;
 * v1 starts with election_type i8. Fills cmd; false if malformed. */
static bool decode(keel_request_t *req, keel_cmd_t *cmd)
{
	kr_t *r = &req->body;
	int32_t nt;
	cmd->election_type = req->api_version >= 1 ? kr_i8(r) : 0;
	nt = kr_array(r, 6);
	if (nt >= 0 && !(cmd->elect_tps = calloc(1, sizeof(*cmd->elect_tps))))
		return false;
	for (int32_t i = 0; i < nt && kr_ok(r); i++) {
		keel_slice_t name = kr_str(r, NULL);
		int32_t np = kr_array(r, 4);
		keel_cmd_tp_t *v = np > 0 ? realloc(cmd->elect_tps, (size_t)(cmd->n_elect_tps + np) *
							       sizeof(*v)) : cmd->elect_tps;
		if (!v)
			return false;
		cmd->elect_tps = v;
		for (int32_t j = 0; j < np && kr_ok(r); j++) {
			keel_cmd_tp_t *tp = &v[cmd->n_elect_tps];
			tp->partition = kr_i32(r);
			if (!(tp->topic = strndup(name.ptr ? (const char *)name.ptr : "", name.len)))
				return false;
			cmd->n_elect_tps++;
		}
	}
	(void)kr_i32(r); /* timeout_ms: the elections finish before the answer anyway */
	return kr_ok(r) && kr_remaining(r) == 0;
}

/* Response v0: throttle_time_ms, results [topic, [partition_id, error_code, error_message]];
 * v1 adds error_code after the throttle. With a null request list, partitions that needed no
 * election are left out (Kafka's KafkaApis). */
static void respond(keel_request_t *req, keel_cmd_t *cmd)
{
	keel_resp_t resp;
	bool all = cmd->elect_tps == NULL;
	int ntopics = 0;
	keel_resp_begin(req, &resp);
	kw_i32(&resp.w, 0);
	if (req->api_version >= 1)
		kw_i16(&resp.w, cmd->elect_error);
	for (int i = 0; i < cmd->n_elect_results; i++)
		if (i == 0 || strcmp(cmd->elect_results[i].topic, cmd->elect_results[i - 1].topic))
			ntopics++;
	kw_array(&resp.w, ntopics);
	for (int i = 0, j; i < cmd->n_elect_results; i = j) {
		int n = 0;
		for (j = i; j < cmd->n_elect_results &&
			    !strcmp(cmd->elect_results[j].topic, cmd->elect_results[i].topic); j++)
			n += !(all && cmd->elect_results[j].error == KERR_ELECTION_NOT_NEEDED);
		kw_str(&resp.w, cmd->elect_results[i].topic);
		kw_array(&resp.w, n);
		for (int k = i; k < j; k++) {
			const keel_cmd_elect_t *e = &cmd->elect_results[k];
			if (all && e->error == KERR_ELECTION_NOT_NEEDED)
				continue;
			kw_i32(&resp.w, e->partition);
			kw_i16(&resp.w, e->error);
			kw_str(&resp.w, e->message);
		}
	}
	keel_resp_send(req, &resp);
}

/* A top-level error: every requested partition gets it too (v0 has no top-level code). */
static void fail_all(keel_cmd_t *cmd, int16_t err)
{
	cmd->elect_error = err;
	free(cmd->elect_results); /* none filled */
	cmd->n_elect_results = 0;
	cmd->elect_results = calloc((size_t)cmd->n_elect_tps + 1, sizeof(*cmd->elect_results));
	for (int i = 0; cmd->elect_results && i < cmd->n_elect_tps; i++) {
		keel_cmd_elect_t *e = &cmd->elect_results[cmd->n_elect_results];
		e->partition = cmd->elect_tps[i].partition;
		e->error = err;
		if ((e->topic = strdup(cmd->elect_tps[i].topic)))
			cmd->n_elect_results++;
	}
}

int keel_api_elect_leaders(keel_request_t *req)
{
	keel_broker_t *b = req->broker;
	keel_cmd_t *cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return KEEL_CLOSE;
	cmd->type = KEEL_CMD_ELECT_LEADERS;
	if (!decode(req, cmd)) {
		keel_cmd_free(cmd);
		return KEEL_CLOSE;
	}
	klog_info("admin", "%s: ElectLeaders v%d (%s) for %s%d partition(s)", req->conn->peer,
		  req->api_version, cmd->election_type == 1 ? "unclean" : "preferred",
		  cmd->elect_tps ? "" : "all, ", cmd->n_elect_tps);
	if (cmd->election_type != 0 && cmd->election_type != 1)
		fail_all(cmd, KERR_INVALID_REQUEST);
	else if (!keel_api_is_controller(b))
		fail_all(cmd, KERR_NOT_CONTROLLER);
	if (cmd->elect_error) {
		respond(req, cmd);
		keel_cmd_free(cmd);
		return KEEL_HANDLED;
	}
	return keel_api_park_on_cmd(req, cmd);
}

/* Loop thread: KEEL_MSG_CMD_DONE of a KEEL_CMD_ELECT_LEADERS. Frees cmd. */
void keel_api_elect_leaders_done(keel_broker_t *b, keel_cmd_t *cmd)
{
	keel_request_t *req = keel_api_cmd_request(cmd);
	if (req) {
		if (cmd->elect_error && !cmd->n_elect_results)
			fail_all(cmd, cmd->elect_error);
		respond(req, cmd);
		keel_request_done(req);
	}
	keel_cmd_free(cmd);
}
