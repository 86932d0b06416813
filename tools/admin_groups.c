/* tools/admin_groups.c: `keel-admin consumer-groups` (keel-consumer-groups.sh): Kafka 2.8's
 * kafka-consumer-groups.sh. It lists, describes and deletes consumer groups and resets or
 * deletes their committed offsets through librdkafka's Admin API (ListConsumerGroups,
 * DescribeConsumerGroups, List/AlterConsumerGroupOffsets, DeleteGroups,
 * DeleteConsumerGroupOffsets), and asks the partition leaders for log offsets with
 * rd_kafka_offsets_for_times. Flags, checks, messages and tables are Kafka's: errors Kafka's
 * tool prints with println ("\nError: ...") go to standard output as there.
 * --delete-offsets and --reset-offsets are in admin_groups_offsets.c. */
#include "admin_groups.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keel.h"

#define DEFAULT_TIMEOUT_MS 5000

static const char g_usage[] =
	"Usage: keel-consumer-groups.sh --bootstrap-server HOST:PORT\n"
	"         (--list | --describe | --delete | --reset-offsets | --delete-offsets) [OPTIONS]\n"
	"List, describe and delete consumer groups; reset and delete their committed offsets.\n"
	"  --bootstrap-server HOST:PORT  REQUIRED: the brokers to connect to\n"
	"  --command-config FILE       client properties for the Admin API connection\n"
	"  --timeout MS                how long each request may take (default 5000)\n"
	"  --list                      list the consumer groups\n"
	"  --describe                  describe --group G... or --all-groups: committed offsets and\n"
	"                              lag (--offsets, the default), --members [--verbose] or --state\n"
	"  --delete                    delete --group G... or --all-groups (only empty groups)\n"
	"  --delete-offsets            delete --group G's committed offsets of --topic T[:P,P]...\n"
	"  --reset-offsets             set the committed offsets of --group G... or --all-groups for\n"
	"                              --topic T[:P,P]... or --all-topics to one of:\n"
	"    --to-earliest | --to-latest | --to-current  the log start, the log end, the same offset\n"
	"    --to-offset N             offset N, kept within the log\n"
	"    --shift-by N              the committed offset plus N, kept within the log\n"
	"    --to-datetime YYYY-MM-DDTHH:mm:SS.sss[+HH:mm]  the first offset of that time or later\n"
	"                              (UTC unless a zone is given)\n"
	"    --by-duration PnDTnHnMnS  the first offset of that long ago or later\n"
	"    --from-file FILE          the offsets of a CSV file written by --export\n"
	"  --dry-run                   only show the new offsets (the default)\n"
	"  --execute                   commit the new offsets (the group must have no members)\n"
	"  --export                    print the new offsets as CSV, for --from-file\n"
	"  --group G                   a consumer group (repeatable)\n"
	"  --all-groups                every consumer group\n"
	"  --topic T[:P,P]             a topic, or some of its partitions (repeatable)\n"
	"  --all-topics                every topic the group has committed offsets for\n"
	"  --offsets                   with --describe: offsets and lag per partition (the default)\n"
	"  --members [--verbose]       with --describe: the members [and their partitions]\n"
	"  --state [S,S]               with --describe: the group's state; with --list: each group's\n"
	"                              state, or only the groups in states S (Stable, Empty, ...)\n"
	"  --help                      print this help\n";

static const admin_opt_t g_opts[] = {
	{"list", ADMIN_ARG_NONE, G_LIST},
	{"describe", ADMIN_ARG_NONE, G_DESCRIBE},
	{"delete", ADMIN_ARG_NONE, G_DELETE},
	{"reset-offsets", ADMIN_ARG_NONE, G_RESET},
	{"delete-offsets", ADMIN_ARG_NONE, G_DELETE_OFFSETS},
	{"bootstrap-server", ADMIN_ARG_ONE, G_BOOTSTRAP},
	{"group", ADMIN_ARG_ONE, G_GROUP},
	{"topic", ADMIN_ARG_ONE, G_TOPIC},
	{"all-topics", ADMIN_ARG_NONE, G_ALL_TOPICS},
	{"all-groups", ADMIN_ARG_NONE, G_ALL_GROUPS},
	{"timeout", ADMIN_ARG_ONE, G_TIMEOUT},
	{"command-config", ADMIN_ARG_ONE, G_COMMAND_CONFIG},
	{"dry-run", ADMIN_ARG_NONE, G_DRY_RUN},
	{"execute", ADMIN_ARG_NONE, G_EXECUTE},
	{"export", ADMIN_ARG_NONE, G_EXPORT},
	{"to-offset", ADMIN_ARG_ONE, G_TO_OFFSET},
	{"from-file", ADMIN_ARG_ONE, G_FROM_FILE},
	{"to-datetime", ADMIN_ARG_ONE, G_TO_DATETIME},
	{"by-duration", ADMIN_ARG_ONE, G_BY_DURATION},
	{"to-earliest", ADMIN_ARG_NONE, G_TO_EARLIEST},
	{"to-latest", ADMIN_ARG_NONE, G_TO_LATEST},
	{"to-current", ADMIN_ARG_NONE, G_TO_CURRENT},
	{"shift-by", ADMIN_ARG_ONE, G_SHIFT_BY},
	{"members", ADMIN_ARG_NONE, G_MEMBERS},
	{"verbose", ADMIN_ARG_NONE, G_VERBOSE},
	{"offsets", ADMIN_ARG_NONE, G_OFFSETS},
	{"state", ADMIN_ARG_OPTIONAL, G_STATE},
	{"help", ADMIN_ARG_NONE, G_HELP},
	{NULL, 0, 0},
};

