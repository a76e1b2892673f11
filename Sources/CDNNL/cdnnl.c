#include "cdnnl.h"

#include <string.h>

#if DNNL_VERSION_MAJOR >= 3
#error "oneDNN 3.x: add the primitive_desc_create branch here (descriptors were removed in 3.0)"
#endif

extern void omp_set_num_threads(int);
extern int omp_get_max_threads(void);

dnnl_status_t gantry_set_max_isa(dnnl_cpu_isa_t isa) { return dnnl_set_max_cpu_isa(isa); }
void gantry_set_num_threads(int n) { omp_set_num_threads(n); }
int gantry_get_max_threads(void) { return omp_get_max_threads(); }

// libgomp's entry point for a parallel region, called directly: Swift's clang emits the LLVM
// OpenMP ABI (__kmpc_*) for pragmas, which Debian's libgomp-based oneDNN does not provide.
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);

struct parallel_job {
    long count;
    long next;  // shared work counter: dynamic scheduling, one index at a time
    void *context;
    void (*body)(void *, long);
};

static void parallel_worker(void *data) {
    struct parallel_job *job = data;
    for (;;) {
        long i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        if (i >= job->count) break;
        job->body(job->context, i);
    }
}

void gantry_parallel_for(long count, void *context, void (*body)(void *, long)) {
    struct parallel_job job = {count, 0, context, body};
    GOMP_parallel(parallel_worker, &job, 0, 0);
}

static dnnl_status_t any_md(dnnl_memory_desc_t *md, int ndims, const int64_t *dims) {
    return dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, dnnl_format_tag_any);
}

