/*
 * Foreground mask cleanup: a 3x3 majority (binary median) filter. It removes isolated pixels
 * and fills pinholes and one-pixel gaps, the two kinds of noise a per-pixel model leaves, at the
 * cost of rounding one-pixel corners. Foreground pixels keep their level; pixels that become
 * foreground take the level most of their foreground neighbours have. Rows are slice jobs
 * reading only the source image, so the output is the same for any number of threads.
 *
 * Binary morphology for later stages that clean masks of their own (the abandoned-object
 * candidates): a 3x3 erosion or dilation step on 255 pixels that keeps one other value as it is
 * (the pixels a stage cut out), a dilation that can be limited to an earlier mask (the second
 * half of an opening, so that it never grows beyond what was there), and hole filling by a flood
 * from the border with a caller-given stack (no allocation per frame).
 */
#include <string.h>

#include <vigie/error.h>
#include <vigie/vision.h>

typedef struct clean_job {
    vg_image_t *dst;
    const vg_image_t *src;
} clean_job_t;

typedef uint8_t v16b __attribute__((vector_size(16), aligned(1)));

static inline v16b splat(uint8_t v)
{
    v16b r = {0};
    return r + v;
}

/* Foreground flags (1/0) of a row, or zeros outside the image. */
static void fg_flags(const uint8_t *row, uint8_t *fg, uint8_t *st, int w)
{
    int x = 0;
    const v16b thr = splat(VG_MASK_STATIC - 1), stv = splat(VG_MASK_STATIC), one = splat(1);
    for (; x + 16 <= w; x += 16) {
        v16b v;
        memcpy(&v, row + x, 16);
        v16b f = (v16b)(v > thr) & one, t = (v16b)(v == stv) & one;
        memcpy(fg + x, &f, 16);
        memcpy(st + x, &t, 16);
    }
    for (; x < w; x++) {
        fg[x] = row[x] >= VG_MASK_STATIC;
        st[x] = row[x] == VG_MASK_STATIC;
    }
}

/*
 * Separable counting: per column, the foreground count over three rows; then the sum of three
 * neighbouring columns. All byte arithmetic, vectorised 16 pixels at a time.
 */
