/* src/worker.c: the disk worker: a thread draining a queue of closures. */
#include "worker.h"
#include "mq.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
	void (*fn)(void *);
	void *arg;
} job_t;

struct keel_worker {
	keel_mq_t *q;
	pthread_t thread;
};

enum { JOB_RUN = 1, JOB_STOP = 2 };

static void *worker_main(void *arg)
{
	keel_worker_t *w = arg;
	for (;;) {
		keel_msg_t m;
		if (keel_mq_wait(w->q, &m, -1) != 0)
			continue;
		if (m.type == JOB_STOP)
			return NULL;
		job_t *j = m.payload;
		j->fn(j->arg);
		free(j);
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

void keel_worker_submit(keel_worker_t *w, void (*fn)(void *), void *arg)
{
	job_t *j = malloc(sizeof(*j));
	if (!j) { /* cannot queue: do it here rather than lose it */
		fn(arg);
		return;
	}
	j->fn = fn;
	j->arg = arg;
	keel_mq_post(w->q, JOB_RUN, j);
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
