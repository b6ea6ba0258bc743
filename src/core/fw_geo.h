/* fw_geo.h — great-circle distance, shared by location_jump and the model's
 * travel features. */
#ifndef FW_GEO_H
#define FW_GEO_H

#include <math.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/** @brief Distance in km between two points given in degrees (haversine). */
static inline double fw_haversine_km(double lat1, double lon1, double lat2, double lon2) {
    const double rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * 6371.0 * asin(sqrt(a < 1 ? a : 1));
}

#endif
