/*
 * Option tables and settings.
 *
 * vg_opt_* read and write one module's params struct through its table: parse text into the
 * field at `offset` with type and range checks, format values back, set defaults. Parsing is
 * strict: "12abc" is not an int, "nan" is not a number, a bool is yes/no/true/false/on/off/1/0.
 *
 * vg_settings_t is the ordered list of "group.option = value" pairs gathered before modules exist
 * (command line, scene file); each entry keeps its origin so a bad value is reported where it was
 * written ("scene.yaml:14: input.width: 0 is below the minimum 16").
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <vigie/error.h>
#include <vigie/mem.h>
#include <vigie/opt.h>

static void fmt_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fmt_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!err || !len) return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

const char *vg_opt_type_name(vg_opt_type_t type)
{
    switch (type) {
    case VG_OPT_BOOL:
        return "bool";
    case VG_OPT_INT:
        return "int";
    case VG_OPT_DOUBLE:
        return "float";
    case VG_OPT_STRING:
        return "string";
    case VG_OPT_ENUM:
        return "enum";
    }
    return "?";
}

const vg_option_t *vg_opt_find(const vg_option_t *table, const char *name)
{
    for (const vg_option_t *o = table; o && o->name; o++)
        if (!strcmp(o->name, name)) return o;
    return NULL;
}

#define FIELD(obj, o, T)  ((T *)(void *)((char *)(obj) + (o)->offset))
#define CFIELD(obj, o, T) ((const T *)(const void *)((const char *)(obj) + (o)->offset))

int vg_opt_defaults(void *obj, const vg_option_t *table)
{
    for (const vg_option_t *o = table; o && o->name; o++) {
        switch (o->type) {
        case VG_OPT_BOOL:
        case VG_OPT_INT:
        case VG_OPT_ENUM:
            *FIELD(obj, o, int) = (int)o->def.i;
            break;
        case VG_OPT_DOUBLE:
            *FIELD(obj, o, double) = o->def.d;
            break;
        case VG_OPT_STRING: {
            char *s = vg_strdup(o->def.s ? o->def.s : "");
            if (!s) return VG_ENOMEM;
            vg_free(*FIELD(obj, o, char *));
            *FIELD(obj, o, char *) = s;
            break;
        }
        }
    }
    return 0;
}

void vg_opt_free(void *obj, const vg_option_t *table)
{
    for (const vg_option_t *o = table; o && o->name; o++)
        if (o->type == VG_OPT_STRING) vg_freep(FIELD(obj, o, char *));
}

int vg_opt_copy(void *dst, const void *src, const vg_option_t *table)
{
    for (const vg_option_t *o = table; o && o->name; o++) {
        switch (o->type) {
        case VG_OPT_BOOL:
        case VG_OPT_INT:
        case VG_OPT_ENUM:
            *FIELD(dst, o, int) = *CFIELD(src, o, int);
            break;
        case VG_OPT_DOUBLE:
            *FIELD(dst, o, double) = *CFIELD(src, o, double);
            break;
        case VG_OPT_STRING: {
            const char *s = *CFIELD(src, o, char *);
            char *d = vg_strdup(s ? s : "");
            if (!d) return VG_ENOMEM;
            *FIELD(dst, o, char *) = d;
            break;
        }
        }
    }
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"1", "yes", "true", "on"};
    static const char *const no[] = {"0", "no", "false", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) return *out = 1, 0;
        if (!strcasecmp(v, no[i])) return *out = 0, 0;
    }
    return VG_EINVAL;
}

static void fmt_num(char *buf, size_t len, double v, int integer)
{
    if (integer)
        snprintf(buf, len, "%lld", (long long)v);
    else
        snprintf(buf, len, "%g", v);
}

int vg_opt_parse(void *obj, const vg_option_t *o, const char *value, char *err, size_t errlen)
{
    char *end, lo[32], hi[32];
    int integer = o->type == VG_OPT_INT;

    if (!value) value = "";
    switch (o->type) {
    case VG_OPT_BOOL: {
        int b;
        if (parse_bool(value, &b) < 0) {
            fmt_err(err, errlen, "'%s' is not a yes/no value (use yes, no, true, false, 1 or 0)",
                    value);
            return VG_EINVAL;
        }
        *FIELD(obj, o, int) = b;
        return 0;
    }
    case VG_OPT_INT:
    case VG_OPT_DOUBLE: {
        double v;
        errno = 0;
        if (integer) {
            long long l = strtoll(value, &end, 10);
            v = (double)l;
        } else {
            v = strtod(value, &end);
        }
        if (!*value || *end || errno == ERANGE || !isfinite(v)) {
            fmt_err(err, errlen, "'%s' is not %s", value, integer ? "a whole number" : "a number");
            return VG_EINVAL;
        }
        if (v < o->min || v > o->max) {
            fmt_num(lo, sizeof(lo), o->min, integer);
            fmt_num(hi, sizeof(hi), o->max, integer);
            fmt_err(err, errlen, "%s is out of range: use a value from %s to %s%s%s", value, lo, hi,
                    o->unit ? " " : "", o->unit ? o->unit : "");
            return VG_ERANGE;
        }
        if (integer)
            *FIELD(obj, o, int) = (int)v;
        else
            *FIELD(obj, o, double) = v;
        return 0;
    }
    case VG_OPT_STRING: {
        char *s = vg_strdup(value);
        if (!s) return VG_ENOMEM;
        if (o->max > 0 && strlen(s) > (size_t)o->max) {
            fmt_err(err, errlen, "text is longer than %d characters", (int)o->max);
            vg_free(s);
            return VG_ERANGE;
        }
        vg_free(*FIELD(obj, o, char *));
        *FIELD(obj, o, char *) = s;
        return 0;
    }
    case VG_OPT_ENUM: {
        char list[256];
        for (int i = 0; o->choices && o->choices[i]; i++)
            if (!strcasecmp(value, o->choices[i])) return *FIELD(obj, o, int) = i, 0;
        vg_opt_format_range(o, list, sizeof(list));
        fmt_err(err, errlen, "'%s' is not one of %s", value, list);
        return VG_EINVAL;
    }
    }
    return VG_EBUG;
}

int vg_opt_set(void *obj, const vg_option_t *table, const char *name, const char *value, char *err,
               size_t errlen)
{
    const vg_option_t *o = vg_opt_find(table, name);
    if (!o) {
        fmt_err(err, errlen, "no option called '%s'", name);
        return VG_EOPTION;
    }
    return vg_opt_parse(obj, o, value, err, errlen);
}

static int format_value(const vg_option_t *o, int iv, double dv, const char *sv, char *buf,
                        size_t len)
{
    if (o->flags & VG_OPT_SECRET) return snprintf(buf, len, "(secret)");
    switch (o->type) {
    case VG_OPT_BOOL:
        return snprintf(buf, len, "%s", iv ? "yes" : "no");
    case VG_OPT_INT:
        return snprintf(buf, len, "%d", iv);
    case VG_OPT_DOUBLE:
        return snprintf(buf, len, "%g", dv);
    case VG_OPT_STRING:
        return snprintf(buf, len, "%s", sv ? sv : "");
    case VG_OPT_ENUM: {
        int n = 0;
        while (o->choices && o->choices[n]) n++;
        return snprintf(buf, len, "%s", iv >= 0 && iv < n ? o->choices[iv] : "?");
    }
    }
    return snprintf(buf, len, "?");
}

int vg_opt_format(const void *obj, const vg_option_t *o, char *buf, size_t len)
{
    int iv = 0;
    double dv = 0;
    const char *sv = NULL;
    if (o->type == VG_OPT_DOUBLE)
        dv = *CFIELD(obj, o, double);
    else if (o->type == VG_OPT_STRING)
        sv = *CFIELD(obj, o, char *);
    else
        iv = *CFIELD(obj, o, int);
    return format_value(o, iv, dv, sv, buf, len);
}

int vg_opt_format_default(const vg_option_t *o, char *buf, size_t len)
{
    return format_value(o, (int)o->def.i, o->def.d, o->def.s, buf, len);
}

int vg_opt_format_range(const vg_option_t *o, char *buf, size_t len)
{
    char lo[32], hi[32];
    size_t n = 0;
    switch (o->type) {
    case VG_OPT_BOOL:
        return snprintf(buf, len, "yes|no");
    case VG_OPT_INT:
    case VG_OPT_DOUBLE:
        fmt_num(lo, sizeof(lo), o->min, o->type == VG_OPT_INT);
        fmt_num(hi, sizeof(hi), o->max, o->type == VG_OPT_INT);
        return snprintf(buf, len, "%s .. %s", lo, hi);
    case VG_OPT_STRING:
        return snprintf(buf, len, "text");
    case VG_OPT_ENUM:
        if (len) buf[0] = 0;
        for (int i = 0; o->choices && o->choices[i]; i++) {
            int w = snprintf(buf + n, len > n ? len - n : 0, "%s%s", i ? "|" : "", o->choices[i]);
            if (w > 0) n += (size_t)w;
        }
        return (int)n;
    }
    return 0;
}

/* ---- settings ---- */

