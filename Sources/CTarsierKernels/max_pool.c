#include "tarsier_kernels.h"

#include <stdlib.h>
#include <string.h>

// Plain loops over blocks of 16 contiguous channels, which the compiler turns into vector code;
// the clones let the loader pick AVX-512 or AVX2 code where the CPU has it (the build itself may
// not assume either).
#define TARSIER_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define BLOCK 16

// Whether `v` replaces the running maximum `m`: larger, or a NaN replacing a number. Bitwise
// operators keep these branch-free: with && and || random data mispredicted about every other
// branch, which made the small-channel loops several times slower.
static inline int replaces(float v, float m) { return (v > m) | ((v != v) & (m == m)); }

// 2x2 windows over fewer than 16 channels (LeNet's 6): one window's channels fill a fraction of a
// vector, so these loops run along whole image rows instead, splitting each pair of input rows
// into the window's four corners (`corner[k][ox * c + j]`, corners in row-major window order).
// On 128x6x24x24 the per-window loops took 560 us forward and 550 us backward, these 150 and
// 400 us.

static inline void split_corners(const float *restrict r0, const float *restrict r1, long ow, long c,
                                 float *restrict corner) {
    const long plane = ow * c;
    for (long ox = 0; ox < ow; ox++) {
        for (long k = 0; k < c; k++) {
            corner[ox * c + k] = r0[2 * ox * c + k];
            corner[plane + ox * c + k] = r0[(2 * ox + 1) * c + k];
            corner[2 * plane + ox * c + k] = r1[2 * ox * c + k];
            corner[3 * plane + ox * c + k] = r1[(2 * ox + 1) * c + k];
        }
    }
}

// The reverse of `split_corners`: writes the four corner planes back into two image rows.
static inline void join_corners(const float *restrict corner, long ow, long c, float *restrict r0,
                                float *restrict r1) {
    const long plane = ow * c;
    for (long ox = 0; ox < ow; ox++) {
        for (long k = 0; k < c; k++) {
            r0[2 * ox * c + k] = corner[ox * c + k];
            r0[(2 * ox + 1) * c + k] = corner[plane + ox * c + k];
            r1[2 * ox * c + k] = corner[2 * plane + ox * c + k];
            r1[(2 * ox + 1) * c + k] = corner[3 * plane + ox * c + k];
        }
    }
}

TARSIER_CLONES
static void forward_rows_2x2(const tarsier_pool_shape *s, long images, const float *x, float *y,
                             uint8_t *argmax, float *corner) {
    const long c = s->channels, row = s->in_width * c, ow = s->out_width, plane = ow * c;
    for (long n = 0; n < images; n++) {
        for (long oy = 0; oy < s->out_height; oy++) {
            const float *r0 = x + (n * s->in_height + 2 * oy) * row;
            split_corners(r0, r0 + row, ow, c, corner);
            const long at = (n * s->out_height + oy) * plane;
            float *restrict out = y + at;
            const float *restrict a = corner, *restrict b = corner + plane;
            const float *restrict d = corner + 2 * plane, *restrict e = corner + 3 * plane;
            if (argmax == NULL) {
                for (long j = 0; j < plane; j++) {
                    float m = a[j];
                    m = replaces(b[j], m) ? b[j] : m;
                    m = replaces(d[j], m) ? d[j] : m;
                    m = replaces(e[j], m) ? e[j] : m;
                    out[j] = m;
                }
                continue;
            }
            uint8_t *restrict index = argmax + at;
            for (long j = 0; j < plane; j++) {
                float m = a[j];
                int k = 0;
                const int tb = replaces(b[j], m);
                m = tb ? b[j] : m;
                k = tb ? 1 : k;
                const int td = replaces(d[j], m);
                m = td ? d[j] : m;
                k = td ? 2 : k;
                const int te = replaces(e[j], m);
                m = te ? e[j] : m;
                k = te ? 3 : k;
                out[j] = m;
                index[j] = (uint8_t)k;
            }
        }
    }
}

TARSIER_CLONES
static void backward_rows_2x2(const tarsier_pool_shape *s, long images, const uint8_t *argmax,
                              const float *dy, float *dx, float *gradient) {
    const long c = s->channels, row = s->in_width * c, ow = s->out_width, plane = ow * c;
    for (long n = 0; n < images; n++) {
        for (long oy = 0; oy < s->out_height; oy++) {
            const long at = (n * s->out_height + oy) * plane;
            const uint8_t *restrict index = argmax + at;
            const float *restrict g = dy + at;
            float *restrict ga = gradient, *restrict gb = gradient + plane;
            float *restrict gd = gradient + 2 * plane, *restrict ge = gradient + 3 * plane;
            // Bit masks rather than selects: the selects compiled to branches, which real
            // (unpredictable) argmax data mispredicted (the loop took twice as long in training
            // as on regular test data).
            for (long j = 0; j < plane; j++) {
                const uint32_t k = index[j];
                uint32_t v, a, b, d, e;
                memcpy(&v, &g[j], sizeof v);
                a = v & (0u - (uint32_t)(k == 0));
                b = v & (0u - (uint32_t)(k == 1));
                d = v & (0u - (uint32_t)(k == 2));
                e = v & (0u - (uint32_t)(k == 3));
                memcpy(&ga[j], &a, sizeof a);
                memcpy(&gb[j], &b, sizeof b);
                memcpy(&gd[j], &d, sizeof d);
                memcpy(&ge[j], &e, sizeof e);
            }
            float *d0 = dx + (n * s->in_height + 2 * oy) * row;
            join_corners(gradient, ow, c, d0, d0 + row);
        }
    }
}

