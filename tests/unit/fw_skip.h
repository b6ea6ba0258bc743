/* fw_skip.h — skipping a cmocka case so that ctest sees it. cmocka's skip()
 * alone leaves the program's exit status 0, which ctest counts as a pass:
 * FW_SKIP says why and counts the skip, and main returns FW_SKIP_STATUS(rc),
 * 77 (ctest's SKIP_RETURN_CODE, "Not Run") when nothing failed but something
 * was skipped. Include after cmocka.h, in the test's one .c file. */
#ifndef FW_SKIP_H
#define FW_SKIP_H

static unsigned fw_skipped; /* cases skipped in this program */

#define FW_SKIP(why)                              \
    do {                                          \
        print_message("SKIP: %s\n", (why));       \
        fw_skipped++;                             \
        skip();                                   \
    } while (0)

#define FW_SKIP_STATUS(rc) ((rc) == 0 && fw_skipped ? 77 : (rc))

#endif
