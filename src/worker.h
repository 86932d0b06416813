/* src/worker.h: one background thread for blocking disk work (checkpoint files with fsync), so
 * the event loop never waits on the disk. Jobs run in submission order. */
#ifndef KEEL_WORKER_H
#define KEEL_WORKER_H

typedef struct keel_worker keel_worker_t;

keel_worker_t *keel_worker_start(void);
/* Run fn(arg) on the worker thread; fn owns arg. Any thread. */
void keel_worker_submit(keel_worker_t *w, void (*fn)(void *), void *arg);
/* Run every queued job, then join the thread and free w. */
void keel_worker_stop(keel_worker_t *w);

#endif
