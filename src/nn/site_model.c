/*
 * Site models: an ONNX detector a site or an integrator holds (a weapon or fire detector they
 * have licensed, a model fine-tuned on their cameras), loaded with detector.model=/path/x.onnx
 * and described by a YAML file beside it (x.yaml):
 *
 *   name: knives-v2                      # for messages and the log
 *   license: "site licence 2026-114"     # what allows the site to run it (logged)
 *   input:
 *     channels: rgb                      # rgb or bgr, in the file's input order
 *     scale: 0.003921569                 # the 0..255 values times this,
 *     mean: [0, 0, 0]                    # minus this,
 *     std: [1, 1, 1]                     # over this
 *     resize: letterbox                  # letterbox (top-left, pad) or stretch
 *     pad: 114                           # the letterbox's grey
 *   output:
 *     layout: yolov8                     # yolox, yolov5 or yolov8
 *   classes: [person, knife, pistol]    # the model's classes, in its order
 *   uses:                                # which classes serve which vigie use
 *     person: [person]
 *     weapon: [knife, pistol]
 *
 * The input size is the file's own (a static shape). Output layouts: yolox, the raw head [N, 5 +
 * C] over the stride 8, 16 and 32 grids (YOLOX's decode in C); yolov5, [N, 5 + C] boxes already
 * decoded (centre, size in input pixels, objectness, class probabilities); yolov8, [4 + C, N]
 * (centre, size, class probabilities; no objectness).
 *
 * Refusal by construction (docs/privacy.md): a description whose name or classes speak of faces,
 * eyes or irises, identities or re-identification, embeddings or landmarks, age, gender,
 * emotion, gait, tattoos, fingerprints, biometrics or licence plates is refused; so is a model
 * whose output is not the described detection head for its classes (a feature vector, an
 * embedding, landmarks): vigie reads boxes and classes, nothing else. A class no use names is
 * not reported.
 *
 * Classes become vigie's (COCO-80) classes by name where COCO has that name (knife, car), else
 * person-use classes become person and vehicle-use ones car; the others get a class of their own
 * past COCO's 80 (vg_coco_name gives their name, vg_detect_class_use their use): the weapon
 * stage takes a weapon-use class as a weapon whatever weapon.classes says (that option names COCO
 * classes).
 */
#include <ctype.h>
#include <errno.h>
#include <libfyaml.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/detect.h>
#include <vigie/error.h>
#include <vigie/file.h>
#include <vigie/mem.h>

#include "site_model.h"

/* ---- classes past COCO's 80 ---- */

#define MAX_SITE_NAMES 64
static char site_names[MAX_SITE_NAMES][VG_SITE_NAME];
static int site_uses[MAX_SITE_NAMES];
static int nsite;
static pthread_mutex_t site_lock = PTHREAD_MUTEX_INITIALIZER;

const char *vg__site_class_name(int cls)
{
    int k = cls - 80;
    pthread_mutex_lock(&site_lock);
    const char *s = k >= 0 && k < nsite ? site_names[k] : NULL;
    pthread_mutex_unlock(&site_lock);
    return s; /* (names are never changed once made) */
}

int vg_detect_class_use(int cls)
{
    int k = cls - 80, use = VG_USE_NONE;
    pthread_mutex_lock(&site_lock);
    if (k >= 0 && k < nsite) use = site_uses[k];
    pthread_mutex_unlock(&site_lock);
    return use;
}

/* The class of a name that COCO lacks: made once per name (with the use it serves, the first
 * model's), shared by every model using it. */
static int site_class(const char *name, int use)
{
    int cls = -1;
    pthread_mutex_lock(&site_lock);
    for (int k = 0; k < nsite && cls < 0; k++)
        if (!strcmp(site_names[k], name)) cls = 80 + k;
    if (cls < 0 && nsite < MAX_SITE_NAMES) {
        snprintf(site_names[nsite], VG_SITE_NAME, "%s", name);
        site_uses[nsite] = use;
        cls = 80 + nsite++;
    }
    pthread_mutex_unlock(&site_lock);
    return cls;
}

static int coco_class(const char *name)
{
    for (int c = 0; c < 80; c++)
        if (!strcmp(vg_coco_name(c), name)) return c;
    return -1;
}

/* ---- refusal ---- */

/* A name that speaks of what vigie must not do (biometrics, identities): the word, or NULL. */
static const char *forbidden(const char *name)
{
    static const char *const within[] = {
        "face",     "iris",    "identit",   "reid",     "re-id",  "embedding",
        "landmark", "biometr", "gender",    "emotion",  "tattoo", "fingerprint",
        "plate",    "gait",    "person_id", "personid", NULL};
    static const char *const whole[] = {"eye", "eyes", "age", "id", "sex", "mouth", "nose", NULL};
    char low[VG_SITE_NAME];
    size_t i;
    for (i = 0; name[i] && i + 1 < sizeof(low); i++) low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = 0;
    for (int k = 0; within[k]; k++)
        if (strstr(low, within[k])) return within[k];
    for (int k = 0; whole[k]; k++)
        if (!strcmp(low, whole[k])) return whole[k];
    return NULL;
}

