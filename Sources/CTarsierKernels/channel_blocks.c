#include "tarsier_kernels.h"

#include <string.h>

// Whole 64-byte rows (16 channels) move as units; the compiler turns each into one vector copy.
#define TARSIER_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define BLOCK 16

TARSIER_CLONES
void tarsier_nhwc_to_blocked16(const float *nhwc, long channels, long pixels, long begin,
                               long end, float *blocked) {
    const long blocks = channels / BLOCK;
    for (long row = begin; row < end; row++) {
        const long image = row / pixels, pixel = row % pixels;
        const float *restrict source = nhwc + row * channels;
        float *restrict destination = blocked + (image * blocks * pixels + pixel) * BLOCK;
        for (long b = 0; b < blocks; b++) {
            memcpy(destination + b * pixels * BLOCK, source + b * BLOCK, BLOCK * sizeof(float));
        }
    }
}

TARSIER_CLONES
void tarsier_blocked16_to_nhwc(const float *blocked, long channels, long pixels, long begin,
                               long end, float *nhwc) {
    const long blocks = channels / BLOCK;
    for (long row = begin; row < end; row++) {
        const long image = row / pixels, pixel = row % pixels;
        const float *restrict source = blocked + (image * blocks * pixels + pixel) * BLOCK;
        float *restrict destination = nhwc + row * channels;
        for (long b = 0; b < blocks; b++) {
            memcpy(destination + b * BLOCK, source + b * pixels * BLOCK, BLOCK * sizeof(float));
        }
    }
}
