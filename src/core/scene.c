/*
 * Scene description reader (YAML through libfyaml).
 *
 * The file is parsed into a document first (libfyaml reports syntax errors with line and column,
 * collected rather than printed), then walked by hand against the schema in docs/scene.md. The
 * walk is strict: every mapping key must be known, every value of the right type and range, and
 * the first problem stops it with "FILE:LINE: KEY: what is wrong, what is accepted". Lines come
 * from the scalar tokens' marks (a mapping's line is its first key's).
 *
 * Invariants of a loaded scene: zone, line and fixture names are unique and non-empty; polygons
 * have at least 3 points; directions are unit vectors; calibration has none or >= 4 points.
 */
#include <libfyaml.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/event.h>
#include <vigie/file.h>
#include <vigie/mem.h>
#include <vigie/scene.h>

#include "yaml.h"

typedef struct ctx {
    const char *file;
    char *err;
    size_t errlen;
    int failed;
    vg_scene_t *scene;
} ctx_t;

static const char *const zone_kinds[VG_ZONE_NB] = {"forbidden", "pedestrian_only", "watch", "rest"};
static const char *const crossings[VG_CROSS_NB] = {"none", "left_to_right", "right_to_left",
                                                   "both"};

static const char *const priorities[VG_PRIORITY_NB] = {"", "low", "normal", "high"};

const char *vg_priority_name(vg_priority_t p)
{
    return (unsigned)p < VG_PRIORITY_NB ? priorities[p] : "";
}

int vg_priority_from_name(const char *name)
{
    for (int i = 1; name && i < VG_PRIORITY_NB; i++)
        if (!strcmp(priorities[i], name)) return i;
    return VG_EINVAL;
}

/* A priority member: "low", "normal" or "high". */
static int get_priority(ctx_t *c, struct fy_node *v, const char *key, vg_priority_t *out);

const char *vg_zone_kind_name(vg_zone_kind_t k)
{
    return (unsigned)k < VG_ZONE_NB ? zone_kinds[k] : "unknown";
}

const char *vg_crossing_name(vg_crossing_t c)
{
    return (unsigned)c < VG_CROSS_NB ? crossings[c] : "unknown";
}

static int fail(ctx_t *c, struct fy_node *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(ctx_t *c, struct fy_node *n, const char *key, const char *fmt, ...)
{
    va_list ap;
    if (c->failed) return VG_ESYNTAX;
    c->failed = 1;
    va_start(ap, fmt);
    vg__yaml_vfail(c->err, c->errlen, c->file, n, key, fmt, ap);
    va_end(ap);
    return VG_ESYNTAX;
}

static const char *scalar(ctx_t *c, struct fy_node *n, const char *key)
{
    const char *s;
    if (!n || !fy_node_is_scalar(n)) {
        fail(c, n, key, "expected a single value");
        return NULL;
    }
    s = fy_node_get_scalar0(n);
    if (!s) fail(c, n, key, "out of memory reading the value");
    return s;
}

static int get_number(ctx_t *c, struct fy_node *n, const char *key, double min, double max,
                      double *out)
{
    const char *s = scalar(c, n, key);
    char *end;
    double v;
    if (!s) return VG_ESYNTAX;
    errno = 0;
    v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v)) return fail(c, n, key, "'%s' is not a number", s);
    if (v < min || v > max)
        return fail(c, n, key, "%s is out of range: use a value from %g to %g", s, min, max);
    *out = v;
    return 0;
}

static int get_string(ctx_t *c, struct fy_node *n, const char *key, char **out)
{
    const char *s = scalar(c, n, key);
    if (!s) return VG_ESYNTAX;
    if (!*s) return fail(c, n, key, "must not be empty");
    if (strlen(s) >= VG_EVENT_NAME_MAX)
        return fail(c, n, key, "is longer than %d characters", VG_EVENT_NAME_MAX - 1);
    vg_free(*out);
    *out = vg_strdup(s);
    return *out ? 0 : VG_ENOMEM;
}

static int get_choice(ctx_t *c, struct fy_node *n, const char *key, const char *const *names,
                      int nb, int *out)
{
    char list[256] = "";
    size_t len = 0;
    const char *s = scalar(c, n, key);
    if (!s) return VG_ESYNTAX;
    for (int i = 0; i < nb; i++) {
        if (!strcmp(s, names[i])) return *out = i, 0;
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", names[i]);
    }
    return fail(c, n, key, "'%s' is not one of %s", s, list);
}

