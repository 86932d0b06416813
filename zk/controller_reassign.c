/* zk/controller_reassign.c: partition reassignment as Kafka's ZooKeeper-mode controller does it
 * since KIP-455 (reference/zookeeper.md section 2, "Reassignment"). The topic znode is the
 * record of a reassignment in flight: its replicas are RS = TRS followed by ORS - TRS, with
 * adding_replicas AR = TRS - ORS and removing_replicas RR = ORS - TRS. New replicas find
 * themselves in RS, create their log and fetch from the leader, which adds them to the ISR
 * once caught up. When TRS is inside the ISR the controller moves leadership into TRS if
 * needed, drops RR from the ISR, and writes RS = TRS; brokers no longer in RS delete their
 * copy. Reassignments start from AlterPartitionReassignments or from the legacy
 * /admin/reassign_partitions znode, whose entries are removed as they finish.
 * Everything here runs on the coordination thread. */
#include "coord_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logger.h"

/* A replica list; RS = TRS + RR never exceeds 2 * KEEL_MAX_REPLICAS while being checked. */
typedef struct {
	int32_t n;
	int32_t v[2 * KEEL_MAX_REPLICAS];
} rlist_t;

/* One partition's new assignment in a topic znode rewrite. */
typedef struct {
	int32_t p;
	rlist_t rs, add, rem;
	bool cancel;         /* back to ORS */
} change_t;

