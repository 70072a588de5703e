/*
 * The store: SQLite database of events, evidence, decisions, users, sessions and audit rows.
 *
 * What: one connection (SQLITE_OPEN_FULLMUTEX, and our own recursive mutex so that multi-statement
 * operations are atomic with respect to other threads of this process), WAL journal with
 * synchronous=FULL (a committed row survives kill -9 and power loss), foreign data only through
 * bound parameters (never formatted into SQL), a busy timeout for other processes (the sqlite3
 * tool, `vigie audit verify`) that hold the database for a moment.
 *
 * Schema: versioned with PRAGMA user_version; migrations[] holds each step from version n to n+1,
 * applied in one transaction each on open. A database from a newer vigie is refused rather than
 * damaged. Extend by appending a migration, never by editing an applied one.
 *
 * Passwords: Argon2id (libargon2), t=2, m=19 MiB, p=1 (OWASP's minimum), 16-byte random salt,
 * stored in the PHC encoded form. Unknown users are checked against a dummy hash so that a wrong
 * name and a wrong password take the same time. Session tokens are 32 random bytes; the database
 * keeps only their SHA-256, so a copy of the database does not open sessions.
 *
 * The audit chain lives in audit.c; retention in retention.c. Both use the helpers of store_priv.h.
 */
#include <argon2.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/store.h>

#include "core/sha256.h"
#include "store_priv.h"

#define COMP "store"

static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, camera TEXT NOT NULL, started TEXT NOT NULL,"
    " started_unix REAL NOT NULL, last_unix REAL NOT NULL);"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, run INTEGER NOT NULL, camera TEXT NOT NULL,"
    " event_id INTEGER NOT NULL, type TEXT NOT NULL, zone TEXT NOT NULL, start_wall TEXT NOT NULL,"
    " start_unix REAL NOT NULL, end_wall TEXT, t_start REAL NOT NULL, t_end REAL,"
    " frame_start INTEGER NOT NULL, frame_end INTEGER, score REAL NOT NULL, box TEXT,"
    " details TEXT, open INTEGER NOT NULL DEFAULT 1, ack_at TEXT, ack_by TEXT,"
    " qualification TEXT, reason TEXT, note TEXT, decided_at TEXT, decided_by TEXT,"
    " decide_s REAL, purged INTEGER NOT NULL DEFAULT 0, UNIQUE(run, event_id));"
    "CREATE INDEX events_start ON events(start_unix);"
    "CREATE TABLE feed(seq INTEGER PRIMARY KEY AUTOINCREMENT, event INTEGER NOT NULL,"
    " phase TEXT NOT NULL, wall TEXT NOT NULL, record TEXT);"
    "CREATE TABLE evidence(id INTEGER PRIMARY KEY, event INTEGER NOT NULL, kind TEXT NOT NULL,"
    " name TEXT NOT NULL, bytes INTEGER NOT NULL, created TEXT NOT NULL,"
    " created_unix REAL NOT NULL, UNIQUE(kind, name));"
    "CREATE INDEX evidence_event ON evidence(event);"
    "CREATE TABLE decisions(id INTEGER PRIMARY KEY, event INTEGER NOT NULL, user TEXT NOT NULL,"
    " kind TEXT NOT NULL, qualification TEXT, reason TEXT, note TEXT, at TEXT NOT NULL);"
    "CREATE TABLE fixtures(id INTEGER PRIMARY KEY, camera TEXT NOT NULL, x REAL NOT NULL,"
    " y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL, event INTEGER, user TEXT NOT NULL,"
    " at TEXT NOT NULL);"
    "CREATE TABLE scenes(id INTEGER PRIMARY KEY, camera TEXT NOT NULL, yaml TEXT NOT NULL,"
    " user TEXT NOT NULL, at TEXT NOT NULL);"
    "CREATE TABLE users(name TEXT PRIMARY KEY, role TEXT NOT NULL, pwhash TEXT NOT NULL,"
    " created TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE sessions(token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,"
    " created TEXT NOT NULL, expires_unix REAL NOT NULL);"
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, target TEXT NOT NULL, details TEXT NOT NULL, prev TEXT NOT NULL,"
    " hash TEXT NOT NULL);"
    /* Guards against mistakes, not against an attacker (who can drop them): the chain is what
       makes tampering visible. Retention sets meta.audit_purging inside its transaction. */
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN"
    " SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " WHEN (SELECT value FROM meta WHERE key = 'audit_purging') IS NULL BEGIN"
    " SELECT RAISE(ABORT, 'the audit trail is append-only'); END;",
    /* 1 -> 2: count series (anonymous aggregates: people per zone, no one in particular) */
    "CREATE TABLE counts(id INTEGER PRIMARY KEY, run INTEGER NOT NULL, camera TEXT NOT NULL,"
    " zone TEXT NOT NULL, wall TEXT NOT NULL, unix REAL NOT NULL, t REAL NOT NULL,"
    " count REAL NOT NULL,"
    " count_detector REAL NOT NULL, count_occupancy REAL, area REAL, density REAL);"
    "CREATE INDEX counts_camera ON counts(camera, wall);"
    "CREATE INDEX counts_unix ON counts(unix);",
    /* 2 -> 3: an alert's priority and who handles it; shift hand-over notes (issue #18) */
    "ALTER TABLE events ADD COLUMN priority TEXT;"
    "ALTER TABLE events ADD COLUMN claimed_by TEXT;"
    "ALTER TABLE events ADD COLUMN claimed_at TEXT;"
    "CREATE TABLE handover(id INTEGER PRIMARY KEY, at TEXT NOT NULL, unix REAL NOT NULL,"
    " user TEXT NOT NULL, text TEXT NOT NULL);"
    "CREATE INDEX handover_unix ON handover(unix);",
    /* 3 -> 4: a console node's records received from analysis nodes (docs/scale.md): each
     * message once, each sending node's run mapped to a run of this store */
    "CREATE TABLE cluster_in(id TEXT PRIMARY KEY, event INTEGER NOT NULL, unix REAL NOT NULL);"
    "CREATE INDEX cluster_in_unix ON cluster_in(unix);"
    "CREATE TABLE cluster_runs(origin TEXT PRIMARY KEY, run INTEGER NOT NULL, node TEXT NOT NULL);",
    /* 4 -> 5: event clips (issue #27): where in its clip the event starts, seconds */
    "ALTER TABLE evidence ADD COLUMN at REAL;",
};

/* ---- helpers shared with audit.c and retention.c ---- */

int vg__store_err(vg_store_t *s, int rc, const char *what)
{
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return 0;
    /* a constraint (a name taken) is the caller's answer, not a fault of the store */
    vg_log(COMP, (rc & 0xff) == SQLITE_CONSTRAINT ? VG_LOG_VERBOSE : VG_LOG_ERROR, "%s: %s: %s",
           s->path, what, sqlite3_errmsg(s->db));
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return VG_EBUSY;
    case SQLITE_FULL:
    case SQLITE_IOERR:
        return VG_EIO;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return VG_ECORRUPT;
    case SQLITE_NOMEM:
        return VG_ENOMEM;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
        return VG_EACCES;
    case SQLITE_CONSTRAINT:
        return VG_EBUSY;
    default:
        return VG_EIO;
    }
}

/* Bind arguments by a format: i int64, d double, t text (NULL binds NULL). */
static int bind_va(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    for (int i = 0; fmt && fmt[i]; i++) {
        int rc;
        switch (fmt[i]) {
        case 'i':
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
            break;
        case 'd':
            rc = sqlite3_bind_double(st, i + 1, va_arg(ap, double));
            break;
        case 't': {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, i + 1);
            break;
        }
        default:
            return SQLITE_MISUSE;
        }
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

int vg__store_prep(vg_store_t *s, sqlite3_stmt **st, const char *sql, const char *fmt, ...)
{
    va_list ap;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) return vg__store_err(s, rc, "prepare");
    va_start(ap, fmt);
    rc = bind_va(*st, fmt, ap);
    va_end(ap);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        return vg__store_err(s, rc, "bind");
    }
    return 0;
}

