// Elementwise kernels that need instructions the baseline x86-64 build does not assume (FMA,
// AVX2), compiled for them and chosen at run time by CPUID, beside the portable Swift loops.
#ifndef GANTRY_CKERNELS_H
#define GANTRY_CKERNELS_H

#include <stddef.h>

/// Whether this CPU runs the FMA/AVX2 kernels below (and the OS saves the AVX registers).
int gantry_has_fma_avx2(void);

/// The scalars of one Adam step, as PyTorch's `_single_tensor_adam` converts them to float.
typedef struct {
    float lerp_coefficient; // w = 1 - beta1 when small_weight, else w - 1 (ATen's lerp)
    int small_weight;       // |w| < 0.5
    float beta2, one_minus_beta2;
    float bias_correction2_sqrt, eps, neg_step_size, weight_decay;
} gantry_adam_scalars;

/// One Adam update of `n` elements, with the same operations and roundings as the Swift loop
/// in Adam.swift (fused multiply-adds where torch's vectorised kernels fuse, IEEE sqrt and
/// division), so results are bit for bit the same. Call only when `gantry_has_fma_avx2()`.
void gantry_adam_fma(const float *grad, float *exp_avg, float *exp_avg_sq, float *param, size_t n,
                     const gantry_adam_scalars *s);

/// One RMSprop update of `n` elements (PyTorch's `_single_tensor_rmsprop`, no momentum, not
/// centred), bit for bit the Swift loop in Optimizer.swift. Call only when `gantry_has_fma_avx2()`.
void gantry_rmsprop_fma(const float *grad, float *square_avg, float *param, size_t n, float alpha,
                        float one_minus_alpha, float eps, float neg_lr, float weight_decay);

#endif
