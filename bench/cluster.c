/*
 * bench-cluster: how many event records a second one analysis node puts into a console node's
 * store through NATS JetStream (docs/scale.md), against the baseline of the same records written
 * by a single machine's store writer (vg_store_event_put and the picture's file, fsync'd); and the
 * rate of the store's hash-chained audit trail (operators' decisions) in the same store.
 *
 * The analysis node's store is filled first with N events (a start with its picture and an end
 * each); then nats-server (1 or 3 servers, the stream with as many replicas), a console node and
 * the analysis node (no camera: it only sends its store's records) are started, and the console's
 * store is watched until it holds all 2N records. Reported: records a second from the first
 * arrival to the last, and the ratio to the local writer. The real binaries, on loopback.
 *
 *   bench-cluster [--events N] [--servers 1|3] [--picture BYTES]
 * Needs nats-server (Debian's) and `vigie` (VIGIE_BIN, default ./vigie beside this program).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vigie/event.h>
#include <vigie/store.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int write_pic(const char *path, const unsigned char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0) return -1;
    int ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
    close(fd);
    return ok ? 0 : -1;
}

/* N events (start with picture, end) into the store at @storage; returns seconds taken. */
static double fill(const char *storage, int n, const unsigned char *pic, size_t npic)
{
    char path[1024], err[512], wall[32];
    vg_store_t *s = NULL;
    snprintf(path, sizeof(path), "%s/evidence", storage);
    mkdir(storage, 0750);
    mkdir(path, 0750);
    snprintf(path, sizeof(path), "%s/vigie.db", storage);
    if (vg_store_open(&s, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench-cluster: %s\n", err);
        exit(1);
    }
    double t0 = now();
    int64_t run = vg_store_run_start(s, "bench");
    for (int i = 0; i < n; i++) {
        vg_event_t ev;
        int64_t seq;
        char name[64];
        vg_event_init(&ev, VG_EVENT_INTRUSION, VG_PHASE_START);
        vg_event_set_camera(&ev, "bench");
        ev.event_id = i + 1;
        ev.t = i * 0.1;
        ev.score = 0.9;
        vg_event_set_box(&ev, 10, 20, 30, 60);
        vg_event_detail_str(&ev, "zone_kind", "forbidden");
        snprintf(name, sizeof(name), "%032x.jpg", i + 1);
        snprintf(path, sizeof(path), "%s/evidence/%s", storage, name);
        vg_store_now(wall);
        if (write_pic(path, pic, npic) < 0 ||
            vg_store_event_put(s, run, &ev, wall, name, (int64_t)npic, &seq) < 0) {
            fprintf(stderr, "bench-cluster: cannot write %s\n", storage);
            exit(1);
        }
        ev.phase = VG_PHASE_END;
        ev.t += 2;
        vg_store_event_put(s, run, &ev, wall, NULL, 0, &seq);
    }
    double t = now() - t0;
    vg_store_close(&s);
    return t;
}

/* The audit trail's rate in the same store: @n hash-chained rows (an operator's decision each);
 * returns seconds taken. */
static double audit_rows(const char *storage, int n)
{
    char path[1100], err[512];
    vg_store_t *s = NULL;
    snprintf(path, sizeof(path), "%s/vigie.db", storage);
    if (vg_store_open(&s, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench-cluster: %s\n", err);
        exit(1);
    }
    double t0 = now();
    for (int i = 0; i < n; i++) {
        char target[32];
        snprintf(target, sizeof(target), "event/%d", i + 1);
        if (vg_store_audit(s, "olga", "event_decision", target,
                           "{\"qualification\":\"confirmed\"}") < 0) {
            fprintf(stderr, "bench-cluster: cannot write the audit trail\n");
            exit(1);
        }
    }
    double t = now() - t0;
    vg_store_close(&s);
    return t;
}

static long long count(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    sqlite3_busy_timeout(h, 5000);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

static pid_t spawn(const char *log, char *const argv[])
{
    pid_t p = fork();
    if (p == 0) {
        if (!freopen(log, "a", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    return p;
}

static void stop(pid_t p)
{
    int st;
    if (p <= 0) return;
    kill(p, SIGTERM);
    waitpid(p, &st, 0);
}

int main(int argc, char **argv)
{
    int n = 2000, servers = 1;
    size_t npic = 60000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--servers") && i + 1 < argc)
            servers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--picture") && i + 1 < argc)
            npic = (size_t)atol(argv[++i]);
        else {
            fprintf(stderr, "usage: bench-cluster [--events N] [--servers 1|3] [--picture "
                            "BYTES]\n");
            return 2;
        }
    }
    if (n < 1 || (servers != 1 && servers != 3)) return 2;
    const char *natsd = "/usr/sbin/nats-server";
    char vigie[1024];
    if (getenv("VIGIE_BIN")) {
        snprintf(vigie, sizeof(vigie), "%s", getenv("VIGIE_BIN"));
    } else {
        char self[900] = "";
        ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (l > 0) self[l] = 0;
        char *slash = strrchr(self, '/');
        if (slash) *slash = 0;
        snprintf(vigie, sizeof(vigie), "%s/../vigie", self);
    }
    if (access(natsd, X_OK) != 0 || access(vigie, X_OK) != 0) {
        fprintf(stderr, "bench-cluster: needs %s and %s (scripts/setup; VIGIE_BIN)\n", natsd,
                vigie);
        return 1;
    }
    char dir[] = "/tmp/vigie-bench-cluster-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    unsigned char *pic = malloc(npic);
    for (size_t i = 0; i < npic; i++) pic[i] = (unsigned char)(i * 2654435761u >> 24);
    pic[0] = 0xff, pic[1] = 0xd8;

    char path[1024], path2[1024];
    /* the baseline: a single machine's writer, the same records */
    snprintf(path, sizeof(path), "%s/local", dir);
    double t_local = fill(path, n, pic, npic);
    double t_audit = audit_rows(path, n);
    /* the analysis node's store */
    snprintf(path, sizeof(path), "%s/a-store", dir);
    fill(path, n, pic, npic);

    int base = 31000 + (int)(getpid() % 1000) * 8;
    pid_t nats[3] = {0};
    char urls[256] = "";
    for (int i = 0; i < servers; i++) {
        char port[16], name[16], sd[1024], log[1024], cl[64], routes[256];
        snprintf(port, sizeof(port), "%d", base + i);
        snprintf(name, sizeof(name), "n%d", i);
        snprintf(sd, sizeof(sd), "%s/nats-%d", dir, i);
        snprintf(log, sizeof(log), "%s/nats-%d.log", dir, i);
        snprintf(cl, sizeof(cl), "nats://127.0.0.1:%d", base + 4 + i);
        snprintf(routes, sizeof(routes),
                 "nats-route://127.0.0.1:%d,nats-route://127.0.0.1:%d,nats-route://127.0.0.1:%d",
                 base + 4, base + 5, base + 6);
        char *a1[] = {(char *)natsd, "-a",  "127.0.0.1", "-p", port, "-n",
                      name,          "-js", "-sd",       sd,   NULL};
        char *a3[] = {
            (char *)natsd,    "-a",    "127.0.0.1", "-p", port,      "-n",   name, "-js", "-sd", sd,
            "--cluster_name", "bench", "--cluster", cl,   "-routes", routes, NULL};
        nats[i] = spawn(log, servers == 1 ? a1 : a3);
        snprintf(urls + strlen(urls), sizeof(urls) - strlen(urls), "%s'nats://127.0.0.1:%d'",
                 i ? ", " : "", base + i);
    }
    const char *roles[2] = {"console", "analysis"}, *names[2] = {"con", "a"};
    for (int i = 0; i < 2; i++) {
        FILE *f;
        snprintf(path, sizeof(path), "%s/%s.yaml", dir, names[i]);
        if (!(f = fopen(path, "w"))) return 1;
        fprintf(f,
                "listen: 127.0.0.1:0\nstorage: %s-store\n"
                "cluster: {servers: [%s], node: %s, role: %s, replicas: %d}\n",
                names[i], urls, names[i], roles[i], servers);
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/con.yaml", dir);
    snprintf(path2, sizeof(path2), "%s/con.log", dir);
    char *ac[] = {vigie, "serve", "--config", path, NULL};
    pid_t con = spawn(path2, ac);
    char cdb[1024];
    snprintf(cdb, sizeof(cdb), "%s/con-store/vigie.db", dir);
    /* the console ready: the stream exists (it made it) */
    for (double t0 = now(); now() - t0 < 60;) {
        char *txt = NULL;
        size_t len = 0;
        FILE *f = fopen(path2, "r");
        if (f) {
            txt = calloc(1, 1 << 20);
            len = fread(txt, 1, (1 << 20) - 1, f);
            fclose(f);
        }
        int ok = txt && len && strstr(txt, "reading stream");
        free(txt);
        if (ok) break;
        usleep(20000);
    }
    snprintf(path, sizeof(path), "%s/a.yaml", dir);
    char alog[1024];
    snprintf(alog, sizeof(alog), "%s/a.log", dir);
    char *aa[] = {vigie, "serve", "--config", path, NULL};
    double t_start = now(), t_first = 0, t_last = 0;
    pid_t an = spawn(alog, aa);
    long long want = 2LL * n, got = 0;
    fprintf(stderr,
            "bench-cluster: %d events (%lld records, pictures of %zu bytes), %d NATS "
            "server%s\n",
            n, want, npic, servers, servers > 1 ? "s" : "");
    double last_print = now();
    while (now() - t_start < 600) {
        got = count(cdb, "SELECT count(*) FROM cluster_in");
        if (got > 0 && !t_first) t_first = now();
        if (got >= want) {
            t_last = now();
            break;
        }
        if (now() - last_print > 2) {
            fprintf(stderr, "  %lld / %lld records at the console\n", got, want);
            last_print = now();
        }
        usleep(10000);
    }
    stop(an);
    stop(con);
    for (int i = 0; i < servers; i++) stop(nats[i]);
    if (!t_last) {
        fprintf(stderr, "bench-cluster: only %lld of %lld records arrived (logs in %s)\n", got,
                want, dir);
        return 1;
    }
    long long events = count(cdb, "SELECT count(*) FROM events");
    double r_local = want / t_local, r_cluster = (want - 1) / (t_last - t_first);
    printf("| path | records | seconds | records/s | events/s |\n|---|---|---|---|---|\n");
    printf("| single machine: store writer (baseline) | %lld | %.2f | %.0f | %.0f |\n", want,
           t_local, r_local, r_local / 2);
    printf("| analysis node -> JetStream (%d server%s, R%d) -> console store | %lld | %.2f | %.0f "
           "| %.0f |\n",
           servers, servers > 1 ? "s" : "", servers, want, t_last - t_first, r_cluster,
           r_cluster / 2);
    printf("| single machine: audit trail rows (hash-chained, one per decision) | %d | %.2f | %.0f "
           "| |\n",
           n, t_audit, n / t_audit);
    printf("ratio cluster / baseline: %.2f (first record at the console %.2f s after the node "
           "started; %lld events in the console's store)\n",
           r_cluster / r_local, t_first - t_start, events);
    if (events != n) {
        fprintf(stderr, "bench-cluster: %lld events at the console, %d sent\n", events, n);
        return 1;
    }
    if (!getenv("VG_KEEP")) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0) return 1;
    }
    free(pic);
    return 0;
}
