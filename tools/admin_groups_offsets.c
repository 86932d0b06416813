/* tools/admin_groups_offsets.c: keel-consumer-groups.sh's actions on committed offsets, apart
 * from the rest of the command (admin_groups.c): --delete-offsets (DeleteConsumerGroupOffsets)
 * and --reset-offsets, which works each group's new offsets out from the log (its start, its
 * end, an offset or a time), the committed offsets or a --from-file plan, and commits them
 * with --execute (AlterConsumerGroupOffsets). Checks, messages and tables are Kafka's. */
#include "admin_groups.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keel.h"

/* ================================================================ --delete-offsets */

typedef struct {
	char *topic;
	int32_t partition;    /* -1: "Not Provided" (the topic itself failed) */
	char *error;          /* NULL: Successful */
} dresult_t;

/* Kafka sorts the report by topic + partition as one string. */
static int cmp_dresult(const void *a, const void *b)
{
	const dresult_t *x = a, *y = b;
	char kx[600], ky[600];

	snprintf(kx, sizeof(kx), "%s%" PRId32, x->topic, x->partition);
	snprintf(ky, sizeof(ky), "%s%" PRId32, y->topic, y->partition);
	return strcmp(kx, ky);
}

/* The --topic values as partitions; topics Kafka could not describe become failed results.
 * 0, or 1 after printing a malformed --topic. */
static int offsets_scope(ctx_t *c, rd_kafka_topic_partition_list_t *parts, dresult_t *res, int *nres)
{
	char err[ERRLEN], exc[ERRLEN];
	cg_topic_arg_t t;

	for (int i = 0; i < c->o->ntopics; i++) {
		if (cg_parse_topic_arg(c->o->topics[i], &t, err, sizeof(err)) < 0)
			return cgt_print_error(FAILED "%s", err);
		for (int k = 0; k < t.npartitions; k++)
			rd_kafka_topic_partition_list_add(parts, t.topic, t.partitions[k]);
		if (t.npartitions < 0) {
			const struct rd_kafka_metadata *md;
			rd_kafka_resp_err_t e = admin_metadata(c->rk, c->timeout_ms, &md);
			const rd_kafka_metadata_topic_t *mt = e ? NULL : admin_md_topic(md, t.topic);
			if (mt && !mt->err && mt->partition_cnt > 0) {
				for (int k = 0; k < mt->partition_cnt; k++)
					rd_kafka_topic_partition_list_add(parts, t.topic, mt->partitions[k].id);
			} else {
				cgt_exc_str(e ? e : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, NULL, exc, sizeof(exc));
				res[(*nres)++] = (dresult_t){strdup(t.topic), -1, strdup(exc)};
			}
			if (!e)
				rd_kafka_metadata_destroy(md);
		}
		cg_topic_arg_free(&t);
	}
	return 0;
}

