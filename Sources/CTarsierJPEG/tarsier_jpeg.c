#include "tarsier_jpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

struct tarsier_jpeg_decoder {
    struct jpeg_decompress_struct info;
    struct jpeg_error_mgr errors;
    struct jpeg_progress_mgr progress;
    struct jpeg_source_mgr source;
    const unsigned char *second;
    size_t second_size;
    int restart_offset;
    jmp_buf jump;
    int max_scans;
    int warnings;
    int created;
    char message[JMSG_LENGTH_MAX];
};

static void fail(j_common_ptr common) {
    tarsier_jpeg_decoder *decoder = (tarsier_jpeg_decoder *)common->client_data;
    (*common->err->format_message)(common, decoder->message);
    longjmp(decoder->jump, 1);
}

/// Warnings are counted and the first one kept, as TurboJPEG keeps it; trace messages are dropped.
static void note(j_common_ptr common, int level) {
    tarsier_jpeg_decoder *decoder = (tarsier_jpeg_decoder *)common->client_data;
    if (level >= 0) return;
    if (decoder->warnings == 0) (*common->err->format_message)(common, decoder->message);
    decoder->warnings += 1;
}

/// TurboJPEG's TJFLAG_LIMITSCANS: a progressive file with very many scans is refused rather than
/// decoded for a very long time.
static void check_scans(j_common_ptr common) {
    tarsier_jpeg_decoder *decoder = (tarsier_jpeg_decoder *)common->client_data;
    if (common->is_decompressor && ((j_decompress_ptr)common)->input_scan_number > decoder->max_scans) {
        snprintf(decoder->message, sizeof decoder->message, "Progressive JPEG image has more than %d scans",
                 decoder->max_scans);
        longjmp(decoder->jump, 1);
    }
}

static void start_source(j_decompress_ptr info) { (void)info; }

static void end_source(j_decompress_ptr info) { (void)info; }

/// The second piece once the first is used up; after both, a fake end-of-image marker and a
/// warning, as libjpeg's memory source does for a cut-off file.
static boolean refill(j_decompress_ptr info) {
    static const JOCTET end_of_image[2] = { 0xFF, JPEG_EOI };
    tarsier_jpeg_decoder *decoder = (tarsier_jpeg_decoder *)info->client_data;
    if (decoder->second != NULL && decoder->second_size > 0) {
        info->src->next_input_byte = decoder->second;
        info->src->bytes_in_buffer = decoder->second_size;
        decoder->second = NULL;
        return TRUE;
    }
    WARNMS(info, JWRN_JPEG_EOF);
    info->src->next_input_byte = end_of_image;
    info->src->bytes_in_buffer = 2;
    return TRUE;
}

static void skip(j_decompress_ptr info, long count) {
    if (count <= 0) return;
    while ((size_t)count > info->src->bytes_in_buffer) {
        count -= (long)info->src->bytes_in_buffer;
        (void)refill(info);
    }
    info->src->next_input_byte += count;
    info->src->bytes_in_buffer -= (size_t)count;
}

/// A restart marker numbered `restart_offset` past the expected one is the expected one (the
/// band starts mid-file); anything else goes to libjpeg's own recovery.
static boolean resync(j_decompress_ptr info, int desired) {
    tarsier_jpeg_decoder *decoder = (tarsier_jpeg_decoder *)info->client_data;
    if (info->unread_marker == (int)JPEG_RST0 + ((desired + decoder->restart_offset) & 7)) {
        info->unread_marker = 0;
        return TRUE;
    }
    return jpeg_resync_to_restart(info, desired);
}

tarsier_jpeg_decoder *tarsier_jpeg_create(void) {
    tarsier_jpeg_decoder *decoder = calloc(1, sizeof *decoder);
    if (decoder == NULL) return NULL;
    decoder->info.err = jpeg_std_error(&decoder->errors);
    decoder->errors.error_exit = fail;
    decoder->errors.emit_message = note;
    decoder->info.client_data = decoder;
    decoder->max_scans = 500;
    if (setjmp(decoder->jump)) {
        free(decoder);
        return NULL;
    }
    jpeg_create_decompress(&decoder->info);  // keeps err and client_data
    decoder->progress.progress_monitor = check_scans;
    decoder->info.progress = &decoder->progress;
    decoder->created = 1;
    return decoder;
}

void tarsier_jpeg_destroy(tarsier_jpeg_decoder *decoder) {
    if (decoder == NULL) return;
    if (decoder->created) jpeg_destroy_decompress(&decoder->info);
    free(decoder);
}

