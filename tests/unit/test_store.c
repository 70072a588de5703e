/*
 * The store (src/store): schema and migrations, the audit chain and its verification, retention,
 * users and sessions, decisions and statistics; the server's config parser and the evidence
 * pixelation (src/server).
 */
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <vigie/vigie.h>
#include <vigie/server.h>
#include <vigie/store.h>

#include "core/sha256.h"
#include "server_priv.h"
#include "testutil.h"

static char dir[128];

static void db_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static vg_store_t *open_new(const char *name)
{
    char path[256], err[512] = "";
    vg_store_t *s = NULL;
    db_path(path, sizeof(path), name);
    unlink(path);
    assert_int_equal(vg_store_open(&s, path, err, sizeof(err)), 0);
    return s;
}

/* Open an existing database file of the test folder. */
static vg_store_t *open_new_keep(const char *name)
{
    char path[256], err[512] = "";
    vg_store_t *s = NULL;
    db_path(path, sizeof(path), name);
    assert_int_equal(vg_store_open(&s, path, err, sizeof(err)), 0);
    return s;
}

/* Run SQL on the database file from outside the store (as the sqlite3 tool would). */
static int raw_sql(const char *name, const char *sql)
{
    char path[256];
    sqlite3 *db;
    db_path(path, sizeof(path), name);
    if (sqlite3_open(path, &db) != SQLITE_OK) return -1;
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* Rows kept by the store's row callbacks. */
static int keep_stats_row(void *opaque, const vg_store_stats_row_t *r)
{
    *(vg_store_stats_row_t *)opaque = *r;
    return 0;
}

typedef struct count_rows {
    int n;
    double density[8];
    char zone[64];
} count_rows_t;

static int keep_count_row(void *opaque, const vg_store_count_row_t *r)
{
    count_rows_t *c = opaque;
    if (c->n < 8) c->density[c->n++] = r->density;
    snprintf(c->zone, sizeof(c->zone), "%s", r->zone);
    return 0;
}

static void test_schema(void **state)
{
    char path[256], err[512] = "";
    vg_store_t *s = open_new("schema.db");
    (void)state;
    assert_int_equal(vg_store_schema_version(s), VG_STORE_SCHEMA_VERSION);
    vg_store_close(&s);
    db_path(path, sizeof(path), "schema.db");
    assert_int_equal(vg_store_open(&s, path, err, sizeof(err)), 0); /* again: nothing to do */
    assert_int_equal(vg_store_schema_version(s), VG_STORE_SCHEMA_VERSION);
    vg_store_close(&s);
    /* a database of schema 2 (before priorities, claims and hand-over notes) is migrated */
    assert_int_equal(raw_sql("schema.db", "ALTER TABLE events DROP COLUMN priority;"
                                          "ALTER TABLE events DROP COLUMN claimed_by;"
                                          "ALTER TABLE events DROP COLUMN claimed_at;"
                                          "DROP TABLE handover; DROP TABLE cluster_in;"
                                          "DROP TABLE cluster_runs;"
                                          "ALTER TABLE evidence DROP COLUMN at;"
                                          "PRAGMA user_version = 2"),
                     0);
    assert_int_equal(vg_store_open(&s, path, err, sizeof(err)), 0);
    assert_int_equal(vg_store_schema_version(s), VG_STORE_SCHEMA_VERSION);
    assert_true(vg_store_handover_add(s, "olga", "the gate is open") > 0);
    vg_store_close(&s);
    /* a database from a newer vigie is refused, untouched */
    assert_int_equal(raw_sql("schema.db", "PRAGMA user_version = 99"), 0);
    assert_int_equal(vg_store_open(&s, path, err, sizeof(err)), VG_ERANGE);
    assert_non_null(strstr(err, "schema version 99"));
    assert_null(s);
    /* not a database */
    db_path(path, sizeof(path), "junk.db");
    const char *junk = "this is not SQLite, this is a text file of some length........";
    tu_write_file(path, junk, strlen(junk));
    assert_true(vg_store_open(&s, path, err, sizeof(err)) < 0);
    assert_null(s);
    /* a directory that does not exist */
    assert_true(vg_store_open(&s, "/nonexistent/dir/v.db", err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "/nonexistent/dir/v.db"));
}

static void test_audit_chain(void **state)
{
    vg_audit_report_t r;
    vg_store_t *s = open_new("audit.db");
    char anchors[256];
    (void)state;
    db_path(anchors, sizeof(anchors), "anchors.log");
    unlink(anchors);
    assert_int_equal(vg_store_audit_verify(s, NULL, &r), 0);
    assert_true(r.ok);
    assert_int_equal(r.rows, 0);
    for (int i = 1; i <= 10; i++) {
        char d[64];
        snprintf(d, sizeof(d), "{\"n\":%d,\"a\":\"x\\ny\"}", i);
        assert_int_equal(vg_store_audit(s, "olga", "event_ack", "event/1", d), i);
    }
    assert_int_equal(vg_store_audit(s, "olga", "x", "", "[1]"), VG_EINVAL);
    assert_int_equal(vg_store_audit(s, "olga", "x", "", "{bad"), VG_EINVAL);
    assert_int_equal(vg_store_audit_anchor(s, anchors), 0);
    assert_int_equal(vg_store_audit_verify(s, anchors, &r), 0);
    assert_true(r.ok);
    assert_int_equal(r.rows, 10);
    assert_int_equal(r.head, 10);
    /* append-only inside the database (triggers) */
    assert_int_equal(raw_sql("audit.db", "UPDATE audit SET actor = 'x' WHERE seq = 3"), -1);
    assert_int_equal(raw_sql("audit.db", "DELETE FROM audit WHERE seq = 3"), -1);
    /* with the triggers dropped: a change is found and named */
    assert_int_equal(raw_sql("audit.db", "DROP TRIGGER audit_no_update; DROP TRIGGER "
                                         "audit_no_delete; UPDATE audit SET details = "
                                         "'{\"n\":99}' WHERE seq = 4"),
                     0);
    assert_int_equal(vg_store_audit_verify(s, NULL, &r), 0);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 4);
    assert_non_null(strstr(r.what, "altered"));
    /* a row whose hash was recomputed after the edit: the next row's link breaks */
    vg_store_close(&s);
    s = open_new("audit2.db");
    for (int i = 0; i < 5; i++) vg_store_audit(s, "sam", "login", "", NULL);
    assert_int_equal(raw_sql("audit2.db",
                             "DROP TRIGGER audit_no_update; UPDATE audit SET hash = "
                             "'0000000000000000000000000000000000000000000000000000000000000001'"
                             " WHERE seq = 2"),
                     0);
    assert_int_equal(vg_store_audit_verify(s, NULL, &r), 0);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 2); /* its own hash no longer matches its content */
    vg_store_close(&s);
    /* the tail cut: only the anchor shows it */
    s = open_new("audit3.db");
    for (int i = 0; i < 6; i++) vg_store_audit(s, "sam", "login", "", NULL);
    unlink(anchors);
    assert_int_equal(vg_store_audit_anchor(s, anchors), 0);
    assert_int_equal(raw_sql("audit3.db", "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE"
                                          " seq > 4"),
                     0);
    assert_int_equal(vg_store_audit_verify(s, NULL, &r), 0);
    assert_true(r.ok); /* the chain alone cannot tell */
    assert_int_equal(vg_store_audit_verify(s, anchors, &r), 0);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 5);
    assert_non_null(strstr(r.what, "cut tail"));
    vg_store_close(&s);
}

