/* fw_os.h — the few process-level services the runtime and tools share:
 * a monotonic clock (for pacing, timeouts and rates; never for event time),
 * the wall clock (a reference for records without a Kafka timestamp) and the
 * stop request set by SIGINT/SIGTERM. The core uses neither. */
#ifndef FW_OS_H
#define FW_OS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

static inline int64_t fw_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
static inline int64_t fw_mono_ms(void) { return fw_mono_ns() / 1000000; }
static inline double fw_mono_s(void) { return (double)fw_mono_ns() / 1e9; }

/** @brief Sleeps @p ms milliseconds (a retry's backoff; not for tests). */
static inline void fw_sleep_ms(int64_t ms) {
    struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/** @brief Wall-clock time, epoch ms: only the reference a Kafka record
 *  without a timestamp is checked against (max_future_skew). */
static inline int64_t fw_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/** @brief Clears the stop request and routes SIGINT and SIGTERM to it
 *  (without SA_RESTART, so a blocking wait returns early). The handler is
 *  one-shot: a second signal takes the default action and ends the process. */
void fw_stop_install(void);

/** @brief Puts back the handlers fw_stop_install replaced. */
void fw_stop_uninstall(void);

/** @brief True once SIGINT or SIGTERM arrived since fw_stop_install. */
bool fw_stop_requested(void);

/** @brief Routes SIGHUP to a reload request (Kafka mode's `--rules FILE`
 *  reload) instead of ending the process. */
void fw_reload_install(void);

/** @brief Puts back the SIGHUP handler fw_reload_install replaced. */
void fw_reload_uninstall(void);

/** @brief True once per SIGHUP since the last call. */
bool fw_reload_take(void);

/** @brief One line to stderr, "fraudwatch[INSTANCE]: ..." — how every Kafka-mode
 *  part of an instance (runtime, restore, followers, backfill) speaks. */
void fw_log(const char *instance_id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fw_vlog(const char *instance_id, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
