/* test_remote_score.c — the /predict client against an in-process fake
 * service (libmicrohttpd on a loopback port) whose behaviour each test sets:
 * answers, 500s, 400s, slowness, malformed and short responses, a closed port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "features.h"
#include "fw_os.h"
#include "json.h"
#include "remote_score.h"

/* ---- the fake service ---------------------------------------------------------- */

typedef enum {
    M_OK,           /* predictions = Amount / 10000 */
    M_500_ONCE,     /* the first request gets a 500, the rest M_OK */
    M_500,
    M_SLOW,         /* sleeps slow_ms, then M_OK */
    M_MALFORMED,
    M_WRONG_COUNT,  /* one prediction short */
    M_400,
    M_OUT_OF_RANGE, /* 1.5 */
} srv_mode;

static struct {
    struct MHD_Daemon *d;
    unsigned port;
    atomic_int mode;
    atomic_int slow_ms;
    atomic_int requests;
    atomic_int connections;  /* TCP connections accepted: keep-alive reuses them */
    atomic_int stop;         /* ends sleeping handlers at teardown */
    pthread_mutex_t mu;
    char first_body[2048];   /* the start of the first request's body */
    fw_buf last_body;        /* the last request's whole body */
    char bad[256];           /* the first thing wrong with a request; "" when none */
    char auth[128];          /* the last request's Authorization header; "" when none */
} srv = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void srv_bad(const char *what) {
    pthread_mutex_lock(&srv.mu);
    if (!srv.bad[0])
        snprintf(srv.bad, sizeof(srv.bad), "%s", what);
    pthread_mutex_unlock(&srv.mu);
}

/* Sleeps @p ms in small steps so that teardown need not wait. */
static void nap(int ms) {
    int64_t end = fw_mono_ms() + ms;
    while (!atomic_load(&srv.stop) && fw_mono_ms() < end) {
        struct timespec ts = { 0, 5 * 1000000L };
        nanosleep(&ts, NULL);
    }
}

typedef struct upload {
    fw_buf body;
} upload;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             size_t len) {
    struct MHD_Response *rsp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(rsp, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, status, rsp);
    MHD_destroy_response(rsp);
    return ret;
}

/* Checks the request body, as FastAPI would, and answers Amount / 10000 a
 * row; "history", when present in the first row, is a delay in ms. */
