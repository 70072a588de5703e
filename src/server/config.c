/*
 * The `vigie serve` config file (YAML, docs/server.md):
 *
 *   listen: 127.0.0.1:8080           # address:port; loopback by default, port 0 = any free one
 *   storage: /var/lib/vigie          # database, evidence/, originals/, audit-anchors.log
 *   retention: {evidence_days: 30, audit_days: 365, counts_days: 365, every: 3600}
 *   evidence: {keep_original: false, original_roles: [supervisor], pixel_block: 12,
 *              clip_before: 5, clip_after: 5, clip_fps: 8}
 *   security: {session_hours: 12, body_limit: 65536, login_failures: 5, login_lockout: 300,
 *              login_parallel: 2}
 *   limits: {connections: 1024, connections_per_address: 64, streams: 256,
 *            streams_per_address: 32, streams_per_login: 4, logins_per_user: 8,
 *            header_timeout: 10, body_timeout: 30, threads: 4, memory_mb: 8192,
 *            camera_memory_mb: 2048}
 *   audit: {anchor_every: 3600, repeat_window: 60, signing_key: /etc/vigie/audit.key}
 *   instructions: {fire: "Call the fire brigade (18), then ...", intrusion: "..."}
 *   priorities: {intrusion: normal, camera_fault: low}   # low | normal | high, per event type
 *   cameras:
 *     - name: hall
 *       input: /usr/share/doc/opencv-doc/examples/data/vtest.avi
 *       loop: true                   # files only
 *       scene: scenes/hall.yaml      # relative to this file
 *       settings: {detect.wait: no}  # any option, as with --set
 *
 * Strict like the scene parser: an unknown key, a wrong type or a value out of range is an error
 * naming the file, the line and the key. Camera names are unique, 1-63 characters of letters,
 * digits, '.', '_' and '-' (they name folders and appear in URLs).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libfyaml.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <vigie/error.h>
#include <vigie/event.h>
#include <vigie/file.h>
#include <vigie/mem.h>
#include <vigie/server.h>
#include <vigie/pipeline.h>
#include <vigie/store.h>

#include "core/sha256.h"
#include "core/yaml.h"

typedef struct cctx {
    const char *file;
    char *err;
    size_t errlen;
    int failed;
    char dir[PATH_MAX];
    char diag[512];
} cctx_t;

static int cfail(cctx_t *c, struct fy_node *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cfail(cctx_t *c, struct fy_node *n, const char *key, const char *fmt, ...)
{
    va_list ap;
    if (c->failed) return VG_ESYNTAX;
    c->failed = 1;
    va_start(ap, fmt);
    vg__yaml_vfail(c->err, c->errlen, c->file, n, key, fmt, ap);
    va_end(ap);
    return VG_ESYNTAX;
}

static const char *cscalar(cctx_t *c, struct fy_node *n, const char *key)
{
    const char *s = n && fy_node_is_scalar(n) ? fy_node_get_scalar0(n) : NULL;
    if (!s) cfail(c, n, key, "expected a single value");
    return s;
}

static int cnum(cctx_t *c, struct fy_node *n, const char *key, double min, double max, double *out)
{
    const char *s = cscalar(c, n, key);
    char *end;
    if (!s) return VG_ESYNTAX;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v)) return cfail(c, n, key, "'%s' is not a number", s);
    if (v < min || v > max)
        return cfail(c, n, key, "%s is out of range: use a value from %g to %g", s, min, max);
    *out = v;
    return 0;
}

static int cbool(cctx_t *c, struct fy_node *n, const char *key, int *out)
{
    const char *s = cscalar(c, n, key);
    if (!s) return VG_ESYNTAX;
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off") || !strcmp(s, "0"))
        *out = 0;
    else
        return cfail(c, n, key, "'%s' is not true or false", s);
    return 0;
}

/* A path: relative ones are taken from the config file's directory. */
static int cpath(cctx_t *c, struct fy_node *n, const char *key, char **out)
{
    const char *s = cscalar(c, n, key);
    char buf[PATH_MAX * 2];
    if (!s) return VG_ESYNTAX;
    if (!*s) return cfail(c, n, key, "must not be empty");
    if (s[0] == '/' || strstr(s, "://") || !strncmp(s, "/dev/", 5))
        snprintf(buf, sizeof(buf), "%s", s);
    else
        snprintf(buf, sizeof(buf), "%s/%s", c->dir, s);
    vg_free(*out);
    *out = vg_strdup(buf);
    return *out ? 0 : VG_ENOMEM;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-') return 0;
    return s[0] != '.';
}

static int cfail_msg(void *c, struct fy_node *n, const char *key, const char *msg)
{
    return cfail(c, n, key, "%s", msg);
}

/* Walk a mapping, checking each key against @keys (vg__yaml_walk). */
static int cwalk(cctx_t *c, struct fy_node *n, const char *what, const char *const *keys,
                 vg_yaml_member_fn fn, void *obj)
{
    return vg__yaml_walk(n, what, keys, fn, cfail_msg, c, obj);
}

