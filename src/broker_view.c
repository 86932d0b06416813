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

#include <stdatomic.h>
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

/* A partition's log being created on the disk worker: creating the directory, the segment and
 * its index files takes milliseconds per log, which the loop must not spend (a 50-partition topic
 * would stall every client of the broker). The partition goes live when the log arrives. */
struct keel_new_log {
	struct keel_new_log *next;   /* b->new_logs (loop) */
	char *topic;
	char topic_id[24];
	int32_t index;
	int dir;
	char *path;
	keel_log_config_t cfg;
	keel_mq_t *mq;
	atomic_bool cancelled;       /* the broker is stopping: skip it (set on the loop) */
	keel_log_t *log;             /* set on the worker; NULL if not made */
};

static void new_log_free(struct keel_new_log *nl)
{
	free(nl->topic);
	free(nl->path);
	free(nl);
}

void keel_new_log_discard(void *payload)
{
	struct keel_new_log *nl = payload;
	keel_log_close(nl->log);
	new_log_free(nl);
}

/* On the worker: open (create) the log, post it back to the loop. */
static void new_log_job(void *arg)
{
	struct keel_new_log *nl = arg;
	/* no worker: the log's first epoch checkpoint is written here, on the worker already */
	if (atomic_load(&nl->cancelled) ||
	    keel_log_open(nl->path, &nl->cfg, NULL, 0, true, -1, &nl->log) != KEEL_OK)
		nl->log = NULL;
	keel_mq_post(nl->mq, KEEL_MSG_LOG_CREATED, nl);
}

void keel_new_logs_cancel(keel_broker_t *b)
{
	int n = 0;
	for (struct keel_new_log *nl = b->new_logs; nl; nl = nl->next, n++)
		atomic_store(&nl->cancelled, true);
	if (n)
		klog_info("broker", "shutting down: %d log(s) not created yet are left for the next start", n);
}

/* The log dir holding the fewest partitions (those being created included), for a new one. */
static int pick_log_dir(keel_broker_t *b)
{
	size_t counts[KEEL_MAX_LOG_DIRS] = {0};
	int best = 0;
	for (size_t i = 0; i < b->ptable_size; i++)
		for (keel_partition_t *p = b->ptable[i]; p; p = p->hnext)
			counts[p->log_dir]++;
	for (struct keel_new_log *nl = b->new_logs; nl; nl = nl->next)
		counts[nl->dir]++;
	for (int d = 1; d < b->cfg->nlog_dirs; d++)
		if (counts[d] < counts[best])
			best = d;
	return best;
}

static bool creating(const keel_broker_t *b, const char *topic, int32_t index)
{
	for (const struct keel_new_log *nl = b->new_logs; nl; nl = nl->next)
		if (nl->index == index && !strcmp(nl->topic, topic))
			return true;
	return false;
}

/* Start creating the log of partition index of t on the worker. */
static void create_log(keel_broker_t *b, const keel_view_topic_t *t, int32_t index, const keel_topic_config_t *tc)
{
	struct keel_new_log *nl = calloc(1, sizeof(*nl));
	int d = pick_log_dir(b);
	if (nl && (!(nl->topic = strdup(t->name)) ||
		   asprintf(&nl->path, "%s/%s-%d", b->cfg->log_dirs[d], t->name, index) < 0)) {
		nl->path = NULL; /* (undefined after a failed asprintf) */
		new_log_free(nl);
		nl = NULL;
	}
	if (!nl) {
		klog_error("broker", "out of memory creating the log of %s-%d", t->name, index);
		return;
	}
	memcpy(nl->topic_id, t->topic_id, sizeof(nl->topic_id));
	nl->index = index;
	nl->dir = d;
	nl->cfg = tc->log;
	nl->mq = b->mq;
	nl->next = b->new_logs;
	b->new_logs = nl;
	if (b->worker)
		keel_worker_submit(b->worker, new_log_job, nl);
	else
		new_log_job(nl); /* (no worker: shutting down) */
}

