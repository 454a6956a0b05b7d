#ifndef TARSIER_KERNELS_H
#define TARSIER_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Shape of a 2-D max pooling over channels-last (NHWC) images whose windows tile the input:
/// stride equal to the kernel, no padding, `out_height * kernel_height <= in_height` (and the
/// same for widths).
typedef struct {
    long channels, in_height, in_width, out_height, out_width, kernel_height, kernel_width;
} tarsier_pool_shape;

/// Writes each window's maximum for `images` images starting at `x`; the first maximum wins
/// ties and NaN wins over numbers, as in PyTorch. Unless `argmax` is NULL, also writes there,
/// per output element, the winner's position in its window (`wy * kernel_width + wx`; windows of
/// at most 256 elements).
void tarsier_max_pool_nhwc_forward(const tarsier_pool_shape *shape, long images,
                                   const float *x, float *y, uint8_t *argmax);

/// Writes the source gradient of `images` images: each output gradient goes to the input its
/// window's `argmax` (from the forward pass) names; every other input, including those under no
/// window, gets zero.
void tarsier_max_pool_nhwc_backward(const tarsier_pool_shape *shape, long images, const uint8_t *argmax,
                                    const float *dy, float *dx);

/// Copies kernel taps `taps[0..<used]` of filters `begin..<end` of a weight laid out as
/// `[filters, kernel_taps]` (OIHW: a filter is one output/input channel pair) into tap-major
/// planes: `planes[u * filters + f] = weight[f * kernel_taps + taps[u]]`.
void tarsier_gather_taps(const float *weight, long filters, long kernel_taps, const long *taps,
                         long used, long begin, long end, float *planes);

/// The reverse of `tarsier_gather_taps` for filters `begin..<end`: every tap `t` of those
/// filters gets `planes[slot_of_tap[t] * filters + f]`, or zero where `slot_of_tap[t]` is -1.
void tarsier_scatter_taps(const float *planes, long filters, long kernel_taps,
                          const long *slot_of_tap, long begin, long end, float *weight);

/// Copies rows `begin..<end` (a row is one pixel of one image: `channels` floats, a multiple of
/// 16) between a channels-last (NHWC) tensor with `pixels` pixels per image and oneDNN's nChw16c
/// layout (`[image, channels / 16, pixel, 16]`): NHWC to nChw16c when `to_blocked` is nonzero,
/// else back.
void tarsier_copy_channel_blocks(const float *from, float *to, long channels, long pixels,
                                 long begin, long end, int to_blocked);

/// Transposes columns `begin..<end` of each of `planes` row-major `rows x columns` Float32
/// matrices: `to[p][c][r] = from[p][r][c]` (NCHW to NHWC with rows = channels and columns =
/// pixels, and back with the two swapped).
void tarsier_transpose_planes(const float *from, long planes, long rows, long columns, long begin,
                              long end, float *to);

/// Shape of a 2-D convolution over channels-last (NHWC) images, per image; padding is the same
/// on both sides of an axis, dilation counts from 1 (dense), as in PyTorch.
typedef struct {
    long channels, in_height, in_width, out_height, out_width, kernel_height, kernel_width;
    long stride_height, stride_width, pad_height, pad_width, dilation_height, dilation_width;
} tarsier_conv_shape;

/// Writes rows `begin..<end` of the `rows x columns` Float32 matrix `from` (row-major) into its
/// transpose `to` (`columns x rows`, row-major), rounded to bfloat16 (nearest, ties to even;
/// NaN stays NaN).
void tarsier_transpose_to_bf16(const float *from, long rows, long columns, long begin, long end,
                               uint16_t *to);

/// Writes rows `begin..<end` of the lowered (im2col) source in bfloat16: row `r` is output pixel
/// `r` (image-major, then row-major), and holds for each kernel tap `(ky, kx)` in row-major order
/// the `channels` source values that tap reads, or zeros where it falls into padding.
void tarsier_lower_source_bf16(const tarsier_conv_shape *shape, const float *x, long begin,
                               long end, uint16_t *rows);

/// Writes filters `begin..<end` of an OIHW weight (gradient) from the product's form
/// `[out, tap, in]`: `weight[(o * in + i) * taps + t] = product[(o * taps + t) * in + i]`.
void tarsier_weight_from_tap_columns(const float *product, long taps, long in_channels,
                                     long begin, long end, float *weight);

#endif
