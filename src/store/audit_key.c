/*
 * Audit anchor signing keys (Ed25519, libsodium).
 *
 * An anchor pins the trail's head (seq, hash, time). Unsigned, it only helps while the file it is
 * in is out of reach; anyone who can rewrite the database can usually rewrite that file too. A
 * signed anchor cannot be forged without the secret key, which is kept outside the database and
 * the storage folder (the config refuses a key inside storage): an auditor holding only the public
 * key verifies, on another machine, that each anchor was written by the server and that the trail
 * still contains the row it names with the same hash.
 *
 * Files (text, so that they can be printed and compared by eye):
 *   secret: "# vigie audit signing key (Ed25519 seed, keep secret)\n" + 64 hex + "\n", mode 0600
 *   public: 64 hex + "\n" (the secret's path + ".pub"), and printed by `vigie audit keygen`
 * The seed is what is stored; the key pair is derived from it on load (crypto_sign_seed_keypair).
 *
 * Signed message: "vigie audit anchor v1\n" seq "\n" hash "\n" time "\n" (the anchor line's three
 * fields), so a signature cannot be moved to another row or time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <vigie/error.h>
#include <vigie/mem.h>
#include <vigie/store.h>

#include "core/sha256.h"

struct vg_audit_key {
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
};

static const char key_head[] = "# vigie audit signing key (Ed25519 seed, keep secret)\n";

/* 64 hex digits from the first non-comment line of @text into @out (32 bytes). */
static int parse_hex32(const char *text, uint8_t out[32])
{
    const char *p = text;
    while (*p == '#') {
        p = strchr(p, '\n');
        if (!p) return VG_EINVAL;
        p++;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    size_t n = 0;
    while ((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'f') ||
           (p[n] >= 'A' && p[n] <= 'F'))
        n++;
    if (n != 64) return VG_EINVAL;
    const char *q = p + n;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
    if (*q) return VG_EINVAL;
    size_t bin = 0;
    if (sodium_hex2bin(out, 32, p, 64, NULL, &bin, NULL) != 0 || bin != 32) return VG_EINVAL;
    return 0;
}

/* Read a small text file (< 1 KiB) into @buf. */
static int read_small(const char *path, char *buf, size_t len, struct stat *sb, char *err,
                      size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open the key: %s", path, strerror(errno));
        return VG_EIO;
    }
    if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return VG_EINVAL;
    }
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0 || (size_t)n >= len - 1) {
        snprintf(err, errlen, "%s: %s", path,
                 n < 0 ? strerror(errno) : "too long for a key file (a key is 64 hex digits)");
        return VG_EINVAL;
    }
    buf[n] = 0;
    return 0;
}

int vg_audit_key_generate(const char *path, char pub_hex[65], char *err, size_t errlen)
{
    uint8_t seed[32], pk[32], sk[64];
    char hex[65], pubpath[4200];
    if (vg__sodium_ready() < 0) {
        snprintf(err, errlen, "libsodium could not start");
        return VG_EIO;
    }
    if (strlen(path) + 5 >= sizeof(pubpath)) {
        snprintf(err, errlen, "%s: path too long", path);
        return VG_EINVAL;
    }
    snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
    randombytes_buf(seed, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (a key is never overwritten: move the old one away first; "
                                   "anchors it signed stay verifiable with its public key)"
                                 : "");
        sodium_memzero(seed, sizeof(seed));
        sodium_memzero(sk, sizeof(sk));
        return VG_EIO;
    }
    sodium_bin2hex(hex, sizeof(hex), seed, sizeof(seed));
    char text[160];
    int len = snprintf(text, sizeof(text), "%s%s\n", key_head, hex);
    int ok = write(fd, text, (size_t)len) == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    sodium_memzero(text, sizeof(text));
    sodium_memzero(hex, sizeof(hex));
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(sk, sizeof(sk));
    if (!ok) {
        snprintf(err, errlen, "%s: cannot write the key: %s", path, strerror(errno));
        unlink(path);
        return VG_EIO;
    }
    sodium_bin2hex(pub_hex, 65, pk, sizeof(pk));
    FILE *f = fopen(pubpath, "w");
    if (!f || fprintf(f, "%s\n", pub_hex) < 0 || fclose(f) != 0) {
        snprintf(err, errlen, "%s: cannot write the public key: %s", pubpath, strerror(errno));
        return VG_EIO;
    }
    return 0;
}