static enum MHD_Result score(struct MHD_Connection *c, const fw_buf *body, int k) {
    fw_arena a;
    fw_arena_init(&a, fw_json_arena_bound(body->len));
    fw_json *root = NULL;
    char err[256];
    fw_buf out;
    fw_buf_init(&out, 0);
    enum MHD_Result ret;
    if (fw_json_parse(body->data, body->len, &a, &root, err, sizeof(err)) != FW_OK) {
        srv_bad(err);
        ret = reply(c, 422, "{\"detail\":\"bad json\"}", 21);
        goto done;
    }
    const fw_json *txns = fw_json_get(root, "transactions");
    if (!txns || txns->type != FW_JSON_ARRAY || txns->count == 0) {
        srv_bad("no transactions array");
        ret = reply(c, 422, "{\"detail\":\"no transactions\"}", 28);
        goto done;
    }
    int mode = atomic_load(&srv.mode);
    int delay = 0;
    fw_buf_puts(&out, "{\"predictions\":[");
    uint32_t i = 0;
    FW_JSON_FOREACH(row, txns) {
        double amount = 0;
        FW_JSON_FOREACH(m, row) {
            if (fw_feature_by_name(m->key.ptr, m->key.len) < 0)
                srv_bad("a key that is not a feature name");
            if (m->type != FW_JSON_NUMBER)
                srv_bad("a feature that is not a number (NaN sent as null?)");
            if (fw_str_eq_c(m->key, "Amount"))
                amount = m->number;
            if (i == 0 && fw_str_eq_c(m->key, "history") && m->number > 0 &&
                m->number < 10000)
                delay = (int)m->number;
        }
        if (mode == M_WRONG_COUNT && i + 1 == txns->count)
            break;
        if (i)
            fw_buf_putc(&out, ',');
        fw_buf_json_double(&out, mode == M_OUT_OF_RANGE ? 1.5 : amount / 10000.0);
        i++;
    }
    fw_buf_puts(&out, "]}");
    if (mode == M_SLOW)
        delay = atomic_load(&srv.slow_ms);
    nap(delay);
    if (mode == M_500 || (mode == M_500_ONCE && k == 0)) {
        static const char msg[] = "internal error";
        ret = reply(c, 500, msg, sizeof(msg) - 1);
    } else if (mode == M_400) {
        static const char msg[] = "{\"detail\":\"field Amount: value is not a number\"}";
        ret = reply(c, 400, msg, sizeof(msg) - 1);
    } else if (mode == M_MALFORMED) {
        ret = reply(c, 200, "{\"predictions\":[0.1,", 20);
    } else {
        ret = reply(c, 200, out.data, out.len);
    }
done:
    fw_buf_fini(&out);
    fw_arena_fini(&a);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls) {
    (void)cls;
    (void)version;
    upload *u = *con_cls;
    if (!u) {
        if (!(u = calloc(1, sizeof(*u))))
            return MHD_NO;
        fw_buf_init(&u->body, 0);
        *con_cls = u;
        return MHD_YES;
    }
    if (*size) {
        fw_buf_append(&u->body, data, *size);
        *size = 0;
        return MHD_YES;
    }
    int k = atomic_fetch_add(&srv.requests, 1);
    pthread_mutex_lock(&srv.mu);
    if (k == 0)
        snprintf(srv.first_body, sizeof(srv.first_body), "%s", u->body.data ? u->body.data : "");
    fw_buf_reset(&srv.last_body);
    fw_buf_append(&srv.last_body, u->body.data, u->body.len);
    pthread_mutex_unlock(&srv.mu);
    if (strcmp(method, "POST") != 0 || strcmp(url, "/predict") != 0)
        srv_bad("not POST /predict");
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ct || strcmp(ct, "application/json") != 0)
        srv_bad("Content-Type is not application/json");
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect"))
        srv_bad("an Expect header was sent");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    pthread_mutex_lock(&srv.mu);
    snprintf(srv.auth, sizeof(srv.auth), "%s", auth ? auth : "");
    pthread_mutex_unlock(&srv.mu);
    return score(c, &u->body, k);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    upload *u = *con_cls;
    if (u) {
        fw_buf_fini(&u->body);
        free(u);
        *con_cls = NULL;
    }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    (void)cls;
    (void)c;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&srv.connections, 1);
}

static int srv_start(void **state) {
    (void)state;
    atomic_store(&srv.mode, M_OK);
    atomic_store(&srv.slow_ms, 0);
    atomic_store(&srv.requests, 0);
    atomic_store(&srv.connections, 0);
    atomic_store(&srv.stop, 0);
    srv.first_body[0] = srv.bad[0] = srv.auth[0] = '\0';
    fw_buf_init(&srv.last_body, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    /* A thread per connection: a slow request must not hold the others. */
    srv.d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
                             0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                             MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
    if (!srv.d)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT);
    srv.port = info ? info->port : 0;
    return srv.port ? 0 : -1;
}

static int srv_stop(void **state) {
    (void)state;
    atomic_store(&srv.stop, 1);
    if (srv.d)
        MHD_stop_daemon(srv.d);
    srv.d = NULL;
    fw_buf_fini(&srv.last_body);
    return 0;
}

/* ---- helpers --------------------------------------------------------------------- */

static char endpoint[64];

/* Short timeouts so that the failure tests stay fast. */
static fw_remote_conf test_conf(void) {
    fw_remote_conf c;
    fw_remote_conf_defaults(&c);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", srv.port);
    c.endpoint = endpoint;
    c.timeout_ms = 2000;
    c.connect_timeout_ms = 500;
    c.retries = 2;
    c.backoff_ms = 10;
    c.down_ms = 0;
    return c;
}

static fw_remote *start(const fw_remote_conf *c) {
    char err[256] = "";
    fw_remote *r = fw_remote_new(c, err, sizeof(err));
    if (!r)
        fail_msg("fw_remote_new: %s", err);
    return r;
}

/* Rows of V1 = -4, Amount = amount + i, amount_vs_avg = 3.2, the rest
 * missing; @p delay_ms > 0 asks the fake service to wait (via "history"). */