int vg__store_exec(vg_store_t *s, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return vg__store_err(s, rc, "prepare");
    va_start(ap, fmt);
    rc = bind_va(st, fmt, ap);
    va_end(ap);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : vg__store_err(s, rc, sql);
}

int vg__store_begin(vg_store_t *s)
{
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : vg__store_err(s, rc, "begin");
}

int vg__store_end(vg_store_t *s, int ret)
{
    if (ret < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return ret;
    }
    int rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        ret = vg__store_err(s, rc, "commit");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return ret;
}

void vg__store_lock(vg_store_t *s)
{
    pthread_mutex_lock(&s->lock);
}

void vg__store_unlock(vg_store_t *s)
{
    pthread_mutex_unlock(&s->lock);
}

char *vg__store_dump(json_t *j)
{
    char *txt =
        j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10)) : NULL;
    char *out = txt ? vg_strdup(txt) : NULL;
    free(txt);
    json_decref(j);
    return out;
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_TEXT:
        return json_string((const char *)sqlite3_column_text(st, i));
    default:
        return json_null();
    }
}

/* Every column of the current row as an object; columns named *_json are parsed JSON. */
json_t *vg__store_row_json(sqlite3_stmt *st)
{
    json_t *o = json_object();
    for (int i = 0; o && i < sqlite3_column_count(st); i++) {
        const char *name = sqlite3_column_name(st, i);
        size_t n = strlen(name);
        if (n > 5 && !strcmp(name + n - 5, "_json")) {
            char key[64];
            snprintf(key, sizeof(key), "%.*s", (int)(n - 5), name);
            const char *txt = (const char *)sqlite3_column_text(st, i);
            json_t *v = txt ? json_loads(txt, 0, NULL) : NULL;
            json_object_set_new(o, key, v ? v : json_null());
        } else
            json_object_set_new(o, name, col_json(st, i));
    }
    return o;
}

int vg__store_rows_json(sqlite3_stmt *st, char **json)
{
    json_t *arr = json_array();
    if (!arr) {
        sqlite3_finalize(st);
        return VG_ENOMEM;
    }
    while (sqlite3_step(st) == SQLITE_ROW) json_array_append_new(arr, vg__store_row_json(st));
    sqlite3_finalize(st);
    *json = vg__store_dump(arr);
    return *json ? 0 : VG_ENOMEM;
}

void vg_store_now(char buf[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

/* @t (Unix seconds) as the store's ISO time */
static void vg__store_iso(double t, char buf[32])
{
    struct tm tm;
    time_t sec = (time_t)floor(t);
    gmtime_r(&sec, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03dZ", (int)((t - (double)sec) * 1000) % 1000);
}

double vg__store_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- open, migrate, close ---- */

int vg_store_schema_version(vg_store_t *s)
{
    sqlite3_stmt *st;
    int v = -1;
    vg__store_lock(s);
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return v;
}

static int migrate(vg_store_t *s, char *err, size_t errlen)
{
    int n = (int)(sizeof(migrations) / sizeof(migrations[0])), v, rc;
    v = vg_store_schema_version(s);
    if (v < 0) {
        snprintf(err, errlen, "%s: not a vigie database (%s)", s->path, sqlite3_errmsg(s->db));
        return VG_ECORRUPT;
    }
    if (v > n) {
        snprintf(err, errlen,
                 "%s: the database has schema version %d, this vigie knows up to %d; use the "
                 "vigie that wrote it (nothing was changed)",
                 s->path, v, n);
        return VG_ERANGE;
    }
    for (; v < n; v++) {
        char pragma[64];
        if (vg__store_begin(s) < 0) goto fail;
        rc = sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL);
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
        if (rc == SQLITE_OK) rc = sqlite3_exec(s->db, pragma, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "%s: migrating the schema to version %d: %s", s->path, v + 1,
                     sqlite3_errmsg(s->db));
            vg__store_end(s, VG_EIO);
            return VG_EIO;
        }
        if (vg__store_end(s, 0) < 0) goto fail;
        vg_log(COMP, VG_LOG_VERBOSE, "%s: schema migrated to version %d", s->path, v + 1);
    }
    return 0;
fail:
    snprintf(err, errlen, "%s: cannot write the database: %s", s->path, sqlite3_errmsg(s->db));
    return VG_EIO;
}

int vg_store_open(vg_store_t **out, const char *path, char *err, size_t errlen)
{
    vg_store_t *s = vg_calloc(1, sizeof(*s));
    pthread_mutexattr_t ma;
    int rc, ret;
    if (!s) return VG_ENOMEM;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    s->path = vg_strdup(path);
    if (!s->path) {
        ret = VG_ENOMEM;
        goto fail;
    }
    /* The database holds users, sessions and the trail: readable by its owner only (SQLite
     * would create it 0644; its WAL and shared-memory files take the database's mode). Only a
     * file that does not exist yet is opened here: closing a descriptor of a database this
     * process has open elsewhere would drop SQLite's POSIX locks on it. */
    if (strcmp(path, ":memory:") && strncmp(path, "file:", 5)) {
        struct stat sb;
        if (stat(path, &sb) != 0 && errno == ENOENT) {
            int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd >= 0) close(fd);
        } else if (S_ISREG(sb.st_mode) && (sb.st_mode & 0007)) {
            if (chmod(path, sb.st_mode & 0770) != 0)
                vg_log("store", VG_LOG_WARNING, "%s: readable by anyone, and cannot change it: %s",
                       path, strerror(errno));
        }
    }
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen,
                 "%s: cannot open the database: %s; check the storage path and its "
                 "permissions",
                 path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        ret = rc == SQLITE_CANTOPEN || rc == SQLITE_PERM ? VG_EACCES : VG_EIO;
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_extended_result_codes(s->db, 0);
    rc = sqlite3_exec(s->db,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                      " PRAGMA foreign_keys=ON;",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s; is it a vigie database?", path, sqlite3_errmsg(s->db));
        ret = rc == SQLITE_NOTADB ? VG_ECORRUPT : VG_EIO;
        goto fail;
    }
    if ((ret = migrate(s, err, errlen)) < 0) goto fail;
    *out = s;
    return 0;
fail:
    vg_store_close(&s);
    return ret;
}

void vg_store_close(vg_store_t **ps)
{
    vg_store_t *s = *ps;
    if (!s) return;
    if (s->db) sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    vg_free(s->dummy_hash);
    vg_free(s->path);
    vg_free(s);
    *ps = NULL;
}

int vg_store_meta_get(vg_store_t *s, const char *key, char *buf, size_t len)
{
    sqlite3_stmt *st;
    int ret;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st, "SELECT value FROM meta WHERE key = ?", "t", key);
    if (ret == 0) {
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
        else
            ret = VG_ENOENT;
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret;
}

int vg_store_meta_set(vg_store_t *s, const char *key, const char *value)
{
    vg__store_lock(s);
    int ret = vg__store_exec(s, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", "tt", key,
                             value);
    vg__store_unlock(s);
    return ret;
}

/* ---- events ---- */

int64_t vg_store_run_start(vg_store_t *s, const char *camera)
{
    char now[32];
    double u = vg__store_unix();
    int64_t id;
    vg_store_now(now);
    vg__store_lock(s);
    int ret = vg__store_exec(s,
                             "INSERT INTO runs(camera, started, started_unix, last_unix) VALUES "
                             "(?, ?, ?, ?)",
                             "ttdd", camera, now, u, u);
    id = ret < 0 ? ret : sqlite3_last_insert_rowid(s->db);
    vg__store_unlock(s);
    return id;
}

