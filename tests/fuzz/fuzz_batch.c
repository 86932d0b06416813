/* tests/fuzz/fuzz_batch.c: libFuzzer target for batch validation and record iteration, and for
 * the conversion of legacy message sets (with -DKEEL_FUZZ_STANDALONE: a corpus replayer taking
 * file names). */
#include "batch.h"
#include "crc32c.h"
#include "logger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch every byte handed out so the sanitizers see any bad slice. */
static int touch(void *arg, int64_t offset, int64_t timestamp, keel_slice_t key, bool key_null,
		 keel_slice_t value, bool value_null, int header_count)
{
	unsigned *sum = arg;

	for (size_t i = 0; i < key.len; i++)
		*sum += key.ptr[i];
	for (size_t i = 0; i < value.len; i++)
		*sum += value.ptr[i];
	*sum += (unsigned)offset + (unsigned)timestamp + (unsigned)header_count;
	return KEEL_OK;
}

/* Validate both ways, iterate, and check crc_ok agrees with a clean validate. */
static void run_one(const uint8_t *buf, size_t len)
{
	keel_batch_limits_t lim = {1048588, 4u << 20, true};
	keel_batch_info_t info;
	unsigned sum = 0;
	int rc_client = keel_batch_validate(buf, len, &lim, &info);

	lim.from_client = false;
	int rc_internal = keel_batch_validate(buf, len, &lim, &info);
	if ((rc_client == KEEL_OK || rc_internal == KEEL_OK) && !keel_batch_crc_ok(buf, len))
		abort();
	if (len >= KEEL_BATCH_HEADER_LEN) {
		int rc = keel_batch_foreach(buf, len, 4u << 20, touch, &sum);
		if (rc_internal == KEEL_OK && rc != KEEL_OK)
			abort();
	}
	/* and converted down for an old fetcher (the log holds only validated batches, but the
	 * converter must not trust that) */
	for (int magic = 0; magic <= 1; magic++) {
		uint8_t *out = NULL;
		size_t out_len = 0;
		if (keel_batch_to_legacy(buf, len, magic, 0, 4u << 20, &out, &out_len) == KEEL_OK)
			free(out);
	}
}

/* Read the input as a legacy message set: a conversion that succeeds gives a valid batch. */
static void run_legacy(const uint8_t *buf, size_t len)
{
	keel_batch_limits_t lim = {SIZE_MAX, 4u << 20, true};
	keel_batch_info_t info;
	uint8_t *out = NULL;
	size_t out_len = 0;

	if (keel_batch_from_legacy(buf, len, 4u << 20, &out, &out_len) != KEEL_OK)
		return;
	if (keel_batch_validate(out, out_len, &lim, &info) != KEEL_OK)
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);

	klog_setup(KLOG_ERROR, NULL);
	/* exact-size copy so ASan catches any read past the end */
	memcpy(copy, data, size);
	run_one(copy, size);
	/* and again with the CRC repaired, so mutations reach the record parser */
	if (size > KB_OFF_ATTRIBUTES) {
		uint32_t crc = keel_crc32c(0, copy + KB_OFF_ATTRIBUTES, size - KB_OFF_ATTRIBUTES);
		kb_put32(copy + KB_OFF_CRC, (int32_t)crc);
		run_one(copy, size);
	}
	memcpy(copy, data, size);
	run_legacy(copy, size);
	/* and with the first message's CRC-32 repaired */
	if (size >= 26) {
		size_t msg = (size_t)(uint32_t)kb_get32(copy + 8);
		if (msg >= 4 && msg <= size - 12) {
			kb_put32(copy + 12, (int32_t)crc32(0L, copy + 16, (uInt)(msg - 4)));
			run_legacy(copy, size);
		}
	}
	free(copy);
	return 0;
}

#ifdef KEEL_FUZZ_STANDALONE
/* Replay each file named on the command line through the target. */
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *buf = NULL;
		size_t len = 0, cap = 0, n;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		do {
			if (len == cap) {
				cap = cap ? cap * 2 : 4096;
				buf = realloc(buf, cap);
				if (!buf)
					abort();
			}
			n = fread(buf + len, 1, cap - len, f);
			len += n;
		} while (n > 0);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
	}
	printf("replayed %d inputs\n", argc - 1);
	return 0;
}
#endif
