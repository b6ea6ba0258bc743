/* expr.c — the compiler of the rule language's expressions (expr.h): a
 * lexer, a recursive-descent parser that type-checks each node as it builds
 * it, constant folding, and the resolution of every name to a field, slot,
 * list or hook. The result is the flat node array expr_eval.c walks.
 * Grammar, lowest precedence first (docs/rule-language.md):
 *   or   := and ("or" and)*
 *   and  := not ("and" not)*
 *   not  := "not" not | cmp
 *   cmp  := add [cmpop add | ["not"] "in" (list | "list(" STR ")") | "is" ["not"] "missing"]
 *   add  := mul (("+" | "-") mul)*
 *   mul  := unary (("*" | "/") unary)*
 *   unary:= "-" unary | primary
 *   primary := NUM | DUR | STR | true | false | $param | "(" or ")" | name | name "(" args ")"
 *   name := IDENT ["." IDENT] */
#include "expr_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rules_file.h"

typedef enum tok {
    T_EOF, T_NUM, T_DUR, T_STR, T_IDENT, T_PARAM,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_LP, T_RP, T_LB, T_RB, T_COMMA, T_DOT,
    T_LT, T_LE, T_GT, T_GE, T_EQ, T_NE,
} tok;

typedef struct token {
    tok t;
    size_t pos, len;     /* bytes of the source */
    fw_xval v;           /* NUM, DUR, STR (unescaped into the text arena) */
} token;

typedef struct parser {
    const char *src;
    size_t n;
    size_t p;            /* lexer position */
    token cur;
    const fw_expr_env *env;
    fw_expr *e;
    int32_t cap;         /* nodes allocated */
    size_t setcap, textlen;
    int depth;
    fw_err rc;           /* first error; FW_OK while parsing goes well */
    char *errstr;
    size_t errsize;
} parser;

/* ---- errors ---------------------------------------------------------- */

static void pos_of(const parser *ps, size_t pos, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos && i < ps->n; i++) {
        if (ps->src[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)ps->src[i] & 0xc0) != 0x80) {
            (*col)++; /* columns count characters, not UTF-8 continuation bytes */
        }
    }
}

__attribute__((format(printf, 4, 5)))
static int32_t fail(parser *ps, fw_err rc, size_t pos, const char *fmt, ...) {
    if (ps->rc != FW_OK)
        return -1;
    ps->rc = rc;
    if (ps->errstr && ps->errsize) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(ps->errstr, ps->errsize, fmt, ap);
        va_end(ap);
        int line, col;
        pos_of(ps, pos, &line, &col);
        size_t used = w < 0 ? 0 : (size_t)w < ps->errsize ? (size_t)w : ps->errsize - 1;
        snprintf(ps->errstr + used, ps->errsize - used, " (line %d, column %d)", line, col);
    }
    return -1;
}

/* The token's text, printable, for messages. */
static const char *snip(const parser *ps, const token *t, char *buf, size_t size) {
    if (t->t == T_EOF)
        return "end of expression";
    char in[40];
    fw_str_printable(ps->src + t->pos, t->len, in, sizeof(in));
    snprintf(buf, size, "\"%s\"", in);
    return buf;
}

/* ---- lexer ----------------------------------------------------------- */

static bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_ident(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A string literal in double or single quotes; escapes \" \' \\ \n \t \r
 * \/ \uXXXX (BMP, UTF-8 encoded). Unescaped into e->text, which has room
 * for the whole source: unescaping never lengthens. */
static bool lex_string(parser *ps, token *t) {
    char q = ps->src[ps->p++];
    char *out = ps->e->text + ps->textlen;
    size_t o = 0;
    while (ps->p < ps->n && ps->src[ps->p] != q) {
        char c = ps->src[ps->p];
        if (c == '\n') {
            fail(ps, FW_ERR_INVALID, ps->p, "line break inside a string literal");
            return false;
        }
        if (c != '\\') {
            out[o++] = c;
            ps->p++;
            continue;
        }
        size_t at = ps->p;
        if (++ps->p >= ps->n)
            break;
        c = ps->src[ps->p++];
        switch (c) {
        case '"': case '\'': case '\\': case '/': out[o++] = c; break;
        case 'n': out[o++] = '\n'; break;
        case 't': out[o++] = '\t'; break;
        case 'r': out[o++] = '\r'; break;
        case 'u': {
            unsigned cp = 0;
            for (int k = 0; k < 4; k++) {
                int h = ps->p < ps->n ? hexval(ps->src[ps->p]) : -1;
                if (h < 0) {
                    fail(ps, FW_ERR_INVALID, at, "\\u needs four hex digits");
                    return false;
                }
                cp = cp << 4 | (unsigned)h;
                ps->p++;
            }
            if (cp >= 0xd800 && cp <= 0xdfff) {
                fail(ps, FW_ERR_INVALID, at, "\\u%04X is a surrogate, not a character", cp);
                return false;
            }
            /* \uXXXX is 6 bytes of source; its UTF-8 is at most 3. */
            if (cp < 0x80) {
                out[o++] = (char)cp;
            } else if (cp < 0x800) {
                out[o++] = (char)(0xc0 | cp >> 6);
                out[o++] = (char)(0x80 | (cp & 0x3f));
            } else {
                out[o++] = (char)(0xe0 | cp >> 12);
                out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
                out[o++] = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default: {
            char b[8];
            fail(ps, FW_ERR_INVALID, at, "unknown escape \"\\%s\" in a string literal",
                 fw_str_printable(&c, 1, b, sizeof(b)));
            return false;
        }
        }
    }
    if (ps->p >= ps->n) {
        fail(ps, FW_ERR_INVALID, t->pos, "string literal not closed");
        return false;
    }
    ps->p++; /* closing quote */
    if (!fw_utf8_valid(out, o)) {
        fail(ps, FW_ERR_INVALID, t->pos, "string literal is not valid UTF-8");
        return false;
    }
    t->t = T_STR;
    t->v = (fw_xval){ .type = FW_XT_STR, .u.s = { .ptr = out, .len = o } };
    ps->textlen += o;
    return true;
}

static bool lex_number(parser *ps, token *t) {
    size_t s = ps->p;
    while (ps->p < ps->n && is_digit(ps->src[ps->p]))
        ps->p++;
    if (ps->p + 1 < ps->n && ps->src[ps->p] == '.' && is_digit(ps->src[ps->p + 1])) {
        ps->p++;
        while (ps->p < ps->n && is_digit(ps->src[ps->p]))
            ps->p++;
    }
    if (ps->p < ps->n && is_ident_start(ps->src[ps->p])) {
        /* A duration: "30m", "1h30m", "500ms". */
        while (ps->p < ps->n && is_ident(ps->src[ps->p]))
            ps->p++;
        int64_t ms;
        fw_err rc = fw_rules_duration_parse(ps->src + s, ps->p - s, &ms);
        if (rc != FW_OK) {
            char b[48];
            fail(ps, rc, s,
                 rc == FW_ERR_LIMIT ? "duration %s is too long"
                                    : "bad number or duration \"%s\" (durations are like 30m, "
                                      "1h30m, 500ms: units d, h, m, s, ms)",
                 fw_str_printable(ps->src + s, ps->p - s, b, sizeof(b)));
            return false;
        }
        t->t = T_DUR;
        t->v = (fw_xval){ .type = FW_XT_DUR, .u.ms = ms };
        return true;
    }
    fw_dec v;
    fw_err rc = fw_dec_parse(ps->src + s, ps->p - s, &v);
    if (rc != FW_OK) {
        char b[48];
        fail(ps, rc, s, "number %s is out of range (at most 922337203685477.5807)",
             fw_str_printable(ps->src + s, ps->p - s, b, sizeof(b)));
        return false;
    }
    t->t = T_NUM;
    t->v = (fw_xval){ .type = FW_XT_NUM, .u.num = v };
    return true;
}

static void next(parser *ps) {
    token *t = &ps->cur;
    if (ps->rc != FW_OK) {
        t->t = T_EOF;
        return;
    }
    while (ps->p < ps->n && (ps->src[ps->p] == ' ' || ps->src[ps->p] == '\t' ||
                             ps->src[ps->p] == '\n' || ps->src[ps->p] == '\r'))
        ps->p++;
    memset(t, 0, sizeof(*t));
    t->pos = ps->p;
    if (ps->p >= ps->n) {
        t->t = T_EOF;
        return;
    }
    char c = ps->src[ps->p], d = ps->p + 1 < ps->n ? ps->src[ps->p + 1] : 0;
    bool ok = true;
    if (is_digit(c)) {
        ok = lex_number(ps, t);
    } else if (c == '"' || c == '\'') {
        ok = lex_string(ps, t);
    } else if (is_ident_start(c) || (c == '$' && is_ident_start(d))) {
        t->t = c == '$' ? T_PARAM : T_IDENT;
        ps->p++;
        while (ps->p < ps->n && is_ident(ps->src[ps->p]))
            ps->p++;
    } else {
        static const struct { char c, d; tok t; } ops[] = {
            { '<', '=', T_LE }, { '>', '=', T_GE }, { '=', '=', T_EQ }, { '!', '=', T_NE },
            { '+', 0, T_PLUS }, { '-', 0, T_MINUS }, { '*', 0, T_STAR }, { '/', 0, T_SLASH },
            { '(', 0, T_LP },   { ')', 0, T_RP },    { '[', 0, T_LB },   { ']', 0, T_RB },
            { ',', 0, T_COMMA }, { '.', 0, T_DOT },  { '<', 0, T_LT },   { '>', 0, T_GT },
        };
        size_t i;
        for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            if (ops[i].c == c && (!ops[i].d || ops[i].d == d))
                break;
        if (i == sizeof(ops) / sizeof(ops[0])) {
            char b[16];
            size_t len = 1;
            while (ps->p + len < ps->n && ((unsigned char)ps->src[ps->p + len] & 0xc0) == 0x80)
                len++;
            fail(ps, FW_ERR_INVALID, ps->p,
                 c == '=' ? "unexpected \"=\"; to compare, write \"==\""
                 : c == '&' || c == '|' ? "unexpected \"%s\"; write \"and\", \"or\""
                                        : "unexpected character \"%s\"",
                 fw_str_printable(ps->src + ps->p, len, b, sizeof(b)));
            ok = false;
        } else {
            t->t = ops[i].t;
            ps->p += ops[i].d ? 2 : 1;
        }
    }
    if (!ok) {
        t->t = T_EOF;
        return;
    }
    t->len = ps->p - t->pos;
}

static bool is_word(const parser *ps, const token *t, const char *w) {
    return t->t == T_IDENT && t->len == strlen(w) && !memcmp(ps->src + t->pos, w, t->len);
}

/* ---- nodes ----------------------------------------------------------- */

static int32_t add_node(parser *ps, xnode n) {
    if (ps->rc != FW_OK)
        return -1;
    if (ps->e->nnodes >= FW_EXPR_MAX_NODES)
        return fail(ps, FW_ERR_LIMIT, ps->cur.pos, "expression has more than %d nodes",
                    FW_EXPR_MAX_NODES);
    if (ps->e->nnodes == ps->cap) {
        int32_t cap = ps->cap ? ps->cap * 2 : 32;
        xnode *nn = realloc(ps->e->node, (size_t)cap * sizeof(*nn));
        if (!nn)
            return fail(ps, FW_ERR_NOMEM, ps->cur.pos, "out of memory");
        ps->e->node = nn;
        ps->cap = cap;
    }
    ps->e->node[ps->e->nnodes] = n;
    return ps->e->nnodes++;
}

static xnode *N(parser *ps, int32_t i) { return &ps->e->node[i]; }

static int32_t konst(parser *ps, fw_xval v) {
    return add_node(ps, (xnode){ .op = XOP_CONST, .type = v.type, .a = -1, .b = -1, .u.k = v });
}

/* Folds node @p i when its children are constants: evaluated once with an
 * empty record, replaced by its value (children stay, unreferenced). */
static int32_t fold(parser *ps, int32_t i) {
    if (i < 0)
        return i;
    xnode *n = N(ps, i);
    bool pure = n->op == XOP_NEG || n->op == XOP_ADD || n->op == XOP_SUB || n->op == XOP_MUL ||
                n->op == XOP_DIV || n->op == XOP_CMP || n->op == XOP_NOT ||
                n->op == XOP_ABS || n->op == XOP_LOWER || n->op == XOP_STARTS_WITH ||
                n->op == XOP_HOUR || n->op == XOP_DOW || n->op == XOP_IN_SET;
    if (!pure || (n->a >= 0 && N(ps, n->a)->op != XOP_CONST) ||
        (n->b >= 0 && N(ps, n->b)->op != XOP_CONST))
        return i;
    fw_txn none;
    memset(&none, 0, sizeof(none));
    fw_expr_ctx ctx = { .txn = &none };
    fw_xval v = fw_expr_eval_node(ps->e, i, &ctx);
    uint8_t type = n->type;
    /* A folded MISSING (1/0) keeps its static type for the checks above it. */
    *n = (xnode){ .op = XOP_CONST, .type = type, .a = -1, .b = -1, .u.k = v };
    return i;
}

static const char *tname(fw_xtype t) { return fw_xtype_name(t); }

/* Makes node @p i usable as type @p want: an extra field is read as that
 * type; a constant string becomes a duration ("30m"). */
static bool coerce(parser *ps, int32_t i, fw_xtype want) {
    xnode *n = N(ps, i);
    if (n->type == want)
        return true;
    if (n->op == XOP_EXTRA && n->type == FW_XT_ANY && (want == FW_XT_STR || want == FW_XT_NUM)) {
        n->type = (uint8_t)want;
        return true;
    }
    if (n->op == XOP_CONST && n->type == FW_XT_STR && want == FW_XT_DUR &&
        n->u.k.type == FW_XT_STR) {
        int64_t ms;
        if (fw_rules_duration_parse(n->u.k.u.s.ptr, n->u.k.u.s.len, &ms) != FW_OK)
            return false;
        n->type = FW_XT_DUR;
        n->u.k = (fw_xval){ .type = FW_XT_DUR, .u.ms = ms };
        return true;
    }
    return false;
}

/* ---- names ----------------------------------------------------------- */

static const char *const functions[] = { "abs",         "lower",     "starts_with",
                                         "hour_of_day", "day_of_week", "distance_km",
                                         "speed_kmh",   "is_new" };
static const char *const profile_fields[] = { "avg_amount", "home_country", "customer_id" };
static const char *const keywords[] = { "and", "or", "not", "in", "is", "missing", "list",
                                        "true", "false", "this", "prev", "profile", "extra" };

typedef struct hint {
    char best[64];
    size_t dist;
} hint;

static void consider(hint *h, fw_str name, const char *prefix, const char *cand) {
    char full[64];
    snprintf(full, sizeof(full), "%s%s", prefix, cand);
    size_t d = fw_str_edit_distance(name, fw_str_c(full));
    if (d < h->dist) {
        h->dist = d;
        snprintf(h->best, sizeof(h->best), "%s", full);
    }
}

/* The nearest known name to @p name among fields (with @p prefix: prev.,
 * profile.), slots, or functions; "" when nothing is close. */
static const char *nearest(const parser *ps, fw_str name, const char *prefix, bool funcs,
                           hint *h) {
    h->best[0] = 0;
    h->dist = SIZE_MAX;
    if (funcs) {
        for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++)
            consider(h, name, "", functions[i]);
    } else if (!strcmp(prefix, "profile.")) {
        for (size_t i = 0; i < sizeof(profile_fields) / sizeof(profile_fields[0]); i++)
            consider(h, name, "", profile_fields[i]);
    } else {
        for (int f = 0; f < FW_TXN_NFIELDS; f++)
            consider(h, name, "", fw_txn_field_name(f));
        if (!*prefix)
            for (size_t i = 0; i < ps->env->nslots; i++)
                consider(h, name, "", ps->env->slots[i].name);
    }
    size_t limit = name.len <= 3 ? 1 : name.len <= 6 ? 2 : 3;
    return h->dist <= limit ? h->best : "";
}

static int32_t unknown(parser *ps, const token *t, fw_str name, const char *what,
                       const char *prefix, bool funcs) {
    hint h;
    char b[80];
    const char *near = nearest(ps, name, prefix, funcs, &h);
    fw_str_printable(name.ptr, name.len, b, sizeof(b));
    if (*near)
        return fail(ps, FW_ERR_INVALID, t->pos, "unknown %s \"%s%s\", did you mean \"%s%s\"?",
                    what, prefix, b, prefix, near);
    return fail(ps, FW_ERR_INVALID, t->pos, "unknown %s \"%s%s\"", what, prefix, b);
}

/* Schema field accessor by name, or -1. Same order as txn.c's field table. */
static int field_of(fw_str name, int *txn_index) {
    char buf[32];
    if (name.len >= sizeof(buf))
        return -1;
    memcpy(buf, name.ptr, name.len);
    buf[name.len] = 0;
    int f = fw_txn_field_index(buf, name.len);
    if (f < 0)
        return -1;
    *txn_index = f;
    static const char *const order[] = {
        "transaction_id", "timestamp", "amount", "account_id", "card_id", "customer_id", "type",
        "currency", "merchant_id", "merchant_category", "country", "lat", "lon",
        "counterparty_id", "channel",
    };
    for (int i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++)
        if (!strcmp(order[i], buf))
            return i;
    if (buf[0] == 'V') /* V1..V28 follow V1 in the field table */
        return XF_V1 + (f - fw_txn_field_index("V1", 2));
    return -1;
}

static fw_xtype field_type(int xf) {
    switch (xf) {
    case XF_TIMESTAMP: return FW_XT_TIME;
    case XF_AMOUNT:
    case XF_LAT:
    case XF_LON: return FW_XT_NUM;
    default: return xf >= XF_V1 ? FW_XT_NUM : FW_XT_STR;
    }
}

static int32_t extra_node(parser *ps, const token *t, fw_str name) {
    int slot = ps->env->extra_field ? ps->env->extra_field(ps->env->ud, name) : -1;
    if (slot < 0) {
        char b[80];
        return fail(ps, FW_ERR_LIMIT, t->pos, "extra field \"%s\" refused: too many extra fields",
                    fw_str_printable(name.ptr, name.len, b, sizeof(b)));
    }
    fw_expr *e = ps->e;
    bool seen = false;
    for (size_t i = 0; i < e->uses.nextra; i++)
        seen |= e->extra[i] == slot;
    if (!seen) {
        int *x = realloc(e->extra, (e->uses.nextra + 1) * sizeof(*x));
        if (!x)
            return fail(ps, FW_ERR_NOMEM, t->pos, "out of memory");
        e->extra = x;
        e->extra[e->uses.nextra++] = slot;
    }
    return add_node(ps, (xnode){ .op = XOP_EXTRA, .type = FW_XT_ANY, .a = -1, .b = -1,
                                 .u.idx = slot });
}

static fw_str tok_str(const parser *ps, const token *t) {
    return (fw_str){ .ptr = ps->src + t->pos, .len = t->len };
}

static int32_t parse_or(parser *ps);

/* name := IDENT ["." IDENT]; the current token is the first IDENT. */
static int32_t parse_name(parser *ps) {
    token t = ps->cur;
    fw_str name = tok_str(ps, &t);
    next(ps);
    bool is_prev = is_word(ps, &t, "prev"), is_this = is_word(ps, &t, "this");
    bool is_prof = is_word(ps, &t, "profile"), is_extra = is_word(ps, &t, "extra");
    if ((is_prev || is_this || is_prof || is_extra) && ps->cur.t == T_DOT) {
        next(ps);
        token f = ps->cur;
        if (f.t != T_IDENT) {
            char b[48];
            return fail(ps, FW_ERR_INVALID, f.pos, "expected a field name after \"%.*s.\", got %s",
                        (int)name.len, name.ptr, snip(ps, &f, b, sizeof(b)));
        }
        next(ps);
        fw_str fname = tok_str(ps, &f);
        if (is_extra)
            return extra_node(ps, &f, fname);
        if (is_prof) {
            for (int i = 0; i < 3; i++)
                if (fw_str_eq_c(fname, profile_fields[i])) {
                    ps->e->uses.profile |= 1u << i;
                    return add_node(ps, (xnode){ .op = XOP_PROFILE,
                                                 .type = i == 0 ? FW_XT_NUM : FW_XT_STR,
                                                 .a = -1, .b = -1, .u.idx = i });
                }
            return unknown(ps, &f, fname, "profile field", "profile.", false);
        }
        int ti, xf = field_of(fname, &ti);
        if (xf < 0)
            return unknown(ps, &f, fname, is_prev ? "field of prev" : "field", is_prev ? "prev." : "this.", false);
        if (is_prev)
            ps->e->uses.prev_fields |= 1ull << ti;
        else
            ps->e->uses.fields |= 1ull << ti;
        return add_node(ps, (xnode){ .op = XOP_FIELD, .type = field_type(xf),
                                     .aux = is_prev, .a = -1, .b = -1, .u.idx = xf });
    }
    if (is_prev || is_this) {
        if (is_prev)
            ps->e->uses.prev_fields |= 1ull << 1; /* the record itself: keep prev */
        return add_node(ps, (xnode){ .op = XOP_REC, .type = FW_XT_REC, .aux = is_prev,
                                     .a = -1, .b = -1 });
    }
    if (is_word(ps, &t, "true") || is_word(ps, &t, "false"))
        return konst(ps, (fw_xval){ .type = FW_XT_BOOL, .u.b = is_word(ps, &t, "true") });
    for (size_t i = 0; i < ps->env->nslots; i++)
        if (fw_str_eq_c(name, ps->env->slots[i].name)) {
            if (i + 1 > ps->e->uses.nslots)
                ps->e->uses.nslots = i + 1;
            return add_node(ps, (xnode){ .op = XOP_SLOT, .type = ps->env->slots[i].type,
                                         .a = -1, .b = -1, .u.idx = (int32_t)i });
        }
    int ti, xf = field_of(name, &ti);
    if (xf >= 0) {
        ps->e->uses.fields |= 1ull << ti;
        return add_node(ps, (xnode){ .op = XOP_FIELD, .type = field_type(xf), .a = -1, .b = -1,
                                     .u.idx = xf });
    }
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
        if (fw_str_eq_c(name, keywords[i]))
            return fail(ps, FW_ERR_INVALID, t.pos, "unexpected \"%s\"", keywords[i]);
    /* Not a schema name: an extra field of the record, unless it is so close
     * to a known name that it is more likely a typo (write extra.NAME to
     * mean the field anyway). */
    hint h;
    if (!ps->env->extra_field || *nearest(ps, name, "", false, &h))
        return unknown(ps, &t, name, "field", "", false);
    return extra_node(ps, &t, name);
}

/* Requires node @p i to have type @p want (after coercion). */
static bool expect_type(parser *ps, int32_t i, fw_xtype want, size_t pos, const char *what) {
    if (i < 0)
        return false;
    if (coerce(ps, i, want))
        return true;
    fail(ps, FW_ERR_INVALID, pos, "%s must be a %s, not a %s", what, tname(want),
         tname((fw_xtype)N(ps, i)->type));
    return false;
}

static int32_t parse_call(parser *ps, const token *t) {
    fw_str name = tok_str(ps, t);
    int fn = -1;
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++)
        if (fw_str_eq_c(name, functions[i]))
            fn = (int)i;
    if (fn < 0)
        return unknown(ps, t, name, "function", "", true);
    next(ps); /* ( */
    int32_t arg[2] = { -1, -1 };
    size_t argpos[2] = { 0, 0 };
    int nargs = 0;
    static const int want_n[] = { 1, 1, 2, 1, 1, 2, 2, 2 };
    if (ps->cur.t != T_RP) {
        for (;;) {
            size_t pos = ps->cur.pos;
            int32_t a = parse_or(ps);
            if (a < 0)
                return -1;
            if (nargs < 2) {
                arg[nargs] = a;
                argpos[nargs] = pos;
            }
            nargs++;
            if (ps->cur.t != T_COMMA)
                break;
            next(ps);
        }
    }
    if (ps->cur.t != T_RP) {
        char b[48];
        return fail(ps, FW_ERR_INVALID, ps->cur.pos, "expected \",\" or \")\" in %s(...), got %s",
                    functions[fn], snip(ps, &ps->cur, b, sizeof(b)));
    }
    next(ps);
    if (nargs != want_n[fn])
        return fail(ps, FW_ERR_INVALID, t->pos, "%s takes %d argument%s, got %d", functions[fn],
                    want_n[fn], want_n[fn] == 1 ? "" : "s", nargs);
    xnode n = { .a = arg[0], .b = arg[1] };
    fw_xtype t0 = (fw_xtype)N(ps, arg[0])->type;
    char what[64];
    snprintf(what, sizeof(what), "the argument of %s", functions[fn]);
    switch (fn) {
    case 0: /* abs */
        if (t0 != FW_XT_DUR && !expect_type(ps, arg[0], FW_XT_NUM, argpos[0], what))
            return -1;
        n.op = XOP_ABS;
        n.type = N(ps, arg[0])->type;
        break;
    case 1: /* lower */
        if (!expect_type(ps, arg[0], FW_XT_STR, argpos[0], what))
            return -1;
        n.op = XOP_LOWER;
        n.type = FW_XT_STR;
        break;
    case 2: /* starts_with */
        if (!expect_type(ps, arg[0], FW_XT_STR, argpos[0], "the first argument of starts_with") ||
            !expect_type(ps, arg[1], FW_XT_STR, argpos[1], "the second argument of starts_with"))
            return -1;
        n.op = XOP_STARTS_WITH;
        n.type = FW_XT_BOOL;
        break;
    case 3: /* hour_of_day */
    case 4: /* day_of_week */
        if (!expect_type(ps, arg[0], FW_XT_TIME, argpos[0], what))
            return -1;
        n.op = fn == 3 ? XOP_HOUR : XOP_DOW;
        n.type = FW_XT_NUM;
        break;
    case 5: /* distance_km */
    case 6: /* speed_kmh */
        for (int k = 0; k < 2; k++)
            if (N(ps, arg[k])->op != XOP_REC)
                return fail(ps, FW_ERR_INVALID, argpos[k],
                            "the arguments of %s are the records prev and this", functions[fn]);
        n.op = fn == 5 ? XOP_DISTANCE : XOP_SPEED;
        n.type = FW_XT_NUM;
        n.aux = (uint8_t)(N(ps, arg[0])->aux | N(ps, arg[1])->aux << 1);
        n.a = n.b = -1;
        ps->e->uses.fields |= 1ull << 11 | 1ull << 12 | 1ull << 1; /* lat, lon, timestamp */
        if (n.aux)
            ps->e->uses.prev_fields |= 1ull << 11 | 1ull << 12 | 1ull << 1;
        break;
    case 7: { /* is_new(field, lookback) */
        xnode *f = N(ps, arg[0]);
        if (!((f->op == XOP_FIELD && !f->aux && f->type == FW_XT_STR) || f->op == XOP_EXTRA))
            return fail(ps, FW_ERR_INVALID, argpos[0],
                        "the first argument of is_new is a text field of this record, "
                        "like device_id or counterparty_id");
        coerce(ps, arg[0], FW_XT_STR);
        if (!expect_type(ps, arg[1], FW_XT_DUR, argpos[1], "the lookback of is_new"))
            return -1;
        if (N(ps, arg[1])->op != XOP_CONST || N(ps, arg[1])->u.k.type != FW_XT_DUR ||
            N(ps, arg[1])->u.k.u.ms <= 0)
            return fail(ps, FW_ERR_INVALID, argpos[1],
                        "the lookback of is_new must be a constant duration above 0, like 30d");
        fw_expr *e = ps->e;
        fw_expr_is_new_site *s = realloc(e->sites, (e->uses.nis_new + 1) * sizeof(*s));
        if (!s)
            return fail(ps, FW_ERR_NOMEM, t->pos, "out of memory");
        e->sites = s;
        int ti = -1;
        if (f->op == XOP_FIELD) {
            for (int k = 0; k < FW_TXN_NFIELDS; k++) {
                int tk;
                if (field_of(fw_str_c(fw_txn_field_name(k)), &tk) == f->u.idx)
                    ti = k;
            }
        }
        s[e->uses.nis_new] = (fw_expr_is_new_site){
            .field = ti, .extra_slot = f->op == XOP_EXTRA ? f->u.idx : -1,
            .lookback_ms = N(ps, arg[1])->u.k.u.ms };
        n.op = XOP_IS_NEW;
        n.type = FW_XT_BOOL;
        n.b = -1;
        n.u.idx = (int32_t)e->uses.nis_new++;
        break;
    }
    }
    return fold(ps, add_node(ps, n));
}

static int32_t parse_primary(parser *ps) {
    token t = ps->cur;
    char b[48];
    switch (t.t) {
    case T_NUM:
    case T_DUR:
    case T_STR:
        next(ps);
        return konst(ps, t.v);
    case T_PARAM: {
        next(ps);
        fw_str name = { .ptr = ps->src + t.pos + 1, .len = t.len - 1 };
        for (size_t i = 0; i < ps->env->nparams; i++)
            if (fw_str_eq_c(name, ps->env->params[i].name))
                return konst(ps, ps->env->params[i].value);
        hint h = { .dist = SIZE_MAX };
        for (size_t i = 0; i < ps->env->nparams; i++)
            consider(&h, name, "", ps->env->params[i].name);
        fw_str_printable(name.ptr, name.len, b, sizeof(b));
        if (h.dist <= 2)
            return fail(ps, FW_ERR_INVALID, t.pos, "unknown parameter \"$%s\", did you mean \"$%s\"?",
                        b, h.best);
        return fail(ps, FW_ERR_INVALID, t.pos, "unknown parameter \"$%s\" (declare it in params)", b);
    }
    case T_LP: {
        next(ps);
        int32_t i = parse_or(ps);
        if (i < 0)
            return -1;
        if (ps->cur.t != T_RP)
            return fail(ps, FW_ERR_INVALID, ps->cur.pos, "expected \")\", got %s",
                        snip(ps, &ps->cur, b, sizeof(b)));
        next(ps);
        return i;
    }
    case T_IDENT:
        if (ps->p < ps->n) {
            /* A call: the identifier is followed directly by "(" (spaces allowed). */
            size_t q = ps->p;
            while (q < ps->n && (ps->src[q] == ' ' || ps->src[q] == '\t'))
                q++;
            if (q < ps->n && ps->src[q] == '(' && !is_word(ps, &t, "not") &&
                !is_word(ps, &t, "and") && !is_word(ps, &t, "or") && !is_word(ps, &t, "in")) {
                next(ps);
                return parse_call(ps, &t);
            }
        }
        return parse_name(ps);
    default:
        return fail(ps, FW_ERR_INVALID, t.pos, "expected a value, name or \"(\", got %s",
                    snip(ps, &t, b, sizeof(b)));
    }
}

/* Raises the nesting depth; false (and an error) past the limit. */
static bool enter(parser *ps) {
    if (++ps->depth > FW_EXPR_MAX_DEPTH) {
        fail(ps, FW_ERR_LIMIT, ps->cur.pos, "expression nested deeper than %d", FW_EXPR_MAX_DEPTH);
        return false;
    }
    return true;
}

static int32_t parse_unary(parser *ps) {
    if (ps->cur.t != T_MINUS)
        return parse_primary(ps);
    if (!enter(ps))
        return -1;
    int32_t r;
    {
        size_t pos = ps->cur.pos;
        next(ps);
        int32_t a = parse_unary(ps);
        if (a < 0) {
            r = -1;
        } else {
            fw_xtype t = (fw_xtype)N(ps, a)->type;
            if (t != FW_XT_DUR && !expect_type(ps, a, FW_XT_NUM, pos, "the operand of \"-\""))
                r = -1;
            else
                r = fold(ps, add_node(ps, (xnode){ .op = XOP_NEG, .type = N(ps, a)->type,
                                                   .a = a, .b = -1 }));
        }
    }
    ps->depth--;
    return r;
}

/* Types of a binary arithmetic operator, or MISSING when not allowed. */
static fw_xtype arith_type(parser *ps, tok op, int32_t a, int32_t b) {
    fw_xtype ta = (fw_xtype)N(ps, a)->type, tb = (fw_xtype)N(ps, b)->type;
    if (ta == FW_XT_ANY)
        ta = FW_XT_NUM;
    if (tb == FW_XT_ANY)
        tb = FW_XT_NUM;
    if (ta == FW_XT_NUM && tb == FW_XT_NUM) {
        coerce(ps, a, FW_XT_NUM);
        coerce(ps, b, FW_XT_NUM);
        return FW_XT_NUM;
    }
    if (op == T_STAR || op == T_SLASH)
        return FW_XT_MISSING;
    if (ta == FW_XT_TIME && tb == FW_XT_TIME && op == T_MINUS)
        return FW_XT_DUR;
    if (ta == FW_XT_TIME && tb == FW_XT_DUR)
        return FW_XT_TIME;
    if (ta == FW_XT_DUR && tb == FW_XT_TIME && op == T_PLUS)
        return FW_XT_TIME;
    if (ta == FW_XT_DUR && tb == FW_XT_DUR)
        return FW_XT_DUR;
    return FW_XT_MISSING;
}

static int32_t parse_binary(parser *ps, int level) {
    int32_t a = level ? parse_unary(ps) : parse_binary(ps, 1);
    while (a >= 0) {
        tok op = ps->cur.t;
        bool mine = level ? (op == T_STAR || op == T_SLASH) : (op == T_PLUS || op == T_MINUS);
        if (!mine)
            break;
        size_t pos = ps->cur.pos;
        next(ps);
        int32_t b = level ? parse_unary(ps) : parse_binary(ps, 1);
        if (b < 0)
            return -1;
        fw_xtype rt = arith_type(ps, op, a, b);
        static const char *const opname[] = { [T_PLUS] = "+", [T_MINUS] = "-", [T_STAR] = "*",
                                              [T_SLASH] = "/" };
        if (rt == FW_XT_MISSING)
            return fail(ps, FW_ERR_INVALID, pos, "cannot apply \"%s\" to a %s and a %s", opname[op],
                        tname((fw_xtype)N(ps, a)->type), tname((fw_xtype)N(ps, b)->type));
        xop x = op == T_PLUS ? XOP_ADD : op == T_MINUS ? XOP_SUB : op == T_STAR ? XOP_MUL : XOP_DIV;
        a = fold(ps, add_node(ps, (xnode){ .op = x, .type = rt, .a = a, .b = b }));
    }
    return a;
}

/* Brings two operands of a comparison to one type. */
static bool unify(parser *ps, int32_t a, int32_t b, size_t pos, const char *op) {
    fw_xtype ta = (fw_xtype)N(ps, a)->type, tb = (fw_xtype)N(ps, b)->type;
    if (ta == FW_XT_ANY && tb == FW_XT_ANY)
        return coerce(ps, a, FW_XT_STR) && coerce(ps, b, FW_XT_STR);
    if (coerce(ps, a, tb) || coerce(ps, b, ta))
        return true;
    fail(ps, FW_ERR_INVALID, pos, "cannot compare a %s with a %s using \"%s\"", tname(ta), tname(tb),
         op);
    return false;
}

static int cmp_sort(const void *x, const void *y) {
    return fw_expr_compare((const fw_xval *)x, (const fw_xval *)y);
}

/* `[v, ...]`: constants of one type, stored sorted for binary search. */
static int32_t parse_set(parser *ps, int32_t a, bool negate, size_t inpos) {
    char b[48];
    next(ps); /* [ */
    fw_expr *e = ps->e;
    size_t off = e->nset, count = 0;
    fw_xtype et = FW_XT_MISSING;
    size_t first_pos = ps->cur.pos;
    while (ps->cur.t != T_RB) {
        size_t pos = ps->cur.pos;
        int32_t v = parse_binary(ps, 0);
        if (v < 0)
            return -1;
        if (N(ps, v)->op != XOP_CONST || N(ps, v)->u.k.type == FW_XT_MISSING)
            return fail(ps, FW_ERR_INVALID, pos, "a list after \"in\" holds constants only");
        fw_xtype t = (fw_xtype)N(ps, v)->type;
        if (et == FW_XT_MISSING)
            et = t;
        if (t != et)
            return fail(ps, FW_ERR_INVALID, pos, "list elements must all be %ss, this is a %s",
                        tname(et), tname(t));
        if (count >= FW_EXPR_MAX_LIST)
            return fail(ps, FW_ERR_LIMIT, pos, "list has more than %d elements", FW_EXPR_MAX_LIST);
        if (e->nset == ps->setcap) {
            size_t cap = ps->setcap ? ps->setcap * 2 : 16;
            fw_xval *s = realloc(e->set, cap * sizeof(*s));
            if (!s)
                return fail(ps, FW_ERR_NOMEM, pos, "out of memory");
            e->set = s;
            ps->setcap = cap;
        }
        e->set[e->nset++] = N(ps, v)->u.k;
        count++;
        if (ps->cur.t == T_COMMA) {
            next(ps);
            continue;
        }
        if (ps->cur.t != T_RB)
            return fail(ps, FW_ERR_INVALID, ps->cur.pos, "expected \",\" or \"]\" in the list, got %s",
                        snip(ps, &ps->cur, b, sizeof(b)));
    }
    next(ps); /* ] */
    if (et != FW_XT_MISSING) {
        if (et != FW_XT_STR && et != FW_XT_NUM && et != FW_XT_DUR)
            return fail(ps, FW_ERR_INVALID, first_pos, "a list holds strings, numbers or durations");
        if (!coerce(ps, a, et))
            return fail(ps, FW_ERR_INVALID, inpos, "cannot look for a %s in a list of %ss",
                        tname((fw_xtype)N(ps, a)->type), tname(et));
    } else {
        coerce(ps, a, FW_XT_STR);
    }
    if (count)
        qsort(e->set + off, count, sizeof(fw_xval), cmp_sort);
    xnode n = { .op = XOP_IN_SET, .type = FW_XT_BOOL, .aux = negate, .a = a, .b = -1 };
    n.u.set.off = (uint32_t)off;
    n.u.set.n = (uint32_t)count;
    return fold(ps, add_node(ps, n));
}

static int32_t parse_cmp(parser *ps) {
    int32_t a = parse_binary(ps, 0);
    if (a < 0)
        return -1;
    token t = ps->cur;
    char b[48];
    if (t.t >= T_LT && t.t <= T_NE) {
        static const char *const names[] = { "<", "<=", ">", ">=", "==", "!=" };
        const char *op = names[t.t - T_LT];
        next(ps);
        int32_t c = parse_binary(ps, 0);
        if (c < 0 || !unify(ps, a, c, t.pos, op))
            return -1;
        fw_xtype ty = (fw_xtype)N(ps, a)->type;
        if (ty == FW_XT_REC)
            return fail(ps, FW_ERR_INVALID, t.pos, "prev and this are records; compare their fields, "
                                                   "like prev.country");
        if (ty == FW_XT_BOOL && t.t != T_EQ && t.t != T_NE)
            return fail(ps, FW_ERR_INVALID, t.pos, "bools compare only with == and !=");
        a = fold(ps, add_node(ps, (xnode){ .op = XOP_CMP, .type = FW_XT_BOOL,
                                           .aux = (uint8_t)(t.t - T_LT), .a = a, .b = c }));
        t = ps->cur;
        if (t.t >= T_LT && t.t <= T_NE)
            return fail(ps, FW_ERR_INVALID, t.pos,
                        "comparisons do not chain; write \"a < b and b < c\"");
        return a;
    }
    bool negate = false;
    if (is_word(ps, &t, "not")) {
        next(ps);
        if (!is_word(ps, &ps->cur, "in"))
            return fail(ps, FW_ERR_INVALID, ps->cur.pos, "expected \"in\" after \"not\", got %s",
                        snip(ps, &ps->cur, b, sizeof(b)));
        negate = true;
        t = ps->cur;
    }
    if (is_word(ps, &t, "in")) {
        next(ps);
        if (N(ps, a)->type == FW_XT_REC)
            return fail(ps, FW_ERR_INVALID, t.pos, "prev and this are records, not values");
        if (ps->cur.t == T_LB)
            return parse_set(ps, a, negate, t.pos);
        if (is_word(ps, &ps->cur, "list")) {
            token l = ps->cur;
            next(ps);
            if (ps->cur.t != T_LP)
                return fail(ps, FW_ERR_INVALID, ps->cur.pos, "expected \"(\" after list");
            next(ps);
            token s = ps->cur;
            if (s.t != T_STR)
                return fail(ps, FW_ERR_INVALID, s.pos, "list(...) takes the list's name as a string");
            next(ps);
            if (ps->cur.t != T_RP)
                return fail(ps, FW_ERR_INVALID, ps->cur.pos, "expected \")\" after the list's name");
            next(ps);
            int id = ps->env->list_id ? ps->env->list_id(ps->env->ud, s.v.u.s) : -1;
            if (id < 0)
                return fail(ps, FW_ERR_INVALID, s.pos, "unknown list \"%s\"",
                            fw_str_printable(s.v.u.s.ptr, s.v.u.s.len, b, sizeof(b)));
            if (!expect_type(ps, a, FW_XT_STR, l.pos, "a value looked up in a named list"))
                return -1;
            ps->e->uses.nlists++;
            return add_node(ps, (xnode){ .op = XOP_IN_LIST, .type = FW_XT_BOOL, .aux = negate,
                                         .a = a, .b = -1, .u.idx = id });
        }
        return fail(ps, FW_ERR_INVALID, ps->cur.pos,
                    "expected \"[\" or list(\"name\") after \"in\", got %s",
                    snip(ps, &ps->cur, b, sizeof(b)));
    }
    if (is_word(ps, &t, "is")) {
        next(ps);
        bool not = false;
        if (is_word(ps, &ps->cur, "not")) {
            not = true;
            next(ps);
        }
        if (!is_word(ps, &ps->cur, "missing"))
            return fail(ps, FW_ERR_INVALID, ps->cur.pos, "expected \"missing\" after \"is%s\", got %s",
                        not ? " not" : "", snip(ps, &ps->cur, b, sizeof(b)));
        next(ps);
        if (N(ps, a)->type == FW_XT_ANY)
            coerce(ps, a, FW_XT_STR);
        return add_node(ps, (xnode){ .op = XOP_IS_MISSING, .type = FW_XT_BOOL, .aux = not,
                                     .a = a, .b = -1 });
    }
    return a;
}

static int32_t parse_not(parser *ps) {
    if (!is_word(ps, &ps->cur, "not"))
        return parse_cmp(ps);
    if (!enter(ps))
        return -1;
    int32_t r;
    {
        size_t pos = ps->cur.pos;
        next(ps);
        r = parse_not(ps);
        if (r >= 0 && expect_type(ps, r, FW_XT_BOOL, pos, "the operand of \"not\""))
            r = fold(ps, add_node(ps, (xnode){ .op = XOP_NOT, .type = FW_XT_BOOL, .a = r, .b = -1 }));
        else
            r = -1;
    }
    ps->depth--;
    return r;
}

/* `a and b and c` (or `or`): operands are checked as they come, then nested
 * to the right, a and (b and c), so the evaluator walks a chain in a loop. */
static int32_t parse_logic(parser *ps, bool is_or) {
    const char *word = is_or ? "or" : "and";
    int32_t a = is_or ? parse_logic(ps, false) : parse_not(ps);
    if (a < 0 || !is_word(ps, &ps->cur, word))
        return a;
    int32_t *ops = NULL;
    size_t nops = 0, cap = 0;
    char what[48];
    snprintf(what, sizeof(what), "each side of \"%s\"", word);
    int32_t r = -1;
    while (is_word(ps, &ps->cur, word)) {
        size_t pos = ps->cur.pos;
        if (nops == 0 && !expect_type(ps, a, FW_XT_BOOL, pos, what))
            goto out;
        next(ps);
        int32_t b = is_or ? parse_logic(ps, false) : parse_not(ps);
        if (b < 0 || !expect_type(ps, b, FW_XT_BOOL, pos, what))
            goto out;
        if (nops == cap) {
            cap = cap ? cap * 2 : 8;
            int32_t *o = realloc(ops, cap * sizeof(*o));
            if (!o) {
                fail(ps, FW_ERR_NOMEM, pos, "out of memory");
                goto out;
            }
            ops = o;
        }
        ops[nops++] = b;
    }
    r = ops[nops - 1];
    for (size_t k = nops - 1; k-- > 0;)
        r = add_node(ps, (xnode){ .op = is_or ? XOP_OR : XOP_AND, .type = FW_XT_BOOL,
                                  .a = ops[k], .b = r });
    r = add_node(ps, (xnode){ .op = is_or ? XOP_OR : XOP_AND, .type = FW_XT_BOOL, .a = a, .b = r });
out:
    free(ops);
    return ps->rc == FW_OK ? r : -1;
}

static int32_t parse_or(parser *ps) {
    if (!enter(ps))
        return -1;
    int32_t r = parse_logic(ps, true);
    ps->depth--;
    return r;
}

/* ---- public ---------------------------------------------------------- */

const char *fw_xtype_name(fw_xtype t) {
    static const char *const names[] = { [FW_XT_MISSING] = "missing", [FW_XT_BOOL] = "bool",
                                         [FW_XT_NUM] = "number",      [FW_XT_STR] = "string",
                                         [FW_XT_DUR] = "duration",    [FW_XT_TIME] = "time",
                                         [FW_XT_ANY] = "extra field", [FW_XT_REC] = "record" };
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

void fw_expr_destroy(fw_expr *e) {
    if (!e)
        return;
    free(e->node);
    free(e->step);
    free(e->set);
    free(e->text);
    free(e->extra);
    free(e->sites);
    free(e);
}

/* The fw_txn_type a string constant names; 0 (none) for any other text.
 * -1 when the constant cannot be matched by code (a lower() fold). */
static int type_code(const fw_xval *k) {
    if (k->type != FW_XT_STR || k->fold)
        return -1;
    for (int t = FW_TXN_PURCHASE; t < FW_TXN_TYPE_OTHER; t++)
        if (fw_str_eq_c(k->u.s, fw_txn_type_name((fw_txn_type)t)))
            return t;
    return 0;
}

/* The shortcut reading a value of static type @p t bare (expr_eval.c). */
static uint8_t typed_fast(fw_xtype t) {
    switch (t) {
    case FW_XT_NUM: return XFAST_NUM;
    case FW_XT_TIME:
    case FW_XT_DUR: return XFAST_MS;
    case FW_XT_STR: return XFAST_STR;
    default: return XFAST_NONE;
    }
}

/* Marks the shortcuts by operand type: comparisons and `is missing` of
 * numbers, times, durations and strings, and a number times a whole
 * constant ($multiple * profile.avg_amount) as one integer multiplication.
 * mark_fast's `type` shortcuts, marked after, take precedence. */
static void mark_typed(fw_expr *e, xnode *n) {
    if (n->op == XOP_CMP && n->a >= 0 && n->b >= 0 &&
        e->node[n->a].type == e->node[n->b].type) {
        const xnode *f = &e->node[n->a], *k = &e->node[n->b];
        n->fast = typed_fast((fw_xtype)f->type);
        if (f->op == XOP_FIELD && f->u.idx == XF_AMOUNT && !f->aux && k->op == XOP_CONST &&
            k->u.k.type == FW_XT_NUM) {
            n->fast = XFAST_AMOUNT_K;
            n->u.k = k->u.k;
        }
    } else if (n->op == XOP_IS_MISSING && n->a >= 0)
        n->fast = typed_fast((fw_xtype)e->node[n->a].type);
    else if (n->op == XOP_MUL && n->type == FW_XT_NUM && n->a >= 0 && n->b >= 0) {
        for (int side = 0; side < 2; side++) {
            const xnode *k = &e->node[side ? n->b : n->a];
            int32_t other = side ? n->a : n->b;
            if (k->op == XOP_CONST && k->u.k.type == FW_XT_NUM && k->u.k.u.num % FW_DEC_SCALE == 0 &&
                e->node[other].type == FW_XT_NUM) {
                n->fast = XFAST_MUL_INT;
                n->fx = (uint32_t)other;
                n->u.k = (fw_xval){ .type = FW_XT_NUM, .u.num = k->u.k.u.num / FW_DEC_SCALE };
                break;
            }
        }
    }
}

/* 1 + the offset in fw_txn of a text field the record carries as written
 * (as expr_eval.c's str_field reads it); 0 for the others (type derives
 * its text). */
static uint16_t str_field_off(int f) {
    switch ((xfield)f) {
    case XF_TRANSACTION_ID: return 1 + offsetof(fw_txn, transaction_id);
    case XF_ACCOUNT_ID: return 1 + offsetof(fw_txn, account_id);
    case XF_CARD_ID: return 1 + offsetof(fw_txn, card_id);
    case XF_CUSTOMER_ID: return 1 + offsetof(fw_txn, customer_id);
    case XF_CURRENCY: return 1 + offsetof(fw_txn, currency);
    case XF_MERCHANT_ID: return 1 + offsetof(fw_txn, merchant_id);
    case XF_MERCHANT_CATEGORY: return 1 + offsetof(fw_txn, merchant_category);
    case XF_COUNTRY: return 1 + offsetof(fw_txn, country);
    case XF_COUNTERPARTY_ID: return 1 + offsetof(fw_txn, counterparty_id);
    case XF_CHANNEL: return 1 + offsetof(fw_txn, channel);
    default: return 0;
    }
}

void fw_expr_fast_off(fw_expr *e) {
    for (int32_t i = 0; i < e->nnodes; i++)
        e->node[i].fast = XFAST_NONE;
    e->head = (fw_expr_head){ 0 };
    fw_expr_flat_off(e);
}

void fw_expr_flat_off(fw_expr *e) { e->nstep = 0; }

/* Lays out node i as steps going to t when it holds, f when not (nleaf:
 * each node's count of steps). A chain nested to the right is a loop, as
 * in eval_bool: only left sides recurse. */
static void flat_emit(fw_expr *e, const int32_t *nleaf, int32_t i, int32_t t, int32_t f) {
    for (;;) {
        const xnode *n = &e->node[i];
        switch ((xop)n->op) {
        case XOP_AND: /* the left side false decides; true goes on to the right */
            flat_emit(e, nleaf, n->a, e->nstep + nleaf[n->a], f);
            i = n->b;
            continue;
        case XOP_OR:
            flat_emit(e, nleaf, n->a, t, e->nstep + nleaf[n->a]);
            i = n->b;
            continue;
        case XOP_NOT: { /* eval_bool's !: a missing comparison under not holds */
            int32_t x = t;
            t = f;
            f = x;
            i = n->a;
            continue;
        }
        default:
            e->step[e->nstep++] = (xstep){ .n = n, .t = t, .f = f };
            return;
        }
    }
}

/* The flat form of a BOOL root (xstep). Without memory for it, evaluation
 * keeps the recursive path, which gives the same results. */
static void build_flat(fw_expr *e) {
    if (e->node[e->root].type != FW_XT_BOOL)
        return;
    int32_t *nleaf = malloc((size_t)e->nnodes * sizeof(*nleaf));
    if (!nleaf)
        return;
    for (int32_t i = 0; i < e->nnodes; i++) { /* children before parents */
        const xnode *n = &e->node[i];
        if (n->op == XOP_AND || n->op == XOP_OR)
            nleaf[i] = nleaf[n->a] + nleaf[n->b];
        else if (n->op == XOP_NOT)
            nleaf[i] = nleaf[n->a];
        else
            nleaf[i] = 1;
    }
    e->step = malloc((size_t)nleaf[e->root] * sizeof(*e->step));
    if (e->step)
        flat_emit(e, nleaf, e->root, XSTEP_TRUE, XSTEP_FALSE);
    free(nleaf);
}

/* Marks the shortcuts of expr_int.h: `type == "X"` and `type in [...]`
 * become compares of fw_txn.type, as a decoded record's known type is its
 * enum and its name is exactly the enum's name. */
static void mark_fast(fw_expr *e) {
    for (int32_t i = 0; i < e->nnodes; i++) {
        xnode *n = &e->node[i];
        mark_typed(e, n);
        if ((n->op != XOP_CMP && n->op != XOP_IN_SET) || n->a < 0)
            continue;
        const xnode *f = &e->node[n->a];
        if (f->op != XOP_FIELD || f->u.idx != XF_TYPE)
            continue;
        if (n->op == XOP_CMP) {
            if (n->aux != XCMP_EQ && n->aux != XCMP_NE)
                continue;
            if (e->node[n->b].op != XOP_CONST)
                continue;
            int c = type_code(&e->node[n->b].u.k);
            if (c < 0)
                continue;
            n->fast = XFAST_TYPE_CMP;
            n->fx = (uint32_t)c;
            continue;
        }
        uint32_t mask = 0;
        bool ok = true;
        for (uint32_t k = 0; k < n->u.set.n && ok; k++) {
            int c = type_code(&e->set[n->u.set.off + k]);
            ok = c >= 0;
            if (c > 0)
                mask |= 1u << c;
        }
        if (ok) {
            n->fast = XFAST_TYPE_IN;
            n->fx = mask;
        }
    }
}

fw_err fw_expr_compile(const char *src, size_t n, const fw_expr_env *env, fw_xtype want,
                       fw_expr **out, char *errstr, size_t errstr_size) {
    static const fw_expr_env none;
    parser ps = { .src = src, .n = n, .env = env ? env : &none, .errstr = errstr,
                  .errsize = errstr_size };
    *out = NULL;
    if (errstr && errstr_size)
        errstr[0] = 0;
    if (n > FW_EXPR_MAX_LEN) {
        fail(&ps, FW_ERR_LIMIT, 0, "expression is longer than %d bytes", FW_EXPR_MAX_LEN);
        return ps.rc;
    }
    if (!fw_utf8_valid(src, n)) {
        fail(&ps, FW_ERR_INVALID, fw_utf8_bad_offset(src, n), "expression is not valid UTF-8");
        return ps.rc;
    }
    ps.e = calloc(1, sizeof(*ps.e));
    if (!ps.e || !(ps.e->text = malloc(n ? n : 1))) {
        fw_expr_destroy(ps.e);
        fail(&ps, FW_ERR_NOMEM, 0, "out of memory");
        return ps.rc;
    }
    next(&ps);
    int32_t root = -1;
    if (ps.cur.t == T_EOF && ps.rc == FW_OK)
        fail(&ps, FW_ERR_INVALID, 0, "expression is empty");
    else
        root = parse_or(&ps);
    char b[48];
    if (ps.rc == FW_OK && ps.cur.t != T_EOF)
        fail(&ps, FW_ERR_INVALID, ps.cur.pos, "unexpected %s after a complete expression",
             snip(&ps, &ps.cur, b, sizeof(b)));
    if (ps.rc == FW_OK && N(&ps, root)->type == FW_XT_REC)
        fail(&ps, FW_ERR_INVALID, 0, "prev and this are records; use a field, like prev.amount");
    if (ps.rc == FW_OK && want != FW_XT_MISSING && !coerce(&ps, root, want))
        fail(&ps, FW_ERR_INVALID, 0, "expression must be a %s, this is a %s", tname(want),
             tname((fw_xtype)N(&ps, root)->type));
    if (ps.rc != FW_OK) {
        fw_expr_destroy(ps.e);
        return ps.rc;
    }
    ps.e->root = root;
    mark_fast(ps.e);
    build_flat(ps.e);
    const xnode *rn = &ps.e->node[root];
    if (rn->fast == XFAST_AMOUNT_K) { /* for fw_expr_test_inline; bits as expr_eval.c's cmp_holds */
        static const uint8_t holds[] = { [XCMP_LT] = 1, [XCMP_LE] = 3, [XCMP_GT] = 4,
                                         [XCMP_GE] = 6, [XCMP_EQ] = 2, [XCMP_NE] = 5 };
        ps.e->head.amount_k = rn->u.k.u.num;
        ps.e->head.amount_holds = holds[rn->aux];
    }
    if (rn->op == XOP_FIELD && !rn->aux) { /* for fw_expr_eval_inline */
        ps.e->head.amount_root = rn->u.idx == XF_AMOUNT;
        if (rn->type == FW_XT_STR)
            ps.e->head.str_off = str_field_off(rn->u.idx);
    }
    *out = ps.e;
    return FW_OK;
}

fw_xtype fw_expr_type(const fw_expr *e) { return (fw_xtype)e->node[e->root].type; }

void fw_expr_uses_get(const fw_expr *e, fw_expr_uses *u) { *u = e->uses; }

/* How node @p i moves as slots move by @p dir: +1 never falls, -1 never
 * rises, 0 constant, 2 unknown (it reads the record, a profile, or combines
 * in a way this does not follow). */
static int drift(const fw_expr *e, int32_t i, const int8_t *dir, size_t ndir) {
    const xnode *n = &e->node[i];
    switch (n->op) {
    case XOP_CONST:
        return 0;
    case XOP_SLOT:
        return n->u.idx >= 0 && (size_t)n->u.idx < ndir && dir[n->u.idx] ? dir[n->u.idx] : 2;
    case XOP_ADD:
    case XOP_SUB: {
        int a = drift(e, n->a, dir, ndir), b = drift(e, n->b, dir, ndir);
        if (a == 2 || b == 2)
            return 2;
        b = n->op == XOP_SUB ? -b : b;
        return !a ? b : !b || a == b ? a : 2;
    }
    case XOP_NEG: {
        int a = drift(e, n->a, dir, ndir);
        return a == 2 ? 2 : -a;
    }
    default:
        return 2;
    }
}

/* Whether boolean node @p i, once true, stays true while slots move by
 * @p dir. No `not`: a slot missing at first (the max of no events) makes a
 * comparison false, then true, whichever way it points. */
static bool settles(const fw_expr *e, int32_t i, const int8_t *dir, size_t ndir) {
    const xnode *n = &e->node[i];
    switch (n->op) {
    case XOP_AND:
    case XOP_OR:
        return settles(e, n->a, dir, ndir) && settles(e, n->b, dir, ndir);
    case XOP_CMP: {
        int a = drift(e, n->a, dir, ndir), b = drift(e, n->b, dir, ndir);
        if (a == 2 || b == 2 || n->aux == XCMP_EQ || n->aux == XCMP_NE)
            return false;
        int d = !a ? -b : !b || a == -b ? a : 2; /* how a - b moves */
        if (d == 2)
            return false;
        bool above = n->aux == XCMP_GT || n->aux == XCMP_GE; /* true when a - b is high */
        return !d || (d > 0) == above;
    }
    default:
        return false;
    }
}

bool fw_expr_holds_once_true(const fw_expr *e, const int8_t *dir, size_t ndir) {
    return e && e->node[e->root].type == FW_XT_BOOL && settles(e, e->root, dir, ndir);
}

bool fw_expr_is_amount(const fw_expr *e) {
    return e && e->nnodes == 1 && e->node[0].op == XOP_FIELD && e->node[0].aux == 0 &&
           e->node[0].u.idx == XF_AMOUNT;
}

int fw_expr_extra_slot(const fw_expr *e, size_t i) {
    return i < e->uses.nextra ? e->extra[i] : -1;
}

void fw_expr_is_new_get(const fw_expr *e, size_t site, fw_expr_is_new_site *out) {
    if (site < e->uses.nis_new)
        *out = e->sites[site];
}
