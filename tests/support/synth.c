/*
 * Synthetic scene renderer (see synth.h). Noise comes from a counter-based hash of (seed, frame,
 * pixel), so any frame can be rendered alone and identically; the background texture is a sum
 * of a few sinusoids plus hashed grain, stable over time.
 */
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t hash3(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t h = a * 0x9E3779B1u ^ b * 0x85EBCA77u ^ c * 0xC2B2AE3Du;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    return h;
}

/* Approximately normal from three uniforms. */
static double gauss(uint32_t seed, uint32_t k, uint32_t i)
{
    double u = 0;
    for (uint32_t j = 0; j < 3; j++) u += (hash3(seed + j * 7919u, k, i) & 0xffff) / 65535.0;
    return (u - 1.5) * 2.0;
}

void synth_init(synth_scene_t *s, int w, int h, double fps, int nframes, uint32_t seed)
{
    memset(s, 0, sizeof(*s));
    s->w = w;
    s->h = h;
    s->fps = fps;
    s->nframes = nframes;
    s->seed = seed;
    s->noise = 2.0;
    s->drift = 0.03;
    s->switch_gain = 1.0;
}

int synth_add_walker(synth_scene_t *s, double t0, double x0, double y0, double t1, double x1,
                     double y1)
{
    synth_object_t *o = &s->obj[s->nobjects];
    memset(o, 0, sizeof(*o));
    o->kind = SYNTH_PERSON;
    o->w = s->h * 0.09;
    o->h = s->h * 0.28;
    o->luma = 40;
    o->t_in = t0;
    o->t_out = t1;
    o->nkeys = 2;
    o->keys[0] = (synth_key_t){t0, x0, y0};
    o->keys[1] = (synth_key_t){t1, x1, y1};
    o->owner = -1;
    return s->nobjects++;
}

int synth_add_bag(synth_scene_t *s, int owner, double t_drop)
{
    synth_object_t *o = &s->obj[s->nobjects];
    memset(o, 0, sizeof(*o));
    o->kind = SYNTH_BAG;
    o->w = s->h * 0.07;
    o->h = s->h * 0.05;
    o->luma = 210;
    o->t_in = s->obj[owner].t_in;
    o->t_out = 1e9;
    o->owner = owner;
    o->t_drop = t_drop;
    return s->nobjects++;
}

static void path_at(const synth_object_t *o, double t, double *x, double *y)
{
    if (t <= o->keys[0].t || o->nkeys == 1) {
        *x = o->keys[0].x;
        *y = o->keys[0].y;
        return;
    }
    for (int i = 1; i < o->nkeys; i++) {
        if (t <= o->keys[i].t) {
            double a = (t - o->keys[i - 1].t) / (o->keys[i].t - o->keys[i - 1].t);
            *x = o->keys[i - 1].x + a * (o->keys[i].x - o->keys[i - 1].x);
            *y = o->keys[i - 1].y + a * (o->keys[i].y - o->keys[i - 1].y);
            return;
        }
    }
    *x = o->keys[o->nkeys - 1].x;
    *y = o->keys[o->nkeys - 1].y;
}

void synth_add_occluder(synth_scene_t *s, double x, double y, double w, double h, uint8_t luma)
{
    s->occluder[s->noccluders++] = (synth_rect_t){x, y, w, h, luma};
}

int synth_position(const synth_scene_t *s, int i, double t, double *x, double *y)
{
    const synth_object_t *o = &s->obj[i];
    if (o->kind == SYNTH_BAG && o->owner >= 0) {
        const synth_object_t *ow = &s->obj[o->owner];
        double tt = t < o->t_drop ? t : o->t_drop;
        if (t < ow->t_in || t >= o->t_out) return 0; /* t_out: picked up again */
        if (t < o->t_drop && t >= ow->t_out) return 0;
        path_at(ow, tt, x, y);
        *x += ow->w * 0.5 + o->w * 0.5; /* carried at the owner's side */
        return 1;
    }
    if (t < o->t_in || t >= o->t_out) return 0;
    path_at(o, t, x, y);
    return 1;
}

/* the floor's level without its grain */
static double floor_smooth(int x, int y)
{
    return 120 + 25 * sin(x * 0.07 + 0.3 * sin(y * 0.05)) + 18 * cos(y * 0.11 - x * 0.02);
}

static double background(const synth_scene_t *s, int x, int y)
{
    return floor_smooth(x, y) +
           ((int)(hash3(s->seed, (uint32_t)x, (uint32_t)y) & 0xff) - 128) * 0.12;
}

