/* test_metrics.c - the server's counters and their Prometheus text
 * (server/metrics.c), checked by the independent line checker of
 * tests/unit/cli/prom_check.h: histogram buckets are cumulative with +Inf
 * equal to _count, label values and HELP text are escaped, statuses outside
 * the table count as "other". */
#include <string.h>

#include "base/buf.h"
#include "server/metrics.h"
#include "../cli/prom_check.h"
#include "../test.h"

TEST(server_metrics_histogram)
{
    static srv_metrics m;
    xllm_buf out;
    char err[256];
    srv_metrics_init(&m);
    srv_metrics_observe(&m.ttft, 0.003);  /* le 0.005 */
    srv_metrics_observe(&m.ttft, 0.005);  /* le 0.005 (bounds are inclusive) */
    srv_metrics_observe(&m.ttft, 0.2);    /* le 0.25 */
    srv_metrics_observe(&m.ttft, 1000.0); /* +Inf only */
    srv_metrics_observe(&m.ttft, -1.0);   /* counts as 0 */
    xllm_buf_init(&out, 0);
    srv_prom_hist(&out, "xllm_t_seconds", "a \\ test\nline", &m.ttft);
    CHECK_MSG(prom_check(out.data, "xllm_", err, sizeof err) == 0, "%s\n%s", err, out.data);
    CHECK(strstr(out.data, "# HELP xllm_t_seconds a \\\\ test\\nline\n"));
    CHECK(strstr(out.data, "xllm_t_seconds_bucket{le=\"0.005\"} 3\n"));
    CHECK(strstr(out.data, "xllm_t_seconds_bucket{le=\"0.1\"} 3\n"));
    CHECK(strstr(out.data, "xllm_t_seconds_bucket{le=\"0.25\"} 4\n"));
    CHECK(strstr(out.data, "xllm_t_seconds_bucket{le=\"60\"} 4\n"));
    CHECK(strstr(out.data, "xllm_t_seconds_bucket{le=\"+Inf\"} 5\n"));
    CHECK(strstr(out.data, "xllm_t_seconds_count 5\n"));
    CHECK(strstr(out.data, "xllm_t_seconds_sum 1000.208\n"));
    xllm_buf_free(&out);
}

TEST(server_metrics_labels_and_requests)
{
    static srv_metrics m;
    xllm_buf out, lab;
    char err[256];
    srv_metrics_init(&m);
    srv_metrics_count_request(&m, 2, 200);
    srv_metrics_count_request(&m, 2, 200);
    srv_metrics_count_request(&m, 2, 418);  /* not in the table: other */
    srv_metrics_count_request(&m, 999, 404); /* unknown endpoint: the last slot */
    CHECK_EQ_INT((int)atomic_load(&m.requests[2][0]), 2);
    CHECK_EQ_INT((int)atomic_load(&m.requests[2][SRV_METRICS_STATUSES - 1]), 1);
    CHECK_EQ_INT(srv_metrics_status_code(SRV_METRICS_STATUSES - 1), 0);
    for (int i = 0; i < SRV_METRICS_STATUSES - 1; i++)
        if (srv_metrics_status_code(i) == 404)
            CHECK_EQ_INT((int)atomic_load(&m.requests[SRV_METRICS_ENDPOINTS - 1][i]), 1);
    xllm_buf_init(&out, 0);
    xllm_buf_init(&lab, 0);
    xllm_buf_puts(&lab, "model=\"");
    srv_prom_escape(&lab, "a\"b\\c\nd");
    xllm_buf_puts(&lab, "\"");
    CHECK_EQ_STR(lab.data, "model=\"a\\\"b\\\\c\\nd\"");
    srv_prom_family(&out, "xllm_g", "gauge", "g");
    srv_prom_sample(&out, "xllm_g", lab.data, 1.5);
    srv_prom_sample(&out, "xllm_g", "model=\"x\"", 12345678901.0);
    srv_prom_family(&out, "xllm_c_total", "counter", "c");
    srv_prom_sample(&out, "xllm_c_total", NULL, 3);
    CHECK_MSG(prom_check(out.data, "xllm_", err, sizeof err) == 0, "%s\n%s", err, out.data);
    CHECK(strstr(out.data, "xllm_g{model=\"x\"} 12345678901\n"));
    CHECK(strstr(out.data, "xllm_c_total 3\n"));
    xllm_buf_free(&out);
    xllm_buf_free(&lab);
}
