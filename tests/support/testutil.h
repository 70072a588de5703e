/* Small helpers shared by the tests: log capture, file helpers, running commands. */
#ifndef VG_TEST_UTIL_H
#define VG_TEST_UTIL_H

#include <stddef.h>

/** Route vg_log into a buffer; tu_log_text() returns everything logged since tu_log_capture(). */
void tu_log_capture(void);
const char *tu_log_text(void);
void tu_log_release(void);

/** The directory of the shared data (../shared), or NULL when absent. */
const char *tu_shared(void);
/** The vigie binary under test ($VIGIE_BIN). */
const char *tu_vigie(void);

/** Write @len bytes to @path. 0 or -1. */
int tu_write_file(const char *path, const void *data, size_t len);
/** Read @path into a new NUL-terminated buffer (free() it); NULL on failure. */
char *tu_read_file(const char *path, size_t *len);
/* A raw little-endian float32 file (the reference tensors of ../shared/ref/nn): @n values, or
 * NULL. Free it. */
float *tu_read_f32(const char *path, size_t *n);
/** Count lines in @path (-1 if it cannot be read). */
int tu_count_lines(const char *path);

/** Run a shell command; its stderr+stdout go to @out_path if given. Returns the exit status. */
int tu_run(const char *cmd);

/** Monotonic seconds. */
double tu_now(void);

/** A `vigie serve` started by a test: its process, port, config and log. */
typedef struct tu_server {
    int pid;
    int port;
    char config[512];
    char log[512];
} tu_server_t;

/** Start `vigie serve --config @config` with its log in @dir/@tag.log; waits (up to 120 s) for
 * its port. 0 or -1. */
int tu_server_start(tu_server_t *s, const char *dir, const char *config, const char *tag);
/** Send @sig and wait: the exit status, or 128 + the signal that ended it; -2 (said on stderr)
 * when it has not stopped 300 s later, after which it is killed. */
int tu_server_stop(tu_server_t *s, int sig);

/** In a cmocka test: wait (polling every 20 ms) until @cond holds, failing with @what after
 * @seconds. Tests wait on conditions, never on a sleep. */
#define WAIT_FOR(cond, seconds, what)                                                              \
    do {                                                                                           \
        double t0_ = tu_now();                                                                     \
        while (!(cond)) {                                                                          \
            if (tu_now() - t0_ > (seconds))                                                        \
                fail_msg("waited %g s for %s", (double)(seconds), what);                           \
            usleep(20000);                                                                         \
        }                                                                                          \
    } while (0)

#endif
