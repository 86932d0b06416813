/* src/fetcher.h: follower replication: one connection per leader broker, truncation with
 * OffsetForLeaderEpoch, then long-poll fetches whose batches are appended unchanged. */
#ifndef KEEL_FETCHER_H
#define KEEL_FETCHER_H

#include "broker.h"

/* Start, stop or redirect fetchers to match the partitions this broker follows (after a view).
 * Loop thread. */
void keel_fetcher_reconcile(keel_broker_t *b);
/* Close every fetcher (shutdown). */
void keel_fetchers_free(keel_broker_t *b);

#endif
