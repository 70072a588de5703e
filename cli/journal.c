/*
 * vigie serve's log sink under systemd: each message goes to the journal as a structured entry
 * (native protocol: one datagram of KEY=VALUE fields on the journal's socket) with
 *
 *   MESSAGE            the text, as on stderr
 *   PRIORITY           3 error, 4 warning, 6 info, 7 verbose and debug
 *   SYSLOG_IDENTIFIER  vigie
 *   VIGIE_COMPONENT    the part that logged ("serve", "input", "mqtt", ...)
 *   VIGIE_CAMERA       the camera whose thread logged (vg_log_camera), when there is one
 *
 * so that `journalctl -u vigie VIGIE_CAMERA=hall` shows one camera. It is used when stderr is
 * the journal's stream (JOURNAL_STREAM names stderr's device and inode: systemd sets it for the
 * unit's output), never otherwise; a message the socket refuses is written to stderr instead, so
 * nothing is lost. The socket is /run/systemd/journal/socket (VIGIE_JOURNAL_SOCKET may name
 * another: tests). Values are sent in the protocol's length-prefixed form, so a newline in a
 * message cannot start a field of its own. No libsystemd: the protocol is a few lines.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <vigie/log.h>

#include "cli.h"

static int jfd = -1;
static struct sockaddr_un jaddr;

/* Append KEY, then VALUE in the length-prefixed form, to @buf (at most @cap). */
static size_t field(char *buf, size_t n, size_t cap, const char *key, const char *value)
{
    size_t k = strlen(key), v = strlen(value);
    if (n + k + 1 + 8 + v + 1 > cap) return n;
    memcpy(buf + n, key, k);
    n += k;
    buf[n++] = '\n';
    uint64_t le = v;
    for (int i = 0; i < 8; i++) buf[n++] = (char)((le >> (8 * i)) & 0xff);
    memcpy(buf + n, value, v);
    n += v;
    buf[n++] = '\n';
    return n;
}

static void journal_sink(void *opaque, int level, const char *component, const char *msg)
{
    static const char *const prio[] = {"3", "4", "6", "7", "7"};
    char buf[4096];
    size_t n = 0;
    const char *cam = vg_log_camera();
    (void)opaque;
    n = field(buf, n, sizeof(buf), "PRIORITY", level >= 0 && level <= 4 ? prio[level] : "6");
    n = field(buf, n, sizeof(buf), "SYSLOG_IDENTIFIER", "vigie");
    if (component) n = field(buf, n, sizeof(buf), "VIGIE_COMPONENT", component);
    if (cam) n = field(buf, n, sizeof(buf), "VIGIE_CAMERA", cam);
    n = field(buf, n, sizeof(buf), "MESSAGE", msg);
    if (sendto(jfd, buf, n, MSG_NOSIGNAL, (struct sockaddr *)&jaddr, sizeof(jaddr)) < 0) {
        if (level <= VG_LOG_WARNING)
            fprintf(stderr, "vigie: %s: %s\n", vg_log_level_name(level), msg);
        else
            fprintf(stderr, "vigie: %s\n", msg);
    }
}

int cli_journal_open(void)
{
    const char *js = getenv("JOURNAL_STREAM"), *path = getenv("VIGIE_JOURNAL_SOCKET");
    unsigned long long dev, ino;
    struct stat sb;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &sb) != 0 ||
        (unsigned long long)sb.st_dev != dev || (unsigned long long)sb.st_ino != ino)
        return 0; /* stderr is not the journal */
    if (!path || !path[0]) path = "/run/systemd/journal/socket";
    if (strlen(path) >= sizeof(jaddr.sun_path)) return 0;
    jfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (jfd < 0) return 0;
    memset(&jaddr, 0, sizeof(jaddr));
    jaddr.sun_family = AF_UNIX;
    snprintf(jaddr.sun_path, sizeof(jaddr.sun_path), "%s", path);
    vg_log_set_sink(journal_sink, NULL);
    return 1;
}
