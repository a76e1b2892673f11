#include "ckernels.h"
#include <immintrin.h>
#include <math.h>

// Every multiply-add below is written as a fused one or not at all: no contraction behind our back.
#pragma clang fp contract(off)

int gantry_has_fma_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
}

__attribute__((target("avx2,fma")))
static inline float adam_one(float g, float *a, float *v, float p, const gantry_adam_scalars *s) {
    if (s->weight_decay != 0) g = fmaf(p, s->weight_decay, g);           // grad.add(param, alpha=wd)
    float ea = fmaf(s->lerp_coefficient, g - *a, s->small_weight ? *a : g); // lerp_(g, 1 - beta1)
    *a = ea;
    float vv = fmaf(s->one_minus_beta2 * g, g, *v * s->beta2);            // mul_(b2).addcmul_(g, g, 1 - b2)
    *v = vv;
    float denom = sqrtf(vv) / s->bias_correction2_sqrt + s->eps;
    return p + s->neg_step_size * ea / denom;                             // addcdiv_(m, denom, -step)
}

__attribute__((target("avx2,fma")))
void gantry_adam_fma(const float *grad, float *exp_avg, float *exp_avg_sq, float *param, size_t n,
                     const gantry_adam_scalars *s) {
    const __m256 decay = _mm256_set1_ps(s->weight_decay), coef = _mm256_set1_ps(s->lerp_coefficient);
    const __m256 b2 = _mm256_set1_ps(s->beta2), omb2 = _mm256_set1_ps(s->one_minus_beta2);
    const __m256 c2 = _mm256_set1_ps(s->bias_correction2_sqrt), eps = _mm256_set1_ps(s->eps);
    const __m256 step = _mm256_set1_ps(s->neg_step_size);
    const int has_decay = s->weight_decay != 0, small = s->small_weight;
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 g = _mm256_loadu_ps(grad + j), p = _mm256_loadu_ps(param + j);
        if (has_decay) g = _mm256_fmadd_ps(p, decay, g);
        __m256 a = _mm256_loadu_ps(exp_avg + j);
        __m256 ea = _mm256_fmadd_ps(coef, _mm256_sub_ps(g, a), small ? a : g);
        _mm256_storeu_ps(exp_avg + j, ea);
        __m256 v = _mm256_fmadd_ps(_mm256_mul_ps(omb2, g), g, _mm256_mul_ps(_mm256_loadu_ps(exp_avg_sq + j), b2));
        _mm256_storeu_ps(exp_avg_sq + j, v);
        __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v), c2), eps);
        _mm256_storeu_ps(param + j, _mm256_add_ps(p, _mm256_div_ps(_mm256_mul_ps(step, ea), denom)));
    }
    for (; j < n; j++) param[j] = adam_one(grad[j], exp_avg + j, exp_avg_sq + j, param[j], s);
}
