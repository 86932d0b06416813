/* zk/coord_isr.c: ISR changes written by partition leaders themselves (Kafka's path for
 * IBP < 2.7-IV2): KEEL_CMD_ALTER_ISR, the batched isr_change_<seq> notifications, and the
 * controller's processing of them. Everything here runs on the coordination thread. */
#include "coord_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logger.h"

/* ================================================================ the pending set */

/* Add topic-partition to the set of changes to announce and note the time. */
static void isr_record_change(keel_coord_t *c, const char *topic, int32_t p)
{
	int64_t now = keel_mono_ms();
	zkj_tp_t *set;
	char *name;
	c->isr_last_change_ms = now;
	for (int i = 0; i < c->nisr_changed; i++)
		if (c->isr_changed[i].partition == p && !strcmp(c->isr_changed[i].topic, topic))
			return;
	set = realloc(c->isr_changed, (size_t)(c->nisr_changed + 1) * sizeof(*set));
	name = strdup(topic);
	if (set)
		c->isr_changed = set;
	if (!set || !name) {
		free(name);
		klog_warn(COORD_LOG, "broker %d: out of memory: %s-%d's ISR change goes unannounced",
			  c->broker_id, topic, p);
		return;
	}
	set[c->nisr_changed].topic = name;
	set[c->nisr_changed].partition = p;
	if (c->nisr_changed++ == 0)
		c->isr_check_at = now + COORD_ISR_CHECK_MS;
}

/* Drop the first n entries of the set. */
static void isr_drop_first(keel_coord_t *c, int n)
{
	for (int i = 0; i < n; i++)
		free(c->isr_changed[i].topic);
	memmove(c->isr_changed, c->isr_changed + n,
		(size_t)(c->nisr_changed - n) * sizeof(*c->isr_changed));
	c->nisr_changed -= n;
}

void isr_clear(keel_coord_t *c)
{
	zkj_tps_free(c->nisr_changed, c->isr_changed);
	c->isr_changed = NULL;
	c->nisr_changed = 0;
}

int64_t isr_next_due(const keel_coord_t *c)
{
	return c->nisr_changed ? c->isr_check_at : INT64_MAX;
}

/* Write the set as isr_change_<seq> znodes (COORD_ISR_PER_NOTIFICATION entries each). Kafka's
 * ReplicaManager.maybePropagateIsrChanges; a failed write is retried at the next check. */
void isr_propagate(keel_coord_t *c)
{
	int64_t now = keel_mono_ms();
	int done = 0;
	if (!c->nisr_changed || now < c->isr_check_at)
		return;
	c->isr_check_at = now + COORD_ISR_CHECK_MS;
	if (now - c->isr_last_change_ms <= COORD_ISR_LINGER_MS &&
	    now - c->isr_last_write_ms <= COORD_ISR_MAX_DELAY_MS)
		return;
	if (!c->zh || c->expired || zoo_state(c->zh) != ZOO_CONNECTED_STATE)
		return;
	while (done < c->nisr_changed) {
		int n = c->nisr_changed - done, rc;
		char created[128] = "", *json;
		if (n > COORD_ISR_PER_NOTIFICATION)
			n = COORD_ISR_PER_NOTIFICATION;
		json = zkj_isr_change_encode(n, c->isr_changed + done);
		rc = json ? zoo_create(c->zh, COORD_ISR_PREFIX, json, (int)strlen(json),
				       &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, created,
				       (int)sizeof(created)) : ZSYSTEMERROR;
		free(json);
		if (rc != ZOK) {
			klog_warn(COORD_LOG, "broker %d: writing an ISR change notification failed: "
				  "%s; retrying in %d ms", c->broker_id, zerror(rc),
				  COORD_ISR_CHECK_MS);
			break;
		}
		klog_info(COORD_LOG, "broker %d: wrote %s (%d partition(s))", c->broker_id, created,
			  n);
		done += n;
	}
	isr_drop_first(c, done);
	if (!c->nisr_changed)
		c->isr_last_write_ms = now;
}

