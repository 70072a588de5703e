/*
 * A camera that cannot watch is itself an alert (issue #18): the technical alert camera_fault,
 * not one of the decree's eight, stored, shown in the queue and decided like the others.
 *
 * The keeper thread calls vg__cam_health() twice a second. A camera is at fault while it is
 * `failed` (its input cannot be opened or broke), `reconnecting`, or `running` without a new
 * frame for longer than its input.timeout (plus a second: progress comes twice a second) — a
 * stalled stream, whose source is still retrying. One alert per fault: it starts when the fault
 * is seen, its details say which ("failed", "stalled") and the camera's message, and it ends
 * when frames flow again. A camera that `ended` (a file without loop) or is restarting with a
 * new scene is not at fault. The alerts of a camera belong to a run of their own in the store
 * (made at its first fault), so the analysis runs keep their own event numbering.
 */
#include <stdio.h>
#include <string.h>

#include <vigie/event.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/store.h>

#include "server_priv.h"

#define COMP "serve"

static void fault_job(vg_cam_t *c, vg_event_phase_t phase, const char *reason, const char *msg)
{
    vg_server_t *s = c->srv;
    vg_job_t *j = vg_calloc(1, sizeof(*j));
    if (!j) return;
    j->cam = c;
    j->run = c->fault_run;
    vg_store_now(j->wall);
    vg_event_init(&j->ev, VG_EVENT_CAMERA_FAULT, phase);
    j->ev.event_id = c->fault_id;
    j->ev.score = 1;
    vg_event_set_camera(&j->ev, c->cfg->name);
    if (reason) vg_event_detail_str(&j->ev, "reason", reason);
    if (msg && msg[0]) vg_event_detail_str(&j->ev, "message", msg);
    vg__writer_push(s, j, j);
}

void vg__cam_health(vg_server_t *s)
{
    double now = vg__now_mono();
    for (int i = 0; i < s->nb_cams; i++) {
        vg_cam_t *c = &s->cams[i];
        if (!vg__cam_live(c)) continue;
        char status[16], msg[512];
        const char *reason = NULL;
        pthread_mutex_lock(&c->lock);
        snprintf(status, sizeof(status), "%s", c->status);
        snprintf(msg, sizeof(msg), "%s", c->message);
        if (vg__cluster_console(s)) {
            /* its analysis node reports its faults; the console, that no node runs it */
            if (!strcmp(status, "unassigned") && now - c->last_frame > c->stall_after) {
                reason = "unassigned";
                snprintf(msg, sizeof(msg), "no analysis node has run it for %.0f s",
                         now - c->last_frame);
            }
        } else if (!strcmp(status, "failed"))
            reason = "failed";
        else if (!strcmp(status, "reconnecting"))
            reason = "stalled";
        else if (!strcmp(status, "running") && c->last_frame > 0 &&
                 now - c->last_frame > c->stall_after + 1) {
            reason = "stalled";
            snprintf(msg, sizeof(msg), "no picture for %.0f s (input.timeout %.0f s)",
                     now - c->last_frame, c->stall_after);
        }
        int healthy = vg__cluster_console(s) ? strcmp(status, "unassigned") != 0
                                             : !strcmp(status, "running") && !reason;
        pthread_mutex_unlock(&c->lock);
        if (reason && !c->fault_open) {
            if (!c->fault_run) {
                int64_t run = vg_store_run_start(s->store, c->cfg->name);
                if (run < 0) continue; /* the store is busy: seen again in half a second */
                c->fault_run = run;
            }
            c->fault_id = ++c->fault_next_id;
            c->fault_open = 1;
            vg_log(COMP, VG_LOG_WARNING, "camera '%s': technical alert: %s (%s)", c->cfg->name,
                   reason, msg);
            fault_job(c, VG_PHASE_START, reason, msg);
        } else if ((healthy || !strcmp(status, "standby")) && c->fault_open) {
            /* (standby: a cluster's camera now run by another node, which reports its faults) */
            c->fault_open = 0;
            vg_log(COMP, VG_LOG_INFO, "camera '%s': pictures again, technical alert ended",
                   c->cfg->name);
            fault_job(c, VG_PHASE_END, NULL, NULL);
        }
    }
}

void vg__cam_health_end_one(vg_server_t *s, vg_cam_t *c)
{
    (void)s;
    if (!c->fault_open) return;
    c->fault_open = 0;
    fault_job(c, VG_PHASE_END, NULL, NULL);
}

void vg__cam_health_end(vg_server_t *s)
{
    for (int i = 0; i < s->nb_cams; i++)
        if (s->cams[i].fault_open) {
            s->cams[i].fault_open = 0;
            fault_job(&s->cams[i], VG_PHASE_END, NULL, NULL);
        }
}