/* SHA-256 (libsodium behind core/sha256.h): FIPS 180-4 vectors, whole and fed byte by byte. */
static void test_sha256(void **state)
{
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char hex[65];
        uint8_t d[32];
        vg_sha256_t h;
        vg__sha256_hex(v[i].in, strlen(v[i].in), hex);
        assert_string_equal(hex, v[i].hex);
        vg__sha256_init(&h);
        for (const char *p = v[i].in; *p; p++) vg__sha256_update(&h, p, 1);
        vg__sha256_final(&h, d);
        for (int k = 0; k < 32; k++) snprintf(hex + 2 * k, 3, "%02x", d[k]);
        assert_string_equal(hex, v[i].hex);
    }
}

/* The hash column of row @seq of database @name, read from outside the store. */
static void row_hash_of(const char *name, int seq, char out[65])
{
    char path[256];
    sqlite3 *db;
    sqlite3_stmt *st;
    db_path(path, sizeof(path), name);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT hash FROM audit WHERE seq = ?", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int(st, 1, seq);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, 65, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Replace the anchor file's hashes by @hash, keeping (or with @strip, dropping) the signatures:
 * what someone who rewrote the database would do to make the anchors agree. */
static void forge_anchors(const char *path, const char *hash, int strip)
{
    char lines[16][512];
    int n = 0;
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (n < 16 && fgets(lines[n], sizeof(lines[n]), f)) n++;
    fclose(f);
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        long long seq;
        char h[80], at[64], sig[200] = "";
        assert_true(sscanf(lines[i], "%lld %70s %63s %199s", &seq, h, at, sig) >= 3);
        fprintf(f, "%lld %s %s%s%s\n", seq, hash, at, strip || !sig[0] ? "" : " ",
                strip ? "" : sig);
    }
    fclose(f);
}

/* Signed anchors: a key pair made and loaded; anchors signed; a trail rewritten from end to end
 * (a consistent new chain, as a database administrator could make) with its anchors rewritten
 * to match passes without the key and fails with it. */
