/* test_humanize.c - sizes, times and the pull bar formatted as Ollama's Go
 * code formats them (values worked out by hand from format/bytes.go,
 * format/time.go and progress/bar.go). */
#include "../test.h"
#include "cli/humanize.h"
#include "cli/pull_progress.h"

static const char *bytes(int64_t b)
{
    static char buf[32];
    cli_human_bytes(b, buf, sizeof buf);
    return buf;
}

static const char *ago(int64_t delta)
{
    static char buf[64];
    cli_human_time(1000000000 - delta, 1000000000, "Never", buf, sizeof buf);
    return buf;
}

TEST(humanize_bytes_like_ollama)
{
    CHECK_EQ_STR(bytes(0), "0 B");
    CHECK_EQ_STR(bytes(999), "999 B");
    CHECK_EQ_STR(bytes(1000), "1 KB");
    CHECK_EQ_STR(bytes(1500), "1.5 KB");
    CHECK_EQ_STR(bytes(45123456), "45 MB");
    CHECK_EQ_STR(bytes(4661211808), "4.7 GB");
    CHECK_EQ_STR(bytes(2000000000), "2 GB");
    CHECK_EQ_STR(bytes(123456789012), "123 GB");
    CHECK_EQ_STR(bytes(9990000), "10.0 MB"); /* Go's %.1f quirk, kept */
    CHECK_EQ_STR(bytes(1500000000000), "1.5 TB");
}

TEST(humanize_times_like_ollama)
{
    char buf[64];
    CHECK_EQ_STR(ago(0), "Less than a second ago");
    CHECK_EQ_STR(ago(1), "1 second ago");
    CHECK_EQ_STR(ago(30), "30 seconds ago");
    CHECK_EQ_STR(ago(90), "About a minute ago");
    CHECK_EQ_STR(ago(600), "10 minutes ago");
    CHECK_EQ_STR(ago(3600), "About an hour ago");
    CHECK_EQ_STR(ago(7200), "2 hours ago");
    CHECK_EQ_STR(ago(3 * 86400), "3 days ago");
    CHECK_EQ_STR(ago(20 * 86400), "2 weeks ago");
    CHECK_EQ_STR(ago(90 * 86400), "3 months ago");
    CHECK_EQ_STR(ago(800 * 86400), "2 years ago");
    CHECK_EQ_STR(ago(-240), "4 minutes from now");
    CHECK_EQ_STR(ago(-30LL * 365 * 86400), "Forever");
    cli_human_time(0, 1000, "Never", buf, sizeof buf);
    CHECK_EQ_STR(buf, "Never");
    cli_short_duration(12, buf, sizeof buf);
    CHECK_EQ_STR(buf, "12s");
    cli_short_duration(72, buf, sizeof buf);
    CHECK_EQ_STR(buf, "1m12s");
    cli_short_duration(3700, buf, sizeof buf);
    CHECK_EQ_STR(buf, "1h1m");
    cli_short_duration(400000, buf, sizeof buf);
    CHECK_EQ_STR(buf, "99h+");
}

TEST(pull_bar_like_ollama)
{
    char buf[512];
    cli_pull_bar_line(buf, sizeof buf, "pulling 0123456789ab:", 1200000000, 2000000000, 34e6, 0, 80);
    CHECK_EQ_STR(buf, "pulling 0123456789ab:  60% ▕██████████        ▏ 1.2 GB/  2 GB   34 MB/s     23s");
    cli_pull_bar_line(buf, sizeof buf, "pulling 0123456789ab:", 2000000000, 2000000000, 0, 1, 60);
    CHECK_EQ_STR(buf, "pulling 0123456789ab: 100% ▕▏   2 GB                         ");
    cli_pull_bar_line(buf, sizeof buf, "pulling 0123456789ab:", 2000000000, 2000000000, 0, 1, 80);
    CHECK_EQ_STR(buf, "pulling 0123456789ab: 100% ▕██████████████████▏   2 GB                         ");
}