/* The local partition index of t, with its config brought up to date; NULL while its log is
 * being created (then it is applied again when the log arrives). */
static keel_partition_t *ensure_partition(keel_broker_t *b, const keel_view_topic_t *t, int32_t index)
{
	keel_partition_t *p = keel_partition_get(b, t->name, strlen(t->name), index);
	keel_topic_config_t tc;
	keel_topic_config_resolve(b, t, &tc);
	if (!p) {
		if (!creating(b, t->name, index))
			create_log(b, t, index, &tc);
		return NULL;
	}
	p->cfg = tc;
	keel_log_set_config(p->log, &tc.log);
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

/* LeaderAndIsr leaderships for partitions whose log does not exist here yet. */
struct keel_lead_word {
	struct keel_lead_word *next;
	char *topic;
	int32_t index, epoch;
	int64_t reg;
};

void keel_broker_note_lead(keel_broker_t *b, const char *topic, int32_t index, int32_t epoch, int64_t reg)
{
	keel_partition_t *p = keel_partition_get(b, topic, strlen(topic), index);
	struct keel_lead_word *w;
	if (p) {
		if (p->confirmed_reg != reg || p->confirmed_epoch < epoch) {
			p->confirmed_reg = reg;
			p->confirmed_epoch = epoch;
		}
		return;
	}
	for (w = b->lead_words; w; w = w->next)
		if (w->index == index && !strcmp(w->topic, topic))
			break;
	if (!w) {
		if (!(w = calloc(1, sizeof(*w))) || !(w->topic = strdup(topic))) {
			free(w);
			return;
		}
		w->index = index;
		w->next = b->lead_words;
		b->lead_words = w;
	} else if (w->reg == reg && w->epoch >= epoch) {
		return;
	}
	w->epoch = epoch;
	w->reg = reg;
}

/* A new local partition takes the controller's word noted before it existed. */
static void take_lead_word(keel_broker_t *b, keel_partition_t *p)
{
	for (struct keel_lead_word **pp = &b->lead_words; *pp; pp = &(*pp)->next)
		if ((*pp)->index == p->index && !strcmp((*pp)->topic, p->topic)) {
			struct keel_lead_word *w = *pp;
			p->confirmed_epoch = w->epoch;
			p->confirmed_reg = w->reg;
			*pp = w->next;
			free(w->topic);
			free(w);
			return;
		}
}

void keel_lead_words_free(keel_broker_t *b)
{
	while (b->lead_words) {
		struct keel_lead_word *w = b->lead_words;
		b->lead_words = w->next;
		free(w->topic);
		free(w);
	}
}

/* May this broker lead p at leader epoch `epoch` now? Only with a LeaderAndIsr for its current
 * registration at that epoch or a later one. */
static bool lead_confirmed(const keel_broker_t *b, const keel_partition_t *p, int32_t epoch)
{
	const keel_view_broker_t *me = b->view ? keel_view_broker(b->view, b->id) : NULL;
	return me && p->confirmed_reg == me->epoch && p->confirmed_epoch >= epoch;
}

/* Follow the view's (or a LeaderAndIsr's) decision for one of our replicas: leader or
 * follower, and the ISR. A leadership the controller has not confirmed to this registration
 * (a state written before this broker restarted, say) leaves the partition without a leader
 * here until the controller's LeaderAndIsr comes. */
void keel_broker_apply_partition(keel_broker_t *b, const keel_view_topic_t *t,
				 const keel_view_partition_t *vpin)
{
	keel_partition_t *p = keel_partition_get(b, t->name, strlen(t->name), vpin->partition);
	keel_view_partition_t held;
	const keel_view_partition_t *vp = vpin;
	if (stale(p, vp) || (!p && stopped_here(b, t, vp->partition)))
		return;
	p = ensure_partition(b, t, vp->partition);
	if (!p)
		return;
	if (vp->leader == b->id && !lead_confirmed(b, p, vp->leader_epoch)) {
		held = *vp;
		held.leader = -1; /* (no fetching from ourselves meanwhile) */
		vp = &held;
	}
	int64_t leo = keel_log_end_offset(p->log);
	bool lead = vp->leader == b->id;
	bool new_epoch = vp->leader_epoch != p->leader_epoch;
	bool became_leader = lead && (!p->leader || new_epoch);
	bool became_follower = !lead && (p->leader || new_epoch || p->leader_id != vp->leader);
	if (became_leader || became_follower)
		klog_info("broker", "%s-%d: %s, leader epoch %d, ISR of %d", t->name, vp->partition,
			  lead ? "leader" : vp->leader >= 0 ? "follower"
			  : vpin->leader == b->id ? "to lead once the controller confirms" : "offline",
			  vp->leader_epoch, vp->nisr);
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
		p->fetch_retry_ms = 0; /* a new leader or epoch: no error to sit out yet */
		p->fetch_backoff_ms = 0;
		keel_partition_wake(b, p); /* parked produces and fetches answer NOT_LEADER */
		keel_coordinator_resigned(b, p->topic, p->index);
	}
	if (lead)
		keel_replica_update_hw(b, p);
	if (became_leader)
		keel_coordinator_elected(b, p); /* an offsets partition: load its groups */
}