/* ================================================================ KEEL_CMD_ALTER_ISR */

static int16_t isr_zk_error(int rc)
{
	if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONEXPIRED ||
	    rc == ZINVALIDSTATE || rc == ZCLOSING)
		return KERR_REQUEST_TIMED_OUT;
	return KERR_UNKNOWN_SERVER_ERROR;
}

static bool isr_same(const zkj_state_t *s, int32_t leader, const keel_cmd_isr_t *e)
{
	return s->leader == leader && s->leader_epoch == e->leader_epoch && s->nisr == e->nisr &&
	       (e->nisr == 0 || !memcmp(s->isr, e->isr, (size_t)e->nisr * sizeof(*e->isr)));
}

/* The write succeeded: cache the new state (so the next view carries it) and record it. */
static void isr_apply(keel_coord_t *c, coord_topic_t *t, keel_cmd_isr_t *e,
		      const zkj_state_t *want, int32_t version)
{
	coord_pstate_t *ps = &t->states[e->partition];
	int32_t *isr = malloc((size_t)e->nisr * sizeof(*isr));
	if (isr) {
		memcpy(isr, e->isr, (size_t)e->nisr * sizeof(*isr));
		zkj_state_free(&ps->st);
		ps->st = *want;
		ps->st.isr = isr;
		ps->zk_version = version;
		c->view_dirty = true;
	} else {
		coord_reload_state(c, t, e->partition);
	}
	e->error = KERR_NONE;
	e->new_zk_version = version;
	klog_info(COORD_LOG, "broker %d: %s-%d ISR now has %d replica(s) (leader epoch %d, "
		  "zkVersion %d)", c->broker_id, t->name, e->partition, e->nisr, e->leader_epoch,
		  version);
	isr_record_change(c, t->name, e->partition);
}

/* The znode is not at the version the leader saw: re-read it (refreshing the cache). Our data
 * already there (an earlier attempt whose answer was lost) counts as success; a different
 * leader or leader epoch means we were deposed (6); otherwise the ISR moved (95). */
static void isr_check_written(keel_coord_t *c, coord_topic_t *t, keel_cmd_isr_t *e)
{
	coord_pstate_t *ps = &t->states[e->partition];
	int rc = coord_reload_state(c, t, e->partition);
	if (rc == ZNONODE || (rc == ZOK && !ps->present)) {
		e->error = KERR_UNKNOWN_TOPIC_OR_PARTITION;
	} else if (rc != ZOK) {
		e->error = isr_zk_error(rc);
	} else if (isr_same(&ps->st, c->broker_id, e)) {
		e->error = KERR_NONE;
		e->new_zk_version = ps->zk_version;
		isr_record_change(c, t->name, e->partition);
	} else if (ps->st.leader != c->broker_id || ps->st.leader_epoch != e->leader_epoch) {
		e->error = KERR_NOT_LEADER_OR_FOLLOWER;
	} else {
		e->error = KERR_INVALID_UPDATE_VERSION;
	}
	if (e->error != KERR_NONE)
		klog_info(COORD_LOG, "broker %d: ISR change of %s-%d at zkVersion %d refused (%d): "
			  "the state is at zkVersion %d, leader %d, leader epoch %d", c->broker_id,
			  t->name, e->partition, e->zk_version, e->error, ps->zk_version,
			  ps->st.leader, ps->st.leader_epoch);
}

/* One entry of a batch of ISR changes that needs its state znode written. */
typedef struct {
	keel_cmd_isr_t *e;
	zkj_state_t want;
	char *json;
	char path[512];
} isr_job_t;

/* Check one entry against the cache. True if its znode is to be written (job filled, json
 * malloc'd); false if the entry's result is settled already. */
