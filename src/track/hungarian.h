#ifndef VG_TRACK_HUNGARIAN_H
#define VG_TRACK_HUNGARIAN_H
/*
 * Minimum-cost assignment of @rows to @cols (row-major @cost). Pairs whose cost is >= @forbid
 * are never assigned. On return assign[r] is the column of row r or -1. 0 or VG_ENOMEM.
 */
int vg__hungarian(const double *cost, int rows, int cols, double forbid, int *assign);
#endif