/* The reset scenarios in the order Kafka checks them against each other. */
static const int g_scenarios[] = {
	G_TO_OFFSET, G_TO_DATETIME, G_BY_DURATION, G_TO_EARLIEST, G_TO_LATEST, G_TO_CURRENT,
	G_SHIFT_BY, G_FROM_FILE,
};

/* ================================================================ messages */

int cgt_print_error(const char *fmt, ...)
{
	va_list ap;

	printf("\nError: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return 1;
}

void cgt_note(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void cgt_exc_str(rd_kafka_resp_err_t err, const char *errstr, char *buf, size_t len)
{
	const char *cls, *name, *msg;

	if (!errstr || !*errstr)
		errstr = rd_kafka_err2str(err);
	admin_kafka_error((int16_t)err, &cls, &name, &msg);
	if (err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE)
		snprintf(buf, len, "org.apache.kafka.common.errors.TimeoutException: %s", errstr);
	else if (err == RD_KAFKA_RESP_ERR__INVALID_ARG)
		snprintf(buf, len, "java.lang.IllegalArgumentException: %s", errstr);
	else if (err < -1 || (err != -1 && strcmp(name, "UNKNOWN_SERVER_ERROR") == 0))
		/* librdkafka's own errors and codes Kafka's table here lacks: librdkafka's words */
		snprintf(buf, len, "org.apache.kafka.common.KafkaException: %s", errstr);
	else
		snprintf(buf, len, "org.apache.kafka.common.errors.%s: %s", cls, msg);
}

int cgt_failed_err(rd_kafka_resp_err_t err, const char *errstr)
{
	char buf[ERRLEN];

	cgt_exc_str(err, errstr, buf, sizeof(buf));
	return cgt_print_error(FAILED "%s", buf);
}

int cgt_failed_error(const rd_kafka_error_t *e)
{
	return cgt_failed_err(rd_kafka_error_code(e), rd_kafka_error_string(e));
}

static const char *opt_name(int id)
{
	for (const admin_opt_t *o = g_opts; o->name; o++)
		if (o->id == id)
			return o->name;
	return "?";
}

/* ================================================================ small helpers */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *num_str(char *buf, size_t len, int64_t v)
{
	if (v < 0)
		return strcpy(buf, "-");
	snprintf(buf, len, "%" PRId64, v);
	return buf;
}

/* The distinct values of v in order (the Admin API keys its futures by group). */
static char **distinct(char **v, int n, int *out)
{
	char **d = calloc((size_t)n + 1, sizeof(char *));

	if (!d)
		abort();
	*out = 0;
	for (int i = 0; i < n; i++) {
		int j = 0;
		while (j < *out && strcmp(d[j], v[i]) != 0)
			j++;
		if (j == *out)
			d[(*out)++] = v[i];
	}
	return d;
}

rd_kafka_AdminOptions_t *cgt_admin_options(ctx_t *c, rd_kafka_admin_op_t op)
{
	rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(c->rk, op);
	char errstr[256];

	rd_kafka_AdminOptions_set_request_timeout(ao, c->timeout_ms, errstr, sizeof(errstr));
	return ao;
}

rd_kafka_event_t *cgt_await(ctx_t *c, rd_kafka_event_type_t type)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(c->q, c->timeout_ms + 5000);

	if (!ev)
		return cgt_failed_err(RD_KAFKA_RESP_ERR__TIMED_OUT, "Timed out waiting for the brokers"), NULL;
	if (rd_kafka_event_error(ev) || rd_kafka_event_type(ev) != type) {
		cgt_failed_err(rd_kafka_event_error(ev) ? rd_kafka_event_error(ev) : RD_KAFKA_RESP_ERR__FAIL,
			       rd_kafka_event_error_string(ev));
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

/* ================================================================ Admin API calls */

static int cmp_listing(const void *a, const void *b)
{
	return strcmp(((const listing_t *)a)->id, ((const listing_t *)b)->id);
}

void cgt_listings_free(listing_t *v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i].id);
	free(v);
}

/* Every consumer group (in states mask, when not 0), sorted by id. 0, or 1 after printing. */
static int list_groups(ctx_t *c, unsigned mask, listing_t **out, int *n)
{
	rd_kafka_consumer_group_state_t states[CG_NSTATES];
	rd_kafka_AdminOptions_t *ao = cgt_admin_options(c, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
	size_t nstates = 0, nvalid, nerr;

	for (int k = 0; k < CG_NSTATES; k++)
		if (mask & (1u << k))
			states[nstates++] = (rd_kafka_consumer_group_state_t)k;
	if (nstates) {
		rd_kafka_error_t *e = rd_kafka_AdminOptions_set_match_consumer_group_states(ao, states, nstates);
		if (e)
			rd_kafka_error_destroy(e);
	}
	rd_kafka_ListConsumerGroups(c->rk, ao, c->q);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_event_t *ev = cgt_await(c, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT);
	if (!ev)
		return 1;
	const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
	const rd_kafka_ConsumerGroupListing_t **valid = rd_kafka_ListConsumerGroups_result_valid(res, &nvalid);
	const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
	int rc = nerr ? cgt_failed_error(errs[0]) : 0;
	if (!(*out = calloc(nvalid + 1, sizeof(**out))))
		abort();
	for (size_t i = 0; i < nvalid && !rc; i++) {
		(*out)[i].id = strdup(rd_kafka_ConsumerGroupListing_group_id(valid[i]));
		(*out)[i].state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(valid[i]));
	}
	*n = rc ? 0 : (int)nvalid;
	keel_qsort(*out, (size_t)*n, sizeof(**out), cmp_listing);
	rd_kafka_event_destroy(ev);
	return rc;
}

char **cgt_target_groups(ctx_t *c, int *n, listing_t **all, int *nall)
{
	*all = NULL;
	*nall = 0;
	if (!c->o->seen[G_ALL_GROUPS])
		return distinct(c->o->groups, c->o->ngroups, n);
	if (list_groups(c, 0, all, nall))
		return NULL;
	char **v = calloc((size_t)*nall + 1, sizeof(char *));
	if (!v)
		abort();
	for (int i = 0; i < *nall; i++)
		v[i] = (*all)[i].id;
	*n = *nall;
	return v;
}

void cgt_described_free(described_t *d)
{
	if (d->ev)
		rd_kafka_event_destroy(d->ev);
	free(d->d);
}

int cgt_describe_groups(ctx_t *c, char **groups, int n, described_t *out)
{
	size_t cnt;

	memset(out, 0, sizeof(*out));
	if (!(out->d = calloc((size_t)n + 1, sizeof(*out->d))))
		abort();
	if (n == 0)
		return 0;
	rd_kafka_AdminOptions_t *ao = cgt_admin_options(c, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
	rd_kafka_DescribeConsumerGroups(c->rk, (const char **)groups, (size_t)n, ao, c->q);
	rd_kafka_AdminOptions_destroy(ao);
	if (!(out->ev = cgt_await(c, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT)))
		return 1;
	const rd_kafka_ConsumerGroupDescription_t **res = rd_kafka_DescribeConsumerGroups_result_groups(
		rd_kafka_event_DescribeConsumerGroups_result(out->ev), &cnt);
	for (size_t i = 0; i < cnt; i++) {
		if (rd_kafka_ConsumerGroupDescription_error(res[i]))
			return cgt_failed_error(rd_kafka_ConsumerGroupDescription_error(res[i]));
		for (int j = 0; j < n; j++)
			if (strcmp(groups[j], rd_kafka_ConsumerGroupDescription_group_id(res[i])) == 0)
				out->d[j] = res[i];
	}
	for (int j = 0; j < n; j++)
		if (!out->d[j])
			return cgt_failed_err(RD_KAFKA_RESP_ERR__FAIL, "no description of the group came back");
	return 0;
}

const char *cgt_group_state(const rd_kafka_ConsumerGroupDescription_t *d)
{
	return rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d));
}

