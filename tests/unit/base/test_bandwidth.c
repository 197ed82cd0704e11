/* test_bandwidth.c - the read-bandwidth probe (base/sysinfo.c): a positive
 * figure with one thread, several persistent threads and more threads than
 * CPUs; 0 for a buffer too small to give every thread a cache line; the
 * default buffer size within its stated bounds. No speed is asserted. */
#include "../test.h"
#include "base/sysinfo.h"

TEST(bandwidth_probe_threads_and_sizes)
{
    CHECK(xllm_measure_read_bandwidth(1, (uint64_t)4 << 20) > 0);
    CHECK(xllm_measure_read_bandwidth(3, (uint64_t)4 << 20) > 0);
    CHECK(xllm_measure_read_bandwidth(xllm_online_cpus() * 2 + 1, (uint64_t)4 << 20) > 0);
    CHECK(xllm_measure_read_bandwidth(0, (uint64_t)1 << 20) > 0); /* threads < 1: one */
    CHECK(xllm_measure_read_bandwidth(4, 4 * 64 - 1) == 0);      /* a slice would be < 64 bytes */
    uint64_t b = xllm_bandwidth_probe_bytes();
    CHECK(b >= ((uint64_t)64 << 20));
    uint64_t avail = xllm_available_ram_bytes();
    CHECK(!avail || b <= avail / 4 || b == ((uint64_t)64 << 20));
}
