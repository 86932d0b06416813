/* src/crc32c.h: CRC-32C (Castagnoli) as Kafka record batches use it. */
#ifndef KEEL_CRC32C_H
#define KEEL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC-32C over buf. Start with crc = 0; the init and final xor with
 * 0xFFFFFFFF are done inside, so keel_crc32c(keel_crc32c(0, a), b) == crc of a||b.
 * Pure function, any thread. */
uint32_t keel_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
