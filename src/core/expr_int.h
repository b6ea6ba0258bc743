/* expr_int.h — the compiled form of an expression, shared by the compiler
 * (expr.c) and the evaluator (expr_eval.c); not for other modules. */
#ifndef FW_EXPR_INT_H
#define FW_EXPR_INT_H

#include "expr.h"

typedef enum xop {
    XOP_CONST,
    XOP_FIELD,      /* aux: 0 this, 1 prev; u.idx: field accessor (xfield) */
    XOP_PROFILE,    /* u.idx: FW_EXPR_PROFILE_* bit number */
    XOP_EXTRA,      /* u.idx: extra slot; type STR, NUM or ANY (read as STR) */
    XOP_SLOT,       /* u.idx: caller slot */
    XOP_REC,        /* aux: 0 this, 1 prev (function arguments only) */
    XOP_NEG,
    XOP_ADD, XOP_SUB, XOP_MUL, XOP_DIV,  /* operand types from the children */
    XOP_CMP,        /* aux: xcmp */
    XOP_AND, XOP_OR, XOP_NOT,
    XOP_IS_MISSING, /* aux 1: is not missing */
    XOP_IN_SET,     /* aux 1: not in; u.set: sorted constants */
    XOP_IN_LIST,    /* aux 1: not in; u.idx: list id */
    XOP_ABS, XOP_LOWER, XOP_STARTS_WITH, XOP_HOUR, XOP_DOW,
    XOP_DISTANCE, XOP_SPEED,
    XOP_IS_NEW,     /* u.idx: call site */
} xop;

typedef enum xcmp { XCMP_LT, XCMP_LE, XCMP_GT, XCMP_GE, XCMP_EQ, XCMP_NE } xcmp;

/* Accessors of fw_txn's fields (this and prev). */
typedef enum xfield {
    XF_TRANSACTION_ID, XF_TIMESTAMP, XF_AMOUNT, XF_ACCOUNT_ID, XF_CARD_ID,
    XF_CUSTOMER_ID, XF_TYPE, XF_CURRENCY, XF_MERCHANT_ID, XF_MERCHANT_CATEGORY,
    XF_COUNTRY, XF_LAT, XF_LON, XF_COUNTERPARTY_ID, XF_CHANNEL,
    XF_V1, /* .. XF_V1 + 27 */
} xfield;

/* Shortcuts the compiler marks on a node (xnode.fast) for shapes the seed
 * rules use on every record; the evaluator takes the general path whenever
 * a shortcut cannot decide. */
typedef enum xfast {
    XFAST_NONE,
    XFAST_TYPE_CMP, /* CMP of field type with a string constant: fx the fw_txn_type it names (0 none) */
    XFAST_TYPE_IN,  /* IN_SET of field type with strings: fx the bit mask of fw_txn_types named */
    /* CMP and IS_MISSING by the static type of their operands, read as a
     * bare fw_dec / milliseconds / slice (no fw_xval): */
    XFAST_NUM,      /* NUM operands */
    XFAST_MS,       /* TIME or DUR operands */
    XFAST_STR,      /* STR operands */
    XFAST_AMOUNT_K, /* CMP of this record's amount with a NUM constant: u.k the constant */
    XFAST_MUL_INT,  /* MUL of a NUM by a whole constant: u.k.u.num the whole
                     * factor (not scaled), fx the other child */
} xfast;

typedef struct xnode {
    uint8_t op;     /* xop */
    uint8_t type;   /* fw_xtype of the result */
    uint8_t aux;
    uint8_t fast;   /* xfast */
    int32_t a, b;   /* children (node indices), -1 when none */
    uint32_t fx;    /* data of the shortcut */
    union {
        fw_xval k;
        int32_t idx;
        struct { uint32_t off, n; } set;
    } u;
} xnode;

/* One step of a boolean expression's flat form (fw_expr.step): the leaf
 * test of node n (anything but and/or/not), then the step to go to by its
 * outcome. and/or/not are only these jumps (always forward), so
 * fw_expr_test walks the steps in one loop, without recursion. */
typedef struct xstep {
    const xnode *n;
    int32_t t, f;   /* next step when the test holds / does not; XSTEP_* ends */
} xstep;

#define XSTEP_TRUE (-1)
#define XSTEP_FALSE (-2)

struct fw_expr {
    fw_expr_head head;      /* first: fw_expr_test_inline reads it (expr.h) */
    xnode *node;            /* children before parents; the root is last */
    int32_t nnodes, root;
    xstep *step;            /* a BOOL root's flat form (fw_expr_test) */
    int32_t nstep;          /* 0: fw_expr_test takes the recursive eval_bool */
    fw_xval *set;           /* every `in [...]` list, each sorted */
    size_t nset;
    char *text;             /* unescaped string literals */
    fw_expr_uses uses;
    int *extra;             /* distinct extra slots read */
    fw_expr_is_new_site *sites;
};

/** Evaluates node @p i (expr_eval.c). */
fw_xval fw_expr_eval_node(const fw_expr *e, int32_t i, const fw_expr_ctx *ctx);
/** Clears every node's shortcut (xnode.fast) and the flat form (xstep):
 *  evaluation then takes the general, recursive path only. For tests
 *  proving each shortcut equal to it. */
void fw_expr_fast_off(fw_expr *e);
/** Drops the flat form (xstep) only: fw_expr_test then takes the recursive
 *  eval_bool, shortcuts kept. For tests proving the flat form equal to it. */
void fw_expr_flat_off(fw_expr *e);
/** Three-way comparison of two values of one type (STR honours fold). */
int fw_expr_compare(const fw_xval *a, const fw_xval *b);

#endif