int vg_audit_key_load(vg_audit_key_t **out, const char *path, char *err, size_t errlen)
{
    char text[1024];
    struct stat sb;
    uint8_t seed[32];
    int ret;
    *out = NULL;
    if (vg__sodium_ready() < 0) {
        snprintf(err, errlen, "libsodium could not start");
        return VG_EIO;
    }
    if ((ret = read_small(path, text, sizeof(text), &sb, err, errlen)) < 0) return ret;
    if (sb.st_mode & 0077) {
        snprintf(err, errlen,
                 "%s: the signing key can be read by others (mode %03o): chmod 600 it (and think "
                 "of it as disclosed: make a new one with vigie audit keygen)",
                 path, (unsigned)(sb.st_mode & 0777));
        sodium_memzero(text, sizeof(text));
        return VG_EINVAL;
    }
    ret = parse_hex32(text, seed);
    sodium_memzero(text, sizeof(text));
    if (ret < 0) {
        snprintf(err, errlen,
                 "%s: not a vigie audit signing key (64 hex digits; make one with vigie audit "
                 "keygen --out FILE)",
                 path);
        return ret;
    }
    vg_audit_key_t *k = sodium_malloc(sizeof(*k));
    if (!k) {
        sodium_memzero(seed, sizeof(seed));
        snprintf(err, errlen, "out of memory");
        return VG_ENOMEM;
    }
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
    sodium_memzero(seed, sizeof(seed));
    *out = k;
    return 0;
}

void vg_audit_key_free(vg_audit_key_t **k)
{
    if (!k || !*k) return;
    sodium_free(*k); /* zeroes it */
    *k = NULL;
}

void vg_audit_key_public_hex(const vg_audit_key_t *k, char hex[65])
{
    sodium_bin2hex(hex, 65, k->pk, sizeof(k->pk));
}

int vg_audit_public_key_read(const char *arg, uint8_t pk[32], char *err, size_t errlen)
{
    char text[1024];
    struct stat sb;
    if (vg__sodium_ready() < 0) {
        snprintf(err, errlen, "libsodium could not start");
        return VG_EIO;
    }
    if (strlen(arg) == 64 && parse_hex32(arg, pk) == 0) return 0;
    if (read_small(arg, text, sizeof(text), &sb, err, errlen) < 0) {
        snprintf(err + strlen(err), errlen - strlen(err),
                 " (--public-key takes the .pub file vigie audit keygen wrote, or its 64 hex "
                 "digits)");
        return VG_EINVAL;
    }
    if (!strncmp(text, key_head, sizeof(key_head) - 1)) {
        sodium_memzero(text, sizeof(text));
        snprintf(err, errlen,
                 "%s is the secret signing key, not a public key: give its .pub file (and keep "
                 "the secret one where only the server reads it)",
                 arg);
        return VG_EINVAL;
    }
    if (parse_hex32(text, pk) < 0) {
        snprintf(err, errlen,
                 "%s: not a public key (64 hex digits, the .pub file of vigie audit "
                 "keygen)",
                 arg);
        return VG_EINVAL;
    }
    return 0;
}

/* The message an anchor's signature covers. */
static size_t anchor_msg(char *buf, size_t len, long long seq, const char *hash, const char *at)
{
    int n = snprintf(buf, len, "vigie audit anchor v1\n%lld\n%s\n%s\n", seq, hash, at);
    return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

int vg__audit_anchor_sign(const vg_audit_key_t *k, long long seq, const char *hash, const char *at,
                          char sig_hex[129])
{
    char msg[256];
    uint8_t sig[crypto_sign_BYTES];
    size_t n = anchor_msg(msg, sizeof(msg), seq, hash, at);
    if (!n) return VG_ERANGE;
    crypto_sign_detached(sig, NULL, (const uint8_t *)msg, n, k->sk);
    sodium_bin2hex(sig_hex, 129, sig, sizeof(sig));
    return 0;
}

int vg__audit_anchor_check(const uint8_t pk[32], long long seq, const char *hash, const char *at,
                           const char *sig_hex)
{
    char msg[256];
    uint8_t sig[crypto_sign_BYTES];
    size_t bin = 0, n = anchor_msg(msg, sizeof(msg), seq, hash, at);
    if (!n || strlen(sig_hex) != 128 ||
        sodium_hex2bin(sig, sizeof(sig), sig_hex, 128, NULL, &bin, NULL) != 0 || bin != sizeof(sig))
        return 0;
    return crypto_sign_verify_detached(sig, (const uint8_t *)msg, n, pk) == 0;
}
