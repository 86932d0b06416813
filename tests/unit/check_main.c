/* tests/unit/check_main.c: runs every module's Check suite; exit status 0 only if all pass. */
#include "suites.h"
#include "logger.h"

#include <stdlib.h>

int main(void)
{
	SRunner *sr = srunner_create(suite_crc32c());
	int failed;

	klog_setup(KLOG_ERROR, NULL);
	srunner_add_suite(sr, suite_batch());
	srunner_add_suite(sr, suite_compress());
	srunner_add_suite(sr, suite_log());
	srunner_add_suite(sr, suite_log_epoch());
	srunner_add_suite(sr, suite_config());
	srunner_add_suite(sr, suite_codec());
	srunner_add_suite(sr, suite_zkjson());
	srunner_add_suite(sr, suite_group_records());
	srunner_add_suite(sr, suite_group_proto());
	srunner_add_suite(sr, suite_admin_groups());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