static int retention_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    cctx_t *c = vc;
    vg_server_config_t *cfg = obj;
    if (!strcmp(key, "evidence_days")) return cnum(c, v, key, 0.001, 36500, &cfg->evidence_days);
    if (!strcmp(key, "audit_days")) return cnum(c, v, key, 0, 36500, &cfg->audit_days);
    if (!strcmp(key, "counts_days")) return cnum(c, v, key, 0, 36500, &cfg->counts_days);
    return cnum(c, v, key, 1, 86400 * 7, &cfg->retention_every);
}

static int evidence_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    cctx_t *c = vc;
    vg_server_config_t *cfg = obj;
    if (!strcmp(key, "keep_original")) return cbool(c, v, key, &cfg->keep_original);
    if (!strcmp(key, "clip_before")) return cnum(c, v, key, 0, 30, &cfg->clip_before);
    if (!strcmp(key, "clip_after")) return cnum(c, v, key, 0, 30, &cfg->clip_after);
    if (!strcmp(key, "clip_fps")) return cnum(c, v, key, 0, 25, &cfg->clip_fps);
    if (!strcmp(key, "pixel_block")) {
        double d;
        int r = cnum(c, v, key, 4, 64, &d);
        cfg->pixel_block = (int)d;
        return r;
    }
    /* original_roles */
    void *it = NULL;
    struct fy_node *item;
    if (!v || !fy_node_is_sequence(v)) return cfail(c, v, key, "expected a list of roles");
    cfg->original_roles = 0;
    while ((item = fy_node_sequence_iterate(v, &it))) {
        const char *s = cscalar(c, item, key);
        if (!s) return VG_ESYNTAX;
        int r = vg_role_from_name(s);
        if (r < 0 || r == VG_ROLE_OPERATOR || r == VG_ROLE_AUDITOR)
            return cfail(c, item, key,
                         "'%s': only supervisor or admin may be allowed unblurred evidence", s);
        cfg->original_roles |= 1u << r;
    }
    return 0;
}

static int security_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    cctx_t *c = vc;
    vg_server_config_t *cfg = obj;
    double d;
    int r;
    if (!strcmp(key, "session_hours")) return cnum(c, v, key, 0.01, 24 * 30, &cfg->session_hours);
    if (!strcmp(key, "login_lockout")) return cnum(c, v, key, 1, 86400, &cfg->login_lockout);
    if (!strcmp(key, "body_limit")) {
        r = cnum(c, v, key, 1024, 16 << 20, &d);
        cfg->body_limit = (int)d;
        return r;
    }
    if (!strcmp(key, "login_parallel")) {
        r = cnum(c, v, key, 1, 64, &d);
        cfg->login_parallel = (int)d;
        return r;
    }
    r = cnum(c, v, key, 1, 1000, &d);
    cfg->login_failures = (int)d;
    return r;
}

static int limits_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    cctx_t *c = vc;
    vg_server_config_t *cfg = obj;
    static const struct {
        const char *key;
        double lo, hi;
        size_t off;
        int is_int;
    } tab[] = {
        {"connections", 16, 65536, offsetof(vg_server_config_t, max_connections), 1},
        {"connections_per_address", 1, 65536, offsetof(vg_server_config_t, max_per_address), 1},
        {"streams", 1, 65536, offsetof(vg_server_config_t, max_streams), 1},
        {"streams_per_address", 1, 65536, offsetof(vg_server_config_t, max_streams_address), 1},
        {"streams_per_login", 1, 64, offsetof(vg_server_config_t, max_streams_login), 1},
        {"logins_per_user", 1, 1000, offsetof(vg_server_config_t, max_logins_user), 1},
        {"header_timeout", 1, 600, offsetof(vg_server_config_t, header_timeout), 0},
        {"body_timeout", 1, 3600, offsetof(vg_server_config_t, body_timeout), 0},
        {"threads", 1, 64, offsetof(vg_server_config_t, http_threads), 1},
        {"memory_mb", 64, 1 << 22, offsetof(vg_server_config_t, memory_mb), 0},
        {"camera_memory_mb", 16, 1 << 22, offsetof(vg_server_config_t, camera_memory_mb), 0},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(*tab); i++) {
        double d;
        if (strcmp(key, tab[i].key)) continue;
        int r = cnum(c, v, key, tab[i].lo, tab[i].hi, &d);
        if (r < 0) return r;
        if (tab[i].is_int) {
            if (d != floor(d)) return cfail(c, v, key, "expected a whole number");
            *(int *)((char *)cfg + tab[i].off) = (int)d;
        } else
            *(double *)((char *)cfg + tab[i].off) = d;
        return 0;
    }
    return cfail(c, v, key, "unknown key");
}

static int audit_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    cctx_t *c = vc;
    vg_server_config_t *cfg = obj;
    if (!strcmp(key, "repeat_window")) return cnum(c, v, key, 1, 3600, &cfg->repeat_window);
    if (!strcmp(key, "signing_key")) return cpath(c, v, key, &cfg->audit_key);
    return cnum(c, v, key, 1, 86400 * 7, &cfg->anchor_every);
}

