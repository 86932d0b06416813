/* tests/unit/suites.h: every Check suite the unit runner knows, one per module. */
#ifndef KEEL_TEST_SUITES_H
#define KEEL_TEST_SUITES_H

#include <check.h>

Suite *suite_crc32c(void);
Suite *suite_batch(void);
Suite *suite_compress(void);
Suite *suite_log(void);
Suite *suite_log_epoch(void);
Suite *suite_config(void);
Suite *suite_codec(void);
Suite *suite_zkjson(void);
Suite *suite_group_records(void);
Suite *suite_group_proto(void);
Suite *suite_admin_groups(void);

#endif
