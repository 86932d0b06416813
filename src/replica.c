/* src/replica.c: a leader's view of its followers (Kafka's Replica/Partition state): follower
 * LEOs from their fetches, the high watermark, and ISR changes written through ZooKeeper. */
#include "replica.h"
#include "logger.h"

#include <stdlib.h>
#include <string.h>

/* After an ISR write failed (ZooKeeper unreachable, or the state changed under it), the next
 * try waits this long, unless the controller's state for the partition arrives first. */
#define ISR_RETRY_MS 1000

bool keel_replica_in_isr(const keel_partition_t *p, int32_t id)
{
	for (int32_t i = 0; i < p->nisr; i++)
		if (p->isr[i] == id)
			return true;
	return false;
}

static keel_follower_t *follower(keel_partition_t *p, int32_t id)
{
	for (int32_t i = 0; i < p->nfollowers; i++)
		if (p->followers[i].id == id)
			return &p->followers[i];
	return NULL;
}

void keel_waiter_link(keel_partition_t *p, keel_waiter_t *w, void *arg, void (*fn)(void *))
{
	keel_waiter_t *head = &p->waiters;
	w->arg = arg;
	w->fn = fn;
	w->next = head->next;
	w->prev = head;
	head->next->prev = w;
	head->next = w;
}

void keel_waiter_unlink(keel_waiter_t *w)
{
	if (w->next) {
		w->prev->next = w->next;
		w->next->prev = w->prev;
		w->next = w->prev = NULL;
	}
}

void keel_replica_sync(keel_broker_t *b, keel_partition_t *p, const keel_view_partition_t *vp,
		       bool became_leader)
{
	int64_t now = keel_mono_ms();
	int32_t n = vp->nreplicas < KEEL_MAX_REPLICAS ? vp->nreplicas : KEEL_MAX_REPLICAS;
	keel_follower_t old[KEEL_MAX_REPLICAS];
	int32_t nold = p->nfollowers;

	memcpy(old, p->followers, sizeof(old));
	p->isr_retry_ms = 0; /* the state a failed ISR write waited for */
	p->nreplicas = n;
	memcpy(p->replicas, vp->replicas, (size_t)n * sizeof(int32_t));
	if (vp->nreplicas > KEEL_MAX_REPLICAS)
		klog_error("replica", "%s-%d: %d replicas, keel supports %d: the rest are ignored",
			   p->topic, p->index, vp->nreplicas, KEEL_MAX_REPLICAS);
	p->nisr = vp->nisr < KEEL_MAX_REPLICAS ? vp->nisr : KEEL_MAX_REPLICAS;
	memcpy(p->isr, vp->isr, (size_t)p->nisr * sizeof(int32_t));
	p->leader_id = vp->leader;
	p->zk_version = vp->zk_version;
	p->nfollowers = 0;
	for (int32_t i = 0; i < n; i++) {
		if (vp->replicas[i] == b->id)
			continue;
		keel_follower_t f = {vp->replicas[i], -1, now, 0, -1};
		for (int32_t j = 0; j < nold && !became_leader; j++)
			if (old[j].id == f.id)
				f = old[j]; /* same leadership: keep what we learned */
		p->followers[p->nfollowers++] = f;
	}
	if (became_leader) {
		p->isr_inflight = false;
		p->isr_pending_add = -1;
	}
}

/* Ask the coordination thread to write a new ISR for p. */
static void submit_isr(keel_broker_t *b, keel_partition_t *p, const int32_t *isr, int32_t nisr, int32_t adding)
{
	keel_cmd_t *cmd = calloc(1, sizeof(*cmd));
	keel_cmd_isr_t *e = calloc(1, sizeof(*e));
	if (!cmd || !e || !(e->isr = malloc((size_t)nisr * sizeof(int32_t))) || !(e->topic = strdup(p->topic))) {
		if (e)
			free(e->isr);
		free(e);
		free(cmd);
		return;
	}
	memcpy(e->isr, isr, (size_t)nisr * sizeof(int32_t));
	e->nisr = nisr;
	e->partition = p->index;
	e->leader_epoch = p->leader_epoch;
	e->zk_version = p->zk_version;
	cmd->type = KEEL_CMD_ALTER_ISR;
	cmd->isr_entries = e;
	cmd->n_isr_entries = 1;
	p->isr_inflight = true;
	p->isr_pending_add = adding;
	klog_info("replica", "%s-%d: ISR %d -> %d replica(s)%s", p->topic, p->index, p->nisr, nisr,
		  adding >= 0 ? " (follower caught up)" : " (follower lagging)");
	keel_coord_submit(b->coord, cmd);
}