int vg_store_run_touch(vg_store_t *s, int64_t run)
{
    vg__store_lock(s);
    int ret = vg__store_exec(s, "UPDATE runs SET last_unix = ? WHERE id = ?", "di",
                             vg__store_unix(), run);
    vg__store_unlock(s);
    return ret;
}

static int64_t feed_add(vg_store_t *s, int64_t event, const char *phase, const char *wall,
                        const char *record)
{
    int ret = vg__store_exec(s, "INSERT INTO feed(event, phase, wall, record) VALUES (?, ?, ?, ?)",
                             "ittt", event, phase, wall, record);
    return ret < 0 ? ret : sqlite3_last_insert_rowid(s->db);
}

/* A feed record from @o (consumed). */
static int feed_json(vg_store_t *s, int64_t event, const char *phase, const char *wall, json_t *o)
{
    char *rec = vg__store_dump(o);
    int64_t seq = rec ? feed_add(s, event, phase, wall, rec) : VG_ENOMEM;
    vg_free(rec);
    return seq < 0 ? (int)seq : 0;
}

/* The feed record of an event phase: the event record's fields plus the store's. */
static char *event_record(int64_t id, const vg_event_t *ev, const char *wall, const char *evidence,
                          const char *priority)
{
    char line[VG_EVENT_DETAILS_MAX + 1024];
    json_t *o;
    if (vg_event_to_json(ev, line, sizeof(line)) < 0) return NULL;
    o = json_loads(line, 0, NULL);
    if (!o) return NULL;
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "wall", json_string(wall));
    if (evidence) json_object_set_new(o, "evidence", json_string(evidence));
    if (priority) json_object_set_new(o, "priority", json_string(priority));
    return vg__store_dump(o);
}

int64_t vg_store_event_put(vg_store_t *s, int64_t run, const vg_event_t *ev, const char *wall,
                           const char *evidence, int64_t evidence_bytes, int64_t *feed_seq)
{
    return vg_store_event_put_priority(s, run, ev, wall, evidence, evidence_bytes, NULL, feed_seq);
}

/* vg_store_event_put_priority inside a transaction the caller holds: the event's id, or an
 * error (the caller rolls back). */
static int64_t event_put_tx(vg_store_t *s, int64_t run, const vg_event_t *ev, const char *wall,
                            const char *evidence, int64_t evidence_bytes, const char *priority,
                            int64_t *feed_seq)
{
    char box[160] = "", *details = NULL, *rec = NULL;
    int64_t id = 0, seq;
    int ret;
    sqlite3_stmt *st = NULL;
    if (ev->has_box)
        snprintf(box, sizeof(box), "[%.1f,%.1f,%.1f,%.1f]", ev->box[0], ev->box[1], ev->box[2],
                 ev->box[3]);
    details = vg_malloc(ev->details_len + 3);
    if (!details) return VG_ENOMEM;
    snprintf(details, ev->details_len + 3, "{%.*s}", (int)ev->details_len, ev->details);
    if (ev->phase == VG_PHASE_START) {
        ret = vg__store_exec(
            s,
            "INSERT INTO events(run, camera, event_id, type, zone, start_wall, start_unix,"
            " t_start, frame_start, score, box, details, priority) VALUES"
            " (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            "ititttddidttt", run, ev->camera, ev->event_id, vg_event_type_name(ev->type), ev->zone,
            wall, vg__store_unix(), ev->t, ev->frame, ev->score, ev->has_box ? box : NULL, details,
            priority);
        if (ret < 0) goto end;
        id = sqlite3_last_insert_rowid(s->db);
        if (evidence && (ret = vg__store_exec(
                             s,
                             "INSERT INTO evidence(event, kind, name, bytes, created,"
                             " created_unix) VALUES (?,'blurred',?,?,?,?)",
                             "ititd", id, evidence, evidence_bytes, wall, vg__store_unix())) < 0)
            goto end;
    } else {
        if ((ret = vg__store_prep(s, &st, "SELECT id FROM events WHERE run = ? AND event_id = ?",
                                  "ii", run, ev->event_id)) < 0)
            goto end;
        if (sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (!id) {
            ret = VG_ENOENT;
            goto end;
        }
        if (ev->phase == VG_PHASE_END)
            ret = vg__store_exec(s,
                                 "UPDATE events SET open = 0, end_wall = ?, t_end = ?, frame_end ="
                                 " ? WHERE id = ?",
                                 "tdii", wall, ev->t, ev->frame, id);
        else
            ret = vg__store_exec(s, "UPDATE events SET score = max(score, ?) WHERE id = ?", "di",
                                 ev->score, id);
        if (ret < 0) goto end;
    }
    rec = event_record(id, ev, wall, evidence, ev->phase == VG_PHASE_START ? priority : NULL);
    if (!rec) {
        ret = VG_ENOMEM;
        goto end;
    }
    seq = feed_add(s, id, vg_event_phase_name(ev->phase), wall, rec);
    if (seq < 0) ret = (int)seq;
    if (feed_seq) *feed_seq = seq;
end:
    vg_free(details);
    vg_free(rec);
    return ret < 0 ? ret : id;
}

int64_t vg_store_event_put_priority(vg_store_t *s, int64_t run, const vg_event_t *ev,
                                    const char *wall, const char *evidence, int64_t evidence_bytes,
                                    const char *priority, int64_t *feed_seq)
{
    int64_t id = 0;
    int ret;
    vg__store_lock(s);
    if ((ret = vg__store_begin(s)) == 0) {
        id = event_put_tx(s, run, ev, wall, evidence, evidence_bytes, priority, feed_seq);
        ret = vg__store_end(s, id < 0 ? (int)id : 0);
    }
    vg__store_unlock(s);
    return ret < 0 ? ret : id;
}

/* Inside a transaction: the run of this store that stands for the sending node's run
 * @origin_run, made with its first record (camera @camera), its last time touched. */
static int64_t remote_run(vg_store_t *s, const char *origin_run, const char *node,
                          const char *camera, const char *wall)
{
    sqlite3_stmt *st = NULL;
    int64_t run = 0;
    int ret;
    if ((ret = vg__store_prep(s, &st, "SELECT run FROM cluster_runs WHERE origin = ?", "t",
                              origin_run)) < 0)
        return ret;
    if (sqlite3_step(st) == SQLITE_ROW) run = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (run)
        ret = vg__store_exec(s, "UPDATE runs SET last_unix = ? WHERE id = ?", "di",
                             vg__store_unix(), run);
    else if ((ret = vg__store_exec(s,
                                   "INSERT INTO runs(camera, started, started_unix, last_unix)"
                                   " VALUES (?, ?, ?, ?)",
                                   "ttdd", camera, wall, vg__store_unix(), vg__store_unix())) ==
             0) {
        run = sqlite3_last_insert_rowid(s->db);
        ret = vg__store_exec(s, "INSERT INTO cluster_runs(origin, run, node) VALUES (?, ?, ?)",
                             "tit", origin_run, run, node);
    }
    return ret < 0 ? ret : run;
}

int64_t vg_store_event_put_remote(vg_store_t *s, const char *msg_id, const char *origin_run,
                                  const char *node, const vg_event_t *ev, const char *wall,
                                  const char *evidence, int64_t evidence_bytes,
                                  const char *priority, int64_t *feed_seq, int *dup)
{
    sqlite3_stmt *st = NULL;
    int64_t id = 0, run = 0;
    int ret;
    *dup = 0;
    if (feed_seq) *feed_seq = 0;
    vg__store_lock(s);
    if ((ret = vg__store_begin(s)) < 0) goto out;
    if ((ret = vg__store_prep(s, &st, "SELECT event FROM cluster_in WHERE id = ?", "t", msg_id)) <
        0)
        goto end;
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        *dup = 1;
    }
    sqlite3_finalize(st);
    if (*dup) goto end;
    if ((run = remote_run(s, origin_run, node, ev->camera, wall)) < 0) {
        ret = (int)run;
        goto end;
    }
    id = event_put_tx(s, run, ev, wall, evidence, evidence_bytes, priority, feed_seq);
    if (id < 0) {
        ret = (int)id;
        goto end;
    }
    ret = vg__store_exec(s, "INSERT INTO cluster_in(id, event, unix) VALUES (?, ?, ?)", "tid",
                         msg_id, id, vg__store_unix());
end:
    ret = vg__store_end(s, ret);
out:
    vg__store_unlock(s);
    return ret < 0 ? ret : id;
}