static void clean_slice(void *arg, int job, int njobs)
{
    clean_job_t *c = arg;
    const vg_image_t *s = c->src;
    int w = s->w, h = s->h;
    int y0 = (int)((int64_t)h * job / njobs), y1 = (int)((int64_t)h * (job + 1) / njobs);
    /* three rows of flags in a ring; columns padded by one on each side */
    uint8_t fl[3][w + 2], sl[3][w + 2], colfg[w + 2], colst[w + 2];
    memset(fl, 0, sizeof(fl));
    memset(sl, 0, sizeof(sl));
    for (int r = 0; r < 2; r++) { /* rows y0-1 and y0 */
        int yy = y0 - 1 + r;
        if (yy >= 0 && yy < h) fg_flags(vg_image_row(s, yy), fl[r] + 1, sl[r] + 1, w);
    }
    const v16b five = splat(4), bgv = splat(VG_MASK_BG), stv = splat(VG_MASK_STATIC);
    const v16b fgv = splat(VG_MASK_FG), thr = splat(VG_MASK_STATIC - 1);
    for (int y = y0; y < y1; y++) {
        int up = (y - y0) % 3, mid = (y - y0 + 1) % 3, dn = (y - y0 + 2) % 3;
        if (y + 1 < h)
            fg_flags(vg_image_row(s, y + 1), fl[dn] + 1, sl[dn] + 1, w);
        else
            memset(fl[dn], 0, (size_t)w + 2), memset(sl[dn], 0, (size_t)w + 2);
        {
            int x = 0;
            for (; x + 16 <= w + 2; x += 16) {
                v16b a, b, d;
                memcpy(&a, fl[up] + x, 16), memcpy(&b, fl[mid] + x, 16), memcpy(&d, fl[dn] + x, 16);
                a += b + d;
                memcpy(colfg + x, &a, 16);
                memcpy(&a, sl[up] + x, 16), memcpy(&b, sl[mid] + x, 16), memcpy(&d, sl[dn] + x, 16);
                a += b + d;
                memcpy(colst + x, &a, 16);
            }
            for (; x < w + 2; x++) {
                colfg[x] = fl[up][x] + fl[mid][x] + fl[dn][x];
                colst[x] = sl[up][x] + sl[mid][x] + sl[dn][x];
            }
        }
        const uint8_t *self = vg_image_row(s, y);
        uint8_t *o = vg_image_row(c->dst, y);
        int x = 0;
        for (; x + 16 <= w; x += 16) {
            v16b a, b, d, sa, sb, sd, me;
            memcpy(&a, colfg + x, 16), memcpy(&b, colfg + x + 1, 16), memcpy(&d, colfg + x + 2, 16);
            memcpy(&sa, colst + x, 16), memcpy(&sb, colst + x + 1, 16);
            memcpy(&sd, colst + x + 2, 16);
            memcpy(&me, self + x, 16);
            v16b fg = a + b + d, st = sa + sb + sd;
            v16b isfg = (v16b)(me > thr), major = (v16b)(fg > five);
            v16b grown = ((v16b)(st + st > fg) & stv) | (~(v16b)(st + st > fg) & fgv);
            v16b onv = (isfg & me) | (~isfg & grown);
            v16b offv = (isfg & bgv) | (~isfg & me);
            v16b res = (major & onv) | (~major & offv);
            memcpy(o + x, &res, 16);
        }
        for (; x < w; x++) {
            int fg = colfg[x] + colfg[x + 1] + colfg[x + 2];
            int st = colst[x] + colst[x + 1] + colst[x + 2];
            uint8_t me = self[x];
            uint8_t grown = st * 2 > fg ? VG_MASK_STATIC : VG_MASK_FG;
            uint8_t onv = me >= VG_MASK_STATIC ? me : grown;
            uint8_t offv = me >= VG_MASK_STATIC ? VG_MASK_BG : me;
            o[x] = fg >= 5 ? onv : offv;
        }
    }
}

int vg_mask_clean(vg_image_t *dst, const vg_image_t *src, vg_pool_t *pool)
{
    clean_job_t c = {dst, src};
    if (dst->w != src->w || dst->h != src->h || dst->fmt != VG_PIX_GRAY8 ||
        src->fmt != VG_PIX_GRAY8 || dst->data == src->data)
        return VG_EINVAL;
    int njobs = pool ? vg_pool_threads(pool) * 4 : 1;
    if (njobs > src->h) njobs = src->h;
    vg_pool_run(pool, clean_slice, &c, njobs);
    return 0;
}

/* ---- binary morphology on 255-valued masks (the abandoned-object candidates' cleaning) ---- */

/* A 3x3 step in two passes that the compiler vectorises: the vertical combination of the three
 * rows (all 255, or any 255) into @tmp for every row first, then per row the horizontal
 * combination of three of those, written over the image (each pixel reads only itself there).
 * Borders repeat the edge pixel, as a clamped window would. */
