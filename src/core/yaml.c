/* Small libfyaml helpers shared by the scene parser and vigie serve's config parser. */
#include <stdio.h>
#include <string.h>

#include "yaml.h"

void vg__yaml_vfail(char *err, size_t errlen, const char *file, struct fy_node *n, const char *key,
                    const char *fmt, va_list ap)
{
    char msg[512];
    if (!err || !errlen) return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    int line = vg__yaml_line(n);
    if (line)
        snprintf(err, errlen, "%s:%d: %s: %s", file, line, key, msg);
    else
        snprintf(err, errlen, "%s: %s: %s", file, key, msg);
}

void vg__yaml_diag_message(char *err, size_t errlen, const char *file, const char *diag)
{
    const char *m = diag, *text;
    if (*m == '<' && strstr(m, ">:")) m = strstr(m, ">:") + 2;
    text = strstr(m, ": error: ");
    if (text)
        snprintf(err, errlen, "%s:%.*s: not valid YAML: %s", file, (int)(text - m), m, text + 9);
    else
        snprintf(err, errlen, "%s: not valid YAML: %s", file, m);
}

int vg__yaml_line(struct fy_node *n)
{
    struct fy_token *t;
    const struct fy_mark *m;
    void *it = NULL;
    if (!n) return 0;
    switch (fy_node_get_type(n)) {
    case FYNT_SCALAR:
        t = fy_node_get_scalar_token(n);
        m = t ? fy_token_start_mark(t) : NULL;
        return m ? m->line + 1 : 0;
    case FYNT_MAPPING: {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? vg__yaml_line(fy_node_pair_key(p)) : 0;
    }
    case FYNT_SEQUENCE:
        return vg__yaml_line(fy_node_sequence_iterate(n, &it));
    }
    return 0;
}

int vg__yaml_walk(struct fy_node *n, const char *what, const char *const *allowed,
                  vg_yaml_member_fn member, vg_yaml_fail_fn fail, void *ctx, void *obj)
{
    void *it = NULL;
    struct fy_node_pair *p;
    char msg[700];
    if (!n || !fy_node_is_mapping(n))
        return fail(ctx, n, what, "expected a mapping of keys (key: value)");
    while ((p = fy_node_mapping_iterate(n, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        const char *key = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
        int known = 0;
        if (!key) return fail(ctx, k, what, "keys must be plain names");
        for (int i = 0; allowed[i]; i++) known |= !strcmp(allowed[i], key);
        if (!known) {
            size_t len =
                (size_t)snprintf(msg, sizeof(msg), "unknown key in %s (known keys: ", what);
            for (int i = 0; allowed[i] && len < sizeof(msg); i++)
                len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s", i ? ", " : "",
                                        allowed[i]);
            if (len < sizeof(msg)) snprintf(msg + len, sizeof(msg) - len, ")");
            return fail(ctx, k, key, msg);
        }
        int ret = member(ctx, key, fy_node_pair_value(p), obj);
        if (ret < 0) return ret;
    }
    return 0;
}

static struct fy_node *find_alias(struct fy_node *n, int depth)
{
    if (!n) return NULL;
    if (fy_node_is_alias(n) || depth > 64) return n;
    void *it = NULL;
    if (fy_node_is_sequence(n)) {
        struct fy_node *item, *bad;
        while ((item = fy_node_sequence_iterate(n, &it)))
            if ((bad = find_alias(item, depth + 1))) return bad;
    } else if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p;
        struct fy_node *bad;
        while ((p = fy_node_mapping_iterate(n, &it)))
            if ((bad = find_alias(fy_node_pair_key(p), depth + 1)) ||
                (bad = find_alias(fy_node_pair_value(p), depth + 1)))
                return bad;
    }
    return NULL;
}

struct fy_node *vg__yaml_find_alias(struct fy_node *n)
{
    return find_alias(n, 0);
}
