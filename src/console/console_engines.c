/* console_engines.c — the engines' /metrics for the engine page
 * (console_engines.h). */
#include "console_engines.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ENGINES 32
#define METRICS_MAX (8u << 20)
#define MAX_BUCKETS 64

typedef struct engine {
    char *url;
    bool seen;          /* a previous reading, for the rate */
    double prev_read, prev_at;
} engine;

struct fw_console_engines {
    engine e[MAX_ENGINES];
    int n;
    pthread_mutex_t mu; /* requests come on several threads */
};

static bool name_is(const char *line, size_t n, const char *name, const char **rest) {
    size_t k = strlen(name);
    if (n <= k || memcmp(line, name, k) || (line[k] != ' ' && line[k] != '{'))
        return false;
    *rest = line + k;
    return true;
}

/* The value after the labels; false when there is none. */
static bool value_of(const char *rest, const char *end, double *v) {
    const char *p = rest;
    if (*p == '{') {
        while (p < end && *p != '}')
            p++;
        p++;
    }
    while (p < end && *p == ' ')
        p++;
    if (p >= end)
        return false;
    char tmp[64];
    size_t k = (size_t)(end - p) < sizeof(tmp) - 1 ? (size_t)(end - p) : sizeof(tmp) - 1;
    memcpy(tmp, p, k);
    tmp[k] = '\0';
    char *stop;
    *v = strtod(tmp, &stop);
    return stop != tmp && isfinite(*v);
}

/* le="X" of a bucket line: +Inf as INFINITY. The label starts after '{'
 * or ',' (a label such as rule="..." ends in le=" too). */
static bool le_of(const char *rest, const char *end, double *le) {
    const char *p = rest;
    for (; p + 5 < end && *p != '}'; p++)
        if ((*p == '{' || *p == ',') && !memcmp(p + 1, "le=\"", 4)) {
            p += 5;
            if (end - p >= 4 && !memcmp(p, "+Inf", 4)) {
                *le = INFINITY;
                return true;
            }
            char *stop;
            *le = strtod(p, &stop);
            return stop != p && *stop == '"';
        }
    return false;
}

/* A latency histogram's cumulative buckets, series of other labels added up. */
typedef struct hist {
    double le[MAX_BUCKETS], cum[MAX_BUCKETS];
    int nb;
} hist;

static void hist_add(hist *h, double bound, double v) {
    int i = 0;
    while (i < h->nb && h->le[i] != bound)
        i++;
    if (i == h->nb && h->nb < MAX_BUCKETS) {
        h->le[h->nb] = bound;
        h->cum[h->nb++] = 0;
    }
    if (i < h->nb)
        h->cum[i] += v;
}

/* The lowest bound holding 99 % of the observations; false when there are none. */
static bool hist_p99(const hist *h, double *p99) {
    double total = 0;
    for (int i = 0; i < h->nb; i++)
        if (isinf(h->le[i]))
            total = h->cum[i];
    double best = INFINITY;
    for (int i = 0; total > 0 && i < h->nb; i++)
        if (h->cum[i] >= 0.99 * total && h->le[i] < best)
            best = h->le[i];
    *p99 = best;
    return total > 0;
}

void fw_engine_metrics_parse(const char *text, size_t n, fw_engine_sample *out) {
    *out = (fw_engine_sample){ 0 };
    hist processing = { .nb = 0 }, from_event = { .nb = 0 };
    for (const char *line = text, *stop = text + n; line < stop;) {
        const char *end = memchr(line, '\n', (size_t)(stop - line));
        if (!end)
            end = stop;
        const char *rest;
        double v, bound;
        size_t len = (size_t)(end - line);
        if (len && line[0] != '#') {
            if (name_is(line, len, "fraudwatch_transactions_read_total", &rest) &&
                value_of(rest, end, &v)) {
                out->transactions_read += v;
                out->has_read = true;
            } else if (name_is(line, len, "fraudwatch_alerts_total", &rest) &&
                       value_of(rest, end, &v)) {
                out->alerts += v;
            } else if (name_is(line, len, "fraudwatch_consumer_lag_records", &rest) &&
                       value_of(rest, end, &v)) {
                out->lag += v;
                out->has_lag = true;
            } else if (name_is(line, len, "fraudwatch_watermark_seconds", &rest) &&
                       value_of(rest, end, &v) && v > 0) {
                if (!out->has_watermark || v < out->min_watermark_s)
                    out->min_watermark_s = v;
                out->has_watermark = true;
            } else if (name_is(line, len, "fraudwatch_processing_latency_seconds_bucket",
                               &rest) &&
                       le_of(rest, end, &bound) && value_of(rest, end, &v)) {
                hist_add(&processing, bound, v);
            } else if (name_is(line, len, "fraudwatch_alert_latency_seconds_bucket", &rest) &&
                       le_of(rest, end, &bound) && value_of(rest, end, &v)) {
                hist_add(&from_event, bound, v);
            }
        }
        line = end + 1;
    }
    /* The engine's own delay when it says; from event time (an engine before
     * it had processing latency) otherwise. */
    out->has_p99 = hist_p99(&processing, &out->latency_p99_s) ||
                   hist_p99(&from_event, &out->latency_p99_s);
}

