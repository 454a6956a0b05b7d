// A small wrapper around libjpeg's decompressor for what TurboJPEG 2.x cannot do: decode only a
// window of a JPEG (columns cropped to whole blocks, rows skipped above and never decoded below).
// libjpeg reports fatal errors by longjmp, which Swift cannot catch, so every entry point here
// sets its own jump target and returns -1 with a message instead.
#ifndef TARSIER_JPEG_H
#define TARSIER_JPEG_H

#include <stddef.h>

/// Output pixel layouts.
enum {
    TARSIER_JPEG_GRAY = 1,
    TARSIER_JPEG_RGB = 3,
    TARSIER_JPEG_RGBA = 4,
    TARSIER_JPEG_CMYK = 5
};

/// libjpeg's colour models of the file, as the header gives them.
enum {
    TARSIER_JPEG_SOURCE_GRAY = 1,
    TARSIER_JPEG_SOURCE_COLOR = 3,
    TARSIER_JPEG_SOURCE_CMYK = 4,
    TARSIER_JPEG_SOURCE_OTHER = 0
};

typedef struct tarsier_jpeg_decoder tarsier_jpeg_decoder;

/// What `tarsier_jpeg_start` decodes.
typedef struct {
    /// The whole image at the chosen scale, stored orientation.
    int scaled_width;
    int scaled_height;
    /// The decoded columns: the requested ones widened to whole blocks.
    int left;
    int width;
    /// Bytes per output pixel.
    int pixel_size;
} tarsier_jpeg_window;

/// A decoder, or NULL when memory is short.
tarsier_jpeg_decoder *tarsier_jpeg_create(void);

/// Frees the decoder and anything it holds; safe after any failure.
void tarsier_jpeg_destroy(tarsier_jpeg_decoder *decoder);

/// Reads the header of a JPEG held in two pieces, `first` then `second` (which may be empty),
/// both alive until the decoder is destroyed. Gives the stored size and one of
/// TARSIER_JPEG_SOURCE_*. Returns 0 or -1.
///
/// The pieces let a caller decode a band of a file with restart markers without copying it: a
/// copy of the headers with a smaller height, then the original entropy-coded data from a
/// restart interval on. Its restart markers then count from `restart_offset` instead of 0.
int tarsier_jpeg_read_header(tarsier_jpeg_decoder *decoder, const unsigned char *first, size_t first_size,
                             const unsigned char *second, size_t second_size, int restart_offset,
                             int *width, int *height, int *source);

/// Starts decoding at `scale_num`/`scale_denom` (the factors TurboJPEG offers) in `layout`
/// (TARSIER_JPEG_*), with the accurate integer inverse DCT and smooth chroma upsampling as
/// TurboJPEG's accurate mode, limited to the columns `left ..< left + width` of the scaled image.
/// Progressive files of more than `max_scans` scans are refused. Returns 0 or -1.
int tarsier_jpeg_start(tarsier_jpeg_decoder *decoder, int scale_num, int scale_denom, int layout,
                       int left, int width, int max_scans, tarsier_jpeg_window *window);

/// Decodes scaled rows `top ..< top + rows` of the window into `output`, `stride` bytes apart,
/// then stops: rows above `top` are entropy-decoded only, rows below are not read at all.
/// Returns 0 or -1.
int tarsier_jpeg_read(tarsier_jpeg_decoder *decoder, int top, int rows, unsigned char *output, size_t stride);

/// The error of the last failed call, or the first warning.
const char *tarsier_jpeg_message(const tarsier_jpeg_decoder *decoder);

/// How many warnings libjpeg gave (corrupt data it decoded past, a premature end of the data).
int tarsier_jpeg_warnings(const tarsier_jpeg_decoder *decoder);

#endif
