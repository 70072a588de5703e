/*
 * vigie — error codes.
 *
 * One negative error space, as in FFmpeg: every fallible function returns 0 (or a count) on
 * success and a negative VG_E* on failure. System errors reuse errno values (VG_ENOMEM is
 * -ENOMEM, ...); project codes sit in their own range below VG_EBASE so they never collide.
 */
#ifndef VIGIE_ERROR_H
#define VIGIE_ERROR_H

#include <errno.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VG_ENOMEM    (-ENOMEM)
#define VG_EINVAL    (-EINVAL)
#define VG_ENOENT    (-ENOENT)
#define VG_EIO       (-EIO)
#define VG_EAGAIN    (-EAGAIN)
#define VG_ERANGE    (-ERANGE)
#define VG_ENOSYS    (-ENOSYS)
#define VG_EACCES    (-EACCES)
#define VG_EBUSY     (-EBUSY)
#define VG_ETIMEDOUT (-ETIMEDOUT)

#define VG_EBASE (-10000)
/** End of stream: not a failure, the input has no more frames. */
#define VG_EOF (VG_EBASE - 1)
/** No option of that name in the table. */
#define VG_EOPTION (VG_EBASE - 2)
/** The input's container or codec could not be read, or is not supported. */
#define VG_EFORMAT (VG_EBASE - 3)
/** No decoder for the input's codec. */
#define VG_ENOCODEC (VG_EBASE - 4)
/** The input is damaged: undecodable data beyond what can be concealed. */
#define VG_ECORRUPT (VG_EBASE - 5)
/** The input ended before the length its header declares. */
#define VG_ETRUNCATED (VG_EBASE - 6)
/** A live input delivered nothing before its deadline. */
#define VG_ESTALLED (VG_EBASE - 7)
/** A network input could not be reached (after all retries). */
#define VG_EUNREACHABLE (VG_EBASE - 8)
/** A configuration or scene file is malformed. */
#define VG_ESYNTAX (VG_EBASE - 9)
/** The operation was stopped on request (vg_pipeline_stop, a signal). */
#define VG_ESTOPPED (VG_EBASE - 10)
/** A bounded queue or stream was closed. */
#define VG_ECLOSED (VG_EBASE - 11)
/** The input holds no video stream (or an image sequence matched no file). */
#define VG_ENOVIDEO (VG_EBASE - 12)
/** Internal inconsistency: a bug in vigie, please report it. */
#define VG_EBUG (VG_EBASE - 13)

/**
 * A short English description of an error code. Never NULL; unknown codes give a generic
 * text. Thread-safe (returns static strings).
 */
const char *vg_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
