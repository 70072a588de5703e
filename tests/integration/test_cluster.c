/*
 * vigie serve as a cluster on NATS JetStream (docs/scale.md), end to end: a three-server
 * nats-server cluster on loopback (Debian's, started here; the stream and bucket with three
 * replicas), a console node and two analysis nodes sharing four file cameras (vtest.avi looping
 * in real time, a forbidden zone over the walkway so that walkers raise intrusions).
 *
 * - the two analysis nodes end with two cameras each (the lease keys say which);
 * - kill -9 of one: the other runs all four within the lease (and a little: a round is a quarter
 *   lease); every record it had sent (its cursor) is in the console's store exactly once;
 * - one NATS server stopped: records go on arriving, nothing lost;
 * - the console killed (-9) and restarted: it catches up from the stream, nothing missing or
 *   doubled (each sent record once, each event start one event);
 * - faults: a node with the same name as a live one takes no camera and says why; the stream
 *   deleted underneath: made again, everything sent again, still each record once; NATS
 *   unreachable at the start: analysis goes on with the cameras held last, records wait in the
 *   local store, a message and a metric say so;
 * - the console's audit trail verifies.
 *
 * Waits are on conditions (a store's rows, a lease key), never on a sleep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define VTEST "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
#define NATSD "/usr/sbin/nats-server"
#define LEASE 6
#define NCAM  4
#define TOKEN "cluster-test-metrics-token"

static char dir[256];
static int base, have;
static pid_t nats_pid[4]; /* the cluster's three, and test_pictures_in_parts' own */
static tu_server_t con, a1, a2, extra;
static int config_cams = NCAM, config_replicas = 3; /* in the configs written */

/* ---- NATS ---- */

static int nats_port(int i)
{
    return base + i;
}