/* the video files a footage folder holds, by their extension */
static int is_video_name(const char *n)
{
    static const char *const ext[] = {".avi", ".mp4", ".mkv", ".mov", ".webm",  ".mpg", ".mpeg",
                                      ".ts",  ".m4v", ".flv", ".wmv", ".mjpeg", NULL};
    const char *dot = strrchr(n, '.');
    if (!dot || n[0] == '.') return 0;
    for (int i = 0; ext[i]; i++)
        if (!strcasecmp(dot, ext[i])) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int footage_add(vg_server_camera_t *cam, const char *path)
{
    char **n = vg_realloc(cam->footage, (size_t)(cam->nb_footage + 1) * sizeof(*n));
    if (!n) return VG_ENOMEM;
    cam->footage = n;
    if (!(n[cam->nb_footage] = vg_strdup(path))) return VG_ENOMEM;
    cam->nb_footage++;
    return 0;
}

/* footage: a file, a folder, or a list of them; folders give their video files by name */
static int footage_member(cctx_t *c, struct fy_node *v, vg_server_camera_t *cam)
{
    void *it = NULL;
    struct fy_node *item, *one = v;
    int list = v && fy_node_is_sequence(v);
    if (list && fy_node_sequence_item_count(v) == 0)
        return cfail(c, v, "footage", "an empty list: give files or folders of recorded video");
    while (list ? (item = fy_node_sequence_iterate(v, &it)) != NULL : one != NULL) {
        struct fy_node *n = list ? item : one;
        one = NULL;
        char *path = NULL;
        struct stat sb;
        int ret = cpath(c, n, "footage", &path);
        if (ret < 0) return ret;
        if (stat(path, &sb) != 0) {
            ret = cfail(c, n, "footage", "%s: %s", path, strerror(errno));
            vg_free(path);
            return ret;
        }
        if (!S_ISDIR(sb.st_mode)) {
            ret = footage_add(cam, path);
            vg_free(path);
            if (ret < 0) return ret;
            continue;
        }
        DIR *d = opendir(path);
        struct dirent *e;
        char **names = NULL;
        int nn = 0;
        if (!d) {
            ret = cfail(c, n, "footage", "%s: %s", path, strerror(errno));
            vg_free(path);
            return ret;
        }
        while ((e = readdir(d))) {
            if (!is_video_name(e->d_name)) continue;
            char **nw = vg_realloc(names, (size_t)(nn + 1) * sizeof(*nw));
            if (!nw || !(nw[nn] = vg_strdup(e->d_name))) {
                if (nw) names = nw;
                ret = VG_ENOMEM;
                break;
            }
            names = nw;
            nn++;
        }
        closedir(d);
        if (ret == 0 && nn == 0)
            ret = cfail(c, n, "footage",
                        "the folder %s holds no video file (.avi, .mp4, .mkv, .mov, .webm, .mpg, "
                        ".ts, ...)",
                        path);
        if (ret == 0) qsort(names, (size_t)nn, sizeof(*names), cmp_str);
        for (int i = 0; i < nn; i++) {
            char full[PATH_MAX * 2 + 2];
            snprintf(full, sizeof(full), "%s/%s", path, names[i]);
            if (ret == 0) ret = footage_add(cam, full);
            vg_free(names[i]);
        }
        vg_free(names);
        vg_free(path);
        if (ret < 0) return ret;
    }
    return 0;
}

static int camera_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    cctx_t *c = vc;
    vg_server_camera_t *cam = obj;
    if (!strcmp(key, "name")) {
        const char *s = cscalar(c, v, key);
        if (!s) return VG_ESYNTAX;
        if (!valid_name(s))
            return cfail(c, v, key,
                         "'%s': use 1 to 63 letters, digits, '.', '_' or '-' (not starting with "
                         "'.')",
                         s);
        vg_free(cam->name);
        cam->name = vg_strdup(s);
        return cam->name ? 0 : VG_ENOMEM;
    }
    if (!strcmp(key, "input")) return cpath(c, v, key, &cam->input);
    if (!strcmp(key, "footage")) {
        if (cam->footage) return cfail(c, v, key, "given twice");
        return footage_member(c, v, cam);
    }
    if (!strcmp(key, "scene")) return cpath(c, v, key, &cam->scene);
    if (!strcmp(key, "loop")) return cbool(c, v, key, &cam->loop);
    if (!strcmp(key, "realtime")) return cbool(c, v, key, &cam->realtime);
    /* settings: option name -> value */
    void *it = NULL;
    struct fy_node_pair *p;
    if (!v || !fy_node_is_mapping(v)) return cfail(c, v, key, "expected option: value pairs");
    while ((p = fy_node_mapping_iterate(v, &it))) {
        const char *k = cscalar(c, fy_node_pair_key(p), key);
        const char *val = k ? cscalar(c, fy_node_pair_value(p), k) : NULL;
        char origin[PATH_MAX + 32];
        if (!val) return VG_ESYNTAX;
        snprintf(origin, sizeof(origin), "%s:%d", c->file, vg__yaml_line(fy_node_pair_key(p)));
        if (vg_settings_add(cam->settings, k, val, origin) < 0) return VG_ENOMEM;
    }
    return 0;
}

