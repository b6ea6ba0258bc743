/* gen_model.c — population, normal traffic, fraud scenarios and the NDJSON
 * formatter of the synthetic data generator (see gen_model.h for the model).
 * Randomness is xoshiro256** seeded by splitmix64: one stream builds the
 * population, another drives the traffic, so the population of a seed does
 * not depend on the count, the ratio or the start time. */
#include "gen_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_time.h"
#include "txn.h"

#define HOUR_MS 3600000LL
#define MIN_MS 60000LL
#define SEC_MS 1000LL
#define DAY_MS 86400000LL
#define ATMS_PER_CITY 20
#define MIN_MERCHANTS_PER_CITY 20
#define MAX_MERCHANTS 2000000u
#define COOLDOWN_MS HOUR_MS   /* after an instance: no new one, and for exclusive
                               * scenarios no normal traffic, for this long */
#define MAX_TS_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z: ISO-8601's last year */
#define PICK_TRIES 8          /* random picks before giving up on an idle customer */

/* ---------------------------------------------------------------- tables */

typedef struct gen_city {
    const char *country;    /* ISO 3166 alpha-2 */
    const char *currency;   /* account currency of customers living here; NULL: nobody does */
    int32_t lat_e4, lon_e4; /* centre */
    uint16_t home_weight;   /* share of the bank's customers living here */
    uint16_t merchant_weight;
} gen_city;

/* Home markets use currencies close to 1 USD, so one amount threshold means the
 * same everywhere; the last cities are only destinations of location_jump. */
static const gen_city cities[] = {
    { "US", "USD", 407128, -740060, 120, 120 },  /* New York */
    { "US", "USD", 340522, -1182437, 80, 80 },   /* Los Angeles */
    { "US", "USD", 418781, -876298, 60, 60 },    /* Chicago */
    { "US", "USD", 297604, -953698, 40, 40 },    /* Houston */
    { "US", "USD", 257617, -801918, 40, 40 },    /* Miami */
    { "GB", "GBP", 515074, -1278, 90, 90 },      /* London */
    { "GB", "GBP", 534808, -22426, 30, 30 },     /* Manchester */
    { "DE", "EUR", 525200, 134050, 50, 50 },     /* Berlin */
    { "DE", "EUR", 481351, 115820, 40, 40 },     /* Munich */
    { "FR", "EUR", 488566, 23522, 60, 60 },      /* Paris */
    { "FR", "EUR", 457640, 48357, 20, 20 },      /* Lyon */
    { "ES", "EUR", 404168, -37038, 40, 40 },     /* Madrid */
    { "IT", "EUR", 454642, 91900, 30, 30 },      /* Milan */
    { "IT", "EUR", 419028, 124964, 20, 20 },     /* Rome */
    { "NL", "EUR", 523676, 49041, 30, 30 },      /* Amsterdam */
    { "IE", "EUR", 533498, -62603, 20, 20 },     /* Dublin */
    { "CA", "CAD", 436532, -793832, 40, 40 },    /* Toronto */
    { "CA", "CAD", 492827, -1231207, 20, 20 },   /* Vancouver */
    { "AU", "AUD", -338688, 1512093, 30, 30 },   /* Sydney */
    { "AU", "AUD", -378136, 1449631, 20, 20 },   /* Melbourne */
    { "CH", "CHF", 473769, 85417, 20, 20 },      /* Zurich */
    { "SG", "SGD", 13521, 1038198, 20, 20 },     /* Singapore */
    { "RU", NULL, 557558, 376173, 0, 5 },        /* Moscow */
    { "NG", NULL, 65244, 33792, 0, 5 },          /* Lagos */
    { "BR", NULL, -235505, -466333, 0, 5 },      /* São Paulo */
    { "CN", NULL, 312304, 1214737, 0, 5 },       /* Shanghai */
    { "RO", NULL, 444268, 261025, 0, 5 },        /* Bucharest */
    { "UA", NULL, 504501, 305234, 0, 5 },        /* Kyiv */
    { "TH", NULL, 137563, 1005018, 0, 5 },       /* Bangkok */
    { "MX", NULL, 194326, -991332, 0, 5 },       /* Mexico City */
    { "ID", NULL, -62088, 1068456, 0, 5 },       /* Jakarta */
    { "TR", NULL, 410082, 289784, 0, 5 },        /* Istanbul */
};
#define NCITIES ((int)(sizeof(cities) / sizeof(cities[0])))

typedef struct gen_category {
    const char *name;
    float shift;       /* added to the customer's log-spend: coffee is cheap */
    uint16_t weight;   /* share of merchants */
    bool online_only;  /* no card-present sales */
    bool big_ticket;   /* where the large purchases happen */
} gen_category;

static const gen_category categories[] = {
    { "grocery", 0.3f, 20, false, false },
    { "restaurant", 0.1f, 18, false, false },
    { "coffee", -1.5f, 10, false, false },
    { "fuel", 0.4f, 10, false, false },
    { "retail", 0.5f, 14, false, false },
    { "electronics", 1.6f, 5, false, true },
    { "travel", 2.0f, 3, false, true },
    { "entertainment", 0.0f, 6, false, false },
    { "health", 0.5f, 5, false, false },
    { "utilities", 0.9f, 3, true, false },
    { "online_services", -0.3f, 5, true, false },
    { "jewelry", 2.2f, 1, false, true },
    { "home_improvement", 1.0f, 3, false, true },
};
#define NCATEGORIES ((int)(sizeof(categories) / sizeof(categories[0])))

/* Relative traffic per UTC hour; normalised to a mean of 1 at start-up. */
static const double hour_profile[24] = {
    0.35, 0.25, 0.20, 0.18, 0.20, 0.30, 0.55, 0.90, 1.20, 1.35, 1.45, 1.55,
    1.65, 1.55, 1.45, 1.40, 1.45, 1.55, 1.60, 1.50, 1.30, 1.05, 0.75, 0.50,
};

