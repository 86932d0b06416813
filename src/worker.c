/* src/worker.c: the disk worker: a thread draining a queue of closures, and running delayed
 * ones when they are due. */
#include "worker.h"
#include "keel.h"
#include "mq.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct job {
	void (*fn)(void *);
	void *arg;
	int64_t due;      /* keel_mono_ms(); delayed jobs only */
	struct job *next; /* delayed jobs, soonest first (the worker thread's) */
} job_t;

struct keel_worker {
	keel_mq_t *q;
	pthread_t thread;
};

enum { JOB_RUN = 1, JOB_STOP = 2, JOB_LATER = 3 };

static void run_job(job_t *j)
{
	j->fn(j->arg);
	free(j);
}

static void *worker_main(void *arg)
{
	keel_worker_t *w = arg;
	job_t *later = NULL;
	for (;;) {
		keel_msg_t m;
		int64_t now = keel_mono_ms(), wait = -1;
		while (later && later->due <= now) {
			job_t *j = later;
			later = j->next;
			run_job(j);
		}
		if (later)
			wait = later->due - now < INT32_MAX ? later->due - now : INT32_MAX;
		if (keel_mq_wait(w->q, &m, (int)wait) != 0)
			continue;
		if (m.type == JOB_STOP) {
			while (later) { /* stopping: what was to wait runs now */
				job_t *j = later;
				later = j->next;
				run_job(j);
			}
			return NULL;
		}
		job_t *j = m.payload;
		if (m.type == JOB_LATER) {
			job_t **pp = &later;
			while (*pp && (*pp)->due <= j->due)
				pp = &(*pp)->next;
			j->next = *pp;
			*pp = j;
			continue;
		}
		run_job(j);
	}
}

keel_worker_t *keel_worker_start(void)
{
	keel_worker_t *w = calloc(1, sizeof(*w));
	if (!w || !(w->q = keel_mq_new())) {
		free(w);
		return NULL;
	}
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		keel_mq_free(w->q);
		free(w);
		return NULL;
	}
	return w;
}

void keel_worker_submit_after(keel_worker_t *w, int64_t delay_ms, void (*fn)(void *), void *arg)
{
	job_t *j = malloc(sizeof(*j));
	if (!j) { /* cannot queue: do it here rather than lose it */
		fn(arg);
		return;
	}
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	if (delay_ms <= 0) {
		keel_mq_post(w->q, JOB_RUN, j);
		return;
	}
	j->due = delay_ms < INT64_MAX - keel_mono_ms() ? keel_mono_ms() + delay_ms : INT64_MAX;
	keel_mq_post(w->q, JOB_LATER, j);
}

void keel_worker_submit(keel_worker_t *w, void (*fn)(void *), void *arg)
{
	keel_worker_submit_after(w, 0, fn, arg);
}

void keel_worker_stop(keel_worker_t *w)
{
	if (!w)
		return;
	keel_mq_post(w->q, JOB_STOP, NULL); /* after every queued job: the queue is FIFO */
	pthread_join(w->thread, NULL);
	keel_mq_free(w->q);
	free(w);
}
