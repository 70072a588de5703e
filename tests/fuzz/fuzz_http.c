/*
 * libFuzzer target for the HTTP API's request handling (src/server/http.c, vg__http_handle):
 * routing, query and body parsing, JSON validation, sessions, CSRF, roles, and what each handler
 * does with the store. A real store in a temporary directory, one camera (not started), one user
 * of each role with an open session.
 *
 * Input: lines METHOD, PATH, CONTENT-TYPE, SESSION, CSRF, QUERY, then the body (the rest).
 * SESSION is a role letter (o, s, a, d: the session of that role's user; anything else is sent
 * as the cookie's value as is); CSRF "=" stands for that session's right token. QUERY is
 * k=v&k=v; its "from" is the client's address (default 127.0.0.1: the login limiter's pools and
 * the folded audit rows see several), its "last" the Last-Event-ID header. Every 64 inputs the
 * folded audit rows are written out, as the server's watchdog does. Nothing may crash, leak or
 * hang; any status is fine.
 *
 * Build and run with scripts/fuzz 120 fuzz_http; tests/fuzz/replay.c replays the kept corpus
 * (tests/fuzz/corpus/http) in every test run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vigie/vigie.h>
#include <vigie/server.h>
#include <vigie/store.h>

#include "server_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vg_server_config_t *cfg;
static vg_server_t *srv;
static char dir[64];
static char tokens[4][65], csrfs[4][65];

static void cleanup(void)
{
    char cmd[128];
    vg_server_free(&srv);
    vg_server_config_free(&cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz_http: could not remove %s\n", dir);
}

static int init(void)
{
    char path[128], err[1024];
    vg_log_set_level(VG_LOG_QUIET);
    snprintf(dir, sizeof(dir), "/tmp/vigie-fuzz-http-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof(path), "%s/serve.yaml", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "storage: store\nsecurity: {body_limit: 4096}\n"
               "evidence: {keep_original: true}\n"
               "cameras:\n  - {name: hall, input: /nonexistent.avi}\n");
    fclose(f);
    if (vg_server_config_load(&cfg, path, err, sizeof(err)) < 0 ||
        vg_server_new(&srv, cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz_http: %s\n", err);
        return -1;
    }
    const char *names[4] = {"olga", "sam", "alice", "adam"};
    for (int r = 0; r < 4; r++) {
        if (vg_store_user_add(srv->store, names[r], r, "0123456789", err, sizeof(err)) < 0 ||
            vg_store_session_new(srv->store, names[r], 3600, tokens[r], csrfs[r]) < 0)
            return -1;
    }
    /* one event with evidence, for the handlers that read one */
    vg_event_t ev;
    int64_t seq;
    char now[32];
    vg_event_init(&ev, VG_EVENT_ABANDONED_OBJECT, VG_PHASE_START);
    ev.event_id = 1;
    vg_event_set_box(&ev, 1, 2, 3, 4);
    vg_event_set_camera(&ev, "hall");
    vg_store_now(now);
    int64_t run = vg_store_run_start(srv->store, "hall");
    vg_store_event_put(srv->store, run, &ev, now, "0123456789abcdef0123456789abcdef.jpg", 10, &seq);
    atexit(cleanup);
    return 0;
}

typedef struct fuzz_req {
    char *query;
    const char *ctype, *cookie, *csrf;
} fuzz_req_t;

static const char *q_lookup(void *o, const char *key)
{
    fuzz_req_t *r = o;
    static char vals[4][256]; /* each lookup its own buffer, as MHD gives */
    static int next;
    char *val = vals[next++ & 3];
    size_t kl = strlen(key);
    for (const char *p = r->query; p && *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            snprintf(val, 256, "%.*s", (int)(end - p - kl - 1), p + kl + 1);
            return val;
        }
        p = amp ? amp + 1 : end;
    }
    return NULL;
}

static const char *h_lookup(void *o, const char *key)
{
    fuzz_req_t *r = o;
    if (!strcmp(key, "Content-Type")) return r->ctype[0] ? r->ctype : NULL;
    if (!strcmp(key, "X-CSRF-Token")) return r->csrf[0] ? r->csrf : NULL;
    if (!strcmp(key, "Last-Event-ID")) return q_lookup(o, "last");
    return NULL;
}

static const char *c_lookup(void *o, const char *key)
{
    fuzz_req_t *r = o;
    return !strcmp(key, "vigie_session") && r->cookie[0] ? r->cookie : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready = -2;
    if (ready == -2) ready = init();
    if (ready < 0 || size > 65536) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char *line[6] = {"", "", "", "", "", ""}, *p = text;
    for (int i = 0; i < 6; i++) {
        char *nl = memchr(p, '\n', size - (size_t)(p - text));
        line[i] = p;
        if (!nl) {
            p = text + size;
            break;
        }
        *nl = 0;
        p = nl + 1;
    }
    const char *body = p;
    size_t body_len = size - (size_t)(p - text);
    int role = -1;
    if (!strcmp(line[3], "o")) role = 0;
    if (!strcmp(line[3], "s")) role = 1;
    if (!strcmp(line[3], "a")) role = 2;
    if (!strcmp(line[3], "d")) role = 3;
    if (role >= 0) {
        /* what an earlier input did (logout, disabling a user) must not end the fuzzing */
        static const char *names[4] = {"olga", "sam", "alice", "adam"};
        char u[65], c[65];
        int rr;
        if (vg_store_session_get(srv->store, tokens[role], u, &rr, c) < 0) {
            vg_store_user_disable(srv->store, names[role], 0);
            vg_store_session_new(srv->store, names[role], 3600, tokens[role], csrfs[role]);
        }
    }
    fuzz_req_t fr = {line[5], line[2], role >= 0 ? tokens[role] : line[3],
                     role >= 0 && !strcmp(line[4], "=") ? csrfs[role] : line[4]};
    char from[64];
    const char *f = q_lookup(&fr, "from");
    snprintf(from, sizeof(from), "%s", f && *f ? f : "127.0.0.1");
    vg_http_req_t q = {
        line[0],  line[1][0] ? line[1] : "/",         q_lookup, h_lookup, c_lookup, &fr, body,
        body_len, body_len > (size_t)cfg->body_limit, from};
    vg_http_resp_t r;
    vg__http_handle(srv, &q, &r);
    vg__http_resp_free(&r);
    static unsigned n;
    if ((++n & 63) == 0) vg__audit_repeat_flush(srv, 1);
    free(text);
    return 0;
}