int vg_store_cluster_received(vg_store_t *s, const char *msg_id)
{
    sqlite3_stmt *st = NULL;
    vg__store_lock(s);
    int ret = vg__store_prep(s, &st, "SELECT 1 FROM cluster_in WHERE id = ?", "t", msg_id);
    if (ret == 0) {
        ret = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret;
}

int vg_store_cluster_forget(vg_store_t *s, double before_unix)
{
    vg__store_lock(s);
    int ret = vg__store_exec(s, "DELETE FROM cluster_in WHERE unix < ?", "d", before_unix);
    int n = ret < 0 ? ret : sqlite3_changes(s->db);
    vg__store_unlock(s);
    return n;
}

int64_t vg_store_event_run(vg_store_t *s, int64_t id)
{
    sqlite3_stmt *st = NULL;
    int64_t run = VG_ENOENT;
    vg__store_lock(s);
    int ret = vg__store_prep(s, &st, "SELECT run FROM events WHERE id = ?", "i", id);
    if (ret == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) run = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    } else {
        run = ret;
    }
    vg__store_unlock(s);
    return run;
}

int vg_store_evidence_add(vg_store_t *s, int64_t event_id, const char *kind, const char *name,
                          int64_t bytes)
{
    return vg_store_evidence_add_at(s, event_id, kind, name, bytes, NAN);
}

int vg_store_evidence_add_at(vg_store_t *s, int64_t event_id, const char *kind, const char *name,
                             int64_t bytes, double at)
{
    char now[32];
    vg_store_now(now);
    vg__store_lock(s);
    int ret = vg__store_exec(s,
                             "INSERT INTO evidence(event, kind, name, bytes, created, created_unix,"
                             " at) VALUES (?,?,?,?,?,?,?)",
                             "ittitdd", event_id, kind, name, bytes, now, vg__store_unix(), at);
    vg__store_unlock(s);
    return ret;
}

int64_t vg_store_event_id(vg_store_t *s, int64_t run, int64_t event_id)
{
    sqlite3_stmt *st;
    int64_t id;
    vg__store_lock(s);
    int ret = vg__store_prep(s, &st, "SELECT id FROM events WHERE run = ? AND event_id = ?", "ii",
                             run, event_id);
    if (ret == 0) {
        id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : VG_ENOENT;
        sqlite3_finalize(st);
    } else
        id = ret;
    vg__store_unlock(s);
    return id;
}

int vg_store_evidence_find(vg_store_t *s, const char *name, int64_t *event_id, char *kind_out)
{
    sqlite3_stmt *st;
    int ret;
    vg__store_lock(s);
    ret = vg__store_prep(
        s, &st, "SELECT event, kind FROM evidence WHERE name = ? ORDER BY kind = 'blurred' DESC",
        "t", name);
    if (ret == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            *event_id = sqlite3_column_int64(st, 0);
            snprintf(kind_out, 16, "%s", (const char *)sqlite3_column_text(st, 1));
        } else
            ret = VG_ENOENT;
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret;
}

int vg_store_evidence_of(vg_store_t *s, int64_t event_id, const char *kind, char *name)
{
    sqlite3_stmt *st;
    int ret;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st, "SELECT name FROM evidence WHERE event = ? AND kind = ?", "it",
                         event_id, kind);
    if (ret == 0) {
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(name, 64, "%s", (const char *)sqlite3_column_text(st, 0));
        else
            ret = VG_ENOENT;
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret;
}

int vg_store_open_events(vg_store_t *s, const char *camera, const char *type)
{
    sqlite3_stmt *st;
    int n = 0;
    vg__store_lock(s);
    int ret = vg__store_prep(
        s, &st, "SELECT count(*) FROM events WHERE open = 1 AND camera = ? AND type = ?", "tt",
        camera, type);
    if (ret == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret < 0 ? ret : n;
}

int64_t vg_store_feed_head(vg_store_t *s)
{
    sqlite3_stmt *st;
    int64_t head = 0;
    vg__store_lock(s);
    if (vg__store_prep(s, &st, "SELECT max(seq) FROM feed", NULL) == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) head = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return head;
}

int vg_store_feed_read(vg_store_t *s, int64_t after, int max,
                       void (*fn)(void *opaque, int64_t seq, const char *json), void *opaque)
{
    sqlite3_stmt *st;
    int ret, n = 0;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st,
                         "SELECT seq, event, phase, wall, record FROM feed WHERE seq > ? ORDER BY"
                         " seq LIMIT ?",
                         "ii", after, (int64_t)max);
    if (ret == 0) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            int64_t seq = sqlite3_column_int64(st, 0);
            const char *rec = (const char *)sqlite3_column_text(st, 4);
            json_t *o = rec ? json_loads(rec, 0, NULL) : NULL;
            if (!o) {
                o = json_object();
                json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 1)));
                json_object_set_new(o, "phase",
                                    json_string((const char *)sqlite3_column_text(st, 2)));
                json_object_set_new(o, "wall",
                                    json_string((const char *)sqlite3_column_text(st, 3)));
                json_object_set_new(o, "purged", json_true());
            }
            json_object_set_new(o, "seq", json_integer(seq));
            char *txt = vg__store_dump(o);
            if (txt) fn(opaque, seq, txt);
            vg_free(txt);
            n++;
        }
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret < 0 ? ret : n;
}

#define EVENT_COLS                                                                                 \
    "SELECT e.id, e.run, e.camera, e.type, e.zone, e.start_wall AS start, e.end_wall AS \"end\","  \
    " e.t_start AS t, e.t_end, e.frame_start AS frame, e.score, e.box AS box_json,"                \
    " e.details AS details_json, e.open, e.ack_at, e.ack_by, e.qualification, e.reason, e.note,"   \
    " e.decided_at, e.decided_by, e.decide_s, e.purged, e.priority, e.claimed_by, e.claimed_at,"   \
    " (SELECT name FROM evidence v WHERE v.event = e.id AND v.kind = 'blurred') AS evidence,"      \
    " (SELECT count(*) FROM evidence v WHERE v.event = e.id AND v.kind = 'original') AS"           \
    " has_original,"                                                                               \
    " (SELECT name FROM evidence v WHERE v.event = e.id AND v.kind = 'clip') AS clip,"             \
    " (SELECT at FROM evidence v WHERE v.event = e.id AND v.kind = 'clip') AS clip_at"             \
    " FROM events e"

int vg_store_events_json(vg_store_t *s, int64_t id, const char *camera, const char *type, int limit,
                         char **json)
{
    return vg_store_events_page_json(s, id, 0, camera, type, limit, json);
}

