/* Network inputs on loopback against real servers: the ffmpeg command line serving a clip over
 * HTTP (-listen 1) and rtsp-server-perl relaying an RTSP stream published by ffmpeg.
 *  - a server that dies mid-stream and comes back: vigie reconnects, time keeps increasing,
 *    the first frame after the gap is marked, nothing hangs;
 *  - a server that stalls (SIGSTOP): the stall is detected at input.timeout and reported;
 *  - a server that accepts connections and never answers: input.open_timeout bounds the open;
 *  - RTSP: frames arrive at the stream's pace, and the end of the stream is detected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vigie/vigie.h>

#include "synth.h"
#include "testutil.h"

extern char **environ;
static char dir[512], clip[600];

static int setup(void **state)
{
    synth_scene_t s;
    (void)state;
    if (synth_tmpdir(dir, sizeof(dir)) < 0) return -1;
    synth_init(&s, 160, 120, 25, 400, 5); /* 16 s */
    synth_add_walker(&s, 0, 10, 100, 16, 150, 90);
    snprintf(clip, sizeof(clip), "%s/clip.mkv", dir);
    return synth_write(&s, clip, "-c:v mpeg4 -q:v 4 -g 25");
}

static int teardown(void **state)
{
    (void)state;
    synth_rmdir(dir);
    return 0;
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static pid_t spawn(char *const argv[])
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static void reap(pid_t pid)
{
    if (pid <= 0) return;
    kill(pid, SIGCONT);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static pid_t http_server(int port)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live.mkv", port);
    char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "quiet",   "-re", "-i", clip, "-c",
                    "copy",   "-f",       "matroska",  "-listen", "1",   url,  NULL};
    return spawn(argv);
}

/* Waits until something listens on 127.0.0.1:@port (read from /proc/net/tcp, so that the
 * single-client ffmpeg server is not used up by a probe). */
static int wait_listen(int port, double seconds)
{
    char want[16], line[512];
    snprintf(want, sizeof(want), ":%04X ", port);
    for (double waited = 0; waited < seconds; waited += 0.05) {
        FILE *f = fopen("/proc/net/tcp", "r");
        int found = 0;
        while (f && fgets(line, sizeof(line), f)) {
            char *local = strchr(line, ':');
            if (local && strstr(local + 1, want) && strstr(line, " 0A ")) found = 1;
        }
        if (f) fclose(f);
        if (found) return 0;
        usleep(50000);
    }
    return -1;
}

static vg_source_params_t live_params(double timeout, int reconnect)
{
    vg_source_params_t p;
    memset(&p, 0, sizeof(p));
    vg_opt_defaults(&p, vg_source_option_group.options);
    p.timeout = timeout;
    p.open_timeout = 3;
    p.reconnect = reconnect;
    p.reconnect_delay = 0.1;
    p.reconnect_delay_max = 0.4;
    return p;
}

static void test_http_dies_and_comes_back(void **state)
{
    int port = free_port();
    char url[128];
    vg_source_params_t p = live_params(2, 30);
    vg_source_t *s;
    vg_frame_t *f;
    vg_source_stats_t st;
    double prev_t = -1;
    int64_t prev_index = -1;
    int marked = 0, after = 0;
    (void)state;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live.mkv", port);
    pid_t server = http_server(port);
    assert_true(server > 0);
    assert_int_equal(wait_listen(port, 10), 0);
    tu_log_capture();
    /* the server needs a moment to listen: the first attempts fail and are retried */
    assert_int_equal(vg_source_open(&s, url, &p, NULL), 0);
    for (int k = 0; k < 25; k++) {
        assert_int_equal(vg_source_read(s, &f), 0);
        assert_true(f->t > prev_t);
        prev_t = f->t;
        prev_index = f->index;
        vg_frame_unref(&f);
    }
    reap(server);               /* dies mid-stream */
    server = http_server(port); /* and comes back */
    double t0 = vg_clock_now(NULL);
    while (after < 25) {
        int ret = vg_source_read(s, &f);
        if (ret < 0) fail_msg("read failed: %s; log: %s", vg_strerror(ret), tu_log_text());
        assert_true(f->t > prev_t);
        assert_true(f->index > prev_index);
        if (f->discontinuity) marked = 1;
        if (marked) after++;
        prev_t = f->t;
        prev_index = f->index;
        vg_frame_unref(&f);
        assert_true(vg_clock_now(NULL) - t0 < 30);
    }
    vg_source_get_stats(s, &st);
    assert_int_equal(st.reconnects, 1);
    assert_non_null(strstr(tu_log_text(), "reconnected"));
    tu_log_release();
    vg_source_free(&s);
    reap(server);
    vg_opt_free(&p, vg_source_option_group.options);
}

