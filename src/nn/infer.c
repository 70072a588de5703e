/*
 * The shared inference thread (see include/vigie/infer.h).
 *
 * One service per process: a detector, one thread, a FIFO of clients with a request pending.
 * Each client holds its one request (frame reference, region) and its result buffer, so the
 * queue never holds more entries than there are cameras and nothing is allocated per request.
 * States of a client: IDLE (nothing asked or result read), QUEUED, RUNNING, DONE (result
 * waiting to be read). Everything shared is under the service's mutex; the detector runs with it
 * released. A client freed while its request runs is marked cancelled and waits for the run to
 * end (the run reads its frame).
 *
 * The thread pins OpenBLAS to one thread: the service is meant to take one core, whatever the
 * number of cameras. With detector.nice it runs below the cameras: on a box short of CPU the
 * cameras keep their frames and the detector's looks (served in turn, one per camera at a time)
 * thin out instead — the looks a camera gets are in the metrics.
 */
#include <cblas.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vigie/clock.h>
#include <vigie/error.h>
#include <vigie/infer.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/nn.h>
#include <vigie/pose.h>

#define COMP      "infer"
#define TORSO_MIN 0.3f /* keypoint score: a shoulder or hip this sure counts for the torso */
#define POSE_WIDE                                                                                  \
    0.8f /* a box narrower than this share of its height is someone standing:                      \
            their posture is plain, no pose is run for it (walkers cost nothing) */

enum { IDLE, QUEUED, RUNNING, DONE };

struct vg_infer_client {
    vg_infer_t *s;
    int state, cancelled;
    vg_frame_t *frame;
    float region[4];
    unsigned flags;
    double t_submit;
    vg_infer_result_t res;
    vg_detection_t *det;
    int cap;
    pthread_cond_t done;
    vg_infer_client_t *next; /* in the FIFO */
};

struct vg_infer {
    pthread_mutex_t mu;
    pthread_cond_t work;
    pthread_t thread;
    int stop, refs;
    vg_detector_t *det;
    vg_pose_t *pose; /* loaded on the first VG_INFER_POSE request */
    int pose_failed; /* it could not be: said once */
    char model[64], models_dir[4096];
    int max_det, nice, precision;
    vg_infer_client_t *head, *tail;
    vg_infer_stats_t stats;
};

static pthread_mutex_t global_mu = PTHREAD_MUTEX_INITIALIZER;
static vg_infer_t *global;

/* The pose of the first VG_INFER_POSE_MAX persons (and cats and dogs: the detector's names for
 * many people lying on a floor) of @c's result centred in its region and not standing-shaped
 * (POSE_WIDE), in the whole frame @img.
 * Runs on the service thread, mutex released; the model is loaded here on first use. */
