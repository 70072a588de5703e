/*
 * Retention: evidence is personal data kept for a limited time; statistics and the audit trail
 * outlive it.
 *
 * Evidence rows older than evidence_days are purged once their file is gone (the caller's
 * unlink_fn removes it; a file that cannot be removed keeps its row, so nothing is forgotten
 * while its picture still exists). Events older than that lose their box, details and feed
 * records (the personal part); type, camera, zone, times, score and decision stay for
 * statistics, with purged = 1. Audit rows older than audit_days (0: never) are deleted with the
 * chain's new base (the last deleted row's seq and hash) recorded in the same transaction, so the
 * remaining trail still verifies. Every run is itself audited with its counts.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/store.h>

#include "store_priv.h"

#define COMP "retention"

int vg_store_purge_counts(vg_store_t *s, double days, int64_t *purged)
{
    *purged = 0;
    if (days <= 0) return 0;
    vg__store_lock(s);
    int ret = vg__store_exec(s, "DELETE FROM counts WHERE unix < ?", "d",
                             vg__store_unix() - days * 86400.0);
    if (ret == 0) *purged = sqlite3_changes(s->db);
    vg__store_unlock(s);
    return ret;
}

int vg_store_retention(vg_store_t *s, double evidence_days, double audit_days,
                       int (*unlink_fn)(void *opaque, const char *name), void *opaque,
                       vg_retention_result_t *r)
{
    sqlite3_stmt *st;
    double now = vg__store_unix(), ev_cut = now - evidence_days * 86400.0;
    int ret;
    char details[256];
    memset(r, 0, sizeof(*r));
    vg__store_lock(s);

    /* Evidence files first, one row at a time. */
    ret =
        vg__store_prep(s, &st, "SELECT id, name FROM evidence WHERE created_unix < ?", "d", ev_cut);
    if (ret < 0) goto out;
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        if (unlink_fn && unlink_fn(opaque, name) < 0) continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            int64_t *ni = vg_realloc(ids, nc * sizeof(*ids));
            if (!ni) break;
            ids = ni;
            cap = nc;
        }
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if ((ret = vg__store_begin(s)) < 0) {
        vg_free(ids);
        goto out;
    }
    for (size_t i = 0; i < n && ret == 0; i++)
        ret = vg__store_exec(s, "DELETE FROM evidence WHERE id = ?", "i", ids[i]);
    vg_free(ids);
    r->evidence_files = (int64_t)n;
    if (ret == 0)
        ret = vg__store_exec(s,
                             "UPDATE feed SET record = NULL WHERE record IS NOT NULL AND event IN"
                             " (SELECT id FROM events WHERE start_unix < ? AND purged = 0)",
                             "d", ev_cut);
    if (ret == 0) {
        ret = vg__store_exec(s,
                             "UPDATE events SET box = NULL, details = NULL, note = NULL, purged ="
                             " 1 WHERE start_unix < ? AND purged = 0 AND open = 0",
                             "d", ev_cut);
        r->events_cleared = sqlite3_changes(s->db);
    }
    /* shift hand-over notes (what operators wrote may name people): kept as long as evidence */
    if (ret == 0) {
        char cut[32];
        time_t t = (time_t)ev_cut;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(cut, sizeof(cut), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        ret = vg__store_exec(s, "DELETE FROM handover WHERE unix < ?", "d", ev_cut);
        if (ret == 0)
            ret = vg__store_exec(s,
                                 "UPDATE feed SET record = NULL WHERE event = 0 AND phase ="
                                 " 'handover' AND record IS NOT NULL AND wall < ?",
                                 "t", cut);
    }
    if (ret == 0 && audit_days > 0) {
        char cut[32], bseq[32], bhash[65] = "";
        int64_t last = 0;
        time_t t = (time_t)(now - audit_days * 86400.0);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(cut, sizeof(cut), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        ret = vg__store_prep(
            s, &st, "SELECT seq, hash FROM audit WHERE at < ? ORDER BY seq DESC LIMIT 1", "t", cut);
        if (ret == 0) {
            if (sqlite3_step(st) == SQLITE_ROW) {
                last = sqlite3_column_int64(st, 0);
                snprintf(bhash, sizeof(bhash), "%s", (const char *)sqlite3_column_text(st, 1));
            }
            sqlite3_finalize(st);
        }
        if (ret == 0 && last > 0) {
            snprintf(bseq, sizeof(bseq), "%lld", (long long)last);
            ret = vg__store_exec(s, "INSERT OR REPLACE INTO meta VALUES ('audit_purging', '1')",
                                 NULL);
            if (ret == 0) {
                ret = vg__store_exec(s, "DELETE FROM audit WHERE seq <= ?", "i", last);
                r->audit_rows = sqlite3_changes(s->db);
            }
            if (ret == 0)
                ret = vg__store_exec(s, "DELETE FROM meta WHERE key = 'audit_purging'", NULL);
            if (ret == 0)
                ret = vg__store_exec(s,
                                     "INSERT OR REPLACE INTO meta VALUES ('audit_base_seq', ?),"
                                     " ('audit_base_hash', ?)",
                                     "tt", bseq, bhash);
        }
    }
    ret = vg__store_end(s, ret);
    if (ret == 0) {
        snprintf(details, sizeof(details),
                 "{\"evidence_days\":%g,\"audit_days\":%g,\"evidence_purged\":%lld,"
                 "\"events_cleared\":%lld,\"audit_rows_purged\":%lld}",
                 evidence_days, audit_days, (long long)r->evidence_files,
                 (long long)r->events_cleared, (long long)r->audit_rows);
        int64_t a = vg_store_audit(s, "system", "retention_run", "", details);
        if (a < 0) ret = (int)a;
    }
out:
    vg__store_unlock(s);
    if (ret < 0) vg_log(COMP, VG_LOG_ERROR, "retention run failed: %s", vg_strerror(ret));
    return ret;
}
