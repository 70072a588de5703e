/*
 * bench/nn — vigie's inference core against TensorFlow.js's WebAssembly backend, same input,
 * same machine, same run, one thread each.
 *
 * For each model, in a child process of its own (so that its peak memory is its own):
 * - NanoDet-g 416 and CenterNet 512: vg_model_run on the reference input tensor from
 *   ../shared/ref/nn; MoveNet Lightning: vg_pose_run (crop, model, decoder) on the person of the
 *   darknet photo, the box CenterNet gives it;
 * - R timed runs after a warm-up (the first run also records the memory plan): median and
 *   fastest, in ms;
 * - the process's peak resident memory after loading and running (bar: a loaded detector
 *   <= 64 MiB);
 * then bench/tfjs/run.sh (installs @tensorflow/tfjs-backend-wasm from npm on first use) on the
 * same input tensor (for MoveNet: the same 192x192 crop), and the ratio of the medians
 * tfjs/vigie (bar: >= 2 for NanoDet-g and CenterNet; MoveNet's bar is <= 12 ms per crop).
 *
 * YOLOX-Nano (ONNX, models/yolox-nano.onnx) the same way on its reference input (NCHW in the file,
 * fed as NHWC), against ONNX Runtime (bench/ort/run.sh: npm onnxruntime-node 1.30, one intra-op
 * thread) on the same file and input: the ratio of the medians vigie/ORT (bar: <= 1.2), the peak
 * memory of each process, and NanoDet-g's time over YOLOX-Nano's in vigie.
 *
 * usage: bench-nn [--runs R] [--no-tfjs] [MODELS_DIR [SHARED_DIR]]
 * (--no-tfjs leaves out both JavaScript baselines)
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vigie/vigie.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static float *read_floats(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    float *v = malloc(n * sizeof(float));
    if (!f || !v || fread(v, sizeof(float), n, f) != n) {
        fprintf(stderr, "bench-nn: %s is missing or short\n", path);
        if (f) fclose(f);
        free(v);
        return NULL;
    }
    fclose(f);
    return v;
}

typedef struct bench_case {
    const char *name, *input, *tfjs_shape, *tfjs_dtype;
    int64_t shape[4];
    int onnx; /* the input file is NCHW (ONNX's); vigie takes it as NHWC; the baseline is ORT */
} bench_case_t;

/* Median and fastest of @runs timings of @fn. */
static void timed(int runs, double *med, double *best, int (*fn)(void *), void *arg)
{
    double times[100];
    for (int r = 0; r < runs; r++) {
        double t0 = vg_clock_now(NULL);
        if (fn(arg) < 0) {
            fprintf(stderr, "bench-nn: a run failed\n");
            exit(1);
        }
        times[r] = (vg_clock_now(NULL) - t0) * 1e3;
    }
    qsort(times, (size_t)runs, sizeof(double), cmp);
    *med = times[runs / 2];
    *best = times[0];
}

typedef struct model_run {
    vg_model_t *m;
    vg_tensor_t t;
} model_run_t;

static int run_model(void *arg)
{
    model_run_t *r = arg;
    return vg_model_run(r->m, &r->t, 0);
}

typedef struct pose_run {
    vg_pose_t *p;
    vg_image_t img;
    vg_detection_t box;
    vg_pose_result_t res;
} pose_run_t;

static int run_pose(void *arg)
{
    pose_run_t *r = arg;
    return vg_pose_run(r->p, &r->img, &r->box, &r->res);
}

static int want_profile(void *opaque, const char *component, int64_t frame)
{
    (void)opaque, (void)frame;
    return !strcmp(component, "nn.profile");
}

/* The child: load, warm up, time; prints its lines; writes the median to @fd. For MoveNet it
 * also writes the crop the model saw to @crop_path (for TF.js). */