rd_kafka_topic_partition_list_t *cgt_committed(ctx_t *c, const char *group)
{
	rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
	rd_kafka_AdminOptions_t *ao = cgt_admin_options(c, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	size_t n;

	rd_kafka_ListConsumerGroupOffsets(c->rk, &req, 1, ao, c->q);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	rd_kafka_event_t *ev = cgt_await(c, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT);
	if (!ev)
		return NULL;
	const rd_kafka_group_result_t **res = rd_kafka_ListConsumerGroupOffsets_result_groups(
		rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
	const rd_kafka_error_t *e = n ? rd_kafka_group_result_error(res[0]) : NULL;
	const rd_kafka_topic_partition_list_t *got = n ? rd_kafka_group_result_partitions(res[0]) : NULL;
	rd_kafka_topic_partition_list_t *out = NULL;
	if (e) {
		cgt_failed_error(e);
	} else {
		out = rd_kafka_topic_partition_list_new(got ? got->cnt : 0);
		for (int i = 0; got && i < got->cnt; i++)
			if (!got->elems[i].err && got->elems[i].offset >= 0)
				rd_kafka_topic_partition_list_add(out, got->elems[i].topic,
								  got->elems[i].partition)->offset = got->elems[i].offset;
		rd_kafka_topic_partition_list_sort(out, NULL, NULL);
	}
	rd_kafka_event_destroy(ev);
	return out;
}

rd_kafka_topic_partition_list_t *cgt_log_offsets(ctx_t *c,
						 const rd_kafka_topic_partition_list_t *parts,
						 int64_t spec)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(parts);
	rd_kafka_resp_err_t err;

	for (int i = 0; i < l->cnt; i++)
		l->elems[i].offset = spec;
	if (l->cnt == 0)
		return l;
	if ((err = rd_kafka_offsets_for_times(c->rk, l, c->timeout_ms)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_topic_partition_list_destroy(l);
		cgt_failed_err(err, NULL);
		return NULL;
	}
	for (int i = 0; i < l->cnt; i++)
		if (l->elems[i].err)
			l->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
	return l;
}

int64_t cgt_offset_in(const rd_kafka_topic_partition_list_t *l, const char *topic, int32_t partition)
{
	const rd_kafka_topic_partition_t *p =
		l ? rd_kafka_topic_partition_list_find(l, topic, partition) : NULL;
	return p ? p->offset : RD_KAFKA_OFFSET_INVALID;
}

/* ================================================================ --list */

static int run_list(ctx_t *c)
{
	listing_t *v;
	int n, width = 15;

	if (list_groups(c, c->o->states, &v, &n))
		return 1;
	if (!c->o->seen[G_STATE]) {
		for (int i = 0; i < n; i++)
			printf("%s\n", v[i].id);
		cgt_listings_free(v, n);
		return 0;
	}
	for (int i = 0; i < n; i++)
		cg_fit_width(&width, v[i].id);
	int widths[] = {width, 0};
	cg_print_row(stdout, widths, (const char *const[]){"GROUP", "STATE"}, 2);
	for (int i = 0; i < n; i++)
		cg_print_row(stdout, widths, (const char *const[]){v[i].id, v[i].state}, 2);
	cgt_listings_free(v, n);
	return 0;
}

/* ================================================================ --describe */

/* Kafka's shouldPrintMemberState: what the state means for the reader, and whether the group
 * has a table (nrows > 0). A Dead group is an error here (*missing set), as is a state Kafka
 * does not expect (-1, the command fails). */
static int state_note(const char *group, const char *state, int nrows, bool *missing)
{
	if (strcmp(state, "Dead") == 0) {
		*missing = true;
		cgt_print_error("Consumer group '%s' does not exist.", group);
		return 0;
	}
	if (strcmp(state, "Empty") == 0)
		cgt_note("\nConsumer group '%s' has no active members.\n", group);
	else if (strcmp(state, "PreparingRebalance") == 0 || strcmp(state, "CompletingRebalance") == 0)
		cgt_note("\nWarning: Consumer group '%s' is rebalancing.\n", group);
	else if (strcmp(state, "Stable") != 0)
		return cgt_print_error(FAILED "Expected a valid consumer group state, but found '%s'.", state),
		       -1;
	return nrows > 0;
}

/* One line of the offsets table (Kafka's PartitionAssignmentState). */
typedef struct {
	const char *topic;
	int32_t partition;
	int64_t offset, leo;               /* < 0: unknown */
	const char *consumer, *host, *client;
	int order;                         /* position in the member's assignment */
} orow_t;

typedef struct {
	const char *group, *state;
	int n;
	orow_t *rows;
	rd_kafka_topic_partition_list_t *committed, *leo;
} ogroup_t;

/* Kafka sorts a member's partitions by number alone (stable) before listing them. */
static int cmp_orow(const void *a, const void *b)
{
	const orow_t *x = a, *y = b;
	if (x->partition != y->partition)
		return (x->partition > y->partition) - (x->partition < y->partition);
	return (x->order > y->order) - (x->order < y->order);
}

static size_t member_nparts(const rd_kafka_MemberDescription_t *m)
{
	return (size_t)rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m))->cnt;
}

