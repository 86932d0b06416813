/* tools/admin_reassign.h: what keel-reassign-partitions.sh's two files share and nothing else
 * uses: admin_reassign.c (options, the cluster view, --generate, --execute, --verify, --cancel,
 * --list) and admin_reassign_io.c (the reassignment file, the controller's reassignment
 * requests and the legacy znode). The functions carry rpt_, as the consumer groups tool's carry
 * cgt_: a prefix nothing else linked into keel-admin uses. */
#ifndef KEEL_ADMIN_REASSIGN_H
#define KEEL_ADMIN_REASSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "admin.h"
#include "zkjson.h"

#define CMD (&admin_cmd_reassign_partitions)
/* The controller's time for a request and the wait for its answer; ZooKeeper's session too. */
#define REASSIGN_TIMEOUT_MS 30000

/* A reassignment in progress, from ListPartitionReassignments. */
typedef struct {
	char *topic;
	int32_t partition;
	int32_t nreplicas, nadding, nremoving;
	int32_t *replicas, *adding, *removing;
} ongoing_t;

/* ---- small helpers ---- */

/* zkj_reassign_t by topic, then partition: the order the reassignment file is kept in. */
int rpt_cmp_reassign(const void *a, const void *b);
/* "1,2,4" to out. */
void rpt_print_ids(FILE *out, const int32_t *v, int32_t n);
/* Error lines that list things ("...: t-0,t-1") are built in a memory stream first. */
FILE *rpt_text_open(char **buf, size_t *len);
/* Close the stream; if it holds anything, print "<head><it>" as the error. 0 or 1. */
int rpt_text_error(FILE *f, char **buf, size_t *len, const char *head);
/* The index after the run of entries sharing v[i]'s topic (v sorted). */
int rpt_topic_end(const zkj_reassign_t *v, int n, int i);
/* The whole file as a NUL-terminated string; NULL after printing why not. */
char *rpt_read_file(const char *path, int *len);

/* ---- the reassignment file ---- */

/* Read --reassignment-json-file (path) into *parts, *n of them, sorted. 0, or 1 after printing
 * why not (what was read is left in *parts for the caller to free). */
int rpt_load_reassignment(const char *path, int *n, zkj_reassign_t **parts);

/* ---- the controller: ListPartitionReassignments, AlterPartitionReassignments ---- */

void rpt_ongoing_free(ongoing_t *v, int n);
/* The reassignments in progress among v[0..n) (all of them if v is NULL). 0, or 1 after
 * printing why not. */
int rpt_list_ongoing(const char *servers, const zkj_reassign_t *v, int n, ongoing_t **out,
		     int *nout);
/* topic's partition p in v[0..n) (sorted, as rpt_list_ongoing gives it), or NULL. */
const ongoing_t *rpt_find_ongoing(const ongoing_t *v, int n, const char *topic, int32_t p);
/* Send v[0..n) (sorted) to the controller as new targets, or to cancel. 0 when every
 * partition was accepted, else 1 after printing why not. */
int rpt_alter(const char *servers, const zkj_reassign_t *v, int n, bool cancel);

/* ---- --zookeeper: the legacy /admin/reassign_partitions znode ---- */

/* The legacy start of v[0..n): create the znode; someone else's means a reassignment is
 * running. 0, or 1 after printing why not. */
int rpt_zk_start(zhandle_t *zh, const zkj_reassign_t *v, int n);
/* Is a reassignment running (the legacy znode if zh, else the controller's list at servers,
 * which --additional, additional, lets have some)? 0 if not, else 1 after printing Kafka's
 * refusal or why the question has no answer. */
int rpt_check_none_running(zhandle_t *zh, const char *servers, bool additional);
/* The partitions the legacy znode still lists, sorted (none if it is missing or unreadable, as
 * Kafka treats them). */
void rpt_zk_pending(zhandle_t *zh, zkj_reassign_t **v, int *n);

#endif
