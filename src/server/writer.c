/*
 * The store writer of `vigie serve` and the live stream's hub.
 *
 * Writer: one thread takes jobs in order. For a start it pixelates a copy of the frame, encodes
 * it (and the original when the config keeps originals), writes the files, then records the
 * event, its evidence row and its feed record in one transaction. Only after the commit does it
 * wake the live streams (the hub: a sequence number and a condition variable), so every event a
 * client saw is in the store (kill -9 included). When the database is busy or the disk full the
 * job stays at the head of the queue and is retried every second: committed events are never
 * lost, new ones wait in memory (a picture that cannot be written leaves its event without
 * evidence, logged); past 2000 waiting jobs the oldest pictures are dropped, never the events.
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

/* ---- the writer ---- */

void vg__job_free(vg_job_t *j)
{
    vg__snap_clear(&j->snap);
    vg_free(j);
}

void vg__writer_push(vg_server_t *s, vg_job_t *head, vg_job_t *tail)
{
    if (!head) return;
    pthread_mutex_lock(&s->wlock);
    if (s->jtail)
        s->jtail->next = head;
    else
        s->jhead = head;
    s->jtail = tail;
    for (vg_job_t *j = head; j; j = j->next) s->jcount++;
    /* A long outage of the store: keep every event, drop the pictures of the oldest. */
    if (s->jcount > 2000)
        for (vg_job_t *j = s->jhead; j && s->jcount > 2000; j = j->next)
            if (j->snap.frame) {
                vg__snap_clear(&j->snap);
                break;
            }
    pthread_cond_signal(&s->wcond);
    pthread_mutex_unlock(&s->wlock);
}

static void write_evidence(vg_server_t *s, vg_job_t *j)
{
    uint8_t *jpg = NULL;
    size_t len = 0;
    char name[64], path[4200];
    int ret;
    vg__evidence_name(name, ".jpg");
    ret = vg__server_snap_jpeg(s, &j->snap, 1, &jpg, &len);
    if (ret == 0) {
        snprintf(path, sizeof(path), "%s/%s", s->dir_evidence, name);
        ret = vg__write_file(path, jpg, len, 0640);
        if (ret < 0)
            vg_log(COMP, VG_LOG_ERROR,
                   "camera '%s': event %lld: cannot write the evidence picture %s: %s (the event "
                   "is kept without it)",
                   j->cam->cfg->name, (long long)j->ev.event_id, path, strerror(errno));
    }
    vg_free(jpg);
    if (ret < 0) return;
    snprintf(j->evidence, sizeof(j->evidence), "%s", name);
    j->evidence_bytes = (int64_t)len;
    if (s->cfg->keep_original && vg__server_snap_jpeg(s, &j->snap, 0, &jpg, &len) == 0) {
        snprintf(path, sizeof(path), "%s/%s", s->dir_originals, name);
        if (vg__write_file(path, jpg, len, 0600) < 0)
            vg_log(COMP, VG_LOG_ERROR, "camera '%s': cannot write the original picture %s: %s",
                   j->cam->cfg->name, path, strerror(errno));
        vg_free(jpg);
    }
}

static int write_job(vg_server_t *s, vg_job_t *j)
{
    int64_t seq = 0, id;
    if (j->is_count) {
        int r = vg_store_count_put(s->store, j->run, &j->count, j->wall);
        if (r == 0 && s->mqtt) { /* the sample to MQTT too (retained: the last one) */
            char js[256];
            const vg_count_t *k = &j->count;
            snprintf(js, sizeof(js), "{\"wall\":\"%s\",\"t\":%.3f,\"count\":%.2f%s", j->wall, k->t,
                     k->count, k->density >= 0 ? "" : "}");
            if (k->density >= 0)
                snprintf(js + strlen(js), sizeof(js) - strlen(js), ",\"density\":%.3f}",
                         k->density);
            vg__mqtt_count(s, k->camera, k->zone[0] ? k->zone : "all", js);
        }
        return r;
    }
    if (j->ev.phase == VG_PHASE_START && j->snap.frame && !j->evidence[0]) {
        write_evidence(s, j);
        vg__snap_clear(&j->snap); /* the picture is on disk (or could not be): free the frame */
    }
    const char *priority = NULL;
    if (j->ev.phase == VG_PHASE_START)
        priority = vg_priority_name(j->priority ? j->priority : s->cfg->priority[j->ev.type]);
    id = vg_store_event_put_priority(s->store, j->run, &j->ev, j->wall,
                                     j->evidence[0] ? j->evidence : NULL, j->evidence_bytes,
                                     priority, &seq);
    if (id == VG_ENOENT) {
        vg_log(COMP, VG_LOG_WARNING, "camera '%s': %s of event %lld whose start is not stored",
               j->cam->cfg->name, vg_event_phase_name(j->ev.phase), (long long)j->ev.event_id);
        return 0;
    }
    if (id < 0) return (int)id;
    if (j->ev.phase == VG_PHASE_START && j->evidence[0] && s->cfg->keep_original)
        vg_store_evidence_add(s->store, id, "original", j->evidence, 0);
    vg__hub_notify(s, seq);
    if (j->arrived > 0 && j->tries == 0) vg__metrics_latency(s, vg_clock_now(NULL) - j->arrived);
    return 0;
}

void *vg__writer_main(void *opaque)
{
    vg_server_t *s = opaque;
    for (;;) {
        vg_job_t *j;
        pthread_mutex_lock(&s->wlock);
        while (!s->jhead && !s->wstop) pthread_cond_wait(&s->wcond, &s->wlock);
        j = s->jhead;
        pthread_mutex_unlock(&s->wlock);
        if (!j) break;
        double t0 = vg__now_mono();
        int ret = write_job(s, j);
        if (ret == 0 && !j->is_count)
            vg__metrics_event(s, j->ev.type, j->ev.phase, vg__now_mono() - t0);
        if (ret < 0) {
            j->tries++;
            if (j->tries == 1 || j->tries % 60 == 0) {
                pthread_mutex_lock(&s->wlock);
                int waiting = s->jcount;
                pthread_mutex_unlock(&s->wlock);
                vg_log(COMP, VG_LOG_ERROR,
                       "cannot record events in the store: %s; %d waiting in memory, retrying "
                       "every second (free disk space or release the database)",
                       vg_strerror(ret), waiting);
            }
            struct timespec ts;
            vg__abs_deadline(&ts, 1.0);
            pthread_mutex_lock(&s->wlock);
            int give_up = s->wstop && j->tries > 30;
            if (!give_up) pthread_cond_timedwait(&s->wcond, &s->wlock, &ts);
            pthread_mutex_unlock(&s->wlock);
            if (!give_up) continue;
            char line[VG_EVENT_DETAILS_MAX + 1024];
            if (j->is_count)
                snprintf(line, sizeof(line), "count sample of camera %s, zone '%s' at %.1f s",
                         j->count.camera, j->count.zone, j->count.t);
            else
                vg_event_to_json(&j->ev, line, sizeof(line));
            vg_log(COMP, VG_LOG_ERROR, "shutting down with the store unwritable: lost: %s", line);
        }
        pthread_mutex_lock(&s->wlock);
        s->jhead = j->next;
        if (!s->jhead) s->jtail = NULL;
        s->jcount--;
        pthread_mutex_unlock(&s->wlock);
        vg__job_free(j);
    }
    return NULL;
}
