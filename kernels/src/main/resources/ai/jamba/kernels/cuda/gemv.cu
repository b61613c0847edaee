// Skinny matrix products for decode: out[t, n] = Σ_k x[t, k] · w[n, k] for a few token rows t (at most
// SKINNY_ROWS), weights in their checkpoint dtype widened to float32 in registers, float32 accumulation.
// A decode step is bound by reading the weights, so each block streams its weight rows once, 16 bytes a lane,
// and reuses them for every token row; the token rows are staged through shared memory a chunk of K at a time.
// Each (row, feature) is summed in the same order whatever T is, so a sequence decoded in a batch gets the
// bits it gets alone.
#include "common.cuh"

#ifndef SKINNY_ROWS
#define SKINNY_ROWS 8
#endif
// Columns of x staged per pass (SKINNY_ROWS * KCHUNK floats of shared memory).
#define KCHUNK 1024
#define WARPS 8

__device__ __forceinline__ void widen8(uint4 q, int dt, float* f) {
    u32 v[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int j = 0; j < 4; j++) {
        u16 lo = (u16)(v[j] & 0xffffu), hi = (u16)(v[j] >> 16);
        f[2 * j] = dt == DT_BF16 ? bf16_to_f32(lo) : f16_to_f32(lo);
        f[2 * j + 1] = dt == DT_BF16 ? bf16_to_f32(hi) : f16_to_f32(hi);
    }
}

// acc[t] += Σ_{k in chunk} w[k0 + k] · xs[t][k] over this lane's share of the chunk [k0, k0 + len).
// vec: the weight row is 16-byte aligned and K a multiple of the vector width (8 halves or 4 floats).
template <int DT>
__device__ __forceinline__ void dot_chunk(const void* wrow, long long k0, int len, bool vec, const float* xs, int T,
                                          float* acc) {
    int lane = threadIdx.x & 31;
    if (vec && DT != DT_F32) {
        const uint4* w4 = (const uint4*)((const u16*)wrow + k0);
#pragma unroll 4
        for (int k = lane * 8; k < len; k += 256) {
            float w[8];
            widen8(__ldg(w4 + k / 8), DT, w);
#pragma unroll
            for (int t = 0; t < SKINNY_ROWS; t++) {
                if (t < T) {
                    const float* xr = xs + t * KCHUNK + k;
                    float s = acc[t];
#pragma unroll
                    for (int j = 0; j < 8; j++) s = fmaf(w[j], xr[j], s);
                    acc[t] = s;
                }
            }
        }
    } else if (vec) {
        const float4* w4 = (const float4*)((const float*)wrow + k0);
#pragma unroll 4
        for (int k = lane * 4; k < len; k += 128) {
            float4 q = __ldg(w4 + k / 4);
            float w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
            for (int t = 0; t < SKINNY_ROWS; t++) {
                if (t < T) {
                    const float* xr = xs + t * KCHUNK + k;
                    float s = acc[t];
#pragma unroll
                    for (int j = 0; j < 4; j++) s = fmaf(w[j], xr[j], s);
                    acc[t] = s;
                }
            }
        }
    } else {
        for (int k = lane; k < len; k += 32) {
            float w = load_weight(wrow, k0 + k, DT);
#pragma unroll
            for (int t = 0; t < SKINNY_ROWS; t++)
                if (t < T) acc[t] = fmaf(w, xs[t * KCHUNK + k], acc[t]);
        }
    }
}

// The shared loop: the block's warps each own one output feature n (of weights w1 and, when TWO, w2), and the
// T token rows x_rows[t] are staged chunk by chunk. Returns the warp-reduced sums in every lane.
template <int DT, bool TWO>
__device__ __forceinline__ void skinny(const float* const* x_rows, int T, const void* w1, const void* w2, int n, int N,
                                       int K, bool vec, float* acc1, float* acc2) {
    extern __shared__ float xs[];
    int esize = DT == DT_F32 ? 4 : 2;
#pragma unroll
    for (int t = 0; t < SKINNY_ROWS; t++) acc1[t] = acc2[t] = 0.0f;
    const char* r1 = (const char*)w1 + (long long)n * K * esize;
    const char* r2 = TWO ? (const char*)w2 + (long long)n * K * esize : nullptr;
    for (int k0 = 0; k0 < K; k0 += KCHUNK) {
        int len = imin(KCHUNK, K - k0);
        __syncthreads();
        for (int i = threadIdx.x; i < T * KCHUNK; i += blockDim.x) {
            int t = i / KCHUNK, k = i % KCHUNK;
            if (k < len) xs[i] = x_rows[t][k0 + k];
        }
        __syncthreads();
        if (n < N) {
            dot_chunk<DT>(r1, k0, len, vec, xs, T, acc1);
            if (TWO) dot_chunk<DT>(r2, k0, len, vec, xs, T, acc2);
        }
    }
#pragma unroll
    for (int t = 0; t < SKINNY_ROWS; t++) {
        acc1[t] = warp_sum(acc1[t]);
        if (TWO) acc2[t] = warp_sum(acc2[t]);
    }
}

