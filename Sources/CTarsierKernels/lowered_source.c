#include "tarsier_kernels.h"

#include <string.h>

#define TARSIER_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

// Round to nearest even, as oneDNN's reorders do; a NaN stays a (quiet) NaN rather than
// rounding into infinity. Written without branches so the loops vectorise.
static inline uint16_t bf16_from_float(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    const uint32_t quiet = (bits >> 16) | 0x40u;
    return (uint16_t)((bits & 0x7FFFFFFFu) > 0x7F800000u ? quiet : rounded);
}

// Tiles of this many rows and columns: both sides of the transpose stay in L1.
#define TILE 16

TARSIER_CLONES
void tarsier_transpose_to_bf16(const float *from, long rows, long columns, long begin, long end,
                               uint16_t *to) {
    for (long r0 = begin; r0 < end; r0 += TILE) {
        const long r1 = r0 + TILE < end ? r0 + TILE : end;
        for (long c0 = 0; c0 < columns; c0 += TILE) {
            const long c1 = c0 + TILE < columns ? c0 + TILE : columns;
            for (long c = c0; c < c1; c++) {
                uint16_t *restrict column = to + c * rows;
                for (long r = r0; r < r1; r++) column[r] = bf16_from_float(from[r * columns + c]);
            }
        }
    }
}

TARSIER_CLONES
void tarsier_lower_source_bf16(const tarsier_conv_shape *s, const float *x, long begin, long end,
                               uint16_t *rows) {
    const long c = s->channels, pixels = s->out_height * s->out_width;
    const long taps = s->kernel_height * s->kernel_width, width = taps * c;
    for (long r = begin; r < end; r++) {
        const long n = r / pixels, p = r % pixels;
        const long oy = p / s->out_width, ox = p % s->out_width;
        uint16_t *restrict row = rows + r * width;
        for (long ky = 0; ky < s->kernel_height; ky++) {
            const long iy = oy * s->stride_height - s->pad_height + ky * s->dilation_height;
            for (long kx = 0; kx < s->kernel_width; kx++) {
                const long ix = ox * s->stride_width - s->pad_width + kx * s->dilation_width;
                uint16_t *restrict slot = row + (ky * s->kernel_width + kx) * c;
                if (iy < 0 || iy >= s->in_height || ix < 0 || ix >= s->in_width) {
                    memset(slot, 0, (size_t)c * sizeof(uint16_t));
                    continue;
                }
                const float *restrict pixel = x + ((n * s->in_height + iy) * s->in_width + ix) * c;
                for (long k = 0; k < c; k++) slot[k] = bf16_from_float(pixel[k]);
            }
        }
    }
}

TARSIER_CLONES
void tarsier_weight_from_tap_columns(const float *product, long taps, long in_channels,
                                     long begin, long end, float *weight) {
    const long width = taps * in_channels;
    for (long o = begin; o < end; o++) {
        const float *restrict row = product + o * width;
        for (long i = 0; i < in_channels; i++) {
            float *restrict filter = weight + (o * in_channels + i) * taps;
            for (long t = 0; t < taps; t++) filter[t] = row[t * in_channels + i];
        }
    }
}
