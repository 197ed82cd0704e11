/* humanize.h - numbers for people, formatted exactly as Ollama's CLI does
 * (format.HumanBytes, format.HumanTime, the progress bar's durations), so
 * `list`, `pull` and later `ps` print the same text as `ollama`. Plain
 * functions writing into caller buffers; no state. */
#ifndef XLLM_CLI_HUMANIZE_H
#define XLLM_CLI_HUMANIZE_H

#include <stddef.h>
#include <stdint.h>

/* Decimal units: "512 B", "1.5 KB", "45 MB", "4.7 GB", "120 GB", "1 TB". */
void cli_human_bytes(int64_t b, char *buf, size_t cap);
/* A time relative to now (both unix seconds): "2 hours ago", "About a
 * minute ago", "4 minutes from now", "Forever" (more than 20 years ahead),
 * zero_text when t == 0. */
void cli_human_time(int64_t t, int64_t now, const char *zero_text, char *buf, size_t cap);
/* The duration part alone ("Less than a second", "1 second", "2 hours"). */
void cli_human_duration(double seconds, char *buf, size_t cap);
/* The progress bar's remaining time: "12s", "1m12s", "2h5m", "99h+". */
void cli_short_duration(int64_t seconds, char *buf, size_t cap);

#endif