template <int DT>
__device__ void gemv_body(const float* x, int ldx, const void* w, const void* bias, int bias_dt, float* out, int ldo,
                          int T, int N, int K, int vec) {
    __shared__ const float* rows[SKINNY_ROWS];
    if (threadIdx.x < T) rows[threadIdx.x] = x + (long long)threadIdx.x * ldx;
    int n = blockIdx.x * WARPS + (threadIdx.x >> 5);
    float acc[SKINNY_ROWS], unused[SKINNY_ROWS];
    skinny<DT, false>(rows, T, w, nullptr, n, N, K, vec, acc, unused);
    if ((threadIdx.x & 31) == 0 && n < N) {
        float b = bias ? load_weight(bias, n, bias_dt) : 0.0f;
#pragma unroll
        for (int t = 0; t < SKINNY_ROWS; t++)
            if (t < T) out[(long long)t * ldo + n] = acc[t] + b;
    }
}

// out[t, n] = bias[n] + Σ_k x[t, k] w[n, k], t < T ≤ SKINNY_ROWS. grid.x = ceil(N / WARPS), block 32 * WARPS,
// dynamic shared memory T * KCHUNK floats.
extern "C" __global__ void gemv(const float* x, int ldx, const void* w, int dt, const void* bias, int bias_dt,
                                float* out, int ldo, int T, int N, int K, int vec) {
    if (dt == DT_BF16) gemv_body<DT_BF16>(x, ldx, w, bias, bias_dt, out, ldo, T, N, K, vec);
    else if (dt == DT_F16) gemv_body<DT_F16>(x, ldx, w, bias, bias_dt, out, ldo, T, N, K, vec);
    else gemv_body<DT_F32>(x, ldx, w, bias, bias_dt, out, ldo, T, N, K, vec);
}

template <int DT>
__device__ void gate_up_body(const float* x, int ldx, const void* wg, const void* wu, float* out, int ldo, int T, int N,
                             int K, int vec) {
    __shared__ const float* rows[SKINNY_ROWS];
    if (threadIdx.x < T) rows[threadIdx.x] = x + (long long)threadIdx.x * ldx;
    int n = blockIdx.x * WARPS + (threadIdx.x >> 5);
    float g[SKINNY_ROWS], u[SKINNY_ROWS];
    skinny<DT, true>(rows, T, wg, wu, n, N, K, vec, g, u);
    if ((threadIdx.x & 31) == 0 && n < N) {
#pragma unroll
        for (int t = 0; t < SKINNY_ROWS; t++)
            if (t < T) out[(long long)t * ldo + n] = silu(g[t]) * u[t];
    }
}

// The first half of a SiLU-gated MLP in one pass: out[t, n] = silu(gate[n] · x[t]) * (up[n] · x[t]).
extern "C" __global__ void gemv_gate_up(const float* x, int ldx, const void* wg, const void* wu, int dt, float* out,
                                        int ldo, int T, int N, int K, int vec) {
    if (dt == DT_BF16) gate_up_body<DT_BF16>(x, ldx, wg, wu, out, ldo, T, N, K, vec);
    else if (dt == DT_F16) gate_up_body<DT_F16>(x, ldx, wg, wu, out, ldo, T, N, K, vec);
    else gate_up_body<DT_F32>(x, ldx, wg, wu, out, ldo, T, N, K, vec);
}

// ---- mixture of experts, routed on the device ----------------------------------------------------------------
// moe_lists (moe.cu) lists, per expert e, the tokens routed to it: count[e] of them, at token[offset[e] + i],
// and list entry offset[e] + i is also their row in the buffers h and y. The expert kernels below run over
// (feature block, expert, tile of SKINNY_ROWS entries); an expert no token chose costs one early exit, so each
// chosen expert's weights are read once per tile.

