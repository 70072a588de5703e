/*
 * vigie serve | user | audit: the server and its administration (docs/server.md).
 *
 *   vigie serve --config FILE            run cameras, store and HTTP API until SIGTERM/SIGINT;
 *                                        SIGHUP re-reads the config (src/server/reload.c)
 *   vigie user add --config FILE NAME --role ROLE   (password on standard input)
 *   vigie user disable --config FILE NAME
 *   vigie audit verify --config FILE     exit 0 when the audit trail verifies, 1 when not
 *   vigie audit verify --db FILE --anchors FILE --public-key KEY   (an auditor's copy)
 *   vigie audit keygen --out FILE        the Ed25519 key pair that signs the anchors
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <vigie/vigie.h>
#include <vigie/server.h>
#include <vigie/store.h>

#include "cli.h"

static vg_server_t *serving; /* for the signal handler */

static void on_stop_signal(int sig)
{
    (void)sig;
    if (serving) vg_server_stop(serving);
}

static void on_reload_signal(int sig)
{
    (void)sig;
    if (serving) vg_server_reload(serving);
}

static int load_config(const char *path, vg_server_config_t **cfg)
{
    char err[1024];
    if (!path) {
        fprintf(stderr, "vigie: error: give the server's config file with --config FILE "
                        "(docs/server.md)\n");
        return EXIT_USAGE;
    }
    if (vg_server_config_load(cfg, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        return EXIT_USAGE;
    }
    return 0;
}

static int open_store(const vg_server_config_t *cfg, vg_store_t **st, int must_exist)
{
    char db[4200], err[1024];
    struct stat sb;
    vg_server_config_db(cfg, db, sizeof(db));
    if (must_exist && stat(db, &sb) != 0) {
        fprintf(stderr,
                "vigie: error: %s: no database there (has vigie serve run with this "
                "config?)\n",
                db);
        return EXIT_INPUT;
    }
    if (!must_exist) mkdir(cfg->storage, 0750);
    if (vg_store_open(st, db, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        return EXIT_INPUT;
    }
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"port-file", required_argument, NULL, 'P'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"review", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *port_file = NULL;
    vg_server_config_t *cfg = NULL;
    vg_server_t *srv = NULL;
    char err[1024];
    int c, code, review = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:qvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'P':
            port_file = optarg;
            break;
        case 'R':
            review = 1;
            break;
        case 'q':
            vg_log_set_level(VG_LOG_ERROR);
            break;
        case 'v':
            vg_log_set_level(VG_LOG_VERBOSE);
            break;
        case 'h':
            printf("usage: vigie serve --config FILE [--port-file FILE] [--review] [-q|-v]\n\n"
                   "Analyses the config's cameras, keeps events, evidence and the audit trail in\n"
                   "its storage and answers the HTTP API (docs/server.md) until SIGTERM or "
                   "SIGINT.\nSIGHUP re-reads the config and applies what it can (cameras added, "
                   "removed or\nchanged, settings), audited.\n"
                   "  --port-file FILE  write the port listened on to FILE once listening\n"
                   "  --review          the console and API over the store, no camera analysed\n"
                   "                    (label a calibration's alerts: docs/calibration.md)\n"
                   "Create the first user with: vigie user add --config FILE NAME --role admin\n");
            return 0;
        default:
            fprintf(stderr, "vigie serve: see 'vigie serve --help'\n");
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "vigie serve: unexpected argument %s (see vigie serve --help)\n",
                argv[optind]);
        return EXIT_USAGE;
    }
    cli_journal_open();
    if ((code = load_config(config, &cfg)) != 0) return code;
    cfg->review = review;
    if (vg_server_new(&srv, cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        vg_server_config_free(&cfg);
        return EXIT_INPUT;
    }
    serving = srv;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_reload_signal;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (vg_server_start(srv, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        serving = NULL;
        vg_server_free(&srv);
        vg_server_config_free(&cfg);
        return EXIT_INPUT;
    }
    if (port_file) {
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", vg_server_port(srv)) < 0 || fclose(f) != 0 ||
            rename(tmp, port_file) != 0)
            fprintf(stderr, "vigie: warning: %s: cannot write the port\n", port_file);
    }
    {
        vg_store_t *st = NULL;
        char db[4200];
        vg_server_config_db(cfg, db, sizeof(db));
        if (vg_store_open(&st, db, err, sizeof(err)) == 0) {
            if (vg_store_user_count(st) == 0)
                fprintf(stderr,
                        "vigie: warning: no user yet: nobody can log in; create the "
                        "first admin with: vigie user add --config %s NAME --role "
                        "admin\n",
                        config);
            vg_store_close(&st);
        }
    }
    vg_server_wait(srv);
    fprintf(stderr, "vigie: stopping: ending open events, flushing the store\n");
    serving = NULL;
    vg_server_free(&srv);
    vg_server_config_free(&cfg);
    return 0;
}

/* The password: one line on standard input (no echo on a terminal). */
static int read_password(char *buf, size_t len)
{
    struct termios old, quiet;
    int tty = isatty(0);
    if (tty) {
        fprintf(stderr, "password (10 characters or more): ");
        tcgetattr(0, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(0, TCSANOW, &quiet);
    }
    char *got = fgets(buf, (int)len, stdin);
    if (tty) {
        tcsetattr(0, TCSANOW, &old);
        fprintf(stderr, "\n");
    }
    if (!got) return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

static const char *cli_actor(char *buf, size_t len)
{
    struct passwd *pw = getpwuid(getuid());
    snprintf(buf, len, "cli:%s", pw ? pw->pw_name : "unknown");
    return buf;
}

static int cmd_user(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"role", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *role = NULL;
    vg_server_config_t *cfg = NULL;
    vg_store_t *st = NULL;
    char err[512], pw[1100], actor[128], details[128];
    int c, code;
    if (argc < 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "disable"))) {
        fprintf(stderr, "usage: vigie user add --config FILE NAME --role "
                        "operator|supervisor|auditor|admin\n"
                        "       vigie user disable --config FILE NAME\n"
                        "The password of a new user is read from standard input.\n");
        return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : EXIT_USAGE;
    }
    int add = !strcmp(argv[1], "add");
    optind = 2;
    while ((c = getopt_long(argc, argv, "c:r:h", longopts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'r')
            role = optarg;
        else {
            fprintf(stderr, "usage: vigie user add --config FILE NAME --role ROLE\n");
            return c == 'h' ? 0 : EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "vigie user: give one user NAME\n");
        return EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (add && (!role || vg_role_from_name(role) < 0)) {
        fprintf(stderr, "vigie user add: --role: use operator, supervisor, auditor or admin\n");
        return EXIT_USAGE;
    }
    if ((code = load_config(config, &cfg)) != 0) return code;
    if ((code = open_store(cfg, &st, 0)) != 0) goto end;
    cli_actor(actor, sizeof(actor));
    if (add) {
        if (read_password(pw, sizeof(pw)) < 0) {
            fprintf(stderr, "vigie user add: no password on standard input\n");
            code = EXIT_USAGE;
            goto end;
        }
        int ret = vg_store_user_add(st, name, vg_role_from_name(role), pw, err, sizeof(err));
        memset(pw, 0, sizeof(pw));
        if (ret < 0) {
            fprintf(stderr, "vigie: error: %s\n", err);
            code = ret == VG_EINVAL || ret == VG_EBUSY ? EXIT_USAGE : EXIT_INPUT;
            goto end;
        }
        snprintf(details, sizeof(details), "{\"role\":\"%s\"}", role);
        vg_store_audit(st, actor, "user_add", name, details);
        fprintf(stderr, "vigie: user '%s' (%s) added\n", name, role);
    } else {
        int ret = vg_store_user_disable(st, name, 1);
        if (ret < 0) {
            fprintf(stderr, "vigie: error: user '%s': %s\n", name,
                    ret == VG_ENOENT ? "no such user" : vg_strerror(ret));
            code = ret == VG_ENOENT ? EXIT_USAGE : EXIT_INPUT;
            goto end;
        }
        vg_store_audit(st, actor, "user_disable", name, NULL);
        fprintf(stderr, "vigie: user '%s' disabled\n", name);
    }
end:
    vg_store_close(&st);
    vg_server_config_free(&cfg);
    return code;
}

#define AUDIT_USAGE                                                                                \
    "usage: vigie audit verify (--config FILE | --db FILE) [--anchors FILE]\n"                     \
    "                          [--public-key KEY ...]\n"                                           \
    "       vigie audit keygen --out FILE\n"                                                       \
    "verify walks the audit trail's hash chain and checks the anchors (by default the storage's\n" \
    "audit-anchors.log); with --public-key (a .pub file or its 64 hex digits; repeat it for "      \
    "keys\n"                                                                                       \
    "used before), only anchors signed by the key are trusted. Exit 0 verified, 1 not.\n"          \
    "keygen makes the Ed25519 key pair that signs the anchors (audit.signing_key in the "          \
    "config):\n"                                                                                   \
    "the secret into FILE (mode 600; keep it outside the storage folder), the public key into\n"   \
    "FILE.pub and on standard output, for the auditors.\n"

static int cmd_audit_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    char pub[65], err[4400];
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else {
            fputs(AUDIT_USAGE, stderr);
            return c == 'h' ? 0 : EXIT_USAGE;
        }
    }
    if (!out || optind < argc) {
        fprintf(stderr, "vigie audit keygen: give the secret key's file with --out FILE\n");
        return EXIT_USAGE;
    }
    if (vg_audit_key_generate(out, pub, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        return EXIT_INPUT;
    }
    fprintf(stderr,
            "vigie: signing key written to %s (mode 600), public key to %s.pub.\n"
            "Set audit: {signing_key: %s} in the server's config; give the public key to the\n"
            "auditors (vigie audit verify --public-key).\n",
            out, out, out);
    printf("%s\n", pub);
    return 0;
}

/* The store whose audit trail is checked (vigie audit verify, vigie report): the server's (its
 * config: its anchors, and its public key when it signs them, unless the auditor gave keys) or a
 * copy (--db, with --anchors). *@anchors is set to the config's anchors when NULL (into @anch);
 * *@npk grows by one with the config's key. 0, or an exit code with the message said. */
static int open_trail(const char *config, const char *db, vg_server_config_t **cfg, vg_store_t **st,
                      const char **anchors, char anch[4200], uint8_t (*pks)[32], int *npk)
{
    char err[4400];
    int code;
    if (config) {
        if ((code = load_config(config, cfg)) != 0) return code;
        if ((code = open_store(*cfg, st, 1)) != 0) return code;
        if (!*anchors) {
            vg_server_config_anchors(*cfg, anch, 4200);
            *anchors = anch;
        }
        /* the server signs its anchors: its public key, unless the auditor brought theirs */
        if (!*npk && (*cfg)->audit_key) {
            char pub[4200];
            snprintf(pub, sizeof(pub), "%s.pub", (*cfg)->audit_key);
            if (vg_audit_public_key_read(pub, pks[0], err, sizeof(err)) == 0)
                *npk = 1;
            else
                fprintf(stderr,
                        "vigie: warning: the config signs anchors but %s cannot be read: "
                        "anchors checked without their signatures (give --public-key)\n",
                        pub);
        }
        return 0;
    }
    struct stat sb;
    if (stat(db, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "vigie: error: %s: no database file there\n", db);
        return EXIT_INPUT;
    }
    if (vg_store_open(st, db, err, sizeof(err)) < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        return EXIT_INPUT;
    }
    if (!*anchors)
        fprintf(stderr, "vigie: warning: no --anchors FILE: only the chain is checked (a cut "
                        "tail or a rewritten trail would pass)\n");
    return 0;
}

static int cmd_audit(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},  {"db", required_argument, NULL, 'd'},
        {"anchors", required_argument, NULL, 'a'}, {"public-key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    enum { MAX_KEYS = 8 };
    const char *config = NULL, *db = NULL, *anchors = NULL;
    vg_server_config_t *cfg = NULL;
    vg_store_t *st = NULL;
    uint8_t pks[MAX_KEYS][32];
    char anch[4200], err[4400];
    int c, code = 0, npk = 0;
    if (argc >= 2 && !strcmp(argv[1], "keygen")) return cmd_audit_keygen(argc, argv);
    if (argc < 2 || strcmp(argv[1], "verify")) {
        fputs(AUDIT_USAGE, stderr);
        return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : EXIT_USAGE;
    }
    optind = 2;
    while ((c = getopt_long(argc, argv, "c:d:a:k:h", longopts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'd')
            db = optarg;
        else if (c == 'a')
            anchors = optarg;
        else if (c == 'k') {
            if (npk == MAX_KEYS) {
                fprintf(stderr, "vigie audit verify: at most %d public keys\n", MAX_KEYS);
                return EXIT_USAGE;
            }
            if (vg_audit_public_key_read(optarg, pks[npk], err, sizeof(err)) < 0) {
                fprintf(stderr, "vigie: error: %s\n", err);
                return EXIT_USAGE;
            }
            npk++;
        } else {
            fputs(AUDIT_USAGE, stderr);
            return c == 'h' ? 0 : EXIT_USAGE;
        }
    }
    if (!config == !db) {
        fprintf(stderr, "vigie audit verify: give the server's config (--config FILE), or a copy "
                        "of its database (--db FILE, with --anchors FILE)\n");
        return EXIT_USAGE;
    }
    if ((code = open_trail(config, db, &cfg, &st, &anchors, anch, pks, &npk)) != 0) goto end;
    vg_audit_report_t r;
    if (vg_store_audit_verify_signed(st, anchors, (const uint8_t(*)[32])pks, npk, &r) < 0) {
        fprintf(stderr, "vigie: error: cannot read the audit trail\n");
        code = EXIT_INPUT;
        goto end;
    }
    if (r.ok)
        printf("audit trail verified: %s\n", r.what);
    else
        printf("AUDIT TRAIL BROKEN at row %lld: %s\n", (long long)r.bad_seq, r.what);
    code = r.ok ? 0 : 1;
end:
    vg_store_close(&st);
    vg_server_config_free(&cfg);
    return code;
}

#define REPORT_USAGE                                                                               \
    "usage: vigie report (--config FILE | --db FILE [--anchors FILE] [--public-key KEY ...])\n"    \
    "                    [--from DATE] [--to DATE] [--lang en|fr] [--out FILE.html]\n"             \
    "                    [--csv FILE.csv]\n"                                                       \
    "The evaluation report of a period (docs/report.md): per camera and event type the alerts,\n"  \
    "confirmed, false alerts per camera-hour, time to decide (median, 90th percentile); each\n"    \
    "camera's availability; evidence views and exports; the audit trail verified or its broken\n"  \
    "row named. One self-contained HTML page (charts in SVG, no network; default\n"                \
    "vigie-report.html) and the table as CSV (default: beside it, .csv). DATE: YYYY-MM-DD "        \
    "(--to:\n"                                                                                     \
    "that whole day) or YYYY-MM-DDTHH:MM:SSZ, UTC; by default from the store's first record to\n"  \
    "now. Exit 0 made, 1 made but the audit trail is broken (or nothing to report), 2 usage.\n"

int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},
        {"anchors", required_argument, NULL, 'a'},
        {"public-key", required_argument, NULL, 'k'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"lang", required_argument, NULL, 'l'},
        {"out", required_argument, NULL, 'o'},
        {"csv", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    enum { MAX_KEYS = 8 };
    const char *config = NULL, *db = NULL, *anchors = NULL, *out = "vigie-report.html",
               *csvp = NULL;
    vg_report_params_t rp = {0};
    vg_server_config_t *cfg = NULL;
    vg_store_t *st = NULL;
    uint8_t pks[MAX_KEYS][32];
    char anch[4200], err[4400], csvbuf[4200];
    const char **cams = NULL;
    char *html = NULL, *csv = NULL;
    int c, code = 0, npk = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:d:a:k:f:t:l:o:C:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'd':
            db = optarg;
            break;
        case 'a':
            anchors = optarg;
            break;
        case 'f':
            rp.from = optarg;
            break;
        case 't':
            rp.to = optarg;
            break;
        case 'l':
            rp.lang = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'C':
            csvp = optarg;
            break;
        case 'k':
            if (npk == MAX_KEYS) {
                fprintf(stderr, "vigie report: at most %d public keys\n", MAX_KEYS);
                return EXIT_USAGE;
            }
            if (vg_audit_public_key_read(optarg, pks[npk], err, sizeof(err)) < 0) {
                fprintf(stderr, "vigie: error: %s\n", err);
                return EXIT_USAGE;
            }
            npk++;
            break;
        default:
            fputs(REPORT_USAGE, stderr);
            return c == 'h' ? 0 : EXIT_USAGE;
        }
    }
    if (optind < argc || !config == !db) {
        fprintf(stderr, "vigie report: give the server's config (--config FILE), or a copy of its "
                        "database (--db FILE, with --anchors FILE)\n");
        return EXIT_USAGE;
    }
    if (!csvp) {
        size_t n = strlen(out);
        if (n > 5 && !strcmp(out + n - 5, ".html"))
            snprintf(csvbuf, sizeof(csvbuf), "%.*s.csv", (int)(n - 5), out);
        else
            snprintf(csvbuf, sizeof(csvbuf), "%s.csv", out);
        csvp = csvbuf;
    }
    if ((code = open_trail(config, db, &cfg, &st, &anchors, anch, pks, &npk)) != 0) goto end;
    if (cfg) {
        cams = calloc((size_t)cfg->nb_cameras + 1, sizeof(*cams));
        if (!cams) {
            code = EXIT_INPUT;
            goto end;
        }
        for (int i = 0; i < cfg->nb_cameras; i++) cams[i] = cfg->cameras[i].name;
        rp.cameras = cams;
        rp.nb_cameras = cfg->nb_cameras;
        rp.site = config;
    } else
        rp.site = db;
    rp.anchors = anchors;
    rp.pks = (const uint8_t(*)[32])pks;
    rp.npk = npk;
    vg_report_result_t res;
    int ret = vg_report_make(st, &rp, &html, &csv, &res, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "vigie: error: %s\n", err);
        code = ret == VG_EINVAL ? EXIT_USAGE : EXIT_INPUT;
        goto end;
    }
    FILE *f = fopen(out, "w");
    int ok = f && fputs(html, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    FILE *g = ok ? fopen(csvp, "w") : NULL;
    int ok2 = g && fputs(csv, g) >= 0;
    if (g && fclose(g) != 0) ok2 = 0;
    if (!ok || !ok2) {
        fprintf(stderr, "vigie: error: cannot write %s: %s\n", ok ? csvp : out, strerror(errno));
        code = EXIT_INPUT;
        goto end;
    }
    fprintf(stderr, "vigie: report of %s to %s: %lld alerts on %d cameras; ", res.from, res.to,
            (long long)res.alerts, res.cameras);
    if (res.audit_ok)
        fprintf(stderr, "audit trail verified\n");
    else
        fprintf(stderr, "AUDIT TRAIL BROKEN at row %lld (the report says how)\n",
                (long long)res.bad_seq);
    fprintf(stderr, "vigie: written %s and %s\n", out, csvp);
    code = res.audit_ok ? 0 : 1;
end:
    vg_free(html);
    vg_free(csv);
    free(cams);
    vg_store_close(&st);
    vg_server_config_free(&cfg);
    return code;
}

int cmd_server(int argc, char **argv)
{
    if (!strcmp(argv[0], "serve")) return cmd_serve(argc, argv);
    if (!strcmp(argv[0], "user")) return cmd_user(argc, argv);
    return cmd_audit(argc, argv);
}