/* ---- the description ---- */

static struct fy_node *get(struct fy_node *map, const char *key)
{
    return map && fy_node_is_mapping(map) ? fy_node_mapping_lookup_by_string(map, key, FY_NT)
                                          : NULL;
}

static const char *scalar(struct fy_node *n)
{
    return n && fy_node_is_scalar(n) ? fy_node_get_scalar0(n) : NULL;
}

static int number(struct fy_node *n, double *v)
{
    const char *s = scalar(n);
    char *end;
    if (!s) return -1;
    errno = 0;
    *v = strtod(s, &end);
    return end == s || *end || errno ? -1 : 0;
}

static int numbers3(struct fy_node *n, float *v)
{
    if (!n) return 0; /* keep the default */
    if (!fy_node_is_sequence(n) || fy_node_sequence_item_count(n) != 3) return -1;
    for (int k = 0; k < 3; k++) {
        double x;
        if (number(fy_node_sequence_get_by_index(n, k), &x) < 0) return -1;
        v[k] = (float)x;
    }
    return 0;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        ret = VG_EINVAL;                                                                           \
        goto end;                                                                                  \
    } while (0)

int vg__site_model_read(vg_site_model_t *s, const char *path, char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int ret = vg_file_read(path, 1 << 20, &buf, &len);
    struct fy_document *doc = NULL;
    memset(s, 0, sizeof(*s));
    s->scale = 1, s->std[0] = s->std[1] = s->std[2] = 1, s->letterbox = 1, s->pad = 114;
    if (ret < 0) {
        snprintf(err, errlen,
                 "%s: cannot read the site model's description (%s): a site model needs a YAML "
                 "file beside it saying its input, output layout, classes and uses "
                 "(docs/nn.md, \"Site models\")",
                 path, ret == VG_ERANGE ? "larger than 1 MiB" : strerror(errno));
        return ret == VG_ERANGE ? VG_EINVAL : ret;
    }
    struct fy_parse_cfg cfg = {NULL, FYPCF_QUIET, NULL, NULL};
    doc = fy_document_build_from_string(&cfg, (const char *)buf, len);
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    if (!root || !fy_node_is_mapping(root)) FAIL("%s: not a YAML mapping", path);
    const char *name = scalar(get(root, "name")), *lic = scalar(get(root, "license"));
    if (!name || !lic)
        FAIL("%s: name and license are required (what the model is, what allows the site to "
             "run it)",
             path);
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->license, sizeof(s->license), "%s", lic);
    const char *bad = forbidden(name);
    if (bad)
        FAIL("%s: model '%s' speaks of '%s': vigie runs no face, identity, biometric or plate "
             "model, by construction (docs/privacy.md)",
             path, name, bad);
    /* input */
    struct fy_node *in = get(root, "input");
    const char *ch = scalar(get(in, "channels")), *rs = scalar(get(in, "resize"));
    double v;
    if (ch && strcmp(ch, "rgb") && strcmp(ch, "bgr"))
        FAIL("%s: input.channels '%s': rgb or bgr", path, ch);
    s->rgb = !ch || !strcmp(ch, "rgb");
    if (rs && strcmp(rs, "letterbox") && strcmp(rs, "stretch"))
        FAIL("%s: input.resize '%s': letterbox or stretch", path, rs);
    s->letterbox = !rs || !strcmp(rs, "letterbox");
    if (get(in, "scale")) {
        if (number(get(in, "scale"), &v) < 0 || !(v > 0 && v <= 1e3))
            FAIL("%s: input.scale: a positive number", path);
        s->scale = (float)v;
    }
    if (get(in, "pad")) {
        if (number(get(in, "pad"), &v) < 0 || !(v >= 0 && v <= 255))
            FAIL("%s: input.pad: 0 to 255", path);
        s->pad = (float)v;
    }
    if (numbers3(get(in, "mean"), s->mean) < 0 || numbers3(get(in, "std"), s->std) < 0)
        FAIL("%s: input.mean and input.std: three numbers each", path);
    for (int k = 0; k < 3; k++)
        if (!(s->std[k] > 0)) FAIL("%s: input.std: positive numbers", path);
    /* output */
    const char *lay = scalar(get(get(root, "output"), "layout"));
    if (!lay) FAIL("%s: output.layout is required: yolox, yolov5 or yolov8", path);
    if (!strcmp(lay, "yolox"))
        s->layout = VG_SITE_YOLOX;
    else if (!strcmp(lay, "yolov5"))
        s->layout = VG_SITE_YOLOV5;
    else if (!strcmp(lay, "yolov8"))
        s->layout = VG_SITE_YOLOV8;
    else
        FAIL("%s: output.layout '%s': vigie decodes yolox, yolov5 and yolov8 detection heads", path,
             lay);
    /* classes */
    struct fy_node *cl = get(root, "classes");
    if (!cl || !fy_node_is_sequence(cl) || fy_node_sequence_item_count(cl) < 1 ||
        fy_node_sequence_item_count(cl) > VG_SITE_MAX_CLASSES)
        FAIL("%s: classes: a list of 1 to %d names, in the model's order", path,
             VG_SITE_MAX_CLASSES);
    s->nclass = fy_node_sequence_item_count(cl);
    for (int k = 0; k < s->nclass; k++) {
        const char *c = scalar(fy_node_sequence_get_by_index(cl, k));
        if (!c || !c[0] || strlen(c) >= VG_SITE_NAME)
            FAIL("%s: classes[%d]: a name of 1 to %d characters", path, k, VG_SITE_NAME - 1);
        if ((bad = forbidden(c)))
            FAIL("%s: class '%s' speaks of '%s': vigie runs no face, identity, biometric or plate "
                 "model, by construction (docs/privacy.md)",
                 path, c, bad);
        snprintf(s->class_name[k], VG_SITE_NAME, "%s", c);
        s->cls[k] = -1; /* not reported unless a use names it */
    }
    /* uses */
    static const char *const uses[] = {"person", "vehicle", "weapon", "fire", NULL};
    struct fy_node *us = get(root, "uses");
    if (!us || !fy_node_is_mapping(us) || !fy_node_mapping_item_count(us))
        FAIL("%s: uses: which classes serve which vigie use (person, vehicle, weapon, fire)", path);
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(us, &it))) {
        const char *use = scalar(fy_node_pair_key(pair));
        struct fy_node *list = fy_node_pair_value(pair);
        int u = -1;
        for (int k = 0; use && uses[k]; k++)
            if (!strcmp(uses[k], use)) u = k;
        if (u < 0) FAIL("%s: uses: '%s' is not a use (person, vehicle, weapon, fire)", path, use);
        if (!list || !fy_node_is_sequence(list))
            FAIL("%s: uses.%s: a list of class names", path, use);
        for (int i = 0; i < fy_node_sequence_item_count(list); i++) {
            const char *c = scalar(fy_node_sequence_get_by_index(list, i));
            int k = -1;
            for (int q = 0; c && q < s->nclass; q++)
                if (!strcmp(s->class_name[q], c)) k = q;
            if (k < 0) FAIL("%s: uses.%s: '%s' is not one of the classes", path, use, c ? c : "");
            int coco = coco_class(c);
            if (u == 0) /* person */
                s->cls[k] = 0;
            else if (u == 1) /* vehicle */
                s->cls[k] = coco >= 0 && vg_coco_is_vehicle(coco) ? coco : 2;
            else
                s->cls[k] = coco >= 0 ? coco : site_class(c, u);
            if (s->cls[k] < 0) FAIL("%s: too many class names across site models", path);
            s->use[k] = u;
        }
    }
    ret = 0;
