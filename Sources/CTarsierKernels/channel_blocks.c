#include "tarsier_kernels.h"

#include <string.h>

// Whole 64-byte rows (16 channels) move as units; the compiler turns each into one vector copy.
#define TARSIER_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define BLOCK 16

TARSIER_CLONES
void tarsier_copy_channel_blocks(const float *from, float *to, long channels, long pixels,
                                 long begin, long end, int to_blocked) {
    const long blocks = channels / BLOCK;
    for (long row = begin; row < end; row++) {
        const long image = row / pixels, pixel = row % pixels;
        const long nhwc = row * channels, blocked = (image * blocks * pixels + pixel) * BLOCK;
        for (long b = 0; b < blocks; b++) {
            const long at_nhwc = nhwc + b * BLOCK, at_blocked = blocked + b * pixels * BLOCK;
            memcpy(to + (to_blocked ? at_blocked : at_nhwc), from + (to_blocked ? at_nhwc : at_blocked),
                   BLOCK * sizeof(float));
        }
    }
}