int vg_store_events_page_json(vg_store_t *s, int64_t id, int64_t before, const char *camera,
                              const char *type, int limit, char **json)
{
    sqlite3_stmt *st;
    int ret;
    if (limit < 1) limit = 1;
    if (limit > 1000) limit = 1000;
    vg__store_lock(s);
    if (id > 0) {
        ret = vg__store_prep(s, &st, EVENT_COLS " WHERE e.id = ?", "i", id);
        if (ret == 0) {
            ret = sqlite3_step(st) == SQLITE_ROW ? 0 : VG_ENOENT;
            *json = ret == 0 ? vg__store_dump(vg__store_row_json(st)) : NULL;
            if (ret == 0 && !*json) ret = VG_ENOMEM;
            sqlite3_finalize(st);
        }
    } else {
        ret = vg__store_prep(s, &st,
                             EVENT_COLS " WHERE (?1 IS NULL OR e.camera = ?1) AND (?2 IS NULL OR"
                                        " e.type = ?2) AND (?4 <= 0 OR e.id < ?4) ORDER BY e.id"
                                        " DESC LIMIT ?3",
                             "ttii", camera, type, (int64_t)limit, before);
        if (ret == 0) ret = vg__store_rows_json(st, json);
    }
    vg__store_unlock(s);
    return ret;
}

int vg_store_event_info(vg_store_t *s, int64_t id, char camera[64], char type[64], double box[4],
                        int *has_box)
{
    sqlite3_stmt *st;
    int ret;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st, "SELECT camera, type, box FROM events WHERE id = ?", "i", id);
    if (ret == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            const char *b = (const char *)sqlite3_column_text(st, 2);
            snprintf(camera, 64, "%s", (const char *)sqlite3_column_text(st, 0));
            snprintf(type, 64, "%s", (const char *)sqlite3_column_text(st, 1));
            *has_box = b && sscanf(b, "[%lf,%lf,%lf,%lf]", &box[0], &box[1], &box[2], &box[3]) == 4;
        } else
            ret = VG_ENOENT;
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret;
}

/* ---- decisions ---- */

static const char *const qual_names[] = {"confirmed", "false_alert", "not_relevant", NULL};
static const char *const reason_names[] = {"person_not_object", "fixture", "reflection_or_light",
                                           "weather",           "other",   NULL};
static const char *const role_names[] = {"operator", "supervisor", "auditor", "admin", NULL};

static int find_name(const char *const *names, const char *name)
{
    for (int i = 0; name && names[i]; i++)
        if (!strcmp(names[i], name)) return i;
    return VG_EINVAL;
}

const char *vg_qualification_name(int q)
{
    return q >= 0 && q < VG_QUAL_NB ? qual_names[q] : "?";
}
int vg_qualification_from_name(const char *name)
{
    return find_name(qual_names, name);
}
const char *vg_false_reason_name(int r)
{
    return r >= 0 && r < VG_FALSE_NB ? reason_names[r] : "?";
}
int vg_false_reason_from_name(const char *name)
{
    return find_name(reason_names, name);
}
const char *vg_role_name(int role)
{
    return role >= 0 && role < VG_ROLE_NB ? role_names[role] : "?";
}
int vg_role_from_name(const char *name)
{
    return find_name(role_names, name);
}

int vg_store_event_ack(vg_store_t *s, int64_t id, const char *user)
{
    sqlite3_stmt *st;
    char now[32];
    int ret, found = 0, acked = 0;
    vg_store_now(now);
    vg__store_lock(s);
    if ((ret = vg__store_begin(s)) < 0) goto out;
    if ((ret = vg__store_prep(s, &st, "SELECT ack_at FROM events WHERE id = ?", "i", id)) < 0)
        goto end;
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        acked = sqlite3_column_type(st, 0) != SQLITE_NULL;
    }
    sqlite3_finalize(st);
    if (!found || acked) {
        ret = !found ? VG_ENOENT : VG_EBUSY;
        goto end;
    }
    ret = vg__store_exec(s, "UPDATE events SET ack_at = ?, ack_by = ? WHERE id = ?", "tti", now,
                         user, id);
    if (ret == 0)
        ret = vg__store_exec(s, "INSERT INTO decisions(event, user, kind, at) VALUES (?,?,'ack',?)",
                             "itt", id, user, now);
    if (ret == 0)
        ret = feed_json(s, id, "ack", now,
                        json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)id, "phase", "ack", "user",
                                  user, "wall", now));
end:
    ret = vg__store_end(s, ret);
out:
    vg__store_unlock(s);
    return ret;
}

int vg_store_event_qualify(vg_store_t *s, int64_t id, const char *user, int qual, int reason,
                           const char *note)
{
    sqlite3_stmt *st;
    char now[32];
    int ret, found = 0, acked = 0, decided = 0;
    double start = 0;
    if (qual < 0 || qual >= VG_QUAL_NB) return VG_EINVAL;
    if (qual == VG_QUAL_FALSE_ALERT ? reason < 0 || reason >= VG_FALSE_NB : reason != -1)
        return VG_EINVAL;
    vg_store_now(now);
    vg__store_lock(s);
    if ((ret = vg__store_begin(s)) < 0) goto out;
    if ((ret = vg__store_prep(s, &st,
                              "SELECT ack_at, start_unix, decided_at FROM events WHERE id = ?", "i",
                              id)) < 0)
        goto end;
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        acked = sqlite3_column_type(st, 0) != SQLITE_NULL;
        start = sqlite3_column_double(st, 1);
        decided = sqlite3_column_type(st, 2) != SQLITE_NULL;
    }
    sqlite3_finalize(st);
    if (!found || !acked) {
        ret = !found ? VG_ENOENT : VG_EAGAIN;
        goto end;
    }
    const char *rname = reason >= 0 ? reason_names[reason] : NULL;
    if (decided)
        ret = vg__store_exec(s,
                             "UPDATE events SET qualification = ?, reason = ?, note = ?,"
                             " decided_by = ? WHERE id = ?",
                             "tttti", qual_names[qual], rname, note ? note : "", user, id);
    else
        ret = vg__store_exec(s,
                             "UPDATE events SET qualification = ?, reason = ?, note = ?,"
                             " decided_by = ?, decided_at = ?, decide_s = ? WHERE id = ?",
                             "tttttdi", qual_names[qual], rname, note ? note : "", user, now,
                             fmax(0, vg__store_unix() - start), id);
    if (ret == 0)
        ret = vg__store_exec(s,
                             "INSERT INTO decisions(event, user, kind, qualification, reason,"
                             " note, at) VALUES (?,?,'qualify',?,?,?,?)",
                             "ittttt", id, user, qual_names[qual], rname, note ? note : "", now);
    if (ret == 0)
        ret = feed_json(s, id, "decision", now,
                        json_pack("{s:I,s:s,s:s,s:s,s:s,s:s?,s:s}", "id", (json_int_t)id, "phase",
                                  "decision", "user", user, "wall", now, "qualification",
                                  qual_names[qual], "reason", rname, "note", note ? note : ""));
end:
    ret = vg__store_end(s, ret);
out:
    vg__store_unlock(s);
    return ret;
}

