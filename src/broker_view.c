/* src/broker_view.c: applying the coordination thread's messages on the loop: cluster views
 * (which partitions live here and which this broker leads), command completions, auto-create. */
#include "api.h"
#include "broker.h"
#include "ctlchan.h"
#include "group.h"
#include "fetcher.h"
#include "logger.h"
#include "replica.h"
#include "shutdown.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool has_replica(const keel_view_partition_t *vp, int32_t id)
{
	for (int32_t i = 0; i < vp->nreplicas; i++)
		if (vp->replicas[i] == id)
			return true;
	return false;
}

/* The log dir holding the fewest partitions, for a new partition. */
static int pick_log_dir(keel_broker_t *b)
{
	size_t counts[KEEL_MAX_LOG_DIRS] = {0};
	int best = 0;
	for (size_t i = 0; i < b->ptable_size; i++)
		for (keel_partition_t *p = b->ptable[i]; p; p = p->hnext)
			counts[p->log_dir]++;
	for (int d = 1; d < b->cfg->nlog_dirs; d++)
		if (counts[d] < counts[best])
			best = d;
	return best;
}

static keel_partition_t *ensure_partition(keel_broker_t *b, const keel_view_topic_t *t, int32_t index)
{
	keel_partition_t *p = keel_partition_get(b, t->name, strlen(t->name), index);
	keel_topic_config_t tc;
	keel_topic_config_resolve(b, t, &tc);
	if (!p) {
		char path[4096];
		keel_log_t *log;
		int d = pick_log_dir(b);
		snprintf(path, sizeof(path), "%s/%s-%d", b->cfg->log_dirs[d], t->name, index);
		if (keel_log_open(path, &tc.log, b->worker, 0, true, -1, &log) != KEEL_OK) {
			klog_error("broker", "cannot create log %s", path);
			return NULL;
		}
		klog_info("broker", "created log for %s-%d in %s", t->name, index, b->cfg->log_dirs[d]);
		p = keel_partition_new(b, t->name, index, log, d);
	}
	p->cfg = tc;
	return p;
}

/* Drop local partitions of a topic that is being deleted, that a previous view knew and this
 * one does not (deleted while we looked away), or whose replica set no longer has this broker
 * (reassigned away, perhaps while it was down). Logs of topics never seen stay as strays. */
static void drop_deleted(keel_broker_t *b, const keel_view_t *old, const keel_view_t *v)
{
	for (size_t i = 0; i < b->ptable_size; i++) {
		for (keel_partition_t *p = b->ptable[i], *nx; p; p = nx) {
			nx = p->hnext;
			const keel_view_topic_t *t = keel_view_topic(v, p->topic);
			bool was_known = old && keel_view_topic(old, p->topic);
			bool moved = t && !t->deleting && (p->index >= t->npartitions ||
				     !has_replica(&t->partitions[p->index], b->id));
			if (moved)
				klog_info("broker", "%s-%d: no longer a replica here", p->topic, p->index);
			if ((t && t->deleting) || (!t && was_known) || moved) {
				keel_partition_drop(b, p, true);
				/* the chain may have changed under us: restart this bucket */
				nx = b->ptable[i];
			} else if (!t) {
				p->leader = false;
			}
		}
	}
}

/* Was partition index of t deleted here by the controller's StopReplica while the topic (the
 * same topic id) is still in the view? Then the view must not create it again. */
static bool stopped_here(const keel_broker_t *b, const keel_view_topic_t *t, int32_t index)
{
	for (int i = 0; i < b->nstopped; i++)
		if (b->stopped[i].partition == index && !strcmp(b->stopped[i].topic, t->name) &&
		    !strcmp(b->stopped[i].topic_id, t->topic_id))
			return true;
	return false;
}

/* Forget StopReplica deletions of topics the view no longer has (or has under another id). */
static void prune_stopped(keel_broker_t *b, const keel_view_t *v)
{
	for (int i = 0; i < b->nstopped;) {
		const keel_view_topic_t *t = keel_view_topic(v, b->stopped[i].topic);
		if (t && !strcmp(t->topic_id, b->stopped[i].topic_id)) {
			i++;
			continue;
		}
		free(b->stopped[i].topic);
		b->stopped[i] = b->stopped[--b->nstopped];
	}
}