static int get_priority(ctx_t *c, struct fy_node *v, const char *key, vg_priority_t *out)
{
    int k;
    if (get_choice(c, v, key, priorities + 1, VG_PRIORITY_NB - 1, &k) < 0) return VG_ESYNTAX;
    *out = (vg_priority_t)(k + 1);
    return 0;
}

static int get_point(ctx_t *c, struct fy_node *n, const char *key, int coords, vg_point_t *p)
{
    struct fy_node *x, *y;
    double maxx = 1e6, maxy = 1e6;
    if (!n || !fy_node_is_sequence(n) || fy_node_sequence_item_count(n) != 2)
        return fail(c, n, key, "expected a point [x, y]");
    x = fy_node_sequence_get_by_index(n, 0);
    y = fy_node_sequence_get_by_index(n, 1);
    if (coords && c->scene->width) {
        maxx = c->scene->width;
        maxy = c->scene->height;
    }
    if (coords) {
        if (get_number(c, x, key, 0, maxx, &p->x) < 0) return VG_ESYNTAX;
        return get_number(c, y, key, 0, maxy, &p->y);
    }
    if (get_number(c, x, key, -1e6, 1e6, &p->x) < 0) return VG_ESYNTAX;
    return get_number(c, y, key, -1e6, 1e6, &p->y);
}

static double orient(const vg_point_t *a, const vg_point_t *b, const vg_point_t *p)
{
    return (b->x - a->x) * (p->y - a->y) - (b->y - a->y) * (p->x - a->x);
}

/* Do segments ab and cd cross at a point inside both (touching ends count as crossing only when
 * they are not shared)? */
static int segments_cross(const vg_point_t *a, const vg_point_t *b, const vg_point_t *c,
                          const vg_point_t *d)
{
    double o1 = orient(a, b, c), o2 = orient(a, b, d), o3 = orient(c, d, a), o4 = orient(c, d, b);
    return ((o1 > 0 && o2 < 0) || (o1 < 0 && o2 > 0)) && ((o3 > 0 && o4 < 0) || (o3 < 0 && o4 > 0));
}

/* A self-crossing outline (a bow tie) has no agreed inside: which edges cross, if any. */
static int polygon_crossing(const vg_polygon_t *poly, int *e1, int *e2)
{
    int n = poly->n;
    for (int i = 0; i < n; i++)
        for (int j = i + 2; j < n; j++) {
            if (i == 0 && j == n - 1) continue; /* adjacent through the closing edge */
            if (segments_cross(&poly->pts[i], &poly->pts[(i + 1) % n], &poly->pts[j],
                               &poly->pts[(j + 1) % n])) {
                *e1 = i;
                *e2 = j;
                return 1;
            }
        }
    return 0;
}

static int get_polygon(ctx_t *c, struct fy_node *n, const char *key, vg_polygon_t *poly)
{
    int count;
    void *it = NULL;
    struct fy_node *item;
    if (!n || !fy_node_is_sequence(n))
        return fail(c, n, key, "expected a polygon: a list of points [[x, y], ...]");
    count = fy_node_sequence_item_count(n);
    if (count < 3) return fail(c, n, key, "a polygon needs at least 3 points, it has %d", count);
    if (count > 1000) return fail(c, n, key, "a polygon may have at most 1000 points");
    poly->pts = vg_calloc((size_t)count, sizeof(vg_point_t));
    if (!poly->pts) return VG_ENOMEM;
    poly->n = count;
    for (int i = 0; (item = fy_node_sequence_iterate(n, &it)); i++)
        if (get_point(c, item, key, 1, &poly->pts[i]) < 0) return VG_ESYNTAX;
    int e1, e2;
    if (polygon_crossing(poly, &e1, &e2)) {
        const vg_point_t *p = poly->pts;
        int n1 = (e1 + 1) % count, n2 = (e2 + 1) % count;
        return fail(c, n, key,
                    "the outline crosses itself: edge %d (%g, %g)-(%g, %g) crosses edge %d "
                    "(%g, %g)-(%g, %g). Give the points in order around the area, without "
                    "crossing (or make two polygons)",
                    e1 + 1, p[e1].x, p[e1].y, p[n1].x, p[n1].y, e2 + 1, p[e2].x, p[e2].y, p[n2].x,
                    p[n2].y);
    }
    return 0;
}

