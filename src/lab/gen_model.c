/* gen_model.c — population, normal traffic, travel, paydays, fraud scenarios
 * and the NDJSON formatter of the synthetic data generator (see gen_model.h
 * for the model and docs/generator.md for what it produces).
 * Randomness is xoshiro256** seeded by splitmix64: one stream builds the
 * population, another drives the traffic, so the population of a seed does
 * not depend on the count, the ratio or the start time. Trips are a pure
 * function of the seed, the customer and the previous trip, so whoever asks
 * first (traffic, a scenario, a payday) sees the same journeys. */
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
#define FAR_KM 1000.0         /* jumps this far in under an hour are above 900 km/h */
#define FLOW_QUIET_MS (72 * HOUR_MS) /* accounts receiving a scenario's money got none in
                                      * this long: the longest money-flow rule window */

/* Travel: a trip every 100-300 days, 2-14 days at a city of another country. */
#define TRIP_GAP_MIN_DAYS 100
#define TRIP_GAP_MAX_DAYS 300
#define FLIGHT_KMH 750.0      /* a flight's average speed; plus 2-3 h of airports */
#define NOISY_TRIP_SHARE 0.10 /* trips whose phone keeps reporting home now and then */
#define HOME_SIGNAL_ODDS 150u /* on those, 1 card-present purchase in this many is
                               * followed within the hour by a home-country login */
#define HOME_SIGNAL_SHARE 0.3 /* and this share of their mobile logins and transfers
                               * reports home too */

/* Payday: the 25th (the Friday before when it falls on a weekend); salaries
 * arrive between 06:00 and 10:00 UTC, then bills and shopping follow. */
#define PAYDAY_DOM 25
#define PAY_FROM_MS (6 * HOUR_MS)
#define PAY_SPAN_MS (4 * HOUR_MS)
#define PAY_SWEEP_MULT 1000000007ULL /* prime above FW_GEN_MAX_CUSTOMERS: a permutation */
#define SALARIED_SHARE 0.75
#define RENT_SHARE 0.7         /* salaried customers paying rent by transfer */
#define SALARY_BONUS_ODDS 1500u /* 1 salary in this many is a bonus month above 5000 */
#define PAYDAY_RUSH_ODDS 150u  /* 1 payday in this many: 2-3 transfers above 1000 within
                                * about 25 min (3 of them make a velocity alert) */
#define LEGIT_PENDING_MAX (FW_GEN_MAX_PENDING - FW_GEN_MAX_PENDING / 4) /* room kept for
                                                                         * instances */
/* ---------------------------------------------------------------- tables */

typedef struct gen_city {
    const char *country;    /* ISO 3166 alpha-2 */
    const char *currency;   /* account currency of customers living here; NULL: nobody does */
    int32_t lat_e4, lon_e4; /* centre */
    uint16_t home_weight;   /* share of the bank's customers living here */
    uint16_t merchant_weight;
} gen_city;

/* Home markets use currencies close to 1 USD, so one amount threshold means the
 * same everywhere; the last cities are only destinations (of trips and of
 * location_jump). Cities of one country at least FAR_KM apart (US, CA, AU)
 * give impossible_travel its domestic jumps. */
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
    { "AU", "AUD", -319505, 1158605, 10, 10 },   /* Perth */
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

enum { CUST_SALARIED = 1, CUST_NOISY_TRIP = 2 };

/* Where a customer is at some instant of their current or next trip. */
typedef enum trip_phase { AT_HOME, IN_FLIGHT, AWAY } trip_phase;

/* What normal traffic reads for every record: one cache line (64 bytes). */
typedef struct gen_customer {
    int64_t normal_blocked_until;  /* exclusive instance running: no normal traffic */
    int64_t trip_depart;           /* current or next trip: the outbound flight leaves */
    uint32_t trip_fly_ms;          /* each way, airports included */
    uint32_t trip_stay_ms;         /* at the destination */
    int32_t lat_e4, lon_e4;        /* home */
    uint8_t city;                  /* home city */
    uint8_t trip_city;             /* destination of the trip */
    uint8_t ncards;                /* 1 or 2 */
    uint8_t flags;                 /* CUST_* */
    float spend_mu, spend_sigma;   /* log-normal typical purchase (units, not cents) */
    uint32_t fav[4];               /* favourite merchants, in the home city */
} gen_customer;

/* The rest of a customer, read far less often. */
typedef struct gen_customer_cold {
    int64_t scenario_busy_until;   /* one instance or payday at a time, then a cool-down */
    int64_t last_inbound_ms;       /* latest transfer from another account, scheduled or made */
    uint32_t payee[2];             /* regular transfer counterparties (customers) */
} gen_customer_cold;

typedef struct gen_merchant {
    int32_t lat_e4, lon_e4;
    uint8_t city;
    uint8_t category;
} gen_merchant;

