/*
 * SHA-256 for the model table's checksums, the plan cache keys and the audit chain: libsodium's
 * (crypto_hash_sha256), a maintained and audited implementation, behind the names the callers
 * have always used.
 */
#ifndef VG_CORE_SHA256_H
#define VG_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <sodium/crypto_hash_sha256.h>

typedef crypto_hash_sha256_state vg_sha256_t;

void vg__sha256_init(vg_sha256_t *s);
void vg__sha256_update(vg_sha256_t *s, const void *data, size_t len);
void vg__sha256_final(vg_sha256_t *s, uint8_t out[32]);
/** Lower-case hex of the digest of @data into @hex (65 bytes). */
void vg__sha256_hex(const void *data, size_t len, char hex[65]);
/** libsodium's sodium_init(), once per process; 0, or VG_EIO when libsodium cannot start. */
int vg__sodium_ready(void);

#endif
