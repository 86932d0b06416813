/* tests/unit/worker_gate.c: see worker_gate.h. */
#include "worker_gate.h"

#include <check.h>
#include <unistd.h>

/* g_gate: a worker job reads a byte from it, so jobs queued after it wait for gate_open.
 * g_done: a fence job writes a byte to it, so the test can wait for the jobs before it. */
static int g_gate[2], g_done[2];

static void gate_job(void *arg)
{
	char c;

	(void)arg;
	ck_assert_int_eq(read(g_gate[0], &c, 1), 1);
}

static void fence_job(void *arg)
{
	(void)arg;
	ck_assert_int_eq(write(g_done[1], "x", 1), 1);
}

keel_worker_t *gated_worker(void)
{
	keel_worker_t *w = keel_worker_start();

	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(pipe(g_gate), 0);
	ck_assert_int_eq(pipe(g_done), 0);
	keel_worker_submit(w, gate_job, NULL);
	return w;
}

void gate_open(void)
{
	ck_assert_int_eq(write(g_gate[1], "x", 1), 1);
}

/* Wait until every job queued so far has run. */
void worker_fence(keel_worker_t *w)
{
	char c;

	keel_worker_submit(w, fence_job, NULL);
	ck_assert_int_eq(read(g_done[0], &c, 1), 1);
}

void gated_worker_stop(keel_worker_t *w)
{
	keel_worker_stop(w);
	for (int i = 0; i < 2; i++) {
		close(g_gate[i]);
		close(g_done[i]);
	}
}
