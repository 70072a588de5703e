/*
 * Video sources on FFmpeg 5.1.
 *
 * What: one object per input that yields refcounted frames at the analysis size (GRAY8, plus
 * BGR24 on request) with presentation time and index, from files, network streams, image
 * sequences and V4L2 devices.
 *
 * Method:
 * - Chroma on request (input.chroma): Cb and Cr planes at half the analysis size, copied from a
 *   4:2:0 input at the analysis size, scaled plane by plane from other planar YUV (no colour
 *   conversion), through a YUV 4:2:0 pass only for RGB and packed inputs, 128 for grey ones.
 * - Demux with libavformat, decode with libavcodec (frame threads for files, slice threads for
 *   live inputs where frame threading would add latency), scale with libswscale straight into
 *   the frame's buffers (one pass to grey; the BGR pass only when asked).
 * - Every blocking FFmpeg call runs under a deadline checked by the AVIOInterruptCB: opening gets
 *   input.open_timeout, each read of a live input gets input.timeout. A read that hits the
 *   deadline is a stall; a live input that stalls, ends or errors is closed and opened again with
 *   exponential backoff (input.reconnect_delay doubling up to input.reconnect_delay_max), up to
 *   input.reconnect attempts. vg_source_interrupt() trips the same callback.
 * - Time: t = (pts - first pts) * time_base from best_effort_timestamp. A missing timestamp is
 *   extrapolated by one nominal frame duration; a timestamp that does not advance is pushed one
 *   frame duration past the previous one (t is strictly increasing); after a reconnection or a
 *   loop the clock carries on from where it was (plus the wall time of the outage for live
 *   inputs) and the frame is marked as a discontinuity. Variable frame rate is kept as is.
 * - Files end with two checks: a file whose last frame falls well short of the duration its
 *   header declares is truncated (VG_ETRUNCATED); a file where more than input.max_corrupt of
 *   the packets failed to decode is damaged (VG_ECORRUPT). The frames before were delivered.
 *
 * Invariants: index counts every decoded frame from 0, including frames skipped before
 * input.from; t never decreases; a source is used by one thread (vg_source_interrupt excepted).
 */
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <vigie/error.h>
#include <vigie/log.h>
#include <vigie/mem.h>
#include <vigie/source.h>

#include "half.h"

#define COMP "input"

static const char *const scaler_names[] = {"fast_bilinear", "bilinear", "bicubic", "area", NULL};

#define OFF(x)     offsetof(vg_source_params_t, x)
#define O(n, t, f) .name = n, .type = t, .offset = OFF(f)
static const vg_option_t source_options[] = {
    {O("width", VG_OPT_INT, width), .def.i = 640, .min = 0, .max = 8192, .unit = "px",
     .help = "analysis width; wider inputs are scaled down keeping the aspect ratio (0 keeps "
             "the input width)"},
    {O("height", VG_OPT_INT, height), .def.i = 0, .min = 0, .max = 8192, .unit = "px",
     .help = "analysis height (0 keeps the aspect ratio)"},
    {O("upscale", VG_OPT_BOOL, upscale), .def.i = 0, .max = 1,
     .help = "allow scaling smaller inputs up to width/height"},
    {O("color", VG_OPT_BOOL, color), .def.i = 0, .max = 1,
     .help = "also deliver colour frames (set by analysers that need them)"},
    {O("chroma", VG_OPT_BOOL, chroma), .def.i = 0, .max = 1,
     .help = "also deliver the chroma planes at half the analysis size (set by analysers that "
             "read colour here and there, such as fire)"},
    {O("scaler", VG_OPT_ENUM, scaler), .def.i = VG_SCALER_BILINEAR, .choices = scaler_names,
     .help = "scaling method"},
    {O("threads", VG_OPT_INT, threads), .def.i = 0, .min = 0, .max = 64,
     .help = "decoder threads (0: one per core, at most 16; one per camera in a vigie serve with "
             "at least as many cameras as cores)"},
    {O("from", VG_OPT_DOUBLE, from), .def.d = 0, .min = 0, .max = 1e9, .unit = "s",
     .help = "skip the input before this time"},
    {O("to", VG_OPT_DOUBLE, to), .def.d = 0, .min = 0, .max = 1e9, .unit = "s",
     .help = "stop after this time (0: at the end)"},
    {O("timeout", VG_OPT_DOUBLE, timeout), .def.d = 5, .min = 0.1, .max = 3600, .unit = "s",
     .flags = VG_OPT_LIVE, .help = "a live input that delivers nothing for this long is stalled"},
    {O("open_timeout", VG_OPT_DOUBLE, open_timeout), .def.d = 10, .min = 0.1, .max = 3600,
     .unit = "s", .flags = VG_OPT_LIVE, .help = "longest time to open an input"},
    {O("reconnect", VG_OPT_INT, reconnect), .def.i = 5, .min = -1, .max = 1000000,
     .flags = VG_OPT_LIVE,
     .help = "live inputs: reconnection attempts after a failure (-1: forever)"},
    {O("reconnect_delay", VG_OPT_DOUBLE, reconnect_delay), .def.d = 0.5, .min = 0, .max = 600,
     .unit = "s", .flags = VG_OPT_LIVE,
     .help = "first wait before reconnecting; doubles after each failure"},
    {O("reconnect_delay_max", VG_OPT_DOUBLE, reconnect_delay_max), .def.d = 30, .min = 0,
     .max = 3600, .unit = "s", .flags = VG_OPT_LIVE,
     .help = "longest wait between reconnection attempts"},
    {O("rtsp_tcp", VG_OPT_BOOL, rtsp_tcp), .def.i = 1, .max = 1,
     .help = "RTSP over TCP (interleaved) rather than UDP"},
    {O("format", VG_OPT_STRING, format), .def.s = "", .max = 64,
     .help = "force an FFmpeg input format by name (empty: detect)"},
    {O("loop", VG_OPT_BOOL, loop), .def.i = 0, .max = 1,
     .help = "files: start again at the end (for demonstrations)"},
    {O("max_corrupt", VG_OPT_DOUBLE, max_corrupt), .def.d = 0.02, .min = 0, .max = 1,
     .help = "fraction of undecodable packets above which a file is reported damaged"},
    {O("rate", VG_OPT_DOUBLE, rate), .def.d = 25, .min = 0.01, .max = 1000, .unit = "fps",
     .help = "image sequences: frames per second (pictures carry no time; speeds depend on it)"},
    {O("realtime", VG_OPT_BOOL, realtime), .def.i = 0, .max = 1,
     .help = "files and image sequences: deliver frames at their own pace, as a camera would "
             "(vigie serve's file cameras), instead of as fast as they decode"},
    {O("max_rate", VG_OPT_DOUBLE, max_rate), .def.d = 0, .min = 0, .max = 1000, .unit = "fps",
     .help = "analyse at most this many frames a second (0: every frame): the others are decoded "
             "but neither scaled nor analysed, which saves most of a camera's cost; frame numbers "
             "still count every decoded frame"},
    {.name = NULL},
};
#undef O
#undef OFF