static void test_audit_signed_anchors(void **state)
{
    char key[256], pubf[256], anchors[256], pubhex[65], hex2[65], err[512], sql[1024];
    uint8_t pk[1][32], other[1][32];
    vg_audit_key_t *k = NULL;
    vg_audit_report_t r;
    (void)state;
    db_path(key, sizeof(key), "audit.key");
    db_path(pubf, sizeof(pubf), "audit.key.pub");
    db_path(anchors, sizeof(anchors), "signed-anchors.log");
    unlink(key), unlink(pubf), unlink(anchors);
    assert_int_equal(vg_audit_key_generate(key, pubhex, err, sizeof(err)), 0);
    /* never overwritten */
    assert_true(vg_audit_key_generate(key, hex2, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "never overwritten"));
    assert_int_equal(vg_audit_key_load(&k, key, err, sizeof(err)), 0);
    vg_audit_key_public_hex(k, hex2);
    assert_string_equal(hex2, pubhex);
    assert_int_equal(vg_audit_public_key_read(pubf, pk[0], err, sizeof(err)), 0);
    assert_int_equal(vg_audit_public_key_read(pubhex, other[0], err, sizeof(err)), 0);
    assert_memory_equal(pk[0], other[0], 32);
    assert_true(vg_audit_public_key_read("abc", other[0], err, sizeof(err)) < 0);
    /* the secret key given where the public one is wanted: refused, saying so */
    assert_true(vg_audit_public_key_read(key, other[0], err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "is the secret signing key"));
    memcpy(other[0], pk[0], 32); /* another public key: one bit off */
    other[0][0] ^= 1;
    /* a key others may read is refused */
    vg_audit_key_t *k2 = NULL;
    chmod(key, 0644);
    assert_true(vg_audit_key_load(&k2, key, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "chmod 600"));
    assert_null(k2);
    chmod(key, 0600);

    vg_store_t *s = open_new("signed.db");
    for (int i = 0; i < 6; i++) vg_store_audit(s, "olga", "event_ack", "event/1", NULL);
    assert_int_equal(vg_store_audit_anchor_signed(s, anchors, k), 0);
    vg_store_audit(s, "olga", "logout", "", NULL);
    assert_int_equal(vg_store_audit_anchor_signed(s, anchors, k), 0);
    vg_store_audit(s, "olga", "login", "", NULL);
    assert_int_equal(vg_store_audit_verify_signed(s, anchors, (const uint8_t(*)[32])pk, 1, &r), 0);
    assert_true(r.ok);
    assert_int_equal(r.anchors, 2);
    assert_int_equal(r.signed_anchors, 2);
    assert_int_equal(r.anchored_seq, 7);
    assert_non_null(strstr(r.what, "2 signed anchors hold, the last at row 7"));
    /* another key: the signatures do not hold */
    assert_int_equal(vg_store_audit_verify_signed(s, anchors, (const uint8_t(*)[32])other, 1, &r),
                     0);
    assert_false(r.ok);
    assert_non_null(strstr(r.what, "not signed by the key given"));
    vg_store_close(&s);

    /* the forger's trail: 8 rows of other content, hashes all consistent */
    s = open_new("forged.db");
    for (int i = 0; i < 8; i++) vg_store_audit(s, "mallory", "login", "", NULL);
    int64_t seq;
    char fhash[65];
    assert_int_equal(vg_store_audit_head(s, &seq, fhash), 0);
    vg_store_close(&s);
    char forged[256];
    db_path(forged, sizeof(forged), "forged.db");
    snprintf(sql, sizeof(sql),
             "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; ATTACH '%s' AS f;"
             " DELETE FROM audit; INSERT INTO audit SELECT * FROM f.audit;",
             forged);
    assert_int_equal(raw_sql("signed.db", sql), 0);
    s = open_new_keep("signed.db");
    /* the anchors still name the old hashes: caught even without the key */
    assert_int_equal(vg_store_audit_verify(s, anchors, &r), 0);
    assert_false(r.ok);
    /* the anchors rewritten to name the forged rows' hashes, signatures kept */
    {
        FILE *f = fopen(anchors, "r");
        char l1[512], l2[512], h6[65], h7[65];
        assert_non_null(f);
        assert_non_null(fgets(l1, sizeof(l1), f));
        assert_non_null(fgets(l2, sizeof(l2), f));
        fclose(f);
        row_hash_of("signed.db", 6, h6);
        row_hash_of("signed.db", 7, h7);
        f = fopen(anchors, "w");
        long long a;
        char h[80], at1[64], at2[64], sig1[200], sig2[200];
        sscanf(l1, "%lld %70s %63s %199s", &a, h, at1, sig1);
        sscanf(l2, "%lld %70s %63s %199s", &a, h, at2, sig2);
        fprintf(f, "6 %s %s %s\n7 %s %s %s\n", h6, at1, sig1, h7, at2, sig2);
        fclose(f);
    }
    /* without the key the forgery passes: the chain and the anchors agree ... */
    assert_int_equal(vg_store_audit_verify(s, anchors, &r), 0);
    assert_true(r.ok);
    /* ... with it, it does not */
    assert_int_equal(vg_store_audit_verify_signed(s, anchors, (const uint8_t(*)[32])pk, 1, &r), 0);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 6);
    assert_non_null(strstr(r.what, "forged or altered"));
    /* signatures dropped: nothing is trusted, and a trail with no trusted anchor fails */
    forge_anchors(anchors, fhash, 1);
    assert_int_equal(vg_store_audit_verify_signed(s, anchors, (const uint8_t(*)[32])pk, 1, &r), 0);
    assert_false(r.ok);
    assert_non_null(strstr(r.what, "no anchor"));
    assert_int_equal(r.signed_anchors, 0);
    vg_store_close(&s);
    vg_audit_key_free(&k);
    assert_null(k);
}

static vg_event_t make_event(vg_event_phase_t phase, int64_t id, double t)
{
    vg_event_t ev;
    vg_event_init(&ev, VG_EVENT_ABANDONED_OBJECT, phase);
    ev.event_id = id;
    ev.t = t;
    ev.frame = (int64_t)(t * 10);
    ev.score = 0.9;
    vg_event_set_zone(&ev, "quai");
    vg_event_set_camera(&ev, "cam1");
    vg_event_set_box(&ev, 10, 20, 30, 40);
    vg_event_detail_str(&ev, "owner", "unknown");
    return ev;
}

static int unlinked;
static int count_unlink(void *opaque, const char *name)
{
    (void)opaque;
    (void)name;
    unlinked++;
    return 0;
}

