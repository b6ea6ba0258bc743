/* console_engines.h — the engine page's figures: each engine's /metrics
 * (Prometheus text) read with libcurl when asked, and the few numbers an
 * analyst wants from it: throughput (from two readings), consumer lag, alert
 * latency p99 and how far event time lags the clock. */
#ifndef FW_CONSOLE_ENGINES_H
#define FW_CONSOLE_ENGINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_str.h"

/* What one reading of an engine's /metrics gives. */
typedef struct fw_engine_sample {
    bool has_read;
    double transactions_read;  /* fraudwatch_transactions_read_total, all series */
    double alerts;             /* fraudwatch_alerts_total, all series */
    bool has_lag;
    double lag;                /* fraudwatch_consumer_lag_records, all partitions */
    bool has_watermark;
    double min_watermark_s;    /* the lowest fraudwatch_watermark_seconds > 0 */
    bool has_p99;
    double latency_p99_s;      /* fraudwatch_processing_latency_seconds (else, from an
                                  older engine, fraudwatch_alert_latency_seconds): the
                                  bucket bound that holds 99 % of the alerts since the
                                  engine began */
} fw_engine_sample;

/** @brief Reads the Prometheus text @p text; lines it does not know are skipped. */
void fw_engine_metrics_parse(const char *text, size_t n, fw_engine_sample *out);

typedef struct fw_console_engines fw_console_engines;

/** @brief The engines at @p urls (comma-separated /metrics URLs); NULL with
 *  @p errstr for a URL that is not http:// or https://. */
fw_console_engines *fw_console_engines_new(const char *urls, char *errstr, size_t errstr_size);
void fw_console_engines_free(fw_console_engines *e);

/** @brief Reads every engine now (2 s each at most) and appends
 *  {"engines":[{"url","up","transactions_per_second","alerts","lag" (records),
 *  "event_time_lag_seconds","latency_p99_ms","error"}]}; @p e may be NULL. */
void fw_console_engines_json(fw_console_engines *e, fw_buf *out);

#endif