static float *make_rows(size_t n, float amount, int delay_ms) {
    float *rows = malloc(n * FW_F__COUNT * sizeof(float));
    assert_non_null(rows);
    for (size_t i = 0; i < n * FW_F__COUNT; i++)
        rows[i] = NAN;
    for (size_t i = 0; i < n; i++) {
        float *row = rows + i * FW_F__COUNT;
        row[FW_F_V1] = -4;
        row[FW_F_AMOUNT] = amount + (float)i;
        row[FW_F_AMOUNT_VS_AVG] = 3.2f;
        row[FW_F_SECS_SINCE_PREV] = INFINITY; /* not finite: omitted too */
    }
    if (delay_ms > 0)
        rows[FW_F_HISTORY] = (float)delay_ms;
    return rows;
}

static void submit(fw_remote *r, void *tag, const float *rows, size_t n) {
    char err[256] = "";
    if (fw_remote_submit(r, tag, rows, n, err, sizeof(err)) != FW_OK)
        fail_msg("fw_remote_submit: %s", err);
}

typedef struct result {
    bool got;
    void *tag;
    const float *probs;
    size_t n;
    const char *error;
} result;

static result next(fw_remote *r, int wait_ms) {
    result x = { 0 };
    x.got = fw_remote_next(r, wait_ms, &x.tag, &x.probs, &x.n, &x.error);
    return x;
}

static void assert_contains(const char *s, const char *part) {
    if (!s || !strstr(s, part))
        fail_msg("expected \"%s\" in \"%s\"", part, s ? s : "(null)");
}

static void assert_probs(const result *x, size_t n, float amount) {
    assert_true(x->got);
    if (x->error)
        fail_msg("batch failed: %s", x->error);
    assert_non_null(x->probs);
    assert_int_equal(x->n, n);
    for (size_t i = 0; i < n; i++)
        assert_float_equal(x->probs[i], (amount + (float)i) / 10000.0f, 1e-6);
}

static void sleep_ms(int ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- tests ------------------------------------------------------------------------ */

static void expect_new_fails(const char *url, const char *why) {
    fw_remote_conf c;
    fw_remote_conf_defaults(&c);
    c.endpoint = url;
    char err[256] = "";
    fw_remote *r = fw_remote_new(&c, err, sizeof(err));
    assert_null(r);
    assert_contains(err, why);
}

static void expect_url(const char *endpoint_, const char *url) {
    fw_remote_conf c;
    fw_remote_conf_defaults(&c);
    c.endpoint = endpoint_;
    fw_remote *r = start(&c);
    assert_string_equal(fw_remote_url(r), url);
    fw_remote_destroy(r);
}

static void test_endpoint_and_conf(void **state) {
    (void)state;
    expect_new_fails(NULL, "no endpoint URL");
    expect_new_fails("", "no endpoint URL");
    expect_new_fails("ftp://host/x", "scheme \"ftp\" is not supported (http or https)");
    expect_new_fails("localhost:8000", "\"localhost:8000\" has no scheme");
    expect_new_fails("http://", "is not a valid URL");

    expect_url("http://localhost:8000", "http://localhost:8000/predict");
    expect_url("http://localhost:8000/", "http://localhost:8000/predict");
    expect_url("https://h.example/api/", "https://h.example/api/predict");
    expect_url("HTTP://h:1/predict", "http://h:1/predict");
    expect_url("http://h:1/v1/predict?key=k", "http://h:1/v1/predict?key=k");

    fw_remote_conf c;
    fw_remote_conf_defaults(&c);
    assert_int_equal(c.timeout_ms, 10000);
    assert_int_equal(c.max_rows_per_request, 1000);
    c.endpoint = "http://h";
    c.max_inflight = 0;
    char err[256];
    assert_null(fw_remote_new(&c, err, sizeof(err)));
    assert_contains(err, "max_inflight");
    fw_remote_conf_defaults(&c);
    c.endpoint = "http://h";
    c.timeout_ms = -1;
    assert_null(fw_remote_new(&c, err, sizeof(err)));
    assert_contains(err, "timeout_ms");

    /* Nothing submitted: next returns at once even when told to wait. */
    fw_remote_conf_defaults(&c);
    c.endpoint = "http://h";
    fw_remote *r = start(&c);
    assert_false(fw_remote_next(r, -1, NULL, NULL, NULL, NULL));
    assert_int_equal(fw_remote_submit(r, NULL, NULL, 0, err, sizeof(err)), FW_ERR_INVALID);
    assert_contains(err, "at least one row");
    fw_remote_destroy(r);
    fw_remote_destroy(NULL);
}

static void test_ok_body_and_keepalive(void **state) {
    (void)state;
    fw_remote_conf c = test_conf();
    c.max_inflight = 1;
    fw_remote *r = start(&c);
    float *rows = make_rows(5, 1500, 0);
    for (int round = 0; round < 3; round++) {
        int tag = 0;
        submit(r, &tag, rows, 5);
        assert_int_equal(fw_remote_inflight(r), 1);
        result x = next(r, -1);
        assert_ptr_equal(x.tag, &tag);
        assert_null(x.error);
        assert_probs(&x, 5, 1500);
        assert_int_equal(fw_remote_inflight(r), 0);
    }
    free(rows);
    /* Names by fw_feature_name, NaN and infinity omitted, floats short. */
    assert_contains(srv.first_body,
                    "{\"transactions\":[{\"V1\":-4,\"Amount\":1500,\"amount_vs_avg\":3.2},"
                    "{\"V1\":-4,\"Amount\":1501,\"amount_vs_avg\":3.2},");
    assert_string_equal(srv.bad, "");
    fw_remote_stats st;
    fw_remote_stats_get(r, &st);
    assert_int_equal(st.batches, 3);
    assert_int_equal(st.rows, 15);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.ok_batches, 3);
    assert_int_equal(st.failed_batches, 0);
    assert_int_equal(st.retries, 0);
    assert_true(st.last_latency_ms > 0);
    assert_string_equal(st.last_error, "");
    /* The three requests went over one kept-alive connection. */
    assert_int_equal(atomic_load(&srv.connections), 1);
    assert_false(fw_remote_next(r, 0, NULL, NULL, NULL, NULL));
    fw_remote_destroy(r);
}

