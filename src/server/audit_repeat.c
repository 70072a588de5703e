/*
 * Audit rows a client can repeat at will — failed and refused logins, refused actions — written
 * so that a flood cannot fill the disk and nothing that matters is left out (issue #17).
 *
 * Each kind of row is keyed by (actor, action, target, address). The first of a kind in a window
 * of audit.repeat_window seconds is written at once, with its details; the repeats within the
 * window are counted, and when the window ends one row is written with the same actor, action
 * and target and the details {"from", "repeated": N, "since", "until"}. So every occurrence is
 * in the trail, as a row or in a count, and a client can make at most two rows per kind per
 * window. The kinds are bounded too: at most SLOTS at once; beyond, the repeats of an action are
 * counted in one slot per action with the actor "*" (and the names they used are lost, not the
 * count). Callers key unauthenticated failures by a name only when it is a user's, so a client
 * inventing names makes one kind per address, not one per name.
 */
#include <stdio.h>
#include <string.h>

#include <vigie/mem.h>
#include <vigie/store.h>

#include "api.h"

#define SLOTS 512

typedef struct slot {
    char actor[72], action[32], target[200], from[64];
    char since[32], until[32];
    double opened; /* monotonic; 0: free */
    int64_t repeated;
} slot_t;

struct vg_audit_repeat {
    slot_t slot[SLOTS];
};

static void write_slot(vg_server_t *s, slot_t *k)
{
    char *txt = NULL;
    if (k->repeated > 0) {
        json_t *d = json_pack("{s:s,s:I,s:s,s:s}", "from", k->from, "repeated",
                              (json_int_t)k->repeated, "since", k->since, "until", k->until);
        txt = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        vg_store_audit(s->store, k->actor, k->action, k->target, txt);
        free(txt);
    }
    memset(k, 0, sizeof(*k));
}

void vg__audit_repeat(vg_server_t *s, const char *actor, const char *action, const char *target,
                      const char *from, json_t *details)
{
    double now = vg__now_mono();
    slot_t *hit = NULL, *free_slot = NULL, *any = NULL;
    char wall[32];
    target = target ? target : "";
    from = from ? from : "";
    vg_store_now(wall);
    pthread_mutex_lock(&s->alock);
    if (!s->repeats) s->repeats = vg_calloc(1, sizeof(*s->repeats));
    for (int i = 0; s->repeats && i < SLOTS; i++) {
        slot_t *k = &s->repeats->slot[i];
        if (!k->opened) {
            if (!free_slot) free_slot = k;
            continue;
        }
        if (!strcmp(k->action, action) && !strcmp(k->actor, "*")) any = k;
        if (!strcmp(k->actor, actor) && !strcmp(k->action, action) && !strcmp(k->target, target) &&
            !strcmp(k->from, from)) {
            hit = k;
            break;
        }
    }
    if (hit || (!free_slot && any)) {
        slot_t *k = hit ? hit : any;
        k->repeated++;
        snprintf(k->until, sizeof(k->until), "%s", wall);
        pthread_mutex_unlock(&s->alock);
        json_decref(details);
        return;
    }
    int full = !free_slot && s->repeats;
    if (full) {
        /* full: the oldest kind is written out, and the repeats of this action from anyone are
         * counted in its slot from now on; this occurrence is written below, as it is */
        free_slot = &s->repeats->slot[0];
        for (int i = 1; i < SLOTS; i++)
            if (s->repeats->slot[i].opened < free_slot->opened) free_slot = &s->repeats->slot[i];
        write_slot(s, free_slot);
    }
    if (free_slot) {
        snprintf(free_slot->actor, sizeof(free_slot->actor), "%s", full ? "*" : actor);
        snprintf(free_slot->action, sizeof(free_slot->action), "%s", action);
        snprintf(free_slot->target, sizeof(free_slot->target), "%s", full ? "" : target);
        snprintf(free_slot->from, sizeof(free_slot->from), "%s", full ? "" : from);
        snprintf(free_slot->since, sizeof(free_slot->since), "%s", wall);
        free_slot->opened = now;
    }
    pthread_mutex_unlock(&s->alock);
    /* the first of its kind: written at once, with what it carries */
    vg__api_audit(s, actor, action, target, details);
}

void vg__audit_repeat_flush(vg_server_t *s, int all)
{
    double now = vg__now_mono();
    pthread_mutex_lock(&s->alock);
    for (int i = 0; s->repeats && i < SLOTS; i++) {
        slot_t *k = &s->repeats->slot[i];
        if (k->opened && (all || now - k->opened >= s->cfg->repeat_window)) write_slot(s, k);
    }
    pthread_mutex_unlock(&s->alock);
}

void vg__audit_repeat_free(vg_server_t *s)
{
    vg_free(s->repeats);
    s->repeats = NULL;
}