/* Members with partitions, most partitions first, ties in the order described. */
static const rd_kafka_MemberDescription_t **
members_by_size(const rd_kafka_ConsumerGroupDescription_t *d, int *n)
{
	size_t cnt = rd_kafka_ConsumerGroupDescription_member_count(d);
	const rd_kafka_MemberDescription_t **v = calloc(cnt + 1, sizeof(*v));

	if (!v)
		abort();
	*n = 0;
	for (size_t i = 0; i < cnt; i++) {
		const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
		if (member_nparts(m) == 0)
			continue;
		int j = (*n)++;
		while (j > 0 && member_nparts(v[j - 1]) < member_nparts(m)) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = m;
	}
	return v;
}

static orow_t *add_row(ogroup_t *g, const char *topic, int32_t partition)
{
	orow_t *r = &g->rows[g->n++];

	*r = (orow_t){topic, partition, cgt_offset_in(g->committed, topic, partition), -1, "-", "-", "-", 0};
	return r;
}

/* The rows of members' partitions, then of committed partitions no member has. */
static void offset_rows(ogroup_t *g, const rd_kafka_ConsumerGroupDescription_t *d)
{
	int nm, cap = g->committed->cnt;
	const rd_kafka_MemberDescription_t **ms = members_by_size(d, &nm);

	for (int i = 0; i < nm; i++)
		cap += (int)member_nparts(ms[i]);
	if (!(g->rows = calloc((size_t)cap + 1, sizeof(*g->rows))))
		abort();
	for (int i = 0; i < nm; i++) {
		const rd_kafka_topic_partition_list_t *a =
			rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(ms[i]));
		int first = g->n;
		for (int k = 0; k < a->cnt; k++) {
			orow_t *r = add_row(g, a->elems[k].topic, a->elems[k].partition);
			r->consumer = rd_kafka_MemberDescription_consumer_id(ms[i]);
			r->host = rd_kafka_MemberDescription_host(ms[i]);
			r->client = rd_kafka_MemberDescription_client_id(ms[i]);
			r->order = k;
		}
		keel_qsort(g->rows + first, (size_t)(g->n - first), sizeof(*g->rows), cmp_orow);
	}
	int assigned = g->n;
	for (int i = 0; i < g->committed->cnt; i++) {
		const rd_kafka_topic_partition_t *p = &g->committed->elems[i];
		bool mine = false;
		for (int k = 0; k < assigned && !mine; k++)
			mine = g->rows[k].partition == p->partition && strcmp(g->rows[k].topic, p->topic) == 0;
		if (!mine)
			add_row(g, p->topic, p->partition);
	}
	free(ms);
}