int vg_store_event_claim(vg_store_t *s, int64_t id, const char *user, int mode, int force,
                         char *holder)
{
    sqlite3_stmt *st;
    char now[32], held[64] = "";
    int ret, found = 0;
    if (mode < VG_CLAIM_TAKE || mode > VG_CLAIM_RELEASE) return VG_EINVAL;
    vg_store_now(now);
    vg__store_lock(s);
    if ((ret = vg__store_begin(s)) < 0) goto out;
    if ((ret = vg__store_prep(s, &st, "SELECT claimed_by FROM events WHERE id = ?", "i", id)) < 0)
        goto end;
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        if (sqlite3_column_type(st, 0) != SQLITE_NULL)
            snprintf(held, sizeof(held), "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (!found) {
        ret = VG_ENOENT;
        goto end;
    }
    const char *to = NULL; /* the new holder (NULL: nobody) */
    if (mode == VG_CLAIM_RELEASE) {
        if (!held[0]) goto end; /* nobody holds it: nothing to do */
        if (strcmp(held, user) && !force) {
            ret = VG_EACCES;
            goto end;
        }
    } else {
        if (!strcmp(held, user)) goto end; /* already the holder */
        if (held[0] && mode == VG_CLAIM_TAKE) {
            ret = VG_EBUSY;
            goto end;
        }
        to = user;
    }
    ret = vg__store_exec(s, "UPDATE events SET claimed_by = ?, claimed_at = ? WHERE id = ?", "tti",
                         to, to ? now : NULL, id);
    if (ret == 0)
        ret = vg__store_exec(
            s, "INSERT INTO decisions(event, user, kind, note, at) VALUES (?,?,?,?,?)", "itttt", id,
            user, to ? (held[0] ? "take_over" : "claim") : "release", held[0] ? held : NULL, now);
    if (ret == 0)
        ret = feed_json(s, id, "claim", now,
                        json_pack("{s:I,s:s,s:s?,s:s,s:s}", "id", (json_int_t)id, "phase", "claim",
                                  "user", to, "by", user, "wall", now));
    if (ret == 0) snprintf(held, sizeof(held), "%s", to ? to : "");
end:
    ret = vg__store_end(s, ret);
out:
    vg__store_unlock(s);
    if (holder) snprintf(holder, 64, "%s", held);
    return ret;
}

int64_t vg_store_handover_add(vg_store_t *s, const char *user, const char *text)
{
    char now[32];
    int64_t id = 0;
    size_t len = text ? strlen(text) : 0;
    if (!len || len > 2000) return VG_EINVAL;
    vg_store_now(now);
    vg__store_lock(s);
    int ret = vg__store_begin(s);
    if (ret < 0) goto out;
    ret = vg__store_exec(s, "INSERT INTO handover(at, unix, user, text) VALUES (?,?,?,?)", "tdtt",
                         now, vg__store_unix(), user, text);
    if (ret == 0) {
        id = sqlite3_last_insert_rowid(s->db);
        ret = feed_json(s, 0, "handover", now,
                        json_pack("{s:s,s:I,s:s,s:s,s:s}", "phase", "handover", "note",
                                  (json_int_t)id, "user", user, "text", text, "wall", now));
    }
    ret = vg__store_end(s, ret);
out:
    vg__store_unlock(s);
    return ret < 0 ? ret : id;
}

int vg_store_handover_json(vg_store_t *s, int64_t before, int limit, char **json)
{
    sqlite3_stmt *st;
    if (limit < 1) limit = 1;
    if (limit > 500) limit = 500;
    vg__store_lock(s);
    int ret = vg__store_prep(s, &st,
                             "SELECT id, at, user, text FROM handover WHERE (?1 <= 0 OR id < ?1)"
                             " ORDER BY id DESC LIMIT ?2",
                             "ii", before, (int64_t)limit);
    if (ret == 0) ret = vg__store_rows_json(st, json);
    vg__store_unlock(s);
    return ret;
}

int vg_store_fixture_add(vg_store_t *s, const char *camera, const double box[4], int64_t event,
                         const char *user)
{
    char now[32];
    vg_store_now(now);
    vg__store_lock(s);
    int ret = vg__store_exec(s,
                             "INSERT INTO fixtures(camera, x, y, w, h, event, user, at) VALUES"
                             " (?,?,?,?,?,?,?,?)",
                             "tdddditt", camera, box[0], box[1], box[2], box[3], event, user, now);
    vg__store_unlock(s);
    return ret;
}

int vg_store_fixtures(vg_store_t *s, const char *camera,
                      void (*fn)(void *opaque, const double box[4]), void *opaque)
{
    sqlite3_stmt *st;
    int ret, n = 0;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st, "SELECT x, y, w, h FROM fixtures WHERE camera = ? ORDER BY id",
                         "t", camera);
    if (ret == 0) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            double b[4];
            for (int i = 0; i < 4; i++) b[i] = sqlite3_column_double(st, i);
            fn(opaque, b);
            n++;
        }
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret < 0 ? ret : n;
}

int vg_store_scene_get(vg_store_t *s, const char *camera, char **yaml)
{
    sqlite3_stmt *st;
    int ret;
    vg__store_lock(s);
    ret = vg__store_prep(
        s, &st, "SELECT yaml FROM scenes WHERE camera = ? ORDER BY id DESC LIMIT 1", "t", camera);
    if (ret == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            *yaml = vg_strdup((const char *)sqlite3_column_text(st, 0));
            if (!*yaml) ret = VG_ENOMEM;
        } else
            ret = VG_ENOENT;
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret;
}

int vg_store_scene_put(vg_store_t *s, const char *camera, const char *yaml, const char *user)
{
    char now[32];
    vg_store_now(now);
    vg__store_lock(s);
    int ret = vg__store_exec(s, "INSERT INTO scenes(camera, yaml, user, at) VALUES (?,?,?,?)",
                             "tttt", camera, yaml, user, now);
    vg__store_unlock(s);
    return ret;
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int vg_store_count_put(vg_store_t *s, int64_t run, const vg_count_t *c, const char *wall)
{
    vg__store_lock(s);
    int ret = vg__store_exec(s,
                             "INSERT INTO counts(run, camera, zone, wall, unix, t, count,"
                             " count_detector, count_occupancy, area, density) VALUES"
                             " (?,?,?,?,?,?,?,?, nullif(?, -1), nullif(?, 0), nullif(?, -1))",
                             "itttddddddd", run, c->camera, c->zone, wall, vg__store_unix(), c->t,
                             c->count, c->count_detector, c->count_occupancy, c->area, c->density);
    vg__store_unlock(s);
    return ret;
}

int vg_store_counts_after(vg_store_t *s, int64_t after, int max,
                          int (*fn)(void *opaque, int64_t id, int64_t run, const vg_count_t *c,
                                    const char *wall),
                          void *opaque)
{
    sqlite3_stmt *st;
    int ret, n = 0;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st,
                         "SELECT id, run, camera, zone, wall, t, count, count_detector,"
                         " coalesce(count_occupancy, -1), coalesce(area, 0),"
                         " coalesce(density, -1) FROM counts WHERE id > ? ORDER BY id LIMIT ?",
                         "ii", after, (int64_t)max);
    if (ret == 0) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            vg_count_t c;
            memset(&c, 0, sizeof(c));
            snprintf(c.camera, sizeof(c.camera), "%s", (const char *)sqlite3_column_text(st, 2));
            snprintf(c.zone, sizeof(c.zone), "%s", (const char *)sqlite3_column_text(st, 3));
            c.t = sqlite3_column_double(st, 5);
            c.count = sqlite3_column_double(st, 6);
            c.count_detector = sqlite3_column_double(st, 7);
            c.count_occupancy = sqlite3_column_double(st, 8);
            c.area = sqlite3_column_double(st, 9);
            c.density = sqlite3_column_double(st, 10);
            ret = fn(opaque, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), &c,
                     (const char *)sqlite3_column_text(st, 4));
            if (ret < 0) break;
            n++;
        }
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret < 0 ? ret : n;
}

int vg_store_count_put_remote(vg_store_t *s, const char *msg_id, const char *origin_run,
                              const char *node, const vg_count_t *c, const char *wall, int *dup)
{
    sqlite3_stmt *st = NULL;
    int64_t run = 0;
    int ret;
    *dup = 0;
    vg__store_lock(s);
    if ((ret = vg__store_begin(s)) < 0) goto out;
    if ((ret = vg__store_prep(s, &st, "SELECT 1 FROM cluster_in WHERE id = ?", "t", msg_id)) < 0)
        goto end;
    *dup = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (*dup) goto end;
    if ((run = remote_run(s, origin_run, node, c->camera, wall)) < 0) {
        ret = (int)run;
        goto end;
    }
    if ((ret = vg_store_count_put(s, run, c, wall)) < 0) goto end;
    ret = vg__store_exec(s, "INSERT INTO cluster_in(id, event, unix) VALUES (?, 0, ?)", "td",
                         msg_id, vg__store_unix());
end:
    ret = vg__store_end(s, ret);
out:
    vg__store_unlock(s);
    return ret;
}

