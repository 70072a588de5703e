/*
 * vigie — the store: events, evidence, operator decisions, users, sessions and the audit trail,
 * in one embedded SQLite database (WAL journal, versioned schema with migrations).
 *
 * One vg_store_t is one database connection behind a mutex: every function may be called from
 * any thread. The server's store writer thread writes events and evidence; HTTP threads write
 * decisions, sessions and audit rows. Writes are transactions: a crash (kill -9, power loss with
 * synchronous=FULL) keeps every committed row and loses none half-written.
 *
 * The audit trail is append-only and hash-chained: row n holds SHA-256(hash(n-1) "\n" canonical
 * content of row n), so changing, deleting or inserting a row breaks the chain at that row, and
 * vg_store_audit_verify() names it. Anchors (the head's sequence number and hash, written outside
 * the database) make a cut tail visible too. docs/server.md explains the format.
 */
#ifndef VIGIE_STORE_H
#define VIGIE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <vigie/event.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_store vg_store_t;

/** The schema version this build writes; older databases are migrated on open. */
#define VG_STORE_SCHEMA_VERSION 5

/**
 * Open (creating if needed) the database at @path, migrate it to VG_STORE_SCHEMA_VERSION.
 * Returns 0, or VG_EIO/VG_EACCES/VG_ECORRUPT/VG_ERANGE (a database from a newer vigie) with the
 * reason in @err.
 */