static void test_events_decisions_retention(void **state)
{
    vg_store_t *s = open_new("events.db");
    char now[32], *json = NULL, name[64];
    int64_t seq = 0, run;
    vg_retention_result_t rr;
    vg_audit_report_t r;
    (void)state;
    vg_store_now(now);
    run = vg_store_run_start(s, "cam1");
    assert_true(run > 0);
    vg_event_t ev = make_event(VG_PHASE_START, 1, 12.5);
    int64_t id =
        vg_store_event_put(s, run, &ev, now, "0123456789abcdef0123456789abcdef.jpg", 1234, &seq);
    assert_true(id > 0);
    assert_int_equal(seq, 1);
    assert_int_equal(vg_store_evidence_of(s, id, "blurred", name), 0);
    assert_string_equal(name, "0123456789abcdef0123456789abcdef.jpg");
    /* its clip (clip.c): found by the run and the pipeline's event id, added with where in it the
     * event starts, shown with the event */
    assert_int_equal(vg_store_event_id(s, run, 1), id);
    assert_int_equal(vg_store_event_id(s, run, 2), VG_ENOENT);
    assert_int_equal(
        vg_store_evidence_add_at(s, id, "clip", "0123456789abcdef0123456789abcdef.webm", 5000, 4.5),
        0);
    assert_int_equal(vg_store_events_json(s, id, NULL, NULL, 1, &json), 0);
    assert_non_null(strstr(json, "\"clip\":\"0123456789abcdef0123456789abcdef.webm\""));
    assert_non_null(strstr(json, "\"clip_at\":4.5"));
    vg_free(json);
    /* an end for an unknown start */
    vg_event_t orphan = make_event(VG_PHASE_END, 77, 13);
    assert_int_equal(vg_store_event_put(s, run, &orphan, now, NULL, 0, &seq), VG_ENOENT);
    vg_event_t end = make_event(VG_PHASE_END, 1, 40);
    assert_int_equal(vg_store_event_put(s, run, &end, now, NULL, 0, &seq), id);
    assert_int_equal(vg_store_feed_head(s), 2);

    /* decisions: acknowledge first, then qualify; a second qualification replaces the first */
    assert_int_equal(vg_store_event_qualify(s, id, "olga", VG_QUAL_CONFIRMED, -1, NULL), VG_EAGAIN);
    assert_int_equal(vg_store_event_ack(s, 999, "olga"), VG_ENOENT);
    assert_int_equal(vg_store_event_ack(s, id, "olga"), 0);
    assert_int_equal(vg_store_event_ack(s, id, "olga"), VG_EBUSY);
    assert_int_equal(vg_store_event_qualify(s, id, "olga", VG_QUAL_FALSE_ALERT, -1, NULL),
                     VG_EINVAL);
    assert_int_equal(vg_store_event_qualify(s, id, "olga", VG_QUAL_CONFIRMED, VG_FALSE_OTHER, NULL),
                     VG_EINVAL);
    assert_int_equal(
        vg_store_event_qualify(s, id, "olga", VG_QUAL_FALSE_ALERT, VG_FALSE_FIXTURE, "bench"), 0);
    assert_int_equal(vg_store_events_json(s, id, NULL, NULL, 1, &json), 0);
    assert_non_null(strstr(json, "\"qualification\":\"false_alert\""));
    assert_non_null(strstr(json, "\"reason\":\"fixture\""));
    assert_non_null(strstr(json, "\"owner\":\"unknown\""));
    vg_free(json);
    vg_store_stats_row_t sr;
    assert_int_equal(vg_store_stats(s, NULL, NULL, keep_stats_row, &sr), 1);
    assert_int_equal(sr.alerts, 1);
    assert_int_equal(sr.false_alerts, 1);
    assert_true(sr.confirmed_rate == 0.0);

    /* retention: the event is made 40 days old; evidence purged, personal fields cleared, the
     * decision kept for statistics */
    /* claims: taken, refused to another, taken over, released only by the holder or by force */
    char holder[64];
    assert_int_equal(vg_store_event_claim(s, id, "olga", VG_CLAIM_TAKE, 0, holder), 0);
    assert_string_equal(holder, "olga");
    assert_int_equal(vg_store_event_claim(s, id, "oscar", VG_CLAIM_TAKE, 0, holder), VG_EBUSY);
    assert_string_equal(holder, "olga");
    assert_int_equal(vg_store_event_claim(s, id, "oscar", VG_CLAIM_RELEASE, 0, holder), VG_EACCES);
    assert_int_equal(vg_store_event_claim(s, id, "oscar", VG_CLAIM_TAKE_OVER, 0, holder), 0);
    assert_string_equal(holder, "oscar");
    assert_int_equal(vg_store_event_claim(s, id, "sam", VG_CLAIM_RELEASE, 1, holder), 0);
    assert_string_equal(holder, "");
    assert_int_equal(vg_store_event_claim(s, 999999, "olga", VG_CLAIM_TAKE, 0, holder), VG_ENOENT);
    /* hand-over notes: kept, paged newest first, purged with the evidence */
    assert_int_equal(vg_store_handover_add(s, "olga", ""), VG_EINVAL);
    int64_t n1 = vg_store_handover_add(s, "olga", "first"),
            n2 = vg_store_handover_add(s, "oscar", "second");
    assert_true(n1 > 0 && n2 > n1);
    assert_int_equal(vg_store_handover_json(s, 0, 10, &json), 0);
    assert_true(strstr(json, "second") < strstr(json, "first") && strstr(json, "second"));
    vg_free(json);
    char path[256];
    sqlite3 *db;
    db_path(path, sizeof(path), "events.db");
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "UPDATE events SET start_unix = start_unix - 40 * 86400;"
             " UPDATE evidence SET created_unix = created_unix - 40 * 86400;"
             " UPDATE handover SET unix = unix - 40 * 86400, at = '2000-01-01T00:00:00.000Z'"
             " WHERE id = %lld; UPDATE feed SET wall = '2000-01-01T00:00:00.000Z'"
             " WHERE phase = 'handover' AND record LIKE '%%first%%'",
             (long long)n1);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    vg_store_audit(s, "olga", "login", "", NULL);
    unlinked = 0;
    assert_int_equal(vg_store_retention(s, 30, 0, count_unlink, NULL, &rr), 0);
    assert_int_equal(unlinked, 2); /* the picture and the clip */
    assert_int_equal(rr.evidence_files, 2);
    assert_int_equal(vg_store_evidence_of(s, id, "clip", name), VG_ENOENT);
    assert_int_equal(rr.events_cleared, 1);
    assert_int_equal(vg_store_evidence_of(s, id, "blurred", name), VG_ENOENT);
    assert_int_equal(vg_store_events_json(s, id, NULL, NULL, 1, &json), 0);
    assert_non_null(strstr(json, "\"box\":null"));
    assert_non_null(strstr(json, "\"details\":null"));
    assert_non_null(strstr(json, "\"purged\":1"));
    assert_non_null(strstr(json, "\"qualification\":\"false_alert\""));
    vg_free(json);
    assert_int_equal(vg_store_handover_json(s, 0, 10, &json), 0);
    assert_null(strstr(json, "first"));
    assert_non_null(strstr(json, "second"));
    vg_free(json);
    /* the audit trail's own retention keeps the rest verifiable */
    assert_int_equal(raw_sql("events.db", "DROP TRIGGER audit_no_update;"
                                          " UPDATE audit SET at = '2000-01-01T00:00:00.000Z'"
                                          " WHERE seq = 1; CREATE TRIGGER audit_no_update BEFORE"
                                          " UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'no'); END;"),
                     0);
    /* that edit broke row 1's hash; purging it (older than 365 days) leaves a clean trail */
    assert_int_equal(vg_store_audit_verify(s, NULL, &r), 0);
    assert_false(r.ok);
    assert_int_equal(vg_store_retention(s, 30, 365, count_unlink, NULL, &rr), 0);
    assert_int_equal(rr.audit_rows, 1);
    assert_int_equal(vg_store_audit_verify(s, NULL, &r), 0);
    assert_true(r.ok);
    assert_int_equal(vg_store_audit_json(s, 0, "system", "retention_run", 10, &json), 0);
    assert_non_null(strstr(json, "\"audit_rows_purged\":1"));
    vg_free(json);
    /* count series: stored, read back per camera, purged after their own retention */
    vg_count_t cs = {.t = 5,
                     .frame = 50,
                     .count = 12.5,
                     .count_detector = 9,
                     .count_occupancy = 12.5,
                     .area = 25,
                     .density = 0.5};
    snprintf(cs.camera, sizeof(cs.camera), "quai");
    snprintf(cs.zone, sizeof(cs.zone), "square");
    assert_int_equal(vg_store_count_put(s, run, &cs, "2026-11-26T10:00:00.000Z"), 0);
    cs.count_occupancy = -1, cs.area = 0, cs.density = -1; /* not calibrated */
    assert_int_equal(vg_store_count_put(s, run, &cs, "2026-11-26T10:00:05.000Z"), 0);
    count_rows_t cr = {0};
    assert_int_equal(vg_store_counts(s, "quai", NULL, NULL, NULL, 10, keep_count_row, &cr), 2);
    assert_true(cr.density[0] == 0.5); /* oldest first */
    assert_true(isnan(cr.density[1])); /* not calibrated: unknown */
    assert_string_equal(cr.zone, "square");
    assert_int_equal(vg_store_counts(s, "quai", "elsewhere", NULL, NULL, 10, keep_count_row, &cr),
                     0);
    assert_int_equal(raw_sql("events.db", "UPDATE counts SET unix = unix - 400 * 86400 WHERE t = 5"
                                          " AND density IS NULL"),
                     0);
    int64_t purged = -1;
    assert_int_equal(vg_store_purge_counts(s, 365, &purged), 0);
    assert_int_equal(purged, 1);
    cr.n = 0;
    assert_int_equal(vg_store_counts(s, "quai", NULL, NULL, NULL, 10, keep_count_row, &cr), 1);
    assert_true(cr.density[0] == 0.5);
    vg_store_close(&s);
}