static void run_poses(vg_infer_t *s, vg_infer_client_t *c, const vg_image_t *img)
{
    vg_infer_result_t *r = &c->res;
    int hands = !!(c->flags & VG_INFER_HANDS), lying = !!(c->flags & VG_INFER_POSE);
    if (!s->pose && !s->pose_failed) {
        char err[512] = "";
        if (vg_pose_new(&s->pose, s->models_dir, err, sizeof(err)) < 0) {
            s->pose_failed = 1;
            vg_log(COMP, VG_LOG_ERROR, "no poses (postures for falls from boxes only): %s",
                   err[0] ? err : "cannot load the pose model");
        }
    }
    if (!s->pose) return;
    int done = 0, done_hands = 0;
    for (int i = 0; i < r->n && (done < VG_INFER_POSE_MAX || done_hands < VG_INFER_HANDS_MAX);
         i++) {
        vg_detection_t *d = &r->det[i];
        float cx = d->x + d->w / 2, cy = d->y + d->h / 2;
        if (cx < r->region[0] || cy < r->region[1] || cx > r->region[0] + r->region[2] ||
            cy > r->region[1] + r->region[3])
            continue;
        /* a lying posture: persons and the detector's cats and dogs, wide boxes; hands: any
         * person box */
        int want_lying = lying && done < VG_INFER_POSE_MAX && d->w >= POSE_WIDE * d->h &&
                         (d->cls == 0 || d->cls == 15 || d->cls == 16);
        int want_hands = hands && done_hands < VG_INFER_HANDS_MAX && d->cls == 0;
        if (!want_lying && !want_hands) continue;
        done += want_lying;
        done_hands += want_hands;
        vg_pose_result_t best;
        double t0 = vg_clock_now(NULL);
        int runs = want_lying ? vg_pose_run_best(s->pose, img, d, &best, NULL)
                              : vg_pose_run(s->pose, img, d, &best);
        if (runs == 0) runs = 1; /* vg_pose_run: 0 is one run */
        double t1 = vg_clock_now(NULL);
        pthread_mutex_lock(&s->mu);
        s->stats.poses += runs > 0 ? runs : 1;
        s->stats.pose_busy += t1 - t0;
        pthread_mutex_unlock(&s->mu);
        if (runs < 0) continue;
        d->pose = best.score > 0 ? best.score : 1e-6f;
        d->pose_turn = best.turn;
        if (!vg_pose_torso(&best, TORSO_MIN, &d->torso[0], &d->torso[2]))
            memset(d->torso, 0, sizeof(d->torso));
        for (int k = 0; k < 2; k++) {
            const vg_keypoint_t *w = &best.kp[VG_KP_LEFT_WRIST + k];
            d->wrist[2 * k] = w->x, d->wrist[2 * k + 1] = w->y;
            d->wrist_score[k] = w->score;
        }
    }
}

/* Detections of @c's request, in frame pixels. Runs on the service thread, mutex released. */
static void run_request(vg_infer_t *s, vg_infer_client_t *c)
{
    const vg_image_t *img = &c->frame->color;
    int x = (int)c->region[0], y = (int)c->region[1];
    int w = (int)(c->region[0] + c->region[2] + 0.5f) - x,
        h = (int)(c->region[1] + c->region[3] + 0.5f) - y;
    if (x < 0) w += x, x = 0;
    if (y < 0) h += y, y = 0;
    if (x + w > img->w) w = img->w - x;
    if (y + h > img->h) h = img->h - y;
    vg_infer_result_t *r = &c->res;
    r->n = 0;
    r->error = 0;
    r->region[0] = (float)x, r->region[1] = (float)y, r->region[2] = (float)w;
    r->region[3] = (float)h;
    if (w < 1 || h < 1) {
        r->error = VG_EINVAL;
        return;
    }
    vg_image_t view = {w, h, img->stride, VG_PIX_BGR24,
                       img->data + (ptrdiff_t)y * img->stride + 3 * x};
    int n = vg_detector_run(s->det, &view, c->det, c->cap);
    if (n < 0) {
        r->error = n;
        return;
    }
    for (int i = 0; i < n; i++) c->det[i].x += (float)x, c->det[i].y += (float)y;
    r->n = n;
    r->det = c->det;
    if (c->flags & (VG_INFER_POSE | VG_INFER_HANDS)) run_poses(s, c, img);
}

static void *service_main(void *arg)
{
    vg_infer_t *s = arg;
    openblas_set_num_threads(1);
    if (s->nice > 0) { /* Linux: a thread's niceness is its own (setpriority on its id) */
        errno = 0;
        int base = getpriority(PRIO_PROCESS, 0);
        if (errno) base = 0;
        int want = base + s->nice > 19 ? 19 : base + s->nice;
        if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), want) < 0)
            vg_log(COMP, VG_LOG_WARNING,
                   "cannot lower the inference thread's priority (%s): it "
                   "competes with the cameras as an equal",
                   strerror(errno));
    }
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && !s->head) pthread_cond_wait(&s->work, &s->mu);
        if (s->stop) break;
        vg_infer_client_t *c = s->head;
        s->head = c->next;
        if (!s->head) s->tail = NULL;
        c->next = NULL;
        c->state = RUNNING;
        pthread_mutex_unlock(&s->mu);
        double t0 = vg_clock_now(NULL);
        run_request(s, c);
        double t1 = vg_clock_now(NULL);
        pthread_mutex_lock(&s->mu);
        vg_frame_unref(&c->frame);
        c->res.latency = t1 - c->t_submit;
        s->stats.busy += t1 - t0;
        vg_hist_add(&s->stats.wait, t0 - c->t_submit);
        vg_hist_add(&s->stats.run, t1 - t0);
        s->stats.done++;
        c->state = DONE;
        pthread_cond_broadcast(&c->done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void service_free(vg_infer_t *s)
{
    vg_detector_free(&s->det);
    vg_pose_free(&s->pose);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work);
    vg_free(s);
}

