/*
 * vigie's model table: the only models it runs (its event types need them), each with the SHA-256
 * of its files (a TF.js model's two, an ONNX model's one), so a damaged or substituted file, and
 * every model vigie does not use (faces, identities), is refused before it is parsed. Where the
 * model files are looked for.
 */
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vigie/clock.h>
#include <vigie/error.h>
#include <vigie/file.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/nn.h>

#include "../core/sha256.h"
#include "graph_priv.h"
#include "ops.h"

static const char *const nanodet_out[] = {"Identity",   "Identity_1", "Identity_2", "Identity_3",
                                          "Identity_4", "Identity_5", NULL};
static const char *const centernet_out[] = {"tower_0/keypoints", "tower_0/wh", NULL};
static const char *const movenet_out[] = {
    "StatefulPartitionedCall/center_0/conv2d_4/BiasAdd",
    "StatefulPartitionedCall/kpt_heatmap_0/conv2d_5/BiasAdd",
    "StatefulPartitionedCall/kpt_regress_0/conv2d_6/BiasAdd",
    "StatefulPartitionedCall/kpt_offset_0/conv2d_7/BiasAdd",
    /* the decoder's constants: the centre prior, 1.8 and 1/48 as stored */
    "ConstantFolding/StatefulPartitionedCall/truediv_2_recip", "StatefulPartitionedCall/add_5/y",
    "StatefulPartitionedCall/Reshape_13", NULL};

static const char *const yolox_out[] = {"output", NULL};

static const vg_model_info_t registry[] = {
    {"nanodet", "object detector (default): persons, vehicles, bags", "Apache-2.0",
     "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
     "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9", nanodet_out},
    {"centernet", "object detector (option)", "Apache-2.0",
     "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
     "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef", centernet_out},
    {"movenet-lightning", "body pose on person crops (falls)", "Apache-2.0",
     "df8cbde44d00f533ccc4916a7c6ebc17316532fb3fadad114ec667fef22872e9",
     "bf97bc10d9c8a11200b0190ed64ce039b6252f1aff7cb552aca99b3d191c2f34", movenet_out},
    /* one ONNX file (no .bin): NAME.onnx, checked by its SHA-256 like the others */
    {"yolox-nano", "object detector (option): persons, vehicles, bags; ONNX", "Apache-2.0",
     "d39bee73564e338080378b0ad567fbb40e818b55bbfaf971de82a0267ed16b8a", NULL, yolox_out},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const vg_model_info_t *vg_model_registry(int *count)
{
    if (count) *count = (int)(sizeof(registry) / sizeof(registry[0])) - 1;
    return registry;
}

static int file_sha256(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    vg_sha256_t s;
    uint8_t buf[65536], d[32];
    size_t n = 0;
    if (!f) return VG_ENOENT;
    vg__sha256_init(&s);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) vg__sha256_update(&s, buf, n);
    fclose(f);
    vg__sha256_final(&s, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return 0;
}

/*
 * Where the models are: @dir when it holds NAME.json; else, for a relative @dir (the default
 * "models"), the folder the program set (vg_model_set_search_dir; vigie's $VIGIE_MODELS), then
 * "models" beside the program or up to two folders above it
 * (build/vigie, build/bench/bench-nn and the test programs of a checkout find the checkout's
 * models/ from any working directory). Falls back to @dir, for the error message.
 */
/* Set once by the program before threads start (like the log sink), read only afterwards. */
static char search_dir[4096];

void vg_model_set_search_dir(const char *dir)
{
    snprintf(search_dir, sizeof(search_dir), "%s", dir ? dir : "");
}

static const char *models_dir(const char *dir, const char *name, const char *ext, char *buf,
                              size_t len)
{
    char p[8400], exe[4096];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/%s.%s", dir, name, ext);
    if (stat(p, &sb) == 0 || dir[0] == '/') return dir;
    const char *env = search_dir;
    if (env[0]) {
        snprintf(p, sizeof(p), "%s/%s.%s", env, name, ext);
        if (stat(p, &sb) == 0) return snprintf(buf, len, "%s", env), buf;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) return dir;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return dir;
    *slash = 0;
    static const char *const up[] = {"", "/..", "/../.."};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s/%s/%s.%s", exe, up[i], dir, name, ext);
        if (stat(p, &sb) == 0 && (size_t)snprintf(buf, len, "%s%s/%s", exe, up[i], dir) < len)
            return buf;
    }
    return dir;
}

int vg_model_load(vg_model_t **out, const char *dir, const char *name, char *err, size_t errlen)
{
    const vg_model_info_t *info = NULL;
    char jp[4200], bp[4200], hex[65];
    for (int i = 0; registry[i].name; i++)
        if (!strcmp(registry[i].name, name)) info = &registry[i];
    if (!info) {
        vg__nn_fmt(
            err, errlen,
            "model '%s' is not in vigie's model table (nanodet, centernet, movenet-lightning, "
            "yolox-nano): "
            "vigie runs only the models its event types need; face, identity and similar models "
            "are refused by design (docs/privacy.md)",
            name);
        return VG_EACCES;
    }
    char found[4096];
    const int onnx = !info->bin_sha256;
    dir = models_dir(dir, name, onnx ? "onnx" : "json", found, sizeof(found));
    snprintf(jp, sizeof(jp), "%s/%s.%s", dir, name, onnx ? "onnx" : "json");
    snprintf(bp, sizeof(bp), "%s/%s.bin", dir, name);
    const char *paths[2] = {jp, bp}, *sums[2] = {info->json_sha256, info->bin_sha256};
    for (int k = 0; k < 2 - onnx; k++) {
        if (file_sha256(paths[k], hex) < 0) {
            vg__nn_fmt(err, errlen, "%s: cannot read it. Run scripts/setup to fetch the models",
                       paths[k]);
            return VG_ENOENT;
        }
        if (strcmp(hex, sums[k])) {
            vg__nn_fmt(
                err, errlen,
                "%s: its SHA-256 is %.16s..., not the registered %.16s...: the file is damaged or "
                "not the registered model. Run scripts/setup to fetch it again",
                paths[k], hex, sums[k]);
            return VG_ECORRUPT;
        }
    }
    if (onnx) return vg_model_load_onnx(out, jp, info->outputs, err, errlen);
    return vg_model_load_unchecked(out, jp, bp, info->outputs, err, errlen);
}
