/*
 * The audit trail: an append-only, hash-chained table.
 *
 * Row n: seq (1, 2, 3, ... with no gaps), at (UTC time), actor, action, target, details (a JSON
 * object, compact, keys sorted), prev (row n-1's hash; 64 zeros for the first row), hash =
 * SHA-256 of  prev "\n" canonical(row n)  where canonical is
 *
 *     seq "\n" at "\n" quoted(actor) "\n" quoted(action) "\n" quoted(target) "\n" details
 *
 * (quoted: as a JSON string, so no field can fake a separator). Hex, lower case.
 *
 * Verification walks rows by seq: a gap in seq is a deleted row; a prev that is not the previous
 * row's hash is an inserted (or deleted) row; a hash that does not match the content is an
 * altered row. The first inconsistency is reported with its seq. A hash chain alone cannot show
 * that the newest rows were cut off, nor stop someone with write access from recomputing every
 * hash after an edit: anchors do. An anchor is the head's seq and hash with the time, appended
 * to a file outside the database (and logged) at start, hourly and at shutdown; copied off the
 * machine (syslog, a supervisor's print-out), it pins the trail up to that row. Verification
 * checks every anchor it is given against the chain. Anchors may be signed (Ed25519, audit_key.c):
 * verified with the public key, only signed anchors are trusted, so whoever can rewrite both the
 * database and the anchor file still cannot make anchors that hold.
 *
 * Retention may purge the oldest rows: it records the last purged row's seq and hash in meta
 * (audit_base_seq, audit_base_hash), in the same transaction, and the walk starts from there.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/store.h>

#include "core/sha256.h"
#include "store_priv.h"

#define COMP "audit"

static const char zero_hash[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* Hash of a row from its fields. */
static int row_hash(int64_t seq, const char *at, const char *actor, const char *action,
                    const char *target, const char *details, const char *prev, char out[65])
{
    char qa[512], qb[512], qc[1024];
    vg_sha256_t h;
    char head[128];
    uint8_t d[32];
    if (vg_json_quote(qa, sizeof(qa), actor) < 0 || vg_json_quote(qb, sizeof(qb), action) < 0 ||
        vg_json_quote(qc, sizeof(qc), target) < 0)
        return VG_ERANGE;
    vg__sha256_init(&h);
    vg__sha256_update(&h, prev, strlen(prev));
    snprintf(head, sizeof(head), "\n%" PRId64 "\n", seq);
    vg__sha256_update(&h, head, strlen(head));
    vg__sha256_update(&h, at, strlen(at));
    vg__sha256_update(&h, "\n", 1);
    vg__sha256_update(&h, qa, strlen(qa));
    vg__sha256_update(&h, "\n", 1);
    vg__sha256_update(&h, qb, strlen(qb));
    vg__sha256_update(&h, "\n", 1);
    vg__sha256_update(&h, qc, strlen(qc));
    vg__sha256_update(&h, "\n", 1);
    vg__sha256_update(&h, details, strlen(details));
    vg__sha256_final(&h, d);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
    return 0;
}

static void meta_get(vg_store_t *s, const char *key, char *out, size_t len)
{
    sqlite3_stmt *st;
    out[0] = 0;
    if (vg__store_prep(s, &st, "SELECT value FROM meta WHERE key = ?", "t", key) == 0) {
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
}

/* The chain's base: where the walk starts (0 and zeros, or the retention base). */
static void chain_base(vg_store_t *s, int64_t *seq, char hash[65])
{
    char v[80];
    meta_get(s, "audit_base_seq", v, sizeof(v));
    *seq = v[0] ? strtoll(v, NULL, 10) : 0;
    meta_get(s, "audit_base_hash", v, sizeof(v));
    snprintf(hash, 65, "%.64s", v[0] ? v : zero_hash);
}

int vg_store_audit_head(vg_store_t *s, int64_t *seq, char hash[65])
{
    sqlite3_stmt *st;
    int ret;
    vg__store_lock(s);
    chain_base(s, seq, hash);
    ret = vg__store_prep(s, &st, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", NULL);
    if (ret == 0) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            *seq = sqlite3_column_int64(st, 0);
            snprintf(hash, 65, "%s", (const char *)sqlite3_column_text(st, 1));
        }
        sqlite3_finalize(st);
    }
    vg__store_unlock(s);
    return ret;
}