const vg_option_group_t vg_source_option_group = {"input", "video input and ingest",
                                                  source_options};

struct vg_source {
    char *url;
    double pace_wall0, pace_t0; /* realtime: wall time (monotonic) of the first frame and its t */
    int pace_set;
    char shown[512]; /* url without credentials, for messages */
    vg_source_params_t p;
    const vg_clock_t *clock;
    int kind;

    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *av;
    int stream;
    int draining;
    struct SwsContext *sws_gray, *sws_color;
    struct SwsContext *sws_chroma; /* one chroma plane to half the analysis size, or to 4:2:0 */
    uint8_t *scratch;              /* the luma of that 4:2:0 pass (RGB and packed inputs) */
    uint16_t *half_tmp;            /* a row's sums for the 2:1 path (half.c) */
    size_t half_cap;               /* its size, values */
    int out_w, out_h, geometry_warned;

    atomic_int interrupted;
    const atomic_int *cancel; /* the caller's stop flag (vg_source_open_cancellable), or NULL */
    double deadline;          /* clock time after which FFmpeg calls are interrupted; 0: none */
    int fifo;                 /* the input is a named pipe */
    int fifo_fd; /* its descriptor, non-blocking, handed to FFmpeg as pipe:N; -1: none */

    /* timing */
    int64_t index;
    int64_t first_pts;
    int have_first_pts;
    double t_offset, last_t, frame_dur, outage_start;
    int have_t, pending_discontinuity;
    double due; /* input.max_rate: time of the next frame to deliver (-1: the next one) */

    vg_source_stats_t st;
    int64_t packets, corrupt_frames;
    double dur_tolerance;
    vg_source_info_t info;
    char codec_name[64], format_name[64];
};

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static void register_devices(void)
{
    avdevice_register_all();
    av_log_set_level(AV_LOG_QUIET);
}

int vg_source_kind_of(const char *url)
{
    if (!strncmp(url, "v4l2:", 5) || !strncmp(url, "/dev/video", 10)) return VG_SOURCE_DEVICE;
    if (strstr(url, "://")) {
        if (!strncmp(url, "file://", 7)) return VG_SOURCE_FILE;
        return VG_SOURCE_NETWORK;
    }
    if (strchr(url, '%')) return VG_SOURCE_SEQUENCE;
    return VG_SOURCE_FILE;
}

static int is_live(const vg_source_t *s)
{
    return s->kind == VG_SOURCE_NETWORK || s->kind == VG_SOURCE_DEVICE;
}

/* Hide "user:password@" in URLs shown in messages. */
static void redact(char *dst, size_t len, const char *url)
{
    const char *scheme = strstr(url, "://"), *at, *slash;
    if (!scheme) {
        snprintf(dst, len, "%s", url);
        return;
    }
    at = strchr(scheme + 3, '@');
    slash = strchr(scheme + 3, '/');
    if (at && (!slash || at < slash))
        snprintf(dst, len, "%.*s***@%s", (int)(scheme + 3 - url), url, at + 1);
    else
        snprintf(dst, len, "%s", url);
}

static int interrupt_cb(void *opaque)
{
    vg_source_t *s = opaque;
    if (atomic_load(&s->interrupted) || (s->cancel && atomic_load(s->cancel))) return 1;
    return s->deadline > 0 && vg_clock_now(s->clock) > s->deadline;
}

static void set_deadline(vg_source_t *s, double seconds)
{
    s->deadline = seconds > 0 ? vg_clock_now(s->clock) + seconds : 0;
}

static int deadline_passed(const vg_source_t *s)
{
    return s->deadline > 0 && vg_clock_now(s->clock) > s->deadline;
}

static void close_input(vg_source_t *s)
{
    avcodec_free_context(&s->dec);
    avformat_close_input(&s->fmt);
    if (s->fifo_fd >= 0) close(s->fifo_fd);
    s->fifo_fd = -1;
    s->draining = 0;
}

static const char *av_err(int err, char *buf, size_t len)
{
    av_strerror(err, buf, len);
    return buf;
}

/* Maps a failure to open the input to vigie's code and a message with what to do. */
static int open_error(vg_source_t *s, int err, int log_level)
{
    char e[128];
    av_err(err, e, sizeof(e));
    if (atomic_load(&s->interrupted)) return VG_ESTOPPED;
    if (is_live(s)) {
        /* AVERROR_EXIT without a stop request is our deadline firing */
        if (err == AVERROR_EXIT || err == AVERROR(ETIMEDOUT))
            snprintf(e, sizeof(e), "no answer within %.1f s (input.open_timeout)",
                     s->p.open_timeout);
        const char *why = e;
        vg_log(COMP, log_level,
               "%s: cannot open the stream: %s. Check that the camera or server is up, the "
               "address and credentials are right and this machine can reach it",
               s->shown, why);
        return VG_EUNREACHABLE;
    }
    if (err == AVERROR(ENOENT)) {
        vg_log(COMP, log_level, "%s: no such file. Check the path", s->shown);
        return VG_ENOENT;
    }
    if (err == AVERROR(EACCES)) {
        vg_log(COMP, log_level, "%s: permission denied. Check the file's permissions", s->shown);
        return VG_EACCES;
    }
    if (err == AVERROR_PROTOCOL_NOT_FOUND) {
        vg_log(COMP, log_level,
               "%s: unknown protocol. Use a file path, an image pattern (dir/in%%06d.jpg), "
               "rtsp://, http(s):// or /dev/videoN",
               s->shown);
        return VG_EFORMAT;
    }
    vg_log(COMP, log_level,
           "%s: not a video FFmpeg can read (%s): the file is damaged, truncated or not a "
           "video. Check it with 'ffprobe %s'",
           s->shown, e, s->shown);
    return VG_EFORMAT;
}

