/* src/shutdown.h: a broker's side of controlled shutdown: ask the controller to move this
 * broker's leaderships away before it stops (controlled.shutdown.*). Loop thread. */
#ifndef KEEL_SHUTDOWN_H
#define KEEL_SHUTDOWN_H

#include "broker.h"

#define KEEL_MSG_SHUTDOWN_RESULT 100 /* loop-internal mq message: payload keel_shutdown_result_t* */

typedef struct {
	int16_t error;      /* Kafka error code, or -1 when the controller could not be reached */
	int32_t remaining;  /* replicated partitions still led by this broker */
} keel_shutdown_result_t;

/* SIGTERM: start a controlled shutdown (or stop at once if disabled or already under way). */
void keel_shutdown_begin(keel_broker_t *b);
/* The controller's answer arrived through the mq. Takes ownership of r. */
void keel_shutdown_on_result(keel_broker_t *b, keel_shutdown_result_t *r);
/* Wait for a request thread still in flight (before the mq goes away). */
void keel_shutdown_join(keel_broker_t *b);

#endif