bool keel_replica_update_hw(keel_broker_t *b, keel_partition_t *p)
{
	int64_t hw = keel_log_end_offset(p->log);
	if (!p->leader)
		return false;
	for (int32_t i = 0; i < p->nisr; i++) {
		if (p->isr[i] == b->id)
			continue;
		keel_follower_t *f = follower(p, p->isr[i]);
		if (!f || f->leo < 0)
			return false; /* a member we have not heard from: the HW cannot move yet */
		if (f->leo < hw)
			hw = f->leo;
	}
	if (p->isr_pending_add >= 0) {
		keel_follower_t *f = follower(p, p->isr_pending_add);
		if (f && f->leo >= 0 && f->leo < hw)
			hw = f->leo;
	}
	if (hw <= p->high_watermark)
		return false;
	p->high_watermark = hw;
	keel_partition_wake(b, p);
	return true;
}

void keel_replica_on_fetch(keel_broker_t *b, keel_partition_t *p, int32_t id, int64_t fetch_offset)
{
	keel_follower_t *f = follower(p, id);
	int64_t now = keel_mono_ms(), leo = keel_log_end_offset(p->log);
	if (!f || !p->leader)
		return;
	/* Kafka: caught up if it reached our LEO now, or the LEO we had at its previous fetch */
	if (fetch_offset >= leo)
		f->last_caught_up_ms = now;
	else if (f->last_fetch_leader_leo >= 0 && fetch_offset >= f->last_fetch_leader_leo)
		f->last_caught_up_ms = f->last_fetch_ms;
	f->leo = fetch_offset <= leo ? fetch_offset : leo;
	f->last_fetch_ms = now;
	f->last_fetch_leader_leo = leo;
	if (!keel_replica_in_isr(p, id) && !p->isr_inflight && now >= p->isr_retry_ms &&
	    f->leo >= p->high_watermark && f->leo >= p->epoch_start_offset && p->nisr < KEEL_MAX_REPLICAS) {
		int32_t isr[KEEL_MAX_REPLICAS];
		memcpy(isr, p->isr, (size_t)p->nisr * sizeof(int32_t));
		isr[p->nisr] = id;
		submit_isr(b, p, isr, p->nisr + 1, id);
	}
	keel_replica_update_hw(b, p);
}

void keel_replica_check_isr(keel_broker_t *b)
{
	int64_t now = keel_mono_ms(), lag = b->cfg->replica_lag_time_max_ms;
	for (size_t i = 0; i < b->ptable_size; i++) {
		for (keel_partition_t *p = b->ptable[i]; p; p = p->hnext) {
			int32_t isr[KEEL_MAX_REPLICAS], n = 0;
			if (!p->leader || p->isr_inflight || now < p->isr_retry_ms)
				continue;
			for (int32_t j = 0; j < p->nisr; j++) {
				keel_follower_t *f = follower(p, p->isr[j]);
				if (p->isr[j] == b->id || !f || now - f->last_caught_up_ms <= lag)
					isr[n++] = p->isr[j];
			}
			if (n < p->nisr && n > 0)
				submit_isr(b, p, isr, n, -1);
		}
	}
}

void keel_replica_isr_done(keel_broker_t *b, keel_cmd_t *cmd)
{
	for (int i = 0; i < cmd->n_isr_entries; i++) {
		keel_cmd_isr_t *e = &cmd->isr_entries[i];
		keel_partition_t *p = keel_partition_get(b, e->topic, strlen(e->topic), e->partition);
		if (!p)
			continue;
		p->isr_inflight = false;
		p->isr_pending_add = -1;
		if (e->error) {
			klog_info("replica", "%s-%d: ISR change not written (error %d); waiting for the controller",
				  p->topic, p->index, e->error);
			p->isr_retry_ms = keel_mono_ms() + ISR_RETRY_MS;
			continue;
		}
		if (p->leader && p->leader_epoch == e->leader_epoch) {
			p->nisr = e->nisr < KEEL_MAX_REPLICAS ? e->nisr : KEEL_MAX_REPLICAS;
			memcpy(p->isr, e->isr, (size_t)p->nisr * sizeof(int32_t));
			p->zk_version = e->new_zk_version;
			if (!keel_replica_update_hw(b, p))
				keel_partition_wake(b, p); /* acks=all waiters re-check min.insync.replicas */
		}
	}
}