/* Disk full: a child process may not grow files beyond a limit (RLIMIT_FSIZE, as a full disk
 * would refuse them); it records events until the store refuses one. Every event it was told
 * was recorded is in the database afterwards, and the database is intact. */
/* A console node's copy of records from analysis nodes (cluster): each message once, each
 * sending run mapped to one run here, an end finding its start through it. */
static void test_event_put_remote(void **state)
{
    vg_store_t *s = open_new("remote.db");
    char now[32];
    int64_t seq = 0;
    int dup = -1;
    (void)state;
    vg_store_now(now);
    vg_event_t ev = make_event(VG_PHASE_START, 1, 12.5);
    int64_t id =
        vg_store_event_put_remote(s, "aaaa.1", "aaaa.7", "n1", &ev, now,
                                  "0123456789abcdef0123456789abcdef.jpg", 99, "high", &seq, &dup);
    assert_true(id > 0);
    assert_int_equal(dup, 0);
    assert_int_equal(seq, 1);
    /* the same message again: nothing changes */
    assert_int_equal(
        vg_store_event_put_remote(s, "aaaa.1", "aaaa.7", "n1", &ev, now, NULL, 0, NULL, &seq, &dup),
        id);
    assert_int_equal(dup, 1);
    assert_int_equal(vg_store_feed_head(s), 1);
    /* another node's run with the same event_id: another event */
    int64_t id2 =
        vg_store_event_put_remote(s, "bbbb.1", "bbbb.3", "n2", &ev, now, NULL, 0, NULL, &seq, &dup);
    assert_true(id2 > id);
    /* an end finds its start through its run */
    vg_event_t end = make_event(VG_PHASE_END, 1, 40);
    assert_int_equal(vg_store_event_put_remote(s, "aaaa.2", "aaaa.7", "n1", &end, now, NULL, 0,
                                               NULL, &seq, &dup),
                     id);
    assert_int_equal(vg_store_open_events(s, "cam1", "abandoned_object"), 1); /* n2's is open */
    /* an end whose start never came: refused, not recorded as received */
    vg_event_t orphan = make_event(VG_PHASE_END, 9, 50);
    assert_int_equal(vg_store_event_put_remote(s, "aaaa.3", "aaaa.7", "n1", &orphan, now, NULL, 0,
                                               NULL, &seq, &dup),
                     VG_ENOENT);
    assert_true(vg_store_event_run(s, id) > 0);
    assert_true(vg_store_event_run(s, id) != vg_store_event_run(s, id2));
    assert_int_equal(vg_store_event_run(s, 12345), VG_ENOENT);
    /* forgotten past the stream's age */
    assert_int_equal(vg_store_cluster_forget(s, 0), 0);
    assert_int_equal(vg_store_cluster_forget(s, 1e12), 3);
    vg_store_close(&s);
}

