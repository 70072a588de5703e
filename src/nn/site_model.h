/* Site models (site_model.c): the YAML description of an ONNX detector a site holds, and the
 * check of its output against it. Private to the inference core (detector.c reads them). */
#ifndef VG_NN_SITE_MODEL_H
#define VG_NN_SITE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define VG_SITE_MAX_CLASSES 256
#define VG_SITE_NAME        48

enum { VG_SITE_YOLOX, VG_SITE_YOLOV5, VG_SITE_YOLOV8 };

typedef struct vg_site_model {
    char name[64], license[128];
    int rgb;       /* input channel order: RGB (else BGR) */
    float scale;   /* the 0..255 values times this, */
    float mean[3]; /* minus this, */
    float std[3];  /* over this */
    int letterbox; /* top-left on a square of grey @pad (else stretched) */
    float pad;
    int layout; /* VG_SITE_* */
    int nclass;
    char class_name[VG_SITE_MAX_CLASSES][VG_SITE_NAME];
    int cls[VG_SITE_MAX_CLASSES]; /* vigie's class of each, -1: not reported */
    int use[VG_SITE_MAX_CLASSES]; /* 0 person, 1 vehicle, 2 weapon, 3 fire */
} vg_site_model_t;

/* Read the description at @path. 0, or VG_EINVAL / VG_ENOENT with a message naming the file,
 * the field and what it should be; a forbidden name or class (faces, identities, ...) is
 * VG_EINVAL. */
int vg__site_model_read(vg_site_model_t *s, const char *path, char *err, size_t errlen);
/* Whether the model's output [@shape] is the described head for an input of @in_w x @in_h. */
int vg__site_model_check_output(const vg_site_model_t *s, const int64_t *shape, int ndim, int in_w,
                                int in_h, char *err, size_t errlen);
/* The name of a class past COCO's 80 that a site model made, or NULL. */
const char *vg__site_class_name(int cls);

#endif
