/* zk/controller.c: what the elected controller does (partition states for new topics, leader
 * election when brokers die or return, topic deletion) and the loop's topic commands. Every
 * controller write is a multi opened by a check of /controller_epoch's zkVersion. Everything
 * here runs on the coordination thread. */
#include "coord_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "logger.h"

/* ================================================================ epoch-checked multis */

void ctl_multi_begin(keel_coord_t *c, zku_multi_t *m)
{
	zku_multi_init(m);
	zku_multi_check(m, "/controller_epoch", c->epoch_zkversion);
}

int ctl_multi_run(keel_coord_t *c, zku_multi_t *m, const char *what)
{
	int failed, rc = zku_multi_run(c->zh, m, &failed);
	if (rc == ZOK)
		return ZOK;
	if (failed == 0 && (rc == ZBADVERSION || rc == ZNONODE)) {
		coord_resign(c, "/controller_epoch moved: another broker is the controller");
		return rc;
	}
	klog_warn(COORD_LOG, "broker %d: controller write (%s) failed at op %d: %s", c->broker_id,
		  what, failed, zerror(rc));
	return rc;
}

/* ================================================================ leader election */

static bool has(int32_t n, const int32_t *v, int32_t x)
{
	for (int32_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* The state partition p should have given who is alive; 1 if it differs from the current one
 * (out filled, isr malloc'd), 0 if nothing to do. Offline/dead-leader election with unclean
 * election off: the first live replica, in assignment order, that is in the ISR. */
/* unclean.leader.election.enable: the topic's override, else the broker default. */
static bool unclean_allowed(const keel_coord_t *c, const coord_topic_t *t)
{
	for (int i = 0; i < t->nconfigs; i++)
		if (t->config_keys[i] && t->config_values[i] &&
		    strcmp(t->config_keys[i], "unclean.leader.election.enable") == 0)
			return strcasecmp(t->config_values[i], "true") == 0;
	return c->cfg.unclean_leader_election_enable;
}

static bool ctl_bounced(const keel_coord_t *c, int32_t id)
{
	for (int i = 0; i < c->nbounced; i++)
		if (c->bounced[i] == id)
			return true;
	return false;
}

/* A broker that died and registered again before this controller looked at /brokers/ids
 * (a new czxid, no gap seen) is handled as Kafka handles bounced brokers: as a failure first
 * (its leaderships move to other in-sync replicas with a new leader epoch, and it leaves the
 * ISRs), then as a start-up (it follows, catches up and rejoins). Otherwise a broker restarted
 * after a crash that cut its log's unflushed tail would stay leader at the same epoch, and
 * its followers would truncate to it. */
void ctl_note_broker_bounced(keel_coord_t *c, int32_t id)
{
	int32_t *nb;
	if (!c->is_controller || ctl_bounced(c, id) ||
	    !(nb = realloc(c->bounced, (size_t)(c->nbounced + 1) * sizeof(*nb))))
		return;
	c->bounced = nb;
	c->bounced[c->nbounced++] = id;
	klog_info(COORD_LOG, "controller %d: broker %d registered again (a new session): moving its "
		  "leaderships", c->broker_id, id);
}

static int ctl_elect(keel_coord_t *c, const coord_topic_t *t, int32_t p, zkj_state_t *out)
{
	const zkj_state_t *s = &t->states[p].st;
	int32_t nr = t->assign.nreplicas[p], *r = t->assign.replicas[p], n = 0;
	int32_t *isr = malloc(((size_t)s->nisr + 1) * sizeof(*isr)), leader = -1;
	if (!isr || s->controller_epoch > c->epoch || s->nisr == 0) {
		free(isr);
		return 0; /* a newer controller decided it, or nothing we can keep */
	}
	/* A broker in controlled shutdown leaves the ISR of replicated partitions and leads one
	 * only while no other in-sync replica can. */
	/* ISR and leader stay inside the replica set (a cancelled or manual reassignment may
	 * have shrunk it under them). */
	for (int32_t i = 0; i < s->nisr; i++)
		if (coord_broker_live(c, s->isr[i]) && !ctl_bounced(c, s->isr[i]) &&
		    (nr == 1 || !ctl_shutting(c, s->isr[i])) && has(nr, r, s->isr[i]))
			isr[n++] = s->isr[i];
	bool bounced_leader = s->leader >= 0 && ctl_bounced(c, s->leader);
	if (s->leader >= 0 && coord_broker_live(c, s->leader) && !ctl_shutting(c, s->leader) &&
	    !bounced_leader && has(nr, r, s->leader)) {
		leader = s->leader;
		if (!has(n, isr, leader))
			isr[n++] = leader;
	} else {
		for (int32_t i = 0; i < nr && leader < 0; i++)
			if (coord_broker_live(c, r[i]) && !ctl_shutting(c, r[i]) && has(n, isr, r[i]))
				leader = r[i];
		if (leader < 0 && s->leader >= 0 && coord_broker_live(c, s->leader) &&
		    has(nr, r, s->leader)) {
			leader = s->leader; /* shutting down or bounced, but nobody else can lead */
			if (!has(n, isr, leader))
				isr[n++] = leader;
		}
		for (int32_t i = 0; i < nr && leader < 0 && n == 0 && unclean_allowed(c, t); i++)
			if (coord_broker_live(c, r[i]) && !ctl_shutting(c, r[i])) {
				leader = r[i]; /* unclean: records only the old ISR had are lost */
				isr[n++] = leader;
				klog_warn(COORD_LOG, "controller %d: unclean leader election of %s-%d: broker %d "
					  "was not in the ISR", c->broker_id, t->name, p, leader);
			}
	}
	if (leader < 0 && n == 0) /* the ISR never empties: keep its last member */
		isr[n++] = s->isr[s->nisr - 1];
	/* (a bounced leader that leads again does so under a new epoch) */
	if (leader == s->leader && !bounced_leader && n == s->nisr &&
	    !memcmp(isr, s->isr, (size_t)n * sizeof(*isr))) {
		free(isr);
		return 0;
	}
	out->controller_epoch = c->epoch;
	out->leader = leader;
	out->leader_epoch = s->leader_epoch + 1;
	out->nisr = n;
	out->isr = isr;
	return 1;
}

/* The state of a new partition: leader = first live replica, ISR = live replicas. 0 if
 * none is alive (it stays without state until one is). */
static int ctl_new_state(keel_coord_t *c, const coord_topic_t *t, int32_t p, zkj_state_t *out)
{
	int32_t nr = t->assign.nreplicas[p], *r = t->assign.replicas[p], n = 0;
	int32_t *isr = malloc((size_t)(nr ? nr : 1) * sizeof(*isr));
	for (int32_t i = 0; isr && i < nr; i++)
		if (coord_broker_live(c, r[i]) && !has(n, isr, r[i]))
			isr[n++] = r[i];
	if (!isr || n == 0) {
		free(isr);
		return 0;
	}
	out->controller_epoch = c->epoch;
	out->leader = isr[0];
	out->leader_epoch = 0;
	out->nisr = n;
	out->isr = isr;
	return 1;
}

/* Pending state writes of one topic, applied to the cache once their multi succeeds. */
typedef struct {
	int n;
	int32_t *part;
	zkj_state_t *st;
	bool create;        /* creations (zkVersion 0) rather than updates */
} ctl_batch_t;

/* Run the batch's multi; on success store the new states in the cache. Returns the ZK code
 * (on failure the topic was re-read, and may be gone: t is then no longer valid). */
static int ctl_flush(keel_coord_t *c, coord_topic_t *t, zku_multi_t *m, ctl_batch_t *b)
{
	int rc = b->n ? ctl_multi_run(c, m, t->name) : ZOK;
	for (int i = 0; i < b->n; i++) {
		coord_pstate_t *ps = &t->states[b->part[i]];
		if (rc != ZOK) {
			zkj_state_free(&b->st[i]);
			continue;
		}
		klog_debug(COORD_LOG, "controller %d: %s-%d leader %d epoch %d isr size %d",
			  c->broker_id, t->name, b->part[i], b->st[i].leader, b->st[i].leader_epoch,
			  b->st[i].nisr);
		zkj_state_free(&ps->st);
		ps->st = b->st[i];
		ps->zk_version = b->create ? 0 : ps->zk_version + 1;
		ps->present = true;
		c->view_dirty = true;
		ctl_note_state(c, t, b->part[i]);
	}
	if (rc == ZOK && b->n)
		klog_info(COORD_LOG, "controller %d: %s %d partition state(s) of %s (epoch %d)",
			  c->broker_id, b->create ? "created" : "updated", b->n, t->name, c->epoch);
	if (rc != ZOK && rc != ZBADVERSION && rc != ZNONODE)
		coord_need_resync(c, "writing partition states of", t->name, rc);
	else if (rc != ZOK && c->is_controller)
		c->ctl_again = true; /* a state moved under us: re-read it and try again */
	if (rc != ZOK && c->is_controller)
		coord_reload_topic(c, t->name);
	zku_multi_free(m);
	b->n = 0;
	if (c->is_controller)
		ctl_multi_begin(c, m);
	return rc;
}

static int ctl_partition_dirs(keel_coord_t *c, const coord_topic_t *t, bool **exists)
{
	char path[512];
	struct String_vector kids;
	int rc;
	*exists = calloc((size_t)t->assign.npartitions + 1, sizeof(bool));
	if (!*exists)
		return ZSYSTEMERROR;
	snprintf(path, sizeof(path), "/brokers/topics/%s/partitions", t->name);
	rc = zku_children(c->zh, path, 0, &kids);
	if (rc == ZNONODE)
		return ZOK;
	if (rc != ZOK)
		return rc;
	(*exists)[t->assign.npartitions] = true; /* the partitions znode itself */
	for (int i = 0; i < kids.count; i++) {
		int32_t p = (int32_t)strtol(kids.data[i], NULL, 10);
		if (p >= 0 && p < t->assign.npartitions)
			(*exists)[p] = true;
	}
	deallocate_String_vector(&kids);
	return ZOK;
}

/* Create partitions[/<p>]/state for each partition of t without state. */
static void ctl_create_states(keel_coord_t *c, coord_topic_t *t)
{
	char path[512], *json;
	zku_multi_t m;
	ctl_batch_t b = { .create = true };
	bool *dirs;
	int32_t np = t->assign.npartitions;
	int rc = ctl_partition_dirs(c, t, &dirs);
	if (rc != ZOK) {
		free(dirs);
		coord_need_resync(c, "listing partitions of", t->name, rc);
		return;
	}
	b.part = calloc((size_t)np, sizeof(*b.part));
	b.st = calloc((size_t)np, sizeof(*b.st));
	ctl_multi_begin(c, &m);
	if (!dirs[np]) {
		snprintf(path, sizeof(path), "/brokers/topics/%s/partitions", t->name);
		zku_multi_create(&m, path, NULL, ZOO_PERSISTENT);
	}
	for (int32_t p = 0; b.part && b.st && p < np && c->is_controller; p++) {
		if (t->states[p].present || !ctl_new_state(c, t, p, &b.st[b.n]))
			continue;
		snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d", t->name, p);
		if (!dirs[p])
			zku_multi_create(&m, path, NULL, ZOO_PERSISTENT);
		strcat(path, "/state");
		json = zkj_state_encode(&b.st[b.n]);
		zku_multi_create(&m, path, json, ZOO_PERSISTENT);
		free(json);
		b.part[b.n++] = p;
		if (m.n >= COORD_MULTI_BATCH)
			ctl_flush(c, t, &m, &b);
	}
	if (c->is_controller)
		ctl_flush(c, t, &m, &b);
	zku_multi_free(&m);
	free(b.part);
	free(b.st);
	free(dirs);
}

/* Conditional state writes of the partitions `choose` picks: see coord_internal.h. */
int ctl_write_states(keel_coord_t *c, coord_topic_t *t, ctl_choose_fn choose, void *arg)
{
	char path[512], *json;
	zku_multi_t m;
	ctl_batch_t b = { .create = false };
	int32_t np = t->assign.npartitions;
	int rc = ZOK;
	b.part = calloc((size_t)np + 1, sizeof(*b.part));
	b.st = calloc((size_t)np + 1, sizeof(*b.st));
	if (!b.part || !b.st)
		rc = ZSYSTEMERROR;
	ctl_multi_begin(c, &m);
	for (int32_t p = 0; rc == ZOK && p < np && c->is_controller; p++) {
		if (!t->states[p].present || !choose(c, t, p, &b.st[b.n], arg))
			continue;
		snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%d/state", t->name, p);
		json = zkj_state_encode(&b.st[b.n]);
		zku_multi_set(&m, path, json, t->states[p].zk_version);
		free(json);
		b.part[b.n++] = p;
		if (m.n >= COORD_MULTI_BATCH)
			rc = ctl_flush(c, t, &m, &b); /* on failure t may be gone: stop */
	}
	if (rc == ZOK && c->is_controller && b.n)
		rc = ctl_flush(c, t, &m, &b);
	zku_multi_free(&m);
	free(b.part);
	free(b.st);
	return rc;
}

static int ctl_elect_choose(keel_coord_t *c, const coord_topic_t *t, int32_t p, zkj_state_t *out,
			    void *arg)
{
	return ctl_elect(c, t, p, out);
}

/* Elect leaders / shrink ISRs of t's partitions against the live brokers. */
static void ctl_update_states(keel_coord_t *c, coord_topic_t *t)
{
	ctl_write_states(c, t, ctl_elect_choose, NULL);
}

/* ================================================================ deletion */

/* One epoch-checked multi deleting `path` (ZNONODE counts as done). */
int ctl_delete_one(keel_coord_t *c, const char *path)
{
	zku_multi_t m;
	int failed, rc;
	ctl_multi_begin(c, &m);
	zku_multi_delete(&m, path, -1);
	rc = zku_multi_run(c->zh, &m, &failed);
	zku_multi_free(&m);
	if (rc == ZNONODE && failed == 1)
		return ZOK;
	if (rc != ZOK && failed == 0 && (rc == ZBADVERSION || rc == ZNONODE))
		coord_resign(c, "/controller_epoch moved: another broker is the controller");
	return rc;
}

/* Delete /brokers/topics/<t> recursively, /config/topics/<t>, then the admin znode. */
static int ctl_delete_topic_znodes(keel_coord_t *c, const char *name)
{
	char path[512], **paths;
	int n, rc;
	snprintf(path, sizeof(path), "/brokers/topics/%s", name);
	rc = zku_subtree(c->zh, path, &paths, &n);
	if (rc == ZNONODE) {
		n = 0;
		paths = NULL;
	} else if (rc != ZOK) {
		return rc;
	}
	for (int i = 0; i < n && rc == ZOK && c->is_controller;) {
		zku_multi_t m;
		ctl_multi_begin(c, &m);
		for (; i < n && m.n < COORD_MULTI_BATCH; i++)
			zku_multi_delete(&m, paths[i], -1);
		rc = ctl_multi_run(c, &m, path);
		zku_multi_free(&m);
	}
	zku_free_paths(paths, n);
	if (rc != ZOK || !c->is_controller)
		return rc;
	snprintf(path, sizeof(path), "/config/topics/%s", name);
	if ((rc = ctl_delete_one(c, path)) != ZOK)
		return rc;
	snprintf(path, sizeof(path), "/admin/delete_topics/%s", name);
	return ctl_delete_one(c, path);
}

/* Every replica of t, for StopReplica bookkeeping (its assignment's union per partition). */
static int del_init(coord_topic_t *t)
{
	int n = 0;
	for (int32_t p = 0; p < t->assign.npartitions; p++)
		n += t->assign.nreplicas[p];
	t->del = calloc((size_t)n + 1, sizeof(*t->del));
	if (!t->del)
		return -1;
	t->ndel = 0;
	for (int32_t p = 0; p < t->assign.npartitions; p++)
		for (int32_t i = 0; i < t->assign.nreplicas[p]; i++)
			t->del[t->ndel++] = (coord_del_replica_t){ p, t->assign.replicas[p][i], 0, false };
	return 0;
}

void ctl_delete_ack(keel_coord_t *c, int32_t broker, const char *topic, int32_t p, int16_t err)
{
	coord_topic_t *t = coord_topic_find(c, topic);
	for (int i = 0; t && i < t->ndel; i++) {
		coord_del_replica_t *d = &t->del[i];
		if (d->broker != broker || d->partition != p || d->done)
			continue;
		if (err == KERR_NONE)
			d->done = true;
		else /* Kafka marks it ineligible; it is retried when the broker comes back */
			klog_warn(COORD_LOG, "controller %d: broker %d could not delete %s-%d: error %d",
				  c->broker_id, broker, topic, p, err);
	}
}

/* Send StopReplica(delete) to the live brokers holding replicas of t that have not confirmed
 * under their current registration. Returns true once every replica is gone. */
static bool del_progress(keel_coord_t *c, coord_topic_t *t)
{
	int32_t *parts = calloc((size_t)t->ndel + 1, sizeof(*parts));
	bool all = true;
	for (int i = 0; parts && i < t->ndel; i++) {
		coord_del_replica_t *d = &t->del[i];
		int32_t b = d->broker;
		int64_t epoch = -1;
		int n = 0;
		if (d->done)
			continue;
		all = false;
		for (int k = 0; k < c->nbrokers; k++)
			if (c->brokers[k].id == b)
				epoch = c->brokers[k].czxid;
		if (epoch < 0 || d->sent_epoch == epoch)
			continue; /* down (deleted when it returns), or asked already */
		for (int k = i; k < t->ndel; k++) /* everything b still holds, in one request */
			if (t->del[k].broker == b && !t->del[k].done && t->del[k].sent_epoch != epoch) {
				parts[n++] = t->del[k].partition;
				t->del[k].sent_epoch = epoch;
			}
		if (!ctl_send_stop_replica(c, b, t->name, parts, n))
			for (int k = i; k < t->ndel; k++)
				if (t->del[k].broker == b && t->del[k].sent_epoch == epoch)
					t->del[k].sent_epoch = 0;
	}
	free(parts);
	return parts && all;
}

/* Act on /admin/delete_topics: see reference/zookeeper.md section 2, "Topic deletion". The
 * znodes go only when every replica has confirmed its StopReplica; replicas on brokers that
 * are down wait for them to come back. */
static void ctl_process_deletes(keel_coord_t *c)
{
	char path[512];
	int nd = c->ndeletes;
	bool changed = false;
	for (int i = 0; i < nd && c->is_controller; i++) {
		char *name = strdup(c->deletes[i]);
		coord_topic_t *t = name ? coord_topic_find(c, name) : NULL;
		int rc = ZOK;
		if (!name)
			break;
		snprintf(path, sizeof(path), "/admin/delete_topics/%s", name);
		if (!t || !c->cfg.delete_topic_enable) {
			klog_info(COORD_LOG, "controller %d: dropping %s (%s)", c->broker_id, path,
				  t ? "delete.topic.enable=false" : "unknown topic");
			rc = ctl_delete_one(c, path);
			changed = true;
		} else if (t->loaded) {
			if (!t->del) {
				coord_post_view_if_dirty(c); /* brokers see deleting=true first */
				klog_info(COORD_LOG, "controller %d: deleting topic %s", c->broker_id, name);
				if (del_init(t)) {
					free(name);
					break;
				}
			}
			if (del_progress(c, t)) {
				klog_info(COORD_LOG, "controller %d: every replica of %s is deleted",
					  c->broker_id, name);
				rc = ctl_delete_topic_znodes(c, name);
				changed = true;
			}
		}
		if (rc != ZOK && c->is_controller)
			coord_need_resync(c, "deleting", path, rc);
		free(name);
	}
	if (changed && c->is_controller) {
		coord_reload_deletes(c);
		coord_reload_topic_list(c);
	}
}

void ctl_reconcile(keel_coord_t *c)
{
	if (!c->is_controller || !c->zh || c->resync)
		return;
	isr_ctl_notifications(c); /* fresh leader-written states before deciding anything */
	ctl_process_deletes(c);
	for (int i = 0; i < c->ntopics && c->is_controller; i++) {
		coord_topic_t *t = &c->topics[i];
		bool missing = false;
		if (!t->loaded || t->deleting)
			continue;
		for (int32_t p = 0; p < t->assign.npartitions && !missing; p++)
			missing = !t->states[p].present;
		if (missing)
			ctl_create_states(c, t);
		ctl_update_states(c, t);
	}
	if (c->is_controller && !c->resync) /* every state saw the bounced brokers' failure */
		c->nbounced = 0;
	ctl_reassign_reconcile(c); /* /admin/reassign_partitions, finishing reassignments */
	ctl_elect_reconcile(c); /* /admin/preferred_replica_election, auto leader rebalance */
	ctl_send_flush(c);      /* LeaderAndIsr / UpdateMetadata for what changed */
}


/* ================================================================ topic commands */

static void cmd_fail(keel_cmd_topic_t *t, int16_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cmd_fail(keel_cmd_topic_t *t, int16_t code, const char *fmt, ...)
{
	va_list ap;
	t->error = code;
	free(t->error_message);
	t->error_message = NULL;
	va_start(ap, fmt);
	if (vasprintf(&t->error_message, fmt, ap) < 0)
		t->error_message = NULL;
	va_end(ap);
}

/* Kafka's AdminUtils.assignReplicasToBrokersRackUnaware over the sorted live broker ids. */
static void ctl_assign(keel_coord_t *c, int32_t np, int32_t rf, int32_t **out)
{
	int32_t n = c->nbrokers, start = (int32_t)(rand_r(&c->rand_state) % (unsigned)n);
	int32_t shift = (int32_t)(rand_r(&c->rand_state) % (unsigned)n);
	for (int32_t p = 0; p < np; p++) {
		int32_t first = (p + start) % n;
		if (p > 0 && p % n == 0)
			shift++;
		out[p][0] = c->brokers[first].id;
		for (int32_t j = 0; j < rf - 1; j++)
			out[p][j + 1] = c->brokers[(first + 1 + (shift + j) % (n - 1)) % n].id;
	}
}

/* Checks of a manual assignment (error 39). 0 if fine. */
static int ctl_check_manual(keel_coord_t *c, keel_cmd_topic_t *t)
{
	for (int32_t p = 0; p < t->nassign; p++) {
		int32_t n = t->assign_counts[p], *r = t->assignments[p];
		if (n <= 0) {
			cmd_fail(t, KERR_INVALID_REPLICA_ASSIGNMENT,
				 "Replica assignment for partition %d is empty.", p);
			return -1;
		}
		if (n != t->assign_counts[0]) {
			cmd_fail(t, KERR_INVALID_REPLICA_ASSIGNMENT,
				 "All partitions should have the same number of replicas");
			return -1;
		}
		for (int32_t i = 0; i < n; i++) {
			if (has(i, r, r[i])) {
				cmd_fail(t, KERR_INVALID_REPLICA_ASSIGNMENT,
					 "Duplicate replica assignment found: partition %d, broker %d",
					 p, r[i]);
				return -1;
			}
			if (!coord_broker_live(c, r[i])) {
				cmd_fail(t, KERR_INVALID_REPLICA_ASSIGNMENT,
					 "Unknown broker(s) in replica assignment: %d.", r[i]);
				return -1;
			}
		}
	}
	return 0;
}

/* The Kafka error for an admin request that ZooKeeper failed. A lost session means this broker
 * is no longer the controller (NOT_CONTROLLER: a client asks the new one); a lost connection
 * is REQUEST_TIMED_OUT (a client tries again). Both are retriable, where
 * UNKNOWN_SERVER_ERROR is not. */
static int16_t ctl_zk_error(int rc)
{
	if (rc == ZINVALIDSTATE || rc == ZSESSIONEXPIRED || rc == ZSESSIONMOVED)
		return KERR_NOT_CONTROLLER;
	if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT)
		return KERR_REQUEST_TIMED_OUT;
	return KERR_UNKNOWN_SERVER_ERROR;
}

/* Name, existence and collision checks. 0 if the topic may be created. */
static int ctl_check_name(keel_coord_t *c, keel_cmd_topic_t *t)
{
	char path[512];
	int rc;
	if (!keel_topic_name_valid(t->name)) {
		cmd_fail(t, KERR_INVALID_TOPIC_EXCEPTION, "Topic name \"%s\" is illegal, it contains "
			 "a character other than ASCII alphanumerics, '.', '_' and '-'",
			 t->name ? t->name : "");
		return -1;
	}
	snprintf(path, sizeof(path), "/brokers/topics/%s", t->name);
	rc = zku_exists(c->zh, path, 0, NULL);
	if (rc == ZOK || coord_topic_find(c, t->name)) {
		cmd_fail(t, KERR_TOPIC_ALREADY_EXISTS, "Topic '%s' already exists.", t->name);
		return -1;
	}
	if (rc != ZNONODE) {
		cmd_fail(t, ctl_zk_error(rc), "ZooKeeper: %s: %s", path, zerror(rc));
		return -1;
	}
	for (int i = 0; i < c->ntopics; i++) {
		const char *a = c->topics[i].name, *b = t->name;
		while (*a && *b && (*a == *b || ((*a == '.' || *a == '_') && (*b == '.' || *b == '_'))))
			a++, b++;
		if (!*a && !*b) {
			cmd_fail(t, KERR_INVALID_TOPIC_EXCEPTION,
				 "Topic '%s' collides with existing topics: %s", t->name,
				 c->topics[i].name);
			return -1;
		}
	}
	return 0;
}

/* Validate one topic and fill its assignment (malloc'd, *np partitions). 0 if valid. */
static int ctl_plan_topic(keel_coord_t *c, keel_cmd_topic_t *t, int32_t *np, int32_t **counts,
			  int32_t ***assign)
{
	int32_t rf;
	if (ctl_check_name(c, t))
		return -1;
	if (t->nassign > 0) {
		if (t->num_partitions != -1 || t->replication_factor != -1) {
			cmd_fail(t, KERR_INVALID_REQUEST, "Both numPartitions or replicationFactor "
				 "and replicasAssignments were set. Both cannot be used at the same time.");
			return -1;
		}
		if (ctl_check_manual(c, t))
			return -1;
		*np = t->nassign;
		rf = t->assign_counts[0];
	} else {
		*np = t->num_partitions == -1 ? c->cfg.num_partitions : t->num_partitions;
		rf = t->replication_factor == -1 ? c->cfg.default_replication_factor
						 : t->replication_factor;
		if (*np <= 0) {
			cmd_fail(t, KERR_INVALID_PARTITIONS, "Number of partitions must be larger than 0.");
			return -1;
		}
		if (rf <= 0) {
			cmd_fail(t, KERR_INVALID_REPLICATION_FACTOR,
				 "Replication factor must be larger than 0.");
			return -1;
		}
		if (rf > c->nbrokers) {
			cmd_fail(t, KERR_INVALID_REPLICATION_FACTOR,
				 "Replication factor: %d larger than available brokers: %d.", rf,
				 c->nbrokers);
			return -1;
		}
	}
	char err[256];
	if (keel_topic_configs_check(t->nconfigs, (const char *const *)t->config_keys,
				     (const char *const *)t->config_values, err, sizeof(err))) {
		cmd_fail(t, KERR_INVALID_CONFIG, "%s", err); /* Kafka's LogConfig.validate */
		return -1;
	}
	*counts = calloc((size_t)*np, sizeof(int32_t));
	*assign = calloc((size_t)*np, sizeof(int32_t *));
	for (int32_t p = 0; *counts && *assign && p < *np; p++) {
		(*counts)[p] = t->nassign > 0 ? t->assign_counts[p] : rf;
		(*assign)[p] = calloc((size_t)(*counts)[p], sizeof(int32_t));
		if (!(*assign)[p])
			break;
		if (t->nassign > 0)
			memcpy((*assign)[p], t->assignments[p], (size_t)rf * sizeof(int32_t));
	}
	if (t->nassign == 0 && *counts && *assign && (*assign)[*np - 1])
		ctl_assign(c, *np, rf, *assign);
	return 0;
}

/* Write /config/topics/<t> then /brokers/topics/<t> (Kafka's AdminZkClient order). */
static void ctl_write_topic(keel_coord_t *c, keel_cmd_topic_t *t, zkj_topic_t *zt)
{
	char path[512], *json = zkj_config_encode(t->nconfigs, t->config_keys, t->config_values);
	int rc;
	snprintf(path, sizeof(path), "/config/topics/%s", t->name);
	rc = json ? zku_create(c->zh, path, json, ZOO_PERSISTENT) : ZSYSTEMERROR;
	if (rc == ZNODEEXISTS)
		rc = zku_set(c->zh, path, json, -1, NULL);
	free(json);
	if (rc == ZOK) {
		zkj_random_uuid(zt->topic_id);
		json = zkj_topic_encode(zt);
		snprintf(path, sizeof(path), "/brokers/topics/%s", t->name);
		rc = json ? zku_create(c->zh, path, json, ZOO_PERSISTENT) : ZSYSTEMERROR;
		free(json);
	}
	if (rc == ZNODEEXISTS)
		cmd_fail(t, KERR_TOPIC_ALREADY_EXISTS, "Topic '%s' already exists.", t->name);
	else if (rc != ZOK)
		cmd_fail(t, ctl_zk_error(rc), "ZooKeeper: %s: %s", path, zerror(rc));
	else
		klog_info(COORD_LOG, "broker %d: created topic %s (%d partitions, id %s)",
			  c->broker_id, t->name, zt->npartitions, zt->topic_id);
}

static void ctl_create_topics(keel_coord_t *c, keel_cmd_t *cmd)
{
	for (int i = 0; i < cmd->ntopics; i++) {
		keel_cmd_topic_t *t = &cmd->topics[i];
		zkj_topic_t zt;
		memset(&zt, 0, sizeof(zt));
		if (t->error != KERR_NONE)
			continue; /* already refused by the request handler (e.g. -1 defaults before v4) */
		if (ctl_plan_topic(c, t, &zt.npartitions, &zt.nreplicas, &zt.replicas) == 0) {
			if (!zt.nreplicas || !zt.replicas || !zt.replicas[zt.npartitions - 1])
				cmd_fail(t, KERR_UNKNOWN_SERVER_ERROR, "out of memory");
			else if (!cmd->validate_only)
				ctl_write_topic(c, t, &zt);
		}
		zkj_topic_free(&zt);
		if (t->error == KERR_NONE && !cmd->validate_only)
			coord_reload_topic(c, t->name); /* cache it now (and watch it) */
	}
}

/* DeleteTopics on the controller: write /admin/delete_topics/<t>; the deletion itself runs in
 * ctl_reconcile right after, so the answer goes out once the topic is gone. */
static void ctl_delete_topics(keel_coord_t *c, keel_cmd_t *cmd)
{
	char path[512];
	for (int i = 0; i < cmd->ntopics; i++) {
		keel_cmd_topic_t *t = &cmd->topics[i];
		int rc;
		t->error = KERR_NONE;
		snprintf(path, sizeof(path), "/brokers/topics/%s", t->name ? t->name : "");
		rc = t->name && keel_topic_name_valid(t->name) ? zku_exists(c->zh, path, 0, NULL)
							       : ZNONODE;
		if (rc == ZNONODE) {
			cmd_fail(t, KERR_UNKNOWN_TOPIC_OR_PARTITION,
				 "This server does not host this topic-partition.");
		} else if (rc != ZOK) {
			cmd_fail(t, ctl_zk_error(rc), "ZooKeeper: %s: %s", path, zerror(rc));
		} else if (!c->cfg.delete_topic_enable) {
			cmd_fail(t, KERR_TOPIC_DELETION_DISABLED, "Topic deletion is disabled.");
		} else if (!cmd->validate_only) {
			snprintf(path, sizeof(path), "/admin/delete_topics/%s", t->name);
			rc = zku_create(c->zh, path, NULL, ZOO_PERSISTENT);
			if (rc != ZOK && rc != ZNODEEXISTS)
				cmd_fail(t, ctl_zk_error(rc), "ZooKeeper: %s: %s", path,
					 zerror(rc));
		}
	}
	coord_reload_deletes(c);
}

void ctl_handle_cmd(keel_coord_t *c, keel_cmd_t *cmd)
{
	bool need_ctl;
	if (cmd->type == KEEL_CMD_CTL_RESPONSE) { /* a broker answered: controller_send.c */
		ctl_on_response(c, cmd);
		return;
	}
	if (cmd->type == KEEL_CMD_ALTER_ISR) { /* any broker, as leader: coord_isr.c */
		isr_handle_cmd(c, cmd);
		return;
	}
	if (cmd->type == KEEL_CMD_CONTROLLED_SHUTDOWN) { /* controller_shutdown.c */
		ctl_controlled_shutdown(c, cmd);
		return;
	}
	if (cmd->type == KEEL_CMD_ELECT_LEADERS) { /* controller_elect.c */
		ctl_elect_leaders(c, cmd);
		return;
	}
	if (cmd->type == KEEL_CMD_ALTER_REASSIGNMENTS || cmd->type == KEEL_CMD_LIST_REASSIGNMENTS) {
		ctl_reassign_cmd(c, cmd); /* controller_reassign.c */
		return;
	}
	need_ctl = !(cmd->type == KEEL_CMD_CREATE_TOPICS && cmd->auto_create);
	for (int i = 0; i < cmd->ntopics; i++) {
		keel_cmd_topic_t *t = &cmd->topics[i];
		if (!c->zh || c->expired)
			cmd_fail(t, KERR_REQUEST_TIMED_OUT, "No ZooKeeper session.");
		else if (need_ctl && !c->is_controller)
			cmd_fail(t, KERR_NOT_CONTROLLER,
				 "This is not the correct controller for this cluster.");
	}
	if (c->zh && !c->expired && (!need_ctl || c->is_controller)) {
		if (cmd->type == KEEL_CMD_CREATE_TOPICS)
			ctl_create_topics(c, cmd);
		else if (cmd->type == KEEL_CMD_DELETE_TOPICS)
			ctl_delete_topics(c, cmd);
		ctl_reconcile(c); /* states of new topics / the deletion, before the answer */
	}
	coord_post_view_if_dirty(c);
	keel_mq_post(c->to_loop, KEEL_MSG_CMD_DONE, cmd);
}