static void test_disk_full(void **state)
{
    char path[256];
    int fds[2];
    (void)state;
    db_path(path, sizeof(path), "full.db");
    unlink(path);
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        char err[256];
        vg_store_t *s = NULL;
        int64_t ok = 0, seq;
        int last = 0;
        signal(SIGXFSZ, SIG_IGN);
        vg_log_set_level(VG_LOG_QUIET);
        if (vg_store_open(&s, path, err, sizeof(err)) < 0) _exit(2);
        int64_t run = vg_store_run_start(s, "cam1");
        struct rlimit rl = {2 << 20, 2 << 20};
        setrlimit(RLIMIT_FSIZE, &rl);
        for (int i = 1; i <= 100000; i++) {
            vg_event_t ev = make_event(VG_PHASE_START, i, i);
            for (int k = 0; k < 8; k++)
                vg_event_detail_str(&ev, "padding", "xxxxxxxxxxxxxxxxxxxxxxxx");
            int64_t r = vg_store_event_put(s, run, &ev, "2026-11-26T12:00:00.000Z", NULL, 0, &seq);
            if (r < 0) {
                last = (int)r;
                break;
            }
            ok++;
        }
        /* the store still answers after the refusal */
        int64_t again = vg_store_feed_head(s);
        vg_store_close(&s);
        int64_t msg[3] = {ok, last, again};
        if (write(fds[1], msg, sizeof(msg)) != sizeof(msg)) _exit(3);
        _exit(0);
    }
    int64_t msg[3] = {0, 0, 0};
    int st;
    assert_int_equal(read(fds[0], msg, sizeof(msg)), (ssize_t)sizeof(msg));
    waitpid(pid, &st, 0);
    close(fds[0]);
    close(fds[1]);
    print_message("disk full after %lld events (error %s); feed head then %lld\n",
                  (long long)msg[0], vg_strerror((int)msg[1]), (long long)msg[2]);
    assert_true(msg[0] > 10);
    assert_int_equal(msg[1], VG_EIO);
    assert_int_equal(msg[2], msg[0]);
    /* everything committed is there, the database is intact */
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(q, 0), msg[0]);
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static void test_users_sessions(void **state)
{
    vg_store_t *s = open_new("users.db");
    char err[256], token[65], csrf[65], user[65], csrf2[65];
    int role;
    (void)state;
    assert_int_equal(vg_store_user_add(s, "ol ga", VG_ROLE_OPERATOR, "0123456789", err, 256),
                     VG_EINVAL);
    assert_int_equal(vg_store_user_add(s, "olga", VG_ROLE_OPERATOR, "short", err, 256), VG_EINVAL);
    assert_int_equal(vg_store_user_add(s, "olga", 17, "0123456789", err, 256), VG_EINVAL);
    assert_int_equal(vg_store_user_add(s, "olga", VG_ROLE_OPERATOR, "0123456789", err, 256), 0);
    assert_int_equal(vg_store_user_add(s, "olga", VG_ROLE_ADMIN, "0123456789", err, 256), VG_EBUSY);
    assert_int_equal(vg_store_user_count(s), 1);
    assert_int_equal(vg_store_user_check(s, "olga", "0123456789"), VG_ROLE_OPERATOR);
    assert_int_equal(vg_store_user_check(s, "olga", "0123456788"), VG_EACCES);
    assert_int_equal(vg_store_user_check(s, "nobody", "0123456789"), VG_EACCES);
    assert_int_equal(vg_store_user_check(s, "' OR 1=1 --", "x"), VG_EACCES);
    assert_int_equal(vg_store_session_new(s, "olga", 3600, token, csrf), 0);
    assert_int_equal(strlen(token), 64);
    assert_int_equal(vg_store_session_get(s, token, user, &role, csrf2), 0);
    assert_string_equal(user, "olga");
    assert_int_equal(role, VG_ROLE_OPERATOR);
    assert_string_equal(csrf, csrf2);
    assert_int_equal(vg_store_session_get(s, "abc", user, &role, csrf2), VG_EACCES);
    /* the password is stored as Argon2id, the token only as its hash */
    char *json = NULL;
    assert_int_equal(vg_store_users_json(s, &json), 0);
    assert_null(strstr(json, "argon2"));
    vg_free(json);
    sqlite3 *db;
    sqlite3_stmt *st;
    char path[256];
    db_path(path, sizeof(path), "users.db");
    sqlite3_open(path, &db);
    sqlite3_prepare_v2(db, "SELECT (SELECT pwhash FROM users), (SELECT token_hash FROM sessions)",
                       -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_non_null(strstr((const char *)sqlite3_column_text(st, 0), "$argon2id$"));
    assert_string_not_equal((const char *)sqlite3_column_text(st, 1), token);
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* disabling ends the sessions */
    assert_int_equal(vg_store_user_disable(s, "olga", 1), 0);
    assert_int_equal(vg_store_session_get(s, token, user, &role, csrf2), VG_EACCES);
    assert_int_equal(vg_store_user_check(s, "olga", "0123456789"), VG_EACCES);
    assert_int_equal(vg_store_user_disable(s, "nobody", 1), VG_ENOENT);
    vg_store_close(&s);
}

static void test_pixelate(void **state)
{
    uint8_t data[64 * 48 * 3];
    vg_image_t img = {64, 48, 64 * 3, VG_PIX_BGR24, data};
    float box[1][4] = {{20, 10, 10, 20}};
    (void)state;
    for (size_t i = 0; i < sizeof(data); i++) data[i] = (uint8_t)(i * 7 + (i / 192) * 13);
    uint8_t before[sizeof(data)];
    memcpy(before, data, sizeof(data));
    vg__evidence_pixelate(&img, (const float(*)[4])box, 1, NULL, 8);
    /* every 8x8 block touching the grown box is flat; far blocks are untouched */
    for (int by = 0; by < 6; by++)
        for (int bx = 0; bx < 8; bx++) {
            int x0 = bx * 8, y0 = by * 8, flat = 1, same = 1;
            for (int y = y0; y < y0 + 8; y++)
                for (int x = x0; x < x0 + 8; x++)
                    for (int c = 0; c < 3; c++) {
                        flat &= data[(y * 64 + x) * 3 + c] == data[(y0 * 64 + x0) * 3 + c];
                        same &= data[(y * 64 + x) * 3 + c] == before[(y * 64 + x) * 3 + c];
                    }
            int touches = x0 + 8 > 18 && x0 < 32 && y0 + 8 > 6 && y0 < 34;
            if (touches)
                assert_true(flat);
            else if (bx > 4 || by > 4)
                assert_true(same);
        }
    /* foreground: its blocks and their neighbours */
    uint8_t m[64 * 48] = {0};
    vg_image_t fg = {64, 48, 64, VG_PIX_GRAY8, m};
    m[40 * 64 + 60] = 255;
    memcpy(data, before, sizeof(data));
    vg__evidence_pixelate(&img, NULL, 0, &fg, 8);
    assert_int_equal(data[(47 * 64 + 63) * 3], data[(40 * 64 + 56) * 3]);
    assert_memory_equal(data, before, 64 * 3 * 24);
    /* a weapon's box inside the person's is restored as it was, the rest stays flat */
    memcpy(data, before, sizeof(data));
    vg__evidence_pixelate(&img, (const float(*)[4])box, 1, NULL, 8);
    vg_image_t orig = {64, 48, 64 * 3, VG_PIX_BGR24, before};
    const float keep[4] = {24, 20, 4, 8};
    vg__evidence_restore(&img, &orig, keep, 0.25f); /* grown by 2 px: 22..30 x 18..30 */
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++) {
            int in = x >= 22 && x < 30 && y >= 18 && y < 30;
            int same = !memcmp(&data[(y * 64 + x) * 3], &before[(y * 64 + x) * 3], 3);
            if (in) assert_true(same);
        }
    assert_true(memcmp(&data[(12 * 64 + 20) * 3], &before[(12 * 64 + 20) * 3], 3) != 0 ||
                memcmp(&data[(12 * 64 + 21) * 3], &before[(12 * 64 + 21) * 3], 3) != 0);
}