static void nats_start(int i)
{
    char name[16], port[16], cluster[64], sd[512], routes[256], log[512];
    snprintf(name, sizeof(name), "n%d", i);
    snprintf(port, sizeof(port), "%d", nats_port(i));
    snprintf(cluster, sizeof(cluster), "nats://127.0.0.1:%d", base + 10 + i);
    snprintf(sd, sizeof(sd), "%s/nats-%d", dir, i);
    snprintf(routes, sizeof(routes),
             "nats-route://127.0.0.1:%d,nats-route://127.0.0.1:%d,nats-route://127.0.0.1:%d",
             base + 10, base + 11, base + 12);
    snprintf(log, sizeof(log), "%s/nats-%d.log", dir, i);
    nats_pid[i] = fork();
    if (nats_pid[i] == 0) {
        if (!freopen(log, "a", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
        execl(NATSD, "nats-server", "-a", "127.0.0.1", "-p", port, "-n", name, "-js", "-sd", sd,
              "--cluster_name", "vigie-test", "--cluster", cluster, "-routes", routes,
              (char *)NULL);
        _exit(127);
    }
}

static void nats_stop(int i)
{
    int st;
    if (nats_pid[i] <= 0) return;
    kill(nats_pid[i], SIGTERM);
    waitpid(nats_pid[i], &st, 0);
    nats_pid[i] = 0;
}

static natsConnection *nc;
static jsCtx *js;

static int nats_connect(void)
{
    char urls[3][64];
    const char *u[3];
    natsOptions *o;
    for (int i = 0; i < 3; i++) {
        snprintf(urls[i], sizeof(urls[i]), "nats://127.0.0.1:%d", nats_port(i));
        u[i] = urls[i];
    }
    natsOptions_Create(&o);
    natsOptions_SetServers(o, u, 3);
    natsOptions_SetMaxReconnect(o, -1);
    natsOptions_SetReconnectWait(o, 200);
    natsStatus st = natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
    if (st != NATS_OK) return -1;
    return natsConnection_JetStream(&js, nc, NULL) == NATS_OK ? 0 : -1;
}

/* The node holding camera @cam (its lease key), into @node ("" when none). */
static void holder(const char *cam, char node[64])
{
    kvStore *kv = NULL;
    kvEntry *e = NULL;
    char key[64];
    node[0] = 0;
    if (js_KeyValue(&kv, js, "vigie_leases") != NATS_OK) return;
    snprintf(key, sizeof(key), "cam.%s", cam);
    if (kvStore_Get(&e, kv, key) == NATS_OK) {
        json_t *o = json_loads(kvEntry_ValueString(e), 0, NULL);
        const char *n = json_string_value(json_object_get(o, "node"));
        snprintf(node, 64, "%s", n ? n : "");
        json_decref(o);
        kvEntry_Destroy(e);
    }
    kvStore_Destroy(kv);
}

/* How many cameras @node holds. */
static int holds(const char *node)
{
    int n = 0;
    for (int i = 1; i <= NCAM; i++) {
        char cam[16], who[64];
        snprintf(cam, sizeof(cam), "c%d", i);
        holder(cam, who);
        n += !strcmp(who, node);
    }
    return n;
}

/* ---- the stores ---- */

static long long q1(const char *store, const char *sql)
{
    char db[512];
    sqlite3 *h;
    sqlite3_stmt *st;
    long long v = -1;
    snprintf(db, sizeof(db), "%s/%s/vigie.db", dir, store);
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    sqlite3_busy_timeout(h, 10000);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

static void store_id(const char *store, char out[40])
{
    char db[512];
    sqlite3 *h;
    sqlite3_stmt *st;
    out[0] = 0;
    snprintf(db, sizeof(db), "%s/%s/vigie.db", dir, store);
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return;
    sqlite3_busy_timeout(h, 10000);
    if (sqlite3_prepare_v2(h, "SELECT value FROM meta WHERE key = 'store_id'", -1, &st, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(out, 40, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
}

/* The node's cursor: every event record up to it is in the stream. */
static long long sent(const char *store)
{
    return q1(store, "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = "
                     "'cluster_sent'), 0)");
}

/* Event records of @store up to @upto: (start, update, end) records, and starts. */
static long long records(const char *store, long long upto, int starts)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM feed WHERE seq <= %lld AND phase IN (%s)",
             upto, starts ? "'start'" : "'start','update','end'");
    return q1(store, sql);
}

/* How many of @store's event records up to @upto the console holds (by message id). */
static long long at_console(const char *store, long long upto)
{
    char id[40], sql[512], db[512], cdb[512], att[700];
    sqlite3 *h;
    sqlite3_stmt *st;
    long long v = -1;
    store_id(store, id);
    snprintf(db, sizeof(db), "%s/%s/vigie.db", dir, store);
    snprintf(cdb, sizeof(cdb), "%s/con-store/vigie.db", dir);
    if (sqlite3_open_v2(cdb, &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    sqlite3_busy_timeout(h, 10000);
    snprintf(att, sizeof(att), "ATTACH 'file:%s?mode=ro' AS n", db);
    if (sqlite3_exec(h, att, NULL, NULL, NULL) == SQLITE_OK) {
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM n.feed f JOIN cluster_in c ON c.id = '%s.' || f.seq "
                 "WHERE f.seq <= %lld AND f.phase IN ('start','update','end')",
                 id, upto);
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(h);
    return v;
}

/* Every record @store has sent (its cursor now) is at the console. */
static int caught_up(const char *store)
{
    long long cur = sent(store);
    return cur > 0 && at_console(store, cur) == records(store, cur, 0);
}

/* Events of the console that came from @store (through its runs). */
static long long console_events_from(const char *store)
{
    char id[40], sql[512];
    store_id(store, id);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM events e JOIN cluster_runs r ON r.run = e.run WHERE r.origin "
             "LIKE '%s.%%'",
             id);
    return q1("con-store", sql);
}

/* ---- the nodes ---- */

static void write_config(const char *name, const char *node, const char *role, const char *servers)
{
    char path[512], text[8192], cams[4096] = "";
    const char *m = getenv("VG_MODELS");
    for (int i = 1; i <= config_cams; i++)
        snprintf(cams + strlen(cams), sizeof(cams) - strlen(cams),
                 "  - name: c%d\n    input: %s\n    loop: true\n    scene: c%d.yaml\n"
                 "    settings: {detector.models_dir: '%s', input.max_rate: 5}\n",
                 i, VTEST, i, m ? m : "models");
    snprintf(path, sizeof(path), "%s/%s.yaml", dir, name);
    snprintf(text, sizeof(text),
             "listen: 127.0.0.1:0\nstorage: %s-store\nmetrics: {token_file: metrics.token}\n"
             "cluster: {servers: [%s], node: %s, role: %s, lease: %d, replicas: %d}\n"
             "cameras:\n%s",
             name, servers, node, role, LEASE, config_replicas, cams);
    tu_write_file(path, text, strlen(text));
}

static int start(tu_server_t *v, const char *name)
{
    char cfg[512];
    snprintf(cfg, sizeof(cfg), "%s/%s.yaml", dir, name);
    return tu_server_start(v, dir, cfg, name);
}

/* GET /metrics of @v (the scrapers' token), into a newly allocated text (NULL on failure). */
static char *metrics(const tu_server_t *v)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)v->port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char req[256], *buf = calloc(1, 1 << 20);
    size_t n = 0;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || !buf || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0) close(fd);
        free(buf);
        return NULL;
    }
    snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n", TOKEN);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) n = 0;
    for (ssize_t r; n < (1 << 20) - 1 && (r = read(fd, buf + n, (1 << 20) - 1 - n)) > 0;)
        n += (size_t)r;
    close(fd);
    return buf;
}

/* The value of metric @name in @text (-1 when absent). */
static double metric(const char *text, const char *name)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\n%s ", name);
    const char *p = text ? strstr(text, pat) : NULL;
    return p ? atof(p + strlen(pat)) : -1;
}