/* instructions: event type -> what to do (text) */
static int instructions_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    cctx_t *c = vc;
    vg_server_config_t *cfg = obj;
    int type = vg_event_type_from_name(key);
    const char *s = cscalar(c, v, key);
    if (!s) return VG_ESYNTAX;
    if (type < 0) return cfail(c, v, key, "not an event type");
    if (strlen(s) > 2000) return cfail(c, v, key, "at most 2000 characters");
    if (!cfg->instructions && !(cfg->instructions = vg_calloc(VG_EVENT_NB, sizeof(char *))))
        return VG_ENOMEM;
    vg_free(cfg->instructions[type]);
    cfg->instructions[type] = vg_strdup(s);
    return cfg->instructions[type] ? 0 : VG_ENOMEM;
}

/* priorities: event type -> low | normal | high */
static int priorities_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    cctx_t *c = vc;
    vg_server_config_t *cfg = obj;
    int type = vg_event_type_from_name(key), p;
    const char *s = cscalar(c, v, key);
    if (!s) return VG_ESYNTAX;
    if (type < 0) return cfail(c, v, key, "not an event type");
    if ((p = vg_priority_from_name(s)) < 0)
        return cfail(c, v, key, "'%s' is not one of low, normal, high", s);
    cfg->priority[type] = p;
    return 0;
}

static int cstr(cctx_t *c, struct fy_node *n, const char *key, char **out)
{
    const char *s = cscalar(c, n, key);
    if (!s) return VG_ESYNTAX;
    if (!*s) return cfail(c, n, key, "must not be empty");
    vg_free(*out);
    *out = vg_strdup(s);
    return *out ? 0 : VG_ENOMEM;
}

/* A topic level: no MQTT wildcard or separator, printable. */
static int valid_topic(const char *s)
{
    for (; *s; s++)
        if (*s == '+' || *s == '#' || (unsigned char)*s < 0x21 || *s == 0x7f) return 0;
    return 1;
}

static int tls_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    vg_server_mqtt_t *m = obj;
    if (!strcmp(key, "ca")) return cpath(vc, v, key, &m->ca);
    if (!strcmp(key, "cert")) return cpath(vc, v, key, &m->cert);
    return cpath(vc, v, key, &m->key);
}

static int mqtt_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    cctx_t *c = vc;
    vg_server_mqtt_t *m = obj;
    static const char *const tls_keys[] = {"ca", "cert", "key", NULL};
    double d;
    int r;
    if (!strcmp(key, "host")) return cstr(c, v, key, &m->host);
    if (!strcmp(key, "prefix")) {
        if ((r = cstr(c, v, key, &m->prefix)) < 0) return r;
        if (!valid_topic(m->prefix) || strlen(m->prefix) > 64)
            return cfail(c, v, key, "'%s': a topic prefix without +, # or spaces, 64 at most",
                         m->prefix);
        return 0;
    }
    if (!strcmp(key, "client_id")) return cstr(c, v, key, &m->client_id);
    if (!strcmp(key, "user")) return cstr(c, v, key, &m->user);
    if (!strcmp(key, "password_file")) return cpath(c, v, key, &m->password_file);
    if (!strcmp(key, "tls")) return cwalk(c, v, key, tls_keys, tls_member, m);
    if (!strcmp(key, "discovery")) return cbool(c, v, key, &m->discovery);
    if (!strcmp(key, "port")) {
        if ((r = cnum(c, v, key, 1, 65535, &d)) < 0) return r;
        m->port = (int)d;
        return 0;
    }
    if (!strcmp(key, "qos")) {
        if ((r = cnum(c, v, key, 0, 1, &d)) < 0) return r;
        if (d != floor(d)) return cfail(c, v, key, "0 or 1");
        m->qos = (int)d;
        return 0;
    }
    if (!strcmp(key, "keepalive")) return cnum(c, v, key, 5, 3600, &m->keepalive);
    if ((r = cnum(c, v, key, 100, 1e7, &d)) < 0) return r; /* max_backlog */
    m->max_backlog = (int)d;
    return 0;
}

/* A node or site name: letters, digits, '-' and '_' (it goes into NATS subjects and keys). */
static int cluster_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return 0;
    return 1;
}