/* A named pipe: open(2) of a pipe blocks until a writer comes, and no signal or stop request
 * ends it. So it is opened non-blocking and polled until data arrives, input.open_timeout or a
 * stop; FFmpeg then reads the descriptor (pipe:N), and as it stays non-blocking, FFmpeg's reads
 * wait in its own loop that checks the interrupt callback: a stop is prompt at any time. */
static int open_fifo(vg_source_t *s, char *url, size_t len)
{
    int fd = open(s->url, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return open_error(s, AVERROR(errno), VG_LOG_ERROR);
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        int n = poll(&pf, 1, 50);
        if (n > 0 && (pf.revents & (POLLIN | POLLHUP))) break;
        if (n < 0 && errno != EINTR) {
            close(fd);
            return open_error(s, AVERROR(errno), VG_LOG_ERROR);
        }
        if (atomic_load(&s->interrupted) || (s->cancel && atomic_load(s->cancel))) {
            close(fd);
            return VG_ESTOPPED;
        }
        if (deadline_passed(s)) {
            close(fd);
            vg_log(COMP, VG_LOG_ERROR,
                   "%s: a named pipe that nobody writes to: no data within %.1f s "
                   "(input.open_timeout). Start the program that feeds it",
                   s->shown, s->p.open_timeout);
            return VG_EUNREACHABLE;
        }
    }
    s->fifo_fd = fd;
    snprintf(url, len, "pipe:%d", fd);
    return 0;
}

/* Image sequences: FFmpeg's image2 looks for the first index in 0..4. */
static int check_sequence(vg_source_t *s)
{
    char path[4096];
    for (int i = 0; i < 5; i++) {
        if (snprintf(path, sizeof(path), s->url, i) >= (int)sizeof(path)) break;
        if (access(path, F_OK) == 0) return 0;
    }
    vg_log(COMP, VG_LOG_ERROR,
           "%s: the image-sequence pattern matches no file (looked for indices 0 to 4). Check the "
           "directory and the pattern, e.g. input/in%%06d.jpg",
           s->shown);
    return VG_ENOVIDEO;
}

void vg_source_output_size(const vg_source_params_t *p, int in_w, int in_h, int *out_w, int *out_h)
{
    int w = in_w, h = in_h;
    if (p->width > 0 && (p->upscale || p->width < in_w)) w = p->width;
    if (p->height > 0) {
        if (p->upscale || p->height < in_h) h = p->height;
        if (p->width <= 0) w = (int)lround((double)in_w * h / in_h);
    } else {
        h = (int)lround((double)in_h * w / in_w);
    }
    *out_w = w < 1 ? 1 : w;
    *out_h = h < 1 ? 1 : h;
}

static void compute_output_size(vg_source_t *s, int in_w, int in_h)
{
    vg_source_output_size(&s->p, in_w, in_h, &s->out_w, &s->out_h);
}

/* Matroska muxers store each stream's length as a "DURATION" tag (HH:MM:SS.fraction). */
static double stream_duration_tag(const AVStream *st)
{
    const AVDictionaryEntry *e = av_dict_get(st->metadata, "DURATION", NULL, 0);
    int h, m;
    double sec;
    if (!e || sscanf(e->value, "%d:%d:%lf", &h, &m, &sec) != 3) return 0;
    if (h < 0 || m < 0 || sec < 0) return 0;
    return h * 3600.0 + m * 60.0 + sec;
}

