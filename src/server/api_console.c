/*
 * What the console needs besides the API proper: its files (embedded in the binary) and the
 * option tables (for the scene editor).
 */
#include "web_assets.h"
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vigie/error.h>
#include <vigie/file.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/pipeline.h>
#include <vigie/scene.h>
#include <vigie/version.h>

#include "api.h"

/* The console's files, embedded in the binary (web/, cmake/embed.cmake). */
int vg__api_static(const char *path, vg_http_resp_t *r)
{
    if (!strcmp(path, "/")) path = "/index.html";
    for (const vg_web_file_t *f = vg__web_files; f->path; f++)
        if (!strcmp(f->path, path)) {
            char *copy = vg_malloc(f->len ? f->len : 1);
            if (!copy) {
                vg__api_error(r, 500, "out of memory");
                return 1;
            }
            memcpy(copy, f->data, f->len);
            vg__api_set_body(r, 200, f->type, copy, f->len);
            return 1;
        }
    return 0;
}

/* The option tables, for the scene editor: name, type, default, range, unit, live, help. */
void vg__api_options(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                     const vg_route_ctx_t *x)
{
    json_t *arr = json_array();
    const vg_option_group_t *const *groups = vg_option_groups();
    for (int g = 0; groups[g]; g++) {
        json_t *opts = json_array();
        for (const vg_option_t *o = groups[g]->options; o && o->name; o++) {
            char def[128], range[256];
            vg_opt_format_default(o, def, sizeof(def));
            vg_opt_format_range(o, range, sizeof(range));
            json_array_append_new(opts, json_pack("{s:s,s:s,s:s,s:s,s:s?,s:b,s:s}", "name", o->name,
                                                  "type", vg_opt_type_name(o->type), "default", def,
                                                  "range", range, "unit", o->unit, "live",
                                                  !!(o->flags & VG_OPT_LIVE), "help",
                                                  o->help ? o->help : ""));
        }
        json_array_append_new(arr,
                              json_pack("{s:s,s:s,s:o}", "group", groups[g]->name, "help",
                                        groups[g]->help ? groups[g]->help : "", "options", opts));
    }
    vg__api_pack(r, 200, arr);
}
