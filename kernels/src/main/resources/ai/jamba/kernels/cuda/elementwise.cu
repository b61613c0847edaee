// Row-wise ops: embedding gather, RMSNorm (with the residual add), add, row gathers, and the conversions the
// tensor-core path of matmul needs. Matrices are float32 row-major with a row stride (ld*), so column views of
// a projection's output (x and z of in_proj; dt, B and C of x_proj) are used in place.
#include "common.cuh"

// out[t, :] = table[ids[t], :]. grid (T), block 256.
extern "C" __global__ void embedding(const void* table, int dt, const int* ids, int cols, float* out, int ldo) {
    long long row = (long long)ids[blockIdx.x] * cols;
    float* o = out + (long long)blockIdx.x * ldo;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) o[c] = load_weight(table, row + c, dt);
}

// Columns of a row a norm's thread keeps in registers; the host sizes the block so the row fits (≤ NORM_PER * 1024).
#define NORM_PER 16

// One row: out = x / sqrt(mean(x²) + eps) * w. With `delta`, first x += delta (written back) and x is the sum.
// A thread holds columns threadIdx.x + i·blockDim.x, i < NORM_PER. Every load (x, delta, w) is issued before the
// first store, so a row costs one round trip to memory rather than one per column a thread visits (a decode step
// waits on each norm: one row, one block). out may be x. The sum of squares: each thread's columns in order, then
// block_sum; the same for a row in any batch.
__device__ __forceinline__ void norm_row(float* x, const float* delta, const void* w, int dt, float eps, float* out,
                                         int cols) {
    __shared__ float scratch[32];
    // loads first, unconditionally (columns past the row read its last one, then count as zero), so none waits
    // for another; without delta the second load reads x again (an L1 hit) and is not added
    const float* d = delta ? delta : x;
    float v[NORM_PER], dv[NORM_PER], wv[NORM_PER];
#pragma unroll
    for (int i = 0; i < NORM_PER; i++) {
        int c = imin(threadIdx.x + i * blockDim.x, cols - 1);
        v[i] = x[c];
        dv[i] = d[c];
    }
    if (dt == DT_BF16) {
#pragma unroll
        for (int i = 0; i < NORM_PER; i++) wv[i] = bf16_to_f32(((const u16*)w)[imin(threadIdx.x + i * blockDim.x, cols - 1)]);
    } else {
#pragma unroll
        for (int i = 0; i < NORM_PER; i++) wv[i] = load_weight(w, imin(threadIdx.x + i * blockDim.x, cols - 1), dt);
    }
    float ss = 0.0f;
#pragma unroll
    for (int i = 0; i < NORM_PER; i++) {
        int c = threadIdx.x + i * blockDim.x;
        if (delta) v[i] += dv[i];
        if (c >= cols) v[i] = 0.0f;
        else if (delta) x[c] = v[i];
        ss = fmaf(v[i], v[i], ss);
    }
    ss = block_sum(ss, scratch);
    float inv = 1.0f / sqrtf(ss / cols + eps);
#pragma unroll
    for (int i = 0; i < NORM_PER; i++) {
        int c = threadIdx.x + i * blockDim.x;
        if (c < cols) out[c] = v[i] * inv * wv[i];
    }
}

// out[t] = rmsnorm(x[t]) * w; out may be x. grid (T), block per norm_row.
extern "C" __global__ void rms_norm(float* x, int ldx, const void* w, int dt, float eps, float* out, int ldo, int cols) {
    pdl_trigger();
    norm_row(x + (long long)blockIdx.x * ldx, nullptr, w, dt, eps, out + (long long)blockIdx.x * ldo, cols);
}

// residual[t] += delta[t]; out[t] = rmsnorm(residual[t]) * w. grid (T), block per norm_row.
extern "C" __global__ void add_rms_norm(float* residual, int ldr, const float* delta, int ldd, const void* w, int dt,
                                        float eps, float* out, int ldo, int cols) {
    pdl_trigger();
    long long t = blockIdx.x;
    norm_row(residual + t * ldr, delta + t * ldd, w, dt, eps, out + t * ldo, cols);
}

// acc[t, c] += x[t, c]. grid (ceil(cols / 256), T).
extern "C" __global__ void add(float* acc, int lda, const float* x, int ldx, int cols) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < cols) acc[(long long)blockIdx.y * lda + c] += x[(long long)blockIdx.y * ldx + c];
}