static int open_once(vg_source_t *s, int log_level)
{
    const AVInputFormat *ifmt = NULL;
    AVDictionary *opts = NULL;
    const AVCodec *codec = NULL;
    const char *url = s->url;
    AVStream *st;
    char e[128];
    int ret;

    if (s->kind == VG_SOURCE_DEVICE) {
        ifmt = av_find_input_format("video4linux2");
        if (!strncmp(url, "v4l2:", 5)) url += 5;
        if (!ifmt) {
            vg_log(COMP, VG_LOG_ERROR, "%s: this FFmpeg has no V4L2 support", s->shown);
            return VG_ENOSYS;
        }
    }
    if (s->p.format && s->p.format[0]) {
        ifmt = av_find_input_format(s->p.format);
        if (!ifmt) {
            vg_log(COMP, VG_LOG_ERROR,
                   "%s: input.format '%s' is not an FFmpeg input format (see 'ffmpeg -formats')",
                   s->shown, s->p.format);
            return VG_EINVAL;
        }
    }
    if (s->kind == VG_SOURCE_SEQUENCE) {
        char r[32];
        snprintf(r, sizeof(r), "%g", s->p.rate);
        av_dict_set(&opts, "framerate", r, 0);
    }
    if (s->kind == VG_SOURCE_NETWORK) {
        char us[32];
        snprintf(us, sizeof(us), "%lld", (long long)(s->p.timeout * 1e6));
        if (!strncmp(url, "rtsp", 4)) {
            av_dict_set(&opts, "rtsp_transport", s->p.rtsp_tcp ? "tcp" : "udp", 0);
            av_dict_set(&opts, "timeout", us, 0);
        } else if (!strncmp(url, "http", 4)) {
            av_dict_set(&opts, "timeout", us, 0);
        }
        av_dict_set(&opts, "rw_timeout", us, 0);
    }

    set_deadline(s, s->p.open_timeout);
    char fifo_url[32];
    if (s->fifo) {
        if ((ret = open_fifo(s, fifo_url, sizeof(fifo_url))) < 0) {
            av_dict_free(&opts);
            s->deadline = 0;
            return ret;
        }
        url = fifo_url;
    }
    s->fmt = avformat_alloc_context();
    if (!s->fmt) {
        av_dict_free(&opts);
        close_input(s);
        return VG_ENOMEM;
    }
    s->fmt->interrupt_callback.callback = interrupt_cb;
    s->fmt->interrupt_callback.opaque = s;
    ret = avformat_open_input(&s->fmt, url, ifmt, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        s->deadline = 0;
        ret = open_error(s, ret, log_level);
        close_input(s);
        return ret;
    }
    ret = avformat_find_stream_info(s->fmt, NULL);
    if (ret < 0) {
        s->deadline = 0;
        ret = open_error(s, ret, log_level);
        close_input(s);
        return ret;
    }
    s->deadline = 0;
    ret = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (ret == AVERROR_DECODER_NOT_FOUND) {
        int idx = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        const char *name =
            idx >= 0 ? avcodec_get_name(s->fmt->streams[idx]->codecpar->codec_id) : "?";
        vg_log(COMP, VG_LOG_ERROR,
               "%s: no decoder for its video codec '%s' in this FFmpeg. Convert it, e.g. "
               "'ffmpeg -i %s -c:v libx264 out.mp4'",
               s->shown, name, s->shown);
        close_input(s);
        return VG_ENOCODEC;
    }
    if (ret < 0) {
        vg_log(COMP, VG_LOG_ERROR, "%s: holds no video stream. Check that it is a video", s->shown);
        close_input(s);
        return VG_ENOVIDEO;
    }
    s->stream = ret;
    st = s->fmt->streams[ret];
    for (unsigned i = 0; i < s->fmt->nb_streams; i++)
        if ((int)i != s->stream) s->fmt->streams[i]->discard = AVDISCARD_ALL;

    s->dec = avcodec_alloc_context3(codec);
    if (!s->dec) {
        close_input(s);
        return VG_ENOMEM;
    }
    if ((ret = avcodec_parameters_to_context(s->dec, st->codecpar)) < 0) goto fail_dec;
    s->dec->thread_count = s->p.threads > 0 ? s->p.threads : 0;
    if (!s->p.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->dec->thread_count = n < 1 ? 1 : n > 16 ? 16 : (int)n;
    }
    s->dec->thread_type = is_live(s) ? FF_THREAD_SLICE : FF_THREAD_FRAME | FF_THREAD_SLICE;
    s->dec->pkt_timebase = st->time_base;
    if ((ret = avcodec_open2(s->dec, codec, NULL)) < 0) goto fail_dec;
    if (s->dec->width < 1 || s->dec->height < 1) {
        vg_log(COMP, VG_LOG_ERROR,
               "%s: the video stream declares no picture size: the file is damaged", s->shown);
        close_input(s);
        return VG_EFORMAT;
    }

    /* Facts and the nominal frame duration. */
    AVRational fr = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    double fps = fr.num && fr.den ? av_q2d(fr) : 0;
    if (fps > 0 && fps < 1000) s->frame_dur = 1.0 / fps;
    if (!s->frame_dur) s->frame_dur = 0.04;
    if (!s->out_w) compute_output_size(s, s->dec->width, s->dec->height);
    snprintf(s->codec_name, sizeof(s->codec_name), "%s", codec->name);
    snprintf(s->format_name, sizeof(s->format_name), "%s", s->fmt->iformat->name);
    s->info.kind = s->kind;
    s->info.in_w = s->dec->width;
    s->info.in_h = s->dec->height;
    s->info.w = s->out_w;
    s->info.h = s->out_h;
    s->info.fps = fps;
    s->info.codec = s->codec_name;
    s->info.format = s->format_name;
    s->info.duration = 0;
    s->info.nb_frames = is_live(s) ? 0 : st->nb_frames;
    /* How far short of the declared length a file may end before it counts as truncated:
     * a few frames when the video stream itself declares its length, more when only the
     * container's duration is known (it may include a longer audio track). */
    s->dur_tolerance = 0;
    if (!is_live(s) && s->kind != VG_SOURCE_SEQUENCE && !s->fifo) {
        if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
            s->info.duration = st->duration * av_q2d(st->time_base);
            s->dur_tolerance = 3 * s->frame_dur + 0.01 * s->info.duration;
        } else if (stream_duration_tag(st) > 0) {
            s->info.duration = stream_duration_tag(st);
            s->dur_tolerance = 3 * s->frame_dur + 0.01 * s->info.duration;
        } else if (s->fmt->duration > 0 &&
                   s->fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE) {
            s->info.duration = s->fmt->duration / (double)AV_TIME_BASE;
            s->dur_tolerance = 1.0 + 0.02 * s->info.duration;
        }
        /* Containers that count frames in their header (AVI) say more than a duration
         * FFmpeg may have re-estimated from what it could read. */
        if (st->nb_frames > 0 && fps > 0 && st->nb_frames / fps > s->info.duration) {
            s->info.duration = st->nb_frames / fps;
            s->dur_tolerance = 3 * s->frame_dur + 0.01 * s->info.duration;
        }
    } else if (s->kind == VG_SOURCE_SEQUENCE && st->nb_frames > 0 && fps > 0) {
        s->info.duration = st->nb_frames / fps;
    }
    s->have_first_pts = 0;
    return 0;

fail_dec:
    vg_log(COMP, VG_LOG_ERROR, "%s: cannot open the %s decoder: %s", s->shown, codec->name,
           av_err(ret, e, sizeof(e)));
    close_input(s);
    return ret == AVERROR(ENOMEM) ? VG_ENOMEM : VG_EFORMAT;
}

/* Sleeps up to @seconds in small steps so vg_source_interrupt stays prompt. */
static int wait_interruptible(vg_source_t *s, double seconds)
{
    double end = vg_clock_now(s->clock) + seconds;
    for (;;) {
        double left = end - vg_clock_now(s->clock);
        if (atomic_load(&s->interrupted)) return VG_ESTOPPED;
        if (left <= 0) return 0;
        vg_clock_sleep(s->clock, left < 0.05 ? left : 0.05);
    }
}

/*
 * Live inputs: close, wait with backoff, open again, as many times as input.reconnect allows.
 * @cause is the error that brought us here (VG_ESTALLED, VG_EUNREACHABLE, VG_EOF).
 */