dnnl_status_t gantry_conv_pd_create(dnnl_primitive_desc_t *pd, dnnl_engine_t engine,
                                    gantry_conv_kind kind, const gantry_conv_desc *d) {
    dnnl_memory_desc_t src, wei, bia, dst;
    dnnl_status_t st;
    if ((st = any_md(&src, 4, d->src)) != dnnl_success) return st;
    if ((st = any_md(&wei, 4, d->weights)) != dnnl_success) return st;
    if ((st = any_md(&dst, 4, d->dst)) != dnnl_success) return st;
    int64_t bias_dims[1] = {d->dst[1]};
    if ((st = dnnl_memory_desc_init_by_tag(&bia, 1, bias_dims, dnnl_f32, dnnl_x)) != dnnl_success)
        return st;
    const dnnl_memory_desc_t *bias_md = d->has_bias ? &bia : NULL;
    dnnl_prop_kind_t prop = d->training ? dnnl_forward_training : dnnl_forward_inference;

    dnnl_primitive_attr_t attr;
    if ((st = dnnl_primitive_attr_create(&attr)) != dnnl_success) return st;
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);

    if (kind == GANTRY_CONV_FORWARD) {
        dnnl_convolution_desc_t cd;
        dnnl_alg_kind_t alg = d->winograd ? dnnl_convolution_winograd : dnnl_convolution_direct;
        st = dnnl_convolution_forward_desc_init(&cd, prop, alg, &src, &wei, bias_md, &dst,
                                                d->strides, d->pad_l, d->pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(pd, &cd, attr, engine, NULL);
    } else {
        dnnl_deconvolution_desc_t dd;
        st = dnnl_deconvolution_forward_desc_init(&dd, prop, dnnl_deconvolution_direct, &src,
                                                  &wei, bias_md, &dst, d->strides, d->pad_l,
                                                  d->pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(pd, &dd, attr, engine, NULL);
    }
    dnnl_primitive_attr_destroy(attr);
    return st;
}

dnnl_status_t gantry_conv_bwd_pd_create(dnnl_primitive_desc_t *pd, dnnl_engine_t engine,
                                        gantry_conv_kind kind, const gantry_conv_desc *d) {
    int deconv = kind == GANTRY_DECONV_BACKWARD_DATA || kind == GANTRY_DECONV_BACKWARD_WEIGHTS;
    int weights = kind == GANTRY_CONV_BACKWARD_WEIGHTS || kind == GANTRY_DECONV_BACKWARD_WEIGHTS;
    if (!deconv && kind != GANTRY_CONV_BACKWARD_DATA && !weights) return dnnl_invalid_arguments;

    // oneDNN needs the forward (training) descriptor as a hint for any backward primitive.
    // Winograd (oneDNN has it for the backward passes of 3x3 stride-1 convolutions on AVX-512)
    // when asked for; the caller falls back to direct when this fails.
    int wino = d->winograd && !deconv;
    gantry_conv_desc fwd = *d;
    fwd.training = 1;
    fwd.winograd = wino;
    dnnl_primitive_desc_t hint;
    dnnl_status_t st = gantry_conv_pd_create(&hint, engine, deconv ? GANTRY_DECONV_FORWARD : GANTRY_CONV_FORWARD, &fwd);
    if (st != dnnl_success) return st;

    dnnl_memory_desc_t src, wei, bia, dst;
    int64_t bias_dims[1] = {d->dst[1]};
    if ((st = any_md(&src, 4, d->src)) != dnnl_success) goto done;
    if ((st = any_md(&wei, 4, d->weights)) != dnnl_success) goto done;
    if ((st = any_md(&dst, 4, d->dst)) != dnnl_success) goto done;
    if ((st = dnnl_memory_desc_init_by_tag(&bia, 1, bias_dims, dnnl_f32, dnnl_x)) != dnnl_success) goto done;
    const dnnl_memory_desc_t *bias_md = d->has_bias ? &bia : NULL;

    dnnl_primitive_attr_t attr;
    if ((st = dnnl_primitive_attr_create(&attr)) != dnnl_success) goto done;
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (deconv) {
        dnnl_deconvolution_desc_t dd;
        st = weights ? dnnl_deconvolution_backward_weights_desc_init(&dd, dnnl_deconvolution_direct, &src, &wei, bias_md,
                                                                     &dst, d->strides, d->pad_l, d->pad_r)
                     : dnnl_deconvolution_backward_data_desc_init(&dd, dnnl_deconvolution_direct, &src, &wei, &dst,
                                                                  d->strides, d->pad_l, d->pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(pd, &dd, attr, engine, hint);
    } else {
        dnnl_convolution_desc_t cd;
        dnnl_alg_kind_t alg = wino ? dnnl_convolution_winograd : dnnl_convolution_direct;
        st = weights ? dnnl_convolution_backward_weights_desc_init(&cd, alg, &src, &wei, bias_md, &dst, d->strides,
                                                                   d->pad_l, d->pad_r)
                     : dnnl_convolution_backward_data_desc_init(&cd, alg, &src, &wei, &dst, d->strides, d->pad_l, d->pad_r);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(pd, &cd, attr, engine, hint);
    }
    dnnl_primitive_attr_destroy(attr);
done:
    dnnl_primitive_desc_destroy(hint);
    return st;
}

static const dnnl_memory_desc_t *arg_md(const_dnnl_primitive_desc_t pd, int arg) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
    // An argument the primitive does not take comes back as a zero memory descriptor.
    return md && md->ndims > 0 ? md : NULL;
}

size_t gantry_pd_arg_size(const_dnnl_primitive_desc_t pd, int arg) {
    const dnnl_memory_desc_t *md = arg_md(pd, arg);
    return md ? dnnl_memory_desc_get_size(md) : 0;
}

int gantry_pd_arg_is_plain(const_dnnl_primitive_desc_t pd, int arg, int ndims, const int64_t *dims,
                           dnnl_format_tag_t tag) {
    const dnnl_memory_desc_t *md = arg_md(pd, arg);
    if (!md) return 0;
    dnnl_memory_desc_t plain;
    if (dnnl_memory_desc_init_by_tag(&plain, ndims, dims, dnnl_f32, tag) != dnnl_success) return 0;
    return dnnl_memory_desc_equal(md, &plain);
}

dnnl_status_t gantry_memory_create_for_arg(dnnl_memory_t *memory, const_dnnl_primitive_desc_t pd,
                                           int arg, dnnl_engine_t engine, void *handle) {
    const dnnl_memory_desc_t *md = arg_md(pd, arg);
    if (!md) return dnnl_invalid_arguments;
    return dnnl_memory_create(memory, md, engine, handle);
}

static const dnnl_memory_desc_t *query_md(const_dnnl_primitive_desc_t pd, gantry_md_which which) {
    dnnl_query_t q;
    switch (which) {
        case GANTRY_MD_SRC: q = dnnl_query_src_md; break;
        case GANTRY_MD_WEIGHTS: q = dnnl_query_weights_md; break;
        case GANTRY_MD_DST: q = dnnl_query_dst_md; break;
        case GANTRY_MD_SCRATCHPAD: q = dnnl_query_scratchpad_md; break;
        case GANTRY_MD_BIAS: return dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
        default: return NULL;
    }
    return dnnl_primitive_desc_query_md(pd, q, 0);
}

size_t gantry_pd_md_size(const_dnnl_primitive_desc_t pd, gantry_md_which which) {
    const dnnl_memory_desc_t *md = query_md(pd, which);
    return md ? dnnl_memory_desc_get_size(md) : 0;
}

int gantry_pd_md_is_plain(const_dnnl_primitive_desc_t pd, gantry_md_which which, int ndims,
                          const int64_t *dims, dnnl_format_tag_t tag) {
    const dnnl_memory_desc_t *md = query_md(pd, which);
    if (!md) return 0;
    dnnl_memory_desc_t plain;
    if (dnnl_memory_desc_init_by_tag(&plain, ndims, dims, dnnl_f32, tag) != dnnl_success) return 0;
    return dnnl_memory_desc_equal(md, &plain);
}

int gantry_pd_md_equals_memory(const_dnnl_primitive_desc_t pd, gantry_md_which which,
                               const_dnnl_memory_t memory) {
    const dnnl_memory_desc_t *md = query_md(pd, which), *mmd;
    if (!md || dnnl_memory_get_memory_desc(memory, &mmd) != dnnl_success) return 0;
    return dnnl_memory_desc_equal(md, mmd);
}

dnnl_status_t gantry_memory_create_from_pd(dnnl_memory_t *memory, const_dnnl_primitive_desc_t pd,
                                           gantry_md_which which, dnnl_engine_t engine,
                                           void *handle) {
    const dnnl_memory_desc_t *md = query_md(pd, which);
    if (!md) return dnnl_invalid_arguments;
    return dnnl_memory_create(memory, md, engine, handle);
}

dnnl_status_t gantry_memory_create_plain(dnnl_memory_t *memory, dnnl_engine_t engine, int ndims,
                                         const int64_t *dims, dnnl_format_tag_t tag,
                                         void *handle) {
    dnnl_memory_desc_t md;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&md, ndims, dims, dnnl_f32, tag);
    if (st != dnnl_success) return st;
    return dnnl_memory_create(memory, &md, engine, handle);
}

dnnl_status_t gantry_reorder_create(dnnl_primitive_t *primitive, const_dnnl_memory_t src,
                                    const_dnnl_memory_t dst, dnnl_engine_t engine) {
    const dnnl_memory_desc_t *smd, *dmd;
    dnnl_status_t st;
    if ((st = dnnl_memory_get_memory_desc(src, &smd)) != dnnl_success) return st;
    if ((st = dnnl_memory_get_memory_desc(dst, &dmd)) != dnnl_success) return st;
    dnnl_primitive_desc_t rpd;
    if ((st = dnnl_reorder_primitive_desc_create(&rpd, smd, engine, dmd, engine, NULL)) != dnnl_success)
        return st;
    st = dnnl_primitive_create(primitive, rpd);
    dnnl_primitive_desc_destroy(rpd);
    return st;
}

const char *gantry_pd_impl_name(const_dnnl_primitive_desc_t pd) {
    const char *name = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success) return "?";
    return name;
}