static int cluster_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    cctx_t *c = vc;
    vg_server_cluster_t *k = obj;
    double d;
    int r;
    if (!strcmp(key, "servers")) {
        void *it = NULL;
        struct fy_node *item;
        if (!v || !fy_node_is_sequence(v))
            return cfail(c, v, key, "expected a list of NATS URLs (nats://host:4222)");
        int n = fy_node_sequence_item_count(v);
        if (n < 1 || n > 32) return cfail(c, v, key, "give 1 to 32 NATS servers");
        for (int i = 0; i < k->nb_servers; i++) vg_free(k->servers[i]);
        vg_free(k->servers);
        k->nb_servers = 0;
        if (!(k->servers = vg_calloc((size_t)n, sizeof(*k->servers)))) return VG_ENOMEM;
        while ((item = fy_node_sequence_iterate(v, &it))) {
            const char *s = cscalar(c, item, key);
            if (!s) return VG_ESYNTAX;
            if (strncmp(s, "nats://", 7) && strncmp(s, "tls://", 6))
                return cfail(c, item, key, "'%s': a NATS URL is nats://HOST:PORT (or tls://)", s);
            if (!(k->servers[k->nb_servers++] = vg_strdup(s))) return VG_ENOMEM;
        }
        return 0;
    }
    if (!strcmp(key, "node") || !strcmp(key, "site")) {
        char **out = !strcmp(key, "node") ? &k->node : &k->site;
        if ((r = cstr(c, v, key, out)) < 0) return r;
        if (!cluster_name(*out))
            return cfail(c, v, key, "'%s': 1 to 32 letters, digits, '-' or '_'", *out);
        return 0;
    }
    if (!strcmp(key, "role")) {
        const char *s = cscalar(c, v, key);
        if (!s) return VG_ESYNTAX;
        if (!strcmp(s, "analysis"))
            k->role = VG_CLUSTER_ANALYSIS;
        else if (!strcmp(s, "console"))
            k->role = VG_CLUSTER_CONSOLE;
        else
            return cfail(c, v, key, "'%s' is not analysis or console", s);
        return 0;
    }
    if (!strcmp(key, "lease")) return cnum(c, v, key, 2, 600, &k->lease);
    if (!strcmp(key, "stream_days")) return cnum(c, v, key, 0.01, 3650, &k->stream_days);
    if ((r = cnum(c, v, key, 1, 5, &d)) < 0) return r; /* replicas */
    if (d != floor(d)) return cfail(c, v, key, "a whole number from 1 to 5");
    k->replicas = (int)d;
    return 0;
}

static int server_tls_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    vg_server_config_t *cfg = obj;
    return cpath(vc, v, key, !strcmp(key, "cert") ? &cfg->tls_cert : &cfg->tls_key);
}

/* Whether @addr (IPv4 or IPv6 text) is a loopback address. */
static int loopback(const char *addr, int v6)
{
    if (!v6) return !strncmp(addr, "127.", 4);
    struct in6_addr a;
    return inet_pton(AF_INET6, addr, &a) == 1 && IN6_IS_ADDR_LOOPBACK(&a);
}

static int metrics_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    vg_server_config_t *cfg = obj;
    (void)key;
    return cpath(vc, v, "token_file", &cfg->metrics_token_file);
}