/* Kafka's collectGroupsOffsets for one group: rows, committed offsets and log ends. */
static int collect_offsets(ctx_t *c, const char *group, const rd_kafka_ConsumerGroupDescription_t *d,
			   ogroup_t *g)
{
	g->group = group;
	g->state = cgt_group_state(d);
	if (!(g->committed = cgt_committed(c, group)))
		return 1;
	offset_rows(g, d);
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(g->n);
	for (int i = 0; i < g->n; i++)
		if (!rd_kafka_topic_partition_list_find(parts, g->rows[i].topic, g->rows[i].partition))
			rd_kafka_topic_partition_list_add(parts, g->rows[i].topic, g->rows[i].partition);
	g->leo = cgt_log_offsets(c, parts, RD_KAFKA_OFFSET_END);
	rd_kafka_topic_partition_list_destroy(parts);
	if (!g->leo)
		return 1;
	for (int i = 0; i < g->n; i++)
		g->rows[i].leo = cgt_offset_in(g->leo, g->rows[i].topic, g->rows[i].partition);
	return 0;
}

static void ogroup_free(ogroup_t *g)
{
	if (g->committed)
		rd_kafka_topic_partition_list_destroy(g->committed);
	if (g->leo)
		rd_kafka_topic_partition_list_destroy(g->leo);
	free(g->rows);
}

/* Kafka's printOffsets table for one group. */
static void print_offsets(const ogroup_t *g)
{
	int w[9] = {15, 15, 10, 15, 15, 15, 15, 15, 0};
	char part[16], off[24], leo[24], lag[24];

	for (int i = 0; i < g->n; i++) {
		cg_fit_width(&w[0], g->group);
		cg_fit_width(&w[1], g->rows[i].topic);
		cg_fit_width(&w[6], g->rows[i].consumer);
		cg_fit_width(&w[7], g->rows[i].host);
	}
	printf("\n");
	cg_print_row(stdout, w, (const char *const[]){"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET",
						     "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
						     "CLIENT-ID"}, 9);
	for (int i = 0; i < g->n; i++) {
		const orow_t *r = &g->rows[i];
		/* lag only when both ends are known */
		int64_t l = r->offset >= 0 && r->leo >= 0 ? r->leo - r->offset : -1;
		snprintf(part, sizeof(part), "%" PRId32, r->partition);
		cg_print_row(stdout, w, (const char *const[]){g->group, r->topic, part,
							     num_str(off, sizeof(off), r->offset),
							     num_str(leo, sizeof(leo), r->leo),
							     num_str(lag, sizeof(lag), l), r->consumer,
							     r->host, r->client}, 9);
	}
}

static int describe_offsets(ctx_t *c, char **groups, int n, const described_t *dd)
{
	ogroup_t *gs = calloc((size_t)n + 1, sizeof(*gs));
	bool missing = false;
	int rc = 0;

	if (!gs)
		abort();
	/* everything is collected before anything is printed, as Kafka does */
	for (int i = 0; i < n && !rc; i++)
		rc = collect_offsets(c, groups[i], dd->d[i], &gs[i]);
	for (int i = 0; i < n && !rc; i++) {
		int show = state_note(gs[i].group, gs[i].state, gs[i].n, &missing);
		if (show < 0)
			rc = 1;
		else if (show)
			print_offsets(&gs[i]);
	}
	for (int i = 0; i < n; i++)
		ogroup_free(&gs[i]);
	free(gs);
	return rc || missing;
}

/* One member's ASSIGNMENT column. */
static char *member_assignment(const rd_kafka_MemberDescription_t *m)
{
	const rd_kafka_topic_partition_list_t *a =
		rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
	const char **topics = calloc((size_t)a->cnt + 1, sizeof(char *));
	int32_t *parts = calloc((size_t)a->cnt + 1, sizeof(int32_t));

	if (!topics || !parts)
		abort();
	for (int i = 0; i < a->cnt; i++) {
		topics[i] = a->elems[i].topic;
		parts[i] = a->elems[i].partition;
	}
	char *s = cg_assignment_str(topics, parts, a->cnt);
	free(topics);
	free(parts);
	return s;
}

static const char *instance_id(const rd_kafka_MemberDescription_t *m)
{
	const char *s = rd_kafka_MemberDescription_group_instance_id(m);
	return s ? s : "";
}

/* A members-table line; GROUP-INSTANCE-ID (column 2) only when some member has one. */
static void print_member_row(const int *w, const char *const *cells, bool with_instance)
{
	int wv[7], n = 0;
	const char *cv[7];

	for (int i = 0; i < 7; i++)
		if (i != 2 || with_instance) {
			wv[n] = w[i];
			cv[n++] = cells[i];
		}
	cg_print_row(stdout, wv, cv, n);
}

/* Kafka's printMembers for one group. */
static void print_members(const char *group, const rd_kafka_ConsumerGroupDescription_t *d, bool verbose)
{
	size_t n = rd_kafka_ConsumerGroupDescription_member_count(d);
	int w[7] = {15, 15, 17, 15, 15, 15, 0};
	bool with_instance = false;
	char nparts[16];

	for (size_t i = 0; i < n; i++) {
		const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
		cg_fit_width(&w[0], group);
		cg_fit_width(&w[1], rd_kafka_MemberDescription_consumer_id(m));
		cg_fit_width(&w[2], instance_id(m));
		cg_fit_width(&w[3], rd_kafka_MemberDescription_host(m));
		cg_fit_width(&w[4], rd_kafka_MemberDescription_client_id(m));
		with_instance |= *instance_id(m) != '\0';
	}
	printf("\n");
	print_member_row(w, (const char *const[]){"GROUP", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST",
						  "CLIENT-ID", "#PARTITIONS", verbose ? "ASSIGNMENT" : ""},
			 with_instance);
	for (size_t i = 0; i < n; i++) {
		const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
		char *assign = verbose ? member_assignment(m) : NULL;
		snprintf(nparts, sizeof(nparts), "%zu", member_nparts(m));
		print_member_row(w, (const char *const[]){group, rd_kafka_MemberDescription_consumer_id(m),
							  instance_id(m), rd_kafka_MemberDescription_host(m),
							  rd_kafka_MemberDescription_client_id(m), nparts,
							  assign ? assign : ""},
				 with_instance);
		free(assign);
	}
}

