/* tests/fuzz/fuzz_request.c: libFuzzer target for the request decoder: every input is one frame
 * body handed to the dispatcher of a broker with no partitions and no ZooKeeper. Built with
 * -DKEEL_FUZZ_STANDALONE it replays files named on the command line instead. */
#include "api.h"
#include "broker.h"
#include "config.h"
#include "conn.h"
#include "logger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int keel_dispatch(keel_conn_t *c, const uint8_t *frame, size_t len);

static keel_broker_t g_broker;
static keel_config_t g_cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		klog_setup(KLOG_ERROR, NULL);
		keel_config_defaults(&g_cfg);
		if (keel_broker_init(&g_broker, &g_cfg) < 0)
			abort();
		init = true;
	}
	keel_conn_t *c = calloc(1, sizeof(*c));
	uint8_t *frame = malloc(size ? size : 1);
	if (!c || !frame)
		abort();
	memcpy(frame, data, size); /* handlers may rewrite the frame, as with a real read buffer */
	c->broker = &g_broker;
	c->fd = -1;
	snprintf(c->peer, sizeof(c->peer), "fuzz");
	if (keel_dispatch(c, frame, size) == KEEL_PARKED)
		c->busy = true; /* close() cancels the parked request */
	keel_conn_close(c, "fuzz done");
	keel_conns_flush(g_broker.loop, &g_broker);
	free(frame);
	return 0;
}

#ifdef KEEL_FUZZ_STANDALONE
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		static uint8_t buf[1 << 20];
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	return 0;
}
#endif
