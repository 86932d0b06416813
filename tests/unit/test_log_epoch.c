/* tests/unit/test_log_epoch.c: Check suite for a log's leader-epoch cache and its leader-epoch-checkpoint file. */
#include "suites.h"
#include "batch.h"
#include "log.h"
#include "worker_gate.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char e_tmp[64];
static char e_dir[128];
static char e_ckpt[192];

static void setup_dir(void)
{
	strcpy(e_tmp, "/tmp/keel_epoch_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e_tmp));
	snprintf(e_dir, sizeof(e_dir), "%s/t-0", e_tmp);
	snprintf(e_ckpt, sizeof(e_ckpt), "%s/leader-epoch-checkpoint", e_dir);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void teardown_dir(void)
{
	nftw(e_tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static keel_log_t *open_log_with(keel_worker_t *w, int64_t rp, bool clean, int64_t start)
{
	keel_log_config_t c = {
		.segment_bytes = 1 << 30,
		.segment_ms = INT64_MAX,
		.index_interval_bytes = 4096,
		.index_size_max_bytes = 1 << 20,
		.flush_interval_messages = INT64_MAX,
		.flush_interval_ms = INT64_MAX,
	};
	keel_log_t *log = NULL;

	ck_assert_int_eq(keel_log_open(e_dir, &c, w, rp, clean, start, &log), KEEL_OK);
	return log;
}

static keel_log_t *open_log(int64_t rp, bool clean, int64_t start)
{
	return open_log_with(NULL, rp, clean, start);
}

/* Leader append of n records stamped with epoch; returns the base offset. */
static int64_t append_epoch(keel_log_t *log, int n, int32_t epoch)
{
	size_t len;
	uint8_t *b = keel_batch_build(0, 1000, n, NULL, NULL, &len);
	int64_t base = -1;

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(keel_log_append(log, b, len, epoch, 1000, &base), KEEL_OK);
	ck_assert_int_eq(kb_get32(b + KB_OFF_LEADER_EPOCH), epoch);
	free(b);
	return base;
}

/* Follower copy of n records at the LEO whose header carries epoch. */
static void append_raw_epoch(keel_log_t *log, int n, int32_t epoch)
{
	size_t len;
	uint8_t *b = keel_batch_build(0, 1000, n, NULL, NULL, &len);

	ck_assert_ptr_nonnull(b);
	kb_put64(b + KB_OFF_BASE_OFFSET, keel_log_end_offset(log));
	kb_put32(b + KB_OFF_LEADER_EPOCH, epoch);
	ck_assert_int_eq(keel_log_append_raw(log, b, len, 1000), KEEL_OK);
	free(b);
}

/* The checkpoint file's text ("" if missing), in a static buffer. */
static const char *ckpt_text(void)
{
	static char buf[4096];
	FILE *f = fopen(e_ckpt, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void expect_end(keel_log_t *log, int32_t req, int32_t want_epoch, int64_t want_end)
{
	int32_t e = 42;
	int64_t o = 42;
	int rc = keel_log_end_offset_for_epoch(log, req, &e, &o);

	ck_assert_msg(e == want_epoch && o == want_end, "epoch %d: got (%d, %lld), want (%d, %lld)",
		      req, e, (long long)o, want_epoch, (long long)want_end);
	ck_assert_int_eq(rc, want_epoch < 0 ? KEEL_NOTFOUND : KEEL_OK);
}

/* (0,0), (3,100), (5,250) and LEO 400, through explicit assigns. */
static keel_log_t *three_epochs(void)
{
	keel_log_t *log = open_log(0, false, -1);

	ck_assert_int_eq(keel_log_epoch_assign(log, 0, 0), KEEL_OK);
	append_epoch(log, 100, 0);
	ck_assert_int_eq(keel_log_epoch_assign(log, 3, 100), KEEL_OK);
	append_epoch(log, 150, 3);
	ck_assert_int_eq(keel_log_epoch_assign(log, 5, 250), KEEL_OK);
	append_epoch(log, 150, 5);
	ck_assert_int_eq(keel_log_end_offset(log), 400);
	return log;
}

START_TEST(test_empty_cache)
{
	keel_log_t *log = open_log(0, false, -1);

	ck_assert_int_eq(keel_log_latest_epoch(log), -1);
	expect_end(log, 0, -1, -1);
	expect_end(log, 7, -1, -1);
	expect_end(log, -1, -1, -1);
	ck_assert_str_eq(ckpt_text(), "0\n0\n"); /* Kafka writes the empty file with every log */
	keel_log_close(log);
}
END_TEST

START_TEST(test_end_offset_for_epoch)
{
	keel_log_t *log = three_epochs();

	ck_assert_int_eq(keel_log_latest_epoch(log), 5);
	expect_end(log, 0, 0, 100);
	expect_end(log, 1, 0, 100);
	expect_end(log, 2, 0, 100);
	expect_end(log, 3, 3, 250);
	expect_end(log, 4, 3, 250);
	expect_end(log, 5, 5, 400);
	expect_end(log, 9, -1, -1); /* newer than any known epoch: undefined (Kafka 2.8) */
	expect_end(log, -1, -1, -1);
	ck_assert_str_eq(ckpt_text(), "0\n3\n0 0\n3 100\n5 250\n");
	keel_log_close(log);
}
END_TEST

START_TEST(test_below_first_epoch)
{
	keel_log_t *log = open_log(0, false, -1);

	append_epoch(log, 10, 4);
	append_epoch(log, 10, 6);
	/* older than every entry: the requested epoch ends where the first one starts */
	expect_end(log, 3, 3, 0);
	expect_end(log, 0, 0, 0);
	expect_end(log, 4, 4, 10);
	expect_end(log, 5, 4, 10);
	expect_end(log, 6, 6, 20);
	keel_log_close(log);
}
END_TEST

START_TEST(test_assign_rules)
{
	keel_log_t *log = open_log(0, false, -1);

	append_epoch(log, 50, 2); /* (2,0) */
	ck_assert_str_eq(ckpt_text(), "0\n1\n2 0\n");
	ck_assert_int_eq(keel_log_epoch_assign(log, 2, 30), KEEL_OK); /* same epoch, later: ignored */
	ck_assert_str_eq(ckpt_text(), "0\n1\n2 0\n");
	ck_assert_int_eq(keel_log_epoch_assign(log, 4, 20), KEEL_OK);
	ck_assert_int_eq(keel_log_epoch_assign(log, 6, 40), KEEL_OK);
	ck_assert_str_eq(ckpt_text(), "0\n3\n2 0\n4 20\n6 40\n");
	ck_assert_int_eq(keel_log_epoch_assign(log, 6, 30), KEEL_OK); /* same epoch, earlier start */
	ck_assert_str_eq(ckpt_text(), "0\n3\n2 0\n4 20\n6 30\n");
	ck_assert_int_eq(keel_log_epoch_assign(log, 5, 25), KEEL_OK); /* lower epoch drops 6 */
	ck_assert_str_eq(ckpt_text(), "0\n3\n2 0\n4 20\n5 25\n");
	ck_assert_int_eq(keel_log_epoch_assign(log, 7, 10), KEEL_OK); /* earlier start drops 4, 5 */
	ck_assert_str_eq(ckpt_text(), "0\n2\n2 0\n7 10\n");
	ck_assert_int_eq(keel_log_latest_epoch(log), 7);
	ck_assert_int_eq(keel_log_epoch_assign(log, -1, 60), KEEL_ERR);
	ck_assert_int_eq(keel_log_epoch_assign(log, 8, -1), KEEL_ERR);
	ck_assert_str_eq(ckpt_text(), "0\n2\n2 0\n7 10\n");
	keel_log_close(log);
}
END_TEST

START_TEST(test_persist_across_reopen)
{
	keel_log_t *log = three_epochs();
	char tmp[256];

	ck_assert_int_eq(keel_log_flush(log), KEEL_OK);
	keel_log_close(log);
	snprintf(tmp, sizeof(tmp), "%s.tmp", e_ckpt);
	ck_assert(access(tmp, F_OK) != 0);
	log = open_log(400, true, -1);
	ck_assert_int_eq(keel_log_latest_epoch(log), 5);
	expect_end(log, 4, 3, 250);
	expect_end(log, 7, -1, -1);
	ck_assert_str_eq(ckpt_text(), "0\n3\n0 0\n3 100\n5 250\n");
	keel_log_close(log);
	log = open_log(0, false, -1); /* recovery keeps the same entries */
	ck_assert_str_eq(ckpt_text(), "0\n3\n0 0\n3 100\n5 250\n");
	expect_end(log, 3, 3, 250);
	keel_log_close(log);
}
END_TEST

START_TEST(test_appends_create_entries)
{
	keel_log_t *log = open_log(0, false, -1);

	ck_assert_int_eq(append_epoch(log, 5, 1), 0);
	ck_assert_int_eq(append_epoch(log, 5, 1), 5);
	ck_assert_int_eq(append_epoch(log, 3, 4), 10);
	ck_assert_int_eq(append_epoch(log, 2, 4), 13);
	ck_assert_int_eq(append_epoch(log, 7, 9), 15);
	ck_assert_str_eq(ckpt_text(), "0\n3\n1 0\n4 10\n9 15\n");
	ck_assert_int_eq(keel_log_latest_epoch(log), 9);
	expect_end(log, 1, 1, 10);
	expect_end(log, 9, 9, 22);
	keel_log_close(log);
}
END_TEST

START_TEST(test_append_raw_uses_batch_epoch)
{
	keel_log_t *log = open_log(0, false, -1);

	append_raw_epoch(log, 4, -1); /* no epoch: nothing recorded */
	ck_assert_int_eq(keel_log_latest_epoch(log), -1);
	append_raw_epoch(log, 4, 2);
	append_raw_epoch(log, 4, 2);
	append_raw_epoch(log, 4, 3);
	ck_assert_str_eq(ckpt_text(), "0\n2\n2 4\n3 12\n");
	expect_end(log, 2, 2, 12);
	expect_end(log, 1, 1, 4);
	keel_log_close(log);
}
END_TEST

START_TEST(test_truncate_drops_later_epochs)
{
	keel_log_t *log = three_epochs();

	ck_assert_int_eq(keel_log_truncate_to(log, 400), KEEL_OK); /* nothing to cut */
	ck_assert_str_eq(ckpt_text(), "0\n3\n0 0\n3 100\n5 250\n");
	ck_assert_int_eq(keel_log_truncate_to(log, 250), KEEL_OK);
	ck_assert_int_eq(keel_log_end_offset(log), 250);
	ck_assert_str_eq(ckpt_text(), "0\n2\n0 0\n3 100\n");
	ck_assert_int_eq(keel_log_latest_epoch(log), 3);
	expect_end(log, 5, -1, -1); /* newer than the latest after truncation */
	ck_assert_int_eq(keel_log_truncate_to(log, 100), KEEL_OK);
	ck_assert_str_eq(ckpt_text(), "0\n1\n0 0\n");
	/* a new leader epoch after the truncation starts at the new end */
	ck_assert_int_eq(append_epoch(log, 10, 6), 100);
	ck_assert_str_eq(ckpt_text(), "0\n2\n0 0\n6 100\n");
	expect_end(log, 3, 0, 100);
	expect_end(log, 6, 6, 110);
	/* a cut inside the first batch goes back to its base: every entry goes */
	ck_assert_int_eq(keel_log_truncate_to(log, 50), KEEL_OK);
	ck_assert_int_eq(keel_log_end_offset(log), 0);
	ck_assert_str_eq(ckpt_text(), "0\n0\n");
	keel_log_close(log);
}
END_TEST

START_TEST(test_truncate_fully_clears)
{
	keel_log_t *log = open_log(0, false, 100); /* empty log starting at 100 */

	ck_assert_int_eq(append_epoch(log, 10, 1), 100);
	ck_assert_str_eq(ckpt_text(), "0\n1\n1 100\n");
	ck_assert_int_eq(keel_log_truncate_to(log, 20), KEEL_OK);
	ck_assert_int_eq(keel_log_end_offset(log), 20);
	ck_assert_int_eq(keel_log_latest_epoch(log), -1);
	ck_assert_str_eq(ckpt_text(), "0\n0\n");
	keel_log_close(log);
}
END_TEST

START_TEST(test_leader_epoch_at_leo)
{
	keel_log_t *log = open_log(0, false, -1);

	append_epoch(log, 10, 1);
	ck_assert_int_eq(keel_log_epoch_assign(log, 2, 10), KEEL_OK); /* makeLeader, no data yet */
	expect_end(log, 2, 2, 10);
	expect_end(log, 1, 1, 10);
	append_epoch(log, 5, 2); /* same epoch: no new entry */
	ck_assert_str_eq(ckpt_text(), "0\n2\n1 0\n2 10\n");
	ck_assert_int_eq(keel_log_epoch_assign(log, 3, 15), KEEL_OK);
	keel_log_close(log);
	/* Kafka's truncateFromEnd(LEO) on open drops an epoch that has no data yet */
	log = open_log(15, true, -1);
	ck_assert_str_eq(ckpt_text(), "0\n2\n1 0\n2 10\n");
	ck_assert_int_eq(keel_log_latest_epoch(log), 2);
	keel_log_close(log);
}
END_TEST

START_TEST(test_open_drops_entries_past_leo)
{
	keel_log_t *log = open_log(0, false, -1);

	append_epoch(log, 10, 1);
	keel_log_close(log);
	write_text(e_ckpt, "0\n3\n1 0\n4 10\n7 1000\n");
	log = open_log(10, true, -1);
	ck_assert_str_eq(ckpt_text(), "0\n1\n1 0\n");
	ck_assert_int_eq(keel_log_latest_epoch(log), 1);
	keel_log_close(log);
}
END_TEST

START_TEST(test_start_offset_clamps)
{
	keel_log_t *log = three_epochs();

	keel_log_close(log);
	log = open_log(400, true, 120);
	ck_assert_int_eq(keel_log_start_offset(log), 120);
	ck_assert_str_eq(ckpt_text(), "0\n2\n3 120\n5 250\n");
	expect_end(log, 0, 0, 120); /* older than the first entry: it ends where that one starts */
	expect_end(log, 3, 3, 250);
	keel_log_close(log);
	log = open_log(400, true, 250);
	ck_assert_str_eq(ckpt_text(), "0\n1\n5 250\n");
	keel_log_close(log);
}
END_TEST

START_TEST(test_recovery_rebuilds_missing_file)
{
	keel_log_t *log = open_log(0, false, -1);

	append_epoch(log, 3, 1);
	append_epoch(log, 3, 1);
	append_epoch(log, 3, 2);
	append_raw_epoch(log, 3, -1);
	append_epoch(log, 3, 5);
	keel_log_close(log);
	ck_assert_int_eq(unlink(e_ckpt), 0);
	/* a clean open trusts the (missing) file: empty cache */
	log = open_log(15, true, -1);
	ck_assert_int_eq(keel_log_latest_epoch(log), -1);
	keel_log_close(log);
	/* an unclean open re-reads the batches and rebuilds it */
	log = open_log(0, false, -1);
	ck_assert_str_eq(ckpt_text(), "0\n3\n1 0\n2 6\n5 12\n");
	expect_end(log, 2, 2, 12);
	keel_log_close(log);
}
END_TEST

START_TEST(test_recovery_extends_cache)
{
	keel_log_t *log = open_log(0, false, -1);

	append_epoch(log, 3, 1);
	append_epoch(log, 3, 4);
	keel_log_close(log);
	write_text(e_ckpt, "0\n1\n1 0\n"); /* the epoch 4 entry was lost */
	log = open_log(3, false, -1);
	ck_assert_str_eq(ckpt_text(), "0\n2\n1 0\n4 3\n");
	keel_log_close(log);
}
END_TEST

static const char *const bad_ckpts[] = {
	"1\n1\n1 0\n",          /* unknown version */
	"0\n2\n1 0\n",          /* fewer entries than the count */
	"0\n1\n1 0\n2 3\n",     /* more entries than the count */
	"0\n1\nx 0\n",          /* not a number */
	"0\n1\n1\n",            /* missing field */
	"0\n1\n1 0 9\n",        /* extra field */
	"0\n1\n-1 0\n",         /* negative epoch */
	"0\n1\n1 -5\n",         /* negative offset */
	"0\n",                  /* no count */
	"garbage",
};

START_TEST(test_malformed_checkpoint)
{
	keel_log_t *log = open_log(0, false, -1);

	append_epoch(log, 4, 2);
	append_epoch(log, 4, 3);
	keel_log_close(log);
	write_text(e_ckpt, bad_ckpts[_i]);
	log = open_log(8, true, -1); /* clean: only the malformed file triggers the rebuild */
	ck_assert_str_eq(ckpt_text(), "0\n2\n2 0\n3 4\n");
	expect_end(log, 2, 2, 4);
	keel_log_close(log);
}
END_TEST

START_TEST(test_empty_checkpoint_file)
{
	keel_log_t *log = open_log(0, false, -1);

	keel_log_close(log);
	write_text(e_ckpt, "");
	log = open_log(0, true, -1);
	ck_assert_int_eq(keel_log_latest_epoch(log), -1);
	append_epoch(log, 2, 3);
	ck_assert_str_eq(ckpt_text(), "0\n1\n3 0\n");
	keel_log_close(log);
}
END_TEST

/* With a worker the checkpoint is written in the background, newest snapshot only, and a
 * flush writes it at once; a write the flush made is never undone by a queued older one. */
START_TEST(test_background_writes)
{
	keel_worker_t *w = gated_worker();
	keel_log_t *log = open_log_with(w, 0, false, -1);

	ck_assert_int_eq(keel_log_epoch_assign(log, 1, 0), KEEL_OK);
	append_epoch(log, 5, 1);
	ck_assert_int_eq(keel_log_epoch_assign(log, 2, 5), KEEL_OK);
	ck_assert_str_eq(ckpt_text(), ""); /* not yet: the worker is held */
	ck_assert_int_eq(keel_log_flush(log), KEEL_OK);
	ck_assert_str_eq(ckpt_text(), "0\n2\n1 0\n2 5\n");
	append_epoch(log, 5, 2);
	ck_assert_int_eq(keel_log_epoch_assign(log, 4, 10), KEEL_OK);
	ck_assert_str_eq(ckpt_text(), "0\n2\n1 0\n2 5\n");
	gate_open();
	worker_fence(w);
	ck_assert_str_eq(ckpt_text(), "0\n3\n1 0\n2 5\n4 10\n");
	keel_log_set_worker(log, NULL);
	gated_worker_stop(w);
	keel_log_close(log);
	log = open_log(10, true, -1); /* (4, 10) starts at the LEO: dropped on open */
	expect_end(log, 2, 2, 10);
	keel_log_close(log);
}
END_TEST

/* A write still queued when the log is deleted must not land in a log created again in the
 * same directory (a topic deleted and created again); one queued at a clean close is written
 * by the close. */
START_TEST(test_background_write_after_close)
{
	keel_worker_t *w = gated_worker();
	keel_log_t *log = open_log_with(w, 0, false, -1);
	struct stat st;

	ck_assert_int_eq(keel_log_epoch_assign(log, 3, 0), KEEL_OK);
	keel_log_close(log);
	ck_assert_str_eq(ckpt_text(), "0\n1\n3 0\n");
	log = open_log_with(w, 0, true, -1);
	ck_assert_int_eq(keel_log_epoch_assign(log, 4, 0), KEEL_OK);
	ck_assert_int_eq(keel_log_delete(log), KEEL_OK);
	ck_assert_int_ne(stat(e_dir, &st), 0);
	log = open_log(0, true, -1);
	ck_assert_str_eq(ckpt_text(), "0\n0\n");
	gate_open();
	worker_fence(w);
	gated_worker_stop(w);
	ck_assert_str_eq(ckpt_text(), "0\n0\n");
	keel_log_close(log);
}
END_TEST

Suite *suite_log_epoch(void)
{
	Suite *s = suite_create("log_epoch");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_test(tc, test_empty_cache);
	tcase_add_test(tc, test_end_offset_for_epoch);
	tcase_add_test(tc, test_below_first_epoch);
	tcase_add_test(tc, test_assign_rules);
	tcase_add_test(tc, test_persist_across_reopen);
	tcase_add_test(tc, test_appends_create_entries);
	tcase_add_test(tc, test_append_raw_uses_batch_epoch);
	tcase_add_test(tc, test_truncate_drops_later_epochs);
	tcase_add_test(tc, test_truncate_fully_clears);
	tcase_add_test(tc, test_leader_epoch_at_leo);
	tcase_add_test(tc, test_open_drops_entries_past_leo);
	tcase_add_test(tc, test_start_offset_clamps);
	tcase_add_test(tc, test_recovery_rebuilds_missing_file);
	tcase_add_test(tc, test_recovery_extends_cache);
	tcase_add_loop_test(tc, test_malformed_checkpoint, 0, (int)KEEL_ARRAY_LEN(bad_ckpts));
	tcase_add_test(tc, test_empty_checkpoint_file);
	tcase_add_test(tc, test_background_writes);
	tcase_add_test(tc, test_background_write_after_close);
	suite_add_tcase(s, tc);
	return s;
}