/* DeleteConsumerGroupOffsets: the top-level error, each partition's result appended. */
static rd_kafka_resp_err_t delete_offsets(ctx_t *c, const char *group,
					  const rd_kafka_topic_partition_list_t *parts,
					  dresult_t *res, int *nres)
{
	char exc[ERRLEN];
	rd_kafka_resp_err_t top = RD_KAFKA_RESP_ERR_NO_ERROR;
	const rd_kafka_topic_partition_list_t *got = NULL;
	rd_kafka_event_t *ev = NULL;
	size_t cnt;

	if (parts->cnt) {
		rd_kafka_DeleteConsumerGroupOffsets_t *req = rd_kafka_DeleteConsumerGroupOffsets_new(group, parts);
		rd_kafka_AdminOptions_t *ao = cgt_admin_options(c, RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS);
		rd_kafka_DeleteConsumerGroupOffsets(c->rk, &req, 1, ao, c->q);
		rd_kafka_AdminOptions_destroy(ao);
		rd_kafka_DeleteConsumerGroupOffsets_destroy(req);
		ev = rd_kafka_queue_poll(c->q, c->timeout_ms + 5000);
		top = ev ? rd_kafka_event_error(ev) : RD_KAFKA_RESP_ERR__TIMED_OUT;
		const rd_kafka_group_result_t **gr = !top ? rd_kafka_DeleteConsumerGroupOffsets_result_groups(
				rd_kafka_event_DeleteConsumerGroupOffsets_result(ev), &cnt) : NULL;
		got = gr && cnt ? rd_kafka_group_result_partitions(gr[0]) : NULL;
	}
	cgt_exc_str(top, ev ? rd_kafka_event_error_string(ev) : NULL, exc, sizeof(exc));
	rd_kafka_resp_err_t first = RD_KAFKA_RESP_ERR_NO_ERROR;
	for (int i = 0; i < parts->cnt; i++) {
		const rd_kafka_topic_partition_t *p = &parts->elems[i];
		const rd_kafka_topic_partition_t *r =
			got ? rd_kafka_topic_partition_list_find(got, p->topic, p->partition) : NULL;
		rd_kafka_resp_err_t e = top ? top : r ? r->err : RD_KAFKA_RESP_ERR_NO_ERROR;
		char pexc[ERRLEN];
		if (e && !top)
			cgt_exc_str(e, NULL, pexc, sizeof(pexc));
		res[(*nres)++] = (dresult_t){strdup(p->topic), p->partition,
					     !e ? NULL : strdup(top ? exc : pexc)};
		if (e && !first)
			first = e;
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	/* Kafka's all() fails with the first partition's error when the request itself did not */
	return top ? top : first;
}

static void dresults_free(dresult_t *v, int n)
{
	for (int i = 0; i < n; i++) {
		free(v[i].topic);
		free(v[i].error);
	}
	free(v);
}

/* Kafka's line for the request as a whole, by its error. */
static void report_top(const opts_t *o, const char *group, rd_kafka_resp_err_t top)
{
	const char *cls, *name, *msg;

	switch (top) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		printf("Request succeed for deleting offsets with topic ");
		for (int i = 0; i < o->ntopics; i++)
			printf(i ? ", %s" : "%s", o->topics[i]);
		printf(" group %s\n", group);
		break;
	case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
		cgt_print_error("'%s' is not valid.", group);
		break;
	case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
		cgt_print_error("'%s' does not exist.", group);
		break;
	case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
		cgt_print_error("Access to '%s' is not authorized.", group);
		break;
	case RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP:
		cgt_print_error("Deleting offsets of a consumer group '%s' is forbidden if the group is not "
				"empty.", group);
		break;
	case RD_KAFKA_RESP_ERR_GROUP_SUBSCRIBED_TO_TOPIC:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
		cgt_print_error("Encounter some partition level error, see the follow-up details:");
		break;
	default:
		admin_kafka_error((int16_t)top, &cls, &name, &msg);
		cgt_print_error("Encounter some unknown error: %s",
				strcmp(name, "UNKNOWN_SERVER_ERROR") || top == -1 ? name : rd_kafka_err2name(top));
	}
}

int cgt_run_delete_offsets(ctx_t *c)
{
	const char *group = c->o->groups[0];
	dresult_t *res;
	int n = 0, rc = 0, width[] = {30, 15, 15};
	char part[16], *status;

	if (c->o->ngroups > 1)
		return cgt_print_error(FAILED "Found multiple arguments for option group, but you asked for "
			    "only one");
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
	if (!(res = calloc((size_t)c->o->ntopics + 1, sizeof(*res))) ||
	    offsets_scope(c, parts, res, &n)) {
		rd_kafka_topic_partition_list_destroy(parts);
		dresults_free(res, n);
		return 1;
	}
	if (!(res = realloc(res, sizeof(*res) * (size_t)(n + parts->cnt + 1))))
		abort();
	rd_kafka_resp_err_t top = delete_offsets(c, group, parts, res, &n);
	report_top(c->o, group, top);
	keel_qsort(res, (size_t)n, sizeof(*res), cmp_dresult);
	printf("\n");
	cg_print_row(stdout, width, (const char *const[]){"TOPIC", "PARTITION", "STATUS"}, 3);
	for (int i = 0; i < n; i++) {
		snprintf(part, sizeof(part), "%" PRId32, res[i].partition);
		if (asprintf(&status, res[i].error ? "Error: %s" : "Successful", res[i].error) < 0)
			abort();
		cg_print_row(stdout, width, (const char *const[]){res[i].topic,
			     res[i].partition >= 0 ? part : "Not Provided", status}, 3);
		rc |= res[i].error != NULL;
		free(status);
	}
	rd_kafka_topic_partition_list_destroy(parts);
	dresults_free(res, n);
	return rc || top;
}

