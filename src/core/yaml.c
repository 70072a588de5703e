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