/* serve --token: the bearer token goes with every request, and only when set. */
static void test_bearer_token(void **state) {
    (void)state;
    float *rows = make_rows(2, 1500, 0);
    for (int with = 0; with < 2; with++) {
        char token[] = "s3cr3t-Tok.en~";
        fw_remote_conf c = test_conf();
        c.token = with ? token : NULL;
        fw_remote *r = start(&c);
        memset(token, 'x', sizeof(token) - 1); /* the header was copied at start */
        int tag = 0;
        submit(r, &tag, rows, 2);
        result x = next(r, -1);
        assert_probs(&x, 2, 1500);
        pthread_mutex_lock(&srv.mu);
        char auth[sizeof(srv.auth)];
        snprintf(auth, sizeof(auth), "%s", srv.auth);
        pthread_mutex_unlock(&srv.mu);
        assert_string_equal(auth, with ? "Bearer s3cr3t-Tok.en~" : "");
        fw_remote_destroy(r);
    }
    free(rows);
}

static void test_split_into_requests(void **state) {
    (void)state;
    fw_remote_conf c = test_conf();
    c.max_rows_per_request = 3;
    fw_remote *r = start(&c);
    float *rows = make_rows(10, 100, 0);
    submit(r, NULL, rows, 10);
    memset(rows, 0, 10 * FW_F__COUNT * sizeof(float)); /* serialized on submit */
    result x = next(r, -1);
    assert_probs(&x, 10, 100);
    free(rows);
    fw_remote_stats st;
    fw_remote_stats_get(r, &st);
    assert_int_equal(st.requests, 4);
    assert_int_equal(st.ok_batches, 1);
    assert_string_equal(srv.bad, "");
    fw_remote_destroy(r);
}

/* Significant digits of a decimal token ("0.00120" and "1.2e-3": 2). */
static int sig_digits(const char *s, size_t n) {
    int first = -1, last = -1, count = 0;
    for (size_t i = 0; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] < '0' || s[i] > '9')
            continue;
        if (s[i] != '0') {
            if (first < 0)
                first = count;
            last = count;
        }
        count++;
    }
    return first < 0 ? 0 : last - first + 1;
}

/* The fewest significant digits that read back as @p v. */
static int shortest_digits(float v) {
    char t[40];
    for (int p = 1; p <= 9; p++) {
        snprintf(t, sizeof(t), "%.*e", p - 1, (double)v);
        if (strtof(t, NULL) == v)
            return sig_digits(t, strlen(t));
    }
    return -1;
}

