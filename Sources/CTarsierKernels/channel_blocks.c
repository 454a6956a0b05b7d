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

// Tiles of 16 rows by 16 columns: the reads and writes of a tile stay in L1 whichever side is
// strided.
#define TRANSPOSE_TILE 16

TARSIER_CLONES
void tarsier_transpose_planes(const float *from, long planes, long rows, long columns, long begin,
                              long end, float *to) {
    for (long p = 0; p < planes; p++) {
        const float *restrict source = from + p * rows * columns;
        float *restrict destination = to + p * rows * columns;
        for (long c0 = begin; c0 < end; c0 += TRANSPOSE_TILE) {
            const long c1 = c0 + TRANSPOSE_TILE < end ? c0 + TRANSPOSE_TILE : end;
            for (long r0 = 0; r0 < rows; r0 += TRANSPOSE_TILE) {
                const long r1 = r0 + TRANSPOSE_TILE < rows ? r0 + TRANSPOSE_TILE : rows;
                for (long c = c0; c < c1; c++) {
                    for (long r = r0; r < r1; r++) destination[c * rows + r] = source[r * columns + c];
                }
            }
        }
    }
}
