/*
 * bench/nn — vigie's inference core against TensorFlow.js's WebAssembly backend, same input,
 * same machine, same run, one thread each.
 *
 * For each model: vigie's vg_model_run on the reference input tensor from ../shared/ref/nn (median
 * of R runs after a warm-up), then bench/tfjs/run.sh (installs @tensorflow/tfjs-backend-wasm from
 * npm on first use) on the same file; prints ms per inference, the ratio tfjs/vigie (bar: >= 2 for
 * NanoDet-g and CenterNet) and the process's peak resident memory after loading and running each
 * model (bar: a loaded detector <= 64 MiB).
 *
 * usage: bench-nn [--runs R] [--no-tfjs] [MODELS_DIR [SHARED_DIR]]
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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

int main(int argc, char **argv)
{
    const char *models = "models", *shared = "../shared";
    int runs = 5, tfjs = 1, pos = 0;
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
    if (runs < 1 || runs > 100) runs = 5;
    openblas_set_num_threads(1);
    vg_log_set_level(getenv("VG_NN_PROFILE") ? VG_LOG_INFO : VG_LOG_ERROR);
    struct {
        const char *name, *input, *tfjs_shape;
        int64_t shape[4];
    } cases[] = {
        {"nanodet", "vtest_t20.nanodet-bgrnorm.input.f32", "1,3,416,416", {1, 3, 416, 416}},
        {"centernet", "vtest_t20.centernet.input.f32", "1,512,512,3", {1, 512, 512, 3}},
    };
    printf("# %d runs each, median; one thread\n", runs);
    double base = rss_mib();
    printf("nn.rss_before_models: %.1f MiB\n", base);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char err[1024], path[4096];
        vg_model_t *m;
        if (vg_model_load(&m, models, cases[c].name, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench-nn: %s\n", err);
            return 1;
        }
        snprintf(path, sizeof(path), "%s/ref/nn/%s", shared, cases[c].input);
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "bench-nn: %s missing\n", path);
            return 1;
        }
        size_t n = (size_t)(cases[c].shape[1] * cases[c].shape[2] * cases[c].shape[3]);
        float *in = malloc(n * sizeof(float));
        if (!in || fread(in, sizeof(float), n, f) != n) {
            fprintf(stderr, "bench-nn: %s is short\n", path);
            return 1;
        }
        fclose(f);
        vg_tensor_t t;
        vg_tensor_view(&t, VG_DT_F32, 4, cases[c].shape, in);
        double times[100] = {0};
        vg_model_run(m, &t, 0); /* warm-up */
        for (int r = 0; r < runs; r++) {
            double t0 = vg_clock_now(NULL);
            if (vg_model_run(m, &t, 0) < 0) return 1;
            times[r] = (vg_clock_now(NULL) - t0) * 1e3;
        }
        qsort(times, (size_t)runs, sizeof(double), cmp);
        double ms = times[runs / 2];
        printf("nn.%s.vigie: %.1f ms (fastest %.1f)\n", cases[c].name, ms, times[0]);
        printf("nn.%s.peak_rss_after_run: %.1f MiB (process; bar for a loaded detector: <= 64)\n",
               cases[c].name, rss_mib());
        vg_model_free(&m);
        free(in);
        if (tfjs) {
            char cmd[8192], line[256];
            snprintf(cmd, sizeof(cmd), "bench/tfjs/run.sh '%s' %s '%s' %s %d 2>&1", models,
                     cases[c].name, path, cases[c].tfjs_shape, runs);
            FILE *p = popen(cmd, "r");
            double tms = 0;
            while (p && fgets(line, sizeof(line), p))
                if (sscanf(line, "tfjs_wasm_ms: %lf", &tms) == 1) break;
            if (p) pclose(p);
            if (tms > 0) {
                printf("nn.%s.tfjs_wasm: %.1f ms\n", cases[c].name, tms);
                printf("nn.%s.speedup_vigie_over_tfjs_wasm: %.2f (bar: >= 2)\n", cases[c].name,
                       tms / ms);
            } else {
                printf("nn.%s.tfjs_wasm: unavailable (npm or node missing?)\n", cases[c].name);
            }
        }
        fflush(stdout);
    }
    printf("nn.movenet_lightning: not implemented yet\n");
    return 0;
}