/* ATM cash amounts in whole units, most common first. */
static const int16_t atm_amounts[] = { 20, 40, 60, 100, 100, 200, 80, 50, 300, 500, 120, 250 };

static const char *const channel_names[] = {
    [FW_GEN_POS] = "pos",
    [FW_GEN_ONLINE] = "online",
    [FW_GEN_ATM] = "atm",
    [FW_GEN_MOBILE] = "mobile",
};

/* ---------------------------------------------------------------- state */

typedef struct gen_rng {
    uint64_t s[4];
    double spare;       /* Box-Muller makes normals in pairs: the second one */
    bool has_spare;
} gen_rng;

/* A short constant string stored so that it can be copied with a fixed-size
 * memcpy (two vector moves) instead of strlen and a variable one. */
typedef struct gen_label {
    char s[32];
    size_t n;
} gen_label;

typedef struct gen_customer {
    int64_t normal_blocked_until;  /* exclusive instance running: no normal traffic */
    int64_t scenario_busy_until;   /* one instance at a time, then a cool-down */
    float spend_mu, spend_sigma;   /* log-normal typical purchase (units, not cents) */
    uint32_t fav[4];               /* favourite merchants, in the home city */
    uint32_t payee[2];             /* regular transfer counterparties (customers) */
    int32_t lat_e4, lon_e4;        /* home */
    uint8_t city;                  /* home city */
    uint8_t ncards;                /* 1 or 2 */
} gen_customer;

typedef struct gen_merchant {
    int32_t lat_e4, lon_e4;
    uint8_t city;
    uint8_t category;
} gen_merchant;

struct fw_gen {
    fw_gen_conf conf;
    gen_rng rng;                  /* traffic */
    gen_customer *cust;
    gen_merchant *merch;
    uint32_t nmerch;
    uint32_t city_merch[NCITIES + 1]; /* merchants of city c: [city_merch[c], city_merch[c+1]) */
    uint32_t *big;                /* big-ticket merchants, grouped by city like merch */
    uint32_t city_big[NCITIES + 1];
    uint32_t *online;             /* online-only merchants, grouped by city */
    uint32_t city_online[NCITIES + 1];
    double home_cdf[NCITIES];     /* cumulative home weights, for picking home cities */
    double gap_ms[24];            /* mean normal inter-arrival per UTC hour */
    double next_normal;           /* event time of the next normal record (ms, fractional) */
    int64_t now_ms;               /* event time of the last record returned */
    double p0;                    /* instance starts per record at the target ratio */
    double mean_size;             /* mean transactions per instance over the table */
    fw_gen_txn *heap;             /* scheduled scenario records, min-heap on (ts, seq) */
    size_t heap_len, heap_cap;
    uint64_t push_seq;
    bool draining;
    bool exhausted;               /* event time passed year 9999: the stream ends */
    fw_gen_stats stats;
    int64_t fmt_day;              /* date cache of the formatter */
    char fmt_date[11];            /* "YYYY-MM-DDT" of fmt_day */
    /* Formatter labels, copied from the tables at start-up. */
    gen_label l_type[FW_TXN_TYPE_OTHER + 1];
    gen_label l_channel[4];
    gen_label l_category[NCATEGORIES];
    gen_label l_country[NCITIES];
    gen_label l_currency[NCITIES];
    gen_label l_scenario[16];
};

static void labels_init(fw_gen *g);