void keel_broker_note_stopped(keel_broker_t *b, const char *topic, int32_t index)
{
	const keel_view_topic_t *t = b->view ? keel_view_topic(b->view, topic) : NULL;
	void *v;
	if (!t || stopped_here(b, t, index))
		return;
	v = realloc(b->stopped, (size_t)(b->nstopped + 1) * sizeof(*b->stopped));
	if (!v)
		return;
	b->stopped = v;
	if (!(b->stopped[b->nstopped].topic = strdup(topic)))
		return;
	b->stopped[b->nstopped].partition = index;
	memcpy(b->stopped[b->nstopped].topic_id, t->topic_id, sizeof(t->topic_id));
	b->nstopped++;
}

/* A partition state older than what this broker already follows (a view built before a
 * LeaderAndIsr it applied, or before its own ISR write) changes nothing. */
static bool stale(const keel_partition_t *p, const keel_view_partition_t *vp)
{
	return p && (vp->leader_epoch < p->leader_epoch ||
		     (vp->leader_epoch == p->leader_epoch && vp->zk_version < p->zk_version));
}

/* Follow the view's (or a LeaderAndIsr's) decision for one of our replicas: leader or
 * follower, and the ISR. */
void keel_broker_apply_partition(keel_broker_t *b, const keel_view_topic_t *t,
				 const keel_view_partition_t *vp)
{
	keel_partition_t *p = keel_partition_get(b, t->name, strlen(t->name), vp->partition);
	if (stale(p, vp) || (!p && stopped_here(b, t, vp->partition)))
		return;
	p = ensure_partition(b, t, vp->partition);
	if (!p)
		return;
	int64_t leo = keel_log_end_offset(p->log);
	bool lead = vp->leader == b->id;
	bool new_epoch = vp->leader_epoch != p->leader_epoch;
	bool became_leader = lead && (!p->leader || new_epoch);
	bool became_follower = !lead && (p->leader || new_epoch || p->leader_id != vp->leader);
	if (became_leader || became_follower)
		klog_info("broker", "%s-%d: %s, leader epoch %d, ISR of %d", t->name, vp->partition,
			  lead ? "leader" : vp->leader >= 0 ? "follower" : "offline", vp->leader_epoch, vp->nisr);
	keel_replica_sync(b, p, vp, became_leader);
	p->leader = lead;
	p->leader_epoch = vp->leader_epoch;
	if (p->high_watermark > leo)
		p->high_watermark = leo;
	if (became_leader) {
		p->epoch_start_offset = leo;
		p->truncate_pending = false;
		keel_log_epoch_assign(p->log, vp->leader_epoch, leo); /* Kafka's makeLeader */
	}
	if (became_follower) {
		p->truncate_pending = vp->leader >= 0;
		keel_partition_wake(b, p); /* parked produces and fetches answer NOT_LEADER */
		keel_coordinator_resigned(b, p->topic, p->index);
	}
	if (lead)
		keel_replica_update_hw(b, p);
	if (became_leader)
		keel_coordinator_elected(b, p); /* an offsets partition: load its groups */
}

void keel_broker_apply_view(keel_broker_t *b, keel_view_t *v)
{
	keel_view_t *old = b->view;
	b->view = v;
	if (v->cluster_id && !b->cluster_id[0])
		snprintf(b->cluster_id, sizeof(b->cluster_id), "%s", v->cluster_id);
	drop_deleted(b, old, v);
	prune_stopped(b, v);
	for (int32_t i = 0; i < v->ntopics; i++) {
		const keel_view_topic_t *t = &v->topics[i];
		if (t->deleting)
			continue;
		for (int32_t j = 0; j < t->npartitions; j++) {
			const keel_view_partition_t *vp = &t->partitions[j];
			if (!has_replica(vp, b->id))
				continue;
			keel_broker_apply_partition(b, t, vp);
		}
	}
	keel_fetcher_reconcile(b);
	keel_ctlchan_reconcile(b);
	keel_api_delete_waits_check(b);
	keel_view_free(old);
}

