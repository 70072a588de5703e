/*
 * The registry of built-in analysers: the one list a new analyser joins (one line in
 * VG_STAGE_LIST below, beside its own files), and what is derived from it — the run order, the
 * option groups, the selection behind --analysers.
 *
 * Order: each class declares the slots it needs, uses and provides (<vigie/stage.h>); a stage
 * runs after every stage that provides a slot it needs or uses. vg_stage_order is a stable
 * topological sort (Kahn's, always taking the first ready class in the given order), so the
 * list's own order only breaks ties. A need that no earlier stage provides is refused with a
 * message that names who provides it; a cycle is refused too.
 *
 * Option groups: input and pipeline, then the groups the classes read besides their own (detect
 * reads detector, zones reads intrusion and wrong_way), then each class's own group, each once
 * (by name). Built once (pthread_once) into static tables that nothing changes afterwards.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <vigie/egomotion.h>
#include <vigie/error.h>
#include <vigie/pipeline.h>

/* The built-in analysers, one line each (a new one goes above the last line). */
#define VG_STAGE_LIST(X)                                                                           \
    X(vg__motion_stage)                                                                            \
    X(vg__tracker_stage)                                                                           \
    X(vg__detect_stage)                                                                            \
    X(vg__zones_stage)                                                                             \
    X(vg__abandoned_stage)                                                                         \
    X(vg__crowd_stage)                                                                             \
    X(vg__density_stage)                                                                           \
    X(vg__camera_health_stage)                                                                     \
    X(vg__fall_stage)                                                                              \
    X(vg__fire_stage)                                                                              \
    X(vg__weapon_stage)                                                                            \
    /* end of the list */

#define DECLARE(c) extern const vg_stage_class_t c;
#define ADDRESS(c) &c,
VG_STAGE_LIST(DECLARE)
static const vg_stage_class_t *const registered[] = {VG_STAGE_LIST(ADDRESS) NULL};
#undef DECLARE
#undef ADDRESS

#define NB_CLASSES (sizeof(registered) / sizeof(*registered) - 1)
#define MAX_GROUPS (2 + 8 * NB_CLASSES)

static struct {
    const vg_stage_class_t *order[NB_CLASSES + 1];
    vg_option_group_t own[NB_CLASSES];
    const vg_option_group_t *groups[MAX_GROUPS + 1];
    int failed;
} reg;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

static const char *slot_name(int s)
{
    static const char *const names[] = {"foreground mask", "foreground objects", "tracks",
                                        "detections",      "optical flow",       "event scores",
                                        "background model"};
    return s >= 0 && s < (int)(sizeof(names) / sizeof(*names)) ? names[s] : "results";
}

/* Who among the registered classes provides slot @s (for the message), or NULL. */
static const char *provider_of(int s)
{
    for (size_t i = 0; i < NB_CLASSES; i++)
        if (registered[i]->provides & VG_SLOT_BIT(s)) return registered[i]->name;
    return NULL;
}

int vg_stage_order(const vg_stage_class_t **cls, int n, char *err, size_t errlen)
{
    const vg_stage_class_t *in[64], *out[64];
    int done[64] = {0};
    if (n < 0 || n > 64) return VG_EINVAL;
    memcpy(in, cls, (size_t)n * sizeof(*in));
    for (int k = 0; k < n; k++) {
        int pick = -1;
        for (int i = 0; i < n && pick < 0; i++) {
            if (done[i]) continue;
            unsigned want = in[i]->needs | in[i]->uses;
            int ready = 1;
            for (int j = 0; j < n && ready; j++)
                if (j != i && !done[j] && (in[j]->provides & want)) ready = 0;
            if (ready) pick = i;
        }
        if (pick < 0) {
            snprintf(err, errlen, "the analysers %s and others wait on each other's results",
                     in[0]->name);
            return VG_EINVAL;
        }
        done[pick] = 1;
        out[k] = in[pick];
    }
    /* Every need met by an earlier stage? */
    for (int k = 0; k < n; k++) {
        unsigned have = 0;
        for (int j = 0; j < k; j++) have |= out[j]->provides;
        unsigned missing = out[k]->needs & ~have;
        for (int s = 0; missing && s < 32; s++) {
            if (!(missing & VG_SLOT_BIT(s))) continue;
            const char *by = provider_of(s);
            if (by)
                snprintf(err, errlen,
                         "analyser '%s' needs the %s that analyser '%s' provides: add '%s' to "
                         "the analysers",
                         out[k]->name, slot_name(s), by, by);
            else
                snprintf(err, errlen, "analyser '%s' needs %s that no analyser provides",
                         out[k]->name, slot_name(s));
            return VG_EINVAL;
        }
    }
    memcpy(cls, out, (size_t)n * sizeof(*cls));
    return 0;
}