static int reconnect(vg_source_t *s, int cause, const char *why)
{
    double delay = s->p.reconnect_delay;
    int attempts = s->p.reconnect;
    char total[32];
    int ret = cause;

    if (attempts < 0)
        snprintf(total, sizeof(total), "unlimited");
    else
        snprintf(total, sizeof(total), "%d", attempts);
    close_input(s);
    if (s->have_t && !s->outage_start) s->outage_start = vg_clock_now(s->clock);
    for (int i = 1; attempts < 0 || i <= attempts; i++) {
        vg_log(COMP, VG_LOG_WARNING, "%s: %s; reconnecting in %.1f s (attempt %d of %s)", s->shown,
               why, delay, i, total);
        if (wait_interruptible(s, delay) < 0) return VG_ESTOPPED;
        ret = open_once(s, VG_LOG_VERBOSE);
        if (ret == 0) {
            s->st.reconnects++;
            s->pending_discontinuity = 1;
            vg_log(COMP, VG_LOG_WARNING, "%s: reconnected after %d attempt%s", s->shown, i,
                   i > 1 ? "s" : "");
            return 0;
        }
        if (ret == VG_ESTOPPED || ret == VG_ENOMEM) return ret;
        delay = fmin(delay * 2, s->p.reconnect_delay_max);
        if (delay <= 0) delay = 0.1;
    }
    vg_log(COMP, VG_LOG_ERROR,
           "%s: %s, and %s reconnection attempt%s failed. Check that the camera or server is up "
           "and reachable; raise input.reconnect to keep trying longer",
           s->shown, why, total, attempts == 1 ? "" : "s");
    return cause == VG_ESTALLED ? VG_ESTALLED : VG_EUNREACHABLE;
}

int vg_source_open(vg_source_t **out, const char *url, const vg_source_params_t *params,
                   const vg_clock_t *clock)
{
    return vg_source_open_cancellable(out, url, params, clock, NULL);
}

int vg_source_open_cancellable(vg_source_t **out, const char *url, const vg_source_params_t *params,
                               const vg_clock_t *clock, const atomic_int *cancel)
{
    vg_source_t *s;
    int ret;
    struct stat sb;

    pthread_once(&register_once, register_devices);
    s = vg_calloc(1, sizeof(*s));
    if (!s) return VG_ENOMEM;
    s->cancel = cancel;
    s->fifo_fd = -1;
    s->due = -1;
    s->url = vg_strdup(url);
    if (!s->url) goto nomem;
    if (params)
        ret = vg_opt_copy(&s->p, params, source_options);
    else
        ret = vg_opt_defaults(&s->p, source_options);
    if (ret < 0) goto nomem;
    s->clock = clock ? clock : vg_clock_monotonic();
    s->kind = vg_source_kind_of(url);
    redact(s->shown, sizeof(s->shown), url);
    atomic_init(&s->interrupted, 0);
    s->pkt = av_packet_alloc();
    s->av = av_frame_alloc();
    if (!s->pkt || !s->av) goto nomem;

    if (!*url) {
        vg_log(COMP, VG_LOG_ERROR,
               "no input given: name a video file, an image pattern, a URL "
               "or a device");
        ret = VG_EINVAL;
        goto fail;
    }
    if (s->kind == VG_SOURCE_FILE && !strstr(url, "://")) {
        if (stat(url, &sb) != 0) {
            ret = open_error(s, AVERROR(errno), VG_LOG_ERROR);
            goto fail;
        }
        if (S_ISDIR(sb.st_mode)) {
            vg_log(COMP, VG_LOG_ERROR,
                   "%s: is a directory. For an image sequence give a pattern such as "
                   "%s/in%%06d.jpg",
                   s->shown, s->shown);
            ret = VG_EINVAL;
            goto fail;
        }
        s->fifo = S_ISFIFO(sb.st_mode);
        if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
            vg_log(COMP, VG_LOG_ERROR, "%s: the file is empty (0 bytes)", s->shown);
            ret = VG_EFORMAT;
            goto fail;
        }
    }
    if (s->kind == VG_SOURCE_SEQUENCE && (ret = check_sequence(s)) < 0) goto fail;

    ret = open_once(s, is_live(s) ? VG_LOG_WARNING : VG_LOG_ERROR);
    if (ret == VG_EUNREACHABLE && s->p.reconnect != 0 && !s->fifo)
        ret = reconnect(s, VG_EUNREACHABLE, "cannot open the stream");
    if (ret < 0) goto fail;
    *out = s;
    return 0;
nomem:
    ret = VG_ENOMEM;
fail:
    vg_source_free(&s);
    return ret;
}

void vg_source_free(vg_source_t **ps)
{
    vg_source_t *s = *ps;
    if (!s) return;
    close_input(s);
    av_packet_free(&s->pkt);
    av_frame_free(&s->av);
    sws_freeContext(s->sws_gray);
    sws_freeContext(s->sws_color);
    sws_freeContext(s->sws_chroma);
    vg_free(s->scratch);
    vg_free(s->half_tmp);
    vg_opt_free(&s->p, source_options);
    vg_free(s->url);
    vg_free(s);
    *ps = NULL;
}

void vg_source_interrupt(vg_source_t *s)
{
    atomic_store(&s->interrupted, 1);
}

void vg_source_get_info(const vg_source_t *s, vg_source_info_t *info)
{
    *info = s->info;
}

void vg_source_get_stats(const vg_source_t *s, vg_source_stats_t *st)
{
    *st = s->st;
}

const char *vg_source_url(const vg_source_t *s)
{
    return s->shown;
}

static const int sws_flags[] = {SWS_FAST_BILINEAR, SWS_BILINEAR, SWS_BICUBIC, SWS_AREA};

/* half_tmp with room for @n values (the picture's size may change mid-stream). */
static int half_buf(vg_source_t *s, size_t n)
{
    if (s->half_cap >= n) return 0;
    uint16_t *t = vg_realloc(s->half_tmp, sizeof(uint16_t) * n + 64);
    if (!t) return VG_ENOMEM;
    s->half_tmp = t;
    s->half_cap = n;
    return 0;
}