static bool isr_prepare(keel_coord_t *c, keel_cmd_isr_t *e, isr_job_t *job)
{
	coord_topic_t *t = e->topic ? coord_topic_find(c, e->topic) : NULL;
	coord_pstate_t *ps;
	e->new_zk_version = -1;
	e->error = KERR_NONE;
	if (!c->zh || c->expired) {
		e->error = KERR_REQUEST_TIMED_OUT;
		return false;
	}
	if (!t || !t->loaded || e->partition < 0 || e->partition >= t->assign.npartitions ||
	    !t->states[e->partition].present) {
		e->error = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		return false;
	}
	if (e->nisr <= 0 || !e->isr) {
		e->error = KERR_INVALID_REQUEST;
		return false;
	}
	ps = &t->states[e->partition];
	if (ps->zk_version != e->zk_version) { /* the cache is already past it: no use writing */
		isr_check_written(c, t, e);
		return false;
	}
	if (ps->st.leader != c->broker_id || ps->st.leader_epoch != e->leader_epoch) {
		e->error = KERR_NOT_LEADER_OR_FOLLOWER;
		return false;
	}
	job->e = e;
	job->want = (zkj_state_t){ .controller_epoch = ps->st.controller_epoch, .leader = c->broker_id,
				   .leader_epoch = e->leader_epoch, .nisr = e->nisr, .isr = e->isr };
	snprintf(job->path, sizeof(job->path), "/brokers/topics/%s/partitions/%d/state", t->name,
		 e->partition);
	if (!(job->json = zkj_state_encode(&job->want))) {
		e->error = KERR_UNKNOWN_SERVER_ERROR;
		klog_warn(COORD_LOG, "broker %d: out of memory writing %s", c->broker_id, job->path);
		return false;
	}
	return true;
}

/* The conditional write of a prepared entry answered rc: fill its results. */
static void isr_finish(keel_coord_t *c, isr_job_t *job, int rc, const struct Stat *st)
{
	keel_cmd_isr_t *e = job->e;
	coord_topic_t *t = coord_topic_find(c, e->topic); /* (prepared: found and loaded) */
	if (!t || !t->loaded || e->partition >= t->assign.npartitions) {
		e->error = KERR_UNKNOWN_TOPIC_OR_PARTITION;
	} else if (rc == ZOK) {
		isr_apply(c, t, e, &job->want, st->version);
	} else if (rc == ZBADVERSION || rc == ZNONODE) {
		klog_debug(COORD_LOG, "broker %d: writing %s at zkVersion %d: %s", c->broker_id,
			   job->path, e->zk_version, zerror(rc));
		isr_check_written(c, t, e);
	} else {
		e->error = isr_zk_error(rc);
		klog_warn(COORD_LOG, "broker %d: writing %s failed: %s", c->broker_id, job->path,
			  zerror(rc));
	}
}

/* The ISR changes of n commands: every entry checked, the writes sent together (a broker
 * that becomes leader of a thousand partitions expands a thousand ISRs at once, and one write
 * at a time waits for ZooKeeper's disk each), then every command answered. */
void isr_handle_cmds(keel_coord_t *c, keel_cmd_t **cmds, int n)
{
	int total = 0, nw = 0;
	isr_job_t *jobs;
	zku_set_t *sets;
	for (int i = 0; i < n; i++)
		total += cmds[i]->n_isr_entries;
	jobs = calloc(total ? (size_t)total : 1, sizeof(*jobs));
	sets = calloc(total ? (size_t)total : 1, sizeof(*sets));
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < cmds[i]->n_isr_entries; k++) {
			keel_cmd_isr_t *e = &cmds[i]->isr_entries[k];
			if (!jobs || !sets) {
				e->new_zk_version = -1;
				e->error = KERR_UNKNOWN_SERVER_ERROR;
			} else if (isr_prepare(c, e, &jobs[nw])) {
				sets[nw] = (zku_set_t){ .path = jobs[nw].path, .data = jobs[nw].json,
							.version = e->zk_version, .rc = ZSYSTEMERROR };
				nw++;
			}
		}
	}
	if (nw)
		zku_set_many(c->zh, nw, sets, c->cfg.max_in_flight); /* (on failure: ZSYSTEMERROR each) */
	for (int j = 0; j < nw; j++) {
		isr_finish(c, &jobs[j], sets[j].rc, &sets[j].stat);
		free(jobs[j].json);
	}
	free(jobs);
	free(sets);
	coord_post_view_if_dirty(c); /* the loop sees the new ISRs before the answers */
	for (int i = 0; i < n; i++)
		keel_mq_post(c->to_loop, KEEL_MSG_CMD_DONE, cmds[i]);
}

