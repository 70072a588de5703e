/*
 * The login limiter (docs/server.md#logins, issue #17).
 *
 * security.login_failures failures for one name (four times as many from one address), each
 * within security.login_lockout seconds of the previous one, lock that name (address) out for that
 * long. What makes it hold against a determined client:
 *
 * - An attempt is counted before the password is hashed: it reserves a failure, released only if
 *   the password was right. So N parallel guesses give at most login_failures answers 401, the
 *   rest 429, and no guess inside a burst is checked once the budget is spent.
 * - At most security.login_parallel attempts are checked at once for one name and for one
 *   address (429 beyond): parallel guesses cannot keep the hashing threads busy.
 * - State is kept in three bounded pools that others' failures cannot empty: names of users
 *   (one entry per user at most — the users table bounds it), other names (a fixed pool) and
 *   addresses (a fixed pool). An entry is reused only when it holds nothing: no lock, no attempt
 *   in progress, its window over. When a pool has no such entry the attempt is refused (429)
 *   rather than an entry forgotten — a flood of junk names can delay other junk names, never
 *   free a locked user.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vigie/error.h>
#include <vigie/mem.h>

#include "server_priv.h"

#define OTHER_NAMES 1024
#define ADDRESSES   4096

typedef struct entry {
    char key[72];
    int failures, inflight;
    double last, locked_until; /* last: the latest failure (monotonic s) */
} entry_t;

typedef struct pool {
    entry_t *e;
    int n, cap, fixed; /* fixed: cap is all there is */
} pool_t;

struct vg_limiter {
    pool_t users, others, addrs;
};

static int idle(const entry_t *e, double now, double window)
{
    return e->inflight == 0 && e->locked_until <= now &&
           (e->failures == 0 || now - e->last > window);
}

/* The entry of @key, made when missing; NULL when the pool is full of live entries. */
static entry_t *pool_get(pool_t *p, const char *key, double now, double window)
{
    entry_t *spare = NULL;
    for (int i = 0; i < p->n; i++) {
        if (!strcmp(p->e[i].key, key)) return &p->e[i];
        if (!spare && idle(&p->e[i], now, window)) spare = &p->e[i];
    }
    if (!spare) {
        if (p->n == p->cap) {
            if (p->fixed) return NULL;
            int cap = p->cap ? p->cap * 2 : 16;
            entry_t *ne = vg_realloc(p->e, (size_t)cap * sizeof(*ne));
            if (!ne) return NULL;
            p->e = ne;
            p->cap = cap;
        }
        spare = &p->e[p->n++];
    }
    memset(spare, 0, sizeof(*spare));
    snprintf(spare->key, sizeof(spare->key), "%s", key);
    spare->last = now;
    return spare;
}

static int pool_init(pool_t *p, int cap)
{
    p->e = vg_calloc((size_t)cap, sizeof(*p->e));
    p->cap = cap;
    p->fixed = 1;
    return p->e ? 0 : VG_ENOMEM;
}

static struct vg_limiter *limiter(vg_server_t *s)
{
    if (!s->limiter) {
        struct vg_limiter *l = vg_calloc(1, sizeof(*l));
        if (!l) return NULL;
        if (pool_init(&l->others, OTHER_NAMES) < 0 || pool_init(&l->addrs, ADDRESSES) < 0) {
            vg_free(l->others.e);
            vg_free(l->addrs.e);
            vg_free(l);
            return NULL;
        }
        s->limiter = l;
    }
    return s->limiter;
}

/* Why @e refuses an attempt now (0: it does not). */
static int refuses(const entry_t *e, int allowed, int parallel, double now, double *retry,
                   const char *what, char *why, size_t whylen)
{
    if (e->locked_until > now) {
        *retry = e->locked_until - now;
        snprintf(why, whylen, "too many failed logins for this %s: try again in %.0f s", what,
                 ceil(*retry));
        return 1;
    }
    if (e->failures + e->inflight >= allowed) {
        *retry = 1;
        snprintf(why, whylen, "too many logins for this %s are being checked or have failed", what);
        return 1;
    }
    if (e->inflight >= parallel) {
        *retry = 1;
        snprintf(why, whylen, "a login for this %s is being checked: try again in a second", what);
        return 1;
    }
    return 0;
}

/* Failures count while each follows the previous within the span: how fast the password
 * checks run (a busy machine, a slow hash) changes nothing. */
static void window(entry_t *e, double now, double span)
{
    if (e->inflight == 0 && now - e->last > span) {
        e->last = now;
        e->failures = 0;
    }
}

int vg__limiter_begin(vg_server_t *s, const char *name, int known, const char *addr, double *retry,
                      char *why, size_t whylen)
{
    const vg_server_config_t *cfg = s->cfg;
    double now = vg__now_mono(), span = cfg->login_lockout;
    int ret = 0;
    *retry = 0;
    why[0] = 0;
    pthread_mutex_lock(&s->llock);
    struct vg_limiter *l = limiter(s);
    entry_t *en = NULL, *ea = NULL;
    if (l) {
        en = pool_get(known ? &l->users : &l->others, name, now, span);
        ea = en ? pool_get(&l->addrs, addr, now, span) : NULL;
    }
    if (!en || !ea) {
        *retry = span;
        snprintf(why, whylen,
                 "too many failed logins on this server at the moment: try again in %.0f s", span);
        ret = VG_EAGAIN;
    } else {
        window(en, now, span);
        window(ea, now, span);
        if (refuses(en, cfg->login_failures, cfg->login_parallel, now, retry, "name", why,
                    whylen) ||
            refuses(ea, cfg->login_failures * 4, cfg->login_parallel, now, retry, "address", why,
                    whylen))
            ret = VG_EAGAIN;
        else {
            en->inflight++;
            ea->inflight++;
        }
    }
    pthread_mutex_unlock(&s->llock);
    return ret;
}

static int settle(entry_t *e, int allowed, int ok, double now, double lockout)
{
    if (!e) return 0;
    if (e->inflight > 0) e->inflight--;
    if (ok) {
        e->failures = 0;
        return 0;
    }
    e->last = now;
    if (++e->failures >= allowed) {
        e->locked_until = now + lockout;
        e->failures = 0;
        return 1;
    }
    return 0;
}

int vg__limiter_end(vg_server_t *s, const char *name, int known, const char *addr, int ok)
{
    const vg_server_config_t *cfg = s->cfg;
    double now = vg__now_mono(), span = cfg->login_lockout;
    int locked = 0;
    pthread_mutex_lock(&s->llock);
    struct vg_limiter *l = s->limiter;
    if (l) {
        /* both entries are live (an attempt in progress), so found, never made */
        entry_t *en = pool_get(known ? &l->users : &l->others, name, now, span);
        entry_t *ea = pool_get(&l->addrs, addr, now, span);
        locked |= settle(en, cfg->login_failures, ok, now, span);
        locked |= settle(ea, cfg->login_failures * 4, ok, now, span);
    }
    pthread_mutex_unlock(&s->llock);
    return locked;
}

void vg__limiter_free(vg_server_t *s)
{
    struct vg_limiter *l = s->limiter;
    if (!l) return;
    vg_free(l->users.e);
    vg_free(l->others.e);
    vg_free(l->addrs.e);
    vg_free(l);
    s->limiter = NULL;
}