static void add_group(int *n, const vg_option_group_t *g)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(reg.groups[i]->name, g->name)) return;
    if (*n < (int)MAX_GROUPS) reg.groups[(*n)++] = g;
}

static int is_own_group(const char *name)
{
    for (size_t i = 0; i < NB_CLASSES; i++)
        if (!strcmp(registered[i]->name, name)) return 1;
    return 0;
}

static void build(void)
{
    char err[256];
    int n = 0;
    memcpy(reg.order, registered, sizeof(registered));
    /* The registered classes cannot be unorderable without a programmer error; keep the
     * list's order then, and say so through vg_stage_select. */
    if (vg_stage_order(reg.order, (int)NB_CLASSES, err, sizeof(err)) < 0) reg.failed = 1;
    add_group(&n, &vg_source_option_group);
    add_group(&n, &vg_pipeline_option_group);
    add_group(&n, &vg_ego_option_group);
    for (size_t i = 0; i < NB_CLASSES; i++)
        for (const vg_option_group_t *const *r = reg.order[i]->reads; r && *r; r++)
            if (!is_own_group((*r)->name)) add_group(&n, *r);
    for (size_t i = 0; i < NB_CLASSES; i++) {
        const vg_stage_class_t *c = reg.order[i];
        reg.own[i] = (vg_option_group_t){c->name, c->help, c->options};
        add_group(&n, &reg.own[i]);
    }
    reg.groups[n] = NULL;
}

const vg_stage_class_t *const *vg_stage_classes(void)
{
    pthread_once(&reg_once, build);
    return reg.order;
}

const vg_stage_class_t *vg_stage_class_find(const char *name)
{
    for (size_t i = 0; i < NB_CLASSES; i++)
        if (!strcmp(registered[i]->name, name)) return registered[i];
    return NULL;
}

const vg_option_group_t *const *vg_option_groups(void)
{
    pthread_once(&reg_once, build);
    return reg.groups;
}

int vg_stage_select(const char *list, const vg_stage_class_t **out, int max, char *err,
                    size_t errlen)
{
    const vg_stage_class_t *const *all = vg_stage_classes();
    char buf[1024], *save = NULL;
    int n = 0, ret;
    if (reg.failed) {
        snprintf(err, errlen, "the built-in analysers cannot be ordered (a bug: please report)");
        return VG_EBUG;
    }
    if (!list || !strcmp(list, "all")) {
        for (int i = 0; all[i] && n < max; i++) out[n++] = all[i];
        return n;
    }
    if (!strcmp(list, "none")) return 0;
    if (strlen(list) >= sizeof(buf)) {
        snprintf(err, errlen, "the list of analysers is too long");
        return VG_EINVAL;
    }
    memcpy(buf, list, strlen(list) + 1);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const vg_stage_class_t *c = vg_stage_class_find(tok);
        if (!c) {
            size_t off = (size_t)snprintf(err, errlen,
                                          "analysers: no analyser called '%s'; available:", tok);
            for (int i = 0; all[i] && off < errlen; i++)
                off += (size_t)snprintf(err + off, errlen - off, " %s", all[i]->name);
            return VG_EINVAL;
        }
        int dup = 0;
        for (int i = 0; i < n; i++) dup |= out[i] == c;
        if (dup) continue;
        if (n >= max) {
            snprintf(err, errlen, "too many analysers");
            return VG_EINVAL;
        }
        out[n++] = c;
    }
    if ((ret = vg_stage_order(out, n, err, errlen)) < 0) return ret;
    return n;
}
