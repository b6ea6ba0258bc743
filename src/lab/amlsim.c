/* amlsim.c — AMLSim's CSV files mapped to fraudwatch transactions, read from
 * folders or, through archive.h, from .tgz archives in memory (see amlsim.h).
 * The CSV reader trusts nothing: a bad row is reported with file and line
 * and skipped, never fatal. */
#include "amlsim.h"
#include "archive.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fw_hash.h"
#include "fw_time.h"

#define CSV_MAX_COLUMNS 64
#define CSV_MAX_NUMBER 64      /* characters of a numeric field */
#define MAX_ROWS ((size_t)INT32_MAX)

static bool grow(void **ptr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    if (c > SIZE_MAX / elem)
        return false;
    void *p = realloc(*ptr, c * elem);
    if (!p)
        return false;
    *ptr = p;
    *cap = c;
    return true;
}

/* ------------------------------------------------------------ data set */

struct fw_amlsim_data {
    char *name, *source;
    char *ids;              /* account ids, NUL-terminated, back to back */
    size_t ids_len, ids_cap;
    uint32_t *id_off;       /* account → offset in ids */
    uint8_t *id_len;
    uint8_t *fraud;
    size_t acc_cap;
    uint32_t nacc, nlabelled, nfraud;
    uint32_t *map;          /* open addressing: account index or UINT32_MAX */
    size_t map_cap;
    fw_amlsim_txn *txn;
    size_t txn_cap;
    uint32_t ntxn;
    uint32_t *by_line;      /* line → transaction index (after finish) */
    size_t nlines;
    uint64_t bad;
};

fw_amlsim_data *fw_amlsim_new(const char *name, const char *source) {
    fw_amlsim_data *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->name = strdup(name ? name : "");
    d->source = strdup(source ? source : "");
    if (!d->name || !d->source) {
        fw_amlsim_destroy(d);
        return NULL;
    }
    return d;
}

void fw_amlsim_destroy(fw_amlsim_data *d) {
    if (!d)
        return;
    free(d->name);
    free(d->source);
    free(d->ids);
    free(d->id_off);
    free(d->id_len);
    free(d->fraud);
    free(d->map);
    free(d->txn);
    free(d->by_line);
    free(d);
}

static uint64_t id_hash(fw_str s) { return fw_hash64(s.ptr, s.len, 0x616d6c); }

fw_str fw_amlsim_account_id(const fw_amlsim_data *d, uint32_t a) {
    return a < d->nacc ? (fw_str){ d->ids + d->id_off[a], d->id_len[a] } : FW_STR_NULL;
}

uint32_t fw_amlsim_find_account(const fw_amlsim_data *d, fw_str id) {
    if (!d->map_cap)
        return UINT32_MAX;
    size_t mask = d->map_cap - 1;
    for (size_t i = (size_t)id_hash(id) & mask;; i = (i + 1) & mask) {
        uint32_t a = d->map[i];
        if (a == UINT32_MAX || fw_str_eq(fw_amlsim_account_id(d, a), id))
            return a;
    }
}

static bool map_insert(uint32_t *map, size_t cap, fw_str id, uint32_t a) {
    size_t mask = cap - 1;
    for (size_t i = (size_t)id_hash(id) & mask;; i = (i + 1) & mask)
        if (map[i] == UINT32_MAX) {
            map[i] = a;
            return true;
        }
}

static bool map_grow(fw_amlsim_data *d) {
    size_t cap = d->map_cap ? d->map_cap * 2 : 4096;
    uint32_t *map = malloc(cap * sizeof(*map));
    if (!map)
        return false;
    memset(map, 0xff, cap * sizeof(*map));
    for (uint32_t a = 0; a < d->nacc; a++)
        map_insert(map, cap, fw_amlsim_account_id(d, a), a);
    free(d->map);
    d->map = map;
    d->map_cap = cap;
    return true;
}