void vg_mask_morph3(vg_image_t *o, uint8_t *tmp, const uint8_t *limit, int dilate, uint8_t keep)
{
    int w = o->w, h = o->h;
    if (w <= 0 || h <= 0) return;
    for (int y = 0; y < h; y++) {
        const uint8_t *r = vg_image_row(o, y), *ru = y ? r - o->stride : r,
                      *rd = y + 1 < h ? r + o->stride : r;
        uint8_t *t = tmp + (size_t)y * w;
        if (dilate)
            for (int x = 0; x < w; x++)
                t[x] = (uint8_t)((ru[x] == 255) | (r[x] == 255) | (rd[x] == 255)) * 255;
        else
            for (int x = 0; x < w; x++)
                t[x] = (uint8_t)((ru[x] == 255) & (r[x] == 255) & (rd[x] == 255)) * 255;
    }
    for (int y = 0; y < h; y++) {
        uint8_t *r = vg_image_row(o, y);
        const uint8_t *t = tmp + (size_t)y * w, *l = limit ? limit + (size_t)y * w : NULL;
        uint8_t first = w > 1 ? (dilate ? t[0] | t[1] : t[0] & t[1]) : t[0];
        uint8_t last = w > 1 ? (dilate ? t[w - 2] | t[w - 1] : t[w - 2] & t[w - 1]) : t[0];
        uint8_t p0 = r[0], pl = r[w - 1];
        if (dilate && l)
            for (int x = 1; x < w - 1; x++) {
                uint8_t p = r[x],
                        on = (uint8_t)((p == 255) * 255) |
                             ((t[x - 1] | t[x] | t[x + 1]) & (uint8_t)((l[x] == 255) * 255));
                r[x] = on | (uint8_t)((p == keep) * keep);
            }
        else if (dilate)
            for (int x = 1; x < w - 1; x++) {
                uint8_t p = r[x], on = (uint8_t)((p == 255) * 255) | t[x - 1] | t[x] | t[x + 1];
                r[x] = on | (uint8_t)((p == keep) * keep);
            }
        else
            for (int x = 1; x < w - 1; x++) {
                uint8_t p = r[x], on = (uint8_t)((p == 255) * 255) & t[x - 1] & t[x] & t[x + 1];
                r[x] = on | (uint8_t)((p == keep) * keep);
            }
        /* the two ends (the same pixel when w == 1), from the values read before the row */
        for (int e = 0; e < 2 && (e == 0 || w > 1); e++) {
            int x = e ? w - 1 : 0;
            uint8_t p = e ? pl : p0, n = e ? last : first, on;
            if (dilate)
                on = (uint8_t)((p == 255) * 255) | (l && l[x] != 255 ? 0 : n);
            else
                on = (uint8_t)((p == 255) * 255) & n;
            r[x] = on | (uint8_t)((p == keep) * keep);
        }
    }
}

/* The flood runs along rows: a seed grows into the whole run of reachable pixels it lies in,
 * which is marked at once, and the rows above and below seed one pixel per run touching it
 * (4-connectivity). Every seed is a distinct pixel marked when pushed, so the stack never holds
 * more than w * h. */
void vg_mask_fill_holes(vg_image_t *o, uint8_t *mark, int32_t *stack)
{
    int w = o->w, h = o->h, n = 0;
    if (w <= 0 || h <= 0) return;
    memset(mark, 0, (size_t)w * h); /* 1: not 255 and reached from the border */
#define SEED(x, y)                                                                                 \
    do {                                                                                           \
        size_t i_ = (size_t)(y)*w + (x);                                                           \
        if (!mark[i_] && vg_image_row(o, (y))[(x)] != 255) mark[i_] = 1, stack[n++] = (int32_t)i_; \
    } while (0)
    for (int x = 0; x < w; x++) {
        SEED(x, 0);
        SEED(x, h - 1);
    }
    for (int y = 0; y < h; y++) {
        SEED(0, y);
        SEED(w - 1, y);
    }
    while (n) {
        int32_t i = stack[--n];
        int x = i % w, y = i / w, x0 = x, x1 = x;
        const uint8_t *r = vg_image_row(o, y);
        uint8_t *m = mark + (size_t)y * w;
        while (x0 > 0 && r[x0 - 1] != 255 && !m[x0 - 1]) m[--x0] = 1;
        while (x1 + 1 < w && r[x1 + 1] != 255 && !m[x1 + 1]) m[++x1] = 1;
        for (int dy = -1; dy <= 1; dy += 2) {
            int yy = y + dy;
            if (yy < 0 || yy >= h) continue;
            const uint8_t *rr = vg_image_row(o, yy);
            const uint8_t *mm = mark + (size_t)yy * w;
            for (int xx = x0, in = 0; xx <= x1; xx++) {
                int open = rr[xx] != 255 && !mm[xx];
                if (open && !in) SEED(xx, yy); /* one seed per run; its flood takes the rest */
                in = open;
            }
        }
    }
#undef SEED
    for (int y = 0; y < h; y++) {
        uint8_t *r = vg_image_row(o, y);
        const uint8_t *m = mark + (size_t)y * w;
        for (int x = 0; x < w; x++) r[x] = m[x] ? r[x] : 255;
    }
}
