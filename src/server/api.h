/*
 * The HTTP API of `vigie serve` inside: what the route table (api.c) and the handler files
 * (api_*.c, one per area) share. A handler sees a request reduced to method, path, lookups and
 * body (vg_http_req_t, http.c makes it from libmicrohttpd's), and the route's context: the
 * session the dispatcher checked against the route's roles, and the path's parameters resolved.
 */
#ifndef VG_SERVER_API_H
#define VG_SERVER_API_H

#include <jansson.h>
#include <stdint.h>

#include "server_priv.h"

#define R_OP  (1u << VG_ROLE_OPERATOR)
#define R_SUP (1u << VG_ROLE_SUPERVISOR)
#define R_AUD (1u << VG_ROLE_AUDITOR)
#define R_ADM (1u << VG_ROLE_ADMIN)
#define R_ANY (R_OP | R_SUP | R_AUD | R_ADM)

typedef struct session {
    char user[65];
    int role;
    char csrf[65];
    char token[65];
} session_t;

/* What the dispatcher hands a handler beside the request. */
typedef struct vg_route_ctx {
    session_t ses;        /* the logged-in user (routes with roles only) */
    vg_cam_t *cam;        /* :camera, a configured camera */
    const char *cam_name; /* :camera as the path has it */
    int64_t id;           /* :id, a positive number */
    const char *name;     /* :name or :user, one path segment */
    int variant;          /* the route's own flag (csv, verify, original) */
} vg_route_ctx_t;

typedef void (*vg_route_fn)(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                            const vg_route_ctx_t *x);

/* One row of the route table: a method and a path pattern (segments, or :camera, :id, :name,
 * :user), the roles that may call it (0: no session needed; otherwise a session of one of these
 * roles, and the CSRF header for anything but GET), the handler and its flag. */
typedef struct vg_route {
    const char *method;
    const char *path;
    unsigned roles;
    vg_route_fn handler;
    int variant;
} vg_route_t;

/* api.c: audit a refusal of @ses's request (403s, refused requests for personal data). */
void vg__api_refused(vg_server_t *s, const vg_http_req_t *q, const session_t *ses,
                     const char *action, const char *why);

/* api.c: responses */
void vg__api_set_body(vg_http_resp_t *r, int status, const char *type, char *body, size_t len);
void vg__api_reply_json(vg_http_resp_t *r, int status, char *json);
void vg__api_error(vg_http_resp_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void vg__api_pack(vg_http_resp_t *r, int status, json_t *o);
/* The answer to a store call that failed with @err: 500 out of memory, else 503. */
void vg__api_store_error(vg_http_resp_t *r, int err);
/* A JPEG body (takes @jpg). */
void vg__api_jpeg(vg_http_resp_t *r, uint8_t *jpg, size_t len);
/* api.c: text built row by row (the CSV exports): appended with printf formats; failed is set
 * (and nothing more added) when memory runs out. */
typedef struct vg_api_text {
    char *p;
    size_t n, cap;
    int failed;
} vg_api_text_t;
void vg__api_text_add(vg_api_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A CSV field: quoted, quotes doubled. */
void vg__api_text_csv_str(vg_api_text_t *t, const char *s);
/* A JSON number, or null for NAN. */
json_t *vg__api_num(double v);
/* api.c: requests */
int64_t vg__api_parse_id(const char *s);
json_t *vg__api_body_json(const vg_http_req_t *q, vg_http_resp_t *r);
const char *vg__api_member_str(json_t *o, const char *key, size_t max, int required,
                               vg_http_resp_t *r);
int vg__api_iso_time_ok(const char *t);
void vg__api_audit(vg_server_t *s, const char *actor, const char *action, const char *target,
                   json_t *details);
/* A person's action added to the feed (an acknowledgement, a decision, a claim, a shift note):
 * the live streams are woken at once, not at the next event or keep-alive. */
void vg__api_feed_changed(vg_server_t *s);
/* api.c: what @role may do, by capability name, from the route table (for /api/me). */
json_t *vg__api_can(int role);

/* The handlers, by area. */
void vg__api_login(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x);
void vg__api_logout(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                    const vg_route_ctx_t *x);
void vg__api_me(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, const vg_route_ctx_t *x);
void vg__api_cameras(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                     const vg_route_ctx_t *x);
void vg__api_still(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x);
void vg__api_scene(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x);
void vg__api_scene_json(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                        const vg_route_ctx_t *x);
void vg__api_counts(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                    const vg_route_ctx_t *x);
void vg__api_events(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                    const vg_route_ctx_t *x);
void vg__api_event(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x);
void vg__api_ack(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                 const vg_route_ctx_t *x);
void vg__api_incident_decision(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                               const vg_route_ctx_t *x);
void vg__api_instructions(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                          const vg_route_ctx_t *x);
void vg__api_decision(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                      const vg_route_ctx_t *x);
/* api_shift.c: who handles an alert, and the shift hand-over notes */
void vg__api_claim(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x);
void vg__api_handover(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                      const vg_route_ctx_t *x);
void vg__api_stream(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                    const vg_route_ctx_t *x);
void vg__api_feed_head(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                       const vg_route_ctx_t *x);
void vg__api_evidence(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                      const vg_route_ctx_t *x);
void vg__api_report(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                    const vg_route_ctx_t *x);
void vg__api_stats(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x);
void vg__api_audit_rows(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                        const vg_route_ctx_t *x);
void vg__api_users(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                   const vg_route_ctx_t *x);
void vg__api_user_disable(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                          const vg_route_ctx_t *x);
void vg__api_options(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r,
                     const vg_route_ctx_t *x);
/* api_console.c: the console's files; 1 if @path is one of them (then answered). */
int vg__api_static(const char *path, vg_http_resp_t *r);
/* A session of one of @roles (bits of enum vg_role) on request @q: 0, or -1 with the 401 or 403
 * already in @r. */
int vg__api_session(vg_server_t *s, const vg_http_req_t *q, vg_http_resp_t *r, unsigned roles);

#endif