/* Adds account @p id (not yet present). @returns its index or UINT32_MAX. */
static uint32_t add_account(fw_amlsim_data *d, fw_str id, bool labelled, bool fraud) {
    if (d->nacc >= MAX_ROWS)
        return UINT32_MAX;
    if ((size_t)(d->nacc + 1) * 2 > d->map_cap && !map_grow(d))
        return UINT32_MAX;
    size_t need = (size_t)d->nacc + 1;
    size_t cap = d->acc_cap;
    if (!grow((void **)&d->id_off, &cap, need, sizeof(*d->id_off)))
        return UINT32_MAX;
    cap = d->acc_cap;
    if (!grow((void **)&d->id_len, &cap, need, sizeof(*d->id_len)))
        return UINT32_MAX;
    cap = d->acc_cap;
    if (!grow((void **)&d->fraud, &cap, need, sizeof(*d->fraud)))
        return UINT32_MAX;
    d->acc_cap = cap;
    if (d->ids_len + id.len + 1 > UINT32_MAX ||
        !grow((void **)&d->ids, &d->ids_cap, d->ids_len + id.len + 1, 1))
        return UINT32_MAX;
    uint32_t a = d->nacc++;
    d->id_off[a] = (uint32_t)d->ids_len;
    d->id_len[a] = (uint8_t)id.len;
    memcpy(d->ids + d->ids_len, id.ptr, id.len);
    d->ids[d->ids_len + id.len] = '\0';
    d->ids_len += id.len + 1;
    d->fraud[a] = fraud;
    d->nlabelled += labelled;
    d->nfraud += fraud;
    map_insert(d->map, d->map_cap, id, a);
    return a;
}

/* ------------------------------------------------------------ CSV */

typedef struct csv_reader {
    const char *p;
    size_t n, pos;
    uint64_t line;          /* of the line last returned */
} csv_reader;

static bool csv_next_line(csv_reader *r, fw_str *line) {
    if (r->pos >= r->n)
        return false;
    const char *start = r->p + r->pos;
    const char *nl = memchr(start, '\n', r->n - r->pos);
    size_t len = nl ? (size_t)(nl - start) : r->n - r->pos;
    r->pos += len + (nl != NULL);
    r->line++;
    if (len && start[len - 1] == '\r')
        len--;
    if (r->line == 1 && len >= 3 && !memcmp(start, "\xef\xbb\xbf", 3)) { /* UTF-8 BOM */
        start += 3;
        len -= 3;
    }
    *line = (fw_str){ start, len };
    return true;
}

static bool blank(fw_str s) {
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] != ' ' && s.ptr[i] != '\t')
            return false;
    return true;
}

/* Splits at commas, trims blanks and one pair of surrounding quotes (quoted
 * commas are not supported). @returns the field count, max + 1 when more. */
static int csv_split(fw_str line, fw_str *f, int max) {
    int k = 0;
    size_t i = 0;
    for (;;) {
        size_t start = i;
        while (i < line.len && line.ptr[i] != ',')
            i++;
        if (k == max)
            return max + 1;
        fw_str s = { line.ptr + start, i - start };
        while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t'))
            s.ptr++, s.len--;
        while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
            s.len--;
        if (s.len >= 2 && s.ptr[0] == '"' && s.ptr[s.len - 1] == '"')
            s.ptr++, s.len -= 2;
        f[k++] = s;
        if (i >= line.len)
            return k;
        i++;
    }
}