fw_console_engines *fw_console_engines_new(const char *urls, char *errstr, size_t errstr_size) {
    fw_console_engines *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    for (const char *p = urls; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len) {
            if (e->n == MAX_ENGINES || (strncmp(p, "http://", 7) && strncmp(p, "https://", 8))) {
                snprintf(errstr, errstr_size, "--engines: %.*s: %s", (int)(len > 80 ? 80 : len),
                         p, e->n == MAX_ENGINES ? "more than 32 engines"
                                                : "not an http:// or https:// URL");
                fw_console_engines_free(e);
                return NULL;
            }
            e->e[e->n++].url = strndup(p, len);
        }
        p = comma ? comma + 1 : p + len;
    }
    return e;
}

void fw_console_engines_free(fw_console_engines *e) {
    if (!e)
        return;
    for (int i = 0; i < e->n; i++)
        free(e->e[i].url);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx) {
    fw_buf *b = ctx;
    return fw_buf_append(b, p, size * n) ? size * n : 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void number_or_null(fw_buf *out, bool has, double v) {
    if (has)
        fw_buf_json_double(out, v);
    else
        fw_buf_puts(out, "null");
}

void fw_console_engines_json(fw_console_engines *e, fw_buf *out) {
    fw_buf_puts(out, "{\"engines\":[");
    if (e)
        pthread_mutex_lock(&e->mu);
    for (int i = 0; e && i < e->n; i++) {
        engine *g = &e->e[i];
        fw_buf body;
        fw_buf_init(&body, METRICS_MAX);
        char err[CURL_ERROR_SIZE] = "";
        CURL *curl = curl_easy_init();
        long status = 0;
        CURLcode rc = CURLE_FAILED_INIT;
        if (curl) {
            curl_easy_setopt(curl, CURLOPT_URL, g->url);
            curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
            curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, err);
            curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
            curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
            rc = curl_easy_perform(curl);
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_cleanup(curl);
        }
        bool up = rc == CURLE_OK && status == 200;
        fw_engine_sample s = { 0 };
        if (up)
            fw_engine_metrics_parse(body.data ? body.data : "", body.len, &s);
        double at = now_s();
        bool has_rate = up && s.has_read && g->seen && at > g->prev_at;
        double rate = has_rate ? (s.transactions_read - g->prev_read) / (at - g->prev_at) : 0;
        if (up && s.has_read) {
            g->seen = true;
            g->prev_read = s.transactions_read;
            g->prev_at = at;
        }
        fw_buf_puts(out, i ? ",{\"url\":" : "{\"url\":");
        fw_buf_json_str(out, fw_str_c(g->url));
        fw_buf_puts(out, up ? ",\"up\":true" : ",\"up\":false");
        fw_buf_puts(out, ",\"transactions_per_second\":");
        number_or_null(out, has_rate && rate >= 0, rate);
        fw_buf_puts(out, ",\"alerts\":");
        number_or_null(out, up && s.has_read, s.alerts);
        fw_buf_puts(out, ",\"lag\":");
        number_or_null(out, up && s.has_lag, s.lag);
        fw_buf_puts(out, ",\"event_time_lag_seconds\":");
        number_or_null(out, s.has_watermark, at - s.min_watermark_s);
        fw_buf_puts(out, ",\"latency_p99_ms\":");
        number_or_null(out, s.has_p99 && isfinite(s.latency_p99_s), s.latency_p99_s * 1000);
        fw_buf_puts(out, ",\"error\":");
        if (up) {
            fw_buf_puts(out, "null");
        } else {
            char msg[CURL_ERROR_SIZE + 64];
            if (rc == CURLE_OK)
                snprintf(msg, sizeof(msg), "HTTP %ld", status);
            else
                snprintf(msg, sizeof(msg), "%s", *err ? err : curl_easy_strerror(rc));
            fw_buf_json_str(out, fw_str_c(msg));
        }
        fw_buf_putc(out, '}');
        fw_buf_fini(&body);
    }
    if (e)
        pthread_mutex_unlock(&e->mu);
    fw_buf_puts(out, "]}");
}
