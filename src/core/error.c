/*
 * Error strings. System codes go through strerror_r-free static texts for the codes vigie uses,
 * so vg_strerror stays thread-safe and returns static storage.
 */
#include <string.h>

#include <vigie/error.h>

const char *vg_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case VG_ENOMEM:
        return "out of memory";
    case VG_EINVAL:
        return "invalid argument";
    case VG_ENOENT:
        return "no such file or directory";
    case VG_EIO:
        return "input/output error";
    case VG_EAGAIN:
        return "try again";
    case VG_ERANGE:
        return "value out of range";
    case VG_ENOSYS:
        return "not supported";
    case VG_EACCES:
        return "permission denied";
    case VG_EBUSY:
        return "busy";
    case VG_ETIMEDOUT:
        return "timed out";
    case VG_EOF:
        return "end of input";
    case VG_EOPTION:
        return "unknown option";
    case VG_EFORMAT:
        return "unreadable or unsupported format";
    case VG_ENOCODEC:
        return "no decoder for this codec";
    case VG_ECORRUPT:
        return "damaged input";
    case VG_ETRUNCATED:
        return "truncated input";
    case VG_ESTALLED:
        return "input stalled";
    case VG_EUNREACHABLE:
        return "input unreachable";
    case VG_ESYNTAX:
        return "malformed configuration";
    case VG_ESTOPPED:
        return "stopped on request";
    case VG_ECLOSED:
        return "closed";
    case VG_ENOVIDEO:
        return "no video in input";
    case VG_EBUG:
        return "internal error (a bug in vigie)";
    default:
        break;
    }
    return err < 0 && err > VG_EBASE ? "system error" : "unknown error";
}
