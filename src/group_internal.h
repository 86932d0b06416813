/* src/group_internal.h: what the coordinator's files (group.c, group_sync.c, group_offsets.c,
 * api_group.c) share and nothing else uses: slices of C strings, and the member and rebalance
 * steps of the state machine in group.c. Loop thread only. */
#ifndef KEEL_GROUP_INTERNAL_H
#define KEEL_GROUP_INTERNAL_H

#include <stdlib.h>
#include <string.h>

#include "group.h"

#define GROUP_LOG "group"

/* A C string as a slice (NULL stays null). */
static inline keel_slice_t sl(const char *s)
{
	return (keel_slice_t){ (const uint8_t *)s, s ? strlen(s) : 0 };
}

static inline bool sl_eq(keel_slice_t a, const char *s)
{
	return s && a.ptr && a.len == strlen(s) && !memcmp(a.ptr, s, a.len);
}

/* A malloc'd C string of a slice; NULL for a null slice (or no memory). */
static inline char *sl_dup(keel_slice_t s)
{
	return s.ptr ? strndup((const char *)s.ptr, s.len) : NULL;
}

static inline void grp_set_state(keel_group_t *g, keel_group_state_t s)
{
	g->state = s;
	g->state_ts = keel_now_ms();
}

keel_gmember_t *grp_member_find(const keel_group_t *g, keel_slice_t id);
/* The member with this group.instance.id (NULL for a null instance id). */
keel_gmember_t *grp_member_by_instance(const keel_group_t *g, keel_slice_t instance);
void grp_member_free(keel_gmember_t *m);
/* The metadata m gave for the chosen protocol (empty if none). */
keel_slice_t grp_member_meta(const keel_gmember_t *m, const char *protocol);
/* Answer m's parked JoinGroup/SyncGroup with err (it is leaving the group). */
void grp_member_release(keel_gmember_t *m, int16_t err);
/* Answer a SyncGroup (and complete the request). */
void grp_sync_answer(keel_request_t *req, int16_t err, const uint8_t *a, size_t len);
/* Kafka's prepareRebalance. */
void grp_prepare_rebalance(keel_broker_t *b, keel_group_t *g, const char *reason);
/* End the join phase if everyone rejoined, or its deadline passed. */
void grp_maybe_complete_join(keel_broker_t *b, keel_group_t *g);
/* Kafka's removeMemberAndUpdateGroup. */
void grp_remove_member(keel_broker_t *b, keel_group_t *g, keel_gmember_t *m, const char *why);
/* Forget a KIP-394 pending member id; false if it was not pending. */
bool grp_pending_take(keel_group_t *g, keel_slice_t id);
/* Write g's metadata record; done(arg, err) once it is replicated (or failed). */
void grp_store_group(keel_broker_t *b, keel_group_t *g, void (*done)(void *, int16_t), void *arg);

#endif