typedef struct setting {
    char *key, *value, *origin;
} setting_t;

struct vg_settings {
    setting_t *items;
    size_t n, cap;
};

int vg_settings_new(vg_settings_t **out)
{
    vg_settings_t *s = vg_calloc(1, sizeof(*s));
    if (!s) return VG_ENOMEM;
    *out = s;
    return 0;
}

void vg_settings_free(vg_settings_t **ps)
{
    vg_settings_t *s = *ps;
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        vg_free(s->items[i].key);
        vg_free(s->items[i].value);
        vg_free(s->items[i].origin);
    }
    vg_free(s->items);
    vg_free(s);
    *ps = NULL;
}

int vg_settings_add(vg_settings_t *s, const char *key, const char *value, const char *origin)
{
    setting_t it;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        setting_t *items = vg_realloc(s->items, cap * sizeof(*items));
        if (!items) return VG_ENOMEM;
        s->items = items;
        s->cap = cap;
    }
    it.key = vg_strdup(key);
    it.value = vg_strdup(value ? value : "");
    it.origin = vg_strdup(origin ? origin : "");
    if (!it.key || !it.value || !it.origin) {
        vg_free(it.key);
        vg_free(it.value);
        vg_free(it.origin);
        return VG_ENOMEM;
    }
    s->items[s->n++] = it;
    return 0;
}