struct fw_gen {
    fw_gen_conf conf;
    gen_rng rng;                  /* traffic */
    gen_customer *cust;
    gen_customer_cold *cold;      /* same index as cust */
    gen_merchant *merch;
    uint32_t nmerch;
    uint32_t city_merch[NCITIES + 1]; /* merchants of city c: [city_merch[c], city_merch[c+1]) */
    uint32_t *big;                /* big-ticket merchants, grouped by city like merch */
    uint32_t city_big[NCITIES + 1];
    uint32_t *online;             /* online-only merchants, grouped by city */
    uint32_t city_online[NCITIES + 1];
    uint32_t hot_merchant;        /* --hot-key merchant_id: its index (online-only) */
    double home_cdf[NCITIES];     /* cumulative home weights, for picking home cities */
    float dist_km[NCITIES][NCITIES];  /* between city centres */
    double dest_cdf[NCITIES][NCITIES];/* trip destinations from a home city: other
                                       * countries, by merchant weight, cumulative */
    uint8_t far_home[NCITIES][NCITIES];    /* same country, at least FAR_KM away */
    uint8_t nfar_home[NCITIES];
    uint8_t far_abroad[NCITIES][NCITIES];  /* another country, at least FAR_KM away */
    uint8_t nfar_abroad[NCITIES];
    double gap_ms[24];            /* mean normal inter-arrival per UTC hour */
    double next_normal;           /* event time of the next normal record (ms, fractional) */
    int64_t now_ms;               /* event time of the last record returned */
    double p0;                    /* instance starts per record at the target ratio */
    double mean_size;             /* mean transactions per instance over the mix */
    double scen_cdf[FW_GEN_MAX_SCENARIOS]; /* cumulative weights of the mix */
    fw_gen_txn *heap;             /* scheduled records, min-heap on (ts, seq) */
    size_t heap_len, heap_cap;
    size_t heap_fraud;            /* of which fraudulent */
    uint64_t push_seq;
    int64_t pay_day_ms;           /* 00:00 UTC of the payday being swept */
    int64_t pay_next_ms;          /* the next salary deposit */
    uint32_t pay_j;               /* its position in the sweep of the customers */
    uint64_t pay_offset;          /* this payday's permutation of the customers */
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
    gen_label l_scenario[FW_GEN_MAX_SCENARIOS];
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
    r->spare = 0;
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

/* A private stream for one purpose of one customer (a trip, a salary), so
 * that what it draws does not depend on when it is asked for. */
static void rng_for(gen_rng *r, uint64_t seed, uint32_t customer, uint64_t what) {
    uint64_t x = what * 0x9e3779b97f4a7c15ULL ^ customer;
    rng_seed(r, seed ^ splitmix64(&x), 3);
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

static double haversine_km(int32_t lat1_e4, int32_t lon1_e4, int32_t lat2_e4, int32_t lon2_e4) {
    const double rad = 3.141592653589793 / 180.0 / 1e4;
    double la1 = lat1_e4 * rad, la2 = lat2_e4 * rad;
    double dlat = la2 - la1, dlon = (lon2_e4 - lon1_e4) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) + cos(la1) * cos(la2) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * 6371.0 * asin(sqrt(a < 1 ? a : 1));
}

/* Distances, far cities and trip destinations, from the city table. */
static void geography_init(fw_gen *g) {
    for (int a = 0; a < NCITIES; a++) {
        double acc = 0;
        for (int b = 0; b < NCITIES; b++) {
            double km = haversine_km(cities[a].lat_e4, cities[a].lon_e4, cities[b].lat_e4,
                                     cities[b].lon_e4);
            bool same = !strcmp(cities[a].country, cities[b].country);
            g->dist_km[a][b] = (float)km;
            if (same && km >= FAR_KM)
                g->far_home[a][g->nfar_home[a]++] = (uint8_t)b;
            if (!same && km >= FAR_KM)
                g->far_abroad[a][g->nfar_abroad[a]++] = (uint8_t)b;
            acc += same ? 0 : cities[b].merchant_weight;
            g->dest_cdf[a][b] = acc;
        }
    }
}

/* Plans the trip of customer @p c that starts at @p depart. Flights take the
 * distance at FLIGHT_KMH plus 2-3 h of airports, so even the jump from the
 * last purchase at home to the first one abroad stays below 750 km/h. */
static void trip_plan(const fw_gen *g, uint32_t c, gen_customer *cu, int64_t depart) {
    gen_rng r;
    rng_for(&r, g->conf.seed, c, (uint64_t)depart);
    const double *cdf = g->dest_cdf[cu->city];
    double u = rng_unit(&r) * cdf[NCITIES - 1];
    int dest = 0;
    while (dest < NCITIES - 1 && !(u < cdf[dest]))
        dest++;
    cu->trip_depart = depart;
    cu->trip_city = (uint8_t)dest;
    cu->trip_stay_ms = (uint32_t)(rng_range(&r, 2, 13) * DAY_MS + rng_range(&r, 0, DAY_MS));
    double hours = g->dist_km[cu->city][dest] / FLIGHT_KMH;
    cu->trip_fly_ms = (uint32_t)(hours * HOUR_MS) + (uint32_t)rng_range(&r, 2 * HOUR_MS,
                                                                         3 * HOUR_MS);
    cu->flags = (uint8_t)((cu->flags & ~CUST_NOISY_TRIP) |
                          (rng_unit(&r) < NOISY_TRIP_SHARE ? CUST_NOISY_TRIP : 0));
}

static int64_t trip_back(const gen_customer *cu) {
    return cu->trip_depart + 2 * (int64_t)cu->trip_fly_ms + cu->trip_stay_ms;
}

static trip_phase trip_phase_at(const gen_customer *cu, int64_t ts) {
    int64_t d = ts - cu->trip_depart, fly = cu->trip_fly_ms, stay = cu->trip_stay_ms;
    if (d < 0 || d >= 2 * fly + stay)
        return AT_HOME; /* the next trip leaves 100+ days after this one is back */
    return d >= fly && d < fly + stay ? AWAY : IN_FLIGHT;
}

/* Once a trip is over (before the last record returned), plans the next. */
static void trip_refresh(fw_gen *g, uint32_t c) {
    gen_customer *cu = &g->cust[c];
    int64_t back;
    while ((back = trip_back(cu)) <= g->now_ms) {
        gen_rng r;
        rng_for(&r, g->conf.seed, c, ~(uint64_t)cu->trip_depart);
        int64_t depart = cu->trip_depart +
                         rng_range(&r, TRIP_GAP_MIN_DAYS, TRIP_GAP_MAX_DAYS - 1) * DAY_MS +
                         rng_range(&r, 0, DAY_MS - 1);
        if (depart < back + 30 * DAY_MS)
            depart = back + 30 * DAY_MS;
        trip_plan(g, c, cu, depart);
    }
}

/* @p n customers in a random order with none in its own place: each is
 * somebody's payee exactly once, so nobody collects many regular senders. */
static bool derangement(gen_rng *r, uint32_t n, uint32_t **out) {
    uint32_t *p = malloc((size_t)n * sizeof(*p));
    if (!p)
        return false;
    for (uint32_t i = 0; i < n; i++)
        p[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = rng_below(r, i), t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
    for (uint32_t i = 0; n > 1 && i < n; i++)
        if (p[i] == i) { /* swap with the next one: neither stays in place */
            uint32_t k = (i + 1) % n, t = p[i];
            p[i] = p[k];
            p[k] = t;
        }
    *out = p;
    return true;
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
    g->cust = aligned_alloc(64, (size_t)ncust * sizeof(*g->cust)); /* a line each */
    if (g->cust)
        memset(g->cust, 0, (size_t)ncust * sizeof(*g->cust));
    g->cold = calloc(ncust, sizeof(*g->cold));
    if (!g->merch || !g->cust || !g->cold) {
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
    uint32_t *perm[2] = { NULL, NULL };
    if (!derangement(&pr, ncust, &perm[0]) || !derangement(&pr, ncust, &perm[1])) {
        free(perm[0]);
        snprintf(errstr, errstr_size, "out of memory for %u customers", ncust);
        return false;
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
        cu->flags = rng_unit(&pr) < SALARIED_SHARE ? CUST_SALARIED : 0;
        uint32_t m0 = g->city_merch[c], mn = g->city_merch[c + 1] - m0;
        for (int k = 0; k < 4; k++)
            cu->fav[k] = m0 + rng_below(&pr, mn);
        g->cold[i].payee[0] = perm[0][i];
        g->cold[i].payee[1] = perm[1][i];
        cu->normal_blocked_until = INT64_MIN;
        g->cold[i].scenario_busy_until = INT64_MIN;
        g->cold[i].last_inbound_ms = INT64_MIN;
        /* The first trip: some customers are already away when the run starts. */
        gen_rng tr;
        rng_for(&tr, g->conf.seed, i, 0);
        trip_plan(g, i, cu, g->conf.start_ms + rng_range(&tr, -20, 179) * DAY_MS +
                                rng_range(&tr, 0, DAY_MS - 1));
    }
    free(perm[0]);
    free(perm[1]);
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

/* Moves a record made on a trip to the destination: the phone and the laptop
 * are there (a card-present sale then takes the shop's place). */
static void txn_abroad(fw_gen *g, fw_gen_txn *t, const gen_customer *cu) {
    t->city = cu->trip_city;
    t->lat_e4 = cities[cu->trip_city].lat_e4 + (int32_t)rng_range(&g->rng, -300, 300);
    t->lon_e4 = cities[cu->trip_city].lon_e4 + (int32_t)rng_range(&g->rng, -300, 300);
    t->origin = FW_GEN_ABROAD;
}

/* A cash withdrawal at ATM @p atm of @p city, which stands at a fixed place
 * derived from its number. */
static void txn_atm(fw_gen *g, fw_gen_txn *t, uint32_t c, unsigned city, uint32_t atm) {
    t->merchant = atm;
    t->atm = 1;
    t->channel = FW_GEN_ATM;
    t->card = pick_card(g, c);
    t->city = (uint8_t)city;
    t->lat_e4 = cities[city].lat_e4 + (int32_t)(atm * 97 % 2001) - 1000;
    t->lon_e4 = cities[city].lon_e4 + (int32_t)(atm * 61 % 2001) - 1000;
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
    g->heap_fraud += fw_gen_txn_is_fraud(t);
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
    g->heap_fraud -= fw_gen_txn_is_fraud(out);
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

/* Room for @p n scheduled legitimate records: they never crowd instances out
 * of the schedule, and a bounded run takes them only when they fit. */
static bool legit_fits(fw_gen *g, size_t n) {
    if (g->heap_len + n > LEGIT_PENDING_MAX)
        return false;
    if (g->conf.count && g->stats.records + g->heap_len + n > g->conf.count)
        return false;
    return heap_reserve(g, n);
}

/* Puts @p n records in time order, keeping the order of equal times. */
static void sort_by_time(fw_gen_txn *ev, int n) {
    for (int i = 1; i < n; i++) {
        fw_gen_txn t = ev[i];
        int j = i;
        for (; j > 0 && ev[j - 1].ts_ms > t.ts_ms; j--)
            ev[j] = ev[j - 1];
        ev[j] = t;
    }
}

/* ----------------------------------------------------------- normal traffic */

/* On a noisy trip the phone still reports home now and then (a home SIM, a
 * VPN): a real customer who looks like two places at once. */
static void txn_home_signal(fw_gen *g, fw_gen_txn *t, const gen_customer *cu) {
    t->city = cu->city;
    t->lat_e4 = cu->lat_e4 + (int32_t)rng_range(&g->rng, -150, 150);
    t->lon_e4 = cu->lon_e4 + (int32_t)rng_range(&g->rng, -150, 150);
    t->origin = FW_GEN_HOME_SIGNAL;
}

/* Within the hour after a purchase abroad, the banking app logs in through
 * the home network. */
static void schedule_home_signal(fw_gen *g, uint32_t c, int64_t ts) {
    const gen_customer *cu = &g->cust[c];
    int64_t at = ts + rng_range(&g->rng, 3 * MIN_MS, 45 * MIN_MS);
    int64_t leave = cu->trip_depart + (int64_t)cu->trip_fly_ms + cu->trip_stay_ms;
    if (at >= leave || !legit_fits(g, 1))
        return;
    fw_gen_txn t;
    txn_base(g, &t, c, at, FW_TXN_LOGIN);
    t.channel = FW_GEN_MOBILE;
    txn_home_signal(g, &t, cu);
    heap_push(g, &t);
}

/* Whether the next record should go to the hot key: a controller on the
 * running share rather than a coin, so no random draw is added (the other
 * records keep their draws) and short runs land on the share too. */
static inline bool hot_due(const fw_gen *g) {
    return (double)g->stats.hot < g->conf.hot_share * (double)(g->stats.records + 1);
}

/* A purchase as the customer makes them: mostly at favourite shops at home,
 * at any shop of the city when away. @returns the channel. */
static fw_gen_channel normal_purchase(fw_gen *g, fw_gen_txn *t, uint32_t c, int64_t ts,
                                      bool away) {
    gen_rng *r = &g->rng;
    const gen_customer *cu = &g->cust[c];
    txn_base(g, t, c, ts, FW_TXN_PURCHASE);
    if (away)
        txn_abroad(g, t, cu);
    uint32_t m = !away && rng_unit(r) < 0.7 ? cu->fav[rng_below(r, 4)]
                                            : random_merchant(g, away ? cu->trip_city : cu->city);
    if (g->conf.hot_field == FW_GEN_HOT_MERCHANT && hot_due(g))
        m = g->hot_merchant; /* online-only: the buyer's device gives the place */
    fw_gen_channel ch = purchase_channel(g, m);
    txn_at_merchant(g, t, m, ch, pick_card(g, c));
    t->amount_cents = purchase_cents(g, c, m, FW_GEN_NORMAL_MAX_CENTS);
    return ch;
}

/* A transfer to the customer's own outside payee @p k (1 landlord, 2 utility,
 * 3 loan, 4 savings), which nobody else pays. */
static void payee_transfer(fw_gen *g, fw_gen_txn *t, uint32_t c, int64_t ts, uint32_t k,
                           int64_t cents) {
    txn_base(g, t, c, ts, FW_TXN_TRANSFER);
    t->channel = rng_unit(&g->rng) < 0.5 ? FW_GEN_MOBILE : FW_GEN_ONLINE;
    t->cp_kind = FW_GEN_CP_PAYEE;
    t->counterparty = k;
    t->amount_cents = cents;
}

/* Who receives a normal transfer: mostly one of the two regular payees, now
 * and then another customer or an outside payee; never somebody inside an
 * exclusive instance, whose money must flow only as injected. */
static void normal_counterparty(fw_gen *g, fw_gen_txn *t, uint32_t c, int64_t ts) {
    gen_rng *r = &g->rng;
    double u = rng_unit(r);
    uint32_t p = u < 0.6    ? g->cold[c].payee[rng_below(r, 2)]
                 : u < 0.75 ? rng_below(r, g->conf.customers)
                            : FW_GEN_NONE;
    if (p == FW_GEN_NONE || p == c || g->cust[p].normal_blocked_until >= ts) {
        t->cp_kind = FW_GEN_CP_PAYEE;
        t->counterparty = 1 + rng_below(r, 2);
        return;
    }
    t->cp_kind = FW_GEN_CP_ACCOUNT;
    t->counterparty = p;
    if (ts > g->cold[p].last_inbound_ms)
        g->cold[p].last_inbound_ms = ts;
}

static void gen_normal(fw_gen *g, uint32_t c, int64_t ts, fw_gen_txn *t) {
    gen_rng *r = &g->rng;
    const gen_customer *cu = &g->cust[c];
    bool away = trip_phase_at(cu, ts) == AWAY; /* never in flight: pick_normal_customer */
    bool noisy = away && (cu->flags & CUST_NOISY_TRIP);
    unsigned city = away ? cu->trip_city : cu->city;
    if (rng_below(r, FW_GEN_LEGIT_LARGE_ODDS) == 0) {
        /* A real customer buying a car deposit or a long-haul holiday. */
        txn_base(g, t, c, ts, FW_TXN_PURCHASE);
        if (away)
            txn_abroad(g, t, cu);
        uint32_t m = big_ticket_merchant(g, city);
        txn_at_merchant(g, t, m, rng_unit(r) < 0.5 ? FW_GEN_POS : FW_GEN_ONLINE,
                        pick_card(g, c));
        t->amount_cents = log_uniform_cents(g, 5000.01, 15000.0);
        t->legit_large = true;
        return;
    }
    double u = rng_unit(r);
    if (u < 0.86) {
        fw_gen_channel ch = normal_purchase(g, t, c, ts, away);
        if (noisy && ch == FW_GEN_POS && rng_below(r, HOME_SIGNAL_ODDS) == 0)
            schedule_home_signal(g, c, ts);
    } else if (u < 0.92) {
        txn_base(g, t, c, ts, FW_TXN_LOGIN);
        t->channel = rng_unit(r) < 0.6 ? FW_GEN_MOBILE : FW_GEN_ONLINE;
        if (away)
            txn_abroad(g, t, cu);
        if (noisy && t->channel == FW_GEN_MOBILE && rng_unit(r) < HOME_SIGNAL_SHARE)
            txn_home_signal(g, t, cu);
    } else if (u < 0.96) {
        txn_base(g, t, c, ts, FW_TXN_WITHDRAWAL);
        if (away)
            t->origin = FW_GEN_ABROAD;
        txn_atm(g, t, c, city, rng_below(r, ATMS_PER_CITY));
        t->amount_cents = (int64_t)atm_amounts[rng_below(r, sizeof(atm_amounts) /
                                                             sizeof(atm_amounts[0]))] * 100;
    } else if (u < 0.985) {
        txn_base(g, t, c, ts, FW_TXN_TRANSFER);
        t->channel = rng_unit(r) < 0.5 ? FW_GEN_MOBILE : FW_GEN_ONLINE;
        normal_counterparty(g, t, c, ts);
        t->amount_cents = lognormal_cents(g, log(150.0), 1.0, FW_GEN_NORMAL_MAX_CENTS);
        if (away)
            txn_abroad(g, t, cu);
        if (noisy && t->channel == FW_GEN_MOBILE && rng_unit(r) < HOME_SIGNAL_SHARE)
            txn_home_signal(g, t, cu);
    } else if (u < 0.9995) {
        txn_base(g, t, c, ts, FW_TXN_DEPOSIT);
        t->channel = rng_unit(r) < 0.6 ? FW_GEN_ONLINE : FW_GEN_MOBILE;
        t->amount_cents = lognormal_cents(g, log(800.0), 0.7, FW_GEN_NORMAL_MAX_CENTS);
        if (away)
            txn_abroad(g, t, cu);
    } else {
        txn_base(g, t, c, ts, FW_TXN_PASSWORD_CHANGE);
        t->channel = rng_unit(r) < 0.6 ? FW_GEN_MOBILE : FW_GEN_ONLINE;
        if (away)
            txn_abroad(g, t, cu);
    }
}

/* ---------------------------------------------------------------- payday */

/* Year and month of a day number (days since 1970-01-01; H. Hinnant's
 * civil_from_days). */
static void civil_from_days(int64_t z, int64_t *year, unsigned *month) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (int64_t)yoe + era * 400 + (*month <= 2);
}

/* 00:00 UTC of the payday of the month holding day @p days: the 25th, or
 * the Friday before when the 25th falls on a weekend. */
static int64_t payday_of_month(int64_t days) {
    int64_t y;
    unsigned m;
    civil_from_days(days, &y, &m);
    int64_t d = fw_days_from_civil(y, m, PAYDAY_DOM);
    int64_t weekday = ((d + 4) % 7 + 7) % 7; /* 0 = Sunday: 1970-01-01 was a Thursday */
    d -= weekday == 6 ? 1 : weekday == 0 ? 2 : 0;
    return d * DAY_MS;
}

static int64_t pay_slot(const fw_gen *g, uint64_t j) {
    return g->pay_day_ms + PAY_FROM_MS + (int64_t)(j * PAY_SPAN_MS / g->conf.customers);
}

static void pay_sweep_start(fw_gen *g, int64_t day, int64_t from);

/* The time of the next salary of the sweep, or the next month's sweep. */
static void pay_schedule_next(fw_gen *g) {
    if (g->pay_j >= g->conf.customers) {
        pay_sweep_start(g, payday_of_month(g->pay_day_ms / DAY_MS + 20), INT64_MIN);
        return;
    }
    int64_t a = pay_slot(g, g->pay_j), b = pay_slot(g, g->pay_j + 1ULL);
    g->pay_next_ms = a + (b > a ? rng_range(&g->rng, 0, b - a - 1) : 0);
}

/* Sweeps every customer once over the morning of payday @p day, in an order
 * that changes every month, from the first slot not before @p from. */
static void pay_sweep_start(fw_gen *g, int64_t day, int64_t from) {
    uint64_t n = g->conf.customers;
    g->pay_day_ms = day;
    g->pay_j = 0;
    if (from > day + PAY_FROM_MS) {
        uint64_t late = (uint64_t)(from - day - PAY_FROM_MS);
        uint64_t j = (late * n + PAY_SPAN_MS - 1) / PAY_SPAN_MS;
        g->pay_j = (uint32_t)(j < n ? j : n);
    }
    uint64_t x = g->conf.seed ^ (uint64_t)day;
    g->pay_offset = splitmix64(&x) % n;
    pay_schedule_next(g);
}

/* A salaried customer's payday: the salary, then over the next hours the
 * rent and maybe a utility bill to their outside payees, and some shopping.
 * One in PAYDAY_RUSH_ODDS pays rent, loan and savings at once instead: 2-3
 * transfers above 1000 within about 25 minutes. A customer away gets the
 * salary only; one in the air or inside an instance, nothing. */
static void payday(fw_gen *g, uint32_t c, int64_t ts) {
    gen_rng *r = &g->rng;
    gen_customer *cu = &g->cust[c];
    trip_refresh(g, c);
    trip_phase ph = trip_phase_at(cu, ts);
    if (ph == IN_FLIGHT || g->cold[c].scenario_busy_until >= ts ||
        cu->normal_blocked_until >= ts) {
        g->stats.payday_skipped++;
        return;
    }
    /* The customer's own salary and rent: the same every month, give or take. */
    gen_rng own;
    rng_for(&own, g->conf.seed, c, 0x5a1a7ULL);
    double salary = exp(log(2500.0) + 0.35 * rng_normal(&own));
    salary = salary < 800 ? 800 : salary > 4800 ? 4800 : salary;
    bool renter = rng_unit(&own) < RENT_SHARE;
    double rent = exp(log(900.0) + 0.4 * rng_normal(&own));
    double rent_max = 0.6 * salary < 2500 ? 0.6 * salary : 2500;
    rent = rent < 300 ? 300 : rent > rent_max ? rent_max : rent;

    fw_gen_txn ev[8];
    int n = 0;
    fw_gen_txn *d = &ev[n++];
    txn_base(g, d, c, ts, FW_TXN_DEPOSIT);
    d->channel = FW_GEN_ONLINE;
    d->origin = FW_GEN_PAYDAY;
    if (ph == AWAY)
        txn_abroad(g, d, cu);
    d->amount_cents = (int64_t)(salary * (0.98 + 0.04 * rng_unit(r)) * 100);
    if (rng_below(r, SALARY_BONUS_ODDS) == 0) {
        d->amount_cents = log_uniform_cents(g, 5000.01, 9000.0);
        d->legit_large = true;
    }
    bool at_home_all_day = ph == AT_HOME && (cu->trip_depart > ts + 12 * HOUR_MS + COOLDOWN_MS
                                             || trip_back(cu) <= ts);
    if (at_home_all_day) {
        if (rng_below(r, PAYDAY_RUSH_ODDS) == 0) {
            static const uint8_t rush_payees[] = { 1, 3, 4 }; /* rent, loan, savings */
            int k = rng_unit(r) < 0.6 ? 3 : 2;
            int64_t t = ts + rng_range(r, 60 * MIN_MS, 180 * MIN_MS);
            for (int i = 0; i < k; i++, t += rng_range(r, 2 * MIN_MS, 12 * MIN_MS)) {
                payee_transfer(g, &ev[n], c, t, rush_payees[i], rng_range(r, 100001, 250000));
                ev[n++].origin = FW_GEN_PAYDAY_RUSH;
            }
            g->stats.payday_rush++;
        } else {
            if (renter) {
                payee_transfer(g, &ev[n], c, ts + rng_range(r, 60 * MIN_MS, 240 * MIN_MS), 1,
                               (int64_t)(rent * 100));
                ev[n++].origin = FW_GEN_PAYDAY;
            }
            if (rng_unit(r) < 0.5) {
                payee_transfer(g, &ev[n], c, ts + rng_range(r, 60 * MIN_MS, 8 * HOUR_MS), 2,
                               log_uniform_cents(g, 40, 250));
                ev[n++].origin = FW_GEN_PAYDAY;
            }
        }
        for (int k = 1 + (int)rng_below(r, 3); k > 0; k--) {
            normal_purchase(g, &ev[n], c, ts + rng_range(r, 60 * MIN_MS, 10 * HOUR_MS), false);
            ev[n++].origin = FW_GEN_PAYDAY;
        }
    }
    sort_by_time(ev, n);
    if (!legit_fits(g, (size_t)n)) {
        g->stats.payday_skipped++;
        return;
    }
    for (int i = 0; i < n; i++)
        heap_push(g, &ev[i]);
    g->stats.salaries++;
    int64_t busy = ev[n - 1].ts_ms + COOLDOWN_MS; /* no instance inside the burst */
    if (busy > g->cold[c].scenario_busy_until)
        g->cold[c].scenario_busy_until = busy;
}

/* The salary due next in the sweep, for whoever is at that position. */
static void payday_step(fw_gen *g) {
    uint32_t c = (uint32_t)((g->pay_j * PAY_SWEEP_MULT + g->pay_offset) % g->conf.customers);
    int64_t ts = g->pay_next_ms < g->now_ms ? g->now_ms : g->pay_next_ms;
    g->pay_j++;
    pay_schedule_next(g);
    if (g->cust[c].flags & CUST_SALARIED)
        payday(g, c, ts);
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

/* Two card-present purchases with one card: at home, then @p gap later in
 * city @p away. The first is the cardholder's own and labelled legitimate, as
 * a chargeback would have it; only the clone's purchase far away is fraud. */
static int two_places(fw_gen *g, uint32_t c, int64_t t0, int64_t gap, unsigned away,
                      fw_gen_txn *ev) {
    uint8_t card = pick_card(g, c);
    uint32_t m = random_merchant(g, g->cust[c].city);
    txn_base(g, &ev[0], c, t0, FW_TXN_PURCHASE);
    txn_at_merchant(g, &ev[0], m, FW_GEN_POS, card);
    ev[0].amount_cents = purchase_cents(g, c, m, 99999);
    ev[0].cardholder = true;
    m = random_merchant(g, away);
    txn_base(g, &ev[1], c, t0 + gap, FW_TXN_PURCHASE);
    txn_at_merchant(g, &ev[1], m, FW_GEN_POS, card);
    ev[1].amount_cents = purchase_cents(g, c, m, 99999);
    return 2;
}

/* A card-present purchase at home, then 5-55 min later one with the same card
 * in a city of another country at least FAR_KM away (above 1000 km/h). */
static int scen_location_jump(fw_gen *g, uint32_t c, int64_t t0, fw_gen_txn *ev, int max) {
    (void)max;
    gen_rng *r = &g->rng;
    unsigned home = g->cust[c].city;
    unsigned away = g->far_abroad[home][rng_below(r, g->nfar_abroad[home])];
    return two_places(g, c, t0, rng_range(r, 5 * MIN_MS, 55 * MIN_MS), away, ev);
}

/* Like location_jump, but inside the home country: 5-50 min after a purchase
 * at home, one with the same card in a city of the same country at least
 * FAR_KM away (New York → Los Angeles, Toronto → Vancouver, Sydney → Perth);
 * from a country without such a pair, in a far city abroad. */
static int scen_impossible_travel(fw_gen *g, uint32_t c, int64_t t0, fw_gen_txn *ev,
                                  int max) {
    (void)max;
    gen_rng *r = &g->rng;
    unsigned home = g->cust[c].city;
    unsigned away = g->nfar_home[home]
                        ? g->far_home[home][rng_below(r, g->nfar_home[home])]
                        : g->far_abroad[home][rng_below(r, g->nfar_abroad[home])];
    return two_places(g, c, t0, rng_range(r, 5 * MIN_MS, 50 * MIN_MS), away, ev);
}

/* ------------------------------------------------ scenarios among accounts */

static bool idle_at(fw_gen *g, uint32_t c, int64_t t0);

/* No transfer from another account in the last FLOW_QUIET_MS and none
 * scheduled: money this account receives in a scenario does not mix with
 * another flow's, which would hide where it came from. */
static bool quiet_inbound(const fw_gen *g, uint32_t c, int64_t t0) {
    return g->cold[c].last_inbound_ms < t0 - FLOW_QUIET_MS;
}

/* Another idle customer, none of the @p nused in @p used, and with a quiet
 * inbound when it is to @p receive money; NONE after PICK_TRIES tries (a
 * small or busy population). */
static uint32_t pick_partner(fw_gen *g, int64_t t0, const uint32_t *used, int nused,
                             bool receive) {
    for (int i = 0; i < PICK_TRIES; i++) {
        uint32_t k = rng_below(&g->rng, g->conf.customers);
        bool dup = false;
        for (int j = 0; j < nused && !dup; j++)
            dup = used[j] == k;
        if (!dup && idle_at(g, k, t0) && (!receive || quiet_inbound(g, k, t0)))
            return k;
    }
    return FW_GEN_NONE;
}

/* @p n instants in order over [t0, t0 + span], the first and last at the ends. */
static void spread(gen_rng *r, int64_t t0, int64_t span, int64_t *at, int n) {
    at[0] = t0;
    at[n - 1] = t0 + span;
    for (int i = 1; i < n - 1; i++) {
        int64_t v = t0 + rng_range(r, 0, span);
        int j = i;
        for (; j > 1 && at[j - 1] > v; j--)
            at[j] = at[j - 1];
        at[j] = v;
    }
}

static void transfer(fw_gen *g, fw_gen_txn *t, uint32_t from, int64_t ts, int64_t cents) {
    txn_base(g, t, from, ts, FW_TXN_TRANSFER);
    t->channel = rng_unit(&g->rng) < 0.5 ? FW_GEN_MOBILE : FW_GEN_ONLINE;
    t->amount_cents = cents;
}

/* 6-12 distinct customers each send one TRANSFER of 200-3000 to the account
 * of customer @p mule, spread over 2-48 h (money mule collection). */
static int scen_fan_in(fw_gen *g, uint32_t mule, int64_t t0, fw_gen_txn *ev, int max) {
    gen_rng *r = &g->rng;
    int k = 6 + (int)rng_below(r, 7);
    if (k > max)
        k = max;
    uint32_t used[FW_GEN_MAX_INSTANCE + 1] = { mule };
    int64_t at[FW_GEN_MAX_INSTANCE];
    spread(r, t0, rng_range(r, 2 * HOUR_MS, 48 * HOUR_MS), at, k);
    for (int i = 0; i < k; i++) {
        uint32_t s = pick_partner(g, t0, used, i + 1, false);
        if (s == FW_GEN_NONE)
            return 0;
        used[i + 1] = s;
        transfer(g, &ev[i], s, at[i], rng_range(r, 20000, 300000));
        ev[i].cp_kind = FW_GEN_CP_ACCOUNT;
        ev[i].counterparty = mule;
    }
    return k;
}

/* The account of @p c sends TRANSFERs of 300-3000 to 6-10 distinct
 * counterparties within 30 min - 6 h: about half other customers' accounts,
 * the rest outside accounts, each its own (ext-<seed>-<instance>-<k>). */
static int scen_fan_out(fw_gen *g, uint32_t c, int64_t t0, fw_gen_txn *ev, int max) {
    gen_rng *r = &g->rng;
    int k = 6 + (int)rng_below(r, 5);
    if (k > max)
        k = max;
    uint32_t used[FW_GEN_MAX_INSTANCE + 1] = { c };
    int nused = 1;
    int64_t at[FW_GEN_MAX_INSTANCE];
    spread(r, t0, rng_range(r, 30 * MIN_MS, 6 * HOUR_MS), at, k);
    for (int i = 0; i < k; i++) {
        transfer(g, &ev[i], c, at[i], rng_range(r, 30000, 300000));
        uint32_t p = rng_unit(r) < 0.5 ? pick_partner(g, t0, used, nused, false) : FW_GEN_NONE;
        if (p != FW_GEN_NONE) {
            used[nused++] = p;
            ev[i].cp_kind = FW_GEN_CP_ACCOUNT;
            ev[i].counterparty = p;
        } else {
            ev[i].cp_kind = FW_GEN_CP_EXTERNAL_K;
            ev[i].counterparty = (uint32_t)i;
        }
    }
    return k;
}

/* Money goes round 3-5 distinct accounts and back: A→B→C(→D→E)→A, each hop
 * 20 min - 12 h after the previous, the first 2000-20000, each forwarding
 * 85-95 % of what it received (keeping the rest as a fee). */
static int scen_cycle(fw_gen *g, uint32_t c, int64_t t0, fw_gen_txn *ev, int max) {
    gen_rng *r = &g->rng;
    int k = 3 + (int)rng_below(r, 3);
    if (k > max)
        k = max;
    /* Every account receives: all with a quiet inbound (the origin too, or
     * another takes its place). */
    uint32_t acc[FW_GEN_MAX_INSTANCE] = { c };
    if (!quiet_inbound(g, c, t0) && (acc[0] = pick_partner(g, t0, &c, 1, true)) == FW_GEN_NONE)
        return 0;
    for (int i = 1; i < k; i++)
        if ((acc[i] = pick_partner(g, t0, acc, i, true)) == FW_GEN_NONE)
            return 0;
    int64_t t = t0, cents = rng_range(r, 200000, 2000000);
    for (int i = 0; i < k; i++) {
        if (i) {
            t += rng_range(r, 20 * MIN_MS, 12 * HOUR_MS);
            cents = (int64_t)((double)cents * (0.85 + 0.10 * rng_unit(r)));
        }
        transfer(g, &ev[i], acc[i], t, cents);
        ev[i].cp_kind = FW_GEN_CP_ACCOUNT;
        ev[i].counterparty = acc[(i + 1) % k];
    }
    return k;
}

/* Account takeover with mules (PaySim's TRANSFER then CASH_OUT): the victim
 * @p c maybe logs in, changes the password, and 2-20 min later sends 1-3
 * TRANSFERs of 1000-4900, 1-5 min apart, to distinct mules (customers of
 * the bank); 5-60 min after receiving, each mule cashes out 90-100 % of it:
 * at an ATM of its city (round amounts) or, one in three, by a transfer to an
 * outside account. */
static int scen_mule_cashout(fw_gen *g, uint32_t c, int64_t t0, fw_gen_txn *ev, int max) {
    gen_rng *r = &g->rng;
    int n = 0;
    int64_t t = t0;
    if (rng_unit(r) < 0.5) {
        txn_base(g, &ev[n], c, t, FW_TXN_LOGIN);
        ev[n++].channel = FW_GEN_MOBILE;
        t += rng_range(r, 30 * SEC_MS, 5 * MIN_MS);
    }
    txn_base(g, &ev[n], c, t, FW_TXN_PASSWORD_CHANGE);
    ev[n++].channel = FW_GEN_MOBILE;
    t += rng_range(r, 2 * MIN_MS, 20 * MIN_MS);
    int k = 1 + (int)rng_below(r, 3);
    if (n + 2 * k > max)
        k = (max - n) / 2;
    uint32_t who[4] = { c };
    for (int i = 0; i < k; i++, t += rng_range(r, 1 * MIN_MS, 5 * MIN_MS)) {
        uint32_t m = pick_partner(g, t0, who, i + 1, true);
        if (m == FW_GEN_NONE)
            return 0;
        who[i + 1] = m;
        int64_t got = rng_range(r, 100000, 490000);
        transfer(g, &ev[n], c, t, got);
        ev[n].cp_kind = FW_GEN_CP_ACCOUNT;
        ev[n++].counterparty = m;
        fw_gen_txn *out = &ev[n++];
        int64_t at = t + rng_range(r, 5 * MIN_MS, 60 * MIN_MS);
        if (rng_unit(r) < 0.3) {
            transfer(g, out, m, at, (int64_t)((double)got * (0.90 + 0.10 * rng_unit(r))));
            out->cp_kind = FW_GEN_CP_EXTERNAL_K;
            out->counterparty = (uint32_t)i;
        } else { /* 91-100 %, rounded down to tens: still at least 90 % */
            txn_base(g, out, m, at, FW_TXN_WITHDRAWAL);
            txn_atm(g, out, m, g->cust[m].city, rng_below(r, ATMS_PER_CITY));
            out->amount_cents = (int64_t)((double)got * (0.91 + 0.09 * rng_unit(r))) / 1000 * 1000;
        }
    }
    sort_by_time(ev, n);
    return n;
}

const fw_gen_scenario fw_gen_scenarios[] = {
    { .name = "high_amount", .generate = scen_high_amount, .targets = "high_amount",
      .summary = "one purchase above 5000",
      .min_txns = 1, .max_txns = 1, .exclusive = false },
    { .name = "card_testing", .generate = scen_card_testing, .targets = "small_then_large",
      .summary = "2-4 purchases below 10 on a card, then one above 1000",
      .min_txns = 3, .max_txns = 5, .exclusive = true },
    { .name = "velocity", .generate = scen_velocity, .targets = "velocity",
      .summary = "3-5 purchases above 1000 within 24 min",
      .min_txns = 3, .max_txns = 5, .exclusive = false },
    { .name = "account_takeover", .generate = scen_account_takeover,
      .targets = "account_takeover",
      .summary = "password change, then a withdrawal above 5000",
      .min_txns = 2, .max_txns = 3, .exclusive = true },
    { .name = "structuring", .generate = scen_structuring, .targets = "structuring",
      .summary = "3-6 transfers below 10000 to one account, > 10000 in all",
      .min_txns = 3, .max_txns = 6, .exclusive = false },
    { .name = "rapid_small", .generate = scen_rapid_small, .targets = "rapid_small",
      .summary = "5-8 purchases below 50 within 9 min",
      .min_txns = 5, .max_txns = 8, .exclusive = true },
    { .name = "location_jump", .generate = scen_location_jump, .targets = "location_jump",
      .summary = "card at home, then in a far country within the hour",
      .min_txns = 2, .max_txns = 2, .exclusive = true },
    { .name = "impossible_travel", .generate = scen_impossible_travel,
      .targets = "location_jump",
      .summary = "card at home, then 1000+ km away in the same country",
      .min_txns = 2, .max_txns = 2, .exclusive = true },
    { .name = "fan_in", .generate = scen_fan_in, .targets = "fan_in",
      .summary = "6-12 customers each pay one mule account within 2-48 h",
      .min_txns = 6, .max_txns = 12, .min_customers = 7, .exclusive = false },
    { .name = "fan_out", .generate = scen_fan_out, .targets = "fan_out",
      .summary = "one account pays 6-10 distinct accounts within 6 h",
      .min_txns = 6, .max_txns = 10, .exclusive = false },
    { .name = "cycle", .generate = scen_cycle, .targets = "cycle",
      .summary = "money goes round 3-5 accounts back to its origin",
      .min_txns = 3, .max_txns = 5, .min_customers = 3, .exclusive = true },
    { .name = "mule_cashout", .generate = scen_mule_cashout, .targets = "mule_cashout",
      .summary = "takeover, transfers to 1-3 mules, who cash out at once",
      .min_txns = 3, .max_txns = 8, .min_customers = 2, .exclusive = true },
};
const int fw_gen_nscenarios = (int)(sizeof(fw_gen_scenarios) / sizeof(fw_gen_scenarios[0]));
_Static_assert(sizeof(gen_customer) == 64, "one customer, one cache line");
_Static_assert(sizeof(fw_gen_scenarios) / sizeof(fw_gen_scenarios[0]) <= FW_GEN_MAX_SCENARIOS,
               "fw_gen_stats and fw_gen_conf hold FW_GEN_MAX_SCENARIOS scenarios");

/* ------------------------------------------------------------- instances */

/* Away (or flying) at some point of [from, to). Needs to - from < 30 days:
 * the trip after the one planned leaves at least that long after it. */
static bool travels(fw_gen *g, uint32_t c, int64_t from, int64_t to) {
    trip_refresh(g, c);
    const gen_customer *cu = &g->cust[c];
    return from < trip_back(cu) && to > cu->trip_depart;
}

/* Free for an instance starting at @p t0: no instance, cool-down or payday
 * burst, and no trip over the next three days (the longest instance and its
 * cool-down; the exact spans are checked once the instance is written). */
static bool idle_at(fw_gen *g, uint32_t c, int64_t t0) {
    const gen_customer *cu = &g->cust[c];
    return g->cold[c].scenario_busy_until < t0 && cu->normal_blocked_until < t0 &&
           !travels(g, c, t0, t0 + 3 * DAY_MS);
}

static int pick_scenario(fw_gen *g) {
    int last = fw_gen_nscenarios - 1;
    double u = rng_unit(&g->rng) * g->scen_cdf[last];
    for (int s = 0; s < last; s++)
        if (u < g->scen_cdf[s])
            return s;
    return last;
}

/* Everyone an instance involves (senders and receiving customers), each with
 * the time of their last record in it. */
typedef struct participant {
    uint32_t customer;
    int64_t last_ms;
} participant;

static int add_participant(participant *p, int n, uint32_t c, int64_t ts) {
    for (int i = 0; i < n; i++)
        if (p[i].customer == c) {
            if (ts > p[i].last_ms)
                p[i].last_ms = ts;
            return n;
        }
    p[n] = (participant){ c, ts };
    return n + 1;
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
    double fraud = (double)(g->stats.fraud + g->heap_fraud);
    double d = (r * (committed + 1) - fraud) / g->mean_size;
    double p = g->p0 * exp(d < -30 ? -30 : d > 30 ? 30 : d);
    if (rng_unit(rng) >= p)
        return;
    int s = pick_scenario(g);
    int64_t t0 = g->now_ms + 1 + rng_range(rng, 0, 999);
    uint32_t c = FW_GEN_NONE;
    for (int i = 0; i < PICK_TRIES && c == FW_GEN_NONE; i++) {
        uint32_t k = rng_below(rng, g->conf.customers);
        if (idle_at(g, k, t0))
            c = k;
    }
    fw_gen_txn ev[FW_GEN_MAX_INSTANCE];
    int n = c == FW_GEN_NONE ? 0 : fw_gen_scenarios[s].generate(g, c, t0, ev,
                                                                 FW_GEN_MAX_INSTANCE);
    participant who[2 * FW_GEN_MAX_INSTANCE];
    int nwho = 0;
    for (int i = 0; i < n; i++) {
        nwho = add_participant(who, nwho, ev[i].customer, ev[i].ts_ms);
        if (ev[i].cp_kind == FW_GEN_CP_ACCOUNT)
            nwho = add_participant(who, nwho, ev[i].counterparty, ev[i].ts_ms);
    }
    for (int i = 0; i < nwho && n; i++)
        if (travels(g, who[i].customer, t0, who[i].last_ms + COOLDOWN_MS))
            n = 0;
    if (n == 0) {
        g->stats.skipped_busy++;
        return;
    }
    if (g->conf.count && g->stats.records + g->heap_len + (uint64_t)n > g->conf.count)
        return; /* would not fit: never write half an instance */
    if (g->heap_len + (size_t)n > FW_GEN_MAX_PENDING || !heap_reserve(g, (size_t)n)) {
        g->stats.skipped_full++; /* out of memory counts as a full schedule */
        return;
    }
    uint64_t inst = g->stats.instances;
    for (int i = 0; i < n; i++) {
        ev[i].scenario = (int8_t)s;
        ev[i].instance = inst;
        heap_push(g, &ev[i]);
        if (ev[i].cp_kind == FW_GEN_CP_ACCOUNT &&
            ev[i].ts_ms > g->cold[ev[i].counterparty].last_inbound_ms)
            g->cold[ev[i].counterparty].last_inbound_ms = ev[i].ts_ms;
    }
    g->stats.instances++;
    g->stats.scen_instances[s]++;
    for (int i = 0; i < nwho; i++) {
        gen_customer *cu = &g->cust[who[i].customer];
        gen_customer_cold *cc = &g->cold[who[i].customer];
        int64_t until = who[i].last_ms + COOLDOWN_MS;
        if (until > cc->scenario_busy_until)
            cc->scenario_busy_until = until;
        if (fw_gen_scenarios[s].exclusive && until > cu->normal_blocked_until)
            cu->normal_blocked_until = until;
    }
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
    double wsum = 0;
    for (int s = 0; s < FW_GEN_MAX_SCENARIOS; s++) {
        double w = conf->weights[s];
        if (!(w >= 0 && w <= 1e6) || (w > 0 && s >= fw_gen_nscenarios)) {
            snprintf(errstr, errstr_size, "scenario weight %d: %g is outside 0..1e6 or names "
                     "no scenario", s, w);
            return NULL;
        }
        wsum += w;
    }
    if (conf->hot_field > FW_GEN_HOT_MERCHANT ||
        !(conf->hot_share >= 0 && conf->hot_share <= 1)) {
        snprintf(errstr, errstr_size, "hot key: field %d, share %g: expected a field and "
                 "a share in 0..1", (int)conf->hot_field, conf->hot_share);
        return NULL;
    }
    fw_gen *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    g->conf = *conf;
    geography_init(g);
    if (!build_population(g, errstr, errstr_size))
        goto fail;
    if (conf->hot_field == FW_GEN_HOT_ACCOUNT) {
        /* The hot account only makes everyday traffic, all the time: no
         * instance, payday or trip, which would block it or take it away. */
        g->cust[0].trip_depart = INT64_MAX / 4;
        g->cold[0].scenario_busy_until = INT64_MAX;
    } else if (conf->hot_field == FW_GEN_HOT_MERCHANT) {
        g->hot_merchant = g->online[0]; /* a marketplace: buyers from every city */
    }
    rng_seed(&g->rng, conf->seed, 2);

    double mean_gap = (double)DAY_MS / (FW_GEN_TX_PER_CUSTOMER_DAY * conf->customers);
    double sum = 0;
    for (int h = 0; h < 24; h++)
        sum += hour_profile[h];
    for (int h = 0; h < 24; h++)
        g->gap_ms[h] = mean_gap / (hour_profile[h] * 24.0 / sum);
    g->next_normal = (double)conf->start_ms;
    g->now_ms = conf->start_ms;

    /* The scenario mix: the weights given, or all alike; none that needs more
     * customers than there are. */
    double acc = 0, size = 0;
    uint32_t need = UINT32_MAX;
    for (int s = 0; s < fw_gen_nscenarios; s++) {
        const fw_gen_scenario *sc = &fw_gen_scenarios[s];
        double w = wsum > 0 ? conf->weights[s] : 1.0;
        if (w > 0 && sc->min_customers > conf->customers) {
            need = sc->min_customers < need ? sc->min_customers : need;
            w = 0;
        }
        acc += w;
        g->scen_cdf[s] = acc;
        size += w * (sc->min_txns + sc->max_txns) / 2.0;
    }
    if (!(acc > 0) && conf->fraud_ratio > 0) {
        snprintf(errstr, errstr_size, "customers: the scenario mix needs at least %u",
                 need);
        goto fail;
    }
    g->mean_size = acc > 0 ? size / acc : 1;
    g->p0 = conf->fraud_ratio / g->mean_size;

    /* The first payday whose morning is not over yet. */
    int64_t day = payday_of_month(conf->start_ms / DAY_MS);
    if (conf->start_ms >= day + PAY_FROM_MS + PAY_SPAN_MS)
        day = payday_of_month(day / DAY_MS + 20);
    pay_sweep_start(g, day, conf->start_ms);

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
    free(g->cold);
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

unsigned fw_gen_customer_city(const fw_gen *g, uint32_t customer) {
    return customer < g->conf.customers ? g->cust[customer].city : 0;
}

void fw_gen_city_position(unsigned city, int32_t *lat_e4, int32_t *lon_e4) {
    *lat_e4 = city < (unsigned)NCITIES ? cities[city].lat_e4 : 0;
    *lon_e4 = city < (unsigned)NCITIES ? cities[city].lon_e4 : 0;
}

bool fw_gen_parse_hot_key(const char *spec, fw_gen_hot_field *field, double *share,
                          char *errstr, size_t errstr_size) {
    const char *eq = strchr(spec, '=');
    size_t flen = eq ? (size_t)(eq - spec) : strlen(spec);
    *field = FW_GEN_HOT_NONE;
    if (flen == 10 && !strncmp(spec, "account_id", 10))
        *field = FW_GEN_HOT_ACCOUNT;
    else if (flen == 11 && !strncmp(spec, "merchant_id", 11))
        *field = FW_GEN_HOT_MERCHANT;
    if (!eq || *field == FW_GEN_HOT_NONE) {
        snprintf(errstr, errstr_size, "expected FIELD=SHARE with FIELD account_id or "
                 "merchant_id, got \"%s\"", spec);
        return false;
    }
    char *end = NULL;
    double v = eq[1] ? strtod(eq + 1, &end) : -1;
    if (!eq[1] || *end || !(v >= 0 && v <= 1)) {
        snprintf(errstr, errstr_size, "expected a share in 0..1 after \"%.*s=\", got \"%s\"",
                 (int)flen, spec, eq + 1);
        return false;
    }
    *share = v;
    if (v == 0)
        *field = FW_GEN_HOT_NONE;
    return true;
}

size_t fw_gen_hot_key_id(const fw_gen *g, char *out) {
    if (g->conf.hot_field == FW_GEN_HOT_ACCOUNT)
        return (size_t)snprintf(out, 32, "acct-0");
    if (g->conf.hot_field == FW_GEN_HOT_MERCHANT)
        return (size_t)snprintf(out, 32, "m-%u", g->hot_merchant);
    out[0] = '\0';
    return 0;
}

int fw_gen_scenario_index(const char *name) {
    for (int s = 0; s < fw_gen_nscenarios; s++)
        if (!strcmp(fw_gen_scenarios[s].name, name))
            return s;
    return -1;
}

bool fw_gen_parse_scenarios(const char *list, double *weights, char *errstr,
                            size_t errstr_size) {
    for (int s = 0; s < FW_GEN_MAX_SCENARIOS; s++)
        weights[s] = 0;
    bool named[FW_GEN_MAX_SCENARIOS] = { false };
    double total = 0;
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        size_t nlen = strcspn(p, ",=");
        char name[64];
        if (nlen == 0 || nlen >= sizeof(name)) {
            snprintf(errstr, errstr_size, "expected name[=weight],... , got \"%s\"", list);
            return false;
        }
        memcpy(name, p, nlen);
        name[nlen] = '\0';
        int s = fw_gen_scenario_index(name);
        if (s < 0) {
            size_t off = (size_t)snprintf(errstr, errstr_size,
                                          "unknown scenario \"%s\"; valid:", name);
            for (int i = 0; i < fw_gen_nscenarios && off < errstr_size; i++)
                off += (size_t)snprintf(errstr + off, errstr_size - off, " %s%s",
                                        fw_gen_scenarios[i].name,
                                        i + 1 < fw_gen_nscenarios ? "," : "");
            return false;
        }
        if (named[s]) {
            snprintf(errstr, errstr_size, "scenario %s is listed twice", name);
            return false;
        }
        named[s] = true;
        double w = 1;
        if (nlen < len) { /* "=weight" */
            char num[32], *end;
            size_t wlen = len - nlen - 1;
            if (wlen == 0 || wlen >= sizeof(num)) {
                snprintf(errstr, errstr_size, "%s: expected a weight after '='", name);
                return false;
            }
            memcpy(num, p + nlen + 1, wlen);
            num[wlen] = '\0';
            w = strtod(num, &end);
            if (end == num || *end || !(w >= 0 && w <= 1e6)) {
                snprintf(errstr, errstr_size, "%s: weight \"%s\" is not a number in 0..1e6",
                         name, num);
                return false;
            }
        }
        weights[s] = w;
        total += w;
        if (!p[len])
            break;
        p += len + 1;
    }
    if (!(total > 0)) {
        snprintf(errstr, errstr_size, "every scenario weight is 0");
        return false;
    }
    return true;
}

/* A customer free for normal traffic at @p ts (no exclusive instance, not in
 * the air), or NONE. */
static uint32_t pick_normal_customer(fw_gen *g, int64_t ts) {
    if (g->conf.hot_field == FW_GEN_HOT_ACCOUNT && hot_due(g))
        return 0; /* never blocked nor in the air: see fw_gen_new */
    for (int i = 0; i < PICK_TRIES; i++) {
        uint32_t c = rng_below(&g->rng, g->conf.customers);
        if (g->cust[c].normal_blocked_until >= ts)
            continue;
        trip_refresh(g, c);
        if (trip_phase_at(&g->cust[c], ts) != IN_FLIGHT)
            return c;
    }
    return FW_GEN_NONE;
}

static void advance_normal(fw_gen *g, int64_t tn) {
    int h = (int)((tn / HOUR_MS) % 24);
    g->next_normal += -log(1.0 - rng_unit(&g->rng)) * g->gap_ms[h];
}

bool fw_gen_next(fw_gen *g, fw_gen_txn *out) {
    uint64_t count = g->conf.count;
    if (count && g->stats.records >= count)
        return false;
    if ((g->draining && g->heap_len == 0) || g->exhausted)
        return false;
    if (!g->draining)
        maybe_start_instance(g);
    bool from_schedule;
    uint32_t c;
    int64_t tn;
    for (;;) {
        bool normal_ok = !g->draining && (!count || g->stats.records + g->heap_len < count);
        if (g->next_normal < (double)g->now_ms) /* a busy population let the schedule pass */
            g->next_normal = (double)g->now_ms;
        tn = (int64_t)g->next_normal;
        while (normal_ok && g->pay_next_ms <= tn) { /* salaries due before it go first */
            payday_step(g);
            normal_ok = !count || g->stats.records + g->heap_len < count;
        }
        from_schedule = g->heap_len && (!normal_ok || g->heap[0].ts_ms <= tn);
        c = FW_GEN_NONE;
        if (from_schedule || (c = pick_normal_customer(g, tn)) != FW_GEN_NONE)
            break;
        if (g->heap_len) { /* everyone tried is busy: let the schedule go first */
            from_schedule = true;
            break;
        }
        /* Only the cool-down blocks them (tiny population): ignore it, but
         * nobody pays in the air: then this arrival is lost. */
        c = rng_below(&g->rng, g->conf.customers);
        trip_refresh(g, c);
        if (trip_phase_at(&g->cust[c], tn) != IN_FLIGHT)
            break;
        advance_normal(g, tn);
    }
    if (from_schedule) {
        heap_pop(g, out);
    } else {
        gen_normal(g, c, tn, out);
        advance_normal(g, tn);
    }
    if (out->ts_ms > MAX_TS_MS) {
        g->exhausted = true;
        return false;
    }
    out->seq = g->stats.records++;
    if (g->conf.hot_field == FW_GEN_HOT_ACCOUNT ? out->customer == 0
        : g->conf.hot_field == FW_GEN_HOT_MERCHANT
            ? out->merchant == g->hot_merchant && !out->atm
            : false)
        g->stats.hot++;
    g->now_ms = out->ts_ms;
    if (fw_gen_txn_is_fraud(out)) {
        g->stats.fraud++;
        g->stats.scen_txns[out->scenario]++;
    } else if (out->origin == FW_GEN_ABROAD || out->origin == FW_GEN_HOME_SIGNAL) {
        g->stats.abroad++;
        g->stats.home_signal += out->origin == FW_GEN_HOME_SIGNAL;
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
    } else if (t->cp_kind == FW_GEN_CP_EXTERNAL || t->cp_kind == FW_GEN_CP_EXTERNAL_K) {
        PUT(p, "\",\"counterparty_id\":\"ext-");
        p = put_u64(p, seed);
        *p++ = '-';
        p = put_u64(p, t->instance);
        if (t->cp_kind == FW_GEN_CP_EXTERNAL_K) {
            *p++ = '-';
            p = put_u64(p, t->counterparty);
        }
    } else if (t->cp_kind == FW_GEN_CP_PAYEE) {
        PUT(p, "\",\"counterparty_id\":\"ext-");
        p = put_u64(p, seed);
        PUT(p, "-c");
        p = put_u64(p, t->customer);
        *p++ = '-';
        p = put_u64(p, t->counterparty);
    }
    PUT(p, "\",\"country\":\"");
    p = put_label(p, &g->l_country[t->city < NCITIES ? t->city : 0]);
    PUT(p, "\",\"lat\":");
    p = put_fixed_e4(p, t->lat_e4);
    PUT(p, ",\"lon\":");
    p = put_fixed_e4(p, t->lon_e4);
    PUT(p, ",\"channel\":\"");
    p = put_label(p, &g->l_channel[t->channel & 3]);
    if (fw_gen_txn_is_fraud(t) && t->scenario < fw_gen_nscenarios) {
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