template <int DT>
__device__ void expert_gate_up_body(const float* x, int ldx, const void* gate, const void* up, const int* count,
                                    const int* offset, const int* token, float* h, int I, int K, int vec) {
    int e = blockIdx.y, first = offset[e] + blockIdx.z * SKINNY_ROWS, n_e = offset[e] + count[e];
    if (first >= n_e) return;
    int rows_here = imin(SKINNY_ROWS, n_e - first);
    __shared__ const float* rows[SKINNY_ROWS];
    if (threadIdx.x < rows_here) rows[threadIdx.x] = x + (long long)token[first + threadIdx.x] * ldx;
    long long expert_bytes = (long long)I * K * (DT == DT_F32 ? 4 : 2);
    const char* wg = (const char*)gate + e * expert_bytes;
    const char* wu = (const char*)up + e * expert_bytes;
    int n = blockIdx.x * WARPS + (threadIdx.x >> 5);
    float g[SKINNY_ROWS], u[SKINNY_ROWS];
    skinny<DT, true>(rows, rows_here, wg, wu, n, I, K, vec, g, u);
    if ((threadIdx.x & 31) == 0 && n < I) {
#pragma unroll
        for (int t = 0; t < SKINNY_ROWS; t++)
            if (t < rows_here) h[((long long)first + t) * I + n] = silu(g[t]) * u[t];
    }
}

// h[j, :] = silu(gate_e · x[token[j]]) * (up_e · x[token[j]]) for each entry j of expert e's list.
// gate, up: [E, I, K] stacked. grid (ceil(I / WARPS), E, ceil(max tokens per expert / SKINNY_ROWS)).
extern "C" __global__ void expert_gate_up(const float* x, int ldx, const void* gate, const void* up, int dt,
                                          const int* count, const int* offset, const int* token, float* h, int I,
                                          int K, int vec) {
    if (dt == DT_BF16) expert_gate_up_body<DT_BF16>(x, ldx, gate, up, count, offset, token, h, I, K, vec);
    else if (dt == DT_F16) expert_gate_up_body<DT_F16>(x, ldx, gate, up, count, offset, token, h, I, K, vec);
    else expert_gate_up_body<DT_F32>(x, ldx, gate, up, count, offset, token, h, I, K, vec);
}

template <int DT>
__device__ void expert_down_body(const float* h, const void* down, const int* count, const int* offset, float* y,
                                 int N, int I, int vec) {
    int e = blockIdx.y, first = offset[e] + blockIdx.z * SKINNY_ROWS, n_e = offset[e] + count[e];
    if (first >= n_e) return;
    int rows_here = imin(SKINNY_ROWS, n_e - first);
    __shared__ const float* rows[SKINNY_ROWS];
    if (threadIdx.x < rows_here) rows[threadIdx.x] = h + ((long long)first + threadIdx.x) * I;
    const char* wd = (const char*)down + e * (long long)N * I * (DT == DT_F32 ? 4 : 2);
    int n = blockIdx.x * WARPS + (threadIdx.x >> 5);
    float acc[SKINNY_ROWS], unused[SKINNY_ROWS];
    skinny<DT, false>(rows, rows_here, wd, nullptr, n, N, I, vec, acc, unused);
    if ((threadIdx.x & 31) == 0 && n < N) {
#pragma unroll
        for (int t = 0; t < SKINNY_ROWS; t++)
            if (t < rows_here) y[((long long)first + t) * N + n] = acc[t];
    }
}

// y[j, :] = down_e · h[j, :] for each entry j of expert e's list. down: [E, N, I] stacked.
// grid (ceil(N / WARPS), E, ceil(max tokens per expert / SKINNY_ROWS)).
extern "C" __global__ void expert_down(const float* h, const void* down, int dt, const int* count, const int* offset,
                                       float* y, int N, int I, int vec) {
    if (dt == DT_BF16) expert_down_body<DT_BF16>(h, down, count, offset, y, N, I, vec);
    else if (dt == DT_F16) expert_down_body<DT_F16>(h, down, count, offset, y, N, I, vec);
    else expert_down_body<DT_F32>(h, down, count, offset, y, N, I, vec);
}
