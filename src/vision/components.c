/*
 * Connected components of a foreground mask with statistics (Rosenfeld–Pfaltz two-pass
 * labelling with union-find, 8-connectivity). First pass: provisional labels from the four
 * already-visited neighbours, equivalences merged in a union-find forest with path halving.
 * Second pass: accumulate area, box, centroid and static share per root. Objects below the
 * minimum area are dropped; the rest are returned largest first.
 */
#include <stdlib.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/mem.h>
#include <vigie/vision.h>

void vg_objects_init(vg_objects_t *o)
{
    memset(o, 0, sizeof(*o));
}

void vg_objects_close(vg_objects_t *o)
{
    vg_free(o->obj);
    vg_free(o->labels);
    memset(o, 0, sizeof(*o));
}

static uint32_t find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void unite(uint32_t *parent, uint32_t a, uint32_t b)
{
    a = find(parent, a);
    b = find(parent, b);
    if (a < b)
        parent[b] = a;
    else if (b < a)
        parent[a] = b;
}

typedef struct acc {
    int64_t area, sx, sy, nstatic;
    int x0, y0, x1, y1;
} acc_t;

static int by_area_desc(const void *a, const void *b)
{
    const vg_object_t *x = a, *y = b;
    if (x->area != y->area) return y->area - x->area;
    if (x->y != y->y) return x->y - y->y;
    return x->x - y->x;
}

int vg_components(const vg_image_t *mask, const vg_image_t *ignore, int min_area, vg_objects_t *out)
{
    int w = mask->w, h = mask->h;
    size_t n = (size_t)w * h;
    /* labels (n) + parent table (n/2 + 2 is the most provisional labels 8-connectivity needs;
     * n + 1 keeps it simple and safe) */
    size_t need = 2 * n + 2;
    if (out->labels_size < need) {
        uint32_t *l = vg_realloc(out->labels, need * sizeof(uint32_t));
        if (!l) return VG_ENOMEM;
        out->labels = l;
        out->labels_size = need;
    }
    uint32_t *lab = out->labels, *parent = out->labels + n;
    uint32_t next = 1;
    parent[0] = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *m = vg_image_row(mask, y);
        const uint8_t *ig = ignore ? vg_image_row(ignore, y) : NULL;
        uint32_t *l = lab + (size_t)y * w, *up = y ? l - w : NULL;
        for (int x = 0; x < w; x++) {
            if (m[x] < VG_MASK_STATIC || (ig && ig[x])) {
                l[x] = 0;
                continue;
            }
            uint32_t nb[4] = {x ? l[x - 1] : 0, up && x ? up[x - 1] : 0, up ? up[x] : 0,
                              up && x + 1 < w ? up[x + 1] : 0};
            uint32_t best = 0;
            for (int k = 0; k < 4; k++)
                if (nb[k] && (!best || nb[k] < best)) best = nb[k];
            if (!best) {
                parent[next] = next;
                l[x] = next++;
            } else {
                l[x] = best;
                for (int k = 0; k < 4; k++)
                    if (nb[k] && nb[k] != best) unite(parent, best, nb[k]);
            }
        }
    }
    acc_t *acc = vg_calloc(next, sizeof(acc_t));
    if (!acc) return VG_ENOMEM;
    for (uint32_t i = 1; i < next; i++) {
        acc[i].x0 = w;
        acc[i].y0 = h;
        acc[i].x1 = acc[i].y1 = -1;
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *m = vg_image_row(mask, y);
        uint32_t *l = lab + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            if (!l[x]) continue;
            acc_t *a = &acc[find(parent, l[x])];
            a->area++;
            a->sx += x;
            a->sy += y;
            a->nstatic += m[x] == VG_MASK_STATIC;
            if (x < a->x0) a->x0 = x;
            if (x > a->x1) a->x1 = x;
            if (y < a->y0) a->y0 = y;
            if (y > a->y1) a->y1 = y;
        }
    }
    out->n = 0;
    for (uint32_t i = 1; i < next; i++) {
        acc_t *a = &acc[i];
        if (!a->area || a->area < min_area) continue;
        if (out->n == out->cap) {
            int cap = out->cap ? out->cap * 2 : 32;
            vg_object_t *o = vg_realloc(out->obj, (size_t)cap * sizeof(*o));
            if (!o) {
                vg_free(acc);
                return VG_ENOMEM;
            }
            out->obj = o;
            out->cap = cap;
        }
        vg_object_t *o = &out->obj[out->n++];
        o->x = a->x0;
        o->y = a->y0;
        o->w = a->x1 - a->x0 + 1;
        o->h = a->y1 - a->y0 + 1;
        o->area = (int)a->area;
        o->cx = (double)a->sx / a->area;
        o->cy = (double)a->sy / a->area;
        o->foot_x = a->x0 + o->w * 0.5;
        o->foot_y = a->y1 + 1;
        o->static_frac = (double)a->nstatic / a->area;
    }
    vg_free(acc);
    if (out->n > 1) qsort(out->obj, (size_t)out->n, sizeof(vg_object_t), by_area_desc);
    return out->n;
}