/* ---------------------------------------------------------------- PRNG */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(gen_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->has_spare = false;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(gen_rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double rng_unit(gen_rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform in [0, n) (Lemire's multiply; the bias is below 2^-32). */
static inline uint32_t rng_below(gen_rng *r, uint32_t n) {
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform integer in [lo, hi]; every range used here spans less than 2^32. */
static inline int64_t rng_range(gen_rng *r, int64_t lo, int64_t hi) {
    return lo + (int64_t)rng_below(r, (uint32_t)(hi - lo + 1));
}

/* Standard normal (Box-Muller, both values used). */
static double rng_normal(gen_rng *r) {
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u1 = 1.0 - rng_unit(r); /* (0, 1]: log is finite */
    double u2 = rng_unit(r);
    double m = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
    r->spare = m * sin(a);
    r->has_spare = true;
    return m * cos(a);
}

/* ------------------------------------------------------------ population */

static uint32_t pick_city(const double *cdf, gen_rng *r) {
    double u = rng_unit(r) * cdf[NCITIES - 1];
    for (int c = 0; c < NCITIES; c++)
        if (u < cdf[c])
            return (uint32_t)c;
    return 0;
}

static uint8_t pick_category(gen_rng *r) {
    uint32_t total = 0;
    for (int i = 0; i < NCATEGORIES; i++)
        total += categories[i].weight;
    uint32_t u = rng_below(r, total);
    for (int i = 0; i < NCATEGORIES; i++) {
        if (u < categories[i].weight)
            return (uint8_t)i;
        u -= categories[i].weight;
    }
    return 0;
}

static bool build_population(fw_gen *g, char *errstr, size_t errstr_size) {
    gen_rng pr;
    rng_seed(&pr, g->conf.seed, 1);
    uint32_t ncust = g->conf.customers;

    /* Merchants: about one per ten customers, spread by city weight. */
    double mw = 0;
    for (int c = 0; c < NCITIES; c++)
        mw += cities[c].merchant_weight;
    uint32_t target = ncust / 10 > MAX_MERCHANTS ? MAX_MERCHANTS : ncust / 10;
    uint32_t total = 0;
    for (int c = 0; c < NCITIES; c++) {
        uint32_t n = (uint32_t)(target * (cities[c].merchant_weight / mw));
        if (n < MIN_MERCHANTS_PER_CITY)
            n = MIN_MERCHANTS_PER_CITY;
        g->city_merch[c] = total;
        total += n;
    }
    g->city_merch[NCITIES] = total;
    g->nmerch = total;
    g->merch = calloc(total, sizeof(*g->merch));
    g->cust = calloc(ncust, sizeof(*g->cust));
    if (!g->merch || !g->cust) {
        snprintf(errstr, errstr_size, "out of memory for %u customers", ncust);
        return false;
    }
    for (int c = 0; c < NCITIES; c++)
        for (uint32_t m = g->city_merch[c]; m < g->city_merch[c + 1]; m++) {
            gen_merchant *me = &g->merch[m];
            uint32_t k = m - g->city_merch[c];
            me->city = (uint8_t)c;
            /* Every city has at least one merchant of each category. */
            me->category = k < NCATEGORIES ? (uint8_t)k : pick_category(&pr);
            me->lat_e4 = cities[c].lat_e4 + (int32_t)rng_range(&pr, -1500, 1500);
            me->lon_e4 = cities[c].lon_e4 + (int32_t)rng_range(&pr, -2000, 2000);
        }

    g->big = malloc(total * sizeof(*g->big));
    g->online = malloc(total * sizeof(*g->online));
    if (!g->big || !g->online) {
        snprintf(errstr, errstr_size, "out of memory for %u merchants", total);
        return false;
    }
    uint32_t nbig = 0, nonline = 0;
    for (int c = 0; c < NCITIES; c++) {
        g->city_big[c] = nbig;
        g->city_online[c] = nonline;
        for (uint32_t m = g->city_merch[c]; m < g->city_merch[c + 1]; m++) {
            if (categories[g->merch[m].category].big_ticket)
                g->big[nbig++] = m;
            if (categories[g->merch[m].category].online_only)
                g->online[nonline++] = m;
        }
    }
    g->city_big[NCITIES] = nbig;
    g->city_online[NCITIES] = nonline;

    double acc = 0;
    for (int c = 0; c < NCITIES; c++) {
        acc += cities[c].home_weight;
        g->home_cdf[c] = acc;
    }
    for (uint32_t i = 0; i < ncust; i++) {
        gen_customer *cu = &g->cust[i];
        uint32_t c = pick_city(g->home_cdf, &pr);
        cu->city = (uint8_t)c;
        cu->lat_e4 = cities[c].lat_e4 + (int32_t)rng_range(&pr, -1000, 1000);
        cu->lon_e4 = cities[c].lon_e4 + (int32_t)rng_range(&pr, -1000, 1000);
        /* Median purchase around 30, varying ~1.6x between customers. */
        cu->spend_mu = (float)(log(30.0) + 0.5 * rng_normal(&pr));
        cu->spend_sigma = (float)(0.5 + 0.4 * rng_unit(&pr));
        cu->ncards = rng_unit(&pr) < 0.35 ? 2 : 1;
        uint32_t m0 = g->city_merch[c], mn = g->city_merch[c + 1] - m0;
        for (int k = 0; k < 4; k++)
            cu->fav[k] = m0 + rng_below(&pr, mn);
        for (int k = 0; k < 2; k++) {
            uint32_t p = rng_below(&pr, ncust);
            cu->payee[k] = p == i && ncust > 1 ? (p + 1) % ncust : p;
        }
        cu->normal_blocked_until = INT64_MIN;
        cu->scenario_busy_until = INT64_MIN;
    }
    return true;
}

/* --------------------------------------------------------- record helpers */

static void txn_base(fw_gen *g, fw_gen_txn *t, uint32_t c, int64_t ts, fw_txn_type type) {
    const gen_customer *cu = &g->cust[c];
    memset(t, 0, sizeof(*t));
    t->ts_ms = ts;
    t->customer = c;
    t->type = (uint8_t)type;
    t->merchant = FW_GEN_NONE;
    t->counterparty = FW_GEN_NONE;
    t->city = cu->city;
    t->channel = FW_GEN_ONLINE;
    t->scenario = -1;
    /* Online and mobile: the customer's device, near home. */
    t->lat_e4 = cu->lat_e4 + (int32_t)rng_range(&g->rng, -150, 150);
    t->lon_e4 = cu->lon_e4 + (int32_t)rng_range(&g->rng, -150, 150);
}

static void txn_at_merchant(fw_gen *g, fw_gen_txn *t, uint32_t m, fw_gen_channel ch,
                            uint8_t card) {
    t->merchant = m;
    t->channel = (uint8_t)ch;
    t->card = card;
    if (ch == FW_GEN_POS) { /* card present: where the shop is */
        const gen_merchant *me = &g->merch[m];
        t->city = me->city;
        t->lat_e4 = me->lat_e4;
        t->lon_e4 = me->lon_e4;
    }
}

static uint8_t pick_card(fw_gen *g, uint32_t c) {
    return g->cust[c].ncards == 2 && rng_unit(&g->rng) < 0.3 ? 2 : 1;
}

static uint32_t random_merchant(fw_gen *g, unsigned city) {
    uint32_t m0 = g->city_merch[city];
    return m0 + rng_below(&g->rng, g->city_merch[city + 1] - m0);
}

/* A merchant of the city in a big-ticket category (each city has some). */
static uint32_t big_ticket_merchant(fw_gen *g, unsigned city) {
    uint32_t b0 = g->city_big[city];
    return g->big[b0 + rng_below(&g->rng, g->city_big[city + 1] - b0)];
}

/* A merchant of the city that sells online only (each city has some). */
static uint32_t online_merchant(fw_gen *g, unsigned city) {
    uint32_t o0 = g->city_online[city];
    return g->online[o0 + rng_below(&g->rng, g->city_online[city + 1] - o0)];
}

static fw_gen_channel purchase_channel(fw_gen *g, uint32_t m) {
    double u = rng_unit(&g->rng);
    if (categories[g->merch[m].category].online_only)
        return u < 0.7 ? FW_GEN_ONLINE : FW_GEN_MOBILE;
    return u < 0.78 ? FW_GEN_POS : u < 0.95 ? FW_GEN_ONLINE : FW_GEN_MOBILE;
}

static int64_t lognormal_cents(fw_gen *g, double mu, double sigma, int64_t max_cents) {
    for (int i = 0; i < 4; i++) {
        int64_t c = (int64_t)(exp(mu + sigma * rng_normal(&g->rng)) * 100.0 + 0.5);
        if (c < 50)
            c = 50;
        if (c <= max_cents)
            return c;
    }
    return rng_range(&g->rng, max_cents / 2, max_cents);
}

static int64_t log_uniform_cents(fw_gen *g, double lo, double hi) {
    double v = exp(log(lo) + (log(hi) - log(lo)) * rng_unit(&g->rng));
    int64_t c = (int64_t)(v * 100.0);
    int64_t lo_c = (int64_t)ceil(lo * 100.0), hi_c = (int64_t)floor(hi * 100.0);
    return c < lo_c ? lo_c : c > hi_c ? hi_c : c;
}

static int64_t purchase_cents(fw_gen *g, uint32_t c, uint32_t m, int64_t max_cents) {
    const gen_customer *cu = &g->cust[c];
    return lognormal_cents(g, cu->spend_mu + categories[g->merch[m].category].shift,
                           cu->spend_sigma, max_cents);
}

/* ----------------------------------------------------------- normal traffic */

static void gen_normal(fw_gen *g, uint32_t c, int64_t ts, fw_gen_txn *t) {
    gen_rng *r = &g->rng;
    const gen_customer *cu = &g->cust[c];
    if (rng_below(r, FW_GEN_LEGIT_LARGE_ODDS) == 0) {
        /* A real customer buying a car deposit or a long-haul holiday. */
        txn_base(g, t, c, ts, FW_TXN_PURCHASE);
        uint32_t m = big_ticket_merchant(g, cu->city);
        txn_at_merchant(g, t, m, rng_unit(r) < 0.5 ? FW_GEN_POS : FW_GEN_ONLINE,
                        pick_card(g, c));
        t->amount_cents = log_uniform_cents(g, 5000.01, 15000.0);
        t->legit_large = true;
        return;
    }
    double u = rng_unit(r);
    if (u < 0.86) {
        txn_base(g, t, c, ts, FW_TXN_PURCHASE);
        uint32_t m = rng_unit(r) < 0.7 ? cu->fav[rng_below(r, 4)] : random_merchant(g, cu->city);
        txn_at_merchant(g, t, m, purchase_channel(g, m), pick_card(g, c));
        t->amount_cents = purchase_cents(g, c, m, FW_GEN_NORMAL_MAX_CENTS);
    } else if (u < 0.92) {
        txn_base(g, t, c, ts, FW_TXN_LOGIN);
        t->channel = rng_unit(r) < 0.6 ? FW_GEN_MOBILE : FW_GEN_ONLINE;
    } else if (u < 0.96) {
        txn_base(g, t, c, ts, FW_TXN_WITHDRAWAL);
        uint32_t atm = rng_below(r, ATMS_PER_CITY);
        t->merchant = atm;
        t->atm = 1;
        t->channel = FW_GEN_ATM;
        t->card = pick_card(g, c);
        /* The ATM stands at a fixed place derived from its number. */
        t->lat_e4 = cities[cu->city].lat_e4 + (int32_t)(atm * 97 % 2001) - 1000;
        t->lon_e4 = cities[cu->city].lon_e4 + (int32_t)(atm * 61 % 2001) - 1000;
        t->amount_cents = (int64_t)atm_amounts[rng_below(r, sizeof(atm_amounts) /
                                                             sizeof(atm_amounts[0]))] * 100;
    } else if (u < 0.985) {
        txn_base(g, t, c, ts, FW_TXN_TRANSFER);
        t->channel = rng_unit(r) < 0.5 ? FW_GEN_MOBILE : FW_GEN_ONLINE;
        t->cp_kind = FW_GEN_CP_ACCOUNT;
        t->counterparty = rng_unit(r) < 0.8 ? cu->payee[rng_below(r, 2)]
                                            : rng_below(r, g->conf.customers);
        t->amount_cents = lognormal_cents(g, log(150.0), 1.0, FW_GEN_NORMAL_MAX_CENTS);
    } else if (u < 0.9995) {
        txn_base(g, t, c, ts, FW_TXN_DEPOSIT);
        t->channel = rng_unit(r) < 0.6 ? FW_GEN_ONLINE : FW_GEN_MOBILE;
        t->amount_cents = lognormal_cents(g, log(800.0), 0.7, FW_GEN_NORMAL_MAX_CENTS);
    } else {
        txn_base(g, t, c, ts, FW_TXN_PASSWORD_CHANGE);
        t->channel = rng_unit(r) < 0.6 ? FW_GEN_MOBILE : FW_GEN_ONLINE;
    }
}

/* -------------------------------------------------------------- scenarios */

/* One purchase above 5000 at a big-ticket merchant. */
static int scen_high_amount(fw_gen *g, uint32_t c, int64_t t0, fw_gen_txn *ev, int max) {
    (void)max;
    txn_base(g, &ev[0], c, t0, FW_TXN_PURCHASE);
    uint32_t m = big_ticket_merchant(g, g->cust[c].city);
    txn_at_merchant(g, &ev[0], m, rng_unit(&g->rng) < 0.6 ? FW_GEN_ONLINE : FW_GEN_POS,
                    pick_card(g, c));
    ev[0].amount_cents = log_uniform_cents(g, 5000.01, 25000.0);
    return 1;
}

/* 2-4 online purchases below 10 on one card, 5-40 s apart, then one above
 * 1000 on the same card 10-90 s later: at most 210 s in all (< 5 min). */
static int scen_card_testing(fw_gen *g, uint32_t c, int64_t t0, fw_gen_txn *ev, int max) {
    (void)max;
    gen_rng *r = &g->rng;
    unsigned city = g->cust[c].city;
    uint8_t card = pick_card(g, c);
    int k = 2 + (int)rng_below(r, 3), n = 0;
    int64_t t = t0;
    for (; n < k; n++) {
        if (n)
            t += rng_range(r, 5 * SEC_MS, 40 * SEC_MS);
        txn_base(g, &ev[n], c, t, FW_TXN_PURCHASE);
        txn_at_merchant(g, &ev[n], online_merchant(g, city), FW_GEN_ONLINE, card);
        ev[n].amount_cents = rng_range(r, 50, 999);
    }
    t += rng_range(r, 10 * SEC_MS, 90 * SEC_MS);
    txn_base(g, &ev[n], c, t, FW_TXN_PURCHASE);
    txn_at_merchant(g, &ev[n], big_ticket_merchant(g, city), FW_GEN_ONLINE, card);
    ev[n].amount_cents = rng_range(r, 100001, 499999);
    return n + 1;
}

/* 3-5 purchases above 1000 (below 5000) on one account, 1-6 min apart:
 * at most 24 min in all (< 30 min). */
static int scen_velocity(fw_gen *g, uint32_t c, int64_t t0, fw_gen_txn *ev, int max) {
    (void)max;
    gen_rng *r = &g->rng;
    int k = 3 + (int)rng_below(r, 3);
    int64_t t = t0;
    for (int n = 0; n < k; n++) {
        if (n)
            t += rng_range(r, 1 * MIN_MS, 6 * MIN_MS);
        txn_base(g, &ev[n], c, t, FW_TXN_PURCHASE);
        txn_at_merchant(g, &ev[n], big_ticket_merchant(g, g->cust[c].city),
                        rng_unit(r) < 0.5 ? FW_GEN_POS : FW_GEN_ONLINE, pick_card(g, c));
        ev[n].amount_cents = rng_range(r, 100001, 499999);
    }
    return k;
}

/* Sometimes a LOGIN, then PASSWORD_CHANGE, then 2-28 min later an online
 * WITHDRAWAL above 5000 from the customer's account. */
static int scen_account_takeover(fw_gen *g, uint32_t c, int64_t t0, fw_gen_txn *ev, int max) {
    (void)max;
    gen_rng *r = &g->rng;
    int n = 0;
    int64_t t = t0;
    if (rng_unit(r) < 0.5) {
        txn_base(g, &ev[n++], c, t, FW_TXN_LOGIN);
        t += rng_range(r, 30 * SEC_MS, 10 * MIN_MS);
    }
    txn_base(g, &ev[n++], c, t, FW_TXN_PASSWORD_CHANGE);
    t += rng_range(r, 2 * MIN_MS, 28 * MIN_MS);
    txn_base(g, &ev[n], c, t, FW_TXN_WITHDRAWAL);
    ev[n].amount_cents = log_uniform_cents(g, 5000.01, 20000.0);
    return n + 1;
}

/* 3-6 TRANSFERs of 3500-9900 (each below 10000, together above 10000) to one
 * outside account, 10 min to 4.5 h apart: at most 22.5 h in all (< 24 h). */
static int scen_structuring(fw_gen *g, uint32_t c, int64_t t0, fw_gen_txn *ev, int max) {
    (void)max;
    gen_rng *r = &g->rng;
    int k = 3 + (int)rng_below(r, 4);
    int64_t t = t0;
    for (int n = 0; n < k; n++) {
        if (n)
            t += rng_range(r, 10 * MIN_MS, 270 * MIN_MS);
        txn_base(g, &ev[n], c, t, FW_TXN_TRANSFER);
        ev[n].channel = rng_unit(r) < 0.5 ? FW_GEN_ONLINE : FW_GEN_MOBILE;
        ev[n].cp_kind = FW_GEN_CP_EXTERNAL;
        ev[n].amount_cents = rng_range(r, 350000, 990000);
    }
    return k;
}

/* 5-8 purchases below 50 on one card, 15-75 s apart: at most 525 s (< 10 min). */
static int scen_rapid_small(fw_gen *g, uint32_t c, int64_t t0, fw_gen_txn *ev, int max) {
    (void)max;
    gen_rng *r = &g->rng;
    uint8_t card = pick_card(g, c);
    int k = 5 + (int)rng_below(r, 4);
    int64_t t = t0;
    for (int n = 0; n < k; n++) {
        if (n)
            t += rng_range(r, 15 * SEC_MS, 75 * SEC_MS);
        txn_base(g, &ev[n], c, t, FW_TXN_PURCHASE);
        txn_at_merchant(g, &ev[n], random_merchant(g, g->cust[c].city),
                        rng_unit(r) < 0.6 ? FW_GEN_ONLINE : FW_GEN_MOBILE, card);
        ev[n].amount_cents = rng_range(r, 100, 4999);
    }
    return k;
}

/* A card-present purchase at home, then 5-55 min later one with the same card
 * in a city of another country. */
static int scen_location_jump(fw_gen *g, uint32_t c, int64_t t0, fw_gen_txn *ev, int max) {
    (void)max;
    gen_rng *r = &g->rng;
    unsigned home = g->cust[c].city, away = home;
    while (!strcmp(cities[away].country, cities[home].country))
        away = rng_below(r, NCITIES);
    uint8_t card = pick_card(g, c);
    uint32_t m = random_merchant(g, home);
    txn_base(g, &ev[0], c, t0, FW_TXN_PURCHASE);
    txn_at_merchant(g, &ev[0], m, FW_GEN_POS, card);
    ev[0].amount_cents = purchase_cents(g, c, m, 99999);
    m = random_merchant(g, away);
    txn_base(g, &ev[1], c, t0 + rng_range(r, 5 * MIN_MS, 55 * MIN_MS), FW_TXN_PURCHASE);
    txn_at_merchant(g, &ev[1], m, FW_GEN_POS, card);
    ev[1].amount_cents = purchase_cents(g, c, m, 99999);
    return 2;
}

const fw_gen_scenario fw_gen_scenarios[] = {
    { .name = "high_amount", .generate = scen_high_amount, .targets = "high_amount",
      .min_txns = 1, .max_txns = 1, .exclusive = false },
    { .name = "card_testing", .generate = scen_card_testing, .targets = "small_then_large",
      .min_txns = 3, .max_txns = 5, .exclusive = true },
    { .name = "velocity", .generate = scen_velocity, .targets = "velocity",
      .min_txns = 3, .max_txns = 5, .exclusive = false },
    { .name = "account_takeover", .generate = scen_account_takeover, .targets = "account_takeover",
      .min_txns = 2, .max_txns = 3, .exclusive = true },
    { .name = "structuring", .generate = scen_structuring, .targets = "structuring",
      .min_txns = 3, .max_txns = 6, .exclusive = false },
    { .name = "rapid_small", .generate = scen_rapid_small, .targets = "rapid_small",
      .min_txns = 5, .max_txns = 8, .exclusive = true },
    { .name = "location_jump", .generate = scen_location_jump, .targets = "location_jump",
      .min_txns = 2, .max_txns = 2, .exclusive = true },
};
const int fw_gen_nscenarios = (int)(sizeof(fw_gen_scenarios) / sizeof(fw_gen_scenarios[0]));

/* ------------------------------------------------------------- schedule */

static bool heap_less(const fw_gen_txn *a, const fw_gen_txn *b) {
    return a->ts_ms < b->ts_ms || (a->ts_ms == b->ts_ms && a->seq < b->seq);
}

/* Room for @p n more, so an instance is scheduled whole or not at all. */
static bool heap_reserve(fw_gen *g, size_t n) {
    if (g->heap_len + n <= g->heap_cap)
        return true;
    size_t cap = g->heap_cap ? g->heap_cap : 256;
    while (cap < g->heap_len + n)
        cap *= 2;
    fw_gen_txn *h = realloc(g->heap, cap * sizeof(*h));
    if (!h)
        return false;
    g->heap = h;
    g->heap_cap = cap;
    return true;
}

/* The caller has reserved room. */
static void heap_push(fw_gen *g, const fw_gen_txn *t) {
    size_t i = g->heap_len++;
    fw_gen_txn *h = g->heap;
    h[i] = *t;
    h[i].seq = g->push_seq++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&h[i], &h[p]))
            break;
        fw_gen_txn tmp = h[i];
        h[i] = h[p];
        h[p] = tmp;
        i = p;
    }
}

static void heap_pop(fw_gen *g, fw_gen_txn *out) {
    fw_gen_txn *h = g->heap;
    *out = h[0];
    h[0] = h[--g->heap_len];
    size_t i = 0, n = g->heap_len;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heap_less(&h[l], &h[m]))
            m = l;
        if (r < n && heap_less(&h[r], &h[m]))
            m = r;
        if (m == i)
            break;
        fw_gen_txn tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

/* Starts an instance with the probability that steers the fraud fraction to
 * the target: p0 at the target, e times more (less) per mean instance size
 * behind (ahead). */
static void maybe_start_instance(fw_gen *g) {
    double r = g->conf.fraud_ratio;
    if (r <= 0)
        return;
    gen_rng *rng = &g->rng;
    double committed = (double)(g->stats.records + g->heap_len);
    double fraud = (double)(g->stats.fraud + g->heap_len);
    double d = (r * (committed + 1) - fraud) / g->mean_size;
    double p = g->p0 * exp(d < -30 ? -30 : d > 30 ? 30 : d);
    if (rng_unit(rng) >= p)
        return;
    int s = (int)rng_below(rng, (uint32_t)fw_gen_nscenarios);
    int64_t t0 = g->now_ms + 1 + rng_range(rng, 0, 999);
    uint32_t c = FW_GEN_NONE;
    for (int i = 0; i < PICK_TRIES; i++) {
        uint32_t k = rng_below(rng, g->conf.customers);
        if (g->cust[k].scenario_busy_until < t0 && g->cust[k].normal_blocked_until < t0) {
            c = k;
            break;
        }
    }
    if (c == FW_GEN_NONE) {
        g->stats.skipped_busy++;
        return;
    }
    fw_gen_txn ev[FW_GEN_MAX_INSTANCE];
    int n = fw_gen_scenarios[s].generate(g, c, t0, ev, FW_GEN_MAX_INSTANCE);
    if (g->conf.count && g->stats.records + g->heap_len + (uint64_t)n > g->conf.count)
        return; /* would not fit: never write half an instance */
    if (g->heap_len + (size_t)n > FW_GEN_MAX_PENDING || !heap_reserve(g, (size_t)n)) {
        g->stats.skipped_full++; /* out of memory counts as a full schedule */
        return;
    }
    uint64_t inst = g->stats.instances;
    int64_t end = t0;
    for (int i = 0; i < n; i++) {
        ev[i].scenario = (int8_t)s;
        ev[i].instance = inst;
        if (ev[i].ts_ms > end)
            end = ev[i].ts_ms;
        heap_push(g, &ev[i]);
    }
    g->stats.instances++;
    g->stats.scen_instances[s]++;
    g->cust[c].scenario_busy_until = end + COOLDOWN_MS;
    if (fw_gen_scenarios[s].exclusive)
        g->cust[c].normal_blocked_until = end + COOLDOWN_MS;
}

/* ------------------------------------------------------------------ API */

fw_gen *fw_gen_new(const fw_gen_conf *conf, char *errstr, size_t errstr_size) {
    if (conf->customers < 1 || conf->customers > FW_GEN_MAX_CUSTOMERS) {
        snprintf(errstr, errstr_size, "customers: %u is outside 1..%u", conf->customers,
                 FW_GEN_MAX_CUSTOMERS);
        return NULL;
    }
    if (!(conf->fraud_ratio >= 0 && conf->fraud_ratio <= 1)) {
        snprintf(errstr, errstr_size, "fraud ratio: %g is outside 0..1", conf->fraud_ratio);
        return NULL;
    }
    /* 0000-01-01 .. 9999-12-31: what ISO-8601's four-digit years can say. */
    if (conf->start_ms < 0 || conf->start_ms > MAX_TS_MS) {
        snprintf(errstr, errstr_size, "start time %lld ms is outside 1970..9999",
                 (long long)conf->start_ms);
        return NULL;
    }
    if (fw_gen_nscenarios > (int)(sizeof(((fw_gen_stats *)0)->scen_txns) / sizeof(uint64_t))) {
        snprintf(errstr, errstr_size, "too many scenarios (%d)", fw_gen_nscenarios);
        return NULL;
    }
    fw_gen *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    g->conf = *conf;
    if (!build_population(g, errstr, errstr_size))
        goto fail;
    rng_seed(&g->rng, conf->seed, 2);

    double mean_gap = (double)DAY_MS / (FW_GEN_TX_PER_CUSTOMER_DAY * conf->customers);
    double sum = 0;
    for (int h = 0; h < 24; h++)
        sum += hour_profile[h];
    for (int h = 0; h < 24; h++)
        g->gap_ms[h] = mean_gap / (hour_profile[h] * 24.0 / sum);
    g->next_normal = (double)conf->start_ms;
    g->now_ms = conf->start_ms;

    double size = 0;
    for (int s = 0; s < fw_gen_nscenarios; s++)
        size += (fw_gen_scenarios[s].min_txns + fw_gen_scenarios[s].max_txns) / 2.0;
    g->mean_size = size / fw_gen_nscenarios;
    g->p0 = conf->fraud_ratio / g->mean_size;
    g->fmt_day = -1;
    labels_init(g);
    return g;
fail:
    fw_gen_destroy(g);
    return NULL;
}

void fw_gen_destroy(fw_gen *g) {
    if (!g)
        return;
    free(g->cust);
    free(g->merch);
    free(g->big);
    free(g->online);
    free(g->heap);
    free(g);
}

void fw_gen_drain(fw_gen *g) { g->draining = true; }

const fw_gen_stats *fw_gen_get_stats(const fw_gen *g) { return &g->stats; }

const char *fw_gen_city_country(unsigned city) {
    return city < (unsigned)NCITIES ? cities[city].country : "";
}

const char *fw_gen_customer_country(const fw_gen *g, uint32_t customer) {
    return customer < g->conf.customers ? cities[g->cust[customer].city].country : "";
}

/* A customer without an exclusive instance at @p ts, or NONE. */
static uint32_t pick_normal_customer(fw_gen *g, int64_t ts) {
    for (int i = 0; i < PICK_TRIES; i++) {
        uint32_t c = rng_below(&g->rng, g->conf.customers);
        if (g->cust[c].normal_blocked_until < ts)
            return c;
    }
    return FW_GEN_NONE;
}

bool fw_gen_next(fw_gen *g, fw_gen_txn *out) {
    uint64_t count = g->conf.count;
    if (count && g->stats.records >= count)
        return false;
    if ((g->draining && g->heap_len == 0) || g->exhausted)
        return false;
    if (!g->draining)
        maybe_start_instance(g);
    bool normal_ok = !g->draining && (!count || g->stats.records + g->heap_len < count);
    if (g->next_normal < (double)g->now_ms) /* a busy population let the schedule pass it */
        g->next_normal = (double)g->now_ms;
    int64_t tn = (int64_t)g->next_normal;
    bool from_schedule = g->heap_len && (!normal_ok || g->heap[0].ts_ms <= tn);
    uint32_t c = FW_GEN_NONE;
    if (!from_schedule) {
        c = pick_normal_customer(g, tn);
        if (c == FW_GEN_NONE) {
            if (g->heap_len)
                from_schedule = true; /* everyone tried is busy: let the schedule go first */
            else /* only the cool-down blocks them (tiny population): ignore it */
                c = rng_below(&g->rng, g->conf.customers);
        }
    }
    if (from_schedule) {
        heap_pop(g, out);
    } else {
        gen_normal(g, c, tn, out);
        int h = (int)((tn / HOUR_MS) % 24);
        g->next_normal += -log(1.0 - rng_unit(&g->rng)) * g->gap_ms[h];
    }
    if (out->ts_ms > MAX_TS_MS) {
        g->exhausted = true;
        return false;
    }
    out->seq = g->stats.records++;
    g->now_ms = out->ts_ms;
    if (out->scenario >= 0) {
        g->stats.fraud++;
        g->stats.scen_txns[out->scenario]++;
    }
    if (out->legit_large)
        g->stats.legit_large++;
    return true;
}

/* -------------------------------------------------------------- formatter */

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static inline unsigned count_digits(uint64_t v) {
    unsigned n = 1;
    for (;;) {
        if (v < 10) return n;
        if (v < 100) return n + 1;
        if (v < 1000) return n + 2;
        if (v < 10000) return n + 3;
        v /= 10000;
        n += 4;
    }
}

/* Writes the digits straight into place, last pair first. */
static inline char *put_u64(char *p, uint64_t v) {
    unsigned n = count_digits(v);
    char *q = p + n;
    while (v >= 100) {
        unsigned k = (unsigned)(v % 100) * 2;
        v /= 100;
        *--q = digit_pairs[k + 1];
        *--q = digit_pairs[k];
    }
    if (v >= 10) {
        *--q = digit_pairs[v * 2 + 1];
        *--q = digit_pairs[v * 2];
    } else {
        *--q = (char)('0' + v);
    }
    return p + n;
}

static inline char *put_2(char *p, unsigned v) {
    p[0] = digit_pairs[v * 2];
    p[1] = digit_pairs[v * 2 + 1];
    return p + 2;
}

static inline char *put_label(char *p, const gen_label *l) {
    memcpy(p, l->s, sizeof(l->s)); /* the output has room: see FW_GEN_JSON_MAX */
    return p + l->n;
}

static void label_set(gen_label *l, const char *s) {
    memset(l->s, 0, sizeof(l->s));
    l->n = s ? strlen(s) : 0;
    if (l->n >= sizeof(l->s))
        l->n = sizeof(l->s) - 1;
    if (l->n)
        memcpy(l->s, s, l->n);
}

static void labels_init(fw_gen *g) {
    for (int i = 0; i <= FW_TXN_TYPE_OTHER; i++)
        label_set(&g->l_type[i], fw_txn_type_name((fw_txn_type)i));
    for (int i = 0; i < 4; i++)
        label_set(&g->l_channel[i], channel_names[i]);
    for (int i = 0; i < NCATEGORIES; i++)
        label_set(&g->l_category[i], categories[i].name);
    for (int i = 0; i < NCITIES; i++) {
        label_set(&g->l_country[i], cities[i].country);
        label_set(&g->l_currency[i], cities[i].currency);
    }
    for (int i = 0; i < fw_gen_nscenarios; i++)
        label_set(&g->l_scenario[i], fw_gen_scenarios[i].name);
}

#define PUT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) += sizeof(lit) - 1)

static char *put_fixed_e4(char *p, int32_t v) {
    uint32_t a = v < 0 ? (uint32_t)(-(int64_t)v) : (uint32_t)v;
    if (v < 0)
        *p++ = '-';
    p = put_u64(p, a / 10000);
    *p++ = '.';
    p = put_2(p, a % 10000 / 100);
    return put_2(p, a % 100);
}

static char *put_cents(char *p, int64_t c) {
    p = put_u64(p, (uint64_t)c / 100);
    *p++ = '.';
    return put_2(p, (unsigned)((uint64_t)c % 100));
}

static char *put_time(fw_gen *g, char *p, int64_t ms) {
    int64_t day = ms / DAY_MS;
    if (day != g->fmt_day) {
        char tmp[32];
        fw_time_format(day * DAY_MS, tmp);
        memcpy(g->fmt_date, tmp, sizeof(g->fmt_date));
        g->fmt_day = day;
    }
    memcpy(p, g->fmt_date, sizeof(g->fmt_date));
    p += sizeof(g->fmt_date);
    unsigned r = (unsigned)(ms - day * DAY_MS);
    p = put_2(p, r / 3600000);
    *p++ = ':';
    p = put_2(p, r / 60000 % 60);
    *p++ = ':';
    p = put_2(p, r / 1000 % 60);
    *p++ = '.';
    *p++ = (char)('0' + r % 1000 / 100);
    p = put_2(p, r % 100);
    *p++ = 'Z';
    return p;
}

size_t fw_gen_format_json(fw_gen *g, const fw_gen_txn *t, char *out) {
    char *p = out;
    uint64_t seed = g->conf.seed;
    PUT(p, "{\"transaction_id\":\"tx-");
    p = put_u64(p, seed);
    *p++ = '-';
    p = put_u64(p, t->seq);
    PUT(p, "\",\"timestamp\":\"");
    p = put_time(g, p, t->ts_ms);
    PUT(p, "\",\"account_id\":\"acct-");
    p = put_u64(p, t->customer);
    if (t->card) {
        PUT(p, "\",\"card_id\":\"card-");
        p = put_u64(p, t->customer);
        *p++ = '-';
        p = put_u64(p, t->card);
    }
    PUT(p, "\",\"customer_id\":\"cust-");
    p = put_u64(p, t->customer);
    PUT(p, "\",\"type\":\"");
    p = put_label(p, &g->l_type[t->type <= FW_TXN_TYPE_OTHER ? t->type : FW_TXN_TYPE_OTHER]);
    PUT(p, "\",\"amount\":");
    p = put_cents(p, t->amount_cents);
    PUT(p, ",\"currency\":\"");
    p = put_label(p, &g->l_currency[g->cust[t->customer].city]);
    if (t->merchant != FW_GEN_NONE) {
        if (t->atm) {
            PUT(p, "\",\"merchant_id\":\"atm-");
            p = put_u64(p, t->city);
            *p++ = '-';
            p = put_u64(p, t->merchant);
            PUT(p, "\",\"merchant_category\":\"atm");
        } else {
            PUT(p, "\",\"merchant_id\":\"m-");
            p = put_u64(p, t->merchant);
            PUT(p, "\",\"merchant_category\":\"");
            p = put_label(p, &g->l_category[g->merch[t->merchant].category]);
        }
    }
    if (t->cp_kind == FW_GEN_CP_ACCOUNT) {
        PUT(p, "\",\"counterparty_id\":\"acct-");
        p = put_u64(p, t->counterparty);
    } else if (t->cp_kind == FW_GEN_CP_EXTERNAL) {
        PUT(p, "\",\"counterparty_id\":\"ext-");
        p = put_u64(p, seed);
        *p++ = '-';
        p = put_u64(p, t->instance);
    }
    PUT(p, "\",\"country\":\"");
    p = put_label(p, &g->l_country[t->city < NCITIES ? t->city : 0]);
    PUT(p, "\",\"lat\":");
    p = put_fixed_e4(p, t->lat_e4);
    PUT(p, ",\"lon\":");
    p = put_fixed_e4(p, t->lon_e4);
    PUT(p, ",\"channel\":\"");
    p = put_label(p, &g->l_channel[t->channel & 3]);
    if (t->scenario >= 0 && t->scenario < fw_gen_nscenarios) {
        PUT(p, "\",\"is_fraud\":true,\"scenario\":\"");
        p = put_label(p, &g->l_scenario[t->scenario]);
        PUT(p, "\",\"scenario_instance\":\"si-");
        p = put_u64(p, seed);
        *p++ = '-';
        p = put_u64(p, t->instance);
        PUT(p, "\"}");
    } else {
        PUT(p, "\",\"is_fraud\":false}");
    }
    return (size_t)(p - out);
}

size_t fw_gen_format_key(const fw_gen_txn *t, char *out) {
    char *p = out;
    PUT(p, "acct-");
    p = put_u64(p, t->customer);
    return (size_t)(p - out);
}
