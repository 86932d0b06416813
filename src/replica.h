/* src/replica.h: leader-side replication state of a partition: follower progress, the high
 * watermark, ISR shrink/expand decisions handed to the coordination thread. Loop thread only. */
#ifndef KEEL_REPLICA_H
#define KEEL_REPLICA_H

#include "broker.h"

/* Take replicas, ISR, leader and zkVersion from the view's state of p. became_leader says the
 * broker just took (or re-took with a new epoch) the leadership. */
void keel_replica_sync(keel_broker_t *b, keel_partition_t *p, const keel_view_partition_t *vp,
		       bool became_leader);

/* A follower fetched p at fetch_offset (leader side): record its progress, maybe expand the
 * ISR, and move the HW. */
void keel_replica_on_fetch(keel_broker_t *b, keel_partition_t *p, int32_t follower, int64_t fetch_offset);

/* Recompute the leader's HW (min LEO over the ISR; never decreases); wakes waiters if it moved
 * and returns whether it did. */
bool keel_replica_update_hw(keel_broker_t *b, keel_partition_t *p);

/* Periodic: shrink the ISR of led partitions whose followers lag more than
 * replica.lag.time.max.ms. */
void keel_replica_check_isr(keel_broker_t *b);

/* Completion of an ALTER_ISR command. */
void keel_replica_isr_done(keel_broker_t *b, keel_cmd_t *cmd);

bool keel_replica_in_isr(const keel_partition_t *p, int32_t id);

/* Link / unlink a waiter on p. */
void keel_waiter_link(keel_partition_t *p, keel_waiter_t *w, void *arg, void (*fn)(void *));
void keel_waiter_unlink(keel_waiter_t *w);

#endif