int vg_store_open(vg_store_t **out, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void vg_store_close(vg_store_t **s);
/** The schema version of the open database. */
int vg_store_schema_version(vg_store_t *s);

/** Current wall time as ISO 8601 UTC with milliseconds ("2026-11-26T12:00:00.123Z"). */
void vg_store_now(char buf[32]);

/** Small settings kept in the database: the value of @key into @buf, or VG_ENOENT. */
int vg_store_meta_get(vg_store_t *s, const char *key, char *buf, size_t len);
int vg_store_meta_set(vg_store_t *s, const char *key, const char *value);

/* ---- events ---- */

/** A run: one start of one camera's pipeline. Returns the run id (> 0) or an error. */
int64_t vg_store_run_start(vg_store_t *s, const char *camera);

/**
 * Record one event record (any phase) of camera run @run. A start inserts the event row and
 * returns its store id; an update or end finds the row by (run, event_id) and returns its id.
 * Also appends the record to the feed (the live stream's durable log) and sets *feed_seq.
 * @evidence (may be NULL): the name of the event's blurred evidence picture (start only),
 * recorded in the same transaction with its size @evidence_bytes.
 * Returns the event's store id (> 0) or a negative error: VG_EIO (disk full, I/O), VG_EBUSY
 * (database locked beyond the timeout), VG_ENOENT (an end for an unknown start).
 */
int64_t vg_store_event_put(vg_store_t *s, int64_t run, const vg_event_t *ev, const char *wall,
                           const char *evidence, int64_t evidence_bytes, int64_t *feed_seq);
/** vg_store_event_put, a start also recording its @priority ("low", "normal", "high"; NULL:
 * none), which its feed record and the event's JSON then carry. */
int64_t vg_store_event_put_priority(vg_store_t *s, int64_t run, const vg_event_t *ev,
                                    const char *wall, const char *evidence, int64_t evidence_bytes,
                                    const char *priority, int64_t *feed_seq);

/**
 * A console node's copy of an event record sent by analysis node @node (docs/scale.md): like
 * vg_store_event_put_priority, once per @msg_id (the message's id: a record received again
 * changes nothing, sets *@dup and returns the event's id). @origin_run names the sender's run
 * ("STOREID.RUN"), mapped to a run of this store created with its first record; an update or end
 * finds its start through it. The evidence file @evidence is already written.
 */
int64_t vg_store_event_put_remote(vg_store_t *s, const char *msg_id, const char *origin_run,
                                  const char *node, const vg_event_t *ev, const char *wall,
                                  const char *evidence, int64_t evidence_bytes,
                                  const char *priority, int64_t *feed_seq, int *dup);
/** Whether the message @msg_id was received (1), not (0), or an error. */
int vg_store_cluster_received(vg_store_t *s, const char *msg_id);
/** Forget the ids of messages received before @before_unix (past the stream's age, no message
 *  comes twice). Returns how many, or an error. */
int vg_store_cluster_forget(vg_store_t *s, double before_unix);
/** The run of event @id, or VG_ENOENT. */
int64_t vg_store_event_run(vg_store_t *s, int64_t id);
/** Add an evidence file row for event @event_id. @kind: "blurred", "original", "frame" or
 * "clip". */
int vg_store_evidence_add(vg_store_t *s, int64_t event_id, const char *kind, const char *name,
                          int64_t bytes);
/** The same with @at: where in the evidence the event starts, seconds (a clip; kind "clip"). */
int vg_store_evidence_add_at(vg_store_t *s, int64_t event_id, const char *kind, const char *name,
                             int64_t bytes, double at);
/** The store's id of event @event_id of run @run (vg_event_t.event_id), or VG_ENOENT (not stored
 * yet, or never). */
int64_t vg_store_event_id(vg_store_t *s, int64_t run, int64_t event_id);
/**
 * Find evidence called @name. Returns 0 with its event id and kind, VG_ENOENT when unknown.
 * @kind_out has room for 16 bytes.
 */
int vg_store_evidence_find(vg_store_t *s, const char *name, int64_t *event_id, char *kind_out);
/** The name of @event_id's evidence of @kind into @name (64 bytes), VG_ENOENT if none. */
int vg_store_evidence_of(vg_store_t *s, int64_t event_id, const char *kind, char *name);

/** Open events (started, not ended) of @camera and @type: a count, or a negative error. */
int vg_store_open_events(vg_store_t *s, const char *camera, const char *type);

/** Highest feed sequence number (0 when empty). */
int64_t vg_store_feed_head(vg_store_t *s);
/**
 * Feed records after @after, oldest first, at most @max: calls @fn(opaque, seq, json) for each,
 * where json is one object {"seq":..,"id":..,"phase":..,...}. Returns the count or an error.
 */
int vg_store_feed_read(vg_store_t *s, int64_t after, int max,
                       void (*fn)(void *opaque, int64_t seq, const char *json), void *opaque);

/**
 * The events as a JSON array text (newly allocated, vg_free it) into *json: newest first,
 * @camera/@type filters (NULL for all), with id > @after_id... limited to @limit (1..1000).
 * @id > 0 returns just that event as an object (VG_ENOENT if none).
 */
int vg_store_events_json(vg_store_t *s, int64_t id, const char *camera, const char *type, int limit,
                         char **json);
/** The same, listing only events whose id is below @before (> 0): the page after a page, so that
 * a client pages back through any number of events. */
int vg_store_events_page_json(vg_store_t *s, int64_t id, int64_t before, const char *camera,
                              const char *type, int limit, char **json);

/* ---- decisions ---- */

enum vg_qualification {
    VG_QUAL_CONFIRMED = 0,
    VG_QUAL_FALSE_ALERT,
    VG_QUAL_NOT_RELEVANT,
    VG_QUAL_NB
};
enum vg_false_reason {
    VG_FALSE_PERSON_NOT_OBJECT = 0,
    VG_FALSE_FIXTURE,
    VG_FALSE_REFLECTION_OR_LIGHT,
    VG_FALSE_WEATHER,
    VG_FALSE_OTHER,
    VG_FALSE_NB
};
const char *vg_qualification_name(int q);
int vg_qualification_from_name(const char *name);
const char *vg_false_reason_name(int r);
int vg_false_reason_from_name(const char *name);

/**
 * Acknowledge event @id by @user. Returns 0, VG_ENOENT (no such event), VG_EBUSY when it was
 * already acknowledged. Adds a feed record.
 */
int vg_store_event_ack(vg_store_t *s, int64_t id, const char *user);
/**
 * Qualify event @id: @qual one of enum vg_qualification, @reason one of enum vg_false_reason
 * for a false alert (else -1), @note free text (may be NULL). The event must be acknowledged
 * (VG_EAGAIN if not); a second qualification replaces the first (both stay in the decisions).
 * The time to decide (from the event's start to the first qualification) is kept.
 * Adds a feed record. Returns 0 or VG_ENOENT/VG_EAGAIN/VG_EINVAL.
 */
int vg_store_event_qualify(vg_store_t *s, int64_t id, const char *user, int qual, int reason,
                           const char *note);
/** What vg_store_event_claim does. */
enum vg_claim_mode {
    VG_CLAIM_TAKE = 0,  /**< handle it: refused (VG_EBUSY) when someone else does */
    VG_CLAIM_TAKE_OVER, /**< handle it, taking it from whoever did */
    VG_CLAIM_RELEASE,   /**< no longer handle it (the holder, or @force) */
};
/**
 * Who handles event @id (issue #18: operators see who is on it). @user takes it, takes it over
 * or releases it (@mode); a release by someone other than the holder needs @force (a
 * supervisor). @holder (64 bytes, may be NULL) receives who holds it afterwards, or who held it
 * when refused ("" when nobody). Adds a feed record ("claim": user, by) and a decision row.
 * Returns 0 (done, or nothing to do: already the holder, nobody to release), VG_ENOENT,
 * VG_EBUSY (held by someone else), VG_EACCES (a release of someone else's without @force).
 */
int vg_store_event_claim(vg_store_t *s, int64_t id, const char *user, int mode, int force,
                         char *holder);

/**
 * Shift hand-over notes: what one shift leaves to the next (a camera to watch, a call pending).
 * vg_store_handover_add records @text (1-2000 bytes of UTF-8) by @user and adds a feed record
 * ("handover", event 0) so that consoles show it at once; returns the note's id or a negative
 * error. vg_store_handover_json: the newest notes older than @before (0: any) as a JSON array
 * [{id, at, user, text}], at most @limit (1-500).
 */
int64_t vg_store_handover_add(vg_store_t *s, const char *user, const char *text);
int vg_store_handover_json(vg_store_t *s, int64_t before, int limit, char **json);

/** The camera, type and box of event @id (box NULL-able; *has_box says). */
int vg_store_event_info(vg_store_t *s, int64_t id, char camera[64], char type[64], double box[4],
                        int *has_box);

/** Fixtures added from decisions, per camera: @fn(opaque, x, y, w, h) for each. */
int vg_store_fixture_add(vg_store_t *s, const char *camera, const double box[4], int64_t event,
                         const char *user);
int vg_store_fixtures(vg_store_t *s, const char *camera,
                      void (*fn)(void *opaque, const double box[4]), void *opaque);

/** Scenes saved through the API: the latest YAML for @camera (newly allocated) or VG_ENOENT. */
int vg_store_scene_get(vg_store_t *s, const char *camera, char **yaml);
int vg_store_scene_put(vg_store_t *s, const char *camera, const char *yaml, const char *user);

/** Statistics of one camera and event type over a period (vg_store_stats). */
typedef struct vg_store_stats_row {
    const char *camera, *type;
    int64_t alerts, acknowledged, confirmed, false_alerts, not_relevant;
    double confirmed_rate;               /**< NAN when none was qualified */
    double camera_hours;                 /**< analysed, from the runs' recorded spans */
    double false_alerts_per_camera_hour; /**< NAN without camera hours */
    double median_decide_s;              /**< NAN when none was decided */
    double p90_decide_s;                 /**< 90th percentile (nearest rank); NAN as the median */
} vg_store_stats_row_t;

/**
 * Statistics per camera and event type for starts between @from and @to (ISO times, NULL for
 * open ends): @fn(opaque, row) for each, by camera then type (the row is valid for the call
 * only; a negative return stops and is returned). Returns the number of rows or an error.
 */
int vg_store_stats(vg_store_t *s, const char *from, const char *to,
                   int (*fn)(void *opaque, const vg_store_stats_row_t *row), void *opaque);
/**
 * Hours each camera was analysed between @from and @to (ISO times, NULL for open ends), from its
 * runs' recorded spans: @fn(opaque, camera, hours) for each camera with a run, by name. Returns
 * the number of cameras or an error.
 */
int vg_store_run_hours(vg_store_t *s, const char *from, const char *to,
                       int (*fn)(void *opaque, const char *camera, double hours), void *opaque);
/**
 * Audit rows per action between @from and @to (the rows' `at`), a folded row (audit_repeat:
 * details "repeated": N) counting for its N: @fn(opaque, action, n) for each, by action. Returns
 * the number of actions or an error.
 */
int vg_store_audit_counts(vg_store_t *s, const char *from, const char *to,
                          int (*fn)(void *opaque, const char *action, int64_t n), void *opaque);
/** Every run (each start of a camera's pipeline), oldest first: @fn(opaque, id, camera,
 *  started_unix, last_unix). Returns the number of runs or an error. */
int vg_store_runs(vg_store_t *s,
                  int (*fn)(void *opaque, int64_t id, const char *camera, double started,
                            double last),
                  void *opaque);
/** The first and last times anything was recorded (a run started or touched, an event): ISO
 *  times into @first and @last (32 bytes each). VG_ENOENT for an empty store. */
int vg_store_span(vg_store_t *s, char first[32], char last[32]);
/** Store one sample of a camera's count series (vg_count_t) with its wall-clock time. */
int vg_store_count_put(vg_store_t *s, int64_t run, const vg_count_t *c, const char *wall);
/** The count samples stored after id @after, oldest first, at most @max: @fn(opaque, id, run,
 *  sample, wall) for each (a negative return stops and is returned). The count, or an error. */
int vg_store_counts_after(vg_store_t *s, int64_t after, int max,
                          int (*fn)(void *opaque, int64_t id, int64_t run, const vg_count_t *c,
                                    const char *wall),
                          void *opaque);
/** A console node's copy of a count sample sent by analysis node @node, once per @msg_id (as
 *  vg_store_event_put_remote: *@dup set when it was received before). 0 or an error. */
int vg_store_count_put_remote(vg_store_t *s, const char *msg_id, const char *origin_run,
                              const char *node, const vg_count_t *c, const char *wall, int *dup);
/** One sample of a camera's count series as stored (vg_store_counts). */
typedef struct vg_store_count_row {
    const char *wall, *zone;
    double count, count_detector;
    double count_occupancy, area, density; /**< NAN where unknown (no calibration) */
} vg_store_count_row_t;

/**
 * The count series of @camera (one @zone, or all when NULL) between @from and @to (ISO times,
 * NULL for open ends), the last @limit samples, oldest first: @fn(opaque, row) for each (valid
 * for the call only; a negative return stops and is returned). Returns the count or an error.
 */
int vg_store_counts(vg_store_t *s, const char *camera, const char *zone, const char *from,
                    const char *to, int limit,
                    int (*fn)(void *opaque, const vg_store_count_row_t *row), void *opaque);
/** Delete the count samples older than @days (0: keep them all); how many into @purged. */
int vg_store_purge_counts(vg_store_t *s, double days, int64_t *purged);
/** Record that camera run @run was analysing up to now (for camera hours). */
int vg_store_run_touch(vg_store_t *s, int64_t run);

/* ---- users and sessions ---- */

enum vg_role {
    VG_ROLE_OPERATOR = 0,
    VG_ROLE_SUPERVISOR,
    VG_ROLE_AUDITOR,
    VG_ROLE_ADMIN,
    VG_ROLE_NB
};
const char *vg_role_name(int role);
int vg_role_from_name(const char *name);

/**
 * Add user @name (1-64 characters: letters, digits, . _ -) with @role and @password (at least
 * 10 characters), hashed with Argon2id. Returns 0, VG_EINVAL (bad name, role or password, with
 * why in @err), VG_EBUSY (the name exists).
 */
int vg_store_user_add(vg_store_t *s, const char *name, int role, const char *password, char *err,
                      size_t errlen);
/** Disable (1) or enable (0) @name. VG_ENOENT if unknown. */
int vg_store_user_disable(vg_store_t *s, const char *name, int disabled);
/** Number of users. */
int vg_store_user_count(vg_store_t *s);
/** The users as a JSON array (newly allocated): name, role, created, disabled. */
int vg_store_users_json(vg_store_t *s, char **json);
/**
 * Check @password for @name: returns the role (>= 0), or VG_EACCES when the user is unknown,
 * disabled or the password wrong (the same time is spent either way).
 */
int vg_store_user_check(vg_store_t *s, const char *name, const char *password);
/** 1 when @name is a user's (disabled or not), 0 when not, or an error. */
int vg_store_user_exists(vg_store_t *s, const char *name);

/**
 * Open a session for @name lasting @seconds: a new random token (64 hex) and CSRF token (64 hex)
 * into @token and @csrf (65 bytes each); only the token's SHA-256 is stored.
 */
int vg_store_session_new(vg_store_t *s, const char *name, int seconds, char token[65],
                         char csrf[65]);
/** The session of @token: user name (65 bytes), role and CSRF token, or VG_EACCES. */
int vg_store_session_get(vg_store_t *s, const char *token, char user[65], int *role, char csrf[65]);
int vg_store_session_end(vg_store_t *s, const char *token);
/** End @name's oldest sessions so that at most @keep stay open; returns how many ended. */
int vg_store_session_trim(vg_store_t *s, const char *name, int keep);

/* ---- audit trail ---- */

/**
 * Append an audit row: @actor (user name, or "system"), @action ("login", "decision", ...),
 * @target (what it applies to; may be ""), @details a JSON object text (may be NULL: {}).
 * Returns the row's sequence number or an error. The row's hash is chained to the previous one.
 */
int64_t vg_store_audit(vg_store_t *s, const char *actor, const char *action, const char *target,
                       const char *details);
/** The head of the chain: its sequence number (0 when empty) and hash (65 bytes). */
int vg_store_audit_head(vg_store_t *s, int64_t *seq, char hash[65]);
/**
 * Audit rows as a JSON array (newly allocated), newest first, with seq > @after (0 for all),
 * filtered by @actor/@action (NULL for any), at most @limit.
 */
int vg_store_audit_json(vg_store_t *s, int64_t after, const char *actor, const char *action,
                        int limit, char **json);
/** What vg_store_audit_query_json lists: rows after @after and (when > 0) before @before, whose
 * actor and action begin with @actor and @action, and whose time is in [@from, @to) (ISO 8601
 * UTC); NULL: any. */
typedef struct vg_audit_query {
    int64_t after, before;
    const char *actor, *action;
    const char *from, *to;
} vg_audit_query_t;
/** The audit rows @q selects, newest first, at most @limit (1-5000), as a JSON array. */
int vg_store_audit_query_json(vg_store_t *s, const vg_audit_query_t *q, int limit, char **json);

typedef struct vg_audit_report {
    int ok;          /**< 1 when the chain verifies */
    int64_t rows;    /**< rows checked */
    int64_t head;    /**< last sequence number */
    int64_t bad_seq; /**< first row found wrong (0 if none) */
    char what[512];  /**< what is wrong, for a person */
    /* anchors (filled by vg_store_audit_verify_signed; the unsigned call fills the first) */
    int64_t anchors;        /**< anchor lines checked against the chain */
    int64_t signed_anchors; /**< of which signed by one of the public keys given */
    int64_t anchored_seq;   /**< the highest row a trusted anchor pins (0: none) */
} vg_audit_report_t;

/**
 * Walk the chain from its start (or from the retention base after a purge) and report the first
 * altered, inserted or deleted row. @anchors (may be NULL): a file of anchor lines
 * "seq HASH TIME" that the chain must still contain (a cut tail is reported). Returns 0 when the
 * walk ran (see @r->ok), or a negative error when it could not read the database.
 */
int vg_store_audit_verify(vg_store_t *s, const char *anchors, vg_audit_report_t *r);
/** Append the head as an anchor line to the file @anchors. Returns 0 or VG_EIO. */
int vg_store_audit_anchor(vg_store_t *s, const char *anchors);

/* ---- signed anchors (Ed25519, libsodium; src/store/audit_key.c) ---- */

/** A signing key held in locked memory, zeroed when freed. */
typedef struct vg_audit_key vg_audit_key_t;
/** Make a key pair: the secret (its seed) into the new file @path (mode 0600, never overwritten),
 *  the public key into @path.pub and @pub_hex. Returns 0 or a negative error with @err. */
int vg_audit_key_generate(const char *path, char pub_hex[65], char *err, size_t errlen);
/** Load the secret key of @path; refused when others may read the file. */
int vg_audit_key_load(vg_audit_key_t **k, const char *path, char *err, size_t errlen);
void vg_audit_key_free(vg_audit_key_t **k);
void vg_audit_key_public_hex(const vg_audit_key_t *k, char hex[65]);
/** A public key from @arg: 64 hex digits, or a file holding them (a .pub file). */
int vg_audit_public_key_read(const char *arg, uint8_t pk[32], char *err, size_t errlen);
/** Append the head as an anchor line signed by @key (NULL: unsigned, as vg_store_audit_anchor). */
int vg_store_audit_anchor_signed(vg_store_t *s, const char *anchors, const vg_audit_key_t *key);
/**
 * vg_store_audit_verify, trusting only anchors signed by one of the @npk public keys @pks: a
 * signed anchor whose signature fails is forged or altered (reported, @r->ok 0); unsigned lines are
 * counted but prove nothing; a trail with rows and no trusted anchor does not verify. @npk 0: as
 * vg_store_audit_verify.
 */
int vg_store_audit_verify_signed(vg_store_t *s, const char *anchors, const uint8_t (*pks)[32],
                                 int npk, vg_audit_report_t *r);

/* ---- retention ---- */

typedef struct vg_retention_result {
    int64_t evidence_files; /**< evidence rows purged (their files are for the caller) */
    int64_t events_cleared; /**< events whose personal fields were cleared */
    int64_t audit_rows;     /**< audit rows purged */
} vg_retention_result_t;

/**
 * Purge evidence rows older than @evidence_days (calling @unlink_fn(opaque, name) for each, which
 * removes the file; a row is deleted only when its file is gone), clear the boxes and details of
 * events older than that (type, camera, zone, times, score and decision stay for statistics) and
 * purge audit rows older than @audit_days (0: keep forever), keeping the chain verifiable from
 * the new base. The run itself is audited.
 */
int vg_store_retention(vg_store_t *s, double evidence_days, double audit_days,
                       int (*unlink_fn)(void *opaque, const char *name), void *opaque,
                       vg_retention_result_t *r);

#ifdef __cplusplus
}
#endif
#endif
