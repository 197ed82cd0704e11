/* humanize.c - Ollama's byte, time and duration texts. */
#include "cli/humanize.h"

#include <math.h>
#include <stdio.h>

void cli_human_bytes(int64_t b, char *buf, size_t cap)
{
    static const struct {
        double scale;
        const char *unit;
    } units[] = {{1e12, "TB"}, {1e9, "GB"}, {1e6, "MB"}, {1e3, "KB"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        double v;
        if ((double)b < units[i].scale)
            continue;
        v = (double)b / units[i].scale;
        if (v >= 10 || v == trunc(v))
            snprintf(buf, cap, "%d %s", (int)v, units[i].unit);
        else
            snprintf(buf, cap, "%.1f %s", v, units[i].unit);
        return;
    }
    snprintf(buf, cap, "%lld B", (long long)b);
}

void cli_human_duration(double d, char *buf, size_t cap)
{
    int seconds = (int)d, minutes = (int)(d / 60), hours = (int)round(d / 3600);
    if (seconds < 1)
        snprintf(buf, cap, "Less than a second");
    else if (seconds == 1)
        snprintf(buf, cap, "1 second");
    else if (seconds < 60)
        snprintf(buf, cap, "%d seconds", seconds);
    else if (minutes == 1)
        snprintf(buf, cap, "About a minute");
    else if (minutes < 60)
        snprintf(buf, cap, "%d minutes", minutes);
    else if (hours == 1)
        snprintf(buf, cap, "About an hour");
    else if (hours < 48)
        snprintf(buf, cap, "%d hours", hours);
    else if (hours < 24 * 7 * 2)
        snprintf(buf, cap, "%d days", hours / 24);
    else if (hours < 24 * 30 * 2)
        snprintf(buf, cap, "%d weeks", hours / 24 / 7);
    else if (hours < 24 * 365 * 2)
        snprintf(buf, cap, "%d months", hours / 24 / 30);
    else
        snprintf(buf, cap, "%d years", hours / 24 / 365);
}

void cli_human_time(int64_t t, int64_t now, const char *zero_text, char *buf, size_t cap)
{
    char d[64];
    int64_t delta = now - t;
    if (t == 0) {
        snprintf(buf, cap, "%s", zero_text);
    } else if (delta / 3600 / 24 / 365 < -20) {
        snprintf(buf, cap, "Forever");
    } else if (delta < 0) {
        cli_human_duration((double)-delta, d, sizeof d);
        snprintf(buf, cap, "%s from now", d);
    } else {
        cli_human_duration((double)delta, d, sizeof d);
        snprintf(buf, cap, "%s ago", d);
    }
}

void cli_short_duration(int64_t s, char *buf, size_t cap)
{
    if (s >= 100 * 3600)
        snprintf(buf, cap, "99h+");
    else if (s >= 3600)
        snprintf(buf, cap, "%lldh%lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
    else if (s >= 60)
        snprintf(buf, cap, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(buf, cap, "%llds", (long long)s);
}
