/*
 * The HTTP layer of `vigie serve` on libmicrohttpd, built to keep answering under hostile load
 * (docs/server.md#limits, issue #17). Each request is reduced to a vg_http_req_t and answered by
 * vg__http_handle() (api.c): the API proper knows nothing of libmicrohttpd, which is what the
 * fuzz target drives.
 *
 * - Event driven: a few threads (limits.threads) each run an epoll loop over their share of the
 *   connections; an open connection costs a socket and its 64 KiB buffer, not a thread. So a
 *   client that sends slowly, or a live stream waiting for the next event, holds no thread.
 * - Deadlines a slow client cannot stretch: each connection is in one phase — waiting for a
 *   request's headers (since it opened or since the previous answer), receiving a body, or being
 *   answered. A watchdog thread cuts (shutdown(2) on its socket; libmicrohttpd then closes it as
 *   it would a client that left) a connection whose headers take longer than
 *   limits.header_timeout or whose body takes longer than limits.body_timeout, however steadily
 *   it trickles bytes. Idle keep-alive connections are in the first phase, so they go too.
 * - Counts: limits.connections in all and limits.connections_per_address from one address
 *   (libmicrohttpd refuses the rest at accept); live streams in all, per address and per login
 *   (429 beyond). Streams can never take more than limits.streams of the connections: the rest
 *   is the reserve that login, health and the API keep.
 * - The live stream is a content reader that, when it has nothing to send, suspends its
 *   connection and waits in the hub's list; the writer's vg__hub_notify() resumes every waiting
 *   stream, and the watchdog resumes those silent for 15 s so that they send a keep-alive comment
 *   (and find out whether their client is still there). Nothing busy-waits.
 *
 * Locks: s->hlock (the hub: feed head, streams) may be held while calling libmicrohttpd's
 * suspend/resume (which take its own cleanup lock); h->lock (the connection list) is held only
 * around the list and shutdown(2). libmicrohttpd calls none of our callbacks with its lock held.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <vigie/error.h>
#include <vigie/file.h>
#include <vigie/log.h>
#include <vigie/mem.h>

#include "api.h"

#define COMP "http"

#define KEEPALIVE_S   15.0 /* a silent stream sends a comment this often */
#define WATCH_EVERY_S 0.25 /* the watchdog's period */
#define STREAM_BUF    (1u << 20)

enum { P_HEADERS, P_BODY, P_ANSWER };

/* One TCP connection (libmicrohttpd's socket context). */
typedef struct sock {
    struct sock *prev, *next;
    int fd;
    int phase;
    double since; /* when the phase began (monotonic) */
    int cut;
} sock_t;

/* One request being received (libmicrohttpd's request context). */
typedef struct conn {
    char *body;
    size_t len, cap;
    int too_large;
} conn_t;

/* One live stream. */
typedef struct stream {
    struct stream *prev, *next; /* the hub's list, under s->hlock */
    vg_server_t *s;
    struct MHD_Connection *con;
    char addr[64];
    char login[65];
    int64_t last;
    int waiting; /* suspended until the feed grows (under s->hlock) */
    double sent; /* when it last sent something (under s->hlock) */
    char *out;   /* what is left to send (stream thread only) */
    size_t out_len, out_pos;
} stream_t;

struct vg_http {
    struct MHD_Daemon *d;
    pthread_mutex_t lock; /* socks */
    sock_t *socks;
    int nb_socks;
    stream_t *streams; /* under s->hlock */
    int nb_streams;
    int64_t cut_headers, cut_bodies, refused_streams; /* under lock / hlock */
    pthread_t watch;
    int watch_started;
    pthread_mutex_t wlock;
    pthread_cond_t wcond;
    int wstop;
    char *cert, *key; /* HTTPS: the PEM text, kept while the daemon runs */
};

static const char *mhd_query(void *o, const char *k)
{
    return MHD_lookup_connection_value(o, MHD_GET_ARGUMENT_KIND, k);
}
static const char *mhd_header(void *o, const char *k)
{
    return MHD_lookup_connection_value(o, MHD_HEADER_KIND, k);
}
static const char *mhd_cookie(void *o, const char *k)
{
    return MHD_lookup_connection_value(o, MHD_COOKIE_KIND, k);
}

static void client_address(struct MHD_Connection *con, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, len, "unknown");
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, out,
                  (socklen_t)len);
}