/* ================================================================ --reset-offsets */

/* Kafka's TopicPartition.toString. */
static const char *tp_str(const char *topic, int32_t partition)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s-%" PRId32, topic, partition);
	return buf;
}

/* A topic's partitions from Metadata, ascending, added to l. 0, or 1 after printing the
 * UnknownTopicOrPartitionException Kafka's describeTopics fails with. */
static int topic_partitions(ctx_t *c, const char *topic, rd_kafka_topic_partition_list_t *l)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err = admin_metadata(c->rk, c->timeout_ms, &md);

	if (err)
		return cgt_failed_err(err, NULL);
	const rd_kafka_metadata_topic_t *t = admin_md_topic(md, topic);
	if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || t->partition_cnt == 0) {
		rd_kafka_metadata_destroy(md);
		return cgt_failed_err(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, NULL);
	}
	rd_kafka_topic_partition_list_t *tmp = rd_kafka_topic_partition_list_new(t->partition_cnt);
	for (int i = 0; i < t->partition_cnt; i++)
		rd_kafka_topic_partition_list_add(tmp, topic, t->partitions[i].id);
	rd_kafka_topic_partition_list_sort(tmp, NULL, NULL);
	for (int i = 0; i < tmp->cnt; i++)
		rd_kafka_topic_partition_list_add(l, topic, tmp->elems[i].partition);
	rd_kafka_topic_partition_list_destroy(tmp);
	rd_kafka_metadata_destroy(md);
	return 0;
}

/* Add topic/partition once (librdkafka refuses a partition asked about twice). */
static void add_once(rd_kafka_topic_partition_list_t *l, const char *topic, int32_t partition)
{
	if (!rd_kafka_topic_partition_list_find(l, topic, partition))
		rd_kafka_topic_partition_list_add(l, topic, partition);
}

/* Kafka's getPartitionsToReset: --all-topics (the committed ones), --topic, or none with
 * --from-file. 0, or 1 after printing. */
static int reset_scope(ctx_t *c, const char *group, rd_kafka_topic_partition_list_t *parts)
{
	char err[ERRLEN];
	cg_topic_arg_t t;

	if (c->o->seen[G_ALL_TOPICS]) {
		rd_kafka_topic_partition_list_t *cm = cgt_committed(c, group);
		for (int i = 0; cm && i < cm->cnt; i++)
			add_once(parts, cm->elems[i].topic, cm->elems[i].partition);
		if (cm)
			rd_kafka_topic_partition_list_destroy(cm);
		return cm ? 0 : 1;
	}
	if (!c->o->seen[G_TOPIC])
		return c->o->seen[G_FROM_FILE] ? 0 : admin_usage_error(CMD, "One of the reset scopes "
								       "should be defined: --all-topics, --topic.");
	for (int i = 0; i < c->o->ntopics; i++) {
		if (cg_parse_topic_arg(c->o->topics[i], &t, err, sizeof(err)) < 0)
			return cgt_print_error(FAILED "%s", err);
		int rc = t.npartitions < 0 ? topic_partitions(c, t.topic, parts) : 0;
		for (int k = 0; k < t.npartitions; k++)
			add_once(parts, t.topic, t.partitions[k]);
		cg_topic_arg_free(&t);
		if (rc)
			return rc;
	}
	return 0;
}

/* Kafka's checkOffsetsRange: each requested offset kept between the log start and end, with a
 * warning when moved. 0, or 1 after printing. */
static int clamp_to_log(ctx_t *c, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *lo = cgt_log_offsets(c, parts, RD_KAFKA_OFFSET_BEGINNING);
	rd_kafka_topic_partition_list_t *hi = lo ? cgt_log_offsets(c, parts, RD_KAFKA_OFFSET_END) : NULL;

	for (int i = 0; hi && i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *p = &parts->elems[i];
		int64_t start = cgt_offset_in(lo, p->topic, p->partition), end = cgt_offset_in(hi, p->topic, p->partition);
		int moved;
		int64_t off = cg_clamp_offset(p->offset, start, end, &moved);
		if (moved)
			cgt_note("WARN New offset (%" PRId64 ") is %s than %s offset for topic partition %s. "
				 "Value will be set to %" PRId64 "\n", p->offset, moved > 0 ? "higher" : "lower",
				 moved > 0 ? "latest" : "earliest", tp_str(p->topic, p->partition), off);
		p->offset = off;
	}
	if (lo)
		rd_kafka_topic_partition_list_destroy(lo);
	if (hi)
		rd_kafka_topic_partition_list_destroy(hi);
	return hi ? 0 : 1;
}

