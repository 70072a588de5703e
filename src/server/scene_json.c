/*
 * A scene as JSON for the console, in the scene file's own schema (docs/scene.md), so that the
 * scene editor can send it back as is: JSON is YAML, and PUT /api/cameras/NAME/scene parses it
 * with the scene parser. Settings come back as full option names under "settings" (the parser
 * takes "events:" entries the same way), values as the text they were given.
 */
#include <jansson.h>
#include <string.h>

#include <vigie/mem.h>
#include <vigie/scene.h>

#include "server_priv.h"

static json_t *point(vg_point_t p)
{
    return json_pack("[f,f]", p.x, p.y);
}

static json_t *polygon(const vg_polygon_t *poly)
{
    json_t *a = json_array();
    for (int i = 0; i < poly->n; i++) json_array_append_new(a, point(poly->pts[i]));
    return a;
}

static json_t *settings(const vg_settings_t *s)
{
    json_t *o = json_object();
    for (size_t i = 0; s && i < vg_settings_count(s); i++) {
        const char *k, *v;
        vg_settings_get(s, i, &k, &v, NULL);
        json_object_set_new(o, k, json_string(v));
    }
    return o;
}

char *vg__scene_json(const vg_scene_t *sc, json_t *extra)
{
    json_t *o = json_object(), *a;
    if (sc->camera && sc->camera[0]) json_object_set_new(o, "camera", json_string(sc->camera));
    if (sc->width) json_object_set_new(o, "size", json_pack("[i,i]", sc->width, sc->height));
    a = json_array();
    for (int i = 0; i < sc->nb_zones; i++) {
        const vg_zone_t *z = &sc->zones[i];
        json_t *zo = json_pack("{s:s,s:s,s:o}", "name", z->name, "kind", vg_zone_kind_name(z->kind),
                               "polygon", polygon(&z->polygon));
        if (z->has_direction) {
            json_object_set_new(zo, "direction",
                                json_pack("[f,f]", z->direction[0], z->direction[1]));
            json_object_set_new(zo, "tolerance", json_real(z->tolerance_deg));
        }
        if (z->settings && vg_settings_count(z->settings))
            json_object_set_new(zo, "settings", settings(z->settings));
        if (z->priority)
            json_object_set_new(zo, "priority", json_string(vg_priority_name(z->priority)));
        json_array_append_new(a, zo);
    }
    json_object_set_new(o, "zones", a);
    a = json_array();
    for (int i = 0; i < sc->nb_lines; i++) {
        const vg_line_t *l = &sc->lines[i];
        json_t *lo = json_pack("{s:s,s:[o,o],s:s}", "name", l->name, "points", point(l->a),
                               point(l->b), "forbidden", vg_crossing_name(l->forbidden));
        if (lo && l->priority)
            json_object_set_new(lo, "priority", json_string(vg_priority_name(l->priority)));
        json_array_append_new(a, lo);
    }
    json_object_set_new(o, "lines", a);
    json_t *masks = json_object(), *pm = json_array(), *im = json_array();
    for (int i = 0; i < sc->nb_privacy; i++) json_array_append_new(pm, polygon(&sc->privacy[i]));
    for (int i = 0; i < sc->nb_ignore; i++) json_array_append_new(im, polygon(&sc->ignore[i]));
    if (json_array_size(pm)) json_object_set(masks, "privacy", pm);
    if (json_array_size(im)) json_object_set(masks, "ignore", im);
    json_decref(pm);
    json_decref(im);
    if (json_object_size(masks))
        json_object_set_new(o, "masks", masks);
    else
        json_decref(masks);
    a = json_array();
    for (int i = 0; i < sc->nb_fixtures; i++)
        json_array_append_new(a, json_pack("{s:s,s:o}", "name", sc->fixtures[i].name, "polygon",
                                           polygon(&sc->fixtures[i].polygon)));
    json_object_set_new(o, "fixtures", a);
    if (sc->nb_calib) {
        json_t *pts = json_array();
        for (int i = 0; i < sc->nb_calib; i++)
            json_array_append_new(pts, json_pack("{s:o,s:o}", "image", point(sc->calib[i].image),
                                                 "ground", point(sc->calib[i].ground)));
        json_object_set_new(o, "calibration", json_pack("{s:o}", "points", pts));
    }
    if (sc->settings && vg_settings_count(sc->settings))
        json_object_set_new(o, "settings", settings(sc->settings));
    if (extra) json_object_update(o, extra);
    char *txt = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    char *out = txt ? vg_strdup(txt) : NULL;
    free(txt);
    json_decref(o);
    return out;
}