void keel_broker_autocreate(keel_broker_t *b, const char *topic, size_t len)
{
	keel_cmd_t *cmd;
	char **pend;
	for (int i = 0; i < b->nautocreate; i++)
		if (strlen(b->autocreate_pending[i]) == len && memcmp(b->autocreate_pending[i], topic, len) == 0)
			return;
	if (!b->coord)
		return;
	cmd = calloc(1, sizeof(*cmd));
	pend = realloc(b->autocreate_pending, (size_t)(b->nautocreate + 1) * sizeof(char *));
	if (!cmd || !pend) {
		free(cmd);
		return;
	}
	b->autocreate_pending = pend;
	cmd->type = KEEL_CMD_CREATE_TOPICS;
	cmd->auto_create = true;
	cmd->ntopics = 1;
	cmd->topics = calloc(1, sizeof(*cmd->topics));
	if (!cmd->topics || !(cmd->topics[0].name = strndup(topic, len)) ||
	    !(pend[b->nautocreate] = strndup(topic, len))) {
		keel_cmd_free(cmd);
		return;
	}
	b->nautocreate++;
	cmd->topics[0].num_partitions = -1;
	cmd->topics[0].replication_factor = -1;
	klog_info("broker", "auto-creating topic %s", cmd->topics[0].name);
	keel_coord_submit(b->coord, cmd);
}

/* Apply one message from the coordination thread. */
static void handle_msg(keel_broker_t *b, keel_msg_t m)
{
	switch (m.type) {
	case KEEL_MSG_VIEW:
		keel_broker_apply_view(b, m.payload);
		break;
	case KEEL_MSG_CMD_DONE:
		if (((keel_cmd_t *)m.payload)->type == KEEL_CMD_ALTER_ISR) {
			keel_replica_isr_done(b, m.payload);
			keel_cmd_free(m.payload);
		} else if (((keel_cmd_t *)m.payload)->type == KEEL_CMD_CONTROLLED_SHUTDOWN) {
			keel_api_controlled_shutdown_done(b, m.payload);
		} else if (((keel_cmd_t *)m.payload)->type == KEEL_CMD_ELECT_LEADERS) {
			keel_api_elect_leaders_done(b, m.payload);
		} else if (((keel_cmd_t *)m.payload)->type == KEEL_CMD_ALTER_REASSIGNMENTS ||
			   ((keel_cmd_t *)m.payload)->type == KEEL_CMD_LIST_REASSIGNMENTS) {
			keel_api_reassign_done(b, m.payload);
		} else {
			keel_api_topics_done(b, m.payload);
		}
		break;
	case KEEL_MSG_SHUTDOWN_RESULT:
		keel_shutdown_on_result(b, m.payload);
		break;
	case KEEL_MSG_CTL_SEND:
		keel_ctlchan_send(b, m.payload);
		break;
	case KEEL_MSG_CTL_RESET:
		keel_ctlchan_reset(b);
		break;
	case KEEL_MSG_REGISTERED:
		klog_info("broker", "broker %d registered in ZooKeeper", b->id);
		break;
	case KEEL_MSG_FATAL:
		klog_error("broker", "fatal: %s", (char *)m.payload);
		free(m.payload);
		b->exit_code = 1;
		keel_loop_stop(b->loop);
		break;
	default:
		break;
	}
}

void keel_broker_on_mq(keel_loop_t *loop, int fd, uint32_t events, void *arg)
{
	keel_broker_t *b = arg;
	keel_msg_t m;
	while (keel_mq_take(b->mq, &m) == 0)
		handle_msg(b, m);
}

int keel_broker_wait_view(keel_broker_t *b, int timeout_ms)
{
	int64_t deadline = keel_mono_ms() + timeout_ms;
	keel_msg_t m;
	while (!b->view && b->exit_code == 0) {
		int64_t left = deadline - keel_mono_ms();
		if (left <= 0 || keel_mq_wait(b->mq, &m, (int)left) < 0)
			return b->view ? 0 : -1;
		handle_msg(b, m);
	}
	return b->view && b->exit_code == 0 ? 0 : -1;
}