void isr_handle_cmd(keel_coord_t *c, keel_cmd_t *cmd)
{
	isr_handle_cmds(c, &cmd, 1);
}

/* ================================================================ controller side */

/* Process one isr_change_<seq>: re-read the listed states (keel has no UpdateMetadata: the
 * fresh cache, and every broker's own state watch, are the propagation), then delete it. */
static void isr_ctl_one(keel_coord_t *c, const char *child)
{
	char path[512], *data = NULL;
	zkj_tp_t *tps = NULL;
	int len, n = 0, rc;
	snprintf(path, sizeof(path), "%s/%s", COORD_ISR_PATH, child);
	rc = zku_get(c->zh, path, 0, &data, &len, NULL);
	if (rc == ZNONODE)
		return;
	if (rc != ZOK) {
		coord_need_resync(c, "reading", path, rc);
		return;
	}
	if (!data || zkj_isr_change_decode(data, len, &n, &tps)) {
		klog_warn(COORD_LOG, "%s holds malformed JSON; deleting it", path);
		n = 0;
	}
	free(data);
	for (int i = 0, j; i < n && rc == ZOK; i = j) { /* the entries of one topic together */
		coord_topic_t *t = coord_topic_find(c, tps[i].topic);
		int32_t *parts = malloc((size_t)(n - i) * sizeof(*parts));
		int np = 0;
		for (j = i; j < n && !strcmp(tps[j].topic, tps[i].topic); j++)
			if (t && t->loaded && tps[j].partition >= 0 && tps[j].partition < t->assign.npartitions &&
			    parts)
				parts[np++] = tps[j].partition;
		if (!parts) {
			rc = ZSYSTEMERROR; /* read it again at the next notification */
			c->isr_notif_pending = true;
			break;
		}
		if (np && (rc = coord_reload_states(c, t, parts, np)) == ZOK)
			for (int k = 0; k < np; k++) /* the other brokers' metadata follows (UpdateMetadata) */
				if (t->states[parts[k]].present)
					ctl_note_isr(c, t->name, parts[k]);
		free(parts);
	}
	zkj_tps_free(n, tps);
	if (rc != ZOK)
		return; /* resync comes back here (isr_notif_pending) */
	klog_debug(COORD_LOG, "controller %d: %s: re-read %d partition state(s)", c->broker_id,
		   path, n);
	rc = ctl_delete_one(c, path);
	if (rc != ZOK && c->is_controller)
		coord_need_resync(c, "deleting", path, rc);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void isr_ctl_notifications(keel_coord_t *c)
{
	struct String_vector kids;
	int rc;
	if (!c->isr_notif_pending || !c->is_controller || !c->zh)
		return;
	c->isr_notif_pending = false;
	rc = zku_children(c->zh, COORD_ISR_PATH, 1, &kids);
	if (rc != ZOK) {
		coord_need_resync(c, "listing", COORD_ISR_PATH, rc);
		return;
	}
	if (kids.count > 0)
		keel_qsort(kids.data, (size_t)kids.count, sizeof(char *), str_cmp); /* sequence order */
	for (int i = 0; i < kids.count && c->is_controller && !c->resync; i++)
		isr_ctl_one(c, kids.data[i]);
	if (kids.count > 0)
		klog_info(COORD_LOG, "controller %d: processed %d ISR change notification(s)",
			  c->broker_id, kids.count);
	deallocate_String_vector(&kids);
}