/* The Cb, Cr planes of @f from the decoded picture (see the design note). */
static int convert_chroma(vg_source_t *s, vg_frame_t *f, const AVPixFmtDescriptor *d, int flags)
{
    AVFrame *av = s->av;
    int cw = f->cb.w, ch = f->cb.h;
    vg_image_t *pl[2] = {&f->cb, &f->cr};
    if (d && !(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) && d->nb_components <= 2) {
        for (int k = 0; k < 2; k++) /* grey: no colour */
            for (int y = 0; y < ch; y++) memset(vg_image_row(pl[k], y), 128, (size_t)cw);
        return 0;
    }
    int planar = d && !(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) &&
                 (d->flags & AV_PIX_FMT_FLAG_PLANAR) && d->nb_components >= 3 &&
                 d->comp[1].plane == 1 && d->comp[2].plane == 2 && d->comp[1].depth == 8 &&
                 d->comp[1].step == 1 && d->comp[2].step == 1 && d->comp[1].shift == 0;
    if (planar) {
        int sw = AV_CEIL_RSHIFT(av->width, d->log2_chroma_w);
        int sh = AV_CEIL_RSHIFT(av->height, d->log2_chroma_h);
        /* exactly halved, bilinear: half.c (as the luma of a 1280x720 camera) */
        int halve = flags == SWS_BILINEAR && sw == 2 * cw && sh == 2 * ch && cw >= 2 && ch >= 1;
        if (halve && half_buf(s, 2 * (size_t)sw) < 0) halve = 0;
        if (sw != cw || sh != ch) {
            s->sws_chroma = sws_getCachedContext(s->sws_chroma, sw, sh, AV_PIX_FMT_GRAY8, cw, ch,
                                                 AV_PIX_FMT_GRAY8, flags, NULL, NULL, NULL);
            if (!s->sws_chroma) return VG_EFORMAT;
        }
        for (int k = 0; k < 2; k++) {
            const uint8_t *in = av->data[1 + k];
            int ls = av->linesize[1 + k];
            if (sw == cw && sh == ch) {
                for (int y = 0; y < ch; y++)
                    memcpy(vg_image_row(pl[k], y), in + (ptrdiff_t)y * ls, (size_t)cw);
            } else if (halve) {
                vg__half_plane(in, ls, sw, sh, pl[k]->data, pl[k]->stride, s->half_tmp);
            } else {
                const uint8_t *const sp[4] = {in};
                int ss[4] = {ls};
                uint8_t *dp[4] = {pl[k]->data};
                int ds[4] = {(int)pl[k]->stride};
                sws_scale(s->sws_chroma, sp, ss, 0, sh, dp, ds);
            }
        }
        return 0;
    }
    /* RGB, packed YUV: one pass to 4:2:0 at the analysis size, the luma thrown away */
    if (!s->scratch && !(s->scratch = vg_malloc((size_t)s->out_w * s->out_h))) return VG_ENOMEM;
    s->sws_chroma = sws_getCachedContext(s->sws_chroma, av->width, av->height, av->format, s->out_w,
                                         s->out_h, AV_PIX_FMT_YUV420P, flags, NULL, NULL, NULL);
    if (!s->sws_chroma) return VG_EFORMAT;
    uint8_t *dp[4] = {s->scratch, f->cb.data, f->cr.data};
    int ds[4] = {s->out_w, (int)f->cb.stride, (int)f->cr.stride};
    sws_scale(s->sws_chroma, (const uint8_t *const *)av->data, av->linesize, 0, av->height, dp, ds);
    return 0;
}

