// SHA-256 (FIPS 180-4), HMAC-SHA-256 (RFC 2104) and one block of
// PBKDF2-HMAC-SHA-256 (RFC 8018): what a SCRAM-SHA-256 login to Postgres needs.
// In C so that debug builds stay quick too: a login runs 8192 compressions.
#include <stdint.h>
#include <string.h>

#include "muster_shims.h"

typedef struct {
    uint32_t state[8];
    uint8_t block[64];
    size_t used;
    uint64_t length;
} sha256_context;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void compress(uint32_t state[8], const uint8_t block[64]) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 | (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    state[0] += a; state[1] += b; state[2] += c; state[3] += d;
    state[4] += e; state[5] += f; state[6] += g; state[7] += h;
}

static void sha256_start(sha256_context *context) {
    static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(context->state, initial, sizeof initial);
    context->used = 0;
    context->length = 0;
}

static void sha256_update(sha256_context *context, const uint8_t *bytes, size_t count) {
    context->length += count;
    while (count > 0) {
        size_t take = 64 - context->used < count ? 64 - context->used : count;
        memcpy(context->block + context->used, bytes, take);
        context->used += take;
        bytes += take;
        count -= take;
        if (context->used == 64) {
            compress(context->state, context->block);
            context->used = 0;
        }
    }
}

static void sha256_finish(sha256_context *context, uint8_t digest[32]) {
    uint64_t bits = context->length * 8;
    uint8_t pad = 0x80;
    sha256_update(context, &pad, 1);
    uint8_t zero = 0;
    while (context->used != 56) sha256_update(context, &zero, 1);
    uint8_t length[8];
    for (int i = 0; i < 8; i++) length[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(context, length, 8);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(context->state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(context->state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(context->state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)context->state[i];
    }
}

void muster_sha256(const uint8_t *bytes, size_t count, uint8_t digest[32]) {
    sha256_context context;
    sha256_start(&context);
    sha256_update(&context, bytes, count);
    sha256_finish(&context, digest);
}

/// The key's inner and outer states, absorbed once.
typedef struct {
    sha256_context inner;
    sha256_context outer;
} hmac_key;

static void hmac_prepare(hmac_key *prepared, const uint8_t *key, size_t key_length) {
    uint8_t block[64] = {0};
    if (key_length > 64) {
        muster_sha256(key, key_length, block);
    } else {
        memcpy(block, key, key_length);
    }
    uint8_t pad[64];
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
    sha256_start(&prepared->inner);
    sha256_update(&prepared->inner, pad, 64);
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
    sha256_start(&prepared->outer);
    sha256_update(&prepared->outer, pad, 64);
}

static void hmac_run(const hmac_key *prepared, const uint8_t *message, size_t count, uint8_t mac[32]) {
    sha256_context inner = prepared->inner;
    sha256_update(&inner, message, count);
    uint8_t inner_digest[32];
    sha256_finish(&inner, inner_digest);
    sha256_context outer = prepared->outer;
    sha256_update(&outer, inner_digest, 32);
    sha256_finish(&outer, mac);
}

void muster_hmac_sha256(const uint8_t *key, size_t key_length, const uint8_t *message, size_t count, uint8_t mac[32]) {
    hmac_key prepared;
    hmac_prepare(&prepared, key, key_length);
    hmac_run(&prepared, message, count, mac);
}

void muster_pbkdf2_sha256(const uint8_t *password, size_t password_length, const uint8_t *salt, size_t salt_length,
                          unsigned iterations, uint8_t output[32]) {
    hmac_key prepared;
    hmac_prepare(&prepared, password, password_length);
    sha256_context inner = prepared.inner;
    sha256_update(&inner, salt, salt_length);
    static const uint8_t first_block[4] = {0, 0, 0, 1};
    sha256_update(&inner, first_block, 4);
    uint8_t inner_digest[32];
    sha256_finish(&inner, inner_digest);
    sha256_context outer = prepared.outer;
    sha256_update(&outer, inner_digest, 32);
    uint8_t u[32];
    sha256_finish(&outer, u);
    memcpy(output, u, 32);
    for (unsigned round = 1; round < iterations; round++) {
        hmac_run(&prepared, u, 32, u);
        for (int i = 0; i < 32; i++) output[i] ^= u[i];
    }
}