static int describe_members(char **groups, int n, const described_t *dd, bool verbose)
{
	bool missing = false;

	for (int i = 0; i < n; i++) {
		int show = state_note(groups[i], cgt_group_state(dd->d[i]),
				      (int)rd_kafka_ConsumerGroupDescription_member_count(dd->d[i]), &missing);
		if (show < 0)
			return 1;
		if (show)
			print_members(groups[i], dd->d[i], verbose);
	}
	return missing;
}

/* Kafka's printStates: note its GROUP column takes the coordinator column's width. */
static int describe_state(char **groups, int n, const described_t *dd)
{
	char coord[512], members[16];
	bool missing = false;

	for (int i = 0; i < n; i++) {
		const rd_kafka_ConsumerGroupDescription_t *d = dd->d[i];
		int show = state_note(groups[i], cgt_group_state(d), 1, &missing);
		if (show < 0)
			return 1;
		if (!show)
			continue;
		const rd_kafka_Node_t *node = rd_kafka_ConsumerGroupDescription_coordinator(d);
		snprintf(coord, sizeof(coord), "%s:%u (%d)", rd_kafka_Node_host(node),
			 (unsigned)rd_kafka_Node_port(node), rd_kafka_Node_id(node));
		snprintf(members, sizeof(members), "%zu", rd_kafka_ConsumerGroupDescription_member_count(d));
		int w[5] = {25, 25, 20, 15, 0};
		cg_fit_width(&w[0], coord);
		const char *assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
		printf("\n");
		cg_print_row(stdout, w, (const char *const[]){"GROUP", "COORDINATOR (ID)",
							     "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"}, 5);
		cg_print_row(stdout, w, (const char *const[]){groups[i], coord, assignor ? assignor : "",
							     cgt_group_state(d), members}, 5);
	}
	return missing;
}

static int run_describe(ctx_t *c)
{
	listing_t *all;
	int n, nall, rc;
	char **groups = cgt_target_groups(c, &n, &all, &nall);
	described_t dd;

	if (!groups)
		return 1;
	/* Kafka keeps the groups in a TreeMap: by name */
	keel_qsort(groups, (size_t)n, sizeof(char *), cmp_str);
	rc = cgt_describe_groups(c, groups, n, &dd);
	if (!rc && c->o->seen[G_MEMBERS] && !c->o->seen[G_OFFSETS])
		rc = describe_members(groups, n, &dd, c->o->seen[G_VERBOSE]);
	else if (!rc && c->o->seen[G_STATE] && !c->o->seen[G_OFFSETS])
		rc = describe_state(groups, n, &dd);
	else if (!rc)
		rc = describe_offsets(c, groups, n, &dd);
	cgt_described_free(&dd);
	free(groups);
	cgt_listings_free(all, nall);
	return rc;
}

/* ================================================================ --delete */

static void print_quoted_list(char **v, int n)
{
	printf("'");
	for (int i = 0; i < n; i++)
		printf(i ? "', '%s" : "%s", v[i]);
	printf("'");
}

/* Kafka's deleteGroups report: all deleted, or the failures and then who was deleted. */
static int report_deletes(char **groups, int n, char **why)
{
	char **ok = calloc((size_t)n + 1, sizeof(char *));
	int nok = 0;

	if (!ok)
		abort();
	for (int i = 0; i < n; i++)
		if (!why[i])
			ok[nok++] = groups[i];
	if (nok == n) {
		printf("Deletion of requested consumer groups (");
		print_quoted_list(ok, nok);
		printf(") was successful.\n");
	} else {
		cgt_print_error("Deletion of some consumer groups failed:");
		for (int i = 0; i < n; i++)
			if (why[i])
				printf("* Group '%s' could not be deleted due to: "
				       "java.util.concurrent.ExecutionException: %s\n", groups[i], why[i]);
		if (nok) {
			printf("\nThese consumer groups were deleted successfully: ");
			print_quoted_list(ok, nok);
			printf("\n");
		}
	}
	free(ok);
	return nok == n ? 0 : 1;
}

