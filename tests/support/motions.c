/* Known camera motions and the clips they make (motions.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/source.h>

#include "motions.h"

const char *const mo_names[] = {"still", "shake", "pan", "zoom", "drift", NULL};

/* A similarity about the view's centre: scale @s, rotation @a (radians), then a shift. */
static void about_centre(double m[6], double s, double a, double tx, double ty, int w, int h)
{
    double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0, c = s * cos(a), sn = s * sin(a);
    m[0] = c, m[1] = -sn, m[2] = cx + tx - c * cx + sn * cy;
    m[3] = sn, m[4] = c, m[5] = cy + ty - sn * cx - c * cy;
}

/* A triangle wave of period @p between -1 and 1, 0 at t = 0 and rising. */
static double triangle(double t, double p)
{
    double u = fmod(t / p + 0.25, 1.0);
    if (u < 0) u += 1;
    return u < 0.5 ? 4 * u - 1 : 3 - 4 * u;
}

int mo_motion(const char *name, double t, int w, int h, double m[6])
{
    const double pi = 3.14159265358979323846;
    if (!strcmp(name, "still"))
        about_centre(m, 1, 0, 0, 0, w, h);
    else if (!strcmp(name, "shake"))
        about_centre(m, 1, 0, 5 * sin(2 * pi * 2 * t), 5 * sin(2 * pi * 2 * t + 1.3), w, h);
    else if (!strcmp(name, "pan")) /* 20 px/s: 160 px a period of 8 s */
        about_centre(m, 1, 0, 40 * triangle(t, 8), 0, w, h);
    else if (!strcmp(name, "fast")) /* 200 px/s: a fast drone or a PTZ move, 320 px a period */
        about_centre(m, 1, 0, 80 * triangle(t, 1.6), 0, w, h);
    else if (!strcmp(name, "zoom"))
        about_centre(m, 1 + 0.08 * (1 - cos(2 * pi * t / 6)) / 2, 0, 0, 0, w, h);
    else if (!strcmp(name, "drift"))
        about_centre(m, 1, 2 * pi / 180 * sin(2 * pi * t / 11), 12 * sin(2 * pi * t / 9),
                     8 * sin(2 * pi * t / 7), w, h);
    else
        return -1;
    return 0;
}

void mo_invert(const double m[6], double o[6])
{
    double det = m[0] * m[4] - m[1] * m[3];
    o[0] = m[4] / det, o[1] = -m[1] / det, o[3] = -m[3] / det, o[4] = m[0] / det;
    o[2] = -(o[0] * m[2] + o[1] * m[5]);
    o[5] = -(o[3] * m[2] + o[4] * m[5]);
}

void mo_compose(const double a[6], const double b[6], double o[6])
{
    double r[6];
    r[0] = a[0] * b[0] + a[1] * b[3], r[1] = a[0] * b[1] + a[1] * b[4];
    r[2] = a[0] * b[2] + a[1] * b[5] + a[2];
    r[3] = a[3] * b[0] + a[4] * b[3], r[4] = a[3] * b[1] + a[4] * b[4];
    r[5] = a[3] * b[2] + a[4] * b[5] + a[5];
    memcpy(o, r, sizeof(r));
}

double mo_error(const double a[6], const double b[6], int w, int h)
{
    double sum = 0;
    for (int j = 0; j < 9; j++)
        for (int i = 0; i < 9; i++) {
            double x = (w - 1) * i / 8.0, y = (h - 1) * j / 8.0;
            double dx = (a[0] - b[0]) * x + (a[1] - b[1]) * y + a[2] - b[2];
            double dy = (a[3] - b[3]) * x + (a[4] - b[4]) * y + a[5] - b[5];
            sum += sqrt(dx * dx + dy * dy);
        }
    return sum / 81;
}

int mo_motion_h(const char *name, double t, int w, int h, double H[9])
{
    const double pi = 3.14159265358979323846;
    if (!strcmp(name, "tilt")) {
        /* a drone's camera pitching and rolling over the ground while it drifts: a perspective
         * change about the view's centre (the far edge shrinks by up to 5 %) and a shift */
        double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
        double p = 1e-4 * sin(2 * pi * t / 8) * 640.0 / w,
               q = 1e-4 * sin(2 * pi * t / 10) * 640.0 / w;
        double tx = 10 * sin(2 * pi * t / 9), ty = 6 * sin(2 * pi * t / 7);
        /* centred coordinates X = x - c: X' = X / (1 + p X + q Y), then + c + shift */
        const double P[9] = {1, 0, 0, 0, 1, 0, p, q, 1};
        const double Tc[9] = {1, 0, cx + tx, 0, 1, cy + ty, 0, 0, 1};
        const double Ti[9] = {1, 0, -cx, 0, 1, -cy, 0, 0, 1};
        double r[9];
        mo_mul3(Tc, P, r);
        mo_mul3(r, Ti, H);
        for (int k = 0; k < 9; k++) H[k] /= H[8];
        return 0;
    }
    double m[6];
    if (mo_motion(name, t, w, h, m) < 0) return -1;
    H[0] = m[0], H[1] = m[1], H[2] = m[2], H[3] = m[3], H[4] = m[4], H[5] = m[5];
    H[6] = H[7] = 0, H[8] = 1;
    return 0;
}