static int top_member(void *vc, const char *key, struct fy_node *v, void *obj)
{
    cctx_t *c = vc;
    static const char *const ret_keys[] = {"evidence_days", "audit_days", "counts_days", "every",
                                           NULL};
    static const char *const ev_keys[] = {
        "keep_original", "original_roles", "pixel_block", "clip_before",
        "clip_after",    "clip_fps",       NULL};
    static const char *const sec_keys[] = {"session_hours", "body_limit",     "login_failures",
                                           "login_lockout", "login_parallel", NULL};
    static const char *const lim_keys[] = {"connections",       "connections_per_address",
                                           "streams",           "streams_per_address",
                                           "streams_per_login", "logins_per_user",
                                           "header_timeout",    "body_timeout",
                                           "threads",           "memory_mb",
                                           "camera_memory_mb",  NULL};
    static const char *const audit_keys[] = {"anchor_every", "repeat_window", "signing_key", NULL};
    static const char *const cam_keys[] = {"name",     "input",    "scene",   "loop",
                                           "realtime", "settings", "footage", NULL};
    vg_server_config_t *cfg = obj;
    if (!strcmp(key, "listen")) {
        const char *s = cscalar(c, v, key);
        char host[64];
        int port, n = 0, v6 = 0;
        if (!s) return VG_ESYNTAX;
        if (s[0] == '[') { /* [IPV6ADDRESS]:PORT */
            v6 = 1;
            if (sscanf(s, "[%63[0-9a-fA-F:.]]:%d%n", host, &port, &n) != 2 || s[n]) n = -1;
        } else if (sscanf(s, "%63[0-9.]:%d%n", host, &port, &n) != 2 || s[n]) {
            n = -1;
        }
        struct in6_addr a6;
        struct in_addr a4;
        if (n < 0 || port < 0 || port > 65535 ||
            (v6 ? inet_pton(AF_INET6, host, &a6) : inet_pton(AF_INET, host, &a4)) != 1)
            return cfail(c, v, key,
                         "'%s': use IPV4ADDRESS:PORT or [IPV6ADDRESS]:PORT, e.g. 127.0.0.1:8080 "
                         "or [::1]:8443",
                         s);
        vg_free(cfg->listen_addr);
        cfg->listen_addr = vg_strdup(host);
        cfg->port = port;
        cfg->ipv6 = v6;
        return cfg->listen_addr ? 0 : VG_ENOMEM;
    }
    if (!strcmp(key, "tls")) {
        static const char *const tls_keys[] = {"cert", "key", NULL};
        return cwalk(c, v, key, tls_keys, server_tls_member, cfg);
    }
    if (!strcmp(key, "insecure")) return cbool(c, v, key, &cfg->insecure);
    if (!strcmp(key, "storage")) return cpath(c, v, key, &cfg->storage);
    if (!strcmp(key, "retention")) return cwalk(c, v, key, ret_keys, retention_member, cfg);
    if (!strcmp(key, "evidence")) return cwalk(c, v, key, ev_keys, evidence_member, cfg);
    if (!strcmp(key, "security")) return cwalk(c, v, key, sec_keys, security_member, cfg);
    if (!strcmp(key, "audit")) return cwalk(c, v, key, audit_keys, audit_member, cfg);
    if (!strcmp(key, "limits")) return cwalk(c, v, key, lim_keys, limits_member, cfg);
    if (!strcmp(key, "instructions"))
        return cwalk(c, v, key, vg_event_type_names(), instructions_member, cfg);
    if (!strcmp(key, "priorities"))
        return cwalk(c, v, key, vg_event_type_names(), priorities_member, cfg);
    if (!strcmp(key, "metrics")) {
        static const char *const met_keys[] = {"token_file", NULL};
        return cwalk(c, v, key, met_keys, metrics_member, cfg);
    }
    if (!strcmp(key, "cluster")) {
        static const char *const cl_keys[] = {"servers", "node",     "role",        "site",
                                              "lease",   "replicas", "stream_days", NULL};
        if (cfg->cluster) return cfail(c, v, key, "given twice");
        vg_server_cluster_t *k = cfg->cluster = vg_calloc(1, sizeof(*k));
        if (!k) return VG_ENOMEM;
        k->lease = 10, k->replicas = 1, k->stream_days = 7;
        int r = cwalk(c, v, key, cl_keys, cluster_member, k);
        if (r < 0) return r;
        if (!k->nb_servers) return cfail(c, v, key, "needs servers (the NATS URLs)");
        if (!k->node) return cfail(c, v, key, "needs node (this machine's name on the site)");
        if (!k->role) return cfail(c, v, key, "needs role: analysis or console");
        if (!k->site && !(k->site = vg_strdup("vigie"))) return VG_ENOMEM;
        return 0;
    }
    if (!strcmp(key, "mqtt")) {
        static const char *const mqtt_keys[] = {
            "host", "port", "prefix",    "client_id", "user",        "password_file",
            "tls",  "qos",  "keepalive", "discovery", "max_backlog", NULL};
        if (cfg->mqtt) return cfail(c, v, key, "given twice");
        vg_server_mqtt_t *m = cfg->mqtt = vg_calloc(1, sizeof(*m));
        if (!m) return VG_ENOMEM;
        m->qos = 1, m->keepalive = 30, m->max_backlog = 100000, m->port = -1;
        int r = cwalk(c, v, key, mqtt_keys, mqtt_member, m);
        if (r < 0) return r;
        if (!m->host) return cfail(c, v, key, "needs a host (the broker)");
        if (m->port < 0) m->port = m->ca ? 8883 : 1883;
        if ((m->cert != NULL) != (m->key != NULL))
            return cfail(c, v, key, "tls: a client cert needs its key, and the other way round");
        if (m->cert && !m->ca) return cfail(c, v, key, "tls: a client cert needs the CA (tls.ca)");
        if (!m->prefix && !(m->prefix = vg_strdup("vigie"))) return VG_ENOMEM;
        if (!m->client_id) {
            char host[64] = "host", id[96];
            gethostname(host, sizeof(host) - 1);
            snprintf(id, sizeof(id), "vigie-%s", host);
            if (!(m->client_id = vg_strdup(id))) return VG_ENOMEM;
        }
        return 0;
    }
    /* cameras */
    void *it = NULL;
    struct fy_node *item;
    if (!v || !fy_node_is_sequence(v)) return cfail(c, v, key, "expected a list of cameras");
    int n = fy_node_sequence_item_count(v);
    if (n > 256) return cfail(c, v, key, "at most 256 cameras per server");
    cfg->cameras = vg_calloc(n ? n : 1, sizeof(*cfg->cameras));
    if (!cfg->cameras) return VG_ENOMEM;
    while ((item = fy_node_sequence_iterate(v, &it))) {
        vg_server_camera_t *cam = &cfg->cameras[cfg->nb_cameras++];
        cam->realtime = -1; /* 1 for a live input, 0 for footage, unless given */
        cam->line = vg__yaml_line(item);
        if (vg_settings_new(&cam->settings) < 0) return VG_ENOMEM;
        int ret = cwalk(c, item, "camera", cam_keys, camera_member, cam);
        if (ret < 0) return ret;
        if (!cam->name) return cfail(c, item, "camera", "needs a name");
        if (cam->footage && cam->input)
            return cfail(c, item, cam->name,
                         "give input (a live camera) or footage (recorded files), not both");
        if (cam->footage && !(cam->input = vg_strdup(cam->footage[0]))) return VG_ENOMEM;
        if (!cam->input) return cfail(c, item, cam->name, "needs an input (or footage)");
        if (cam->realtime < 0) cam->realtime = cam->footage ? 0 : 1;
        if (!cam->scene) cam->scene = vg_strdup("");
        for (int i = 0; i < cfg->nb_cameras - 1; i++)
            if (!strcmp(cfg->cameras[i].name, cam->name))
                return cfail(c, item, cam->name, "two cameras have this name");
        char err[512];
        if (vg_settings_validate(cam->settings, vg_option_groups(), err, sizeof(err)) < 0)
            return cfail(c, item, cam->name, "%s", err);
    }
    return 0;
}