static bool eq_nocase(fw_str a, const char *b) {
    size_t n = strlen(b);
    if (a.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char x = a.ptr[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

typedef struct csv_header {
    int ncols;
    int col[4];             /* index of each wanted column */
} csv_header;

/* Reads the first non-blank line as the header and finds @p want[0..nwant). */
static fw_err csv_header_read(csv_reader *r, const char *file, const char *const *want,
                              int nwant, csv_header *h, char *errstr, size_t errstr_size) {
    fw_str line, f[CSV_MAX_COLUMNS];
    do {
        if (!csv_next_line(r, &line)) {
            snprintf(errstr, errstr_size, "%s: empty file, expected a header line", file);
            return FW_ERR_INVALID;
        }
    } while (blank(line));
    h->ncols = csv_split(line, f, CSV_MAX_COLUMNS);
    if (h->ncols > CSV_MAX_COLUMNS) {
        snprintf(errstr, errstr_size, "%s:%" PRIu64 ": header has more than %d columns", file,
                 r->line, CSV_MAX_COLUMNS);
        return FW_ERR_INVALID;
    }
    for (int w = 0; w < nwant; w++) {
        h->col[w] = -1;
        for (int c = 0; c < h->ncols && h->col[w] < 0; c++)
            if (eq_nocase(f[c], want[w]))
                h->col[w] = c;
        if (h->col[w] < 0) {
            char shown[120];
            snprintf(errstr, errstr_size, "%s:%" PRIu64 ": header has no column \"%s\" (got %s)",
                     file, r->line, want[w],
                     fw_str_printable(line.ptr, line.len, shown, sizeof(shown)));
            return FW_ERR_INVALID;
        }
    }
    return FW_OK;
}

static bool valid_id(fw_str s) {
    if (s.len == 0 || s.len > FW_AMLSIM_MAX_ID)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_' || c == '-' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

static bool parse_amount(fw_str s, double *out) {
    char buf[CSV_MAX_NUMBER + 1];
    if (s.len == 0 || s.len > CSV_MAX_NUMBER)
        return false;
    for (size_t i = 0; i < s.len; i++) { /* no "inf", "nan", hex or spaces for strtod */
        char c = s.ptr[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' ||
              c == '-'))
            return false;
    }
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end || errno || !isfinite(v) || v < 0 || v > 1e15)
        return false;
    *out = v == 0 ? 0.0 : v; /* no negative zero */
    return true;
}

static bool parse_step(fw_str s, int32_t *out) {
    if (s.len == 0 || s.len > 9)
        return false;
    int32_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        v = v * 10 + (s.ptr[i] - '0');
    }
    if (v > FW_AMLSIM_MAX_STEP)
        return false;
    *out = v;
    return true;
}

static bool parse_flag(fw_str s, bool *out) {
    if (fw_str_eq_c(s, "1") || eq_nocase(s, "true"))
        *out = true;
    else if (fw_str_eq_c(s, "0") || eq_nocase(s, "false"))
        *out = false;
    else
        return false;
    return true;
}

/* One CSV file being read into a data set: where its skipped rows go. */
typedef struct csv_file {
    fw_amlsim_data *d;
    const char *name;
    fw_amlsim_bad_fn bad;   /* may be NULL: rows are still counted */
    void *opaque;
} csv_file;

static void report_bad(csv_file *cf, uint64_t line, const char *fmt, fw_str value) {
    char shown[80], reason[200];
    cf->d->bad++;
    if (!cf->bad)
        return;
    snprintf(reason, sizeof(reason), fmt,
             fw_str_printable(value.ptr, value.len, shown, sizeof(shown)));
    cf->bad(cf->opaque, cf->name, line, reason);
}

/* Takes one data row: @p v holds the wanted columns, in the order asked for.
 * A malformed row is reported and FW_OK returned; an error stops the file. */
typedef fw_err (*csv_row_fn)(csv_file *cf, const fw_str *v, uint64_t line, char *errstr,
                             size_t errstr_size);

/* Reads the header, then hands every data row to @p row: blank lines are
 * skipped, a row whose field count differs from the header's is reported. */
static fw_err csv_each(csv_file *cf, const char *csv, size_t n, const char *const *want,
                       int nwant, csv_row_fn row, char *errstr, size_t errstr_size) {
    csv_reader r = { .p = csv, .n = n };
    csv_header h;
    fw_err err = csv_header_read(&r, cf->name, want, nwant, &h, errstr, errstr_size);
    if (err)
        return err;
    fw_str line, f[CSV_MAX_COLUMNS], v[4];
    while (!err && csv_next_line(&r, &line)) {
        if (blank(line))
            continue;
        int k = csv_split(line, f, CSV_MAX_COLUMNS);
        if (k != h.ncols) {
            char fmt[96];
            snprintf(fmt, sizeof(fmt), "expected %d fields as in the header, got %s%d: %%s",
                     h.ncols, k > CSV_MAX_COLUMNS ? "more than " : "",
                     k > CSV_MAX_COLUMNS ? CSV_MAX_COLUMNS : k);
            report_bad(cf, r.line, fmt, line);
            continue;
        }
        for (int w = 0; w < nwant; w++)
            v[w] = f[h.col[w]];
        err = row(cf, v, r.line, errstr, errstr_size);
    }
    return err;
}

/* nodes.csv: nodeid, isFraud. */
static fw_err node_row(csv_file *cf, const fw_str *v, uint64_t line, char *errstr,
                       size_t errstr_size) {
    fw_amlsim_data *d = cf->d;
    bool fraud;
    if (!valid_id(v[0])) {
        report_bad(cf, line,
                   "nodeid: expected 1 to 64 characters of A-Z a-z 0-9 _ - . :, got \"%s\"",
                   v[0]);
        return FW_OK;
    }
    if (!parse_flag(v[1], &fraud)) {
        report_bad(cf, line, "isFraud: expected 0 or 1, got \"%s\"", v[1]);
        return FW_OK;
    }
    if (fw_amlsim_find_account(d, v[0]) != UINT32_MAX) {
        report_bad(cf, line, "nodeid \"%s\" is listed twice", v[0]);
        return FW_OK;
    }
    if (add_account(d, v[0], true, fraud) == UINT32_MAX) {
        snprintf(errstr, errstr_size, "%s:%" PRIu64 ": out of memory or too many accounts",
                 cf->name, line);
        return FW_ERR_NOMEM;
    }
    return FW_OK;
}

fw_err fw_amlsim_parse_nodes(fw_amlsim_data *d, const char *csv, size_t n, const char *file,
                             fw_amlsim_bad_fn bad, void *opaque, char *errstr,
                             size_t errstr_size) {
    static const char *const want[] = { "nodeid", "isFraud" };
    csv_file cf = { .d = d, .name = file, .bad = bad, .opaque = opaque };
    return csv_each(&cf, csv, n, want, 2, node_row, errstr, errstr_size);
}

/* The account of @p id, added unlabelled when nodes.csv did not list it. */
static uint32_t account_of(fw_amlsim_data *d, fw_str id) {
    uint32_t a = fw_amlsim_find_account(d, id);
    return a != UINT32_MAX ? a : add_account(d, id, false, false);
}

/* transactions.csv: sourceNodeId, targetNodeId, value, time. */
static fw_err txn_row(csv_file *cf, const fw_str *v, uint64_t line, char *errstr,
                      size_t errstr_size) {
    fw_amlsim_data *d = cf->d;
    fw_amlsim_txn t = { .line = (uint32_t)line };
    if (!valid_id(v[0])) {
        report_bad(cf, line,
                   "sourceNodeId: expected 1 to 64 characters of A-Z a-z 0-9 _ - . :, "
                   "got \"%s\"", v[0]);
        return FW_OK;
    }
    if (!valid_id(v[1])) {
        report_bad(cf, line,
                   "targetNodeId: expected 1 to 64 characters of A-Z a-z 0-9 _ - . :, "
                   "got \"%s\"", v[1]);
        return FW_OK;
    }
    if (!parse_amount(v[2], &t.value)) {
        report_bad(cf, line, "value: expected a number from 0 to 1e15, got \"%s\"", v[2]);
        return FW_OK;
    }
    if (!parse_step(v[3], &t.step)) {
        report_bad(cf, line, "time: expected a simulation step from 0 to 1000000, got \"%s\"",
                   v[3]);
        return FW_OK;
    }
    if (line > UINT32_MAX || d->ntxn >= MAX_ROWS ||
        (t.src = account_of(d, v[0])) == UINT32_MAX ||
        (t.dst = account_of(d, v[1])) == UINT32_MAX ||
        !grow((void **)&d->txn, &d->txn_cap, (size_t)d->ntxn + 1, sizeof(*d->txn))) {
        snprintf(errstr, errstr_size, "%s:%" PRIu64 ": out of memory or too many rows", cf->name,
                 line);
        return FW_ERR_NOMEM;
    }
    d->txn[d->ntxn++] = t;
    return FW_OK;
}

fw_err fw_amlsim_parse_transactions(fw_amlsim_data *d, const char *csv, size_t n,
                                    const char *file, fw_amlsim_bad_fn bad, void *opaque,
                                    char *errstr, size_t errstr_size) {
    static const char *const want[] = { "sourceNodeId", "targetNodeId", "value", "time" };
    csv_file cf = { .d = d, .name = file, .bad = bad, .opaque = opaque };
    return csv_each(&cf, csv, n, want, 4, txn_row, errstr, errstr_size);
}

static int cmp_txn(const void *a, const void *b) {
    const fw_amlsim_txn *x = a, *y = b;
    if (x->step != y->step)
        return x->step < y->step ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

void fw_amlsim_finish(fw_amlsim_data *d) {
    if (d->ntxn)
        qsort(d->txn, d->ntxn, sizeof(*d->txn), cmp_txn);
    uint32_t max_line = 0;
    for (uint32_t i = 0; i < d->ntxn;) {
        uint32_t j = i;
        while (j < d->ntxn && d->txn[j].step == d->txn[i].step)
            j++;
        int64_t day = FW_AMLSIM_EPOCH_MS + ((int64_t)d->txn[i].step - 1) * FW_AMLSIM_STEP_MS;
        int64_t gap = FW_AMLSIM_STEP_MS / (int64_t)(j - i);
        for (uint32_t k = i; k < j; k++) {
            d->txn[k].ts_ms = day + (int64_t)(k - i) * gap;
            if (d->txn[k].line > max_line)
                max_line = d->txn[k].line;
        }
        i = j;
    }
    free(d->by_line);
    d->nlines = d->ntxn ? (size_t)max_line + 1 : 0;
    d->by_line = d->nlines ? malloc(d->nlines * sizeof(*d->by_line)) : NULL;
    if (!d->by_line) {
        d->nlines = 0;
        return;
    }
    memset(d->by_line, 0xff, d->nlines * sizeof(*d->by_line));
    for (uint32_t i = 0; i < d->ntxn; i++)
        d->by_line[d->txn[i].line] = i;
}

const char *fw_amlsim_name(const fw_amlsim_data *d) { return d->name; }
const char *fw_amlsim_source(const fw_amlsim_data *d) { return d->source; }
uint32_t fw_amlsim_naccounts(const fw_amlsim_data *d) { return d->nacc; }
uint32_t fw_amlsim_nlabelled(const fw_amlsim_data *d) { return d->nlabelled; }
const uint8_t *fw_amlsim_fraud(const fw_amlsim_data *d) { return d->fraud; }
uint32_t fw_amlsim_nfraud(const fw_amlsim_data *d) { return d->nfraud; }
uint32_t fw_amlsim_ntxn(const fw_amlsim_data *d) { return d->ntxn; }
const fw_amlsim_txn *fw_amlsim_txns(const fw_amlsim_data *d) { return d->txn; }
uint64_t fw_amlsim_bad_lines(const fw_amlsim_data *d) { return d->bad; }

uint32_t fw_amlsim_find_txn(const fw_amlsim_data *d, fw_str id) {
    if (id.len < 5 || id.len > 14 || memcmp(id.ptr, "aml-", 4))
        return UINT32_MAX;
    uint64_t line = 0;
    for (size_t i = 4; i < id.len; i++) {
        if (id.ptr[i] < '0' || id.ptr[i] > '9')
            return UINT32_MAX;
        line = line * 10 + (uint64_t)(id.ptr[i] - '0');
    }
    return line < d->nlines ? d->by_line[line] : UINT32_MAX;
}

bool fw_amlsim_write_record(const fw_amlsim_data *d, uint32_t i, fw_buf *out) {
    if (i >= d->ntxn)
        return false;
    const fw_amlsim_txn *t = &d->txn[i];
    char ts[32];
    fw_time_format(t->ts_ms, ts);
    fw_str src = fw_amlsim_account_id(d, t->src);
    fw_buf_printf(out, "{\"transaction_id\":\"aml-%" PRIu32 "\",\"timestamp\":\"%s\","
                       "\"account_id\":", t->line, ts);
    fw_buf_json_str(out, src);
    fw_buf_puts(out, ",\"customer_id\":");
    fw_buf_json_str(out, src);
    fw_buf_puts(out, ",\"counterparty_id\":");
    fw_buf_json_str(out, fw_amlsim_account_id(d, t->dst));
    fw_buf_puts(out, ",\"type\":\"TRANSFER\",\"amount\":");
    fw_buf_json_double(out, t->value);
    return fw_buf_putc(out, '}');
}

/* ------------------------------------------------------------ loading */

typedef struct set_list {
    fw_amlsim_data **v;
    size_t n, cap;
} set_list;

static fw_err read_file(const char *path, char **out, size_t *len, char *errstr,
                        size_t errstr_size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return FW_ERR_IO;
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    fw_err err = FW_OK;
    while (buf) {
        if (n == cap) {
            if (cap >= FW_AMLSIM_MAX_BYTES) {
                snprintf(errstr, errstr_size, "%s: larger than %zu bytes", path,
                         (size_t)FW_AMLSIM_MAX_BYTES);
                err = FW_ERR_LIMIT;
                break;
            }
            char *b = realloc(buf, cap * 2);
            if (!b)
                break;
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (!buf && !err) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        err = FW_ERR_NOMEM;
    } else if (!err && ferror(f)) {
        snprintf(errstr, errstr_size, "%s: read error: %s", path, strerror(errno));
        err = FW_ERR_IO;
    }
    fclose(f);
    if (err) {
        free(buf);
        return err;
    }
    *out = buf;
    *len = n;
    return FW_OK;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Parses one data set from its two CSV buffers and appends it to @p list. */
static fw_err add_set(set_list *list, const char *name, const char *source,
                      const char *nodes, size_t nodes_len, const char *nodes_file,
                      const char *txns, size_t txns_len, const char *txns_file,
                      fw_amlsim_bad_fn bad, void *opaque, char *errstr, size_t errstr_size) {
    fw_amlsim_data *d = fw_amlsim_new(name, source);
    if (!d || !grow((void **)&list->v, &list->cap, list->n + 1, sizeof(*list->v))) {
        fw_amlsim_destroy(d);
        snprintf(errstr, errstr_size, "%s: out of memory", source);
        return FW_ERR_NOMEM;
    }
    fw_err err = fw_amlsim_parse_nodes(d, nodes, nodes_len, nodes_file, bad, opaque, errstr,
                                       errstr_size);
    if (!err)
        err = fw_amlsim_parse_transactions(d, txns, txns_len, txns_file, bad, opaque, errstr,
                                           errstr_size);
    if (!err && fw_amlsim_ntxn(d) == 0) {
        snprintf(errstr, errstr_size, "%s: no valid transaction rows", txns_file);
        err = FW_ERR_INVALID;
    }
    if (err) {
        fw_amlsim_destroy(d);
        return err;
    }
    fw_amlsim_finish(d);
    list->v[list->n++] = d;
    return FW_OK;
}

static fw_err load_folder(set_list *list, const char *dir, fw_amlsim_bad_fn bad, void *opaque,
                          char *errstr, size_t errstr_size) {
    size_t plen = strlen(dir) + 32;
    char *np = malloc(plen), *tp = malloc(plen);
    char *nodes = NULL, *txns = NULL;
    size_t nlen = 0, tlen = 0;
    fw_err err = FW_ERR_NOMEM;
    snprintf(errstr, errstr_size, "%s: out of memory", dir);
    if (np && tp) {
        snprintf(np, plen, "%s/nodes.csv", dir);
        snprintf(tp, plen, "%s/transactions.csv", dir);
        err = read_file(np, &nodes, &nlen, errstr, errstr_size);
        if (!err)
            err = read_file(tp, &txns, &tlen, errstr, errstr_size);
        if (!err) {
            char name[256];
            snprintf(name, sizeof(name), "%s", base_name(dir));
            for (size_t k = strlen(name); k > 1 && name[k - 1] == '/'; k--)
                name[k - 1] = '\0';
            err = add_set(list, name, dir, nodes, nlen, np, txns, tlen, tp, bad, opaque, errstr,
                          errstr_size);
        }
    }
    free(nodes);
    free(txns);
    free(np);
    free(tp);
    return err;
}

static void strip_archive_ext(char *name) {
    static const char *const exts[] = { ".tar.gz", ".tgz", ".tar" };
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (ends_with(name, exts[i]) && strlen(name) > strlen(exts[i])) {
            name[strlen(name) - strlen(exts[i])] = '\0';
            return;
        }
}

typedef struct tar_file {
    char *name;
    const char *data;
    size_t size;
} tar_file;

typedef struct tar_files {
    tar_file *v;
    size_t n, cap;
    bool nomem;
} tar_files;

/* Keeps the members named transactions.csv or nodes.csv (not macOS "._" twins). */
static bool collect_csv(void *opaque, const fw_tar_entry *e) {
    tar_files *tf = opaque;
    const char *b = base_name(e->name);
    if (e->type != '0' || (strcmp(b, "transactions.csv") && strcmp(b, "nodes.csv")))
        return true;
    char *name = strdup(e->name);
    if (!name || !grow((void **)&tf->v, &tf->cap, tf->n + 1, sizeof(*tf->v))) {
        free(name);
        tf->nomem = true;
        return false;
    }
    tf->v[tf->n++] = (tar_file){ .name = name, .data = e->data, .size = e->size };
    return true;
}

static fw_err load_archive(set_list *list, const char *path, fw_amlsim_bad_fn bad,
                           void *opaque, char *errstr, size_t errstr_size) {
    char *raw = NULL, *tar = NULL;
    size_t raw_len = 0, tar_len = 0;
    char msg[300];
    tar_files tf = { 0 };
    fw_err err = read_file(path, &raw, &raw_len, errstr, errstr_size);
    if (err)
        return err;
    if (fw_archive_is_gzip(raw, raw_len)) {
        err = fw_gunzip(raw, raw_len, FW_AMLSIM_MAX_BYTES, &tar, &tar_len, msg, sizeof(msg));
        free(raw);
        raw = NULL;
        if (err) {
            snprintf(errstr, errstr_size, "%s: %s", path, msg);
            return err;
        }
    } else if (!fw_archive_is_ustar(raw, raw_len)) {
        free(raw); /* a plain .tar is accepted too, but only a ustar one */
        snprintf(errstr, errstr_size, "%s: not a .tgz or .tar archive (no gzip signature and "
                                      "no ustar header)", path);
        return FW_ERR_INVALID;
    } else {
        tar = raw; /* an uncompressed .tar */
        tar_len = raw_len;
        raw = NULL;
    }
    err = fw_tar_each(tar, tar_len, collect_csv, &tf, msg, sizeof(msg));
    if (err)
        snprintf(errstr, errstr_size, "%s: %s", path, msg);
    else if (tf.nomem) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        err = FW_ERR_NOMEM;
    }
    size_t found = 0;
    for (size_t i = 0; i < tf.n && !err; i++) {
        if (strcmp(base_name(tf.v[i].name), "transactions.csv"))
            continue;
        size_t dlen = (size_t)(base_name(tf.v[i].name) - tf.v[i].name);
        const tar_file *nodes = NULL;
        for (size_t j = 0; j < tf.n && !nodes; j++)
            if (!strcmp(base_name(tf.v[j].name), "nodes.csv") &&
                (size_t)(base_name(tf.v[j].name) - tf.v[j].name) == dlen &&
                !strncmp(tf.v[j].name, tf.v[i].name, dlen))
                nodes = &tf.v[j];
        if (!nodes) {
            snprintf(errstr, errstr_size, "%s: %s has no nodes.csv beside it", path,
                     tf.v[i].name);
            err = FW_ERR_INVALID;
            break;
        }
        /* The set's name: its folder, else the archive's name without extension. */
        char name[256], source[1024], nfile[1024], tfile[1024];
        if (dlen > 1)
            snprintf(name, sizeof(name), "%.*s", (int)(dlen - 1), tf.v[i].name);
        else
            snprintf(name, sizeof(name), "%s", base_name(path));
        char *slash = strrchr(name, '/');
        if (slash && dlen > 1)
            memmove(name, slash + 1, strlen(slash + 1) + 1);
        if (dlen <= 1)
            strip_archive_ext(name);
        snprintf(source, sizeof(source), "%s", path);
        snprintf(nfile, sizeof(nfile), "%s:%s", path, nodes->name);
        snprintf(tfile, sizeof(tfile), "%s:%s", path, tf.v[i].name);
        err = add_set(list, name, source, nodes->data, nodes->size, nfile, tf.v[i].data,
                      tf.v[i].size, tfile, bad, opaque, errstr, errstr_size);
        found++;
    }
    if (!err && !found) {
        snprintf(errstr, errstr_size, "%s: no transactions.csv with a nodes.csv in the archive",
                 path);
        err = FW_ERR_INVALID;
    }
    for (size_t i = 0; i < tf.n; i++)
        free(tf.v[i].name);
    free(tf.v);
    free(tar);
    return err;
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool has_data(const char *dir) {
    char path[PATH_MAX];
    return snprintf(path, sizeof(path), "%s/transactions.csv", dir) < (int)sizeof(path) &&
           is_file(path);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A folder of archives and unpacked folders, in name order. */
static fw_err load_dir_of_sets(set_list *list, const char *dir, fw_amlsim_bad_fn bad,
                               void *opaque, char *errstr, size_t errstr_size) {
    DIR *dh = opendir(dir);
    if (!dh) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", dir, strerror(errno));
        return FW_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    fw_err err = FW_OK;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *copy = strdup(de->d_name);
        if (!copy || !grow((void **)&names, &cap, n + 1, sizeof(*names))) {
            free(copy);
            err = FW_ERR_NOMEM;
            snprintf(errstr, errstr_size, "%s: out of memory", dir);
            break;
        }
        names[n++] = copy;
    }
    closedir(dh);
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    size_t before = list->n;
    for (size_t i = 0; i < n && !err; i++) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path))
            continue;
        bool archive = ends_with(names[i], ".tgz") || ends_with(names[i], ".tar.gz") ||
                       ends_with(names[i], ".tar");
        if (archive && is_file(path))
            err = load_archive(list, path, bad, opaque, errstr, errstr_size);
        else if (is_dir(path) && has_data(path))
            err = load_folder(list, path, bad, opaque, errstr, errstr_size);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (!err && list->n == before) {
        snprintf(errstr, errstr_size,
                 "%s: no AMLSim data: expected transactions.csv and nodes.csv, or .tgz "
                 "archives of them", dir);
        err = FW_ERR_INVALID;
    }
    return err;
}

fw_err fw_amlsim_load(const char *path, fw_amlsim_data ***sets, size_t *nsets,
                      fw_amlsim_bad_fn bad, void *opaque, char *errstr, size_t errstr_size) {
    set_list list = { 0 };
    *sets = NULL;
    *nsets = 0;
    struct stat st;
    fw_err err;
    if (stat(path, &st) != 0) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return FW_ERR_IO;
    }
    if (S_ISDIR(st.st_mode))
        err = has_data(path) ? load_folder(&list, path, bad, opaque, errstr, errstr_size)
                             : load_dir_of_sets(&list, path, bad, opaque, errstr, errstr_size);
    else
        err = load_archive(&list, path, bad, opaque, errstr, errstr_size);
    if (err) {
        for (size_t i = 0; i < list.n; i++)
            fw_amlsim_destroy(list.v[i]);
        free(list.v);
        return err;
    }
    *sets = list.v;
    *nsets = list.n;
    return FW_OK;
}