/* ---- connections and their deadlines ---- */

static void sock_phase(vg_server_t *s, struct MHD_Connection *con, int phase)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    sock_t *k = ci ? ci->socket_context : NULL;
    if (!k) return;
    pthread_mutex_lock(&s->http->lock);
    k->phase = phase;
    k->since = vg__now_mono();
    pthread_mutex_unlock(&s->http->lock);
}

static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    vg_server_t *s = cls;
    struct vg_http *h = s->http;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        sock_t *k = vg_calloc(1, sizeof(*k));
        if (!k || !ci) {
            vg_free(k);
            return; /* untracked: still bounded by libmicrohttpd's idle timeout */
        }
        k->fd = ci->connect_fd;
        k->phase = P_HEADERS;
        k->since = vg__now_mono();
        pthread_mutex_lock(&h->lock);
        k->next = h->socks;
        if (h->socks) h->socks->prev = k;
        h->socks = k;
        h->nb_socks++;
        pthread_mutex_unlock(&h->lock);
        *socket_context = k;
        return;
    }
    /* closed: unlinked before libmicrohttpd closes the socket, so the watchdog can never shut
     * down a reused descriptor */
    sock_t *k = *socket_context;
    if (!k) return;
    pthread_mutex_lock(&h->lock);
    if (k->prev)
        k->prev->next = k->next;
    else
        h->socks = k->next;
    if (k->next) k->next->prev = k->prev;
    h->nb_socks--;
    pthread_mutex_unlock(&h->lock);
    vg_free(k);
    *socket_context = NULL;
}

/* ---- the live stream ---- */

static void append_msg(void *opaque, int64_t seq, const char *json)
{
    stream_t *st = opaque;
    size_t need = strlen(json) + 64;
    if (st->out_len + need > st->out_pos + STREAM_BUF && st->out_len) return;
    char *nb = vg_realloc(st->out, st->out_len + need);
    if (!nb) return;
    st->out = nb;
    st->out_len +=
        snprintf(st->out + st->out_len, need, "id: %lld\ndata: %s\n\n", (long long)seq, json);
    st->last = seq;
}

/* Resume every waiting stream (@all), or those silent for KEEPALIVE_S. Under s->hlock. */
static void wake_streams(vg_server_t *s, int all, double now)
{
    for (stream_t *st = s->http ? s->http->streams : NULL; st; st = st->next)
        if (st->waiting && (all || now - st->sent >= KEEPALIVE_S)) {
            st->waiting = 0;
            MHD_resume_connection(st->con);
        }
}

void vg__hub_wake(vg_server_t *s)
{
    pthread_mutex_lock(&s->hlock);
    pthread_cond_broadcast(&s->hcond);
    pthread_mutex_unlock(&s->hlock);
}