int vg_store_counts(vg_store_t *s, const char *camera, const char *zone, const char *from,
                    const char *to, int limit,
                    int (*fn)(void *opaque, const vg_store_count_row_t *row), void *opaque)
{
    sqlite3_stmt *st;
    int ret, n = 0;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st,
                         "SELECT * FROM (SELECT wall, zone, count, count_detector,"
                         " count_occupancy, area, density FROM counts WHERE camera = ?1 AND"
                         " (?2 IS NULL OR zone = ?2) AND (?3 IS NULL OR wall >= ?3) AND"
                         " (?4 IS NULL OR wall < ?4) ORDER BY id DESC LIMIT ?5) ORDER BY wall",
                         "tttti", camera, zone, from, to, (int64_t)limit);
    if (ret == 0) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            vg_store_count_row_t r = {.wall = (const char *)sqlite3_column_text(st, 0),
                                      .zone = (const char *)sqlite3_column_text(st, 1),
                                      .count = sqlite3_column_double(st, 2),
                                      .count_detector = sqlite3_column_double(st, 3)};
            double *opt[3] = {&r.count_occupancy, &r.area, &r.density};
            for (int k = 0; k < 3; k++)
                *opt[k] = sqlite3_column_type(st, 4 + k) == SQLITE_NULL
                              ? NAN
                              : sqlite3_column_double(st, 4 + k);
            if ((ret = fn(opaque, &r)) < 0) break;
            n++;
        }
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret < 0 ? ret : n;
}

int vg_store_stats(vg_store_t *s, const char *from, const char *to,
                   int (*fn)(void *opaque, const vg_store_stats_row_t *row), void *opaque)
{
    sqlite3_stmt *st, *hs, *ms;
    int ret, rows = 0;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st,
                         "SELECT camera, type, count(*), count(ack_at),"
                         " sum(qualification = 'confirmed'), sum(qualification = 'false_alert'),"
                         " sum(qualification = 'not_relevant') FROM events"
                         " WHERE (?1 IS NULL OR start_wall >= ?1) AND (?2 IS NULL OR start_wall <"
                         " ?2) GROUP BY camera, type ORDER BY camera, type",
                         "tt", from, to);
    if (ret < 0) goto end;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *cam = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        int64_t alerts = sqlite3_column_int64(st, 2), acked = sqlite3_column_int64(st, 3);
        int64_t conf = sqlite3_column_int64(st, 4), fa = sqlite3_column_int64(st, 5),
                nr = sqlite3_column_int64(st, 6);
        double hours = 0, median = -1, p90 = -1;
        /* Camera hours: the analysed spans of this camera's runs within the period. */
        if (vg__store_prep(s, &hs,
                           "SELECT sum(max(0, min(last_unix, coalesce(unixepoch(?2), last_unix))"
                           " - max(started_unix, coalesce(unixepoch(?1), started_unix))))"
                           " FROM runs WHERE camera = ?3",
                           "ttt", from, to, cam) == 0) {
            if (sqlite3_step(hs) == SQLITE_ROW) hours = sqlite3_column_double(hs, 0) / 3600.0;
            sqlite3_finalize(hs);
        }
        if (vg__store_prep(s, &ms,
                           "SELECT decide_s FROM events WHERE camera = ?3 AND type = ?4 AND"
                           " decide_s IS NOT NULL AND (?1 IS NULL OR start_wall >= ?1) AND (?2 IS"
                           " NULL OR start_wall < ?2)",
                           "tttt", from, to, cam, type) == 0) {
            double *v = NULL;
            size_t n = 0, cap = 0;
            while (sqlite3_step(ms) == SQLITE_ROW) {
                if (n == cap) {
                    size_t nc = cap ? cap * 2 : 64;
                    double *nv = vg_realloc(v, nc * sizeof(*v));
                    if (!nv) break;
                    v = nv;
                    cap = nc;
                }
                v[n++] = sqlite3_column_double(ms, 0);
            }
            sqlite3_finalize(ms);
            if (n) {
                qsort(v, n, sizeof(*v), cmp_double);
                median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
                size_t k = (size_t)ceil(0.9 * (double)n); /* nearest rank */
                p90 = v[k > 0 ? k - 1 : 0];
            }
            vg_free(v);
        }
        vg_store_stats_row_t r = {cam,
                                  type,
                                  alerts,
                                  acked,
                                  conf,
                                  fa,
                                  nr,
                                  conf + fa + nr ? (double)conf / (conf + fa + nr) : NAN,
                                  hours,
                                  hours > 0 ? fa / hours : NAN,
                                  median >= 0 ? median : NAN,
                                  p90 >= 0 ? p90 : NAN};
        if ((ret = fn(opaque, &r)) < 0) break;
        rows++;
    }
    sqlite3_finalize(st);
end:
    vg__store_unlock(s);
    return ret < 0 ? ret : rows;
}

int vg_store_run_hours(vg_store_t *s, const char *from, const char *to,
                       int (*fn)(void *opaque, const char *camera, double hours), void *opaque)
{
    sqlite3_stmt *st;
    int ret, n = 0;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st,
                         "SELECT camera, sum(max(0, min(last_unix, coalesce(unixepoch(?2),"
                         " last_unix)) - max(started_unix, coalesce(unixepoch(?1), started_unix))))"
                         " FROM runs GROUP BY camera ORDER BY camera",
                         "tt", from, to);
    if (ret == 0) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            ret = fn(opaque, (const char *)sqlite3_column_text(st, 0),
                     sqlite3_column_double(st, 1) / 3600.0);
            if (ret < 0) break;
            n++;
        }
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret < 0 ? ret : n;
}

int vg_store_audit_counts(vg_store_t *s, const char *from, const char *to,
                          int (*fn)(void *opaque, const char *action, int64_t n), void *opaque)
{
    sqlite3_stmt *st;
    int ret, n = 0;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st,
                         "SELECT action, sum(coalesce(CASE WHEN json_valid(details) THEN"
                         " json_extract(details, '$.repeated') END, 1)) FROM audit"
                         " WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR at < ?2) GROUP BY "
                         "action ORDER BY action",
                         "tt", from, to);
    if (ret == 0) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            ret = fn(opaque, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
            if (ret < 0) break;
            n++;
        }
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret < 0 ? ret : n;
}

int vg_store_runs(vg_store_t *s,
                  int (*fn)(void *opaque, int64_t id, const char *camera, double started,
                            double last),
                  void *opaque)
{
    sqlite3_stmt *st;
    int ret, n = 0;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st, "SELECT id, camera, started_unix, last_unix FROM runs ORDER BY id",
                         NULL);
    if (ret == 0) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            ret = fn(opaque, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                     sqlite3_column_double(st, 2), sqlite3_column_double(st, 3));
            if (ret < 0) break;
            n++;
        }
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret < 0 ? ret : n;
}

int vg_store_span(vg_store_t *s, char first[32], char last[32])
{
    sqlite3_stmt *st;
    int ret;
    vg__store_lock(s);
    ret = vg__store_prep(
        s, &st,
        "SELECT min(a), max(b) FROM (SELECT min(started_unix) AS a, max(last_unix) AS b FROM runs"
        " UNION ALL SELECT min(start_unix), max(start_unix) FROM events)",
        NULL);
    if (ret == 0) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            double a = sqlite3_column_double(st, 0), b = sqlite3_column_double(st, 1);
            vg__store_iso(a, first);
            vg__store_iso(b, last);
        } else
            ret = VG_ENOENT;
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret;
}

