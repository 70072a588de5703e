/*
 * SHA-256 through libsodium. sodium_init() is called once (pthread_once) before the first use:
 * libsodium asks for it before any of its functions, and it is cheap but takes a lock, so it is
 * not repeated on every hash.
 */
#include <pthread.h>
#include <stdio.h>

#include <sodium.h>

#include <vigie/error.h>

#include "sha256.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int sodium_ok;

static void init_once(void)
{
    sodium_ok = sodium_init() >= 0;
}

int vg__sodium_ready(void)
{
    pthread_once(&once, init_once);
    return sodium_ok ? 0 : VG_EIO;
}

void vg__sha256_init(vg_sha256_t *s)
{
    vg__sodium_ready();
    crypto_hash_sha256_init(s);
}

void vg__sha256_update(vg_sha256_t *s, const void *data, size_t len)
{
    crypto_hash_sha256_update(s, data, len);
}

void vg__sha256_final(vg_sha256_t *s, uint8_t out[32])
{
    crypto_hash_sha256_final(s, out);
}

void vg__sha256_hex(const void *data, size_t len, char hex[65])
{
    uint8_t d[32];
    vg__sodium_ready();
    crypto_hash_sha256(d, data, len);
    sodium_bin2hex(hex, 65, d, sizeof(d));
}