static int load_config_text(const char *text, char *err, size_t len)
{
    char path[256];
    vg_server_config_t *c = NULL;
    db_path(path, sizeof(path), "serve.yaml");
    tu_write_file(path, text, strlen(text));
    int ret = vg_server_config_load(&c, path, err, len);
    vg_server_config_free(&c);
    return ret;
}

static void test_config(void **state)
{
    char err[1024], path[256];
    vg_server_config_t *c = NULL;
    (void)state;
    db_path(path, sizeof(path), "serve.yaml");
    const char *good = "listen: 127.0.0.1:0\nstorage: st\nretention: {evidence_days: 7}\n"
                       "cameras:\n  - name: a\n    input: x.avi\n    loop: true\n"
                       "    settings: {motion.static_time: 5}\n";
    tu_write_file(path, good, strlen(good));
    assert_int_equal(vg_server_config_load(&c, path, err, sizeof(err)), 0);
    assert_int_equal(c->nb_cameras, 1);
    assert_int_equal(c->port, 0);
    assert_true(c->evidence_days == 7);
    assert_true(c->clip_before == 5 && c->clip_after == 5 && c->clip_fps == 8); /* the defaults */
    assert_non_null(strstr(c->storage, dir)); /* relative to the file */
    assert_non_null(strstr(c->cameras[0].input, dir));
    assert_int_equal(c->cameras[0].realtime, 1);
    vg_server_config_free(&c);

    assert_int_equal(load_config_text("storage: st\nlisten: localhost\n", err, sizeof(err)),
                     VG_ESYNTAX);
    assert_non_null(strstr(err, ":2: listen:"));
    assert_int_equal(load_config_text("storage: st\ncolour: red\n", err, sizeof(err)), VG_ESYNTAX);
    assert_non_null(strstr(err, ":2: colour: unknown key"));
    assert_int_equal(load_config_text("listen: 127.0.0.1:80\n", err, sizeof(err)), VG_ESYNTAX);
    assert_non_null(strstr(err, "storage"));
    assert_int_equal(load_config_text("storage: s\ncameras:\n  - {name: a, input: x}\n"
                                      "  - {name: a, input: y}\n",
                                      err, sizeof(err)),
                     VG_ESYNTAX);
    assert_non_null(strstr(err, "two cameras"));
    assert_int_equal(
        load_config_text("storage: s\ncameras:\n  - {name: ../a, input: x}\n", err, sizeof(err)),
        VG_ESYNTAX);
    assert_int_equal(load_config_text("storage: s\ncameras:\n  - name: a\n    input: x\n"
                                      "    settings: {motion.nope: 1}\n",
                                      err, sizeof(err)),
                     VG_ESYNTAX);
    assert_non_null(strstr(err, "motion.nope"));
    /* cluster: a node of a NATS JetStream site */
    db_path(path, sizeof(path), "cluster.yaml");
    const char *cl = "storage: st\ncluster: {servers: ['nats://10.0.0.1:4222', "
                     "'nats://10.0.0.2:4222'], node: box-1, role: analysis, lease: 6}\n";
    tu_write_file(path, cl, strlen(cl));
    assert_int_equal(vg_server_config_load(&c, path, err, sizeof(err)), 0);
    assert_non_null(c->cluster);
    assert_int_equal(c->cluster->nb_servers, 2);
    assert_string_equal(c->cluster->node, "box-1");
    assert_string_equal(c->cluster->site, "vigie");
    assert_int_equal(c->cluster->role, VG_CLUSTER_ANALYSIS);
    assert_true(c->cluster->lease == 6 && c->cluster->replicas == 1);
    vg_server_config_free(&c);
    assert_int_equal(load_config_text("storage: s\ncluster: {servers: ['nats://h:4222'], role: "
                                      "console}\n",
                                      err, sizeof(err)),
                     VG_ESYNTAX);
    assert_non_null(strstr(err, "needs node"));
    assert_int_equal(load_config_text("storage: s\ncluster: {servers: ['h:4222'], node: a, role: "
                                      "console}\n",
                                      err, sizeof(err)),
                     VG_ESYNTAX);
    assert_non_null(strstr(err, "nats://"));
    assert_int_equal(load_config_text("storage: s\ncluster: {servers: ['nats://h:1'], node: 'a.b', "
                                      "role: console}\n",
                                      err, sizeof(err)),
                     VG_ESYNTAX);
    assert_int_equal(load_config_text("storage: s\ncluster: {servers: ['nats://h:1'], node: a, "
                                      "role: boss}\n",
                                      err, sizeof(err)),
                     VG_ESYNTAX);
    assert_non_null(strstr(err, "analysis or console"));
    assert_int_equal(
        load_config_text("storage: s\nevidence: {original_roles: [operator]}\n", err, sizeof(err)),
        VG_ESYNTAX);
    /* clips: set, turned off, and a length past 30 s refused with its line */
    const char *clips = "storage: s\nevidence: {clip_before: 2, clip_after: 8, clip_fps: 4}\n";
    tu_write_file(path, clips, strlen(clips));
    assert_int_equal(vg_server_config_load(&c, path, err, sizeof(err)), 0);
    assert_true(c->clip_before == 2 && c->clip_after == 8 && c->clip_fps == 4);
    vg_server_config_free(&c);
    assert_int_equal(load_config_text("storage: s\nevidence: {clip_fps: 0}\n", err, sizeof(err)),
                     0);
    assert_int_equal(
        load_config_text("storage: s\nevidence:\n  clip_after: 60\n", err, sizeof(err)),
        VG_ESYNTAX);
    assert_non_null(strstr(err, ":3: clip_after"));
    /* priorities: defaults (life first), an override, and what is refused, with its line */
    const char *prio = "storage: s\npriorities: {intrusion: low, camera_fault: high}\n";
    tu_write_file(path, prio, strlen(prio));
    assert_int_equal(vg_server_config_load(&c, path, err, sizeof(err)), 0);
    assert_int_equal(c->priority[VG_EVENT_INTRUSION], VG_PRIORITY_LOW);
    assert_int_equal(c->priority[VG_EVENT_CAMERA_FAULT], VG_PRIORITY_HIGH);
    assert_int_equal(c->priority[VG_EVENT_FIRE], VG_PRIORITY_HIGH);
    assert_int_equal(c->priority[VG_EVENT_WRONG_WAY], VG_PRIORITY_NORMAL);
    vg_server_config_free(&c);
    assert_int_equal(
        load_config_text("storage: s\npriorities:\n  fire: urgent\n", err, sizeof(err)),
        VG_ESYNTAX);
    assert_non_null(strstr(err, ":3: fire: 'urgent' is not one of low, normal, high"));
    assert_int_equal(
        load_config_text("storage: s\npriorities: {loitering: high}\n", err, sizeof(err)),
        VG_ESYNTAX);
    assert_non_null(strstr(err, "loitering"));
    assert_int_equal(load_config_text("storage: [s\n", err, sizeof(err)), VG_ESYNTAX);
    assert_int_equal(vg_server_config_load(&c, "/nonexistent.yaml", err, sizeof(err)), VG_ENOENT);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vigie-store-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[256];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return tu_run(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_audit_chain),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_audit_signed_anchors),
        cmocka_unit_test(test_events_decisions_retention),
        cmocka_unit_test(test_event_put_remote),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_users_sessions),
        cmocka_unit_test(test_pixelate),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
