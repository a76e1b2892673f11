// A thin, version-neutral layer over oneDNN's C API.
//
// oneDNN 3.x removed the operation descriptors (dnnl_*_desc_init) and made memory
// descriptors opaque. Everything whose signature differs between 2.x and 3.x is wrapped
// here, so supporting 3.x is one #if branch in cdnnl.c; Swift only sees these functions
// plus the calls that are identical in both (engine, stream, execute, memory handles).
#ifndef GANTRY_CDNNL_H
#define GANTRY_CDNNL_H

#include <oneapi/dnnl/dnnl.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    GANTRY_CONV_FORWARD = 0,
    GANTRY_DECONV_FORWARD = 1,
    // Training: gradients with respect to the input, and to the weights (and bias).
    GANTRY_CONV_BACKWARD_DATA = 2,
    GANTRY_CONV_BACKWARD_WEIGHTS = 3,
    GANTRY_DECONV_BACKWARD_DATA = 4,
    GANTRY_DECONV_BACKWARD_WEIGHTS = 5,
} gantry_conv_kind;

/// Geometry of a 2-D (de)convolution. Tensors are NCHW; weights OIHW for convolution and
/// IOHW (PyTorch's ConvTranspose2d layout) for deconvolution; dims are logical, formats are
/// chosen by oneDNN.
typedef struct {
    int64_t src[4];
    int64_t weights[4];  // logical (O, I, kH, kW) in both cases
    int64_t dst[4];
    int64_t strides[2];
    int64_t pad_l[2];
    int64_t pad_r[2];
    int has_bias;
    int winograd;  // 1: ask for the Winograd algorithm (forward convolution only)
    int training;  // 1: forward_training (keeps what backward needs), 0: forward_inference
} gantry_conv_desc;

/// Execution argument ids (the DNNL_ARG_* macros are aliases Swift cannot import).
enum {
    GANTRY_ARG_SRC = DNNL_ARG_SRC,
    GANTRY_ARG_DST = DNNL_ARG_DST,
    GANTRY_ARG_WEIGHTS = DNNL_ARG_WEIGHTS,
    GANTRY_ARG_BIAS = DNNL_ARG_BIAS,
    GANTRY_ARG_SCRATCHPAD = DNNL_ARG_SCRATCHPAD,
    GANTRY_ARG_FROM = DNNL_ARG_FROM,
    GANTRY_ARG_TO = DNNL_ARG_TO,
    GANTRY_ARG_DIFF_SRC = DNNL_ARG_DIFF_SRC,
    GANTRY_ARG_DIFF_DST = DNNL_ARG_DIFF_DST,
    GANTRY_ARG_DIFF_WEIGHTS = DNNL_ARG_DIFF_WEIGHTS,
    GANTRY_ARG_DIFF_BIAS = DNNL_ARG_DIFF_BIAS,
};

typedef enum {
    GANTRY_MD_SRC = 0,
    GANTRY_MD_WEIGHTS = 1,
    GANTRY_MD_BIAS = 2,
    GANTRY_MD_DST = 3,
    GANTRY_MD_SCRATCHPAD = 4,
} gantry_md_which;

/// Caps the instruction set oneDNN may use (must run before the first primitive).
dnnl_status_t gantry_set_max_isa(dnnl_cpu_isa_t isa);
void gantry_set_num_threads(int n);
int gantry_get_max_threads(void);

/// Runs body(context, i) for i in 0..<count on oneDNN's OpenMP thread team, so Swift's
/// elementwise loops share threads with the convolutions instead of competing with spinning
/// OpenMP workers.
void gantry_parallel_for(long count, void *context, void (*body)(void *context, long index));

/// Creates a forward (de)convolution primitive descriptor with format_tag_any for
/// src, weights and dst, and a user-managed scratchpad.
dnnl_status_t gantry_conv_pd_create(dnnl_primitive_desc_t *pd, dnnl_engine_t engine,
                                    gantry_conv_kind kind, const gantry_conv_desc *desc);

/// Creates a backward (de)convolution primitive descriptor (kind GANTRY_*_BACKWARD_*), with
/// format_tag_any everywhere, the direct algorithm (Winograd when desc->winograd, convolutions only), a user-managed scratchpad, and the forward
/// training descriptor oneDNN wants as a hint built internally. `has_bias` asks for diff_bias
/// (backward weights only).
dnnl_status_t gantry_conv_bwd_pd_create(dnnl_primitive_desc_t *pd, dnnl_engine_t engine,
                                        gantry_conv_kind kind, const gantry_conv_desc *desc);

/// Byte size of the memory for execution argument `arg` (a GANTRY_ARG_*), 0 if the primitive
/// takes no such argument.
size_t gantry_pd_arg_size(const_dnnl_primitive_desc_t pd, int arg);

/// 1 when argument `arg`'s memory has exactly the plain layout `tag` for `dims`.
int gantry_pd_arg_is_plain(const_dnnl_primitive_desc_t pd, int arg, int ndims, const int64_t *dims,
                           dnnl_format_tag_t tag);

/// Memory object laid out as argument `arg` wants; `handle` as for gantry_memory_create_from_pd.
dnnl_status_t gantry_memory_create_for_arg(dnnl_memory_t *memory, const_dnnl_primitive_desc_t pd,
                                           int arg, dnnl_engine_t engine, void *handle);

/// Byte size of one of the descriptor's memories (0 if absent).
size_t gantry_pd_md_size(const_dnnl_primitive_desc_t pd, gantry_md_which which);

/// 1 when the descriptor's memory has exactly the plain layout `tag` for `dims`.
int gantry_pd_md_is_plain(const_dnnl_primitive_desc_t pd, gantry_md_which which, int ndims,
                          const int64_t *dims, dnnl_format_tag_t tag);

/// 1 when `memory` has the same layout as the descriptor's memory `which`.
int gantry_pd_md_equals_memory(const_dnnl_primitive_desc_t pd, gantry_md_which which,
                               const_dnnl_memory_t memory);

/// Memory object with the descriptor's layout; `handle` may be DNNL_MEMORY_NONE or a
/// buffer of at least gantry_pd_md_size bytes.
dnnl_status_t gantry_memory_create_from_pd(dnnl_memory_t *memory, const_dnnl_primitive_desc_t pd,
                                           gantry_md_which which, dnnl_engine_t engine,
                                           void *handle);

/// Memory object with a plain layout (e.g. dnnl_nchw, dnnl_oihw, dnnl_iohw, dnnl_x).
dnnl_status_t gantry_memory_create_plain(dnnl_memory_t *memory, dnnl_engine_t engine, int ndims,
                                         const int64_t *dims, dnnl_format_tag_t tag,
                                         void *handle);

/// Reorder primitive copying `src`'s layout into `dst`'s layout (same engine).
dnnl_status_t gantry_reorder_create(dnnl_primitive_t *primitive, const_dnnl_memory_t src,
                                    const_dnnl_memory_t dst, dnnl_engine_t engine);

/// Implementation name chosen by oneDNN, e.g. "jit_wino_4x3:avx512_core".
const char *gantry_pd_impl_name(const_dnnl_primitive_desc_t pd);

#endif
