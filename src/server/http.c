/*
 * The HTTP layer of `vigie serve` on libmicrohttpd: a thread per connection, body collection
 * with a size limit, the live stream as a blocking content reader. Each request is reduced to a
 * vg_http_req_t and answered by vg__http_handle() (api.c): the API proper knows nothing of
 * libmicrohttpd, which is what the fuzz target drives.
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
#include <sys/socket.h>
#include <time.h>

#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>

#include "api.h"

#define COMP "http"

/* ---- libmicrohttpd glue ---- */

typedef struct conn {
    char *body;
    size_t len, cap;
    int too_large;
} conn_t;

typedef struct stream {
    vg_server_t *s;
    int64_t last;
    char *out;
    size_t out_len, out_pos;
} stream_t;

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

static void append_msg(void *opaque, int64_t seq, const char *json)
{
    stream_t *st = opaque;
    size_t need = strlen(json) + 64;
    if (st->out_len + need > st->out_pos + (1u << 20) && st->out_len) return;
    char *nb = vg_realloc(st->out, st->out_len + need);
    if (!nb) return;
    st->out = nb;
    st->out_len +=
        snprintf(st->out + st->out_len, need, "id: %lld\ndata: %s\n\n", (long long)seq, json);
    st->last = seq;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_t *st = cls;
    vg_server_t *s = st->s;
    (void)pos;
    if (st->out_pos >= st->out_len) {
        st->out_len = st->out_pos = 0;
        int64_t head;
        double waited = 0;
        pthread_mutex_lock(&s->hlock);
        while (s->head <= st->last && !atomic_load(&s->stopping) && waited < 15) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&s->hcond, &s->hlock, &ts);
            waited += 1;
        }
        head = s->head;
        pthread_mutex_unlock(&s->hlock);
        if (atomic_load(&s->stopping)) return MHD_CONTENT_READER_END_OF_STREAM;
        if (head > st->last) vg_store_feed_read(s->store, st->last, 200, append_msg, st);
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
    vg_free(st->out);
    vg_free(st);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    vg_server_t *s = cls;
    conn_t *c = *con_cls;
    (void)version;
    if (!c) {
        c = vg_calloc(1, sizeof(*c));
        if (!c) return MHD_NO;
        *con_cls = c;
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
    char client[64] = "unknown";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, client,
                  sizeof(client));
    vg_http_req_t q = {method, url,     mhd_query, mhd_header,   mhd_cookie,
                       con,    c->body, c->len,    c->too_large, client};
    vg_http_resp_t r;
    vg__http_handle(s, &q, &r);
    struct MHD_Response *resp;
    if (r.stream) {
        stream_t *st = vg_calloc(1, sizeof(*st));
        if (!st) return MHD_NO;
        st->s = s;
        st->last = r.stream_after;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st,
                                                 stream_free);
        if (!resp) {
            stream_free(st);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    } else {
        resp = MHD_create_response_from_buffer(r.len, r.body, MHD_RESPMEM_MUST_COPY);
        vg__http_resp_free(&r);
        if (!resp) return MHD_NO;
        if (r.type) MHD_add_response_header(resp, "Content-Type", r.type);
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(
        resp, "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'");
    if (r.set_cookie[0]) MHD_add_response_header(resp, "Set-Cookie", r.set_cookie);
    if (r.allow[0]) MHD_add_response_header(resp, "Allow", r.allow);
    if (r.retry_after[0]) MHD_add_response_header(resp, "Retry-After", r.retry_after);
    if (r.disposition[0]) MHD_add_response_header(resp, "Content-Disposition", r.disposition);
    enum MHD_Result ret = MHD_queue_response(con, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_t *c = *con_cls;
    (void)cls;
    (void)con;
    (void)toe;
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

int vg__http_start(vg_server_t *s, char *err, size_t errlen)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)s->cfg->port);
    if (inet_pton(AF_INET, s->cfg->listen_addr, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "%s: listen: '%s' is not an IPv4 address", s->cfg->path,
                 s->cfg->listen_addr);
        return VG_EINVAL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT, 128u,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_END);
    if (!d) {
        snprintf(err, errlen,
                 "cannot listen on %s:%d: %s (is another server using the port? change listen: "
                 "in %s)",
                 s->cfg->listen_addr, s->cfg->port, strerror(errno), s->cfg->path);
        return VG_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->cfg->port;
    s->mhd = d;
    return 0;
}

void vg__http_stop(vg_server_t *s)
{
    if (s->mhd) MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}
