/* detect_location_jump.c — location_jump: a customer's consecutive
 * transactions in two countries, or too far apart for the time between them,
 * within T (seed 004). A sequence: in order only. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detect.h"
#include "fw_geo.h"

static void detect_location_jump(fw_engine *e, fw_entity *cust, const fw_txn *t,
                                 fw_evrec *cur) {
    const __typeof__(e->rules.location_jump) *p = &e->rules.location_jump;
    const fw_evrec *prev = &cust->prev;
    if (!cust->has_prev || !prev->country[0] || !cur->country[0] ||
        !(t->ts_ms - prev->ts < p->within_ms))
        return;
    bool geo = prev->has_geo && cur->has_geo;
    bool same_country = !strcmp(prev->country, cur->country);
    if (same_country && !geo)
        return; /* within one country only coordinates can show impossible travel */
    double minutes = (double)(t->ts_ms - prev->ts) / 60000;
    if (geo) {
        double km = fw_haversine_km(prev->lat, prev->lon, cur->lat, cur->lon);
        double hours = (double)(t->ts_ms - prev->ts) / 3600000.0;
        double kmh = hours > 0 ? km / hours : INFINITY;
        if (!(kmh > p->max_speed_kmh))
            return; /* reachable in time: a border crossing, not a jump */
        if (same_country && !(km > p->min_distance_km))
            return; /* one city's spread (and GPS noise) is no journey */
        if (same_country)
            snprintf(e->reason, sizeof(e->reason),
                     "impossible travel within %s: transactions %.1f minutes apart, %.0f km, an "
                     "implied %.0f km/h (limit %.0f km/h)",
                     cur->country, minutes, km, kmh, p->max_speed_kmh);
        else
            snprintf(e->reason, sizeof(e->reason),
                     "transactions in %s then %s %.1f minutes apart: %.0f km, an implied %.0f "
                     "km/h (limit %.0f km/h)",
                     prev->country, cur->country, minutes, km, kmh, p->max_speed_kmh);
    } else {
        snprintf(e->reason, sizeof(e->reason),
                 "consecutive transactions in %s then %s %.1f minutes apart (limit %lld minutes)",
                 prev->country, cur->country, minutes, (long long)(p->within_ms / 60000));
    }
    size_t nev = 0;
    fw_detect_evidence(e, &nev, prev);
    fw_detect_evidence(e, &nev, cur);
    fw_detect_raise(e, cust, FW_RULE_LOCATION_JUMP, t, nev, prev->ts, prev->ts + p->within_ms,
                    NULL);
}

const fw_detector fw_detector_location_jump = {
    .rule = FW_RULE_LOCATION_JUMP,
    .name = "location_jump",
    .phase = FW_PHASE_SEQUENCE,
    .needs = 0,
    .on_event = detect_location_jump,
};