/* A log the worker created: the partition goes live with the current view's state, unless the
 * view no longer places it here (its topic deleted, or deleted and created again, or the replica
 * moved away meanwhile); then the log is deleted (and created again for the new topic). */
static void log_created(keel_broker_t *b, struct keel_new_log *nl)
{
	const keel_view_topic_t *t = b->view ? keel_view_topic(b->view, nl->topic) : NULL;
	const keel_view_partition_t *vp = NULL;
	for (struct keel_new_log **pp = &b->new_logs; *pp; pp = &(*pp)->next)
		if (*pp == nl) {
			*pp = nl->next;
			break;
		}
	if (!nl->log) {
		klog_error("broker", "cannot create log %s", nl->path);
		new_log_free(nl);
		return;
	}
	if (t && !t->deleting && nl->index < t->npartitions && has_replica(&t->partitions[nl->index], b->id) &&
	    !stopped_here(b, t, nl->index))
		vp = &t->partitions[nl->index];
	if (keel_partition_get(b, nl->topic, strlen(nl->topic), nl->index)) {
		klog_error("broker", "%s-%d: a second log for the partition; closing it", nl->topic, nl->index);
		keel_log_close(nl->log); /* (the same directory: never delete) */
	} else if (!vp || strcmp(t->topic_id, nl->topic_id) != 0) {
		klog_info("broker", "%s-%d: created a log no longer wanted here; deleting it", nl->topic, nl->index);
		keel_log_delete(nl->log);
	} else {
		klog_info("broker", "created log for %s-%d in %s", nl->topic, nl->index, b->cfg->log_dirs[nl->dir]);
		keel_log_set_worker(nl->log, b->worker);
		take_lead_word(b, keel_partition_new(b, nl->topic, nl->index, nl->log, nl->dir));
	}
	if (vp)
		keel_broker_apply_partition(b, t, vp);
	new_log_free(nl);
	keel_fetcher_reconcile(b);
	keel_api_topic_waits_check(b);
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
	keel_api_topic_waits_check(b);
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
	case KEEL_MSG_LOG_CREATED:
		log_created(b, m.payload);
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

/* A bounded batch per wake-up: the queue's eventfd stays readable while messages remain, so
 * a long stream (a big topic's logs arriving from the disk thread one by one) takes turns
 * with clients and signals instead of holding them off until it ends. */
#define MQ_BATCH 64

void keel_broker_on_mq(keel_loop_t *loop, int fd, uint32_t events, void *arg)
{
	keel_broker_t *b = arg;
	keel_msg_t m;
	for (int i = 0; i < MQ_BATCH && keel_mq_take(b->mq, &m) == 0; i++)
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