/* Scales the decoded picture into a new vg_frame_t. */
static int convert(vg_source_t *s, vg_frame_t **out)
{
    AVFrame *av = s->av;
    vg_frame_t *f;
    int ret, flags = sws_flags[s->p.scaler];
    enum AVPixelFormat src = av->format;

    if ((av->width != s->info.in_w || av->height != s->info.in_h) && !s->geometry_warned) {
        vg_log(COMP, VG_LOG_WARNING, "%s: picture size changed from %dx%d to %dx%d at frame %lld",
               s->shown, s->info.in_w, s->info.in_h, av->width, av->height, (long long)s->index);
        s->geometry_warned = 1;
    }
    ret = vg_frame_new(&f, s->out_w, s->out_h,
                       (s->p.color ? VG_FRAME_COLOR : 0) | (s->p.chroma ? VG_FRAME_CHROMA : 0));
    if (ret < 0) return ret;
    f->in_w = av->width;
    f->in_h = av->height;

    /* Planar 8-bit YUV (and grey): the analysis image is the luma plane, scaled as is, with no
     * range conversion and no chroma work; a plain copy when the size is unchanged. Other
     * formats (RGB, packed YUV from webcams, high bit depth) go through libswscale to grey. */
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(src);
    int luma8 = d && !(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) &&
                (d->flags & AV_PIX_FMT_FLAG_PLANAR || d->nb_components == 1) &&
                d->comp[0].depth == 8 && d->comp[0].plane == 0 && d->comp[0].step == 1 &&
                d->comp[0].shift == 0;
    /* 8-bit 4:2:0 halved exactly, bilinear (a 1280x720 camera analysed at 640x360): half.c,
     * libswscale's filter without its generic machinery */
    int half = s->p.scaler == VG_SCALER_BILINEAR &&
               (src == AV_PIX_FMT_YUV420P || src == AV_PIX_FMT_YUVJ420P) &&
               av->width == 2 * s->out_w && av->height == 2 * s->out_h && s->out_w >= 4 &&
               s->out_h >= 2;
    if (half && half_buf(s, 2 * (size_t)av->width) < 0) half = 0;
    if (src == AV_PIX_FMT_PAL8 && av->width == s->out_w && av->height == s->out_h) {
        /* Palette images (ground-truth masks, ROI bitmaps): exact values, the palette entry's
         * full-range luma (a grey palette maps to its own level). */
        const uint32_t *pal = (const uint32_t *)av->data[1];
        uint8_t lut[256];
        for (int i = 0; i < 256; i++) {
            uint32_t c = pal[i];
            int r = (c >> 16) & 255, g = (c >> 8) & 255, b = c & 255;
            lut[i] = (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000);
        }
        for (int y = 0; y < s->out_h; y++) {
            const uint8_t *in = av->data[0] + (ptrdiff_t)y * av->linesize[0];
            uint8_t *o = vg_image_row(&f->image, y);
            for (int x = 0; x < s->out_w; x++) o[x] = lut[in[x]];
        }
    } else if (half) {
        vg__half_plane(av->data[0], av->linesize[0], av->width, av->height, f->image.data,
                       f->image.stride, s->half_tmp);
    } else if (luma8 && av->width == s->out_w && av->height == s->out_h) {
        for (int y = 0; y < s->out_h; y++)
            memcpy(vg_image_row(&f->image, y), av->data[0] + (ptrdiff_t)y * av->linesize[0],
                   (size_t)s->out_w);
    } else {
        enum AVPixelFormat gsrc = luma8 ? AV_PIX_FMT_GRAY8 : src;
        s->sws_gray = sws_getCachedContext(s->sws_gray, av->width, av->height, gsrc, s->out_w,
                                           s->out_h, AV_PIX_FMT_GRAY8, flags, NULL, NULL, NULL);
        if (!s->sws_gray) goto fail_sws;
        uint8_t *dst[4] = {f->image.data};
        int dst_stride[4] = {(int)f->image.stride};
        const uint8_t *const src_planes[4] = {av->data[0]};
        int src_stride[4] = {av->linesize[0]};
        sws_scale(s->sws_gray, luma8 ? src_planes : (const uint8_t *const *)av->data,
                  luma8 ? src_stride : av->linesize, 0, av->height, dst, dst_stride);
    }
    if (s->p.color && half) {
        const int ls[3] = {av->linesize[0], av->linesize[1], av->linesize[2]};
        vg__half_bgr((const uint8_t *const *)av->data, ls, av->width, av->height,
                     src == AV_PIX_FMT_YUVJ420P, f->image.data, f->image.stride, f->color.data,
                     f->color.stride, s->half_tmp);
    } else if (s->p.color) {
        s->sws_color = sws_getCachedContext(s->sws_color, av->width, av->height, src, s->out_w,
                                            s->out_h, AV_PIX_FMT_BGR24, flags, NULL, NULL, NULL);
        if (!s->sws_color) goto fail_sws;
        uint8_t *dst[4] = {f->color.data};
        int dst_stride[4] = {(int)f->color.stride};
        sws_scale(s->sws_color, (const uint8_t *const *)av->data, av->linesize, 0, av->height, dst,
                  dst_stride);
    }
    if (s->p.chroma && (ret = convert_chroma(s, f, d, flags)) < 0) {
        if (ret != VG_ENOMEM) goto fail_sws;
        vg_frame_unref(&f);
        return ret;
    }
    *out = f;
    return 0;
fail_sws:
    vg_log(COMP, VG_LOG_ERROR, "%s: cannot convert pixel format %s", s->shown,
           av_get_pix_fmt_name(src));
    vg_frame_unref(&f);
    return VG_EFORMAT;
}

/* Presentation time of the decoded picture in seconds from the input's start. */
static double frame_time(vg_source_t *s)
{
    AVStream *st = s->fmt->streams[s->stream];
    int64_t pts = s->av->best_effort_timestamp;
    double t;

    if (pts == AV_NOPTS_VALUE) pts = s->av->pts;
    if (pts == AV_NOPTS_VALUE) {
        t = s->have_t ? s->last_t + s->frame_dur : 0;
    } else {
        if (!s->have_first_pts) {
            s->first_pts = st->start_time != AV_NOPTS_VALUE && st->start_time <= pts && !s->have_t
                               ? st->start_time
                               : pts;
            s->have_first_pts = 1;
            if (s->have_t) {
                /* After a reconnection or a loop: carry on from the last time. */
                double gap = s->frame_dur;
                if (s->outage_start > 0 && is_live(s))
                    gap = fmax(gap, vg_clock_now(s->clock) - s->outage_start);
                s->t_offset = s->last_t + gap;
            }
        }
        t = s->t_offset + (double)(pts - s->first_pts) * av_q2d(st->time_base);
    }
    if (s->have_t && t <= s->last_t) t = s->last_t + s->frame_dur;
    s->outage_start = 0;
    return t;
}

static int check_end_of_file(vg_source_t *s)
{
    double end = s->have_t ? s->last_t + s->frame_dur : 0;
    double dur = s->info.duration;

    if (s->packets > 0 && s->st.frames == 0 && s->st.decode_errors > 0) {
        vg_log(COMP, VG_LOG_ERROR,
               "%s: no frame could be decoded (%lld decoding errors): the video data is damaged",
               s->shown, (long long)s->st.decode_errors);
        return VG_ECORRUPT;
    }
    if (dur > 0 && s->p.to <= 0 && s->p.from < dur && end < dur - s->dur_tolerance) {
        vg_log(COMP, VG_LOG_ERROR,
               "%s: truncated: the video ends at %.2f s but its header declares %.2f s. The %lld "
               "frames before were analysed; re-copy the file",
               s->shown, end, dur, (long long)s->st.frames);
        return VG_ETRUNCATED;
    }
    if (s->packets >= 10 &&
        s->st.decode_errors + s->corrupt_frames > s->p.max_corrupt * (double)s->packets) {
        vg_log(COMP, VG_LOG_ERROR,
               "%s: damaged: %lld of %lld packets failed to decode (input.max_corrupt is %g). "
               "The %lld frames before were analysed; re-copy or repair the file",
               s->shown, (long long)(s->st.decode_errors + s->corrupt_frames),
               (long long)s->packets, s->p.max_corrupt, (long long)s->st.frames);
        return VG_ECORRUPT;
    }
    return VG_EOF;
}

static int restart_file(vg_source_t *s)
{
    int ret = av_seek_frame(s->fmt, s->stream, INT64_MIN, AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_ANY);
    if (ret < 0) ret = avformat_seek_file(s->fmt, -1, INT64_MIN, 0, 0, 0);
    if (ret < 0) {
        /* Not seekable: reopen. */
        close_input(s);
        return open_once(s, VG_LOG_ERROR);
    }
    avcodec_flush_buffers(s->dec);
    s->draining = 0;
    s->have_first_pts = 0;
    s->pending_discontinuity = 1;
    return 0;
}

