// libtiff for Imaging's TIFF codec: an in-memory file for TIFFClientOpenExt, per-handle error
// handlers, and typed wrappers over TIFFGetField/TIFFSetField (variadic, so Swift cannot call
// them). Everything here is static: each importing module gets its own copy, and no state is
// shared between handles.
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

/// One open TIFF's file and the first error libtiff reported about it. Reading: `data`/`size`
/// are the caller's bytes. Writing: `data` is NULL and `buffer` grows (malloc'd, up to `limit`).
typedef struct {
    const uint8_t *data;
    uint8_t *buffer;
    uint64_t size;
    uint64_t position;
    uint64_t capacity;
    uint64_t limit;
    int errors;
    char message[320];
} GantryTIFFFile;

static tmsize_t gantry_tiff_read(thandle_t handle, void *out, tmsize_t count) {
    GantryTIFFFile *f = (GantryTIFFFile *)handle;
    const uint8_t *bytes = f->data ? f->data : f->buffer;
    if (count <= 0 || bytes == NULL || f->position >= f->size) return 0;
    uint64_t left = f->size - f->position;
    uint64_t n = (uint64_t)count < left ? (uint64_t)count : left;
    memcpy(out, bytes + f->position, (size_t)n);
    f->position += n;
    return (tmsize_t)n;
}

static tmsize_t gantry_tiff_write(thandle_t handle, void *in, tmsize_t count) {
    GantryTIFFFile *f = (GantryTIFFFile *)handle;
    if (f->data != NULL || count < 0) return -1;
    uint64_t end = f->position + (uint64_t)count;
    if (end < f->position || end > f->limit) return -1;
    if (end > f->capacity) {
        uint64_t grown = f->capacity ? f->capacity : 65536;
        while (grown < end) grown *= 2;
        if (grown > f->limit) grown = f->limit;
        uint8_t *buffer = (uint8_t *)realloc(f->buffer, (size_t)grown);
        if (buffer == NULL) return -1;
        f->buffer = buffer;
        f->capacity = grown;
    }
    // A seek past the end before writing leaves a hole, which a file would read as zeros.
    if (f->position > f->size) memset(f->buffer + f->size, 0, (size_t)(f->position - f->size));
    if (count > 0) memcpy(f->buffer + f->position, in, (size_t)count);
    f->position = end;
    if (end > f->size) f->size = end;
    return count;
}

static toff_t gantry_tiff_seek(thandle_t handle, toff_t offset, int whence) {
    GantryTIFFFile *f = (GantryTIFFFile *)handle;
    uint64_t base = whence == SEEK_CUR ? f->position : whence == SEEK_END ? f->size : 0;
    // toff_t is unsigned: a negative relative offset arrives wrapped and wraps back here.
    uint64_t target = base + offset;
    if (target > ((uint64_t)1 << 62)) return (toff_t)-1;
    f->position = target;
    return target;
}

static int gantry_tiff_close(thandle_t handle) { (void)handle; return 0; }

static toff_t gantry_tiff_size(thandle_t handle) { return ((GantryTIFFFile *)handle)->size; }

static int gantry_tiff_map(thandle_t handle, void **base, toff_t *size) {
    (void)handle; (void)base; (void)size;
    return 0;
}

static void gantry_tiff_unmap(thandle_t handle, void *base, toff_t size) {
    (void)handle; (void)base; (void)size;
}

/// Keeps the first error (the cause; later ones are consequences) and stops libtiff from
/// also calling the process-wide handlers, which print to stderr.
static int gantry_tiff_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)module;
    GantryTIFFFile *f = (GantryTIFFFile *)user;
    if (f->errors++ == 0) vsnprintf(f->message, sizeof f->message, fmt, ap);
    return 1;
}

static int gantry_tiff_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;
}

/// Opens `f` ("r…" or "w…" mode) with this handle's own error handlers and a cap on any
/// single allocation libtiff makes for it (0: libtiff's default).
static TIFF *gantry_tiff_open(GantryTIFFFile *f, const char *mode, tmsize_t max_single_alloc) {
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (options == NULL) return NULL;
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, max_single_alloc);
    TIFFOpenOptionsSetErrorHandlerExtR(options, gantry_tiff_error, f);
    TIFFOpenOptionsSetWarningHandlerExtR(options, gantry_tiff_warning, f);
    TIFF *tif = TIFFClientOpenExt("memory", mode, (thandle_t)f, gantry_tiff_read, gantry_tiff_write,
                                  gantry_tiff_seek, gantry_tiff_close, gantry_tiff_size, gantry_tiff_map,
                                  gantry_tiff_unmap, options);
    TIFFOpenOptionsFree(options);
    return tif;
}

/// Messages libtiff reports without a handle (none of ours should) are dropped, not printed.
static void gantry_tiff_silence_globals(void) {
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
}

static int gantry_tiff_get_u16(TIFF *tif, uint32_t tag, uint16_t *value) {
    return TIFFGetFieldDefaulted(tif, tag, value);
}

static int gantry_tiff_get_u32(TIFF *tif, uint32_t tag, uint32_t *value) {
    return TIFFGetFieldDefaulted(tif, tag, value);
}

static int gantry_tiff_get_extra_samples(TIFF *tif, uint16_t *count, const uint16_t **types) {
    uint16_t *values = NULL;
    int ok = TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, count, &values);
    *types = values;
    return ok;
}

static int gantry_tiff_get_colormap(TIFF *tif, const uint16_t **red, const uint16_t **green, const uint16_t **blue) {
    uint16_t *r = NULL, *g = NULL, *b = NULL;
    int ok = TIFFGetField(tif, TIFFTAG_COLORMAP, &r, &g, &b);
    *red = r; *green = g; *blue = b;
    return ok;
}

static int gantry_tiff_get_icc(TIFF *tif, uint32_t *count, const void **bytes) {
    void *data = NULL;
    int ok = TIFFGetField(tif, TIFFTAG_ICCPROFILE, count, &data);
    *bytes = data;
    return ok;
}

static int gantry_tiff_set_u16(TIFF *tif, uint32_t tag, uint16_t value) {
    return TIFFSetField(tif, tag, (int)value);
}

static int gantry_tiff_set_u32(TIFF *tif, uint32_t tag, uint32_t value) {
    return TIFFSetField(tif, tag, value);
}

static int gantry_tiff_set_extra_samples(TIFF *tif, uint16_t count, const uint16_t *types) {
    return TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (int)count, types);
}

static int gantry_tiff_set_icc(TIFF *tif, uint32_t count, const void *bytes) {
    return TIFFSetField(tif, TIFFTAG_ICCPROFILE, count, bytes);
}