static int fail_msg(void *c, struct fy_node *n, const char *key, const char *msg)
{
    return fail(c, n, key, "%s", msg);
}

/* Walk a mapping, checking each key against @allowed (vg__yaml_walk). */
static int walk_mapping(ctx_t *c, struct fy_node *n, const char *path, const char *const *allowed,
                        vg_yaml_member_fn fn, void *obj)
{
    return vg__yaml_walk(n, path, allowed, fn, fail_msg, c, obj);
}

/* A mapping of option names to scalar values, added to @set as "<prefix>name". */
static int get_settings(ctx_t *c, struct fy_node *n, const char *path, const char *prefix,
                        vg_settings_t *set)
{
    void *it = NULL;
    struct fy_node_pair *p;
    if (!n || !fy_node_is_mapping(n))
        return fail(c, n, path, "expected a mapping of option names to values");
    while ((p = fy_node_mapping_iterate(n, &it))) {
        char full[256], origin[600];
        const char *k = scalar(c, fy_node_pair_key(p), path);
        const char *v;
        if (!k) return VG_ESYNTAX;
        v = scalar(c, fy_node_pair_value(p), k);
        if (!v) return VG_ESYNTAX;
        snprintf(full, sizeof(full), "%s%s", prefix, k);
        snprintf(origin, sizeof(origin), "%s:%d", c->file, vg__yaml_line(fy_node_pair_key(p)));
        if (vg_settings_add(set, full, v, origin) < 0) return VG_ENOMEM;
    }
    return 0;
}

static int zone_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    ctx_t *c = vc;
    vg_zone_t *z = obj;
    int k;
    if (!strcmp(key, "name")) return get_string(c, v, "zones.name", &z->name);
    if (!strcmp(key, "kind")) {
        if (get_choice(c, v, "zones.kind", zone_kinds, VG_ZONE_NB, &k) < 0) return VG_ESYNTAX;
        z->kind = (vg_zone_kind_t)k;
        return 0;
    }
    if (!strcmp(key, "polygon")) return get_polygon(c, v, "zones.polygon", &z->polygon);
    if (!strcmp(key, "direction")) {
        vg_point_t d;
        double norm;
        if (get_point(c, v, "zones.direction", 0, &d) < 0) return VG_ESYNTAX;
        norm = hypot(d.x, d.y);
        if (norm < 1e-9)
            return fail(c, v, "zones.direction", "the direction [dx, dy] must not be [0, 0]");
        z->has_direction = 1;
        z->direction[0] = d.x / norm;
        z->direction[1] = d.y / norm;
        return 0;
    }
    if (!strcmp(key, "tolerance"))
        return get_number(c, v, "zones.tolerance", 0, 180, &z->tolerance_deg);
    if (!strcmp(key, "settings")) return get_settings(c, v, "zones.settings", "", z->settings);
    if (!strcmp(key, "priority")) return get_priority(c, v, "zones.priority", &z->priority);
    return VG_EBUG;
}

static int line_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    ctx_t *c = vc;
    vg_line_t *l = obj;
    int k;
    if (!strcmp(key, "name")) return get_string(c, v, "lines.name", &l->name);
    if (!strcmp(key, "points")) {
        if (!v || !fy_node_is_sequence(v) || fy_node_sequence_item_count(v) != 2)
            return fail(c, v, "lines.points", "expected two points [[x1, y1], [x2, y2]]");
        if (get_point(c, fy_node_sequence_get_by_index(v, 0), "lines.points", 1, &l->a) < 0 ||
            get_point(c, fy_node_sequence_get_by_index(v, 1), "lines.points", 1, &l->b) < 0)
            return VG_ESYNTAX;
        if (hypot(l->b.x - l->a.x, l->b.y - l->a.y) < 1)
            return fail(c, v, "lines.points", "the two points of a line must differ");
        return 0;
    }
    if (!strcmp(key, "forbidden")) {
        if (get_choice(c, v, "lines.forbidden", crossings, VG_CROSS_NB, &k) < 0) return VG_ESYNTAX;
        l->forbidden = (vg_crossing_t)k;
        return 0;
    }
    if (!strcmp(key, "priority")) return get_priority(c, v, "lines.priority", &l->priority);
    return VG_EBUG;
}

