/* src/api_controlled_shutdown.c: ControlledShutdown v1-2 (broker -> controller): the controller's
 * coordination thread moves the broker's leaderships and lists what it still leads. */
#include "api.h"
#include "conn.h"
#include "logger.h"

#include <stdlib.h>

static void respond(keel_request_t *req, keel_cmd_t *cmd)
{
	keel_resp_t resp;
	keel_resp_begin(req, &resp);
	kw_i16(&resp.w, cmd->shutdown_error);
	kw_array(&resp.w, cmd->n_remaining);
	for (int i = 0; i < cmd->n_remaining; i++) {
		kw_str(&resp.w, cmd->remaining[i].topic);
		kw_i32(&resp.w, cmd->remaining[i].partition);
	}
	keel_resp_send(req, &resp);
}

int keel_api_controlled_shutdown(keel_request_t *req)
{
	keel_broker_t *b = req->broker;
	keel_cmd_t *cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return KEEL_CLOSE;
	cmd->type = KEEL_CMD_CONTROLLED_SHUTDOWN;
	cmd->shutdown_broker = kr_i32(&req->body);
	cmd->shutdown_epoch = req->api_version >= 2 ? kr_i64(&req->body) : -1;
	if (!kr_ok(&req->body) || kr_remaining(&req->body) != 0) {
		keel_cmd_free(cmd);
		return KEEL_CLOSE;
	}
	klog_info("admin", "%s: ControlledShutdown for broker %d", req->conn->peer, cmd->shutdown_broker);
	if (!keel_api_is_controller(b)) {
		cmd->shutdown_error = KERR_NOT_CONTROLLER;
		respond(req, cmd);
		keel_cmd_free(cmd);
		return KEEL_HANDLED;
	}
	return keel_api_park_on_cmd(req, cmd);
}

void keel_api_controlled_shutdown_done(keel_broker_t *b, keel_cmd_t *cmd)
{
	keel_request_t *req = keel_api_cmd_request(cmd);
	if (req) {
		respond(req, cmd);
		keel_request_done(req);
	}
	keel_cmd_free(cmd);
}
