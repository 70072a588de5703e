/*
 * vigie serve's MQTT publisher against a real broker (Debian's mosquitto, started by the test on
 * loopback) and a real subscriber (libmosquitto, a persistent session with QoS 1, so that the
 * broker keeps what arrives while it is away): every feed record of the store (event starts,
 * updates and ends) reaches the subscriber in order with the store's ids; with the broker stopped
 * mid-run and restarted, nothing is lost and a duplicate carries the same seq and id; with
 * vigie killed (-9) while messages wait, they are delivered after its restart; a broker that
 * refuses the credentials leaves the cameras running and says why; TLS to the broker with a CA
 * generated here. The input is vtest.avi looping, analysed as fast as the machine goes.
 *
 * Waits are on conditions (a message seen, the store's feed grown), never on a sleep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define VTEST  "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
#define BROKER "/usr/sbin/mosquitto"

static char dir[256];
static int port, have;

/* ---- the broker ---- */

static pid_t broker_pid;
static char tls_ca[512]; /* set: the broker speaks TLS with certificates signed by this CA */

static void tls_client(struct mosquitto *m)
{
    if (tls_ca[0]) mosquitto_tls_set(m, tls_ca, NULL, NULL, NULL, NULL);
}

static int broker_start(const char *extra)
{
    char conf[512], text[2048], log[512];
    snprintf(conf, sizeof(conf), "%s/broker.conf", dir);
    snprintf(text, sizeof(text),
             /* (user root: as root, mosquitto would otherwise become "mosquitto" and could not
              * write its persistent sessions in this folder) */
             "listener %d 127.0.0.1\nuser root\npersistence true\npersistence_location %s/\n"
             "max_queued_messages 100000\n%s\n",
             port, dir, extra ? extra : "allow_anonymous true\n");
    tu_write_file(conf, text, strlen(text));
    snprintf(log, sizeof(log), "%s/broker.log", dir);
    broker_pid = fork();
    if (broker_pid == 0) {
        if (!freopen(log, "a", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
        execl(BROKER, "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    /* listening: a client connects */
    for (double t0 = tu_now(); tu_now() - t0 < 30;) {
        struct mosquitto *p = mosquitto_new(NULL, true, NULL);
        tls_client(p);
        if (tls_ca[0]) mosquitto_tls_insecure_set(p, true); /* (a probe: even an expired one) */
        int rc = mosquitto_connect(p, "127.0.0.1", port, 5);
        mosquitto_destroy(p);
        if (rc == MOSQ_ERR_SUCCESS) return 0;
        usleep(50000);
    }
    return -1;
}

static void broker_stop(void)
{
    int st;
    if (broker_pid <= 0) return;
    kill(broker_pid, SIGTERM); /* it saves its persistent sessions */
    waitpid(broker_pid, &st, 0);
    broker_pid = 0;
}

/* ---- the subscriber ---- */

typedef struct msg {
    char topic[128];
    char *payload;
    long long seq; /* of an events message (else 0) */
} msg_t;

static pthread_mutex_t mlock = PTHREAD_MUTEX_INITIALIZER;
static msg_t *msgs;
static int nmsg, capmsg;
static struct mosquitto *sub;

static void sub_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)obj;
    if (rc == 0) mosquitto_subscribe(m, NULL, "vigie/#", 1);
}

static void sub_message(struct mosquitto *m, void *obj, const struct mosquitto_message *mm)
{
    (void)m, (void)obj;
    pthread_mutex_lock(&mlock);
    if (nmsg == capmsg) {
        capmsg = capmsg ? capmsg * 2 : 1024;
        msgs = realloc(msgs, (size_t)capmsg * sizeof(*msgs));
    }
    msg_t *x = &msgs[nmsg];
    snprintf(x->topic, sizeof(x->topic), "%s", mm->topic);
    x->payload = strndup(mm->payload ? (const char *)mm->payload : "", (size_t)mm->payloadlen);
    x->seq = 0;
    pthread_mutex_unlock(&mlock);
    if (!strcmp(x->topic, "vigie/events")) { /* (parsed outside the lock) */
        json_t *o = json_loads(x->payload, 0, NULL);
        x->seq = (long long)json_integer_value(json_object_get(o, "seq"));
        json_decref(o);
    }
    pthread_mutex_lock(&mlock);
    nmsg++;
    pthread_mutex_unlock(&mlock);
}

static void sub_start(const char *id)
{
    sub = mosquitto_new(id, false, NULL); /* a persistent session: the broker keeps messages */
    mosquitto_connect_callback_set(sub, sub_connect);
    mosquitto_message_callback_set(sub, sub_message);
    mosquitto_reconnect_delay_set(sub, 1, 1, false);
    tls_client(sub);
    mosquitto_connect_async(sub, "127.0.0.1", port, 10);
    mosquitto_loop_start(sub);
}

static void sub_stop(void)
{
    mosquitto_disconnect(sub);
    mosquitto_loop_stop(sub, false); /* (not cancelled: it ends once disconnected) */
    mosquitto_destroy(sub);
    sub = NULL;
    pthread_mutex_lock(&mlock);
    for (int i = 0; i < nmsg; i++) free(msgs[i].payload);
    nmsg = 0;
    pthread_mutex_unlock(&mlock);
}

/* The highest seq among the events messages received, and how many there were. */
static long long max_seq(int *count)
{
    long long best = 0;
    int n = 0;
    pthread_mutex_lock(&mlock);
    for (int i = 0; i < nmsg; i++) {
        if (strcmp(msgs[i].topic, "vigie/events")) continue;
        best = msgs[i].seq > best ? msgs[i].seq : best;
        n++;
    }
    pthread_mutex_unlock(&mlock);
    if (count) *count = n;
    return best;
}

static int seen(const char *topic, const char *payload)
{
    int found = 0;
    pthread_mutex_lock(&mlock);
    for (int i = 0; i < nmsg && !found; i++)
        found = !strcmp(msgs[i].topic, topic) && (!payload || !strcmp(msgs[i].payload, payload));
    pthread_mutex_unlock(&mlock);
    return found;
}

/* ---- the store ---- */

static long long feed_head(const char *db)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long long head = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    sqlite3_busy_timeout(h, 5000);
    if (sqlite3_prepare_v2(h, "SELECT coalesce(max(seq), 0) FROM feed", -1, &st, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) head = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return head;
}

/* Every feed record of @db with seq in (@from, @to] was received, in order of first arrival, with
 * the store's event id; duplicates equal their first copy. Returns the duplicates. */
static int check_delivery(const char *db, long long from, long long to)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    long long n = to - from;
    char **first = calloc((size_t)n + 1, sizeof(char *));
    long long last = from;
    int dups = 0;
    pthread_mutex_lock(&mlock);
    for (int i = 0; i < nmsg; i++) {
        if (strcmp(msgs[i].topic, "vigie/events")) continue;
        long long s = msgs[i].seq;
        if (s <= from || s > to) continue;
        if (first[s - from]) { /* a duplicate: the same message */
            assert_string_equal(first[s - from], msgs[i].payload);
            dups++;
            continue;
        }
        if (s != last + 1) fail_msg("seq %lld arrived first after %lld: out of order", s, last);
        last = s;
        first[s - from] = msgs[i].payload;
    }
    pthread_mutex_unlock(&mlock);
    assert_int_equal(sqlite3_prepare_v2(h,
                                        "SELECT seq, event, phase FROM feed WHERE seq > ? AND"
                                        " seq <= ? ORDER BY seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    long long rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        long long s = sqlite3_column_int64(st, 0);
        if (!first[s - from]) fail_msg("feed record %lld never arrived", s);
        json_t *o = json_loads(first[s - from], 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(o, "id")), sqlite3_column_int64(st, 1));
        assert_string_equal(json_string_value(json_object_get(o, "phase")),
                            (const char *)sqlite3_column_text(st, 2));
        json_decref(o);
        rows++;
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    assert_int_equal(rows, n);
    free(first);
    return dups;
}

/* ---- vigie ---- */

static tu_server_t *running; /* the test's vigie, stopped after it whatever happens */

static void write_config(const char *name, const char *mqtt_extra)
{
    char path[512], text[4096];
    const char *m = getenv("VG_MODELS");
    snprintf(path, sizeof(path), "%s/%s.yaml", dir, name);
    snprintf(text, sizeof(text),
             "listen: 127.0.0.1:0\nstorage: %s-store\n"
             "mqtt: {host: 127.0.0.1, port: %d, client_id: vigie-%s%s}\n"
             "cameras:\n  - name: hall\n    input: %s\n    loop: true\n    realtime: true\n"
             "    scene: %s/docs/examples/vtest.yaml\n"
             "    settings: {detector.models_dir: '%s'}\n",
             name, port, name, mqtt_extra ? mqtt_extra : "", VTEST, VG_SOURCE_DIR,
             m ? m : "models");
    tu_write_file(path, text, strlen(text));
}

/* Every record in order, the broker away mid-run: nothing lost. */
static void test_order_and_outage(void **state)
{
    (void)state;
    if (!have) skip();
    char cfg[512], db[512];
    snprintf(cfg, sizeof(cfg), "%s/outage.yaml", dir);
    snprintf(db, sizeof(db), "%s/outage-store/vigie.db", dir);
    write_config("outage", NULL);
    assert_int_equal(broker_start(NULL), 0);
    sub_start("test-outage");
    static tu_server_t v;
    running = &v;
    assert_int_equal(tu_server_start(&v, dir, cfg, "outage"), 0);
    WAIT_FOR(seen("vigie/available", "online") && seen("vigie/hall/status", "running"), 120,
             "online and running");
    int n;
    WAIT_FOR(max_seq(&n) >= 10, 300, "ten events messages");
    /* the broker goes away while events keep being stored */
    broker_stop();
    double down = tu_now();
    long long at_stop = feed_head(db);
    WAIT_FOR(feed_head(db) >= at_stop + 20, 300, "twenty more records stored with no broker");
    long long while_down = feed_head(db) - at_stop;
    assert_int_equal(broker_start(NULL), 0);
    fprintf(stderr, "broker away %.1f s, %lld records stored meanwhile\n", tu_now() - down,
            while_down);
    WAIT_FOR(max_seq(NULL) >= at_stop + while_down, 300, "the records stored while it was away");
    /* vigie stops: its open events end, and the ends go out */
    assert_int_equal(tu_server_stop(&v, SIGTERM), 0);
    long long head = feed_head(db);
    WAIT_FOR(max_seq(NULL) >= head, 60, "every record up to the stop");
    WAIT_FOR(seen("vigie/available", "offline"), 30, "offline");
    int dups = check_delivery(db, 0, head);
    max_seq(&n);
    fprintf(stderr,
            "%lld feed records, all received in order with their store ids (%d messages, "
            "%d duplicates with the same seq)\n",
            head, n, dups);
    assert_true(seen("vigie/hall/wrong_way", NULL));
    sub_stop();
    broker_stop();
}

/* kill -9 with messages waiting for the broker: delivered after the restart. */
static void test_kill9_outbox(void **state)
{
    (void)state;
    if (!have) skip();
    char cfg[512], db[512];
    snprintf(cfg, sizeof(cfg), "%s/kill.yaml", dir);
    snprintf(db, sizeof(db), "%s/kill-store/vigie.db", dir);
    write_config("kill", NULL);
    assert_int_equal(broker_start(NULL), 0);
    sub_start("test-kill");
    static tu_server_t v;
    running = &v;
    assert_int_equal(tu_server_start(&v, dir, cfg, "kill"), 0);
    WAIT_FOR(seen("vigie/hall/status", "running"), 120, "running");
    WAIT_FOR(max_seq(NULL) >= 3, 300, "three events messages");
    broker_stop();
    long long at_stop = feed_head(db);
    WAIT_FOR(feed_head(db) >= at_stop + 10, 300, "ten records waiting");
    assert_int_equal(tu_server_stop(&v, SIGKILL), 128 + SIGKILL);
    long long at_kill = feed_head(db);
    fprintf(stderr, "killed with %lld records stored after the broker left\n", at_kill - at_stop);
    assert_int_equal(broker_start(NULL), 0);
    assert_int_equal(tu_server_start(&v, dir, cfg, "kill2"), 0);
    WAIT_FOR(max_seq(NULL) >= at_kill, 300, "the records waiting at the kill");
    check_delivery(db, 0, at_kill);
    fprintf(stderr, "all %lld records up to the kill delivered after the restart\n", at_kill);
    tu_server_stop(&v, SIGTERM);
    sub_stop();
    broker_stop();
}

/* A broker that refuses the credentials: the cameras run; the log says why. */
static void test_refused_credentials(void **state)
{
    (void)state;
    if (!have) skip();
    char cfg[512], db[512], pw[512], pwf[512], cmd[1024], extra[600];
    snprintf(pwf, sizeof(pwf), "%s/broker.passwd", dir);
    snprintf(cmd, sizeof(cmd), "mosquitto_passwd -b -c '%s' vigie right-password >/dev/null 2>&1",
             pwf);
    if (tu_run(cmd) != 0) {
        fprintf(stderr, "mosquitto_passwd missing: skipping\n");
        skip();
    }
    snprintf(extra, sizeof(extra), "allow_anonymous false\npassword_file %s\n", pwf);
    assert_int_equal(broker_start(extra), 0);
    snprintf(pw, sizeof(pw), "%s/wrong.pw", dir);
    tu_write_file(pw, "wrong-password\n", 15);
    char mq[700];
    snprintf(mq, sizeof(mq), ", user: vigie, password_file: %s", pw);
    write_config("refused", mq);
    snprintf(cfg, sizeof(cfg), "%s/refused.yaml", dir);
    snprintf(db, sizeof(db), "%s/refused-store/vigie.db", dir);
    static tu_server_t v;
    running = &v;
    assert_int_equal(tu_server_start(&v, dir, cfg, "refused"), 0);
    WAIT_FOR(feed_head(db) >= 5, 300, "events stored with the broker refusing");
    char *log = NULL;
    WAIT_FOR((free(log), log = tu_read_file(v.log, NULL)) && strstr(log, "refused the connection"),
             60, "the refusal in the log");
    char *line = strstr(log, "refused the connection");
    fprintf(stderr, "%.*s\n", (int)strcspn(line, "\n"), line);
    free(log);
    tu_server_stop(&v, SIGTERM);
    broker_stop();
}

/* After each test, pass or fail: nothing of it left running. */

static int after_each(void **state)
{
    (void)state;
    if (running && running->pid > 0) tu_server_stop(running, SIGKILL);
    running = NULL;
    if (sub) sub_stop();
    broker_stop();
    tls_ca[0] = 0;
    return 0;
}

/* TLS to the broker with a CA made here: delivered; a broker whose certificate has expired is
 * refused, and the log says why. */
static void test_tls(void **state)
{
    (void)state;
    if (!have) skip();
    char cmd[4096], extra[1024], cfg[512], db[512], mq[700];
    snprintf(cmd, sizeof(cmd),
             "(cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt "
             "-days 2 -subj '/CN=vigie test CA' && "
             "openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "
             "'/CN=127.0.0.1' && printf 'subjectAltName=IP:127.0.0.1\n' > ext && "
             "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt "
             "-days 2 -extfile ext && "
             "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out old.crt "
             "-days -1 -extfile ext) >/dev/null 2>&1",
             dir);
    if (tu_run(cmd) != 0) {
        fprintf(stderr, "openssl missing: skipping\n");
        skip();
    }
    snprintf(tls_ca, sizeof(tls_ca), "%s/ca.crt", dir);
    snprintf(extra, sizeof(extra),
             "allow_anonymous true\ncafile %s/ca.crt\ncertfile %s/srv.crt\nkeyfile %s/srv.key\n",
             dir, dir, dir);
    assert_int_equal(broker_start(extra), 0);
    sub_start("test-tls");
    snprintf(mq, sizeof(mq), ", tls: {ca: %s/ca.crt}", dir);
    write_config("tls", mq);
    snprintf(cfg, sizeof(cfg), "%s/tls.yaml", dir);
    snprintf(db, sizeof(db), "%s/tls-store/vigie.db", dir);
    static tu_server_t v;
    running = &v;
    assert_int_equal(tu_server_start(&v, dir, cfg, "tls"), 0);
    WAIT_FOR(max_seq(NULL) >= 3, 300, "three events messages over TLS");
    fprintf(stderr, "over TLS: %lld records delivered\n", max_seq(NULL));
    assert_int_equal(tu_server_stop(&v, SIGTERM), 0);
    sub_stop();
    broker_stop();
    /* the broker's certificate has expired */
    snprintf(extra, sizeof(extra),
             "allow_anonymous true\ncafile %s/ca.crt\ncertfile %s/old.crt\nkeyfile %s/srv.key\n",
             dir, dir, dir);
    assert_int_equal(broker_start(extra), 0);
    assert_int_equal(tu_server_start(&v, dir, cfg, "tls-expired"), 0);
    char *log = NULL;
    WAIT_FOR((free(log), log = tu_read_file(v.log, NULL)) && strstr(log, "certificate"), 60,
             "the certificate's refusal in the log");
    char *line = strstr(log, "vigie: error: 127.0.0.1");
    fprintf(stderr, "%.*s\n", line ? (int)strcspn(line, "\n") : 0, line ? line : "");
    assert_non_null(strstr(log, "certificate verify failed"));
    long long head = feed_head(db);
    WAIT_FOR(feed_head(db) > head, 300, "events stored all the same");
    free(log);
    tls_ca[0] = 0;
}

static int setup(void **state)
{
    (void)state;
    mosquitto_lib_init();
    snprintf(dir, sizeof(dir), "/tmp/vigie-mqtt-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    port = 20000 + (int)(getpid() % 20000);
    have = access(VTEST, R_OK) == 0 && access(BROKER, X_OK) == 0;
    if (!have) fprintf(stderr, "vtest.avi or %s absent: skipping the MQTT tests\n", BROKER);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    broker_stop();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    tu_run(cmd);
    mosquitto_lib_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_order_and_outage, after_each),
        cmocka_unit_test_teardown(test_kill9_outbox, after_each),
        cmocka_unit_test_teardown(test_refused_credentials, after_each),
        cmocka_unit_test_teardown(test_tls, after_each),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