static void test_floats_exact_and_shortest(void **state) {
    (void)state;
    fw_remote_conf c = test_conf();
    c.max_rows_per_request = 100000;
    fw_remote *r = start(&c);
    enum { N = 300 };
    float *rows = make_rows(N, 0, 0);
    static const float special[] = { 0.0f, -0.0f, 1e-7f, 1.5e-8f, 3.4028235e38f, 1.4e-45f,
                                     1.1754944e-38f, 16777216.0f, 16777218.0f, 123456789.0f,
                                     1e21f, 1e20f, 0.1f, 9.999999f, 99999.99f, -2.5f };
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < N * FW_F__COUNT; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        float v;
        if (i % 4 == 0) { /* any bit pattern */
            uint32_t bits = (uint32_t)x;
            memcpy(&v, &bits, sizeof(v));
        } else if (i % 4 == 1) {
            v = (float)((double)(x >> 11) / 9007199254740992.0 * 2000 - 1000);
        } else if (i % 4 == 2) {
            v = (float)(int64_t)(x % 100000) / 100.0f; /* cents */
        } else {
            v = special[(x >> 3) % (sizeof(special) / sizeof(special[0]))];
        }
        rows[i] = isfinite(v) ? v : 1.0f;
        if (i % FW_F__COUNT == FW_F_AMOUNT)
            rows[i] = (float)(x % 10000); /* the fake service's prediction x 10000 */
    }
    rows[FW_F_HISTORY] = 0; /* no delay */
    submit(r, NULL, rows, N);
    result res = next(r, -1);
    assert_true(res.got);
    assert_null(res.error);

    fw_arena a;
    assert_true(fw_arena_init(&a, fw_json_arena_bound(srv.last_body.len)));
    fw_json *root = NULL;
    char err[256];
    assert_int_equal(fw_json_parse(srv.last_body.data, srv.last_body.len, &a, &root, err,
                                   sizeof(err)), FW_OK);
    const fw_json *txns = fw_json_get(root, "transactions");
    assert_int_equal(txns->count, N);
    size_t i = 0;
    FW_JSON_FOREACH(row, txns) {
        assert_int_equal(row->count, FW_F__COUNT);
        int f = 0;
        FW_JSON_FOREACH(m, row) {
            float want = rows[i * FW_F__COUNT + (size_t)f];
            char tok[64];
            snprintf(tok, sizeof(tok), "%.*s", (int)m->str.len, m->str.ptr);
            assert_true(fw_str_eq_c(m->key, fw_feature_name((fw_feature)f)));
            float got = strtof(tok, NULL);
            if (memcmp(&got, &want, sizeof(got)) != 0)
                fail_msg("%s: %.9g written as %s", fw_feature_name((fw_feature)f), (double)want,
                         tok);
            if (want != 0 && sig_digits(tok, strlen(tok)) != shortest_digits(want))
                fail_msg("%.9g written as %s, not in %d digits", (double)want, tok,
                         shortest_digits(want));
            f++;
        }
        i++;
    }
    fw_arena_fini(&a);
    free(rows);
    fw_remote_destroy(r);
}

static void test_500_once_is_retried(void **state) {
    (void)state;
    atomic_store(&srv.mode, M_500_ONCE);
    fw_remote_conf c = test_conf();
    fw_remote *r = start(&c);
    float *rows = make_rows(4, 2000, 0);
    submit(r, NULL, rows, 4);
    result x = next(r, -1);
    assert_probs(&x, 4, 2000);
    free(rows);
    fw_remote_stats st;
    fw_remote_stats_get(r, &st);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.ok_batches, 1);
    fw_remote_destroy(r);
}