static bool in(int32_t n, const int32_t *v, int32_t x)
{
	for (int32_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static void rl_add(rlist_t *l, int32_t x)
{
	if (l->n < (int32_t)KEEL_ARRAY_LEN(l->v) && !in(l->n, l->v, x))
		l->v[l->n++] = x;
}

/* a minus b, in a's order. */
static void rl_minus(rlist_t *out, int32_t na, const int32_t *a, int32_t nb, const int32_t *b)
{
	out->n = 0;
	for (int32_t i = 0; i < na; i++)
		if (!in(nb, b, a[i]))
			rl_add(out, a[i]);
}

static int32_t count_of(const int32_t *n, int32_t p)
{
	return n ? n[p] : 0;
}

bool ctl_reassigning(const coord_topic_t *t, int32_t p)
{
	return count_of(t->assign.nadding, p) > 0 || count_of(t->assign.nremoving, p) > 0;
}

/* ORS: RS minus the replicas being added. */
static void origin_of(const coord_topic_t *t, int32_t p, rlist_t *o)
{
	rl_minus(o, t->assign.nreplicas[p], t->assign.replicas[p], count_of(t->assign.nadding, p),
		 t->assign.adding ? t->assign.adding[p] : NULL);
}

/* TRS: RS minus the replicas being removed (RS itself when nothing is in flight). */
static void target_of(const coord_topic_t *t, int32_t p, rlist_t *o)
{
	rl_minus(o, t->assign.nreplicas[p], t->assign.replicas[p], count_of(t->assign.nremoving, p),
		 t->assign.removing ? t->assign.removing[p] : NULL);
}

/* Kafka's ReplicaAssignment.reassignTo: RS = TRS + (ORS - TRS), AR = TRS - ORS, RR = ORS - TRS. */
static void plan(const rlist_t *origin, int32_t n, const int32_t *target, change_t *ch)
{
	ch->rs.n = 0;
	for (int32_t i = 0; i < n; i++)
		rl_add(&ch->rs, target[i]);
	for (int32_t i = 0; i < origin->n; i++)
		rl_add(&ch->rs, origin->v[i]);
	rl_minus(&ch->add, n, target, origin->n, origin->v);
	rl_minus(&ch->rem, origin->n, origin->v, n, target);
}

static char *list_str(int32_t n, const int32_t *v)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	for (int32_t i = 0; i < n; i++)
		fprintf(f, "%s%d", i ? "," : "", v[i]);
	fclose(f);
	return s;
}

/* *msg = text, followed by "[v...]" when v is given. */
static void set_msg(char **msg, const char *text, int32_t n, const int32_t *v)
{
	char *l = v ? list_str(n, v) : NULL;
	free(*msg);
	if (asprintf(msg, "%s%s%s%s", text, v ? "[" : "", l ? l : "", v ? "]" : "") < 0)
		*msg = NULL;
	free(l);
}

/* Kafka's validateReassignment, plus keel's replica limit. 0, or an error with *msg. */
static int16_t check_target(keel_coord_t *c, const coord_topic_t *t, int32_t p, int32_t n,
			    const int32_t *r, change_t *ch, char **msg)
{
	rlist_t origin, live;
	if (n == 0) {
		set_msg(msg, "Empty replica list specified in partition reassignment.", 0, NULL);
		return KERR_INVALID_REPLICA_ASSIGNMENT;
	}
	for (int32_t i = 0; i < n; i++) {
		if (in(i, r, r[i])) {
			set_msg(msg, "Duplicate replica ids in partition reassignment replica list: ",
				n, r);
			return KERR_INVALID_REPLICA_ASSIGNMENT;
		}
		if (r[i] < 0) {
			set_msg(msg, "Invalid broker id in replica list: ", n, r);
			return KERR_INVALID_REPLICA_ASSIGNMENT;
		}
	}
	if (n > KEEL_MAX_REPLICAS) {
		set_msg(msg, "keel supports at most 16 replicas per partition: ", n, r);
		return KERR_INVALID_REPLICA_ASSIGNMENT;
	}
	origin_of(t, p, &origin);
	plan(&origin, n, r, ch);
	ch->p = p;
	for (int32_t i = 0; i < ch->add.n; i++) {
		if (coord_broker_live(c, ch->add.v[i]))
			continue;
		live.n = 0;
		for (int k = 0; k < c->nbrokers; k++)
			rl_add(&live, c->brokers[k].id);
		char *l = list_str(live.n, live.v), *a = list_str(ch->add.n, ch->add.v);
		free(*msg);
		if (asprintf(msg, "Replica assignment has brokers that are not alive. Replica list: "
			     "[%s], live broker list: [%s]", a ? a : "", l ? l : "") < 0)
			*msg = NULL;
		free(l);
		free(a);
		return KERR_INVALID_REPLICA_ASSIGNMENT;
	}
	if (ch->rs.n > KEEL_MAX_REPLICAS) {
		free(*msg);
		if (asprintf(msg, "The reassignment would give the partition %d replicas while it "
			     "moves; keel supports %d", ch->rs.n, KEEL_MAX_REPLICAS) < 0)
			*msg = NULL;
		return KERR_INVALID_REPLICA_ASSIGNMENT;
	}
	return KERR_NONE;
}

/* ================================================================ znode writes */

static int32_t *dup_list(int32_t n, const int32_t *v)
{
	int32_t *o = malloc((size_t)(n > 0 ? n : 1) * sizeof(*o));
	if (o && n > 0)
		memcpy(o, v, (size_t)n * sizeof(*o));
	return o;
}

/* t's assignment with the changes applied, AR/RR maps always allocated. -1 on no memory. */
static int build_assignment(const coord_topic_t *t, const change_t *ch, int nch, zkj_topic_t *a)
{
	const zkj_topic_t *o = &t->assign;
	size_t np = (size_t)o->npartitions;
	memset(a, 0, sizeof(*a));
	memcpy(a->topic_id, o->topic_id, sizeof(a->topic_id));
	a->npartitions = o->npartitions;
	a->nreplicas = calloc(np + 1, sizeof(int32_t));
	a->replicas = calloc(np + 1, sizeof(int32_t *));
	a->nadding = calloc(np + 1, sizeof(int32_t));
	a->adding = calloc(np + 1, sizeof(int32_t *));
	a->nremoving = calloc(np + 1, sizeof(int32_t));
	a->removing = calloc(np + 1, sizeof(int32_t *));
	if (!a->nreplicas || !a->replicas || !a->nadding || !a->adding || !a->nremoving || !a->removing)
		return -1;
	for (int32_t p = 0; p < o->npartitions; p++) {
		const change_t *c = NULL;
		for (int i = 0; i < nch && !c; i++)
			if (ch[i].p == p)
				c = &ch[i];
		if (c) {
			a->nreplicas[p] = c->rs.n;
			a->replicas[p] = dup_list(c->rs.n, c->rs.v);
			a->nadding[p] = c->add.n;
			a->adding[p] = dup_list(c->add.n, c->add.v);
			a->nremoving[p] = c->rem.n;
			a->removing[p] = dup_list(c->rem.n, c->rem.v);
		} else {
			a->nreplicas[p] = o->nreplicas[p];
			a->replicas[p] = dup_list(o->nreplicas[p], o->replicas[p]);
			a->nadding[p] = count_of(o->nadding, p);
			a->adding[p] = dup_list(a->nadding[p], o->adding ? o->adding[p] : NULL);
			a->nremoving[p] = count_of(o->nremoving, p);
			a->removing[p] = dup_list(a->nremoving[p], o->removing ? o->removing[p] : NULL);
		}
		if (!a->replicas[p] || !a->adding[p] || !a->removing[p])
			return -1;
	}
	return 0;
}

/* Rewrite /brokers/topics/<t> with the changes, conditional on the version we cached, in an
 * epoch-checked multi; the cache follows on success. On a lost race the topic is re-read
 * and the controller tries again (t may then be gone). Returns the ZK code. */
static int write_assignment(keel_coord_t *c, coord_topic_t *t, const change_t *ch, int nch)
{
	char path[512], *json;
	zkj_topic_t a;
	zku_multi_t m;
	int rc;
	if (build_assignment(t, ch, nch, &a) || !(json = zkj_topic_encode(&a))) {
		zkj_topic_free(&a);
		return ZSYSTEMERROR;
	}
	snprintf(path, sizeof(path), "/brokers/topics/%s", t->name);
	ctl_multi_begin(c, &m);
	zku_multi_set(&m, path, json, t->data_version);
	free(json);
	rc = ctl_multi_run(c, &m, path);
	zku_multi_free(&m);
	if (rc == ZOK) {
		zkj_topic_free(&t->assign);
		t->assign = a;
		t->data_version++;
		c->view_dirty = true;
		return ZOK;
	}
	zkj_topic_free(&a);
	if (!c->is_controller)
		return rc;
	if (rc == ZBADVERSION || rc == ZNONODE) {
		char *name = strdup(t->name);
		c->ctl_again = true;
		if (name)
			coord_reload_topic(c, name);
		free(name);
	} else {
		coord_need_resync(c, "writing the assignment of", path, rc);
	}
	return rc;
}

/* Chooser arguments: which partitions, and (finishing) their targets. */
typedef struct {
	const change_t *ch;
	int nch;
} choose_arg_t;

static const change_t *find_change(const choose_arg_t *a, int32_t p)
{
	for (int i = 0; i < a->nch; i++)
		if (a->ch[i].p == p)
			return &a->ch[i];
	return NULL;
}

static int copy_state(const keel_coord_t *c, const zkj_state_t *s, zkj_state_t *out)
{
	out->controller_epoch = c->epoch;
	out->leader = s->leader;
	out->leader_epoch = s->leader_epoch + 1;
	out->nisr = s->nisr;
	out->isr = dup_list(s->nisr, s->isr);
	return out->isr ? 1 : 0;
}

/* Starting: the same leader and ISR under a new leader epoch, so every replica of RS learns
 * the new replica set as a new leadership (Kafka's updateLeaderEpochAndSendRequest). */
static int bump_choose(keel_coord_t *c, const coord_topic_t *t, int32_t p, zkj_state_t *out,
		       void *arg)
{
	const zkj_state_t *s = &t->states[p].st;
	if (!find_change(arg, p) || s->controller_epoch > c->epoch)
		return 0;
	return copy_state(c, s, out);
}

/* The leader a finished reassignment keeps: the current one if it is in TRS, live and not
 * shutting down, else the first such replica of TRS that is in the ISR; -1 if none. */
static int32_t finish_leader(keel_coord_t *c, const zkj_state_t *s, const rlist_t *trs)
{
	if (in(trs->n, trs->v, s->leader) && coord_broker_live(c, s->leader) &&
	    !ctl_shutting(c, s->leader))
		return s->leader;
	for (int32_t i = 0; i < trs->n; i++)
		if (in(s->nisr, s->isr, trs->v[i]) && coord_broker_live(c, trs->v[i]) &&
		    !ctl_shutting(c, trs->v[i]))
			return trs->v[i];
	return -1;
}

/* Finishing: leader inside TRS, ISR minus RR, a new leader epoch. */
static int finish_choose(keel_coord_t *c, const coord_topic_t *t, int32_t p, zkj_state_t *out,
			 void *arg)
{
	const zkj_state_t *s = &t->states[p].st;
	const change_t *ch = find_change(arg, p);
	if (!ch || s->controller_epoch > c->epoch || !copy_state(c, s, out))
		return 0;
	out->leader = finish_leader(c, s, &ch->rs);
	out->nisr = 0;
	for (int32_t i = 0; i < s->nisr; i++)
		if (in(ch->rs.n, ch->rs.v, s->isr[i]))
			out->isr[out->nisr++] = s->isr[i];
	return 1;
}

/* ================================================================ starting and finishing */

/* One requested change of a topic: index into the caller's list, the target (NULL = cancel). */
typedef struct {
	int32_t partition;
	int32_t n;
	const int32_t *replicas;   /* NULL = cancel */
	int16_t error;
	char *message;
} request_t;

/* Start (or cancel) the requested reassignments of one topic: validate each, write the topic
 * znode once, then bump the leader epochs of the started ones. Each request gets its error. */
static void start_topic(keel_coord_t *c, const char *name, request_t *rq, int n)
{
	coord_topic_t *t = coord_topic_find(c, name);
	change_t *ch = calloc((size_t)n + 1, sizeof(*ch));
	int nch = 0, nbump = 0, rc;
	if (!ch) {
		for (int i = 0; i < n; i++)
			rq[i].error = KERR_UNKNOWN_SERVER_ERROR;
		return;
	}
	for (int i = 0; i < n; i++) {
		request_t *q = &rq[i];
		bool dup = false;
		for (int k = 0; k < i; k++)
			dup = dup || rq[k].partition == q->partition;
		if (!t || !t->loaded || t->deleting || q->partition < 0 ||
		    q->partition >= t->assign.npartitions) {
			q->error = KERR_UNKNOWN_TOPIC_OR_PARTITION;
			set_msg(&q->message, "The partition does not exist.", 0, NULL);
		} else if (dup) {
			q->error = KERR_INVALID_REQUEST;
			set_msg(&q->message, "The partition is listed twice.", 0, NULL);
		} else if (!q->replicas) {
			rlist_t origin;
			if (!ctl_reassigning(t, q->partition)) {
				q->error = KERR_NO_REASSIGNMENT_IN_PROGRESS;
				set_msg(&q->message, "No partition reassignment is in progress for this "
					"partition.", 0, NULL);
				continue;
			}
			origin_of(t, q->partition, &origin); /* back to ORS, nothing in flight */
			ch[nch].p = q->partition;
			ch[nch].rs = origin;
			ch[nch].cancel = true;
			nch++;
		} else {
			q->error = check_target(c, t, q->partition, q->n, q->replicas, &ch[nch],
						&q->message);
			if (q->error == KERR_NONE)
				ch[nch++].p = q->partition;
		}
	}
	rc = nch ? write_assignment(c, t, ch, nch) : ZOK;
	for (int i = 0; i < n; i++) {
		if (rq[i].error != KERR_NONE)
			continue;
		if (rc != ZOK) {
			rq[i].error = rc == ZBADVERSION ? KERR_INVALID_UPDATE_VERSION
							: KERR_UNKNOWN_SERVER_ERROR;
			set_msg(&rq[i].message, "The topic changed or ZooKeeper failed: retry.", 0, NULL);
		} else {
			klog_info(COORD_LOG, "controller %d: %s %s-%d", c->broker_id, rq[i].replicas ?
				  "reassigning" : "cancelled the reassignment of", name, rq[i].partition);
		}
	}
	/* Started ones get a new leader epoch; cancels keep theirs (ctl_reconcile's elections
	 * then take the dropped replicas out of leader and ISR). */
	for (int i = 0; i < nch; i++)
		if (!ch[i].cancel)
			ch[nbump++] = ch[i];
	if (rc == ZOK && nbump && c->is_controller && (t = coord_topic_find(c, name))) {
		choose_arg_t arg = { ch, nbump };
		ctl_write_states(c, t, bump_choose, &arg);
	}
	free(ch);
}

/* Finish the reassignments of t whose targets are all in the ISR. Returns how many. */
static int finish_topic(keel_coord_t *c, coord_topic_t *t)
{
	int32_t np = t->assign.npartitions;
	change_t *ch = NULL;
	int nch = 0, rc;
	char *name;
	for (int32_t p = 0; p < np; p++) {
		const coord_pstate_t *ps = &t->states[p];
		rlist_t trs;
		bool all = true;
		if (!ctl_reassigning(t, p) || !ps->present)
			continue;
		target_of(t, p, &trs);
		for (int32_t i = 0; i < trs.n && all; i++)
			all = in(ps->st.nisr, ps->st.isr, trs.v[i]);
		if (!all || finish_leader(c, &ps->st, &trs) < 0)
			continue;
		if (!ch && !(ch = calloc((size_t)np, sizeof(*ch))))
			return 0;
		ch[nch].p = p;
		ch[nch].rs = trs;
		nch++;
	}
	if (!nch)
		return 0;
	name = strdup(t->name);
	choose_arg_t arg = { ch, nch };
	rc = name ? ctl_write_states(c, t, finish_choose, &arg) : ZSYSTEMERROR;
	/* the states are written (ISR without RR, leader in TRS): now RS = TRS */
	if (rc == ZOK && c->is_controller && (t = coord_topic_find(c, name)))
		rc = write_assignment(c, t, ch, nch);
	if (rc == ZOK)
		for (int i = 0; i < nch; i++)
			klog_info(COORD_LOG, "controller %d: reassignment of %s-%d is complete",
				  c->broker_id, name, ch[i].p);
	free(name);
	free(ch);
	return rc == ZOK ? nch : 0;
}

/* ================================================================ /admin/reassign_partitions */

static bool same_list(int32_t n, const int32_t *a, const rlist_t *b)
{
	return n == b->n && (n == 0 || !memcmp(a, b->v, (size_t)n * sizeof(*a)));
}

static int entry_cmp(const void *x, const void *y)
{
	const zkj_reassign_t *a = x, *b = y;
	int d = strcmp(a->topic, b->topic);
	return d ? d : (a->partition > b->partition) - (a->partition < b->partition);
}

/* Was (topic, p) just reassigned through the API? Then the API's target wins over the znode. */
static bool api_overrides(const keel_cmd_t *api, const char *topic, int32_t p)
{
	for (int i = 0; api && i < api->n_reassign; i++)
		if (api->reassign[i].error == KERR_NONE && api->reassign[i].partition == p &&
		    !strcmp(api->reassign[i].topic, topic))
			return true;
	return false;
}

/* Write back the entries still kept (delete the znode when none is), if any was dropped. */
static void znode_write_back(keel_coord_t *c, zkj_reassign_t *v, int n, const bool *keep,
			     int32_t version)
{
	zkj_reassign_t *k = calloc((size_t)n + 1, sizeof(*k));
	int nk = 0, rc;
	zku_multi_t m;
	char *json;
	if (!k)
		return;
	for (int i = 0; i < n; i++)
		if (keep[i])
			k[nk++] = v[i]; /* shallow */
	if (nk == n) {
		free(k);
		return;
	}
	ctl_multi_begin(c, &m);
	if (nk == 0) {
		zku_multi_delete(&m, COORD_REASSIGN_PATH, version);
	} else if ((json = zkj_reassign_encode(nk, k, false))) {
		zku_multi_set(&m, COORD_REASSIGN_PATH, json, version);
		free(json);
	}
	rc = m.n > 1 ? ctl_multi_run(c, &m, COORD_REASSIGN_PATH) : ZSYSTEMERROR;
	zku_multi_free(&m);
	free(k);
	if (rc != ZOK && c->is_controller) /* changed under us, or failed: read it again */
		c->reassign_znode_pending = true;
	if (rc == ZOK && nk == 0)
		klog_info(COORD_LOG, "controller %d: %s is done; deleted it", c->broker_id,
			  COORD_REASSIGN_PATH);
}

/* Read /admin/reassign_partitions (with a watch): start what it asks for, drop what is done,
 * unknown or invalid (Kafka's handling of the legacy znode), and the partitions `api` just
 * reassigned. */
static void znode_sync(keel_coord_t *c, const keel_cmd_t *api)
{
	char *data = NULL;
	struct Stat st;
	zkj_reassign_t *v = NULL;
	bool *keep;
	int len, n = 0, rc;
	c->reassign_znode_pending = false;
	rc = zku_get(c->zh, COORD_REASSIGN_PATH, 1, &data, &len, &st);
	if (rc == ZNONODE && (rc = zku_exists(c->zh, COORD_REASSIGN_PATH, 1, NULL)) == ZOK)
		rc = zku_get(c->zh, COORD_REASSIGN_PATH, 1, &data, &len, &st);
	c->reassign_znode_exists = rc == ZOK;
	if (rc == ZNONODE)
		return; /* the exists watch tells us when it appears */
	if (rc != ZOK) {
		c->reassign_znode_pending = true;
		coord_need_resync(c, "reading", COORD_REASSIGN_PATH, rc);
		return;
	}
	if (!data || zkj_reassign_decode(data, len, &n, &v)) {
		klog_warn(COORD_LOG, "%s holds malformed JSON; deleting it", COORD_REASSIGN_PATH);
		n = 0;
		v = NULL;
	}
	free(data);
	keel_qsort(v, (size_t)n, sizeof(*v), entry_cmp);
	keep = calloc((size_t)n + 1, sizeof(*keep));
	for (int i = 0, j; keep && i < n; i = j) {
		request_t *rq = calloc((size_t)n, sizeof(*rq));
		int *idx = calloc((size_t)n, sizeof(*idx)), nrq = 0;
		for (j = i; j < n && !strcmp(v[j].topic, v[i].topic); j++) {
			const coord_topic_t *t = coord_topic_find(c, v[j].topic);
			rlist_t trs;
			bool dup = j > i && v[j].partition == v[j - 1].partition;
			if (!rq || !idx || dup || !t || !t->loaded || t->deleting ||
			    v[j].partition >= t->assign.npartitions || v[j].nreplicas == 0 ||
			    api_overrides(api, v[j].topic, v[j].partition))
				continue; /* dropped: unknown, invalid, or replaced by the API */
			target_of(t, v[j].partition, &trs);
			if (same_list(v[j].nreplicas, v[j].replicas, &trs)) {
				keep[j] = ctl_reassigning(t, v[j].partition); /* in flight, or done */
				continue;
			}
			rq[nrq] = (request_t){ v[j].partition, v[j].nreplicas, v[j].replicas, 0, NULL };
			idx[nrq++] = j;
		}
		if (nrq)
			start_topic(c, v[i].topic, rq, nrq);
		for (int k = 0; k < nrq; k++) {
			keep[idx[k]] = rq[k].error == KERR_NONE;
			if (rq[k].error != KERR_NONE)
				klog_warn(COORD_LOG, "controller %d: %s: %s-%d: %s", c->broker_id,
					  COORD_REASSIGN_PATH, v[i].topic, rq[k].partition,
					  rq[k].message ? rq[k].message : "refused");
			free(rq[k].message);
		}
		free(rq);
		free(idx);
	}
	if (keep && c->is_controller)
		znode_write_back(c, v, n, keep, st.version);
	free(keep);
	zkj_reassign_free(n, v);
}

void ctl_reassign_failover(keel_coord_t *c)
{
	c->reassign_znode_pending = true;
}

void ctl_reassign_reconcile(keel_coord_t *c)
{
	int done = 0;
	if (c->reassign_znode_pending)
		znode_sync(c, NULL);
	for (int i = 0; i < c->ntopics && c->is_controller; i++)
		if (c->topics[i].loaded && !c->topics[i].deleting)
			done += finish_topic(c, &c->topics[i]);
	if (done && c->reassign_znode_exists && c->is_controller)
		znode_sync(c, NULL);
}

/* ================================================================ the commands */

static int req_cmp(const void *x, const void *y)
{
	const keel_cmd_reassign_t *a = *(keel_cmd_reassign_t *const *)x;
	const keel_cmd_reassign_t *b = *(keel_cmd_reassign_t *const *)y;
	return strcmp(a->topic, b->topic);
}

/* AlterPartitionReassignments: start or cancel, one topic at a time. */
static void alter(keel_coord_t *c, keel_cmd_t *cmd)
{
	int n = cmd->n_reassign;
	keel_cmd_reassign_t **byt = calloc((size_t)n + 1, sizeof(*byt));
	request_t *rq = calloc((size_t)n + 1, sizeof(*rq));
	for (int i = 0; byt && i < n; i++)
		byt[i] = &cmd->reassign[i];
	if (byt)
		keel_qsort(byt, (size_t)n, sizeof(*byt), req_cmp);
	for (int i = 0, j; byt && rq && i < n; i = j) {
		for (j = i; j < n && !strcmp(byt[j]->topic, byt[i]->topic); j++)
			rq[j - i] = (request_t){ byt[j]->partition, byt[j]->nreplicas,
						 byt[j]->nreplicas < 0 ? NULL : byt[j]->replicas,
						 0, NULL };
		start_topic(c, byt[i]->topic, rq, j - i);
		for (int k = i; k < j; k++) {
			byt[k]->error = rq[k - i].error;
			free(byt[k]->message);
			byt[k]->message = rq[k - i].message;
		}
	}
	if (!byt || !rq)
		cmd->reassign_error = KERR_UNKNOWN_SERVER_ERROR;
	free(byt);
	free(rq);
	if (c->is_controller && c->reassign_znode_exists)
		znode_sync(c, cmd); /* the API's targets replace the znode's */
}

static bool listed(const keel_cmd_t *cmd, const char *topic, int32_t p)
{
	if (!cmd->list_tps)
		return true;
	for (int i = 0; i < cmd->n_list_tps; i++)
		if (cmd->list_tps[i].partition == p && !strcmp(cmd->list_tps[i].topic, topic))
			return true;
	return false;
}

/* ListPartitionReassignments: the partitions in flight (topics are kept sorted by name). */
static void list(keel_coord_t *c, keel_cmd_t *cmd)
{
	for (int i = 0; i < c->ntopics; i++) {
		const coord_topic_t *t = &c->topics[i];
		for (int32_t p = 0; t->loaded && p < t->assign.npartitions; p++) {
			keel_cmd_reassign_t *v, *r;
			if (!ctl_reassigning(t, p) || !listed(cmd, t->name, p))
				continue;
			v = realloc(cmd->reassign, (size_t)(cmd->n_reassign + 1) * sizeof(*v));
			if (!v) {
				cmd->reassign_error = KERR_UNKNOWN_SERVER_ERROR;
				return;
			}
			cmd->reassign = v;
			r = &v[cmd->n_reassign++];
			memset(r, 0, sizeof(*r));
			r->topic = strdup(t->name);
			r->partition = p;
			r->nreplicas = t->assign.nreplicas[p];
			r->replicas = dup_list(r->nreplicas, t->assign.replicas[p]);
			r->nadding = count_of(t->assign.nadding, p);
			r->adding = dup_list(r->nadding, t->assign.adding ? t->assign.adding[p] : NULL);
			r->nremoving = count_of(t->assign.nremoving, p);
			r->removing = dup_list(r->nremoving,
					       t->assign.removing ? t->assign.removing[p] : NULL);
			if (!r->topic || !r->replicas || !r->adding || !r->removing)
				cmd->reassign_error = KERR_UNKNOWN_SERVER_ERROR;
		}
	}
}

void ctl_reassign_cmd(keel_coord_t *c, keel_cmd_t *cmd)
{
	if (!c->zh || c->expired)
		cmd->reassign_error = KERR_REQUEST_TIMED_OUT;
	else if (!c->is_controller)
		cmd->reassign_error = KERR_NOT_CONTROLLER;
	else if (cmd->type == KEEL_CMD_ALTER_REASSIGNMENTS)
		alter(c, cmd);
	else
		list(c, cmd);
	if (cmd->type == KEEL_CMD_ALTER_REASSIGNMENTS && c->is_controller)
		ctl_reconcile(c); /* a cancel or a reorder may finish at once */
	coord_post_view_if_dirty(c);
	keel_mq_post(c->to_loop, KEEL_MSG_CMD_DONE, cmd);
}