end:
    fy_document_destroy(doc);
    vg_free(buf);
    return ret;
}
#undef FAIL

int vg__site_model_check_output(const vg_site_model_t *s, const int64_t *shape, int ndim, int in_w,
                                int in_h, char *err, size_t errlen)
{
    int64_t c = s->nclass, n = 0;
    int ok = ndim == 3 && shape[0] == 1;
    if (ok && s->layout == VG_SITE_YOLOV8) {
        ok = shape[1] == 4 + c;
        n = shape[2];
    } else if (ok) {
        ok = shape[2] == 5 + c;
        n = shape[1];
    }
    if (ok && s->layout == VG_SITE_YOLOX) {
        int64_t cells = 0;
        for (int st = 8; st <= 32; st *= 2) cells += (int64_t)(in_w / st) * (in_h / st);
        ok = n == cells && in_w % 32 == 0 && in_h % 32 == 0;
    }
    if (ok && n < 1) ok = 0;
    if (!ok) {
        char dims[96] = "";
        for (int d = 0; d < ndim && d < 6; d++)
            snprintf(dims + strlen(dims), sizeof(dims) - strlen(dims), "%s%lld", d ? ", " : "",
                     (long long)shape[d]);
        snprintf(err, errlen,
                 "site model '%s': its output [%s] is not a %s detection head for its %d classes: "
                 "vigie reads boxes and classes only, and refuses a model with other outputs "
                 "(features, embeddings, landmarks)",
                 s->name, dims,
                 s->layout == VG_SITE_YOLOX    ? "yolox"
                 : s->layout == VG_SITE_YOLOV5 ? "yolov5"
                                               : "yolov8",
                 s->nclass);
        return VG_EINVAL;
    }
    return 0;
}