// out[i, :] = x[rows[i], :]. grid (n), block 256.
extern "C" __global__ void gather_rows(const float* x, int ldx, const int* rows, float* out, int ldo, int cols) {
    const float* s = x + (long long)rows[blockIdx.x] * ldx;
    float* d = out + (long long)blockIdx.x * ldo;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) d[c] = s[c];
}

// For the cuBLAS products with bf16 weights: x = hi + lo as split_pair (common.cuh) defines it, written as
// [2, T, cols] (hi rows, then lo rows) so that W · x = W · hi + W · lo is two bf16 products with float32
// accumulation. With `rows` (the MoE path), row i comes from x[rows[i]]. grid (ceil(cols / 256), T).
extern "C" __global__ void split_bf16(const float* x, int ldx, const int* rows, u16* out, int T, int cols) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    long long t = blockIdx.y, src = rows ? rows[t] : t;
    u32 hi, lo;
    split_pair(x[src * ldx + c], 0.0f, hi, lo);
    out[t * cols + c] = (u16)hi;
    out[((long long)T + t) * cols + c] = (u16)lo;
}

// out[t, n] = bias[n], the starting value of a product accumulated on top (beta = 1). grid (ceil(N / 256), T).
extern "C" __global__ void fill_rows(float* out, int ldo, const void* bias, int dt, int N) {
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n < N) out[(long long)blockIdx.y * ldo + n] = load_weight(bias, n, dt);
}

// out[t, n] *= scale[n]: the row scales of int8 weights, after a product with their integer values.
// grid (ceil(N / 256), T).
extern "C" __global__ void scale_cols(float* out, int ldo, const float* scale, int N) {
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n < N) out[(long long)blockIdx.y * ldo + n] *= scale[n];
}

// ExpertsInt8, one row of a weight per block: scale = max|w| / 127, q = clamp(round(w / scale), ±127), rounding
// half away from zero toward +inf as Java's Math.round does, so the CPU backend's quantisation gives the same
// bytes. w [rows, cols] of type dt; q [rows, cols] int8; scale [rows]. grid (rows), block 256.
extern "C" __global__ void quantize_rows(const void* w, int dt, signed char* q, float* scale, int cols) {
    __shared__ float red[32];
    long long row = (long long)blockIdx.x * cols;
    float m = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, fabsf(load_weight(w, row + c, dt)));
    m = warp_max(m);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
    __syncthreads();
    m = 0.0f;
    for (int i = 0; i < (int)(blockDim.x >> 5); i++) m = fmaxf(m, red[i]);
    float s = m / 127.0f;
    if (threadIdx.x == 0) scale[blockIdx.x] = s;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = s == 0.0f ? 0.0f : load_weight(w, row + c, dt) / s;
        float f = floorf(v);
        float r = v - f >= 0.5f ? f + 1.0f : f;
        q[row + c] = (signed char)fminf(127.0f, fmaxf(-127.0f, r));
    }
}

// The integer values of int8 weights as bf16 (exact), for the cuBLAS products of long prefill chunks; the row
// scales are applied to the product (scale_cols). grid-stride over n elements.
extern "C" __global__ void dequantize_i8(const signed char* q, u16* out, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = (u16)(__float_as_uint((float)q[i]) >> 16);
}

// g[t, i] = silu(g[t, i]) * u[t, i]. grid (ceil(cols / 256), T).
extern "C" __global__ void silu_mul(float* g, int ldg, const float* u, int ldu, int cols) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < cols) {
        float* gp = g + (long long)blockIdx.y * ldg + c;
        *gp = silu(*gp) * u[(long long)blockIdx.y * ldu + c];
    }
}

// Weights made on the device (benchmarks): w[i] = bf16(std * N(0, 1)) from a counter-based hash, so any size
// fills at memory speed and the same seed gives the same weights. grid-stride.
__device__ __forceinline__ u32 mix(u32 x) {
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
    return x;
}

extern "C" __global__ void random_bf16(u16* w, long long n, float std, u32 seed) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        u32 a = mix((u32)i ^ mix(seed ^ (u32)(i >> 32))), b = mix(a ^ 0x9e3779b9u);
        float u1 = (a >> 8) * (1.0f / 16777216.0f) + (0.5f / 16777216.0f), u2 = (b >> 8) * (1.0f / 16777216.0f);
        float g = sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
        w[i] = f32_to_bf16(std * g);
    }
}

// f[i] = value. grid-stride.
extern "C" __global__ void fill_f32(float* f, long long n, float value) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        f[i] = value;
}