/* libfyaml's diagnostics: the first one is kept for the message, nothing is printed. */
static void diag_out(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    cctx_t *c = user;
    (void)diag;
    if (c->diag[0] || !len) return;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) len--;
    snprintf(c->diag, sizeof(c->diag), "%.*s", (int)len, buf);
}

int vg_server_config_load(vg_server_config_t **out, const char *path, char *err, size_t errlen)
{
    static const char *const keys[] = {"listen",       "storage",    "retention", "evidence",
                                       "security",     "audit",      "cameras",   "limits",
                                       "instructions", "priorities", "mqtt",      "metrics",
                                       "tls",          "insecure",   "cluster",   NULL};
    cctx_t c = {path, err, errlen, 0, "", ""};
    vg_server_config_t *cfg = vg_calloc(1, sizeof(*cfg));
    struct fy_document *doc = NULL;
    struct fy_diag *diag = NULL;
    char *buf = NULL;
    size_t n = 0;
    uint8_t *raw = NULL;
    int ret;
    if (!cfg) return VG_ENOMEM;
    cfg->listen_addr = vg_strdup("127.0.0.1");
    cfg->port = 8080;
    cfg->evidence_days = 30;
    cfg->audit_days = 0;
    cfg->counts_days = 365;
    cfg->retention_every = 3600;
    cfg->anchor_every = 3600;
    cfg->repeat_window = 60;
    cfg->original_roles = 1u << VG_ROLE_SUPERVISOR;
    cfg->pixel_block = 12;
    cfg->clip_before = 5;
    cfg->clip_after = 5;
    cfg->clip_fps = 8;
    cfg->session_hours = 12;
    cfg->body_limit = 65536;
    cfg->login_failures = 5;
    cfg->login_lockout = 300;
    cfg->login_parallel = 2;
    /* what endangers life first; a camera that cannot watch with the ordinary alerts */
    for (int i = 0; i < VG_EVENT_NB; i++) cfg->priority[i] = VG_PRIORITY_NORMAL;
    cfg->priority[VG_EVENT_FIRE] = cfg->priority[VG_EVENT_FALL] = VG_PRIORITY_HIGH;
    cfg->priority[VG_EVENT_WEAPON] = cfg->priority[VG_EVENT_CROWD_MOVEMENT] = VG_PRIORITY_HIGH;
    cfg->max_connections = 1024;
    cfg->max_per_address = 64;
    cfg->max_streams = 256;
    cfg->max_streams_address = 32;
    cfg->max_streams_login = 4;
    cfg->max_logins_user = 8;
    cfg->header_timeout = 10;
    cfg->body_timeout = 30;
    cfg->http_threads = 4;
    cfg->memory_mb = 8192;
    cfg->camera_memory_mb = 2048;
    cfg->path = vg_strdup(path);
    if (!cfg->listen_addr || !cfg->path) {
        ret = VG_ENOMEM;
        goto fail;
    }
    {
        char tmp[PATH_MAX], *slash;
        snprintf(tmp, sizeof(tmp), "%s", path);
        slash = strrchr(tmp, '/');
        if (slash) {
            *slash = 0;
            snprintf(c.dir, sizeof(c.dir), "%s", tmp[0] ? tmp : "/");
        } else
            snprintf(c.dir, sizeof(c.dir), ".");
    }
    if ((ret = vg_file_read(path, 4u << 20, &raw, &n)) < 0) {
        if (ret == VG_ENOENT || ret == VG_EACCES)
            snprintf(err, errlen, "%s: cannot read the config file: %s", path, strerror(errno));
        else if (ret == VG_ERANGE)
            snprintf(err, errlen, "%s: too large for a config file", path);
        else
            snprintf(err, errlen, "%s: %s", path, vg_strerror(ret));
        goto fail;
    }
    buf = (char *)raw;
    {
        char hex[65];
        vg__sha256_hex(buf, n, hex);
        cfg->sha256 = vg_strdup(hex);
    }
    {
        struct fy_diag_cfg dcfg;
        fy_diag_cfg_default(&dcfg);
        dcfg.fp = NULL;
        dcfg.output_fn = diag_out;
        dcfg.user = &c;
        dcfg.colorize = false;
        dcfg.level = FYET_ERROR;
        diag = fy_diag_create(&dcfg);
    }
    struct fy_parse_cfg pc = {NULL, FYPCF_QUIET, NULL, diag};
    doc = diag ? fy_document_build_from_string(&pc, buf, n) : NULL;
    if (!doc || !fy_document_root(doc)) {
        void *it = NULL;
        struct fy_diag_error *e = diag ? fy_diag_errors_iterate(diag, &it) : NULL;
        ret = VG_ESYNTAX;
        if (e)
            snprintf(err, errlen, "%s:%d:%d: not valid YAML: %s", path, e->line + 1, e->column + 1,
                     e->msg);
        else if (c.diag[0])
            vg__yaml_diag_message(err, errlen, path, c.diag);
        else
            snprintf(err, errlen, "%s: not valid YAML, or empty (see docs/server.md)", path);
        goto fail;
    }
    struct fy_node *bad = vg__yaml_find_alias(fy_document_root(doc));
    if (bad) {
        ret = cfail(&c, bad, fy_node_is_alias(bad) ? "alias" : "nesting", "%s",
                    fy_node_is_alias(bad)
                        ? "YAML aliases (*name) are not accepted in the config: write the value out"
                        : "nested too deep");
        goto fail;
    }
    ret = cwalk(&c, fy_document_root(doc), "the config", keys, top_member, cfg);
    if (ret == VG_ENOMEM) snprintf(err, errlen, "%s: out of memory", path);
    if (ret < 0) goto fail;
    if (!cfg->storage) {
        ret = cfail(&c, fy_document_root(doc), "storage",
                    "missing: say where the database and evidence go");
        goto fail;
    }
    if ((cfg->tls_cert != NULL) != (cfg->tls_key != NULL)) {
        ret = cfail(&c, fy_document_root(doc), "tls", "needs both cert and key");
        goto fail;
    }
    /* logins and evidence in clear on a network: only when the config says so */
    if (!cfg->tls_cert && !cfg->insecure && !loopback(cfg->listen_addr, cfg->ipv6)) {
        ret = cfail(&c, fy_document_root(doc), "listen",
                    "'%s' is not a loopback address, and there is no tls: logins, sessions and "
                    "evidence would cross the network in clear. Add tls: {cert: F, key: F}, or "
                    "insecure: true if something else encrypts the link",
                    cfg->listen_addr);
        goto fail;
    }
    fy_document_destroy(doc);
    fy_diag_destroy(diag);
    vg_free(buf);
    *out = cfg;
    return 0;
fail:
    fy_document_destroy(doc);
    if (diag) fy_diag_destroy(diag);
    vg_free(buf);
    vg_server_config_free(&cfg);
    return ret;
}