/* Realtime pacing: wait until the frame's time has come (in short sleeps: interruptible). */
static void pace(vg_source_t *s, double t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double wall = now.tv_sec + now.tv_nsec * 1e-9;
    if (!s->pace_set || t < s->pace_t0 || t - s->pace_t0 > wall - s->pace_wall0 + 5) {
        /* first frame, or a jump (seek, loop with a reset clock): start pacing from here */
        s->pace_set = 1;
        s->pace_wall0 = wall;
        s->pace_t0 = t;
        return;
    }
    for (;;) {
        double left = s->pace_wall0 + (t - s->pace_t0) - wall;
        if (left <= 0 || atomic_load(&s->interrupted)) return;
        if (left > 0.05) left = 0.05;
        struct timespec d = {0, (long)(left * 1e9)};
        nanosleep(&d, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        wall = now.tv_sec + now.tv_nsec * 1e-9;
    }
}

int vg_source_read(vg_source_t *s, vg_frame_t **out)
{
    char e[128];
    int ret;

    for (;;) {
        if (atomic_load(&s->interrupted)) return VG_ESTOPPED;
        if (!s->fmt) {
            ret = reconnect(s, VG_EUNREACHABLE, "the stream is closed");
            if (ret < 0) return ret;
        }
        ret = avcodec_receive_frame(s->dec, s->av);
        if (ret == 0) {
            double t = frame_time(s);
            int64_t index = s->index++;
            if (s->av->decode_error_flags || (s->av->flags & AV_FRAME_FLAG_CORRUPT))
                s->corrupt_frames++;
            s->last_t = t;
            s->have_t = 1;
            if (t + 1e-9 < s->p.from) {
                av_frame_unref(s->av);
                continue;
            }
            if (s->p.to > 0 && t > s->p.to + 1e-9) {
                av_frame_unref(s->av);
                return VG_EOF;
            }
            if (s->p.max_rate > 0) {
                /* frames on a grid of 1/max_rate: a frame is delivered when its time reaches the
                 * next step (a millisecond early allowed: timestamps jitter); after a jump the
                 * grid starts again from the frame */
                double step = 1 / s->p.max_rate;
                if (s->pending_discontinuity || s->due < 0 || t < s->due - step ||
                    t > s->due + step)
                    s->due = t;
                if (t + 1e-3 < s->due) {
                    av_frame_unref(s->av);
                    s->st.skipped++;
                    continue;
                }
                s->due += step;
            }
            vg_frame_t *f;
            ret = convert(s, &f);
            av_frame_unref(s->av);
            if (ret < 0) return ret;
            f->index = index;
            f->t = t;
            f->discontinuity = s->pending_discontinuity;
            s->pending_discontinuity = 0;
            s->st.frames++;
            if (s->p.realtime && !is_live(s)) pace(s, t);
            f->arrived = vg_clock_now(NULL);
            *out = f;
            return 0;
        }
        if (ret == AVERROR_EOF) {
            if (is_live(s)) {
                ret = reconnect(s, VG_EUNREACHABLE, "the stream ended");
                if (ret < 0) return ret;
                continue;
            }
            ret = check_end_of_file(s);
            if (ret == VG_EOF && s->p.loop && s->st.frames > 0) {
                if ((ret = restart_file(s)) < 0) return ret;
                continue;
            }
            return ret;
        }
        if (ret != AVERROR(EAGAIN)) {
            s->st.decode_errors++;
            vg_log(COMP, VG_LOG_VERBOSE, "%s: decoding error near frame %lld: %s", s->shown,
                   (long long)s->index, av_err(ret, e, sizeof(e)));
            if (ret == AVERROR(ENOMEM)) return VG_ENOMEM;
            if (s->draining) {
                ret = check_end_of_file(s);
                return ret == VG_EOF ? VG_ECORRUPT : ret;
            }
            continue;
        }
        if (s->draining) continue;

        /* The decoder wants data. */
        set_deadline(s, is_live(s) ? s->p.timeout : 0);
        ret = av_read_frame(s->fmt, s->pkt);
        int stalled = deadline_passed(s);
        s->deadline = 0;
        if (ret < 0) {
            if (atomic_load(&s->interrupted)) return VG_ESTOPPED;
            if (is_live(s)) {
                char why[192];
                if (stalled) {
                    s->st.stalls++;
                    snprintf(why, sizeof(why), "no data for %.1f s (input.timeout): stalled",
                             s->p.timeout);
                } else if (ret == AVERROR_EOF) {
                    snprintf(why, sizeof(why), "the stream ended");
                } else {
                    snprintf(why, sizeof(why), "the stream failed (%s)", av_err(ret, e, sizeof(e)));
                }
                ret = reconnect(s, stalled ? VG_ESTALLED : VG_EUNREACHABLE, why);
                if (ret < 0) return ret;
                continue;
            }
            if (ret != AVERROR_EOF) {
                vg_log(COMP, VG_LOG_VERBOSE, "%s: read error after frame %lld: %s", s->shown,
                       (long long)s->index, av_err(ret, e, sizeof(e)));
                if (ret == AVERROR(EIO) || ret == AVERROR_INVALIDDATA) s->st.decode_errors++;
            }
            /* End of file (or an unreadable tail): drain the decoder. */
            avcodec_send_packet(s->dec, NULL);
            s->draining = 1;
            continue;
        }
        if (s->pkt->stream_index != s->stream) {
            av_packet_unref(s->pkt);
            continue;
        }
        s->packets++;
        if (s->pkt->flags & AV_PKT_FLAG_CORRUPT) s->corrupt_frames++;
        ret = avcodec_send_packet(s->dec, s->pkt);
        av_packet_unref(s->pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            if (ret == AVERROR(ENOMEM)) return VG_ENOMEM;
            s->st.decode_errors++;
            vg_log(COMP, VG_LOG_VERBOSE, "%s: undecodable packet near frame %lld: %s", s->shown,
                   (long long)s->index, av_err(ret, e, sizeof(e)));
        }
    }
}