static int fixture_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    ctx_t *c = vc;
    vg_fixture_t *f = obj;
    if (!strcmp(key, "name")) return get_string(c, v, "fixtures.name", &f->name);
    if (!strcmp(key, "polygon")) return get_polygon(c, v, "fixtures.polygon", &f->polygon);
    return VG_EBUG;
}

static int calib_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    ctx_t *c = vc;
    vg_calib_point_t *p = obj;
    if (!strcmp(key, "image")) return get_point(c, v, "calibration.points.image", 1, &p->image);
    if (!strcmp(key, "ground")) return get_point(c, v, "calibration.points.ground", 0, &p->ground);
    return VG_EBUG;
}

static int has_key(struct fy_node *map, const char *key)
{
    return fy_node_mapping_lookup_by_string(map, key, FY_NT) != NULL;
}

static int check_unique(ctx_t *c, struct fy_node *n, const char *what, char **names, int count)
{
    for (int i = 1; i < count; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return fail(c, n, what, "two entries are called '%s': names must be unique",
                            names[i]);
    return 0;
}

static int parse_zones(ctx_t *c, struct fy_node *n)
{
    static const char *const keys[] = {"name",      "kind",     "polygon",  "direction",
                                       "tolerance", "settings", "priority", NULL};
    vg_scene_t *s = c->scene;
    void *it = NULL;
    struct fy_node *item;
    int count;
    char *names[256];
    if (!fy_node_is_sequence(n)) return fail(c, n, "zones", "expected a list of zones");
    count = fy_node_sequence_item_count(n);
    if (count > 256) return fail(c, n, "zones", "at most 256 zones per camera");
    s->zones = vg_calloc((size_t)count ? (size_t)count : 1, sizeof(vg_zone_t));
    if (!s->zones) return VG_ENOMEM;
    while ((item = fy_node_sequence_iterate(n, &it))) {
        vg_zone_t *z = &s->zones[s->nb_zones++];
        z->kind = VG_ZONE_WATCH;
        z->tolerance_deg = 45;
        z->line = vg__yaml_line(item);
        if (vg_settings_new(&z->settings) < 0) return VG_ENOMEM;
        if (walk_mapping(c, item, "zones", keys, zone_member, z) < 0) return VG_ESYNTAX;
        if (!z->name) return fail(c, item, "zones", "each zone needs a name");
        if (!z->polygon.n) return fail(c, item, z->name, "zone needs a polygon");
        names[s->nb_zones - 1] = z->name;
    }
    return check_unique(c, n, "zones", names, s->nb_zones);
}

static int parse_lines(ctx_t *c, struct fy_node *n)
{
    static const char *const keys[] = {"name", "points", "forbidden", "priority", NULL};
    vg_scene_t *s = c->scene;
    void *it = NULL;
    struct fy_node *item;
    int count;
    char *names[256];
    if (!fy_node_is_sequence(n)) return fail(c, n, "lines", "expected a list of lines");
    count = fy_node_sequence_item_count(n);
    if (count > 256) return fail(c, n, "lines", "at most 256 lines per camera");
    s->lines = vg_calloc((size_t)count ? (size_t)count : 1, sizeof(vg_line_t));
    if (!s->lines) return VG_ENOMEM;
    while ((item = fy_node_sequence_iterate(n, &it))) {
        vg_line_t *l = &s->lines[s->nb_lines++];
        l->line = vg__yaml_line(item);
        if (walk_mapping(c, item, "lines", keys, line_member, l) < 0) return VG_ESYNTAX;
        if (!l->name) return fail(c, item, "lines", "each line needs a name");
        if (!has_key(item, "points")) return fail(c, item, l->name, "line needs points");
        names[s->nb_lines - 1] = l->name;
    }
    return check_unique(c, n, "lines", names, s->nb_lines);
}

static int parse_polygon_list(ctx_t *c, struct fy_node *n, const char *key, vg_polygon_t **out,
                              int *nb)
{
    void *it = NULL;
    struct fy_node *item;
    int count;
    if (!fy_node_is_sequence(n))
        return fail(c, n, key, "expected a list of polygons [[[x, y], ...], ...]");
    count = fy_node_sequence_item_count(n);
    *out = vg_calloc((size_t)count ? (size_t)count : 1, sizeof(vg_polygon_t));
    if (!*out) return VG_ENOMEM;
    while ((item = fy_node_sequence_iterate(n, &it)))
        if (get_polygon(c, item, key, &(*out)[(*nb)++]) < 0) return VG_ESYNTAX;
    return 0;
}

static int masks_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    ctx_t *c = vc;
    vg_scene_t *s = obj;
    if (!strcmp(key, "privacy"))
        return parse_polygon_list(c, v, "masks.privacy", &s->privacy, &s->nb_privacy);
    return parse_polygon_list(c, v, "masks.ignore", &s->ignore, &s->nb_ignore);
}

