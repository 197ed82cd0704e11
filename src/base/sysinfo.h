/* sysinfo.h - facts about this process and machine for the profile and
 * benchmark tools: resident memory, CPU time (ours and everyone's), wall
 * clock, and measured memory read bandwidth. Linux /proc based. */
#ifndef XLLM_BASE_SYSINFO_H
#define XLLM_BASE_SYSINFO_H

#include <stdint.h>

double xllm_now(void);                 /* monotonic seconds */
uint64_t xllm_rss_bytes(void);         /* current resident set (VmRSS) */
uint64_t xllm_peak_rss_bytes(void);    /* peak resident set (VmHWM) */
/* Start the peak over from the current resident set (Linux clear_refs "5");
 * returns 0 on success, -1 where the kernel does not allow it. */
int xllm_reset_peak_rss(void);
/* CPU seconds used by this process, and by the whole machine (all CPUs, busy
 * time only), so a benchmark can tell how much other processes took. */
double xllm_process_cpu_seconds(void);
double xllm_machine_busy_cpu_seconds(void);
int xllm_online_cpus(void);
/* Read bandwidth in bytes/s: n_threads persistent threads (the caller one
 * of them) each stream their slice of a buffer of `bytes` (0: the size of
 * xllm_bandwidth_probe_bytes), started and stopped together on barriers;
 * the best of 5 passes after a first-touch pass. 0 on failure. */
double xllm_measure_read_bandwidth(int n_threads, uint64_t bytes);
/* The probe's default buffer: 4 x the last-level cache and at least 256 MiB,
 * at most a quarter of the available memory (then at least 64 MiB). */
uint64_t xllm_bandwidth_probe_bytes(void);
/* Total physical memory in bytes. */
uint64_t xllm_total_ram_bytes(void);
/* Memory the kernel says is available for new allocations (MemAvailable), 0 if unknown. */
uint64_t xllm_available_ram_bytes(void);
/* "model name" of the CPU (static storage). */
const char *xllm_cpu_name(void);

#endif