int64_t vg_store_audit(vg_store_t *s, const char *actor, const char *action, const char *target,
                       const char *details)
{
    char now[32], prev[65], hash[65], *canon = NULL;
    int64_t seq;
    int ret;
    json_t *d = details && details[0] ? json_loads(details, 0, NULL) : json_object();
    if (!d || !json_is_object(d)) {
        json_decref(d);
        return VG_EINVAL;
    }
    canon = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(d);
    if (!canon) return VG_ENOMEM;
    if (!target) target = "";
    vg_store_now(now);
    vg__store_lock(s);
    if ((ret = vg__store_begin(s)) < 0) goto out;
    if ((ret = vg_store_audit_head(s, &seq, prev)) < 0) goto end;
    seq++;
    if ((ret = row_hash(seq, now, actor, action, target, canon, prev, hash)) < 0) goto end;
    ret = vg__store_exec(s,
                         "INSERT INTO audit(seq, at, actor, action, target, details, prev, hash)"
                         " VALUES (?,?,?,?,?,?,?,?)",
                         "ittttttt", seq, now, actor, action, target, canon, prev, hash);
end:
    ret = vg__store_end(s, ret);
out:
    vg__store_unlock(s);
    free(canon);
    if (ret < 0)
        vg_log(COMP, VG_LOG_ERROR, "cannot append to the audit trail (%s %s %s): %s", actor, action,
               target, vg_strerror(ret));
    return ret < 0 ? ret : seq;
}

int vg_store_audit_json(vg_store_t *s, int64_t after, const char *actor, const char *action,
                        int limit, char **json)
{
    vg_audit_query_t q = {after, 0, actor, action, NULL, NULL};
    return vg_store_audit_query_json(s, &q, limit, json);
}

int vg_store_audit_query_json(vg_store_t *s, const vg_audit_query_t *q, int limit, char **json)
{
    sqlite3_stmt *st;
    int ret;
    if (limit < 1) limit = 1;
    if (limit > 5000) limit = 5000;
    vg__store_lock(s);
    /* actor and action match by their beginning ("login" finds login, login_failed and
     * login_refused); times are ISO 8601 UTC text, which sorts as time does */
    ret = vg__store_prep(s, &st,
                         "SELECT seq, at, actor, action, target, details AS details_json, hash"
                         " FROM audit WHERE seq > ?1 AND (?2 IS NULL OR substr(actor, 1,"
                         " length(?2)) = ?2) AND (?3 IS NULL OR substr(action, 1, length(?3)) ="
                         " ?3) AND (?5 <= 0 OR seq < ?5) AND (?6 IS NULL OR at >= ?6) AND (?7 IS"
                         " NULL OR at < ?7) ORDER BY seq DESC LIMIT ?4",
                         "ittiitt", q->after, q->actor, q->action, (int64_t)limit, q->before,
                         q->from, q->to);
    if (ret == 0) ret = vg__store_rows_json(st, json);
    vg__store_unlock(s);
    return ret;
}

static const char *txt(sqlite3_stmt *st, int i)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    return v ? v : "";
}

/* Check each anchor line of @path against the chain; with public keys, trust only the lines
 * signed by one of them (a signature that fails is a forged or altered anchor). Sets the report. */