static int parse_fixtures(ctx_t *c, struct fy_node *n)
{
    static const char *const keys[] = {"name", "polygon", NULL};
    vg_scene_t *s = c->scene;
    void *it = NULL;
    struct fy_node *item;
    int count;
    char *names[1024];
    if (!fy_node_is_sequence(n)) return fail(c, n, "fixtures", "expected a list of fixtures");
    count = fy_node_sequence_item_count(n);
    if (count > 1024) return fail(c, n, "fixtures", "at most 1024 fixtures per camera");
    s->fixtures = vg_calloc((size_t)count ? (size_t)count : 1, sizeof(vg_fixture_t));
    if (!s->fixtures) return VG_ENOMEM;
    while ((item = fy_node_sequence_iterate(n, &it))) {
        vg_fixture_t *f = &s->fixtures[s->nb_fixtures++];
        if (walk_mapping(c, item, "fixtures", keys, fixture_member, f) < 0) return VG_ESYNTAX;
        if (!f->name) return fail(c, item, "fixtures", "each fixture needs a name");
        if (!f->polygon.n) return fail(c, item, f->name, "fixture needs a polygon");
        names[s->nb_fixtures - 1] = f->name;
    }
    return check_unique(c, n, "fixtures", names, s->nb_fixtures);
}

static int calibration_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    ctx_t *c = vc;
    static const char *const keys[] = {"image", "ground", NULL};
    vg_scene_t *s = obj;
    void *it = NULL;
    struct fy_node *item;
    int count;
    (void)key;
    if (!fy_node_is_sequence(v))
        return fail(c, v, "calibration.points",
                    "expected a list of {image: [x, y], ground: [X, Y]}");
    count = fy_node_sequence_item_count(v);
    if (count < 4)
        return fail(c, v, "calibration.points",
                    "a ground-plane calibration needs at least 4 points, it has %d", count);
    s->calib = vg_calloc((size_t)count, sizeof(vg_calib_point_t));
    if (!s->calib) return VG_ENOMEM;
    while ((item = fy_node_sequence_iterate(v, &it))) {
        vg_calib_point_t *p = &s->calib[s->nb_calib++];
        if (walk_mapping(c, item, "calibration.points", keys, calib_member, p) < 0)
            return VG_ESYNTAX;
        if (!has_key(item, "image") || !has_key(item, "ground"))
            return fail(c, item, "calibration.points", "each point needs image and ground");
    }
    return 0;
}

static int events_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    ctx_t *c = vc;
    char prefix[96];
    (void)obj;
    snprintf(prefix, sizeof(prefix), "%s.", key);
    return get_settings(c, v, key, prefix, c->scene->settings);
}

static int top_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    ctx_t *c = vc;
    static const char *const mask_keys[] = {"privacy", "ignore", NULL};
    static const char *const calib_keys[] = {"points", NULL};
    vg_scene_t *s = obj;
    if (!strcmp(key, "version")) {
        double ver;
        if (get_number(c, v, "version", 1, 1, &ver) < 0) return VG_ESYNTAX;
        return 0;
    }
    if (!strcmp(key, "camera")) return get_string(c, v, "camera", &s->camera);
    if (!strcmp(key, "size")) {
        vg_point_t p;
        if (get_point(c, v, "size", 0, &p) < 0) return VG_ESYNTAX;
        if (p.x < 1 || p.y < 1 || p.x > 32768 || p.y > 32768 || p.x != floor(p.x) ||
            p.y != floor(p.y))
            return fail(c, v, "size", "expected the input size [width, height] in pixels");
        s->width = (int)p.x;
        s->height = (int)p.y;
        return 0;
    }
    if (!strcmp(key, "zones")) return parse_zones(c, v);
    if (!strcmp(key, "lines")) return parse_lines(c, v);
    if (!strcmp(key, "masks")) return walk_mapping(c, v, "masks", mask_keys, masks_member, s);
    if (!strcmp(key, "fixtures")) return parse_fixtures(c, v);
    if (!strcmp(key, "calibration"))
        return walk_mapping(c, v, "calibration", calib_keys, calibration_member, s);
    if (!strcmp(key, "settings")) return get_settings(c, v, "settings", "", s->settings);
    if (!strcmp(key, "events"))
        return walk_mapping(c, v, "events", vg_event_type_names(), events_member, s);
    return VG_EBUG;
}