void mo_mul3(const double a[9], const double b[9], double o[9])
{
    double r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            r[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
    memcpy(o, r, sizeof(r));
}

void mo_invert_h(const double a[9], double o[9])
{
    double r[9];
    r[0] = a[4] * a[8] - a[5] * a[7], r[1] = a[2] * a[7] - a[1] * a[8],
    r[2] = a[1] * a[5] - a[2] * a[4];
    r[3] = a[5] * a[6] - a[3] * a[8], r[4] = a[0] * a[8] - a[2] * a[6],
    r[5] = a[2] * a[3] - a[0] * a[5];
    r[6] = a[3] * a[7] - a[4] * a[6], r[7] = a[1] * a[6] - a[0] * a[7],
    r[8] = a[0] * a[4] - a[1] * a[3];
    for (int k = 0; k < 9; k++) o[k] = r[k] / r[8];
}

double mo_error_h(const double a[9], const double b[9], int w, int h)
{
    double sum = 0;
    for (int j = 0; j < 9; j++)
        for (int i = 0; i < 9; i++) {
            double x = (w - 1) * i / 8.0, y = (h - 1) * j / 8.0;
            double wa = a[6] * x + a[7] * y + a[8], wb = b[6] * x + b[7] * y + b[8];
            double dx = (a[0] * x + a[1] * y + a[2]) / wa - (b[0] * x + b[1] * y + b[2]) / wb;
            double dy = (a[3] * x + a[4] * y + a[5]) / wa - (b[3] * x + b[4] * y + b[5]) / wb;
            sum += sqrt(dx * dx + dy * dy);
        }
    return sum / 81;
}

void mo_resample_h(uint8_t *dst, int ow, int oh, int bpp, const vg_image_t *src, const double H[9])
{
    const float mx = src->w - 1.001f, my = src->h - 1.001f;
    for (int y = 0; y < oh; y++) {
        uint8_t *o = dst + (size_t)y * ow * bpp;
        for (int x = 0; x < ow; x++) {
            double w = H[6] * x + H[7] * y + H[8];
            float sx = (float)((H[0] * x + H[1] * y + H[2]) / w);
            float sy = (float)((H[3] * x + H[4] * y + H[5]) / w);
            sx = sx < 0 ? 0 : sx > mx ? mx : sx;
            sy = sy < 0 ? 0 : sy > my ? my : sy;
            int x0 = (int)sx, y0 = (int)sy;
            float fx = sx - x0, fy = sy - y0;
            const uint8_t *r0 = vg_image_row(src, y0) + x0 * bpp,
                          *r1 = vg_image_row(src, y0 + 1) + x0 * bpp;
            for (int c = 0; c < bpp; c++) {
                float a = r0[c] + fx * (r0[c + bpp] - r0[c]),
                      b = r1[c] + fx * (r1[c + bpp] - r1[c]);
                o[x * bpp + c] = (uint8_t)(a + fy * (b - a) + 0.5f);
            }
        }
    }
}

double mo_ptz_x(const mo_ptz_t *p, double t)
{
    double go = p->dx / p->speed;
    if (t <= p->t_leave) return 0;
    if (t <= p->t_leave + go) return (t - p->t_leave) * p->speed;
    if (t <= p->t_back) return p->dx;
    if (t <= p->t_back + go) return p->dx - (t - p->t_back) * p->speed;
    return 0;
}

void mo_resample(uint8_t *dst, int ow, int oh, int bpp, const vg_image_t *src, const double m[6],
                 double ox, double oy)
{
    const double H[9] = {m[0], m[1], m[2] + ox, m[3], m[4], m[5] + oy, 0, 0, 1};
    mo_resample_h(dst, ow, oh, bpp, src, H);
}

int mo_write_clip(const char *in, const char *out, const char *motion, const mo_ptz_t *ptz,
                  double to)
{
    vg_source_params_t sp;
    vg_source_t *src = NULL;
    vg_source_info_t info;
    vg_frame_t *f = NULL;
    char cmd[2048];
    int n = 0, ret;
    memset(&sp, 0, sizeof(sp));
    vg_opt_defaults(&sp, vg_source_option_group.options);
    sp.width = 0, sp.color = 1, sp.to = to;
    if (vg_source_open(&src, in, &sp, NULL) < 0) {
        fprintf(stderr, "motions: cannot open %s\n", in);
        vg_opt_free(&sp, vg_source_option_group.options);
        return -1;
    }
    vg_source_get_info(src, &info);
    int ow = ptz ? ptz->cw : info.w, oh = ptz ? ptz->ch : info.h;
    double fps = info.fps > 0 ? info.fps : 25;
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -v error -y -f rawvideo -pix_fmt bgr24 -s %dx%d -r %.6f -i - -c:v libx264 "
             "-preset veryfast -crf 16 -pix_fmt yuv420p '%s'",
             ow, oh, fps, out);
    FILE *pipe = popen(cmd, "w");
    uint8_t *buf = malloc((size_t)ow * oh * 3);
    if (!pipe || !buf) {
        fprintf(stderr, "motions: cannot run ffmpeg\n");
        n = -1;
        goto done;
    }
    while ((ret = vg_source_read(src, &f)) == 0) {
        if (ptz) {
            double id[6] = {1, 0, 0, 0, 1, 0};
            mo_resample(buf, ow, oh, 3, &f->color, id, mo_ptz_x(ptz, f->t), 0);
        } else {
            double H[9], Hi[9];
            mo_motion_h(motion, f->t, info.w, info.h, H);
            mo_invert_h(H, Hi);
            mo_resample_h(buf, ow, oh, 3, &f->color, Hi);
        }
        vg_frame_unref(&f);
        if (fwrite(buf, 1, (size_t)ow * oh * 3, pipe) != (size_t)ow * oh * 3) {
            n = -1;
            break;
        }
        n++;
    }
done:
    if (pipe && pclose(pipe) != 0) n = -1;
    free(buf);
    vg_source_free(&src);
    vg_opt_free(&sp, vg_source_option_group.options);
    return n;
}