static void check_anchors(vg_store_t *s, const char *path, int64_t base, int64_t head,
                          const uint8_t (*pks)[32], int npk, vg_audit_report_t *r)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int ln = 0;
    if (!f) {
        if (errno != ENOENT) {
            r->ok = 0;
            snprintf(r->what, sizeof(r->what), "%s: cannot read the anchors: %s", path,
                     strerror(errno));
        }
        return;
    }
    while (r->ok && fgets(line, sizeof(line), f)) {
        long long aseq;
        char ahash[80], at[64] = "", sig[160] = "";
        int trusted = !npk;
        ln++;
        if (line[0] == '#' || line[0] == '\n') continue;
        if (sscanf(line, "%lld %70s %63s ed25519=%140s", &aseq, ahash, at, sig) < 2 ||
            strlen(ahash) != 64) {
            r->ok = 0;
            snprintf(r->what, sizeof(r->what), "%s:%d: not an anchor line (seq hash time)", path,
                     ln);
            break;
        }
        r->anchors++;
        if (npk && sig[0]) {
            for (int k = 0; k < npk && !trusted; k++)
                trusted = vg__audit_anchor_check(pks[k], aseq, ahash, at, sig);
            if (!trusted) {
                r->ok = 0;
                r->bad_seq = aseq;
                snprintf(r->what, sizeof(r->what),
                         "the anchor of %s (%s:%d, row %lld) is not signed by the key given: it "
                         "was forged or altered (or signed by another key: give that one too)",
                         at, path, ln, aseq);
                break;
            }
            r->signed_anchors++;
        }
        if (!trusted) continue;                  /* unsigned: proves nothing against a key */
        if (aseq <= base || aseq == 0) continue; /* purged by retention, or an empty trail */
        if (aseq > head) {
            r->ok = 0;
            r->bad_seq = head + 1;
            snprintf(r->what, sizeof(r->what),
                     "the trail ends at row %lld but the anchor of %s (%s:%d) names row %lld: "
                     "rows %lld to %lld or more were deleted (cut tail)",
                     (long long)head, at, path, ln, aseq, (long long)head + 1, aseq);
            break;
        }
        sqlite3_stmt *st;
        if (vg__store_prep(s, &st, "SELECT hash FROM audit WHERE seq = ?", "i", (int64_t)aseq) ==
            0) {
            int found = sqlite3_step(st) == SQLITE_ROW;
            if (found && strcmp(txt(st, 0), ahash)) {
                r->ok = 0;
                r->bad_seq = aseq;
                snprintf(r->what, sizeof(r->what),
                         "row %lld does not match the anchor of %s (%s:%d): the trail was "
                         "rewritten up to it",
                         aseq, at, path, ln);
            }
            sqlite3_finalize(st);
        }
        if (aseq > r->anchored_seq) r->anchored_seq = aseq;
    }
    fclose(f);
}

int vg_store_audit_verify(vg_store_t *s, const char *anchors, vg_audit_report_t *r)
{
    return vg_store_audit_verify_signed(s, anchors, NULL, 0, r);
}