static void free_polygon(vg_polygon_t *p)
{
    vg_freep(&p->pts);
    p->n = 0;
}

void vg_scene_free(vg_scene_t **ps)
{
    vg_scene_t *s = *ps;
    if (!s) return;
    for (int i = 0; i < s->nb_zones; i++) {
        vg_free(s->zones[i].name);
        free_polygon(&s->zones[i].polygon);
        vg_settings_free(&s->zones[i].settings);
    }
    for (int i = 0; i < s->nb_lines; i++) vg_free(s->lines[i].name);
    for (int i = 0; i < s->nb_privacy; i++) free_polygon(&s->privacy[i]);
    for (int i = 0; i < s->nb_ignore; i++) free_polygon(&s->ignore[i]);
    for (int i = 0; i < s->nb_fixtures; i++) {
        vg_free(s->fixtures[i].name);
        free_polygon(&s->fixtures[i].polygon);
    }
    vg_free(s->zones);
    vg_free(s->lines);
    vg_free(s->privacy);
    vg_free(s->ignore);
    vg_free(s->fixtures);
    vg_free(s->calib);
    vg_settings_free(&s->settings);
    vg_free(s->path);
    vg_free(s->camera);
    vg_free(s);
    *ps = NULL;
}

int vg_scene_new_empty(vg_scene_t **out)
{
    vg_scene_t *s = vg_calloc(1, sizeof(*s));
    if (!s) return VG_ENOMEM;
    s->path = vg_strdup("");
    s->camera = vg_strdup("");
    if (!s->path || !s->camera || vg_settings_new(&s->settings) < 0) {
        vg_scene_free(&s);
        return VG_ENOMEM;
    }
    *out = s;
    return 0;
}

/* libfyaml's diagnostics arrive as text through this callback; keep the first error. */
typedef struct diag_text {
    char msg[512];
    int have;
} diag_text_t;

static void diag_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    diag_text_t *d = user;
    (void)diag;
    if (d->have || !len) return;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) len--;
    snprintf(d->msg, sizeof(d->msg), "%.*s", (int)len, buf);
    d->have = 1;
}

static void collect_diag(struct fy_diag *diag, const char *file, char *err, size_t errlen)
{
    void *it = NULL;
    struct fy_diag_error *e = fy_diag_errors_iterate(diag, &it);
    diag_text_t *d = fy_diag_get_cfg(diag)->user;
    if (e)
        snprintf(err, errlen, "%s:%d:%d: not valid YAML: %s", file, e->line + 1, e->column + 1,
                 e->msg);
    else if (d && d->have)
        vg__yaml_diag_message(err, errlen, file, d->msg);
    else
        snprintf(err, errlen, "%s: not valid YAML", file);
}

static int parse_doc(vg_scene_t **out, struct fy_document *doc, struct fy_diag *diag,
                     const char *name, char *err, size_t errlen)
{
    static const char *const keys[] = {"version",  "camera", "size",     "zones",
                                       "lines",    "masks",  "fixtures", "calibration",
                                       "settings", "events", NULL};
    ctx_t c = {name, err, errlen, 0, NULL};
    struct fy_node *root;
    int ret;

    if (!doc) {
        collect_diag(diag, name, err, errlen);
        return VG_ESYNTAX;
    }
    ret = vg_scene_new_empty(&c.scene);
    if (ret < 0) return ret;
    vg_free(c.scene->path);
    c.scene->path = vg_strdup(name);
    if (!c.scene->path) {
        vg_scene_free(&c.scene);
        return VG_ENOMEM;
    }
    root = doc ? fy_document_root(doc) : NULL;
    if (!root) {
        *out = c.scene; /* an empty file is an empty scene */
        return 0;
    }
    struct fy_node *bad = vg__yaml_find_alias(root);
    if (bad) {
        fail(&c, bad, fy_node_is_alias(bad) ? "alias" : "nesting",
             fy_node_is_alias(bad)
                 ? "YAML aliases (*name) are not accepted in a scene: write the value out"
                 : "nested too deep for a scene");
        vg_scene_free(&c.scene);
        return VG_ESYNTAX;
    }
    /* The declared size bounds every coordinate, wherever it stands in the file. */
    if (fy_node_is_mapping(root)) {
        struct fy_node *size = fy_node_mapping_lookup_by_string(root, "size", FY_NT);
        if (size) top_member(&c, "size", size, c.scene);
    }
    ret = c.failed ? VG_ESYNTAX : walk_mapping(&c, root, "scene", keys, top_member, c.scene);
    if (ret == VG_ENOMEM && err) snprintf(err, errlen, "%s: out of memory", name);
    if (ret < 0 || c.failed) {
        vg_scene_free(&c.scene);
        return ret < 0 ? ret : VG_ESYNTAX;
    }
    *out = c.scene;
    return 0;
}

