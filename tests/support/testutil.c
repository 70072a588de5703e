/* Helpers for tests (see testutil.h). */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vigie/log.h>

static pthread_mutex_t cap_lock = PTHREAD_MUTEX_INITIALIZER;
static char cap[65536];
static size_t cap_len;

static void sink(void *opaque, int level, const char *component, const char *msg)
{
    (void)opaque;
    pthread_mutex_lock(&cap_lock);
    int n = snprintf(cap + cap_len, sizeof(cap) - cap_len, "%s: %s: %s\n",
                     component ? component : "-", vg_log_level_name(level), msg);
    if (n > 0) cap_len = cap_len + (size_t)n < sizeof(cap) ? cap_len + (size_t)n : sizeof(cap) - 1;
    pthread_mutex_unlock(&cap_lock);
    if (getenv("VG_TEST_VERBOSE")) fprintf(stderr, "[log] %s\n", msg);
}

void tu_log_capture(void)
{
    pthread_mutex_lock(&cap_lock);
    cap_len = 0;
    cap[0] = 0;
    pthread_mutex_unlock(&cap_lock);
    vg_log_set_sink(sink, NULL);
    vg_log_set_level(VG_LOG_VERBOSE);
}

const char *tu_log_text(void)
{
    return cap;
}

void tu_log_release(void)
{
    vg_log_set_sink(NULL, NULL);
    vg_log_set_level(VG_LOG_INFO);
}

const char *tu_shared(void)
{
    static char path[4096];
    struct stat st;
    const char *s = getenv("VG_SHARED");
    if (!s) return NULL;
    snprintf(path, sizeof(path), "%s/data", s);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
    return s;
}

const char *tu_vigie(void)
{
    const char *b = getenv("VIGIE_BIN");
    return b ? b : "vigie";
}

int tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

float *tu_read_f32(const char *path, size_t *n)
{
    size_t len = 0;
    char *d = tu_read_file(path, &len);
    *n = len / 4;
    return (float *)d;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = (size_t)n;
    return buf;
}

int tu_count_lines(const char *path)
{
    size_t len;
    char *b = tu_read_file(path, &len);
    int n = 0;
    if (!b) return -1;
    for (size_t i = 0; i < len; i++) n += b[i] == '\n';
    free(b);
    return n;
}

int tu_run(const char *cmd)
{
    int st = system(cmd);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int tu_server_start(tu_server_t *s, const char *dir, const char *config, const char *tag)
{
    char port_file[600];
    snprintf(port_file, sizeof(port_file), "%s/%s.port", dir, tag);
    snprintf(s->log, sizeof(s->log), "%s/%s.log", dir, tag);
    snprintf(s->config, sizeof(s->config), "%s", config);
    unlink(port_file);
    s->pid = fork();
    if (s->pid == 0) {
        /* its own log; nothing inherited that a reader of the test's output waits on */
        if (!freopen(s->log, "a", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
        execl(tu_vigie(), "vigie", "serve", "--config", config, "--port-file", port_file,
              (char *)NULL);
        _exit(127);
    }
    for (double t0 = tu_now(); tu_now() - t0 < 120;) {
        size_t len;
        char *txt = tu_read_file(port_file, &len);
        if (txt) {
            s->port = atoi(txt);
            free(txt);
            return s->port > 0 ? 0 : -1;
        }
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) return -1;
        usleep(50000);
    }
    return -1;
}

int tu_server_stop(tu_server_t *s, int sig)
{
    int st = 0;
    if (s->pid <= 0) return -1;
    kill(s->pid, sig);
    /* A server that does not stop would hang the test until CTest's timeout, with nothing said:
     * it is given a generous while (a sanitizer build flushing its store on a loaded machine),
     * then killed, and the test fails on the exit status with the reason printed. */
    const double limit = 300, t0 = tu_now();
    pid_t r;
    while ((r = waitpid(s->pid, &st, WNOHANG)) == 0 && tu_now() - t0 < limit) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (r == 0) {
        fprintf(stderr,
                "vigie serve (pid %d, log %s) did not stop within %.0f s of signal %d: killed\n",
                (int)s->pid, s->log, limit, sig);
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &st, 0);
        s->pid = 0;
        return -2;
    }
    s->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