void synth_render(const synth_scene_t *s, int k, uint8_t *gray, ptrdiff_t stride, uint8_t *mask,
                  synth_truth_t *truth)
{
    double t = k / s->fps;
    double gain = 1.0 + s->drift * sin(2 * M_PI * t / 60.0);
    double ox[SYNTH_MAX_OBJECTS], oy[SYNTH_MAX_OBJECTS];
    int vis[SYNTH_MAX_OBJECTS] = {0};

    if (s->switch_t > 0 && t >= s->switch_t) gain *= s->switch_gain;
    if (truth) truth->n = 0;
    for (int i = 0; i < s->nobjects; i++) {
        vis[i] = synth_position(s, i, t, &ox[i], &oy[i]);
        if (vis[i] && truth) {
            const synth_object_t *o = &s->obj[i];
            int n = truth->n++;
            truth->id[n] = i;
            truth->kind[n] = o->kind;
            truth->box[n][0] = ox[i] - o->w / 2;
            truth->box[n][1] = oy[i] - o->h;
            truth->box[n][2] = o->w;
            truth->box[n][3] = o->h;
        }
    }
    /* background, then each object over it in order (the last one in front) within its box,
     * then the occluders, then the light and the noise: per pixel as before, but an object
     * costs only its own box (scenes with hundreds of people) */
    double *v = malloc(sizeof(double) * (size_t)s->w * s->h);
    uint8_t *fg = calloc((size_t)s->w * s->h, 1);
    if (!v || !fg) abort();
    for (int y = 0; y < s->h; y++)
        for (int x = 0; x < s->w; x++) v[(size_t)y * s->w + x] = background(s, x, y);
    for (int i = 0; i < s->nobjects; i++) {
        const synth_object_t *o = &s->obj[i];
        if (!vis[i]) continue;
        double hw = fmax(o->w / 2, o->h * 0.1) + 1;
        int x0 = (int)floor(ox[i] - hw), x1 = (int)ceil(ox[i] + hw);
        int y0 = (int)floor(oy[i] - o->h - 1), y1 = (int)ceil(oy[i] + 1);
        for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < s->h; y++)
            for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < s->w; x++) {
                double dx = x + 0.5 - ox[i], dy = y + 0.5 - oy[i];
                int in = 0;
                if (o->kind == SYNTH_BAG) {
                    in = fabs(dx) <= o->w / 2 && dy <= 0 && dy >= -o->h;
                } else {
                    /* body: ellipse over the lower 80 %; head: disc above it */
                    double bh = o->h * 0.8, hr = o->h * 0.1;
                    double ex = dx / (o->w / 2), ey = (dy + bh / 2) / (bh / 2);
                    double hx = dx, hy = dy + bh + hr;
                    in = ex * ex + ey * ey <= 1 || hx * hx + hy * hy <= hr * hr;
                }
                if (in) {
                    double *px = &v[(size_t)y * s->w + x];
                    if (o->shade > 0)
                        *px = o->shade * (o->grain ? background(s, x, y) : floor_smooth(x, y));
                    else
                        *px = o->luma + 6 * sin(x * 0.5 + y * 0.3);
                    fg[(size_t)y * s->w + x] = 1;
                }
            }
    }
    for (int y = 0; y < s->h; y++) {
        uint8_t *row = gray + y * stride;
        uint8_t *mrow = mask ? mask + y * stride : NULL;
        for (int x = 0; x < s->w; x++) {
            double val = v[(size_t)y * s->w + x];
            int f = fg[(size_t)y * s->w + x];
            for (int i = 0; i < s->noccluders; i++) {
                const synth_rect_t *r = &s->occluder[i];
                if (x + 0.5 >= r->x && x + 0.5 < r->x + r->w && y + 0.5 >= r->y &&
                    y + 0.5 < r->y + r->h) {
                    val = r->luma + 10 * sin(y * 0.4);
                    f = 0;
                }
            }
            val = val * gain + s->noise * gauss(s->seed, (uint32_t)k, (uint32_t)(y * s->w + x));
            row[x] = (uint8_t)(val < 0 ? 0 : val > 255 ? 255 : lround(val));
            if (mrow) mrow[x] = f ? 255 : 0;
        }
    }
    free(v);
    free(fg);
}

int synth_write(const synth_scene_t *s, const char *path, const char *args)
{
    char cmd[2048];
    FILE *p;
    uint8_t *buf = malloc((size_t)s->w * s->h);
    int ret = 0;
    if (!buf) return -1;
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -y -f rawvideo -pix_fmt gray -s %dx%d -r %g -i - "
             "%s '%s'",
             s->w, s->h, s->fps, args, path);
    p = popen(cmd, "w");
    if (!p) {
        free(buf);
        return -1;
    }
    for (int k = 0; k < s->nframes && !ret; k++) {
        synth_render(s, k, buf, s->w, NULL, NULL);
        if (fwrite(buf, 1, (size_t)s->w * s->h, p) != (size_t)s->w * s->h) ret = -1;
    }
    if (pclose(p) != 0) ret = -1;
    free(buf);
    return ret;
}

int synth_tmpdir(char *buf, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, len, "%s/vigie-test-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(buf) ? 0 : -1;
}

void synth_rmdir(const char *dir)
{
    char cmd[4200];
    if (!dir || !*dir || strstr(dir, "vigie-test-") == NULL) return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

double synth_psnr(const uint8_t *a, ptrdiff_t sa, const uint8_t *b, ptrdiff_t sb, int w, int h)
{
    double se = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double d = (double)a[y * sa + x] - b[y * sb + x];
            se += d * d;
        }
    if (se == 0) return 99;
    return 10 * log10(255.0 * 255.0 / (se / ((double)w * h)));
}

int synth_have_ffmpeg(void)
{
    return system("ffmpeg -version >/dev/null 2>&1") == 0;
}
