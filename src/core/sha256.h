/* SHA-256 (FIPS 180-4), for the model table's checksums and the audit chain. */
#ifndef VG_CORE_SHA256_H
#define VG_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct vg_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t n;
} vg_sha256_t;

void vg__sha256_init(vg_sha256_t *s);
void vg__sha256_update(vg_sha256_t *s, const void *data, size_t len);
void vg__sha256_final(vg_sha256_t *s, uint8_t out[32]);
/** Lower-case hex of the digest of @data into @hex (65 bytes). */
void vg__sha256_hex(const void *data, size_t len, char hex[65]);

#endif