static void test_500_always_then_down_then_back(void **state) {
    (void)state;
    atomic_store(&srv.mode, M_500);
    fw_remote_conf c = test_conf();
    c.down_ms = 300;
    fw_remote *r = start(&c);
    float *rows = make_rows(4, 2000, 0);
    submit(r, (void *)1, rows, 4);
    result x = next(r, -1);
    assert_true(x.got);
    assert_null(x.probs);
    assert_contains(x.error, "POST http://127.0.0.1:");
    assert_contains(x.error, "/predict: HTTP 500 (3 attempts): internal error");
    fw_remote_stats st;
    fw_remote_stats_get(r, &st);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.failed_batches, 1);
    assert_int_equal(st.failed_rows, 4);
    assert_true(st.down);
    assert_contains(st.last_error, "HTTP 500");

    /* Down: the next batch fails at once, without a request. */
    int64_t t0 = fw_mono_ms();
    submit(r, (void *)2, rows, 4);
    x = next(r, -1);
    assert_true(fw_mono_ms() - t0 < 100);
    assert_ptr_equal(x.tag, (void *)2);
    assert_null(x.probs);
    assert_contains(x.error, "service considered down");
    assert_contains(x.error, "HTTP 500");
    fw_remote_stats_get(r, &st);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.fast_failed, 1);
    assert_int_equal(st.failed_batches, 2);

    /* Once down_ms passed, a batch is tried again; the service is back. */
    atomic_store(&srv.mode, M_OK);
    sleep_ms(350);
    submit(r, (void *)3, rows, 4);
    x = next(r, -1);
    assert_probs(&x, 4, 2000);
    fw_remote_stats_get(r, &st);
    assert_int_equal(st.requests, 4);
    assert_int_equal(st.fast_failed, 1);
    assert_false(st.down);
    free(rows);
    fw_remote_destroy(r);
}

static void test_timeout(void **state) {
    (void)state;
    atomic_store(&srv.mode, M_SLOW);
    atomic_store(&srv.slow_ms, 3000);
    fw_remote_conf c = test_conf();
    c.timeout_ms = 200;
    c.retries = 1;
    fw_remote *r = start(&c);
    float *rows = make_rows(2, 10, 0);
    int64_t t0 = fw_mono_ms();
    submit(r, NULL, rows, 2);
    /* A bounded wait gives up on time. */
    assert_false(fw_remote_next(r, 50, NULL, NULL, NULL, NULL));
    result x = next(r, -1);
    int64_t took = fw_mono_ms() - t0;
    assert_true(x.got);
    assert_null(x.probs);
    assert_contains(x.error, "/predict: timeout after 200 ms (2 attempts)");
    assert_true(took >= 400 && took < 1500);
    fw_remote_stats st;
    fw_remote_stats_get(r, &st);
    assert_int_equal(st.timeouts, 2);
    assert_int_equal(st.requests, 2);
    free(rows);
    fw_remote_destroy(r);
}

/* A batch that fails on a bad answer from the service, not retried. */
static void expect_response_error(srv_mode mode, const char *why) {
    atomic_store(&srv.mode, mode);
    fw_remote_conf c = test_conf();
    c.down_ms = 5000;
    fw_remote *r = start(&c);
    float *rows = make_rows(4, 10, 0);
    submit(r, NULL, rows, 4);
    result x = next(r, -1);
    assert_true(x.got);
    assert_null(x.probs);
    assert_contains(x.error, why);
    fw_remote_stats st;
    fw_remote_stats_get(r, &st);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.failed_batches, 1);
    /* The service answered: it is not down. */
    assert_false(st.down);
    free(rows);
    fw_remote_destroy(r);
}

static void test_malformed_json(void **state) {
    (void)state;
    expect_response_error(M_MALFORMED, "response: invalid JSON: ");
    expect_response_error(M_MALFORMED, "(line 1, column 21)");
}

static void test_wrong_count(void **state) {
    (void)state;
    expect_response_error(M_WRONG_COUNT, "response: expected 4 predictions, got 3");
}

static void test_out_of_range(void **state) {
    (void)state;
    expect_response_error(M_OUT_OF_RANGE,
                          "response: prediction 0 is 1.5, not a probability in [0,1]");
}

static void test_400_not_retried(void **state) {
    (void)state;
    expect_response_error(M_400, "HTTP 400, the request was rejected (not retried): "
                                 "{\"detail\":\"field Amount: value is not a number\"}");
}