/* DeleteGroups; *why[i] is the exception text of groups[i]'s failure (NULL: deleted). */
static int delete_groups(ctx_t *c, char **groups, int n, char **why)
{
	rd_kafka_DeleteGroup_t **dg = calloc((size_t)n + 1, sizeof(*dg));
	char buf[ERRLEN];
	size_t cnt;

	if (!dg)
		abort();
	for (int i = 0; i < n; i++)
		dg[i] = rd_kafka_DeleteGroup_new(groups[i]);
	rd_kafka_AdminOptions_t *ao = cgt_admin_options(c, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
	rd_kafka_DeleteGroups(c->rk, dg, (size_t)n, ao, c->q);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_DeleteGroup_destroy_array(dg, (size_t)n);
	free(dg);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(c->q, c->timeout_ms + 5000);
	rd_kafka_resp_err_t everr = ev ? rd_kafka_event_error(ev) : RD_KAFKA_RESP_ERR__TIMED_OUT;
	/* a request that failed as a whole fails every group with its error */
	cgt_exc_str(everr, ev ? rd_kafka_event_error_string(ev) : NULL, buf, sizeof(buf));
	for (int i = 0; i < n; i++)
		why[i] = everr ? strdup(buf) : NULL;
	const rd_kafka_group_result_t **res =
		everr ? NULL : rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &cnt);
	for (size_t r = 0; res && r < cnt; r++) {
		const rd_kafka_error_t *e = rd_kafka_group_result_error(res[r]);
		for (int i = 0; e && i < n; i++)
			if (strcmp(groups[i], rd_kafka_group_result_name(res[r])) == 0) {
				cgt_exc_str(rd_kafka_error_code(e), rd_kafka_error_string(e), buf, sizeof(buf));
				why[i] = strdup(buf);
			}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	return 0;
}

static int run_delete(ctx_t *c)
{
	listing_t *all;
	int n, nall, rc;
	char **groups = cgt_target_groups(c, &n, &all, &nall);

	if (!groups)
		return 1;
	char **why = calloc((size_t)n + 1, sizeof(char *));
	if (!why)
		abort();
	if (n)
		delete_groups(c, groups, n, why);
	rc = report_deletes(groups, n, why);
	cg_strings_free(why, n);
	free(groups);
	cgt_listings_free(all, nall);
	return rc;
}

/* ================================================================ options */

static int count_seen(const opts_t *o, const int *ids, int n)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += o->seen[ids[i]];
	return k;
}

/* joptsimple's availableIf, which Kafka's parser checks before anything else. */
static int check_available(const opts_t *o)
{
	static const int dep[] = {G_MEMBERS, G_VERBOSE, G_OFFSETS, G_STATE};
	char list[128] = "";

	for (size_t i = 0; i < KEEL_ARRAY_LEN(dep); i++) {
		bool ok = o->seen[G_DESCRIBE] || (dep[i] == G_STATE && o->seen[G_LIST]);
		if (o->seen[dep[i]] && !ok)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", *list ? ", " : "",
				 opt_name(dep[i]));
	}
	if (*list)
		return admin_usage_error(CMD, "Option(s) [%s] are unavailable given other options on the "
					 "command line", list);
	return 0;
}

/* Kafka's checkInvalidArgs for the reset scenarios: one at most. */
static int check_scenarios(const opts_t *o)
{
	static const int defined[] = {G_TO_OFFSET, G_SHIFT_BY, G_TO_DATETIME, G_BY_DURATION,
				      G_TO_EARLIEST, G_TO_LATEST, G_TO_CURRENT, G_FROM_FILE};

	for (size_t i = 0; i < KEEL_ARRAY_LEN(g_scenarios); i++)
		for (size_t j = 0; o->seen[g_scenarios[i]] && j < KEEL_ARRAY_LEN(defined); j++)
			if (defined[j] != g_scenarios[i] && o->seen[defined[j]])
				return admin_usage_error(CMD, "Option \"[%s]\" can't be used with option \"[%s]\"",
							 opt_name(g_scenarios[i]), opt_name(defined[j]));
	return 0;
}

static int check_describe(const opts_t *o)
{
	static const int sub[] = {G_MEMBERS, G_OFFSETS, G_STATE};

	if (!o->seen[G_GROUP] && !o->seen[G_ALL_GROUPS])
		return admin_usage_error(CMD, "Option [describe] takes one of these options: [group], "
					 "[all-groups]");
	if (count_seen(o, sub, 3) > 1)
		return admin_usage_error(CMD, "Option [describe] takes at most one of these options: "
					 "[members], [offsets], [state]");
	if (o->seen[G_STATE] && o->val[G_STATE])
		return admin_usage_error(CMD, "Option [describe] does not take a value for [state]");
	return 0;
}

static int check_reset(const opts_t *o)
{
	if (o->seen[G_DRY_RUN] && o->seen[G_EXECUTE])
		return admin_usage_error(CMD, "Option [reset-offsets] only accepts one of [execute] and "
					 "[dry-run]");
	if (!o->seen[G_DRY_RUN] && !o->seen[G_EXECUTE])
		cgt_note("WARN: No action will be performed as the --execute option is missing.In a future "
		         "major release, the default behavior of this command will be to prompt the user "
		         "before executing the reset rather than doing a dry run. You should add the "
		         "--dry-run option explicitly if you are scripting this command and want to keep "
		         "the current default behavior without prompting.\n");
	if (!o->seen[G_GROUP] && !o->seen[G_ALL_GROUPS])
		return admin_usage_error(CMD, "Option [reset-offsets] takes one of these options: [group], "
					 "[all-groups]");
	return check_scenarios(o);
}