int vg_settings_add_arg(vg_settings_t *s, const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    char key[256];
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(key)) {
        fmt_err(err, errlen, "--set %s: expected KEY=VALUE, for example --set input.width=640",
                arg);
        return VG_EINVAL;
    }
    memcpy(key, arg, (size_t)(eq - arg));
    key[eq - arg] = 0;
    return vg_settings_add(s, key, eq + 1, "--set");
}

int vg_settings_merge(vg_settings_t *s, const vg_settings_t *src)
{
    for (size_t i = 0; src && i < src->n; i++) {
        int ret = vg_settings_add(s, src->items[i].key, src->items[i].value, src->items[i].origin);
        if (ret < 0) return ret;
    }
    return 0;
}

size_t vg_settings_count(const vg_settings_t *s)
{
    return s ? s->n : 0;
}

void vg_settings_get(const vg_settings_t *s, size_t i, const char **key, const char **value,
                     const char **origin)
{
    if (key) *key = s->items[i].key;
    if (value) *value = s->items[i].value;
    if (origin) *origin = s->items[i].origin;
}

const char *vg_settings_lookup(const vg_settings_t *s, const char *key)
{
    for (size_t i = s ? s->n : 0; i-- > 0;)
        if (!strcmp(s->items[i].key, key)) return s->items[i].value;
    return NULL;
}

/* Splits "group.option" at its first dot; returns the option part when the group matches. */
static const char *in_group(const char *key, const char *group)
{
    size_t n = strlen(group);
    if (!strncmp(key, group, n) && key[n] == '.') return key + n + 1;
    return NULL;
}

int vg_settings_apply(const vg_settings_t *s, const vg_option_group_t *group, void *obj, char *err,
                      size_t errlen)
{
    char msg[384];
    for (size_t i = 0; s && i < s->n; i++) {
        const setting_t *it = &s->items[i];
        const char *name = in_group(it->key, group->name);
        int ret;
        if (!name) continue;
        ret = vg_opt_set(obj, group->options, name, it->value, msg, sizeof(msg));
        if (ret < 0) {
            if (ret == VG_EOPTION)
                fmt_err(err, errlen, "%s: %s: %s has no option '%s' (see 'vigie options %s')",
                        it->origin, it->key, group->name, name, group->name);
            else
                fmt_err(err, errlen, "%s: %s: %s", it->origin, it->key, msg);
            return ret;
        }
    }
    return 0;
}

int vg_settings_validate(const vg_settings_t *s, const vg_option_group_t *const *groups, char *err,
                         size_t errlen)
{
    char scratch[512] __attribute__((aligned(16)));
    for (size_t i = 0; s && i < s->n; i++) {
        const setting_t *it = &s->items[i];
        const vg_option_group_t *g = NULL;
        const char *name = NULL;
        char list[512];
        size_t n = 0;
        for (int k = 0; groups[k]; k++)
            if ((name = in_group(it->key, groups[k]->name))) {
                g = groups[k];
                break;
            }
        if (!g) {
            list[0] = 0;
            for (int k = 0; groups[k]; k++) {
                int w = snprintf(list + n, sizeof(list) > n ? sizeof(list) - n : 0, "%s%s",
                                 k ? ", " : "", groups[k]->name);
                if (w > 0) n += (size_t)w;
            }
            fmt_err(err, errlen,
                    "%s: '%s' is not an option: names are GROUP.OPTION with GROUP one of %s "
                    "(see 'vigie options')",
                    it->origin, it->key, list);
            return VG_EOPTION;
        }
        const vg_option_t *o = vg_opt_find(g->options, name);
        if (!o) {
            fmt_err(err, errlen, "%s: %s: %s has no option '%s' (see 'vigie options %s')",
                    it->origin, it->key, g->name, name, g->name);
            return VG_EOPTION;
        }
        /* Parse into a scratch field to check the value without touching any module. */
        vg_option_t probe = *o;
        char msg[384];
        memset(scratch, 0, sizeof(scratch));
        probe.offset = 0;
        int ret = vg_opt_parse(scratch, &probe, it->value, msg, sizeof(msg));
        if (probe.type == VG_OPT_STRING) vg_free(*(char **)scratch);
        if (ret < 0) {
            fmt_err(err, errlen, "%s: %s: %s", it->origin, it->key, msg);
            return ret;
        }
    }
    return 0;
}