// Whether the row loops take `s`, with room for `planes` planes of corners in `*scratch`.
static int row_path(const tarsier_pool_shape *s, long planes, float **scratch) {
    if (s->kernel_height != 2 || s->kernel_width != 2 || s->channels >= BLOCK) return 0;
    *scratch = malloc((size_t)(planes * s->out_width * s->channels) * sizeof(float));
    return *scratch != NULL;
}

TARSIER_CLONES
void tarsier_max_pool_nhwc_forward(const tarsier_pool_shape *s, long images,
                                   const float *x, float *y, uint8_t *argmax) {
    float *scratch;
    if (row_path(s, 4, &scratch)) {
        forward_rows_2x2(s, images, x, y, argmax, scratch);
        free(scratch);
        return;
    }
    const long c = s->channels, row = s->in_width * c, blocked = c - c % BLOCK;
    const long kh = s->kernel_height, kw = s->kernel_width;
    for (long n = 0; n < images; n++) {
        for (long oy = 0; oy < s->out_height; oy++) {
            for (long ox = 0; ox < s->out_width; ox++) {
                const float *corner = x + (n * s->in_height + oy * kh) * row + ox * kw * c;
                const long at = ((n * s->out_height + oy) * s->out_width + ox) * c;
                float *restrict out = y + at;
                // Blocks of 16 channels with fixed-length loops, which vectorise; the taps run
                // outside them. The first tap seeds the maximum and cannot replace itself.
                for (long k0 = 0; k0 < blocked; k0 += BLOCK) {
                    float m[BLOCK];
                    uint8_t best[BLOCK];
                    for (int j = 0; j < BLOCK; j++) { m[j] = corner[k0 + j]; best[j] = 0; }
                    for (long wy = 0; wy < kh; wy++) {
                        for (long wx = 0; wx < kw; wx++) {
                            const float *restrict in = corner + wy * row + wx * c + k0;
                            const uint8_t t = (uint8_t)(wy * kw + wx);
                            for (int j = 0; j < BLOCK; j++) {
                                const int take = replaces(in[j], m[j]);
                                m[j] = take ? in[j] : m[j];
                                best[j] = take ? t : best[j];
                            }
                        }
                    }
                    for (int j = 0; j < BLOCK; j++) out[k0 + j] = m[j];
                    if (argmax != NULL) {
                        for (int j = 0; j < BLOCK; j++) argmax[at + k0 + j] = best[j];
                    }
                }
                for (long k = blocked; k < c; k++) {
                    float m = corner[k];
                    uint8_t best = 0;
                    for (long wy = 0; wy < kh; wy++) {
                        for (long wx = 0; wx < kw; wx++) {
                            const float v = corner[wy * row + wx * c + k];
                            const int take = replaces(v, m);
                            m = take ? v : m;
                            best = take ? (uint8_t)(wy * kw + wx) : best;
                        }
                    }
                    out[k] = m;
                    if (argmax != NULL) argmax[at + k] = best;
                }
            }
        }
    }
}

TARSIER_CLONES
void tarsier_max_pool_nhwc_backward(const tarsier_pool_shape *s, long images, const uint8_t *argmax,
                                    const float *dy, float *dx) {
    const long c = s->channels, row = s->in_width * c;
    const long kh = s->kernel_height, kw = s->kernel_width;
    const long covered_rows = s->out_height * kh, covered = s->out_width * kw * c;
    // Inputs under no window (a last odd row or column) get zero.
    for (long n = 0; n < images; n++) {
        float *image_gradient = dx + n * s->in_height * row;
        for (long iy = 0; iy < covered_rows; iy++)
            memset(image_gradient + iy * row + covered, 0, (size_t)(row - covered) * sizeof(float));
        memset(image_gradient + covered_rows * row, 0, (size_t)((s->in_height - covered_rows) * row) * sizeof(float));
    }
    float *scratch;
    if (row_path(s, 4, &scratch)) {
        backward_rows_2x2(s, images, argmax, dy, dx, scratch);
        free(scratch);
        return;
    }
    for (long n = 0; n < images; n++) {
        for (long oy = 0; oy < s->out_height; oy++) {
            for (long ox = 0; ox < s->out_width; ox++) {
                const long offset = ((n * s->out_height + oy) * s->out_width + ox) * c;
                const uint8_t *restrict index = argmax + offset;
                const float *restrict g = dy + offset;
                float *gradient = dx + (n * s->in_height + oy * kh) * row + ox * kw * c;
                // Windows tile the input, so every covered input is written once: its window's
                // gradient where it was the maximum, else zero.
                for (long wy = 0; wy < kh; wy++) {
                    for (long wx = 0; wx < kw; wx++) {
                        float *restrict slot = gradient + wy * row + wx * c;
                        const uint8_t t = (uint8_t)(wy * kw + wx);
                        for (long j = 0; j < c; j++) slot[j] = index[j] == t ? g[j] : 0.0f;
                    }
                }
            }
        }
    }
}