void vg__hub_notify(vg_server_t *s, int64_t seq)
{
    pthread_mutex_lock(&s->hlock);
    if (seq > s->head) s->head = seq;
    pthread_cond_broadcast(&s->hcond);
    wake_streams(s, 1, 0);
    pthread_mutex_unlock(&s->hlock);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_t *st = cls;
    vg_server_t *s = st->s;
    (void)pos;
    if (st->out_pos >= st->out_len) {
        int64_t head;
        double now = vg__now_mono();
        st->out_len = st->out_pos = 0;
        pthread_mutex_lock(&s->hlock);
        if (atomic_load(&s->stopping)) {
            pthread_mutex_unlock(&s->hlock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        head = s->head;
        if (head <= st->last && now - st->sent < KEEPALIVE_S) {
            /* nothing to say: wait in the hub, holding no thread */
            st->waiting = 1;
            MHD_suspend_connection(st->con);
            pthread_mutex_unlock(&s->hlock);
            return 0;
        }
        st->sent = now;
        pthread_mutex_unlock(&s->hlock);
        if (head > st->last) {
            vg_store_feed_read(s->store, st->last, 200, append_msg, st);
            if (st->out_pos >= st->out_len) st->last = head; /* rows gone: skip them */
        }
        if (st->out_pos >= st->out_len) {
            static const char ka[] = ": keep-alive\n\n";
            vg_free(st->out);
            st->out = vg_strdup(ka);
            if (!st->out) return MHD_CONTENT_READER_END_WITH_ERROR;
            st->out_len = sizeof(ka) - 1;
            st->out_pos = 0;
        }
    }
    size_t n = st->out_len - st->out_pos;
    if (n > max) n = max;
    memcpy(buf, st->out + st->out_pos, n);
    st->out_pos += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream_t *st = cls;
    vg_server_t *s = st->s;
    pthread_mutex_lock(&s->hlock);
    if (st->prev)
        st->prev->next = st->next;
    else
        s->http->streams = st->next;
    if (st->next) st->next->prev = st->prev;
    s->http->nb_streams--;
    pthread_mutex_unlock(&s->hlock);
    vg_free(st->out);
    vg_free(st);
}

/* A new stream for @addr and @login, or NULL with @why set when a limit refuses it. */
static stream_t *stream_open(vg_server_t *s, struct MHD_Connection *con, const char *addr,
                             const char *login, int64_t after, char *why, size_t whylen)
{
    const vg_server_config_t *cfg = s->cfg;
    int from_addr = 0, from_login = 0;
    stream_t *st = vg_calloc(1, sizeof(*st));
    if (!st) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    pthread_mutex_lock(&s->hlock);
    for (stream_t *o = s->http->streams; o; o = o->next) {
        from_addr += !strcmp(o->addr, addr);
        from_login += !strcmp(o->login, login);
    }
    if (s->http->nb_streams >= cfg->max_streams)
        snprintf(why, whylen, "the server has its %d live streams open (limits.streams)",
                 cfg->max_streams);
    else if (from_addr >= cfg->max_streams_address)
        snprintf(why, whylen, "%d live streams are open from %s (limits.streams_per_address)",
                 from_addr, addr);
    else if (from_login >= cfg->max_streams_login)
        snprintf(why, whylen,
                 "this login has %d live streams open (limits.streams_per_login): close a tab",
                 from_login);
    else
        why[0] = 0;
    if (why[0]) {
        s->http->refused_streams++;
        pthread_mutex_unlock(&s->hlock);
        vg_free(st);
        return NULL;
    }
    st->s = s;
    st->con = con;
    st->last = after;
    st->sent = vg__now_mono();
    snprintf(st->addr, sizeof(st->addr), "%s", addr);
    snprintf(st->login, sizeof(st->login), "%s", login);
    st->next = s->http->streams;
    if (st->next) st->next->prev = st;
    s->http->streams = st;
    s->http->nb_streams++;
    pthread_mutex_unlock(&s->hlock);
    return st;
}

/* ---- requests ---- */

static void add_common_headers(struct MHD_Response *resp, const vg_http_resp_t *r)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(
        resp, "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'");
    if (r->set_cookie[0]) MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    if (r->allow[0]) MHD_add_response_header(resp, "Allow", r->allow);
    if (r->retry_after[0]) MHD_add_response_header(resp, "Retry-After", r->retry_after);
    if (r->disposition[0]) MHD_add_response_header(resp, "Content-Disposition", r->disposition);
    if (r->accept_ranges) MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    if (r->content_range[0]) MHD_add_response_header(resp, "Content-Range", r->content_range);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    vg_server_t *s = cls;
    conn_t *c = *con_cls;
    (void)version;
    if (!c) {
        /* the headers are in: the body's deadline starts */
        c = vg_calloc(1, sizeof(*c));
        if (!c) return MHD_NO;
        *con_cls = c;
        sock_phase(s, con, P_BODY);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (!c->too_large && c->len + n > (size_t)s->cfg->body_limit) {
            c->too_large = 1;
            vg_free(c->body);
            c->body = NULL;
            c->len = c->cap = 0;
        }
        if (!c->too_large) {
            if (c->len + n + 1 > c->cap) {
                size_t nc = (c->len + n + 1) * 2;
                char *nb = vg_realloc(c->body, nc);
                if (!nb) return MHD_NO;
                c->body = nb;
                c->cap = nc;
            }
            memcpy(c->body + c->len, upload_data, n);
            c->len += n;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    sock_phase(s, con, P_ANSWER);
    char client[64];
    client_address(con, client, sizeof(client));
    vg_http_req_t q = {method, url,     mhd_query, mhd_header,   mhd_cookie,
                       con,    c->body, c->len,    c->too_large, client};
    vg_http_resp_t r;
    vg__http_handle(s, &q, &r);
    struct MHD_Response *resp = NULL;
    if (r.stream) {
        char why[200];
        stream_t *st =
            stream_open(s, con, client, r.stream_login, r.stream_after, why, sizeof(why));
        if (!st) {
            r.stream = 0;
            snprintf(r.retry_after, sizeof(r.retry_after), "30");
            vg__api_error(&r, 429, "%s", why);
        } else {
            resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st,
                                                     stream_free);
            if (!resp) {
                stream_free(st);
                return MHD_NO;
            }
            MHD_add_response_header(resp, "Content-Type", "text/event-stream");
            MHD_add_response_header(resp, "Cache-Control", "no-store");
            MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        }
    }
    if (!resp) {
        resp = MHD_create_response_from_buffer(r.len, r.body, MHD_RESPMEM_MUST_COPY);
        vg__http_resp_free(&r);
        if (!resp) return MHD_NO;
        if (r.type) MHD_add_response_header(resp, "Content-Type", r.type);
        char cc[48] = "no-store";
        if (r.private_max_age > 0)
            snprintf(cc, sizeof(cc), "private, max-age=%d", r.private_max_age);
        MHD_add_response_header(resp, "Cache-Control", cc);
    }
    add_common_headers(resp, &r);
    enum MHD_Result ret = MHD_queue_response(con, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    vg_server_t *s = cls;
    conn_t *c = *con_cls;
    (void)toe;
    /* the next request's headers: their deadline starts now */
    sock_phase(s, con, P_HEADERS);
    if (c) {
        vg_free(c->body);
        vg_free(c);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = 0;
    vg_log(COMP, VG_LOG_VERBOSE, "%s", msg);
}

/* ---- the watchdog ---- */

static void *watch_main(void *arg)
{
    vg_server_t *s = arg;
    struct vg_http *h = s->http;
    double last_report = vg__now_mono();
    int64_t reported = 0;
    pthread_mutex_lock(&h->wlock);
    while (!h->wstop) {
        struct timespec ts;
        vg__abs_deadline(&ts, WATCH_EVERY_S);
        pthread_cond_timedwait(&h->wcond, &h->wlock, &ts);
        if (h->wstop) break;
        pthread_mutex_unlock(&h->wlock);
        double now = vg__now_mono();
        int64_t cut;
        pthread_mutex_lock(&h->lock);
        for (sock_t *k = h->socks; k; k = k->next) {
            double limit = k->phase == P_HEADERS ? s->cfg->header_timeout
                           : k->phase == P_BODY  ? s->cfg->body_timeout
                                                 : INFINITY;
            if (!k->cut && now - k->since > limit) {
                shutdown(k->fd, SHUT_RDWR);
                k->cut = 1;
                if (k->phase == P_HEADERS)
                    h->cut_headers++;
                else
                    h->cut_bodies++;
            }
        }
        cut = h->cut_headers + h->cut_bodies;
        pthread_mutex_unlock(&h->lock);
        pthread_mutex_lock(&s->hlock);
        wake_streams(s, 0, now);
        pthread_mutex_unlock(&s->hlock);

        if (cut > reported && now - last_report > 60) {
            vg_log(COMP, VG_LOG_WARNING,
                   "%lld connections cut for sending too slowly (limits.header_timeout, "
                   "limits.body_timeout)",
                   (long long)(cut - reported));
            reported = cut;
            last_report = now;
        }
        pthread_mutex_lock(&h->wlock);
    }
    pthread_mutex_unlock(&h->wlock);
    return NULL;
}

/* ---- start and stop ---- */

/* Enough descriptors for the connections (the soft limit raised to the hard one when needed);
 * returns how many connections fit. */
static int fit_descriptors(int want)
{
    struct rlimit rl;
    const int spare = 256; /* the store, the cameras, the evidence */
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return want;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)(want + spare)) {
        rlim_t need = (rlim_t)(want + spare);
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)(want + spare)) {
        int fit = (int)rl.rlim_cur - spare;
        return fit < 16 ? 16 : fit;
    }
    return want;
}

int vg__http_start(vg_server_t *s, char *err, size_t errlen)
{
    const vg_server_config_t *cfg = s->cfg;
    struct sockaddr_in addr;
    struct sockaddr_in6 addr6;
    struct vg_http *h;
    memset(&addr, 0, sizeof(addr));
    memset(&addr6, 0, sizeof(addr6));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    addr6.sin6_family = AF_INET6;
    addr6.sin6_port = htons((uint16_t)cfg->port);
    if ((cfg->ipv6 ? inet_pton(AF_INET6, cfg->listen_addr, &addr6.sin6_addr)
                   : inet_pton(AF_INET, cfg->listen_addr, &addr.sin_addr)) != 1) {
        snprintf(err, errlen, "%s: listen: '%s' is not an IP address", cfg->path, cfg->listen_addr);
        return VG_EINVAL;
    }
    int conns = fit_descriptors(cfg->max_connections);
    if (conns < cfg->max_connections)
        vg_log(COMP, VG_LOG_WARNING,
               "only %d connections fit in this process's file descriptors (limits.connections "
               "is %d): raise the limit (ulimit -n, LimitNOFILE=)",
               conns, cfg->max_connections);
    if (!(h = vg_calloc(1, sizeof(*h)))) return VG_ENOMEM;
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->wlock, NULL);
    pthread_cond_init(&h->wcond, NULL);
    s->http = h;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (cfg->ipv6) flags |= MHD_USE_IPv6;
    if (cfg->tls_cert) { /* HTTPS (libmicrohttpd's GnuTLS) */
        const char *files[2] = {cfg->tls_cert, cfg->tls_key};
        char **dst[2] = {&h->cert, &h->key};
        for (int k = 0; k < 2; k++) {
            uint8_t *pem = NULL;
            size_t len = 0;
            if (vg_file_read(files[k], 1 << 20, &pem, &len) < 0 || !len) {
                snprintf(err, errlen, "tls.%s %s: cannot read it: %s", k ? "key" : "cert", files[k],
                         strerror(errno));
                vg_free(pem);
                vg__http_stop(s);
                return VG_ENOENT;
            }
            *dst[k] = (char *)pem; /* (vg_file_read ends it with a NUL) */
        }
        flags |= MHD_USE_TLS;
    }
    unsigned threads = (unsigned)cfg->http_threads;
    /* libmicrohttpd's own idle timeout only backs up the deadlines (a client that stops reading
     * its answer); streams send a comment every KEEPALIVE_S */
    unsigned idle = (unsigned)ceil(fmax(fmax(cfg->header_timeout, cfg->body_timeout), 60));
    /* the certificate and key, only with TLS: an array libmicrohttpd reads to its end */
    struct MHD_OptionItem tls[3] = {
        {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}};
    if (h->cert) {
        tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert};
        tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->key};
    }
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
        cfg->ipv6 ? (struct sockaddr *)&addr6 : (struct sockaddr *)&addr, MHD_OPTION_ARRAY, tls,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_per_address,
        MHD_OPTION_CONNECTION_TIMEOUT, idle, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 512u, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen,
                 "cannot listen on %s:%d: %s (is another server using the port? change listen: "
                 "in %s%s)",
                 cfg->listen_addr, cfg->port, strerror(errno), cfg->path,
                 cfg->tls_cert ? "; or the tls cert and key do not make a pair" : "");
        vg__http_stop(s);
        return VG_EIO;
    }
    if (pthread_create(&h->watch, NULL, watch_main, s) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        vg__http_stop(s);
        return VG_ENOMEM;
    }
    h->watch_started = 1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    return 0;
}

void vg__http_stop(vg_server_t *s)
{
    struct vg_http *h = s->http;
    if (!h) return;
    if (h->watch_started) {
        pthread_mutex_lock(&h->wlock);
        h->wstop = 1;
        pthread_cond_broadcast(&h->wcond);
        pthread_mutex_unlock(&h->wlock);
        pthread_join(h->watch, NULL);
    }
    if (h->d) {
        /* no stream may stay suspended when the daemon stops: stopping is set, so a stream
         * that is resumed ends, and none suspends again */
        atomic_store(&s->stopping, 1);
        pthread_mutex_lock(&s->hlock);
        wake_streams(s, 1, 0);
        pthread_mutex_unlock(&s->hlock);
        MHD_stop_daemon(h->d);
    }
    pthread_mutex_lock(&s->hlock); /* the writer may still notify the hub */
    s->http = NULL;
    pthread_mutex_unlock(&s->hlock);
    pthread_mutex_destroy(&h->lock);
    pthread_mutex_destroy(&h->wlock);
    pthread_cond_destroy(&h->wcond);
    vg_free(h->cert);
    if (h->key) { /* (a private key: not left in freed memory) */
        memset(h->key, 0, strlen(h->key));
        vg_free(h->key);
    }
    vg_free(h);
}