void vg_server_config_free(vg_server_config_t **pc)
{
    vg_server_config_t *c = *pc;
    if (!c) return;
    for (int i = 0; i < c->nb_cameras; i++) {
        vg_free(c->cameras[i].name);
        vg_free(c->cameras[i].input);
        for (int k = 0; k < c->cameras[i].nb_footage; k++) vg_free(c->cameras[i].footage[k]);
        vg_free(c->cameras[i].footage);
        vg_free(c->cameras[i].scene);
        vg_settings_free(&c->cameras[i].settings);
    }
    vg_free(c->cameras);
    for (int i = 0; c->instructions && i < VG_EVENT_NB; i++) vg_free(c->instructions[i]);
    vg_free(c->instructions);
    vg_free(c->path);
    vg_free(c->sha256);
    vg_free(c->listen_addr);
    vg_free(c->storage);
    vg_free(c->metrics_token_file);
    vg_free(c->tls_cert);
    vg_free(c->tls_key);
    vg_free(c->audit_key);
    if (c->cluster) {
        for (int i = 0; i < c->cluster->nb_servers; i++) vg_free(c->cluster->servers[i]);
        vg_free(c->cluster->servers);
        vg_free(c->cluster->node);
        vg_free(c->cluster->site);
        vg_free(c->cluster);
    }
    if (c->mqtt) {
        vg_server_mqtt_t *m = c->mqtt;
        vg_free(m->host), vg_free(m->prefix), vg_free(m->client_id), vg_free(m->user);
        vg_free(m->password_file), vg_free(m->ca), vg_free(m->cert), vg_free(m->key);
        vg_free(m);
    }
    vg_free(c);
    *pc = NULL;
}

void vg_server_config_db(const vg_server_config_t *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s/vigie.db", c->storage);
}

void vg_server_config_anchors(const vg_server_config_t *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s/audit-anchors.log", c->storage);
}
