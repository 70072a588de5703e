/*
 * Optimal assignment (Hungarian algorithm, Kuhn–Munkres) on a rectangular cost matrix, in the
 * shortest-augmenting-path form with row and column potentials (Jonker–Volgenant style), O(n^3).
 * Rows are tracks, columns are detections; a row may stay unassigned when the matrix is wider or
 * taller (it is padded to square with a large cost that is then treated as "no match").
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/mem.h>

#include "hungarian.h"

int vg__hungarian(const double *cost, int rows, int cols, double forbid, int *assign)
{
    int n = rows > cols ? rows : cols;
    if (n == 0) return 0;
    /* 1-based arrays as in the classic formulation */
    double *u = vg_calloc((size_t)n + 1, sizeof(double));
    double *v = vg_calloc((size_t)n + 1, sizeof(double));
    double *minv = vg_calloc((size_t)n + 1, sizeof(double));
    int *p = vg_calloc((size_t)n + 1, sizeof(int));
    int *way = vg_calloc((size_t)n + 1, sizeof(int));
    char *used = vg_calloc((size_t)n + 1, 1);
    if (!u || !v || !minv || !p || !way || !used) {
        vg_free(u), vg_free(v), vg_free(minv), vg_free(p), vg_free(way), vg_free(used);
        return VG_ENOMEM;
    }
    /* every cost at or above forbid is forbid: a forbidden pair is no worse than no pair */
#define C(i, j) ((i) <= rows && (j) <= cols ? fmin(cost[((i)-1) * cols + ((j)-1)], forbid) : forbid)
    for (int i = 1; i <= n; i++) {
        p[0] = i;
        int j0 = 0;
        for (int j = 0; j <= n; j++) minv[j] = DBL_MAX, used[j] = 0;
        do {
            used[j0] = 1;
            int i0 = p[j0], j1 = 0;
            double delta = DBL_MAX;
            for (int j = 1; j <= n; j++) {
                if (used[j]) continue;
                double cur = C(i0, j) - u[i0] - v[j];
                if (cur < minv[j]) minv[j] = cur, way[j] = j0;
                if (minv[j] < delta) delta = minv[j], j1 = j;
            }
            for (int j = 0; j <= n; j++) {
                if (used[j])
                    u[p[j]] += delta, v[j] -= delta;
                else
                    minv[j] -= delta;
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            int j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
    for (int i = 0; i < rows; i++) assign[i] = -1;
    for (int j = 1; j <= n; j++) {
        int i = p[j];
        if (i >= 1 && i <= rows && j <= cols && C(i, j) < forbid) assign[i - 1] = j - 1;
    }
#undef C
    vg_free(u), vg_free(v), vg_free(minv), vg_free(p), vg_free(way), vg_free(used);
    return 0;
}
