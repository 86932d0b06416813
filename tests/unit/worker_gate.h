/* tests/unit/worker_gate.h: a disk worker held at a gate, for tests of work it does in the
 * background: jobs queued after gated_worker() wait until gate_open(); worker_fence() waits
 * until every job queued so far has run. */
#ifndef KEEL_TEST_WORKER_GATE_H
#define KEEL_TEST_WORKER_GATE_H

#include "worker.h"

keel_worker_t *gated_worker(void);
void gate_open(void);
void worker_fence(keel_worker_t *w);
void gated_worker_stop(keel_worker_t *w);

#endif