static void test_connection_refused_then_down(void **state) {
    (void)state;
    /* A port nobody listens on: bound, then closed. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));

    fw_remote_conf c = test_conf();
    c.endpoint = url;
    c.retries = 1;
    c.down_ms = 300;
    fw_remote *r = start(&c);
    float *rows = make_rows(3, 10, 0);
    submit(r, NULL, rows, 3);
    result x = next(r, -1);
    assert_true(x.got);
    assert_null(x.probs);
    assert_contains(x.error, url);
    assert_contains(x.error, "(2 attempts)");
    fw_remote_stats st;
    fw_remote_stats_get(r, &st);
    assert_int_equal(st.requests, 2);
    assert_true(st.down);

    submit(r, NULL, rows, 3);
    x = next(r, -1);
    assert_null(x.probs);
    assert_contains(x.error, "service considered down");
    fw_remote_stats_get(r, &st);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.fast_failed, 1);

    /* After down_ms the service is tried again (and still refuses). */
    sleep_ms(350);
    submit(r, NULL, rows, 3);
    x = next(r, -1);
    assert_null(x.probs);
    assert_contains(x.error, "(2 attempts)");
    fw_remote_stats_get(r, &st);
    assert_int_equal(st.requests, 4);
    assert_int_equal(st.fast_failed, 1);
    assert_int_equal(st.failed_batches, 3);
    free(rows);
    fw_remote_destroy(r);
}

static void test_results_in_submission_order(void **state) {
    (void)state;
    fw_remote_conf c = test_conf();
    fw_remote *r = start(&c);
    float *slow = make_rows(3, 100, 400);
    float *fast = make_rows(3, 200, 0);
    submit(r, (void *)1, slow, 3);
    submit(r, (void *)2, fast, 3);
    submit(r, (void *)3, fast, 3);
    assert_int_equal(fw_remote_inflight(r), 3);
    /* The two fast ones complete while the slow one holds the head. */
    fw_remote_stats st;
    int64_t end = fw_mono_ms() + 300;
    do {
        sleep_ms(5);
        fw_remote_stats_get(r, &st);
    } while (st.ok_batches < 2 && fw_mono_ms() < end);
    assert_int_equal(st.ok_batches, 2);
    assert_false(fw_remote_next(r, 0, NULL, NULL, NULL, NULL));
    result x = next(r, -1);
    assert_ptr_equal(x.tag, (void *)1);
    assert_probs(&x, 3, 100);
    x = next(r, 0);
    assert_ptr_equal(x.tag, (void *)2);
    assert_probs(&x, 3, 200);
    x = next(r, 0);
    assert_ptr_equal(x.tag, (void *)3);
    assert_probs(&x, 3, 200);
    assert_int_equal(fw_remote_inflight(r), 0);
    free(slow);
    free(fast);
    fw_remote_destroy(r);
}

static void test_submit_blocks_at_max_inflight(void **state) {
    (void)state;
    fw_remote_conf c = test_conf();
    c.max_inflight = 1;
    fw_remote *r = start(&c);
    float *slow = make_rows(2, 100, 200);
    int64_t t0 = fw_mono_ms();
    submit(r, (void *)1, slow, 2);
    submit(r, (void *)2, slow, 2); /* waits for the first to complete */
    assert_true(fw_mono_ms() - t0 >= 150);
    result x = next(r, -1);
    assert_ptr_equal(x.tag, (void *)1);
    assert_probs(&x, 2, 100);
    x = next(r, -1);
    assert_ptr_equal(x.tag, (void *)2);
    assert_probs(&x, 2, 100);
    free(slow);
    fw_remote_destroy(r);
}

static void test_destroy_cancels_in_flight(void **state) {
    (void)state;
    atomic_store(&srv.mode, M_SLOW);
    atomic_store(&srv.slow_ms, 3000);
    fw_remote_conf c = test_conf();
    c.timeout_ms = 5000;
    fw_remote *r = start(&c);
    float *rows = make_rows(2, 100, 0);
    submit(r, NULL, rows, 2);
    submit(r, NULL, rows, 2);
    sleep_ms(50);
    int64_t t0 = fw_mono_ms();
    fw_remote_destroy(r);
    assert_true(fw_mono_ms() - t0 < 500);
    free(rows);
}

int main(void) {
    setenv("no_proxy", "*", 1); /* the fake service is local whatever the environment says */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_and_conf),
        cmocka_unit_test_setup_teardown(test_ok_body_and_keepalive, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_bearer_token, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_split_into_requests, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_floats_exact_and_shortest, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_500_once_is_retried, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_500_always_then_down_then_back, srv_start,
                                        srv_stop),
        cmocka_unit_test_setup_teardown(test_timeout, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_malformed_json, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_wrong_count, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_out_of_range, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_400_not_retried, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_connection_refused_then_down, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_results_in_submission_order, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_submit_blocks_at_max_inflight, srv_start,
                                        srv_stop),
        cmocka_unit_test_setup_teardown(test_destroy_cancels_in_flight, srv_start, srv_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
