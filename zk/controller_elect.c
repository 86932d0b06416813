/* zk/controller_elect.c: preferred and unclean leader elections: Kafka's ElectLeaders command,
 * the /admin/preferred_replica_election znode and the auto leader rebalance. Coordination thread. */
#include "coord_internal.h"
#include "logger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ELECT_PREFERRED 0
#define ELECT_UNCLEAN 1
#define ELECT_ATTEMPTS 3 /* a state znode that moved under a write is re-read and retried */

/* One topic's elections: which partitions, and what happened to each. */
typedef struct {
	int8_t type;
	int32_t np;
	bool *want;       /* per partition: elect it (cleared once its outcome is final) */
	int16_t *err;     /* per partition: the outcome */
	int32_t *leader;  /* per partition: the leader written (when err == 0) */
} elect_ctx_t;

static bool in_list(int32_t n, const int32_t *v, int32_t x)
{
	for (int32_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* A broker that may take a leadership: registered and not in controlled shutdown. */
static bool eligible(const keel_coord_t *c, int32_t id)
{
	return coord_broker_live(c, id) && !ctl_shutting(c, id);
}

static int16_t fill(keel_coord_t *c, const zkj_state_t *s, int32_t leader, int32_t nisr,
		    const int32_t *isr, zkj_state_t *out)
{
	out->isr = malloc((size_t)(nisr ? nisr : 1) * sizeof(*out->isr));
	if (!out->isr)
		return KERR_UNKNOWN_SERVER_ERROR;
	memcpy(out->isr, isr, (size_t)nisr * sizeof(*isr));
	out->nisr = nisr;
	out->leader = leader;
	out->leader_epoch = s->leader_epoch + 1;
	out->controller_epoch = c->epoch;
	return KERR_NONE;
}

/* Kafka's PreferredReplicaPartitionLeaderElectionStrategy: the first assigned replica, if it
 * is live and in the ISR; the ISR is unchanged. */
static int16_t elect_preferred(keel_coord_t *c, const coord_topic_t *t, int32_t p, zkj_state_t *out)
{
	const zkj_state_t *s = &t->states[p].st;
	int32_t pref = t->assign.nreplicas[p] > 0 ? t->assign.replicas[p][0] : -1;
	if (pref >= 0 && s->leader == pref)
		return KERR_ELECTION_NOT_NEEDED;
	if (pref < 0 || !eligible(c, pref) || !in_list(s->nisr, s->isr, pref))
		return KERR_PREFERRED_LEADER_NOT_AVAILABLE;
	return fill(c, s, pref, s->nisr, s->isr, out);
}

/* Kafka's OfflinePartitionLeaderElectionStrategy(allowUnclean = true), for a partition whose
 * leader is not live: the first live in-sync replica in assignment order (ISR = its live
 * members), else the first live replica, with ISR = [it]. */
static int16_t elect_unclean(keel_coord_t *c, const coord_topic_t *t, int32_t p, zkj_state_t *out)
{
	const zkj_state_t *s = &t->states[p].st;
	int32_t nr = t->assign.nreplicas[p], *r = t->assign.replicas[p], n = 0, leader = -1;
	int32_t *isr;
	int16_t err;
	if (s->leader >= 0 && coord_broker_live(c, s->leader))
		return KERR_ELECTION_NOT_NEEDED;
	for (int32_t i = 0; i < nr && leader < 0; i++)
		if (eligible(c, r[i]) && in_list(s->nisr, s->isr, r[i]))
			leader = r[i];
	if (leader >= 0) {
		if (!(isr = malloc((size_t)s->nisr * sizeof(*isr))))
			return KERR_UNKNOWN_SERVER_ERROR;
		for (int32_t i = 0; i < s->nisr; i++)
			if (eligible(c, s->isr[i]))
				isr[n++] = s->isr[i];
		err = fill(c, s, leader, n, isr, out);
		free(isr);
		return err;
	}
	for (int32_t i = 0; i < nr && leader < 0; i++)
		if (eligible(c, r[i]))
			leader = r[i];
	if (leader < 0)
		return KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
	klog_warn(COORD_LOG, "controller %d: unclean leader election for %s-%d: broker %d is not in "
		  "the ISR; records may be lost", c->broker_id, t->name, p, leader);
	return fill(c, s, leader, 1, &leader, out);
}

/* ctl_choose_fn: decide one wanted partition, remembering the outcome. */
static int choose(keel_coord_t *c, const coord_topic_t *t, int32_t p, zkj_state_t *out, void *arg)
{
	elect_ctx_t *x = arg;
	if (p >= x->np || !x->want[p])
		return 0;
	x->err[p] = x->type == ELECT_PREFERRED ? elect_preferred(c, t, p, out)
					       : elect_unclean(c, t, p, out);
	if (x->err[p] != KERR_NONE)
		return 0;
	x->leader[p] = out->leader;
	return 1;
}

/* After a write: settle the outcomes. On a failed multi the topic was re-read; an election
 * whose leader is not there is retried (the default error stays if attempts run out). */
static bool settle(keel_coord_t *c, const char *name, elect_ctx_t *x, int rc, int16_t dflt)
{
	const coord_topic_t *t = coord_topic_find(c, name);
	bool again = false;
	for (int32_t p = 0; p < x->np; p++) {
		if (!x->want[p])
			continue;
		if (x->err[p] == KERR_NONE && rc != ZOK &&
		    !(t && t->loaded && p < t->assign.npartitions && t->states[p].present &&
		      t->states[p].st.leader == x->leader[p])) {
			x->err[p] = dflt;
			again = true;
			continue;
		}
		if (x->err[p] == KERR_NONE)
			klog_info(COORD_LOG, "controller %d: %s leader election for %s-%d: leader %d",
				  c->broker_id, x->type == ELECT_PREFERRED ? "preferred" : "unclean",
				  name, p, x->leader[p]);
		x->want[p] = false;
	}
	return again;
}

/* Run x's elections on topic `name`; each wanted partition ends with its outcome in x->err. */
static void elect_topic(keel_coord_t *c, const char *name, elect_ctx_t *x)
{
	int16_t dflt = x->type == ELECT_PREFERRED ? KERR_PREFERRED_LEADER_NOT_AVAILABLE
						  : KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
	for (int32_t p = 0; p < x->np; p++)
		x->err[p] = dflt; /* partitions without a state znode stay so */
	for (int attempt = 0; attempt < ELECT_ATTEMPTS && c->is_controller; attempt++) {
		coord_topic_t *t = coord_topic_find(c, name);
		int rc;
		if (!t || !t->loaded)
			break;
		rc = ctl_write_states(c, t, choose, x);
		if (!settle(c, name, x, rc, dflt))
			break;
	}
}

/* One topic's group of tps (all naming the same topic); res[i] gets tps[i]'s outcome. */
static void elect_group(keel_coord_t *c, int8_t type, const keel_cmd_tp_t *tps, int n, int16_t *res)
{
	const coord_topic_t *t = coord_topic_find(c, tps[0].topic);
	elect_ctx_t x = { .type = type, .np = t && t->loaded ? t->assign.npartitions : 0 };
	bool deleting = t && t->deleting;
	x.want = calloc((size_t)x.np + 1, sizeof(*x.want));
	x.err = calloc((size_t)x.np + 1, sizeof(*x.err));
	x.leader = calloc((size_t)x.np + 1, sizeof(*x.leader));
	for (int i = 0; i < n; i++) {
		int32_t p = tps[i].partition;
		if (p < 0 || p >= x.np)
			res[i] = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		else if (deleting)
			res[i] = KERR_INVALID_TOPIC_EXCEPTION;
		else if (x.want && x.err && x.leader)
			x.want[p] = true;
		else
			res[i] = KERR_UNKNOWN_SERVER_ERROR;
	}
	if (x.want && x.err && x.leader && !deleting)
		elect_topic(c, tps[0].topic, &x);
	for (int i = 0; i < n; i++) {
		int32_t p = tps[i].partition;
		if (p >= 0 && p < x.np && !deleting && x.want && x.err && x.leader)
			res[i] = x.err[p];
	}
	free(x.want);
	free(x.err);
	free(x.leader);
}

static int tp_cmp(const void *a, const void *b)
{
	const keel_cmd_tp_t *x = a, *y = b;
	int d = strcmp(x->topic, y->topic);
	return d ? d : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Sort tps and drop duplicates (freeing their names if owned; the slots past the new count
 * are then cleared). Returns the new count. */
static int tps_normalize(keel_cmd_tp_t *tps, int n, bool owned)
{
	int k = 0;
	if (n <= 0)
		return 0;
	keel_qsort(tps, (size_t)n, sizeof(*tps), tp_cmp);
	for (int i = 1; i < n; i++) {
		if (tp_cmp(&tps[i], &tps[k]))
			tps[++k] = tps[i];
		else if (owned)
			free(tps[i].topic);
	}
	for (int i = k + 1; owned && i < n; i++)
		tps[i].topic = NULL;
	return k + 1;
}

/* Elections of `type` for tps (sorted by topic, then partition); res[i] = tps[i]'s outcome. */
static void elect_run(keel_coord_t *c, int8_t type, const keel_cmd_tp_t *tps, int n, int16_t *res)
{
	for (int i = 0, j; i < n; i = j) {
		for (j = i; j < n && !strcmp(tps[j].topic, tps[i].topic); j++)
			;
		if (c->is_controller)
			elect_group(c, type, tps + i, j - i, res + i);
		else
			for (int k = i; k < j; k++)
				res[k] = KERR_NOT_CONTROLLER;
	}
}

static void tps_free(keel_cmd_tp_t *v, int n)
{
	for (int i = 0; v && i < n; i++)
		free(v[i].topic);
	free(v);
}

/* Append (topic, p) to *v (malloc'd copies); false when out of memory. */
static bool tps_add(keel_cmd_tp_t **v, int *n, const char *topic, int32_t p)
{
	keel_cmd_tp_t *nv = realloc(*v, (size_t)(*n + 1) * sizeof(*nv));
	if (!nv)
		return false;
	*v = nv;
	nv[*n].partition = p;
	if (!(nv[*n].topic = strdup(topic)))
		return false;
	(*n)++;
	return true;
}

/* Every partition of every loaded topic not being deleted, sorted (malloc'd; tps_free). */
static keel_cmd_tp_t *all_partitions(keel_coord_t *c, int *n)
{
	keel_cmd_tp_t *v = calloc(1, sizeof(*v));
	*n = 0;
	for (int i = 0; i < c->ntopics; i++) {
		const coord_topic_t *t = &c->topics[i];
		for (int32_t p = 0; t->loaded && !t->deleting && p < t->assign.npartitions; p++)
			if (!tps_add(&v, n, t->name, p))
				return v;
	}
	return v;
}

/* ================================================================ ElectLeaders */

/* Kafka's ApiError message for an outcome (malloc'd, or NULL for none). */
static char *elect_message(int8_t type, const char *topic, int32_t p, int16_t err)
{
	char *m = NULL;
	switch (err) {
	case KERR_UNKNOWN_TOPIC_OR_PARTITION:
		return strdup("The partition does not exist.");
	case KERR_INVALID_TOPIC_EXCEPTION:
		return strdup("The topic is being deleted");
	case KERR_PREFERRED_LEADER_NOT_AVAILABLE:
	case KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE:
		if (asprintf(&m, "Failed to elect leader for partition %s-%d under strategy %s", topic, p,
			     type == ELECT_PREFERRED ? "PreferredReplicaPartitionLeaderElectionStrategy"
						     : "OfflinePartitionLeaderElectionStrategy(true)") < 0)
			m = NULL;
		return m;
	default:
		return NULL; /* success, ELECTION_NOT_NEEDED: no message */
	}
}

/* The command's partitions: a sorted, duplicate-free copy of elect_tps, or all of them. */
static keel_cmd_tp_t *cmd_partitions(keel_coord_t *c, const keel_cmd_t *cmd, int *n)
{
	keel_cmd_tp_t *v;
	*n = 0;
	if (!cmd->elect_tps)
		return all_partitions(c, n);
	if (!(v = calloc(1, sizeof(*v))))
		return NULL;
	for (int i = 0; i < cmd->n_elect_tps; i++)
		if (!tps_add(&v, n, cmd->elect_tps[i].topic ? cmd->elect_tps[i].topic : "",
			     cmd->elect_tps[i].partition))
			break;
	*n = tps_normalize(v, *n, true);
	return v;
}

void ctl_elect_leaders(keel_coord_t *c, keel_cmd_t *cmd)
{
	int n = 0;
	keel_cmd_tp_t *tps = NULL;
	int16_t *res = NULL;
	if (!c->zh || c->expired || !c->is_controller)
		cmd->elect_error = KERR_NOT_CONTROLLER;
	else if (!(tps = cmd_partitions(c, cmd, &n)) || !(res = calloc((size_t)n + 1, sizeof(*res))) ||
		 !(cmd->elect_results = calloc((size_t)n + 1, sizeof(*cmd->elect_results))))
		cmd->elect_error = KERR_UNKNOWN_SERVER_ERROR;
	if (!cmd->elect_error) {
		klog_info(COORD_LOG, "controller %d: %s leader election for %s%d partition(s)",
			  c->broker_id, cmd->election_type == ELECT_PREFERRED ? "preferred" : "unclean",
			  cmd->elect_tps ? "" : "all ", n);
		elect_run(c, cmd->election_type, tps, n, res);
		for (int i = 0; i < n; i++) {
			keel_cmd_elect_t *r = &cmd->elect_results[i];
			r->topic = tps[i].topic; /* ownership moves */
			tps[i].topic = NULL;
			r->partition = tps[i].partition;
			r->error = res[i];
			r->message = elect_message(cmd->election_type, r->topic, r->partition, res[i]);
		}
		cmd->n_elect_results = n;
	}
	tps_free(tps, n);
	free(res);
	coord_post_view_if_dirty(c);
	keel_mq_post(c->to_loop, KEEL_MSG_CMD_DONE, cmd);
}

/* ================================================================ the znode and rebalance */

/* Read /admin/preferred_replica_election (re-arming the watch), run its elections, delete it. */
static void elect_znode(keel_coord_t *c)
{
	char *data = NULL;
	zkj_tp_t *ztps = NULL;
	keel_cmd_tp_t *tps;
	int16_t *res;
	int len, n = 0, rc;
	c->pref_znode_pending = false;
	rc = zku_get(c->zh, COORD_PREFERRED_PATH, 1, &data, &len, NULL);
	if (rc == ZNONODE && (rc = zku_exists(c->zh, COORD_PREFERRED_PATH, 1, NULL)) == ZOK)
		rc = zku_get(c->zh, COORD_PREFERRED_PATH, 1, &data, &len, NULL);
	if (rc == ZNONODE)
		return; /* the exists watch tells us when it appears */
	if (rc != ZOK) {
		c->pref_znode_pending = true;
		coord_need_resync(c, "reading", COORD_PREFERRED_PATH, rc);
		return;
	}
	if (!data || zkj_preferred_election_decode(data, len, &n, &ztps)) {
		klog_warn(COORD_LOG, "%s holds malformed JSON; deleting it", COORD_PREFERRED_PATH);
		n = 0;
	}
	free(data);
	tps = calloc((size_t)n + 1, sizeof(*tps));
	res = calloc((size_t)n + 1, sizeof(*res));
	for (int i = 0; tps && i < n; i++) { /* shallow: the strings stay ztps' */
		tps[i].topic = ztps[i].topic;
		tps[i].partition = ztps[i].partition;
	}
	if (tps && res) {
		int k = tps_normalize(tps, n, false);
		klog_info(COORD_LOG, "controller %d: %s lists %d partition(s)", c->broker_id,
			  COORD_PREFERRED_PATH, k);
		elect_run(c, ELECT_PREFERRED, tps, k, res);
	}
	free(tps);
	free(res);
	zkj_tps_free(n, ztps);
	if (c->is_controller && (rc = ctl_delete_one(c, COORD_PREFERRED_PATH)) != ZOK &&
	    c->is_controller) {
		c->pref_znode_pending = true;
		coord_need_resync(c, "deleting", COORD_PREFERRED_PATH, rc);
	}
}

/* Broker b's preferred partitions: total, those it does not lead, and the ones of those a
 * preferred election could move to it now (appended to *cand). */
static void imbalance_of(keel_coord_t *c, int32_t b, int *total, int *off, keel_cmd_tp_t **cand,
			 int *ncand)
{
	*total = *off = 0;
	for (int i = 0; i < c->ntopics; i++) {
		const coord_topic_t *t = &c->topics[i];
		for (int32_t p = 0; t->loaded && !t->deleting && p < t->assign.npartitions; p++) {
			const coord_pstate_t *ps = &t->states[p];
			if (t->assign.nreplicas[p] < 1 || t->assign.replicas[p][0] != b)
				continue;
			(*total)++;
			if (!ps->present || ps->st.leader == b)
				continue;
			(*off)++;
			/* (one being reassigned counts, but is not moved: Kafka's candidatePartitions) */
			if (eligible(c, b) && in_list(ps->st.nisr, ps->st.isr, b) && !ctl_reassigning(t, p))
				tps_add(cand, ncand, t->name, p);
		}
	}
}

/* Kafka's checkAndTriggerAutoLeaderRebalance. */
static void elect_rebalance(keel_coord_t *c)
{
	int32_t pct = c->cfg.leader_imbalance_per_broker_percentage;
	for (int i = 0; i < c->nbrokers && c->is_controller; i++) {
		int32_t b = c->brokers[i].id;
		keel_cmd_tp_t *cand = NULL;
		int total, off, ncand = 0;
		int16_t *res;
		imbalance_of(c, b, &total, &off, &cand, &ncand);
		klog_debug(COORD_LOG, "controller %d: broker %d leads %d of its %d preferred partitions",
			   c->broker_id, b, total - off, total);
		if (total > 0 && (int64_t)off * 100 > (int64_t)pct * total && ncand > 0 &&
		    (res = calloc((size_t)ncand, sizeof(*res)))) {
			klog_info(COORD_LOG, "controller %d: leader imbalance of broker %d is %d%% (> %d%%); "
				  "preferred elections for %d partition(s)", c->broker_id, b,
				  off * 100 / total, pct, ncand);
			elect_run(c, ELECT_PREFERRED, cand, ncand, res);
			free(res);
		}
		tps_free(cand, ncand);
	}
}

void ctl_elect_failover(keel_coord_t *c)
{
	c->pref_znode_pending = true;
	c->rebalance_at = keel_mono_ms() + COORD_REBALANCE_FIRST_MS;
}

int64_t ctl_elect_next_due(const keel_coord_t *c)
{
	if (!c->is_controller || !c->cfg.auto_leader_rebalance_enable)
		return INT64_MAX;
	return c->rebalance_at;
}

void ctl_elect_reconcile(keel_coord_t *c)
{
	if (!c->is_controller || !c->zh)
		return;
	if (c->pref_znode_pending)
		elect_znode(c);
	if (c->is_controller && c->cfg.auto_leader_rebalance_enable && keel_mono_ms() >= c->rebalance_at) {
		c->rebalance_at = keel_mono_ms() + c->cfg.leader_imbalance_check_interval_seconds * 1000;
		elect_rebalance(c);
	}
}