static void test_http_stall(void **state)
{
    int port = free_port(), ret;
    char url[128];
    vg_source_params_t p = live_params(1, 1);
    vg_source_t *s;
    vg_frame_t *f;
    vg_source_stats_t st;
    (void)state;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live.mkv", port);
    pid_t server = http_server(port);
    assert_int_equal(wait_listen(port, 10), 0);
    tu_log_capture();
    assert_int_equal(vg_source_open(&s, url, &p, NULL), 0);
    for (int k = 0; k < 10; k++) {
        assert_int_equal(vg_source_read(s, &f), 0);
        vg_frame_unref(&f);
    }
    kill(server, SIGSTOP); /* the server freezes: no more data, connection still open */
    double t0 = vg_clock_now(NULL);
    while ((ret = vg_source_read(s, &f)) == 0) vg_frame_unref(&f);
    double took = vg_clock_now(NULL) - t0;
    assert_int_equal(ret, VG_ESTALLED);
    assert_true(took < 15);
    vg_source_get_stats(s, &st);
    assert_true(st.stalls >= 1);
    assert_non_null(strstr(tu_log_text(), "stalled"));
    assert_non_null(strstr(tu_log_text(), url));
    tu_log_release();
    vg_source_free(&s);
    reap(server);
    vg_opt_free(&p, vg_source_option_group.options);
}

static void test_silent_server(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char url[128];
    vg_source_params_t p = live_params(1, 0);
    vg_source_t *s = NULL;
    (void)state;
    /* accepts connections (the kernel's backlog) and never answers */
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/cam", ntohs(a.sin_port));
    p.open_timeout = 1;
    tu_log_capture();
    double t0 = vg_clock_now(NULL);
    assert_int_equal(vg_source_open(&s, url, &p, NULL), VG_EUNREACHABLE);
    double took = vg_clock_now(NULL) - t0;
    assert_true(took >= 0.9 && took < 6);
    if (!strstr(tu_log_text(), "no answer")) fail_msg("log: %s", tu_log_text());
    tu_log_release();
    close(fd);
    vg_opt_free(&p, vg_source_option_group.options);
}

static void test_rtsp(void **state)
{
    int cport = free_port(), sport = free_port(), ret, n = 0;
    char cp[16], spp[16], pub[128], url[128];
    vg_source_params_t p = live_params(1, 0);
    vg_source_t *s = NULL;
    vg_frame_t *f;
    double prev = -1;
    (void)state;
    if (tu_run("command -v rtsp-server-perl >/dev/null") != 0) {
        fprintf(stderr, "rtsp-server-perl is not installed (scripts/setup installs it): "
                        "skipping the RTSP test\n");
        skip();
    }
    snprintf(cp, sizeof(cp), "%d", cport);
    snprintf(spp, sizeof(spp), "%d", sport);
    char *srv[] = {"rtsp-server-perl",
                   "-c",
                   cp,
                   "-s",
                   spp,
                   "--client_listen_address",
                   "127.0.0.1",
                   "--source_listen_address",
                   "127.0.0.1",
                   NULL};
    pid_t server = spawn(srv);
    assert_int_equal(wait_listen(sport, 10), 0);
    assert_int_equal(wait_listen(cport, 10), 0);
    /* rtsp-server-perl relays RTP over UDP only (no TCP interleaving) */
    snprintf(pub, sizeof(pub), "rtsp://127.0.0.1:%d/cam1", sport);
    char *pa[] = {"ffmpeg", "-nostdin", "-loglevel", "quiet",           "-re", "-i", clip, "-c",
                  "copy",   "-f",       "rtsp",      "-rtsp_transport", "udp", pub,  NULL};
    pid_t publisher = spawn(pa);
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/cam1", cport);
    p.rtsp_tcp = 0;
    p.reconnect = 30;
    tu_log_capture();
    ret = vg_source_open(&s, url, &p, NULL);
    if (ret < 0) fail_msg("rtsp open: %s; log: %s", vg_strerror(ret), tu_log_text());
    double t0 = vg_clock_now(NULL);
    while (n < 50) {
        ret = vg_source_read(s, &f);
        if (ret < 0) fail_msg("rtsp read: %s; log: %s", vg_strerror(ret), tu_log_text());
        assert_true(f->t > prev);
        prev = f->t;
        n++;
        vg_frame_unref(&f);
    }
    double took = vg_clock_now(NULL) - t0;
    assert_true(took > 1.0); /* 50 frames at 25 fps arrive at the stream's pace */
    vg_source_free(&s);
    reap(publisher);
    reap(server);
    tu_log_release();
    vg_opt_free(&p, vg_source_option_group.options);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_dies_and_comes_back),
        cmocka_unit_test(test_http_stall),
        cmocka_unit_test(test_silent_server),
        cmocka_unit_test(test_rtsp),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
