/*
 * The keeper of `vigie serve`: one thread runs retention every retention.every seconds (and once
 * at start), writes an audit anchor every audit.anchor_every seconds (anchors also at start and
 * stop: server.c), and twice a second applies a reload asked for by SIGHUP (reload.c), looks at
 * each camera's health (health.c) and writes the folded audit rows whose window ended
 * (audit_repeat.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vigie/detect.h>
#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/scene.h>
#include <vigie/source.h>

#include "server_priv.h"

#define COMP "serve"

/* ---- keeper: retention and anchors ---- */

static int unlink_evidence(void *opaque, const char *name)
{
    vg_server_t *s = opaque;
    char path[4200];
    int ok = 1;
    if (strchr(name, '/') || name[0] == '.') return VG_EINVAL;
    snprintf(path, sizeof(path), "%s/%s", s->dir_evidence, name);
    if (unlink(path) != 0 && errno != ENOENT) ok = 0;
    snprintf(path, sizeof(path), "%s/%s", s->dir_originals, name);
    if (unlink(path) != 0 && errno != ENOENT) ok = 0;
    if (!ok) vg_log(COMP, VG_LOG_ERROR, "retention: cannot remove %s: %s", name, strerror(errno));
    return ok ? 0 : VG_EIO;
}

void *vg__keeper_main(void *opaque)
{
    vg_server_t *s = opaque;
    double next_ret = vg__now_mono() + 2, next_anchor = vg__now_mono() + s->cfg->anchor_every;
    double next_health = vg__now_mono() + 0.5;
    pthread_mutex_lock(&s->klock);
    while (!s->kstop) {
        double now = vg__now_mono();
        if (now >= next_ret) {
            vg_retention_result_t r;
            pthread_mutex_unlock(&s->klock);
            if (vg_store_retention(s->store, s->cfg->evidence_days, s->cfg->audit_days,
                                   unlink_evidence, s, &r) == 0 &&
                (r.evidence_files || r.events_cleared || r.audit_rows))
                vg_log(COMP, VG_LOG_INFO,
                       "retention: %lld evidence pictures purged, %lld events cleared, %lld "
                       "audit rows purged",
                       (long long)r.evidence_files, (long long)r.events_cleared,
                       (long long)r.audit_rows);
            int64_t purged = 0;
            if (vg_store_purge_counts(s->store, s->cfg->counts_days, &purged) == 0 && purged)
                vg_log(COMP, VG_LOG_INFO, "retention: %lld count samples purged",
                       (long long)purged);
            pthread_mutex_lock(&s->klock);
            next_ret = vg__now_mono() + s->cfg->retention_every;
            continue;
        }
        if (now >= next_anchor) {
            pthread_mutex_unlock(&s->klock);
            vg_store_audit_anchor_signed(s->store, s->anchors, s->audit_key);
            pthread_mutex_lock(&s->klock);
            next_anchor = vg__now_mono() + s->cfg->anchor_every;
            continue;
        }
        if (now >= next_health) {
            pthread_mutex_unlock(&s->klock);
            if (atomic_exchange(&s->reload_req, 0)) vg__server_reload(s); /* SIGHUP */
            vg__cam_health(s);
            vg__audit_repeat_flush(s, 0); /* folded audit rows whose window ended */
            pthread_mutex_lock(&s->klock);
            next_health = vg__now_mono() + 0.5;
            continue;
        }
        struct timespec ts;
        vg__abs_deadline(&ts, fmin(fmin(next_ret, next_anchor), next_health) - now);
        pthread_cond_timedwait(&s->kcond, &s->klock, &ts);
    }
    pthread_mutex_unlock(&s->klock);
    return NULL;
}
