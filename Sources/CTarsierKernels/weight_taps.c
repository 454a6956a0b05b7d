#include "tarsier_kernels.h"

#include <string.h>

// One sequential pass over the OIHW weight, whichever taps are used: on a 512-channel 3x3
// weight (9.4 MB) one strided pass per tap touched every cache line once per tap.
#define BLOCK_FILTERS 256
#define TARSIER_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

TARSIER_CLONES
void tarsier_gather_taps(const float *weight, long filters, long kernel_taps, const long *taps,
                         long used, long begin, long end, float *planes) {
    // Blocks of filters small enough to stay in L1 while each used tap is copied out.
    for (long first = begin; first < end; first += BLOCK_FILTERS) {
        const long last = first + BLOCK_FILTERS < end ? first + BLOCK_FILTERS : end;
        for (long u = 0; u < used; u++) {
            const float *restrict source = weight + taps[u];
            float *restrict plane = planes + u * filters;
            for (long f = first; f < last; f++) plane[f] = source[f * kernel_taps];
        }
    }
}

TARSIER_CLONES
void tarsier_scatter_taps(const float *planes, long filters, long kernel_taps,
                          const long *slot_of_tap, long begin, long end, float *weight) {
    for (long first = begin; first < end; first += BLOCK_FILTERS) {
        const long last = first + BLOCK_FILTERS < end ? first + BLOCK_FILTERS : end;
        memset(weight + first * kernel_taps, 0, (size_t)((last - first) * kernel_taps) * sizeof(float));
        for (long t = 0; t < kernel_taps; t++) {
            if (slot_of_tap[t] < 0) continue;
            const float *restrict plane = planes + slot_of_tap[t] * filters;
            float *restrict destination = weight + t;
            for (long f = first; f < last; f++) destination[f * kernel_taps] = plane[f];
        }
    }
}
