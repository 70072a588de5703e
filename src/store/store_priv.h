/* Internals shared by the store's files (store.c, audit.c, retention.c). */
#ifndef VG_STORE_PRIV_H
#define VG_STORE_PRIV_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>

#include <vigie/store.h>

struct vg_store {
    sqlite3 *db;
    pthread_mutex_t lock; /* recursive: public functions may call each other */
    char *path;
    char *dummy_hash; /* Argon2id hash checked for unknown users (same time as a known one) */
};

/* A negative VG_E* for an SQLite result code (0 for OK/DONE/ROW), logging what failed. */
int vg__store_err(vg_store_t *s, int rc, const char *what);
/* Prepare @sql and bind by @fmt: i int64_t, d double, t const char * (NULL binds NULL). */
int vg__store_prep(vg_store_t *s, sqlite3_stmt **st, const char *sql, const char *fmt, ...);
/* Prepare, bind, step once, finalize. */
int vg__store_exec(vg_store_t *s, const char *sql, const char *fmt, ...);
/* BEGIN IMMEDIATE; and COMMIT (ret >= 0) or ROLLBACK (ret < 0), returning the outcome. */
int vg__store_begin(vg_store_t *s);
int vg__store_end(vg_store_t *s, int ret);
void vg__store_lock(vg_store_t *s);
void vg__store_unlock(vg_store_t *s);
/* The JSON text of @j (consumed) in vg_malloc'd memory, or NULL. */
char *vg__store_dump(json_t *j);
/* Every row of @st (finalized here) as a JSON array text in *json (vg_malloc'd). */
int vg__store_rows_json(sqlite3_stmt *st, char **json);
/* The current row as an object; columns named X_json become member X, parsed. */
json_t *vg__store_row_json(sqlite3_stmt *st);
double vg__store_unix(void);
/* An anchor line's signature (audit_key.c): 128 hex of the Ed25519 signature of the line's seq,
 * hash and time; the check returns 1 when @sig_hex is that of @pk. */
int vg__audit_anchor_sign(const vg_audit_key_t *k, long long seq, const char *hash, const char *at,
                          char sig_hex[129]);
int vg__audit_anchor_check(const uint8_t pk[32], long long seq, const char *hash, const char *at,
                           const char *sig_hex);

#endif
