#include "ckernels.h"
#include <immintrin.h>
#include <math.h>

#pragma clang fp contract(off)

__attribute__((target("avx2,fma")))
void gantry_rmsprop_fma(const float *grad, float *square_avg, float *param, size_t n, float alpha,
                        float one_minus_alpha, float eps, float neg_lr, float weight_decay) {
    const __m256 a = _mm256_set1_ps(alpha), oma = _mm256_set1_ps(one_minus_alpha), e = _mm256_set1_ps(eps);
    const __m256 lr = _mm256_set1_ps(neg_lr), decay = _mm256_set1_ps(weight_decay);
    const int has_decay = weight_decay != 0;
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 g = _mm256_loadu_ps(grad + j), p = _mm256_loadu_ps(param + j);
        if (has_decay) g = _mm256_fmadd_ps(p, decay, g);                      // grad.add(param, alpha=wd)
        __m256 s = _mm256_fmadd_ps(_mm256_mul_ps(oma, g), g, _mm256_mul_ps(_mm256_loadu_ps(square_avg + j), a));
        _mm256_storeu_ps(square_avg + j, s);                                  // mul_(alpha).addcmul_(g, g, 1 - alpha)
        __m256 denom = _mm256_add_ps(_mm256_sqrt_ps(s), e);
        _mm256_storeu_ps(param + j, _mm256_add_ps(p, _mm256_div_ps(_mm256_mul_ps(lr, g), denom)));
    }
    for (; j < n; j++) {
        float g = grad[j];
        if (has_decay) g = fmaf(param[j], weight_decay, g);
        float s = fmaf(one_minus_alpha * g, g, square_avg[j] * alpha);
        square_avg[j] = s;
        param[j] = param[j] + neg_lr * g / (sqrtf(s) + eps);
    }
}