static int child(const bench_case_t *c, const char *models, const char *shared, int runs,
                 const char *crop_path, int fd)
{
    char err[1024], path[4096];
    double med, best;
    openblas_set_num_threads(1);
    vg_log_set_level(getenv("VG_NN_PROFILE") ? VG_LOG_INFO : VG_LOG_ERROR);
    if (getenv("VG_NN_PROFILE")) { /* the library reads no environment: say it through the sink */
        static const vg_debug_sink_t prof = {want_profile, NULL, NULL, NULL};
        vg_debug_set_sink(&prof);
    }
    if (!strcmp(c->name, "movenet-lightning")) {
        pose_run_t r;
        if (vg_pose_new(&r.p, models, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench-nn: %s\n", err);
            return 1;
        }
        snprintf(path, sizeof(path), "%s/ref/nn/person.rgb", shared);
        uint8_t *px = (uint8_t *)read_floats(path, 640 * 424 * 3 / 4);
        if (!px) return 1;
        for (size_t i = 0; i < 640 * 424 * 3; i += 3) {
            uint8_t t = px[i];
            px[i] = px[i + 2], px[i + 2] = t;
        }
        r.img = (vg_image_t){640, 424, 640 * 3, VG_PIX_BGR24, px};
        /* the person box CenterNet finds (ref/nn/person.decoded.json) */
        r.box = (vg_detection_t){.x = 186.5f, .y = 108.8f, .w = 89.4f, .h = 266.3f, .score = 0.67f};
        run_pose(&r);
        timed(runs, &med, &best, run_pose, &r);
        printf("nn.%s.vigie: %.2f ms per crop (fastest %.2f; crop, model and decoder; bar <= 12)\n",
               c->name, med, best);
        printf("nn.%s.peak_rss_after_run: %.1f MiB (process)\n", c->name, rss_mib());
        /* the model alone on the same crop (nearest pixels; timing does not depend on them),
         * which is also what TF.js gets */
        model_run_t mr;
        if (vg_model_load(&mr.m, models, c->name, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench-nn: %s\n", err);
            return 1;
        }
        static float crop[192 * 192 * 3];
        float side = 1.25f * r.box.h, x0 = r.box.x + r.box.w / 2 - side / 2,
              y0 = r.box.y + r.box.h / 2 - side / 2;
        for (int y = 0; y < 192; y++)
            for (int x = 0; x < 192; x++)
                for (int k = 0; k < 3; k++) {
                    int sx = (int)(x0 + (x + 0.5f) * side / 192),
                        sy = (int)(y0 + (y + 0.5f) * side / 192);
                    crop[(y * 192 + x) * 3 + k] = sx < 0 || sy < 0 || sx >= 640 || sy >= 424
                                                      ? 0
                                                      : px[(sy * 640 + sx) * 3 + 2 - k];
                }
        vg_tensor_view(&mr.t, VG_DT_F32, 4, c->shape, crop);
        run_model(&mr);
        double mmed, mbest;
        timed(runs, &mmed, &mbest, run_model, &mr);
        printf("nn.%s.vigie_model_only: %.2f ms (fastest %.2f)\n", c->name, mmed, mbest);
        vg_model_free(&mr.m);
        FILE *f = fopen(crop_path, "wb");
        if (!f || fwrite(crop, sizeof(crop), 1, f) != 1) {
            fprintf(stderr, "bench-nn: cannot write %s\n", crop_path);
            return 1;
        }
        fclose(f);
        med = mmed; /* compared with TF.js's model run */
        vg_pose_free(&r.p);
        free(px);
    } else {
        model_run_t r;
        if (vg_model_load(&r.m, models, c->name, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench-nn: %s\n", err);
            return 1;
        }
        snprintf(path, sizeof(path), "%s/ref/nn/%s", shared, c->input);
        size_t n = (size_t)(c->shape[1] * c->shape[2] * c->shape[3]);
        float *in = read_floats(path, n);
        if (!in) return 1;
        if (c->onnx) { /* NCHW to NHWC */
            float *t = malloc(n * sizeof(float));
            size_t plane = (size_t)(c->shape[1] * c->shape[2]), ch = (size_t)c->shape[3];
            if (!t) return 1;
            for (size_t q = 0; q < ch; q++)
                for (size_t i = 0; i < plane; i++) t[i * ch + q] = in[q * plane + i];
            free(in);
            in = t;
        }
        vg_tensor_view(&r.t, VG_DT_F32, 4, c->shape, in);
        run_model(&r);
        timed(runs, &med, &best, run_model, &r);
        printf("nn.%s.vigie: %.1f ms (fastest %.1f)\n", c->name, med, best);
        printf("nn.%s.peak_rss_after_run: %.1f MiB (process; bar for a loaded detector: <= 64)\n",
               c->name, rss_mib());
        {
            /* the same in 8-bit integers (detector.precision = int8), where the processor has
             * AVX-512 VNNI: its time, and how far its outputs are from the float ones */
            float *ref[8] = {0};
            size_t cnt[8] = {0};
            int nout = 0;
            for (const vg_tensor_t *o; nout < 8 && (o = vg_model_output(r.m, nout)); nout++) {
                cnt[nout] = o->count;
                ref[nout] = malloc(o->count * sizeof(float));
                if (ref[nout]) memcpy(ref[nout], o->data, o->count * sizeof(float));
            }
            int nq = vg_model_set_precision(r.m, VG_PRECISION_INT8);
            if (nq > 0) {
                double qmed, qbest, worst = 0;
                run_model(&r);
                for (int k = 0; k < nout; k++) {
                    const vg_tensor_t *o = vg_model_output(r.m, k);
                    double dmax = 0, vmax = 0;
                    for (size_t i = 0; ref[k] && o && i < cnt[k]; i++) {
                        double d = fabs((double)((const float *)o->data)[i] - ref[k][i]);
                        dmax = d > dmax ? d : dmax;
                        vmax = fabs(ref[k][i]) > vmax ? fabs(ref[k][i]) : vmax;
                    }
                    if (vmax > 0 && dmax / vmax > worst) worst = dmax / vmax;
                }
                timed(runs, &qmed, &qbest, run_model, &r);
                printf("nn.%s.vigie_int8: %.1f ms (fastest %.1f; %d convolutions in 8 bits; "
                       "outputs within %.2f %% of the float ones' range)\n",
                       c->name, qmed, qbest, nq, 100 * worst);
                printf("nn.%s.speedup_int8_over_float: %.2f\n", c->name, med / qmed);
                vg_model_set_precision(r.m, VG_PRECISION_FLOAT);
            } else {
                printf("nn.%s.vigie_int8: unavailable (%s)\n", c->name,
                       nq == VG_ENOSYS ? "no AVX-512 VNNI on this processor" : vg_strerror(nq));
            }
            for (int k = 0; k < nout; k++) free(ref[k]);
        }
        if (c->onnx) { /* the output's sum, to check that ONNX Runtime ran the same graph */
            const vg_tensor_t *o = vg_model_tensor(r.m, "output");
            double sum = 0;
            for (size_t i = 0; o && i < o->count; i++) sum += ((const float *)o->data)[i];
            printf("nn.%s.vigie_output_sum: %.2f\n", c->name, sum);
        }
        vg_model_free(&r.m);
        free(in);
    }
    fflush(stdout);
    return write(fd, &med, sizeof(med)) == sizeof(med) ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *models = "models", *shared = "../shared";
    int runs = 9, tfjs = 1, pos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-tfjs"))
            tfjs = 0;
        else if (pos == 0)
            models = argv[i], pos++;
        else
            shared = argv[i];
    }
    if (runs < 1 || runs > 100) runs = 9;
    const bench_case_t cases[] = {
        {"nanodet",
         "vtest_t20.nanodet-bgrnorm.input.f32",
         "1,3,416,416",
         "float32",
         {1, 3, 416, 416},
         0},
        {"centernet",
         "vtest_t20.centernet.input.f32",
         "1,512,512,3",
         "float32",
         {1, 512, 512, 3},
         0},
        {"movenet-lightning", NULL, "1,192,192,3", "int32", {1, 192, 192, 3}, 0},
        {"yolox-nano",
         "vtest_t20.yolox_nano.input.f32",
         "1,3,416,416",
         "float32",
         {1, 416, 416, 3},
         1},
    };
    double nanodet_ms = 0;
    char crop_path[] = "/tmp/vigie-bench-crop-XXXXXX";
    int cfd = mkstemp(crop_path);
    if (cfd >= 0) close(cfd);
    printf("# %d runs each after a warm-up, median (fastest); one thread; a process per model\n",
           runs);
    printf("nn.rss_of_the_bench_alone: %.1f MiB\n", rss_mib());
    fflush(stdout);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        int fds[2];
        double ms = 0;
        if (pipe(fds) < 0) return 1;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            _exit(child(&cases[c], models, shared, runs, crop_path, fds[1]));
        }
        close(fds[1]);
        int st = 0;
        if (read(fds[0], &ms, sizeof(ms)) != sizeof(ms)) ms = 0;
        close(fds[0]);
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) || ms <= 0) {
            fprintf(stderr, "bench-nn: %s failed\n", cases[c].name);
            return 1;
        }
        if (!strcmp(cases[c].name, "nanodet")) nanodet_ms = ms;
        if (cases[c].onnx) {
            if (nanodet_ms > 0)
                printf("nn.%s.speedup_over_nanodet: %.2f (NanoDet-g's time / this one's, both "
                       "in vigie, this run)\n",
                       cases[c].name, nanodet_ms / ms);
            if (!tfjs) continue;
            /* the baseline: ONNX Runtime on the same file and input, one thread */
            char cmd[8192], line[256], path[4096];
            snprintf(path, sizeof(path), "%s/ref/nn/%s", shared, cases[c].input);
            snprintf(cmd, sizeof(cmd),
                     "bench/ort/run.sh time '%s/models/yolox_nano.onnx' '%s' %s %d 2>&1", shared,
                     path, cases[c].tfjs_shape, runs);
            FILE *p = popen(cmd, "r");
            double oms = 0, orss = 0, osum = 0;
            while (p && fgets(line, sizeof(line), p)) {
                sscanf(line, "ort_ms: %lf", &oms);
                sscanf(line, "ort_peak_rss_mib: %lf", &orss);
                sscanf(line, "ort_output_sum: %lf", &osum);
            }
            if (p) pclose(p);
            if (oms > 0) {
                printf("nn.%s.onnxruntime: %.1f ms (onnxruntime-node 1.30, intra_op_num_threads "
                       "1; output sum %.2f)\n",
                       cases[c].name, oms, osum);
                printf("nn.%s.onnxruntime_peak_rss: %.1f MiB (node process)\n", cases[c].name,
                       orss);
                printf("nn.%s.time_vigie_over_onnxruntime: %.2f (bar: <= 1.2)\n", cases[c].name,
                       ms / oms);
            } else {
                printf("nn.%s.onnxruntime: unavailable (npm or node missing?)\n", cases[c].name);
            }
            fflush(stdout);
            continue;
        }
        if (!tfjs) continue;
        char cmd[8192], line[256], path[4096];
        if (cases[c].input)
            snprintf(path, sizeof(path), "%s/ref/nn/%s", shared, cases[c].input);
        else
            snprintf(path, sizeof(path), "%s", crop_path);
        snprintf(cmd, sizeof(cmd), "bench/tfjs/run.sh '%s' %s '%s' %s %d %s 2>&1", models,
                 cases[c].name, path, cases[c].tfjs_shape, runs, cases[c].tfjs_dtype);
        FILE *p = popen(cmd, "r");
        double tms = 0;
        while (p && fgets(line, sizeof(line), p))
            if (sscanf(line, "tfjs_wasm_ms: %lf", &tms) == 1) break;
        if (p) pclose(p);
        if (tms > 0) {
            printf("nn.%s.tfjs_wasm: %.1f ms\n", cases[c].name, tms);
            printf("nn.%s.speedup_vigie_over_tfjs_wasm: %.2f%s\n", cases[c].name, tms / ms,
                   cases[c].input ? " (bar: >= 2)" : " (model alone)");
        } else {
            printf("nn.%s.tfjs_wasm: unavailable (npm or node missing?)\n", cases[c].name);
        }
        fflush(stdout);
    }
    unlink(crop_path);
    return 0;
}