/* Kafka's checkArgs, in its order, then its one-action rule. 0, or 1 after a usage error. */
static int check_args(const opts_t *o)
{
	static const int actions[] = {G_LIST, G_DESCRIBE, G_DELETE, G_RESET, G_DELETE_OFFSETS};
	const bool *seen = o->seen;

	if (check_available(o))
		return 1;
	if (!seen[G_BOOTSTRAP])
		return admin_usage_error(CMD, "Missing required argument \"[bootstrap-server]\"");
	if (seen[G_DESCRIBE] && check_describe(o))
		return 1;
	if (seen[G_DELETE] && !seen[G_GROUP] && !seen[G_ALL_GROUPS])
		return admin_usage_error(CMD, "Option [delete] takes one of these options: [group], "
					 "[all-groups]");
	if (seen[G_DELETE] && seen[G_TOPIC])
		return admin_usage_error(CMD, "The consumer does not support topic-specific offset "
					 "deletion from a consumer group.");
	if (seen[G_DELETE_OFFSETS] && (!seen[G_GROUP] || !seen[G_TOPIC]))
		return admin_usage_error(CMD, "Option [delete-offsets] takes the following options: "
					 "[group], [topic]");
	if (seen[G_RESET] && check_reset(o))
		return 1;
	if (seen[G_GROUP] && (seen[G_ALL_GROUPS] || seen[G_LIST]))
		return admin_usage_error(CMD, "Option \"[group]\" can't be used with option \"[%s]\"",
					 seen[G_ALL_GROUPS] ? "all-groups" : "list");
	if (seen[G_TOPIC] && (seen[G_LIST] || seen[G_DESCRIBE]))
		return admin_usage_error(CMD, "Option \"[topic]\" can't be used with option \"[%s]\"",
					 seen[G_LIST] ? "list" : "describe");
	if (count_seen(o, actions, 5) != 1)
		return admin_usage_error(CMD, "Command must include exactly one action: --list, --describe, "
					 "--delete, --reset-offsets, --delete-offsets");
	return 0;
}

static void push(char ***v, int *n, const char *s)
{
	if (!(*v = realloc(*v, sizeof(char *) * (size_t)(*n + 1))))
		abort();
	(*v)[(*n)++] = (char *)s;
}

/* Record one option; numbers are checked as joptsimple converts them. 0, or 1 after a usage
 * error. */
static int parse_opt(opts_t *o, int id, const char *val)
{
	int64_t *num = id == G_TIMEOUT ? &o->timeout_ms : id == G_TO_OFFSET ? &o->to_offset
		     : id == G_SHIFT_BY ? &o->shift_by : NULL;

	o->seen[id] = true;
	o->val[id] = val;
	if (id == G_GROUP)
		push(&o->groups, &o->ngroups, val);
	else if (id == G_TOPIC)
		push(&o->topics, &o->ntopics, val);
	else if (id == G_COMMAND_CONFIG && admin_kv_load_file(&o->props, val) < 0)
		return admin_error(CMD, "cannot read %s: %s", val, strerror(errno));
	if (num && admin_parse_int(val, INT64_MIN, INT64_MAX, num) < 0)
		return admin_usage_error(CMD, "Cannot parse argument '%s' of option %s", val, opt_name(id));
	return 0;
}

static int run_action(ctx_t *c)
{
	const bool *seen = c->o->seen;

	if (seen[G_LIST])
		return run_list(c);
	if (seen[G_DESCRIBE])
		return run_describe(c);
	if (seen[G_DELETE])
		return run_delete(c);
	if (seen[G_RESET])
		return cgt_run_reset(c);
	return cgt_run_delete_offsets(c);
}

/* The Admin API client (a producer handle, as keel-topics.sh's) and run the action. */
static int run(opts_t *o)
{
	ctx_t c = {.o = o, .timeout_ms = o->timeout_ms > INT32_MAX - 5000 ? INT32_MAX - 5000
					 : o->timeout_ms < 0 ? 0 : (int)o->timeout_ms};
	const char *sv = o->val[G_STATE];
	rd_kafka_conf_t *conf;
	char errstr[512];
	int rc;

	/* Kafka reads a --list --state value just before listing: nothing is sent before that */
	if (o->seen[G_LIST] && sv && *sv && cg_parse_states(sv, &o->states, errstr, sizeof(errstr)) < 0)
		return admin_usage_error(CMD, "%s", errstr);
	if (!(conf = admin_rk_conf(CMD, o->val[G_BOOTSTRAP], &o->props)))
		return 1;
	if (!(c.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)))) {
		rd_kafka_conf_destroy(conf);
		return admin_error(CMD, "%s", errstr);
	}
	c.q = rd_kafka_queue_new(c.rk);
	rc = run_action(&c);
	cg_plan_free(c.plan, c.nplan);
	rd_kafka_queue_destroy(c.q);
	rd_kafka_destroy(c.rk);
	return rc;
}

static int consumer_groups_run(int argc, char **argv)
{
	opts_t o = {.timeout_ms = DEFAULT_TIMEOUT_MS};
	admin_parser_t p;
	const char *val;
	int id, rc = 1;

	admin_parser_init(&p, CMD, argc, argv);
	while ((id = admin_getopt(&p, g_opts, &val)) > 0) {
		if (id == G_HELP) {
			rc = admin_help(CMD);
			goto out;
		}
		if (parse_opt(&o, id, val))
			goto out;
	}
	if (id != ADMIN_OPT_ERROR && check_args(&o) == 0)
		rc = run(&o);
out:
	free(o.groups);
	free(o.topics);
	admin_kv_free(&o.props);
	return rc;
}

const admin_cmd_t admin_cmd_consumer_groups = {
	.name = "consumer-groups",
	.script = "keel-consumer-groups.sh",
	.usage = g_usage,
	.run = consumer_groups_run,
};