/* ---- users and sessions ---- */

#define ARGON_T    2
#define ARGON_M    19456
#define ARGON_P    1
#define ARGON_SALT 16
#define ARGON_LEN  32

static int hash_password(const char *password, char *out, size_t len)
{
    uint8_t salt[ARGON_SALT];
    if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) return VG_EIO;
    int rc = argon2id_hash_encoded(ARGON_T, ARGON_M, ARGON_P, password, strlen(password), salt,
                                   sizeof(salt), ARGON_LEN, out, len);
    return rc == ARGON2_OK ? 0 : rc == ARGON2_MEMORY_ALLOCATION_ERROR ? VG_ENOMEM : VG_EINVAL;
}

static int valid_user_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int vg_store_user_add(vg_store_t *s, const char *name, int role, const char *password, char *err,
                      size_t errlen)
{
    char hash[256], now[32];
    int ret;
    if (!name || !valid_user_name(name)) {
        snprintf(err, errlen, "user name '%s': use 1 to 64 letters, digits, '.', '_' or '-'",
                 name ? name : "");
        return VG_EINVAL;
    }
    if (role < 0 || role >= VG_ROLE_NB) {
        snprintf(err, errlen, "role: use operator, supervisor, auditor or admin");
        return VG_EINVAL;
    }
    if (!password || strlen(password) < 10 || strlen(password) > 1024) {
        snprintf(err, errlen, "password: use 10 to 1024 characters");
        return VG_EINVAL;
    }
    if ((ret = hash_password(password, hash, sizeof(hash))) < 0) {
        snprintf(err, errlen, "cannot hash the password: %s", vg_strerror(ret));
        return ret;
    }
    vg_store_now(now);
    vg__store_lock(s);
    ret = vg__store_exec(s, "INSERT INTO users(name, role, pwhash, created) VALUES (?,?,?,?)",
                         "tttt", name, role_names[role], hash, now);
    vg__store_unlock(s);
    if (ret == VG_EBUSY)
        snprintf(err, errlen, "user '%s' exists already", name);
    else if (ret < 0)
        snprintf(err, errlen, "cannot store the user: %s", vg_strerror(ret));
    return ret;
}

int vg_store_user_disable(vg_store_t *s, const char *name, int disabled)
{
    vg__store_lock(s);
    int ret = vg__store_exec(s, "UPDATE users SET disabled = ? WHERE name = ?", "it",
                             (int64_t) !!disabled, name);
    if (ret == 0 && sqlite3_changes(s->db) == 0) ret = VG_ENOENT;
    if (ret == 0 && disabled)
        ret = vg__store_exec(s, "DELETE FROM sessions WHERE user = ?", "t", name);
    vg__store_unlock(s);
    return ret;
}

int vg_store_user_exists(vg_store_t *s, const char *name)
{
    sqlite3_stmt *st;
    int n = 0, ret;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st, "SELECT 1 FROM users WHERE name = ?", "t", name);
    if (ret == 0) {
        n = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret < 0 ? ret : n;
}

int vg_store_session_trim(vg_store_t *s, const char *name, int keep)
{
    vg__store_lock(s);
    int ret = vg__store_exec(s,
                             "DELETE FROM sessions WHERE user = ? AND token_hash NOT IN (SELECT"
                             " token_hash FROM sessions WHERE user = ? ORDER BY created DESC,"
                             " rowid DESC LIMIT ?)",
                             "tti", name, name, (int64_t)keep);
    if (ret == 0) ret = sqlite3_changes(s->db);
    vg__store_unlock(s);
    return ret;
}

int vg_store_user_count(vg_store_t *s)
{
    sqlite3_stmt *st;
    int n = 0, ret;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st, "SELECT count(*) FROM users", NULL);
    if (ret == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret < 0 ? ret : n;
}

int vg_store_users_json(vg_store_t *s, char **json)
{
    sqlite3_stmt *st;
    vg__store_lock(s);
    int ret = vg__store_prep(s, &st,
                             "SELECT name, role, created, disabled FROM users ORDER BY name", NULL);
    if (ret == 0) ret = vg__store_rows_json(st, json);
    vg__store_unlock(s);
    return ret;
}

int vg_store_user_check(vg_store_t *s, const char *name, const char *password)
{
    sqlite3_stmt *st;
    char hash[256] = "";
    int role = VG_EACCES, ret, ok;
    vg__store_lock(s);
    ret = vg__store_prep(s, &st, "SELECT role, pwhash, disabled FROM users WHERE name = ?", "t",
                         name);
    if (ret == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            role = sqlite3_column_int(st, 2)
                       ? VG_EACCES
                       : vg_role_from_name((const char *)sqlite3_column_text(st, 0));
            snprintf(hash, sizeof(hash), "%s", (const char *)sqlite3_column_text(st, 1));
        }
        sqlite3_finalize(st);
    }
    if (!hash[0] && !s->dummy_hash) {
        char dummy[256];
        if (hash_password("not a password of anyone", dummy, sizeof(dummy)) == 0)
            s->dummy_hash = vg_strdup(dummy);
    }
    if (!hash[0] && s->dummy_hash) snprintf(hash, sizeof(hash), "%s", s->dummy_hash);
    vg__store_unlock(s);
    if (ret < 0) return ret;
    /* Verified outside the lock: it takes tens of milliseconds by design. */
    ok = hash[0] && argon2id_verify(hash, password, strlen(password)) == ARGON2_OK;
    return ok && role >= 0 ? role : VG_EACCES;
}

static int random_hex(char out[65])
{
    uint8_t b[32];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) return VG_EIO;
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

int vg_store_session_new(vg_store_t *s, const char *name, int seconds, char token[65],
                         char csrf[65])
{
    char th[65], now[32];
    int ret;
    if ((ret = random_hex(token)) < 0 || (ret = random_hex(csrf)) < 0) return ret;
    vg__sha256_hex(token, 64, th);
    vg_store_now(now);
    vg__store_lock(s);
    vg__store_exec(s, "DELETE FROM sessions WHERE expires_unix < ?", "d", vg__store_unix());
    ret = vg__store_exec(s,
                         "INSERT INTO sessions(token_hash, user, csrf, created, expires_unix)"
                         " VALUES (?,?,?,?,?)",
                         "ttttd", th, name, csrf, now, vg__store_unix() + seconds);
    vg__store_unlock(s);
    return ret;
}

int vg_store_session_get(vg_store_t *s, const char *token, char user[65], int *role, char csrf[65])
{
    sqlite3_stmt *st;
    char th[65];
    int ret;
    if (!token || strlen(token) != 64) return VG_EACCES;
    vg__sha256_hex(token, 64, th);
    vg__store_lock(s);
    ret = vg__store_prep(s, &st,
                         "SELECT s.user, u.role, s.csrf FROM sessions s JOIN users u ON u.name ="
                         " s.user WHERE s.token_hash = ? AND s.expires_unix > ? AND u.disabled = 0",
                         "td", th, vg__store_unix());
    if (ret == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(user, 65, "%s", (const char *)sqlite3_column_text(st, 0));
            *role = vg_role_from_name((const char *)sqlite3_column_text(st, 1));
            snprintf(csrf, 65, "%s", (const char *)sqlite3_column_text(st, 2));
            if (*role < 0) ret = VG_EACCES;
        } else
            ret = VG_EACCES;
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret;
}

int vg_store_session_end(vg_store_t *s, const char *token)
{
    char th[65];
    if (!token || strlen(token) != 64) return VG_EACCES;
    vg__sha256_hex(token, 64, th);
    vg__store_lock(s);
    int ret = vg__store_exec(s, "DELETE FROM sessions WHERE token_hash = ?", "t", th);
    vg__store_unlock(s);
    return ret;
}
