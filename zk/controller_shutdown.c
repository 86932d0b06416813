/* zk/controller_shutdown.c: the controller's side of Kafka's controlled shutdown: a broker that
 * asks is marked shutting down, so ctl_elect moves its leaderships to other in-sync replicas and
 * drops it from the ISR of replicated partitions; the answer lists what it still leads. */
#include "coord_internal.h"
#include "logger.h"

#include <stdlib.h>
#include <string.h>

/* Coordination thread. */
bool ctl_shutting(const keel_coord_t *c, int32_t id)
{
	for (int i = 0; i < c->nshutting; i++) {
		if (c->shutting[i].id != id)
			continue;
		for (int j = 0; j < c->nbrokers; j++) /* the same registration: not bounced or dead */
			if (c->brokers[j].id == id)
				return c->brokers[j].czxid == c->shutting[i].czxid;
		return false;
	}
	return false;
}

static void mark_shutting(keel_coord_t *c, const coord_broker_t *br)
{
	for (int i = 0; i < c->nshutting; i++)
		if (c->shutting[i].id == br->id) {
			c->shutting[i].czxid = br->czxid;
			return;
		}
	coord_broker_t *n = realloc(c->shutting, (size_t)(c->nshutting + 1) * sizeof(*n));
	if (!n)
		return;
	c->shutting = n;
	memset(&n[c->nshutting], 0, sizeof(*n));
	n[c->nshutting].id = br->id;
	n[c->nshutting].czxid = br->czxid;
	c->nshutting++;
}

/* The replicated partitions broker id still leads, into cmd->remaining. */
static void list_remaining(keel_coord_t *c, keel_cmd_t *cmd, int32_t id)
{
	for (int i = 0; i < c->ntopics; i++) {
		coord_topic_t *t = &c->topics[i];
		for (int32_t p = 0; t->loaded && p < t->assign.npartitions; p++) {
			if (!t->states[p].present || t->states[p].st.leader != id || t->assign.nreplicas[p] <= 1)
				continue;
			keel_cmd_tp_t *r = realloc(cmd->remaining, (size_t)(cmd->n_remaining + 1) * sizeof(*r));
			if (!r)
				return;
			cmd->remaining = r;
			r[cmd->n_remaining].topic = strdup(t->name);
			r[cmd->n_remaining].partition = p;
			if (r[cmd->n_remaining].topic)
				cmd->n_remaining++;
		}
	}
}

/* Coordination thread: handles the command and posts KEEL_MSG_CMD_DONE. */
void ctl_controlled_shutdown(keel_coord_t *c, keel_cmd_t *cmd)
{
	const coord_broker_t *br = NULL;
	for (int i = 0; i < c->nbrokers; i++)
		if (c->brokers[i].id == cmd->shutdown_broker)
			br = &c->brokers[i];
	if (!c->zh || c->expired || !c->is_controller)
		cmd->shutdown_error = KERR_NOT_CONTROLLER;
	else if (!br)
		cmd->shutdown_error = KERR_BROKER_NOT_AVAILABLE;
	else if (cmd->shutdown_epoch >= 0 && cmd->shutdown_epoch < br->czxid)
		cmd->shutdown_error = KERR_STALE_BROKER_EPOCH;
	if (!cmd->shutdown_error) {
		klog_info(COORD_LOG, "controller %d: broker %d is shutting down; moving its leaderships",
			  c->broker_id, br->id);
		mark_shutting(c, br);
		for (int pass = 0; pass < 3 && c->is_controller; pass++) {
			c->ctl_again = false;
			ctl_reconcile(c); /* ctl_elect now passes over the shutting-down broker */
			if (!c->ctl_again)
				break;
		}
		list_remaining(c, cmd, br->id);
	}
	coord_post_view_if_dirty(c);
	keel_mq_post(c->to_loop, KEEL_MSG_CMD_DONE, cmd);
}