static int log_has(const tu_server_t *v, const char *text)
{
    char *log = tu_read_file(v->log, NULL);
    int found = log && strstr(log, text);
    free(log);
    return found;
}

static void test_cluster(void **state)
{
    (void)state;
    if (!have) skip();
    char servers[256];
    snprintf(servers, sizeof(servers),
             "'nats://127.0.0.1:%d', 'nats://127.0.0.1:%d', 'nats://127.0.0.1:%d'", nats_port(0),
             nats_port(1), nats_port(2));
    write_config("con", "con", "console", servers);
    write_config("a1", "a1", "analysis", servers);
    write_config("a2", "a2", "analysis", servers);
    for (int i = 0; i < 3; i++) nats_start(i);
    WAIT_FOR(nats_connect() == 0, 60, "the NATS cluster to take a client");

    /* two nodes, two cameras each */
    assert_int_equal(start(&con, "con"), 0);
    assert_int_equal(start(&a1, "a1"), 0);
    assert_int_equal(start(&a2, "a2"), 0);
    WAIT_FOR(holds("a1") == 2 && holds("a2") == 2, 180, "two cameras on each analysis node");
    WAIT_FOR(q1("con-store", "SELECT count(DISTINCT camera) FROM events") == NCAM, 300,
             "events of the four cameras in the console's store");
    print_message("balanced: a1 and a2 hold 2 cameras each; console has %lld events\n",
                  q1("con-store", "SELECT count(*) FROM events"));

    /* kill -9 one analysis node: the other takes its cameras within the lease */
    WAIT_FOR(sent("a1-store") >= 10, 180, "a1 to have sent records");
    assert_int_equal(tu_server_stop(&a1, SIGKILL), 128 + SIGKILL);
    double killed = tu_now();
    WAIT_FOR(holds("a2") == NCAM, 60, "a2 to take a1's cameras");
    double took = tu_now() - killed;
    print_message("a1 killed: a2 holds all %d cameras after %.1f s (lease %d s)\n", NCAM, took,
                  LEASE);
    assert_true(took <= 2.0 * LEASE + 2);
    long long cur1 = sent("a1-store");
    long long want1 = records("a1-store", cur1, 0);
    WAIT_FOR(at_console("a1-store", cur1) == want1, 120, "a1's sent records at the console");
    assert_int_equal(console_events_from("a1-store"), records("a1-store", cur1, 1));
    print_message("a1 had sent %lld records (%lld events): all at the console, once\n", want1,
                  records("a1-store", cur1, 1));

    /* one NATS server stopped: nothing lost */
    nats_stop(1);
    long long before = q1("con-store", "SELECT count(*) FROM cluster_in");
    WAIT_FOR(q1("con-store", "SELECT count(*) FROM cluster_in") > before + 10, 180,
             "records arriving with a NATS server down");
    long long cur2 = sent("a2-store");
    WAIT_FOR(caught_up("a2-store"), 120, "a2's sent records at the console, one NATS server down");
    print_message("NATS server n1 down: %lld records of a2 sent, all at the console\n",
                  records("a2-store", cur2, 0));

    /* the console killed and restarted: it catches up */
    assert_int_equal(tu_server_stop(&con, SIGKILL), 128 + SIGKILL);
    long long down_at = sent("a2-store");
    WAIT_FOR(sent("a2-store") > down_at + 10, 120, "a2 to send while the console is away");
    /* a fixture decided on the console (an operator's "fixture" on an alert) while it was
     * away: it reaches the node that runs the camera, which restarts the camera with it */
    {
        char db[512], *e = NULL;
        sqlite3 *h;
        snprintf(db, sizeof(db), "%s/con-store/vigie.db", dir);
        assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
        sqlite3_busy_timeout(h, 10000);
        assert_int_equal(sqlite3_exec(h,
                                      "INSERT INTO fixtures(camera, x, y, w, h, event, user, at) "
                                      "VALUES ('c3', 300, 400, 40, 30, 1, 'sam', '2026-12-07')",
                                      NULL, NULL, &e),
                         SQLITE_OK);
        /* and a scene saved through the console for c2 (another forbidden zone) */
        assert_int_equal(sqlite3_exec(h,
                                      "INSERT INTO scenes(camera, yaml, user, at) VALUES ('c2', "
                                      "'camera: c2\nzones:\n  - name: lawn\n    kind: "
                                      "forbidden\n    polygon: [[0, 300], [200, 300], [200, 576], "
                                      "[0, 576]]\n', 'sam', '2026-12-07')",
                                      NULL, NULL, &e),
                         SQLITE_OK);
        sqlite3_close(h);
    }
    assert_int_equal(start(&con, "con"), 0);
    WAIT_FOR(q1("a2-store", "SELECT count(*) FROM fixtures WHERE camera = 'c3' AND x = 300") == 1,
             120, "the console's fixture at the analysis node");
    WAIT_FOR(log_has(&a2, "camera 'c3': 1 fixture decided on the console"), 30, "c3 restarted");
    WAIT_FOR(q1("a2-store", "SELECT count(*) FROM scenes WHERE camera = 'c2' AND yaml LIKE "
                            "'%lawn%'") == 1,
             60, "the console's scene at the analysis node");
    WAIT_FOR(log_has(&a2, "camera 'c2': its scene was changed on the console"), 30,
             "c2 restarted with it");
    /* a still of a camera, asked of the node that runs it (as the console's camera page does) */
    {
        natsMsg *rep = NULL;
        char subj[64];
        snprintf(subj, sizeof(subj), "vigie.still.a2.c1");
        WAIT_FOR((natsMsg_Destroy(rep), rep = NULL,
                  natsConnection_Request(&rep, nc, subj, NULL, 0, 3000) == NATS_OK &&
                      natsMsg_GetDataLength(rep) > 1000),
                 60, "a still of c1 from a2");
        const unsigned char *d = (const unsigned char *)natsMsg_GetData(rep);
        assert_true(d[0] == 0xff && d[1] == 0xd8); /* a JPEG */
        print_message("still of c1 from a2: %d bytes\n", natsMsg_GetDataLength(rep));
        natsMsg_Destroy(rep);
    }
    cur2 = sent("a2-store");
    WAIT_FOR(at_console("a2-store", cur2) == records("a2-store", cur2, 0), 180,
             "the console to catch up");
    print_message("console restarted: caught up, %lld records of a2 (sent while away: %lld)\n",
                  records("a2-store", cur2, 0), cur2 - down_at);

    /* the NATS server back (a stream of three replicas needs three servers to be made) */
    nats_start(1);

    /* the stream deleted underneath: made again, sent again, kept once */
    jsErrCode je = 0;
    long long before_delete = q1("a2-store", "SELECT max(seq) FROM feed");
    assert_int_equal(js_DeleteStream(js, "VIGIE_EVENTS", NULL, &je), NATS_OK);
    WAIT_FOR(log_has(&a2, "sends its records again"), 120, "a2 to see the new stream");
    WAIT_FOR(sent("a2-store") >= before_delete && caught_up("a2-store"), 180,
             "a2's records sent again, at the console once");

    /* a node with a live node's name takes nothing */
    write_config("dup", "a2", "analysis", servers);
    assert_int_equal(start(&extra, "dup"), 0);
    WAIT_FOR(log_has(&extra, "another node named 'a2' is alive"), 60, "the name clash said");
    assert_int_equal(q1("dup-store", "SELECT count(*) FROM runs"), 0);
    assert_int_equal(tu_server_stop(&extra, SIGTERM), 0);

    /* everything a2 recorded reaches the console once a2 stops cleanly */
    assert_int_equal(tu_server_stop(&a2, SIGTERM), 0);
    long long head2 = q1("a2-store", "SELECT max(seq) FROM feed");
    assert_int_equal(sent("a2-store"), head2);
    WAIT_FOR(at_console("a2-store", head2) == records("a2-store", head2, 0), 120,
             "all of a2's records at the console");
    assert_int_equal(console_events_from("a2-store"), records("a2-store", head2, 1));
    /* the count series (people per zone) too */
    long long csent = q1("a2-store", "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta "
                                     "WHERE key = 'cluster_counts_sent'), 0)");
    char sql[512], id2[40];
    store_id("a2-store", id2);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM counts c JOIN cluster_runs r ON r.run = c.run WHERE r.origin "
             "LIKE '%s.%%'",
             id2);
    assert_true(csent > 0);
    WAIT_FOR(q1("con-store", sql) ==
                 q1("a2-store", "SELECT count(*) FROM counts WHERE id <= (SELECT CAST(value AS "
                                "INTEGER) FROM meta WHERE key = 'cluster_counts_sent')"),
             60, "a2's count samples at the console");
    print_message("count samples: %lld of a2 at the console\n", q1("con-store", sql));
    long long total = q1("con-store", "SELECT count(*) FROM events");
    assert_int_equal(total, console_events_from("a1-store") + console_events_from("a2-store"));
    print_message("a2 stopped: %lld records, %lld events, each once at the console (%lld events "
                  "in all)\n",
                  records("a2-store", head2, 0), records("a2-store", head2, 1), total);

    /* NATS unreachable at the start: a2 analyses the cameras it held, records wait */
    write_config("a2", "a2", "analysis", "'nats://127.0.0.1:1'");
    assert_int_equal(start(&a2, "a2"), 0);
    WAIT_FOR(log_has(&a2, "NATS unreachable since the start"), 60, "the outage said");
    WAIT_FOR(q1("a2-store", "SELECT max(seq) FROM feed") > head2 + 3, 180,
             "a2 analysing without NATS");
    assert_true(log_has(&a2, "this node held last (c1, c2, c3, c4)"));
    assert_true(sent("a2-store") <= head2);
    {
        char *m = NULL;
        WAIT_FOR((free(m), m = metrics(&a2), metric(m, "vigie_cluster_waiting") > 0), 30,
                 "vigie_cluster_waiting to count the records waiting");
        assert_true(metric(m, "vigie_cluster_connected") == 0);
        print_message("metrics: vigie_cluster_waiting %g, connected %g\n",
                      metric(m, "vigie_cluster_waiting"), metric(m, "vigie_cluster_connected"));
        free(m);
    }
    assert_int_equal(tu_server_stop(&a2, SIGTERM), 0);
    print_message("NATS unreachable at the start: a2 analysed its 4 cameras, %lld records wait\n",
                  q1("a2-store", "SELECT max(seq) FROM feed") - sent("a2-store"));

    /* the console's audit trail verifies */
    assert_int_equal(tu_server_stop(&con, SIGTERM), 0);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' audit verify --config '%s/con.yaml' > '%s/verify.txt' 2>&1",
             tu_vigie(), dir, dir);
    assert_int_equal(tu_run(cmd), 0);
}