int vg_infer_acquire(vg_infer_t **out, const vg_detector_params_t *p, char *err, size_t errlen)
{
    vg_detector_params_t d;
    int ret;
    if (!p) {
        if ((ret = vg_opt_defaults(&d, vg_detector_option_group.options)) < 0) return ret;
        p = &d;
    }
    pthread_mutex_lock(&global_mu);
    if (global) {
        if (strcmp(global->model, p->model) || strcmp(global->models_dir, p->models_dir)) {
            snprintf(err, errlen,
                     "detector.model %s (in %s): the inference thread already runs %s (in %s); "
                     "one model per process",
                     p->model, p->models_dir, global->model, global->models_dir);
            ret = VG_EINVAL;
        } else if (global->precision != p->precision) {
            snprintf(err, errlen,
                     "detector.precision %s: the inference thread already runs in %s; one "
                     "precision per process (set it in the server's settings, not per camera)",
                     p->precision == VG_PRECISION_INT8 ? "int8" : "float",
                     global->precision == VG_PRECISION_INT8 ? "int8" : "float");
            ret = VG_EINVAL;
        } else {
            global->refs++;
            *out = global;
            ret = 0;
        }
        goto end;
    }
    vg_infer_t *s = vg_calloc(1, sizeof(*s));
    if (!s) {
        ret = VG_ENOMEM;
        goto end;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    snprintf(s->model, sizeof(s->model), "%s", p->model);
    snprintf(s->models_dir, sizeof(s->models_dir), "%s", p->models_dir);
    s->max_det = p->max_detections;
    s->nice = p->nice;
    s->precision = p->precision;
    if ((ret = vg_detector_new(&s->det, p, err, errlen)) < 0) {
        service_free(s);
        goto end;
    }
    if (pthread_create(&s->thread, NULL, service_main, s)) {
        snprintf(err, errlen, "cannot start the inference thread");
        service_free(s);
        ret = VG_ENOMEM;
        goto end;
    }
    s->refs = 1;
    global = s;
    *out = s;
    ret = 0;
    vg_log(COMP, VG_LOG_INFO, "inference thread started (%s)", p->model);
end:
    if (p == &d) vg_opt_free(&d, vg_detector_option_group.options);
    pthread_mutex_unlock(&global_mu);
    return ret;
}

void vg_infer_release(vg_infer_t **ps)
{
    vg_infer_t *s = *ps;
    if (!s) return;
    *ps = NULL;
    pthread_mutex_lock(&global_mu);
    if (--s->refs > 0) {
        pthread_mutex_unlock(&global_mu);
        return;
    }
    global = NULL;
    pthread_mutex_unlock(&global_mu);
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    service_free(s);
}

int vg_infer_client_new(vg_infer_t *s, vg_infer_client_t **out)
{
    vg_infer_client_t *c = vg_calloc(1, sizeof(*c));
    if (!c) return VG_ENOMEM;
    c->cap = s->max_det > 0 ? s->max_det : 100;
    c->det = vg_malloc((size_t)c->cap * sizeof(*c->det));
    if (!c->det) {
        vg_free(c);
        return VG_ENOMEM;
    }
    c->s = s;
    pthread_cond_init(&c->done, NULL);
    pthread_mutex_lock(&s->mu);
    s->stats.clients++;
    pthread_mutex_unlock(&s->mu);
    *out = c;
    return 0;
}

void vg_infer_client_free(vg_infer_client_t **pc)
{
    vg_infer_client_t *c = *pc;
    if (!c) return;
    vg_infer_t *s = c->s;
    pthread_mutex_lock(&s->mu);
    if (c->state == QUEUED) { /* out of the FIFO */
        vg_infer_client_t **pp = &s->head, *prev = NULL;
        while (*pp && *pp != c) prev = *pp, pp = &(*pp)->next;
        if (*pp) *pp = c->next;
        if (s->tail == c) s->tail = prev;
    }
    while (c->state == RUNNING) pthread_cond_wait(&c->done, &s->mu);
    s->stats.clients--;
    pthread_mutex_unlock(&s->mu);
    vg_frame_unref(&c->frame);
    pthread_cond_destroy(&c->done);
    vg_free(c->det);
    vg_free(c);
    *pc = NULL;
}

/* a frame with a colour image, and @region (NULL: the whole frame) not empty and on it */
static int frame_ok(const vg_frame_t *frame, const float *region)
{
    if (!frame || !frame->color.data || frame->color.fmt != VG_PIX_BGR24) return 0;
    return !region ||
           (region[2] >= 1 && region[3] >= 1 && region[0] < frame->color.w &&
            region[1] < frame->color.h && region[0] + region[2] > 0 && region[1] + region[3] > 0);
}

int vg_infer_submit(vg_infer_client_t *c, vg_frame_t *frame, const float *region)
{
    return vg_infer_submit_flags(c, frame, region, 0);
}

int vg_infer_submit_flags(vg_infer_client_t *c, vg_frame_t *frame, const float *region,
                          unsigned flags)
{
    vg_infer_t *s = c->s;
    if (!frame_ok(frame, region)) return VG_EINVAL;
    float r[4] = {0, 0, (float)frame->color.w, (float)frame->color.h};
    if (region) memcpy(r, region, sizeof(r));
    pthread_mutex_lock(&s->mu);
    if (c->state != IDLE) {
        s->stats.refused++;
        pthread_mutex_unlock(&s->mu);
        return VG_EBUSY;
    }
    c->frame = vg_frame_ref(frame);
    memcpy(c->region, r, sizeof(r));
    c->flags = flags;
    c->res = (vg_infer_result_t){frame->index, frame->t, {0}, 0, c->det, 0, 0};
    c->t_submit = vg_clock_now(NULL);
    c->state = QUEUED;
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    s->stats.requests++;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int vg_infer_refresh(vg_infer_client_t *c, vg_frame_t *frame, const float *region)
{
    vg_infer_t *s = c->s;
    if (!frame_ok(frame, region)) return VG_EINVAL;
    vg_frame_t *old = NULL;
    int ret;
    pthread_mutex_lock(&s->mu);
    if (c->state == QUEUED) {
        old = c->frame;
        c->frame = vg_frame_ref(frame);
        if (region) memcpy(c->region, region, sizeof(c->region));
        c->res.frame_index = frame->index;
        c->res.t = frame->t;
        s->stats.refreshed++;
        ret = 0;
    } else {
        ret = c->state == IDLE ? VG_EAGAIN : VG_EBUSY;
    }
    pthread_mutex_unlock(&s->mu);
    vg_frame_unref(&old);
    return ret;
}

int vg_infer_poll(vg_infer_client_t *c, vg_infer_result_t *out)
{
    vg_infer_t *s = c->s;
    int ret;
    pthread_mutex_lock(&s->mu);
    if (c->state == DONE) {
        *out = c->res;
        c->state = IDLE;
        ret = 1;
    } else {
        ret = c->state == IDLE ? VG_EAGAIN : 0;
    }
    pthread_mutex_unlock(&s->mu);
    return ret;
}

void vg_infer_wait(vg_infer_client_t *c)
{
    vg_infer_t *s = c->s;
    pthread_mutex_lock(&s->mu);
    while (c->state == QUEUED || c->state == RUNNING) pthread_cond_wait(&c->done, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

int vg_infer_running_stats(vg_infer_stats_t *st)
{
    pthread_mutex_lock(&global_mu);
    int have = global != NULL;
    if (have) vg_infer_get_stats(global, st);
    pthread_mutex_unlock(&global_mu);
    return have;
}

void vg_infer_get_stats(vg_infer_t *s, vg_infer_stats_t *st)
{
    pthread_mutex_lock(&s->mu);
    *st = s->stats;
    pthread_mutex_unlock(&s->mu);
}