/* Each partition's offset from the log (spec as for cgt_log_offsets); a partition without one is
 * the usage error what names. */
static int from_log(ctx_t *c, rd_kafka_topic_partition_list_t *parts, int64_t spec, const char *what)
{
	rd_kafka_topic_partition_list_t *l = cgt_log_offsets(c, parts, spec);
	int rc = l ? 0 : 1;

	for (int i = 0; l && i < parts->cnt && !rc; i++) {
		rd_kafka_topic_partition_t *p = &parts->elems[i];
		if ((p->offset = cgt_offset_in(l, p->topic, p->partition)) == RD_KAFKA_OFFSET_INVALID)
			rc = admin_usage_error(CMD, "Error getting %s of topic partition: %s", what,
					       tp_str(p->topic, p->partition));
	}
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

/* Kafka's getLogTimestampOffsets: the first offset at or after ts, else the log end. */
static int by_time(ctx_t *c, rd_kafka_topic_partition_list_t *parts, int64_t ts)
{
	rd_kafka_topic_partition_list_t *l = cgt_log_offsets(c, parts, ts), *late;
	int rc;

	if (!l)
		return 1;
	late = rd_kafka_topic_partition_list_new(l->cnt);
	for (int i = 0; i < l->cnt; i++)
		if (l->elems[i].offset == RD_KAFKA_OFFSET_END)
			rd_kafka_topic_partition_list_add(late, l->elems[i].topic, l->elems[i].partition);
	rc = from_log(c, late, RD_KAFKA_OFFSET_END, "offset by timestamp");
	for (int i = 0; !rc && i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *p = &parts->elems[i];
		int64_t off = cgt_offset_in(l, p->topic, p->partition);
		p->offset = off == RD_KAFKA_OFFSET_END ? cgt_offset_in(late, p->topic, p->partition) : off;
		if (p->offset == RD_KAFKA_OFFSET_INVALID)
			rc = admin_usage_error(CMD, "Error getting offset by timestamp of topic partition: %s",
					       tp_str(p->topic, p->partition));
	}
	rd_kafka_topic_partition_list_destroy(late);
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

static int shift_by(ctx_t *c, const char *group, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *cm = cgt_committed(c, group);

	if (!cm)
		return 1;
	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *p = &parts->elems[i];
		int64_t cur = cgt_offset_in(cm, p->topic, p->partition);
		if (cur < 0) {
			rd_kafka_topic_partition_list_destroy(cm);
			return admin_usage_error(CMD, "Cannot shift offset for partition %s since there is no "
						 "current committed offset", tp_str(p->topic, p->partition));
		}
		if (__builtin_add_overflow(cur, c->o->shift_by, &p->offset))
			p->offset = c->o->shift_by < 0 ? INT64_MIN : INT64_MAX;
	}
	rd_kafka_topic_partition_list_destroy(cm);
	return clamp_to_log(c, parts);
}

/* --to-current: the committed offset, or the log end where there is none. */
static int to_current(ctx_t *c, const char *group, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *cm = cgt_committed(c, group), *none;
	int rc;

	if (!cm)
		return 1;
	none = rd_kafka_topic_partition_list_new(parts->cnt);
	for (int i = 0; i < parts->cnt; i++)
		if (cgt_offset_in(cm, parts->elems[i].topic, parts->elems[i].partition) < 0)
			rd_kafka_topic_partition_list_add(none, parts->elems[i].topic, parts->elems[i].partition);
	rc = from_log(c, none, RD_KAFKA_OFFSET_END, "ending offset");
	for (int i = 0; !rc && i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *p = &parts->elems[i];
		int64_t cur = cgt_offset_in(cm, p->topic, p->partition);
		p->offset = cur >= 0 ? cur : cgt_offset_in(none, p->topic, p->partition);
	}
	rd_kafka_topic_partition_list_destroy(none);
	rd_kafka_topic_partition_list_destroy(cm);
	return rc;
}

/* The --from-file plan, read when first needed. 0, or 1 after printing. */
static int load_plan(ctx_t *c)
{
	const char *path = c->o->val[G_FROM_FILE];
	char *text = NULL, err[ERRLEN];
	size_t cap = 0;
	FILE *f;

	if (c->plan_loaded)
		return 0;
	if (!(f = fopen(path, "r")))
		return cgt_print_error(FAILED "%s: %s", path, strerror(errno));
	if (getdelim(&text, &cap, '\0', f) < 0) {
		free(text);
		text = strdup("");
	}
	fclose(f);
	int rc = cg_csv_parse(text, c->o->ngroups == 1, &c->plan, &c->nplan, err, sizeof(err));
	free(text);
	if (rc < 0)
		return cgt_print_error(FAILED "%s", err);
	c->plan_loaded = true;
	return 0;
}

/* The plan's offsets for group in place of parts. 0 (with parts empty and Kafka's error
 * printed when the plan has none), or 1 after printing a failure. */
static int from_file(ctx_t *c, const char *group, rd_kafka_topic_partition_list_t *parts, bool *noplan)
{
	if (load_plan(c))
		return 1;
	while (parts->cnt)
		rd_kafka_topic_partition_list_del_by_idx(parts, parts->cnt - 1);
	for (int i = 0; i < c->nplan; i++) {
		const cg_plan_entry_t *e = &c->plan[i];
		if (e->group && strcmp(e->group, group) != 0)
			continue;
		rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(parts, e->topic, e->partition);
		if (!p)
			p = rd_kafka_topic_partition_list_add(parts, e->topic, e->partition);
		p->offset = e->offset;
	}
	if (parts->cnt == 0) {
		*noplan = true;
		cgt_print_error("No reset plan for group %s found", group);
		return 0;
	}
	return clamp_to_log(c, parts);
}

/* The timestamp --to-datetime or --by-duration names. 0, or 1 after printing. */
static int reset_time(ctx_t *c, int64_t *ts)
{
	char err[ERRLEN];
	cg_duration_t d;
	struct timespec now;

	if (c->o->seen[G_TO_DATETIME]) {
		if (cg_parse_datetime(c->o->val[G_TO_DATETIME], ts, err, sizeof(err)) < 0)
			return cgt_print_error(FAILED "%s", err);
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (cg_parse_duration(c->o->val[G_BY_DURATION], &d, err, sizeof(err)) < 0 ||
	    cg_instant_minus(now.tv_sec, (int32_t)now.tv_nsec, d, ts, err, sizeof(err)) < 0)
		return cgt_print_error(FAILED "%s", err);
	return 0;
}

/* Kafka's prepareOffsetsToReset: each partition's new offset into parts. 0, or 1 after
 * printing. */
static int prepare(ctx_t *c, const char *group, rd_kafka_topic_partition_list_t *parts, bool *noplan)
{
	const bool *seen = c->o->seen;
	int64_t ts;

	if (seen[G_TO_OFFSET]) {
		for (int i = 0; i < parts->cnt; i++)
			parts->elems[i].offset = c->o->to_offset;
		return clamp_to_log(c, parts);
	}
	if (seen[G_TO_EARLIEST])
		return from_log(c, parts, RD_KAFKA_OFFSET_BEGINNING, "starting offset");
	if (seen[G_TO_LATEST])
		return from_log(c, parts, RD_KAFKA_OFFSET_END, "ending offset");
	if (seen[G_SHIFT_BY])
		return shift_by(c, group, parts);
	if (seen[G_TO_DATETIME] || seen[G_BY_DURATION])
		return reset_time(c, &ts) || by_time(c, parts, ts);
	if (seen[G_FROM_FILE])
		return from_file(c, group, parts, noplan);
	if (seen[G_TO_CURRENT])
		return to_current(c, group, parts);
	return admin_usage_error(CMD, "Option '[reset-offsets]' requires one of the following "
				 "scenarios: HashSet([to-offset], [shift-by], [to-datetime], "
				 "[by-duration], [to-earliest], [to-latest], [to-current], [from-file])");
}

/* AlterConsumerGroupOffsets; any partition's failure fails the command. */
static int alter(ctx_t *c, const char *group, const rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_AlterConsumerGroupOffsets_t *req = rd_kafka_AlterConsumerGroupOffsets_new(group, parts);
	rd_kafka_AdminOptions_t *ao = cgt_admin_options(c, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
	size_t n;
	int rc = 0;

	if (parts->cnt == 0) {
		rd_kafka_AdminOptions_destroy(ao);
		rd_kafka_AlterConsumerGroupOffsets_destroy(req);
		return 0;
	}
	rd_kafka_AlterConsumerGroupOffsets(c->rk, &req, 1, ao, c->q);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_AlterConsumerGroupOffsets_destroy(req);
	rd_kafka_event_t *ev = cgt_await(c, RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT);
	if (!ev)
		return 1;
	const rd_kafka_group_result_t **res = rd_kafka_AlterConsumerGroupOffsets_result_groups(
		rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
	const rd_kafka_topic_partition_list_t *got = n ? rd_kafka_group_result_partitions(res[0]) : NULL;
	if (n && rd_kafka_group_result_error(res[0]))
		rc = cgt_failed_error(rd_kafka_group_result_error(res[0]));
	for (int i = 0; !rc && got && i < got->cnt; i++)
		if (got->elems[i].err)
			rc = cgt_failed_err(got->elems[i].err, NULL);
	rd_kafka_event_destroy(ev);
	return rc;
}

/* One group's reset: refused unless it has no members; else the new offsets, committed with
 * --execute. *out is NULL for a refused group. 0, or 1 when the command failed. */
static int reset_group(ctx_t *c, const char *group, const rd_kafka_ConsumerGroupDescription_t *d,
		       rd_kafka_topic_partition_list_t **out, bool *errors)
{
	const char *state = cgt_group_state(d);

	*out = NULL;
	if (strcmp(state, "Empty") != 0 && strcmp(state, "Dead") != 0) {
		*errors = true;
		cgt_print_error("Assignments can only be reset if the group '%s' is inactive, but the current "
				"state is %s.", group, state);
		return 0;
	}
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
	if (reset_scope(c, group, parts) || prepare(c, group, parts, errors) ||
	    (c->o->seen[G_EXECUTE] && !c->o->seen[G_DRY_RUN] && alter(c, group, parts))) {
		rd_kafka_topic_partition_list_destroy(parts);
		return 1;
	}
	*out = parts;
	return 0;
}

/* Kafka's printOffsetsToReset, or the CSV of --export. */
static void print_reset(const opts_t *o, char **groups, int n, rd_kafka_topic_partition_list_t **res)
{
	int w[] = {30, 30, 10, 15};
	char part[16], off[24];
	bool single = o->ngroups == 1;

	if (!o->seen[G_EXPORT] && n)
		printf("\n");
	if (!o->seen[G_EXPORT] && n)
		cg_print_row(stdout, w, (const char *const[]){"GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"}, 4);
	for (int g = 0; g < n; g++)
		for (int i = 0; res[g] && i < res[g]->cnt; i++) {
			const rd_kafka_topic_partition_t *p = &res[g]->elems[i];
			snprintf(part, sizeof(part), "%" PRId32, p->partition);
			snprintf(off, sizeof(off), "%" PRId64, p->offset);
			if (o->seen[G_EXPORT])
				cg_csv_write(stdout, single ? NULL : groups[g], p->topic, p->partition, p->offset);
			else
				cg_print_row(stdout, w, (const char *const[]){groups[g], p->topic, part, off}, 4);
		}
	/* the CSV is printed with println: one more line end */
	if (o->seen[G_EXPORT])
		printf("\n");
}

int cgt_run_reset(ctx_t *c)
{
	listing_t *all;
	int n, nall, rc;
	bool errors = false;
	char **groups = cgt_target_groups(c, &n, &all, &nall);
	described_t dd;

	if (!groups)
		return 1;
	rd_kafka_topic_partition_list_t **res = calloc((size_t)n + 1, sizeof(*res));
	if (!res)
		abort();
	rc = cgt_describe_groups(c, groups, n, &dd);
	for (int i = 0; i < n && !rc; i++)
		rc = reset_group(c, groups[i], dd.d[i], &res[i], &errors);
	if (!rc)
		print_reset(c->o, groups, n, res);
	for (int i = 0; i < n; i++)
		if (res[i])
			rd_kafka_topic_partition_list_destroy(res[i]);
	free(res);
	cgt_described_free(&dd);
	free(groups);
	cgt_listings_free(all, nall);
	return rc || errors;
}