static struct fy_diag *make_diag(diag_text_t *text)
{
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_output;
    dcfg.user = text;
    dcfg.colorize = false;
    dcfg.show_source = false;
    dcfg.show_position = true;
    dcfg.show_type = false;
    dcfg.show_module = false;
    dcfg.level = FYET_ERROR;
    return fy_diag_create(&dcfg);
}

/* Only blank lines and comments: libfyaml builds no document for that, yet it is a valid,
 * empty scene. */
static int is_blank_yaml(const char *s, size_t len)
{
    int comment = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n')
            comment = 0;
        else if (s[i] == '#')
            comment = 1;
        else if (!comment && s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    }
    return 1;
}

int vg_scene_parse(vg_scene_t **out, const char *yaml, size_t len, const char *name, char *err,
                   size_t errlen)
{
    if (is_blank_yaml(yaml, len)) {
        int r = vg_scene_new_empty(out);
        if (r == 0) {
            vg_free((*out)->path);
            (*out)->path = vg_strdup(name);
            if (!(*out)->path) {
                vg_scene_free(out);
                r = VG_ENOMEM;
            }
        }
        return r;
    }

    diag_text_t text = {"", 0};
    struct fy_diag *diag = make_diag(&text);
    struct fy_parse_cfg cfg = {NULL, FYPCF_QUIET, NULL, diag};
    struct fy_document *doc;
    int ret;
    if (!diag) return VG_ENOMEM;
    doc = fy_document_build_from_string(&cfg, yaml, len);
    ret = parse_doc(out, doc, diag, name, err, errlen);
    fy_document_destroy(doc);
    fy_diag_destroy(diag);
    return ret;
}

int vg_scene_load(vg_scene_t **out, const char *path, char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    int ret = vg_file_read(path, VG_SCENE_MAX_BYTES, &buf, &n);
    if (ret == VG_ENOENT || ret == VG_EACCES) {
        snprintf(err, errlen, "%s: cannot read the scene file: %s", path, strerror(errno));
        return ret;
    }
    if (ret == VG_ERANGE) {
        snprintf(err, errlen,
                 "%s: a scene file may not exceed %u KiB (it is read before anything else is "
                 "checked); a scene is zones, lines and masks, not data",
                 path, VG_SCENE_MAX_BYTES >> 10);
        return VG_ESYNTAX;
    }
    if (ret == VG_EIO) snprintf(err, errlen, "%s: read error", path);
    if (ret < 0) return ret;
    if (memchr(buf, 0, n)) {
        vg_free(buf);
        snprintf(err, errlen, "%s: this is not a text file: a scene description is YAML text",
                 path);
        return VG_ESYNTAX;
    }
    ret = vg_scene_parse(out, (const char *)buf, n, path, err, errlen);
    vg_free(buf);
    return ret;
}

int vg_polygon_contains(const vg_polygon_t *poly, double x, double y)
{
    int inside = 0;
    for (int i = 0, j = poly->n - 1; i < poly->n; j = i++) {
        const vg_point_t *a = &poly->pts[i], *b = &poly->pts[j];
        /* on the edge: collinear and within the segment's bounding box */
        double cross = (b->x - a->x) * (y - a->y) - (b->y - a->y) * (x - a->x);
        if (fabs(cross) < 1e-9 && x >= fmin(a->x, b->x) && x <= fmax(a->x, b->x) &&
            y >= fmin(a->y, b->y) && y <= fmax(a->y, b->y))
            return 1;
        if ((a->y > y) != (b->y > y) && x < (b->x - a->x) * (y - a->y) / (b->y - a->y) + a->x)
            inside = !inside;
    }
    return inside;
}
