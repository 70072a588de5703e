/*
 * vigie — video sources (FFmpeg 5.1's libavformat/libavcodec/libswscale).
 *
 * A source turns an input — a file of any container and codec FFmpeg reads, a network stream
 * (rtsp://, rtsps://, http://, https://, udp://, ...), an image-sequence pattern ("dir/in%06d.jpg")
 * or a V4L2 device ("/dev/video0", "v4l2:/dev/video0") — into refcounted vg_frame_t at the analysis
 * size, with presentation time and index. See docs/ingest.md for timestamps, stalls and
 * reconnection. A source belongs to one thread (the camera's ingest thread).
 */
#ifndef VIGIE_SOURCE_H
#define VIGIE_SOURCE_H

#ifndef __cplusplus
#include <stdatomic.h>
#endif

#include <vigie/clock.h>
#include <vigie/frame.h>
#include <vigie/opt.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vg_scaler { VG_SCALER_FAST_BILINEAR, VG_SCALER_BILINEAR, VG_SCALER_BICUBIC, VG_SCALER_AREA };
enum vg_source_kind { VG_SOURCE_FILE, VG_SOURCE_NETWORK, VG_SOURCE_SEQUENCE, VG_SOURCE_DEVICE };

/** Options of the "input" group. */
typedef struct vg_source_params {
    int width;              /**< analysis width; wider inputs are scaled down (0: input width) */
    int height;             /**< analysis height (0: keep the aspect ratio) */
    int upscale;            /**< allow scaling up to width/height */
    int color;              /**< also deliver a BGR24 image */
    int scaler;             /**< enum vg_scaler */
    int threads;            /**< decoder threads (0: one per core, at most 16) */
    double from, to;        /**< seconds: skip frames before @from, stop after @to (to <= 0: end) */
    double timeout;         /**< seconds without data before a live input counts as stalled */
    double open_timeout;    /**< seconds allowed to open an input */
    int reconnect;          /**< live inputs: reconnection attempts after a failure (-1: forever) */
    double reconnect_delay; /**< first wait before reconnecting, doubled each failure */
    double reconnect_delay_max; /**< longest wait between attempts */
    int rtsp_tcp;               /**< RTSP over TCP (interleaved) rather than UDP */
    char *format;               /**< force an FFmpeg demuxer by name ("" = probe) */
    int loop;                   /**< files: start again at the end (demos) */
    double max_corrupt; /**< fraction of undecodable packets beyond which a file is corrupt */
    double rate;        /**< image sequences: frames per second (they carry no time) */
    int realtime; /**< files and image sequences: deliver frames at their own pace (vigie serve) */
    int chroma;   /**< also deliver the Cb, Cr planes at half the analysis size (vg_frame_t) */
    double max_rate; /**< analyse at most this many frames a second (0: every frame); the others
                          are decoded (the codec needs them) but neither scaled nor delivered;
                          frame numbers still count every decoded frame */
} vg_source_params_t;

extern const vg_option_group_t vg_source_option_group;

typedef struct vg_source vg_source_t;

/** Basic facts about an opened source. */
typedef struct vg_source_info {
    int kind;           /**< enum vg_source_kind */
    int in_w, in_h;     /**< input picture size */
    int w, h;           /**< analysis size */
    double fps;         /**< nominal frame rate (0 if unknown) */
    double duration;    /**< seconds, from the container (0 if unknown or live) */
    int64_t nb_frames;  /**< frames the container declares (0 if unknown) */
    const char *codec;  /**< decoder name */
    const char *format; /**< demuxer name */
} vg_source_info_t;

/**
 * Open @url with @params (copied; NULL for defaults) and @clock (borrowed, NULL for the monotonic
 * clock; it must outlive the source). Network and device inputs are tried again with backoff as
 * @params says. On failure logs one message under component "input" naming the input, the cause
 * and what to do, and returns VG_ENOENT (no such file), VG_EACCES, VG_ENOVIDEO, VG_ENOCODEC,
 * VG_EFORMAT, VG_EUNREACHABLE, VG_ESTALLED, VG_ESTOPPED or VG_ENOMEM.
 */
int vg_source_open(vg_source_t **out, const char *url, const vg_source_params_t *params,
                   const vg_clock_t *clock) __attribute__((warn_unused_result));

/**
 * Read the next frame into *out (a new reference). Returns 0, VG_EOF at the end of the input
 * (or after params->to), or an error: VG_ETRUNCATED (a file shorter than its header says),
 * VG_ECORRUPT, VG_ESTALLED / VG_EUNREACHABLE (live input lost after all retries), VG_ESTOPPED,
 * VG_ENOMEM. Errors are logged once with the input's name, frame and time.
 */
int vg_source_read(vg_source_t *s, vg_frame_t **out);

#ifndef __cplusplus /* C11 atomics; C++ callers (the benchmarks against OpenCV) use vg_source_open \
                     */
/**
 * vg_source_open, ended with VG_ESTOPPED soon after *@cancel becomes non-zero (a signal handler
 * or another thread sets it): opening a named pipe nobody writes to, or a camera that does not
 * answer, can be given up at once. The flag is read for the source's whole life.
 */
int vg_source_open_cancellable(vg_source_t **out, const char *url, const vg_source_params_t *params,
                               const vg_clock_t *clock, const atomic_int *cancel)
    __attribute__((warn_unused_result));
#endif

/** The analysis size @params give an input of @in_w x @in_h (input.width, height, upscale). */
void vg_source_output_size(const vg_source_params_t *params, int in_w, int in_h, int *w, int *h);

/** Ask a blocked vg_source_open/vg_source_read to return VG_ESTOPPED soon. Any thread,
 * async-signal-safe. */
void vg_source_interrupt(vg_source_t *s);

void vg_source_get_info(const vg_source_t *s, vg_source_info_t *info);
/** Counters: frames delivered, packets that failed to decode, reconnections, stalls. */
typedef struct vg_source_stats {
    int64_t frames;
    int64_t decode_errors;
    int64_t reconnects;
    int64_t stalls;
    int64_t skipped; /**< decoded frames not delivered (input.max_rate) */
} vg_source_stats_t;
void vg_source_get_stats(const vg_source_t *s, vg_source_stats_t *st);

/** The input as given (for messages). */
const char *vg_source_url(const vg_source_t *s);

void vg_source_free(vg_source_t **s);

/** What kind of input @url names (by its form, without opening it). */
int vg_source_kind_of(const char *url);

#ifdef __cplusplus
}
#endif
#endif