int tarsier_jpeg_read_header(tarsier_jpeg_decoder *decoder, const unsigned char *first, size_t first_size,
                             const unsigned char *second, size_t second_size, int restart_offset,
                             int *width, int *height, int *source) {
    if (setjmp(decoder->jump)) return -1;
    decoder->source.init_source = start_source;
    decoder->source.fill_input_buffer = refill;
    decoder->source.skip_input_data = skip;
    decoder->source.resync_to_restart = resync;
    decoder->source.term_source = end_source;
    decoder->source.next_input_byte = first;
    decoder->source.bytes_in_buffer = first_size;
    decoder->second = second;
    decoder->second_size = second_size;
    decoder->restart_offset = restart_offset & 7;
    decoder->info.src = &decoder->source;
    jpeg_read_header(&decoder->info, TRUE);
    *width = (int)decoder->info.image_width;
    *height = (int)decoder->info.image_height;
    switch (decoder->info.jpeg_color_space) {
    case JCS_GRAYSCALE: *source = TARSIER_JPEG_SOURCE_GRAY; break;
    case JCS_RGB: case JCS_YCbCr: *source = TARSIER_JPEG_SOURCE_COLOR; break;
    case JCS_CMYK: case JCS_YCCK: *source = TARSIER_JPEG_SOURCE_CMYK; break;
    default: *source = TARSIER_JPEG_SOURCE_OTHER; break;
    }
    return 0;
}

int tarsier_jpeg_start(tarsier_jpeg_decoder *decoder, int scale_num, int scale_denom, int layout,
                       int left, int width, int max_scans, tarsier_jpeg_window *window) {
    if (setjmp(decoder->jump)) return -1;
    struct jpeg_decompress_struct *info = &decoder->info;
    decoder->max_scans = max_scans;
    switch (layout) {
    case TARSIER_JPEG_GRAY: info->out_color_space = JCS_GRAYSCALE; break;
    case TARSIER_JPEG_RGBA: info->out_color_space = JCS_EXT_RGBA; break;
    case TARSIER_JPEG_CMYK: info->out_color_space = JCS_CMYK; break;
    default: info->out_color_space = JCS_EXT_RGB; break;
    }
    info->scale_num = (unsigned int)scale_num;
    info->scale_denom = (unsigned int)scale_denom;
    info->dct_method = JDCT_ISLOW;
    info->do_fancy_upsampling = TRUE;
    jpeg_start_decompress(info);
    JDIMENSION x = left < 0 ? 0 : (JDIMENSION)left;
    JDIMENSION w = width < 1 ? 1 : (JDIMENSION)width;
    if (x >= info->output_width) x = info->output_width - 1;
    if (x + w > info->output_width) w = info->output_width - x;
    if (x != 0 || w != info->output_width) jpeg_crop_scanline(info, &x, &w);
    window->scaled_width = (int)((info->image_width * (JDIMENSION)scale_num + (JDIMENSION)scale_denom - 1)
                                 / (JDIMENSION)scale_denom);
    window->scaled_height = (int)info->output_height;
    window->left = (int)x;
    window->width = (int)w;
    window->pixel_size = info->output_components;
    return 0;
}

int tarsier_jpeg_read(tarsier_jpeg_decoder *decoder, int top, int rows, unsigned char *output, size_t stride) {
    if (setjmp(decoder->jump)) return -1;
    struct jpeg_decompress_struct *info = &decoder->info;
    if (top > 0) jpeg_skip_scanlines(info, (JDIMENSION)top);
    int done = 0;
    while (done < rows && info->output_scanline < info->output_height) {
        JSAMPROW pointers[16];
        int batch = rows - done < 16 ? rows - done : 16;
        for (int i = 0; i < batch; i++) pointers[i] = output + (size_t)(done + i) * stride;
        JDIMENSION got = jpeg_read_scanlines(info, pointers, (JDIMENSION)batch);
        if (got == 0) break;
        done += (int)got;
    }
    if (done < rows) {
        snprintf(decoder->message, sizeof decoder->message, "decoded %d of %d rows", done, rows);
        return -1;
    }
    // The whole height read: finish, which checks what follows; otherwise stop here.
    if (info->output_scanline == info->output_height) {
        jpeg_finish_decompress(info);
    } else {
        jpeg_abort_decompress(info);
    }
    return 0;
}

const char *tarsier_jpeg_message(const tarsier_jpeg_decoder *decoder) { return decoder->message; }

int tarsier_jpeg_warnings(const tarsier_jpeg_decoder *decoder) { return decoder->warnings; }
