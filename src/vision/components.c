/*
 * Connected components of a foreground mask with statistics (8-connectivity), labelled by runs:
 * the first pass finds each row's runs of foreground (skipping background eight pixels at a
 * time) and unites each run with the runs of the row above that touch it, in a union-find
 * forest over runs with path halving (the smaller index, the run met first, is the root). The
 * second pass adds up area, box, centroid and static share per root, a run at a time. No label
 * image is written: a frame's cost follows its runs, not its pixels. Objects below the
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

/* whether the 8 pixels of row @m from @x are all inside the row and all below VG_MASK_STATIC
 * (foreground levels are the ones with the top bit set) */
_Static_assert(VG_MASK_STATIC == 128, "foreground levels are those with the top bit set");
static inline int bg8(const uint8_t *m, int x, int w)
{
    uint64_t v;
    if (x + 8 > w) return 0;
    memcpy(&v, m + x, sizeof v);
    return !(v & 0x8080808080808080ull);
}

/* whether pixel @x of row @m (ignore row @ig or NULL) is foreground */
static inline int fg_at(const uint8_t *m, const uint8_t *ig, int x)
{
    return m[x] >= VG_MASK_STATIC && !(ig && ig[x]);
}

#define TOP8 0x8080808080808080ull
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
/* The 8 pixels of row @m from @x (inside the row) as bit 7 of each byte, pixel x + k in byte k:
 * set where fg_at would say foreground. */
static inline uint64_t fg8(const uint8_t *m, const uint8_t *ig, int x)
{
    uint64_t v, g;
    memcpy(&v, m + x, sizeof v);
    v &= TOP8;
    if (ig && v) {
        memcpy(&g, ig + x, sizeof g);
        /* bit 7 of each byte: the byte is non-zero (ignored) */
        uint64_t nz = (((g & ~TOP8) + ~TOP8) | g) & TOP8;
        v &= ~nz;
    }
    return v;
}

/* the first pixel from @x (foreground) that is not, or @w */
static inline int run_end(const uint8_t *m, const uint8_t *ig, int x, int w)
{
    while (x + 8 <= w) {
        uint64_t f = fg8(m, ig, x);
        if (f != TOP8) return x + (__builtin_ctzll(~f & TOP8) >> 3);
        x += 8;
    }
    while (x < w && fg_at(m, ig, x)) x++;
    return x;
}
#define WORDS 1
#else
#define WORDS 0
#endif

int vg_components(const vg_image_t *mask, const vg_image_t *ignore, int min_area, vg_objects_t *out)
{
    int w = mask->w, h = mask->h;
    if (w <= 0 || h <= 0) {
        out->n = 0;
        return 0;
    }
    /* the scratch: row starts (h + 1), then per run its first and last column and its parent;
     * a row holds at most w / 2 + 1 runs */
    size_t maxruns = (size_t)h * ((size_t)w / 2 + 1);
    size_t need = (size_t)h + 1 + 3 * maxruns;
    if (out->labels_size < need) {
        uint32_t *l = vg_realloc(out->labels, need * sizeof(uint32_t));
        if (!l) return VG_ENOMEM;
        out->labels = l;
        out->labels_size = need;
    }
    uint32_t *rs = out->labels, *xs = rs + h + 1, *xe = xs + maxruns, *parent = xe + maxruns;
    uint32_t nr = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *m = vg_image_row(mask, y);
        const uint8_t *ig = ignore ? vg_image_row(ignore, y) : NULL;
        uint32_t p = y ? rs[y - 1] : 0, pend = nr; /* the row above's runs */
        rs[y] = nr;
        for (int x = 0; x < w;) {
#if WORDS
            /* eight pixels at once: past background (most of a view), to the next foreground,
             * along a run */
            if (x + 8 <= w) {
                uint64_t f = fg8(m, ig, x);
                if (!f) {
                    x += 8;
                    continue;
                }
                x += __builtin_ctzll(f) >> 3;
            } else if (!fg_at(m, ig, x)) {
                x++;
                continue;
            }
            int x0 = x;
            x = run_end(m, ig, x, w);
#else
            if (bg8(m, x, w)) { /* eight background pixels at once (most of a view) */
                x += 8;
                continue;
            }
            if (!fg_at(m, ig, x)) {
                x++;
                continue;
            }
            int x0 = x;
            while (x < w && fg_at(m, ig, x)) x++;
#endif
            uint32_t r = nr++;
            xs[r] = (uint32_t)x0, xe[r] = (uint32_t)(x - 1), parent[r] = r;
            /* 8-connectivity: the runs above touching [x0 - 1, x]; the pointer only moves on,
             * a run above may touch the next run of this row too */
            while (p < pend && (int)xe[p] + 1 < x0) p++;
            for (uint32_t q = p; q < pend && (int)xs[q] <= x; q++) unite(parent, r, q);
        }
    }
    rs[h] = nr;
    acc_t *acc = vg_calloc(nr ? nr : 1, sizeof(acc_t));
    if (!acc) return VG_ENOMEM;
    for (int y = 0; y < h; y++) {
        const uint8_t *m = vg_image_row(mask, y);
        for (uint32_t r = rs[y]; r < rs[y + 1]; r++) {
            acc_t *a = &acc[find(parent, r)];
            int x0 = (int)xs[r], x1 = (int)xe[r], len = x1 - x0 + 1, nst = 0;
            for (int x = x0; x <= x1; x++) nst += m[x] == VG_MASK_STATIC;
            if (!a->area) a->x0 = x0, a->x1 = x1, a->y0 = y, a->y1 = y;
            a->area += len;
            a->sx += (int64_t)(x0 + x1) * len / 2;
            a->sy += (int64_t)y * len;
            a->nstatic += nst;
            if (x0 < a->x0) a->x0 = x0;
            if (x1 > a->x1) a->x1 = x1;
            if (y < a->y0) a->y0 = y;
            if (y > a->y1) a->y1 = y;
        }
    }
    out->n = 0;
    for (uint32_t i = 0; i < nr; i++) {
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