/* Pictures larger than the servers' max_payload (16 kB here) travel in parts and arrive whole:
 * the console's evidence file is the node's, byte for byte. */
static void test_pictures_in_parts(void **state)
{
    (void)state;
    if (!have) skip();
    char conf[512], text[1024], sd[512], log[512], servers[128];
    int port = base + 20;
    snprintf(sd, sizeof(sd), "%s/nats-small", dir);
    snprintf(conf, sizeof(conf), "%s/nats-small.conf", dir);
    snprintf(text, sizeof(text),
             "listen: 127.0.0.1:%d\nmax_payload: 16384\njetstream {store_dir: '%s'}\n", port, sd);
    tu_write_file(conf, text, strlen(text));
    snprintf(log, sizeof(log), "%s/nats-small.log", dir);
    nats_pid[3] = fork(); /* (its own slot: the cluster's three stay until the teardown) */
    if (nats_pid[3] == 0) {
        if (!freopen(log, "a", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
        execl(NATSD, "nats-server", "-c", conf, (char *)NULL);
        _exit(127);
    }
    snprintf(servers, sizeof(servers), "'nats://127.0.0.1:%d'", port);
    config_cams = 1; /* one camera is enough, one server: one replica */
    config_replicas = 1;
    write_config("pcon", "pcon", "console", servers);
    write_config("pa", "pa", "analysis", servers);
    assert_int_equal(start(&con, "pcon"), 0);
    assert_int_equal(start(&a1, "pa"), 0);
    WAIT_FOR(q1("pcon-store", "SELECT count(*) FROM evidence e JOIN events v ON v.id = e.event") >=
                 2,
             300, "events with their pictures at the console");
    /* each picture at the console is the node's */
    char db[512], *e = NULL;
    sqlite3 *h;
    sqlite3_stmt *st;
    snprintf(db, sizeof(db), "%s/pcon-store/vigie.db", dir);
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT name, bytes FROM evidence", -1, &st, NULL),
                     SQLITE_OK);
    int n = 0;
    long long biggest = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char p1[700], p2[700];
        const char *name = (const char *)sqlite3_column_text(st, 0);
        snprintf(p1, sizeof(p1), "%s/pcon-store/evidence/%s", dir, name);
        snprintf(p2, sizeof(p2), "%s/pa-store/evidence/%s", dir, name);
        size_t l1 = 0, l2 = 0;
        char *d1 = tu_read_file(p1, &l1), *d2 = tu_read_file(p2, &l2);
        assert_non_null(d1);
        assert_non_null(d2);
        assert_true(l1 == l2 && memcmp(d1, d2, l1) == 0);
        assert_int_equal((long long)l1, sqlite3_column_int64(st, 1));
        biggest = (long long)l1 > biggest ? (long long)l1 : biggest;
        free(d1);
        free(d2);
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    (void)e;
    assert_true(n >= 2);
    assert_true(biggest > 16384); /* (it did need parts) */
    print_message("pictures in parts: %d at the console, byte for byte the node's (largest %lld "
                  "bytes, max_payload 16384)\n",
                  n, biggest);
    /* no part left behind once the node has stopped and the console has read everything (a
     * picture still arriving has its parts on disk meanwhile) */
    char cmd[700];
    assert_int_equal(tu_server_stop(&a1, SIGTERM), 0);
    snprintf(cmd, sizeof(cmd), "ls '%s/pcon-store/evidence' | grep -c part > /dev/null", dir);
    WAIT_FOR(tu_run(cmd) != 0, 120, "the console to have no picture part left");
    tu_server_stop(&con, SIGTERM);
    nats_stop(3);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vigie-cluster-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    base = 30000 + (int)(getpid() % 2000) * 16;
    have = access(VTEST, R_OK) == 0 && access(NATSD, X_OK) == 0;
    {
        char path[512];
        snprintf(path, sizeof(path), "%s/metrics.token", dir);
        tu_write_file(path, TOKEN "\n", strlen(TOKEN) + 1);
    }
    if (!have) fprintf(stderr, "vtest.avi or %s absent: skipping the cluster test\n", NATSD);
    for (int i = 1; i <= NCAM; i++) {
        char path[512], text[512];
        snprintf(path, sizeof(path), "%s/c%d.yaml", dir, i);
        snprintf(text, sizeof(text),
                 "camera: c%d\nzones:\n  - name: walkway\n    kind: forbidden\n"
                 "    polygon: [[200, 150], [568, 150], [568, 576], [200, 576]]\n",
                 i);
        tu_write_file(path, text, strlen(text));
    }
    return 0;
}

/* After each test, whatever happened: its nodes and NATS servers stopped. */
static int stop_all(void **state)
{
    (void)state;
    tu_server_t *all[] = {&con, &a1, &a2, &extra};
    for (int i = 0; i < 4; i++)
        if (all[i]->pid > 0) tu_server_stop(all[i], SIGKILL);
    if (js) jsCtx_Destroy(js);
    if (nc) natsConnection_Destroy(nc);
    js = NULL, nc = NULL;
    for (int i = 0; i < 4; i++) nats_stop(i);
    return 0;
}

static int teardown(void **state)
{
    char cmd[512];
    stop_all(state);
    if (!getenv("VG_KEEP")) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        tu_run(cmd);
    } else {
        fprintf(stderr, "kept %s\n", dir);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cluster, stop_all),
        cmocka_unit_test_teardown(test_pictures_in_parts, stop_all),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