int vg_store_audit_verify_signed(vg_store_t *s, const char *anchors, const uint8_t (*pks)[32],
                                 int npk, vg_audit_report_t *r)
{
    sqlite3_stmt *st;
    char prev[65], h[65];
    int64_t expect, base;
    int ret;
    memset(r, 0, sizeof(*r));
    r->ok = 1;
    vg__store_lock(s);
    chain_base(s, &base, prev);
    expect = base + 1;
    ret = vg__store_prep(s, &st,
                         "SELECT seq, at, actor, action, target, details, prev, hash FROM audit"
                         " ORDER BY seq",
                         NULL);
    if (ret < 0) goto out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        r->rows++;
        r->head = seq;
        if (seq != expect) {
            r->ok = 0;
            r->bad_seq = seq < expect ? seq : expect;
            if (seq > expect)
                snprintf(r->what, sizeof(r->what),
                         "row %lld is missing: the trail jumps from row %lld to row %lld (a row "
                         "was deleted, or row %lld inserted)",
                         (long long)expect, (long long)expect - 1, (long long)seq, (long long)seq);
            else
                snprintf(r->what, sizeof(r->what), "row %lld is out of sequence (inserted)",
                         (long long)seq);
            break;
        }
        if (strcmp(txt(st, 6), prev)) {
            r->ok = 0;
            r->bad_seq = seq;
            snprintf(r->what, sizeof(r->what),
                     "row %lld does not follow row %lld: its link to the previous row is broken "
                     "(a row was inserted or replaced here)",
                     (long long)seq, (long long)seq - 1);
            break;
        }
        if (row_hash(seq, txt(st, 1), txt(st, 2), txt(st, 3), txt(st, 4), txt(st, 5), prev, h) <
                0 ||
            strcmp(h, txt(st, 7))) {
            r->ok = 0;
            r->bad_seq = seq;
            snprintf(r->what, sizeof(r->what),
                     "row %lld was altered: its content does not match its hash (at %s, %s %s "
                     "%s)",
                     (long long)seq, txt(st, 1), txt(st, 2), txt(st, 3), txt(st, 4));
            break;
        }
        snprintf(prev, sizeof(prev), "%s", txt(st, 7));
        expect = seq + 1;
    }
    sqlite3_finalize(st);
    if (!r->rows) r->head = base;
    if (r->ok && anchors) check_anchors(s, anchors, base, r->head, pks, npk, r);
    if (r->ok && npk && r->head > base && r->anchored_seq <= base) {
        r->ok = 0;
        r->bad_seq = base + 1;
        snprintf(r->what, sizeof(r->what),
                 "no anchor in %s is signed by the key given (%lld lines, %lld unsigned): nothing "
                 "pins the trail (is audit.signing_key set in the server's config, and is this "
                 "its public key?)",
                 anchors ? anchors : "(no anchor file)", (long long)r->anchors,
                 (long long)(r->anchors - r->signed_anchors));
    }
    if (r->ok && npk)
        snprintf(r->what, sizeof(r->what),
                 "%lld rows verified (rows %lld to %lld); %lld signed anchors hold, the last at "
                 "row %lld%s",
                 (long long)r->rows, (long long)base + 1, (long long)r->head,
                 (long long)r->signed_anchors, (long long)r->anchored_seq,
                 r->anchored_seq < r->head ? " (later rows rest on the chain alone until the next "
                                             "anchor)"
                                           : "");
    else if (r->ok)
        snprintf(r->what, sizeof(r->what), "%lld rows verified (rows %lld to %lld)",
                 (long long)r->rows, (long long)base + 1, (long long)r->head);
out:
    vg__store_unlock(s);
    return ret;
}

int vg_store_audit_anchor(vg_store_t *s, const char *anchors)
{
    return vg_store_audit_anchor_signed(s, anchors, NULL);
}

int vg_store_audit_anchor_signed(vg_store_t *s, const char *anchors, const vg_audit_key_t *key)
{
    int64_t seq;
    char hash[65], now[32], sig[129] = "";
    int ret = vg_store_audit_head(s, &seq, hash);
    if (ret < 0) return ret;
    vg_store_now(now);
    if (key && (ret = vg__audit_anchor_sign(key, (long long)seq, hash, now, sig)) < 0) return ret;
    FILE *f = fopen(anchors, "a");
    if (!f) {
        vg_log(COMP, VG_LOG_ERROR, "%s: cannot write the audit anchor: %s", anchors,
               strerror(errno));
        return VG_EIO;
    }
    if (key)
        fprintf(f, "%lld %s %s ed25519=%s\n", (long long)seq, hash, now, sig);
    else
        fprintf(f, "%lld %s %s\n", (long long)seq, hash, now);
    ret = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : VG_EIO;
    if (fclose(f) != 0) ret = VG_EIO;
    vg_log(COMP, VG_LOG_INFO, "audit anchor: row %lld hash %s at %s%s%s", (long long)seq, hash, now,
           key ? " ed25519=" : "", sig);
    return ret;
}
