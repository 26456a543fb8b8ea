/* fuzz.h — what every fuzz target defines: libFuzzer's entry point. A target is built
 * either with clang's -fsanitize=fuzzer (scripts/fuzz) or with driver.c, the standalone
 * driver the unit suite runs for a bounded time under ASan/UBSan. A target must not leak,
 * must not keep state between inputs and returns 0. */
#ifndef APPT_FUZZ_H
#define APPT_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_MAX_INPUT 65536 /* largest input either driver hands a target */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
