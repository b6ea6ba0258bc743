/* kafka_runtime.h — `fraudwatch run` against Kafka: a consumer group with
 * one task per assigned input partition and a transactional producer that
 * commits alerts, dead letters and input offsets together (exactly-once v2). */
#ifndef FW_KAFKA_RUNTIME_H
#define FW_KAFKA_RUNTIME_H

#include "metrics.h"
#include "profiles.h"
#include "run_conf.h"

/** @brief Runs until SIGINT/SIGTERM (or the end with --exit-at-end),
 *  publishing to @p metrics (NULL: none) every FW_METRICS_PUBLISH_MS.
 *  @returns the process exit status: 0 clean stop, 1 fatal error. */
int fw_kafka_run(const fw_run_conf *c, fw_profiles *profiles, fw_scorer *scorer,
                 fw_metrics *metrics);

#endif
