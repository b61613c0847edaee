// Products of bf16 or int8 weights with float32 activations on the tensor cores, for up to 64 token rows (decode,
// short prefill chunks, the device-routed experts): out[j, f] = Σ_k x[j, k] · w[f, k] (· scale[f]) (+ bias[f]).
//
// Numerics. x is split into two bf16 parts, x = hi + lo (16 significant bits), the same split the cuBLAS path of
// larger products uses (split_pair, common.cuh); int8 weights are exact in bf16. Every product w·hi and w·lo is
// exact in float32, accumulated by mma.sync m16n8k16 in float32. Each output element is one accumulation chain:
// k in chunks of 32 (int8: 64) from the start of its k-slice, each 32 of k as two mma steps, hi then lo (int8: the
// chunk's first halves of 8 a lane, then its second halves: 4 steps, each hi then lo). Nothing in that chain
// depends on how many rows the product has, so a row computes to the same bits whatever else is in the batch.
// Slices: a product with few output features splits K into S slices (S depends on the weight's shape, and whether
// it is an expert's, never on the rows) whose chains are summed in slice order; then the row scale, then the bias.
// k-blocks: a product whose groups would fill only a few blocks (x_proj: 18) also spreads K over KB blocks
// (blockIdx.z, KB again by the shape only), each summing its S slices as above into a scratch [KB][T][N]; the last
// block of a group to arrive (an atomic count per blockIdx.x) adds the KB sums in k-block order and finishes.
//
// Launched early (programmatic dependent launch): a warp starts loading its first weights before the kernel ahead
// of it has finished, and waits for it (pdl_wait) before reading x.
//
// Work split: a warp owns 16 output features (the mma's M) of one weight and one k-slice; token rows are the mma's
// N, 8 per n-tile, NT n-tiles (NT = 1, 2, 4, 8). Weights stream from memory straight into mma fragments, each read once.
// Lane (g, t) = (lane / 4, lane % 4) reads 16 bytes of bf16 of feature rows g and g + 8 at k = chunk + 8t .. 8t + 7,
// and the same 8 columns of token row g: the mma's k order is a permutation of memory order (step s, slots 2t, 2t+1
// <- k 8t + 4s + {0, 1}; slots 2t + 8, 2t + 9 <- k 8t + 4s + {2, 3}), which a dot product does not see. int8 reads
// 16 bytes too (16 weights, k = chunk + 16t .. 16t + 15: half h is k 16t + 8h .. + 7, used as a bf16 chunk's 8t ..
// 8t + 7): 8-byte loads kept half the bytes in flight per load and ran at ~60% of bf16's bandwidth.
#include "common.cuh"
#include "moe.cuh"

#define WARPS 8            // per block: groups of 16 features, a warp per (weight, k-slice) of a group
#define CHUNK 32           // k per chunk: two mma steps

__device__ __forceinline__ void mma_bf16(float* d, u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Four int8 (one word) as two words of bf16 pairs, exactly: 2^23 + 128 + q as a float, minus 2^23 + 128, keeps
// its upper 16 bits (small integers are exact in bf16).
__device__ __forceinline__ void i8x4_to_bf16(u32 v, u32& lo, u32& hi) {
    u32 x = v ^ 0x80808080u;
    float f0 = __uint_as_float(__byte_perm(x, 0x4B000000u, 0x7540)) - 8388736.0f;
    float f1 = __uint_as_float(__byte_perm(x, 0x4B000000u, 0x7541)) - 8388736.0f;
    float f2 = __uint_as_float(__byte_perm(x, 0x4B000000u, 0x7542)) - 8388736.0f;
    float f3 = __uint_as_float(__byte_perm(x, 0x4B000000u, 0x7543)) - 8388736.0f;
    lo = __byte_perm(__float_as_uint(f0), __float_as_uint(f1), 0x7632);
    hi = __byte_perm(__float_as_uint(f2), __float_as_uint(f3), 0x7632);
}

// The raw bytes of 8 weights of a row at [k, k + 8): 16 of bf16, or 8 of int8 in .x and .y; zeros past K or for a
// row past N. vec: rows are aligned for one load and K is a multiple of 8. Weights are read once: streamed past L1,
// with the next 256 bytes of the row fetched into L2 for the chunks to come.
template <int DT>
__device__ __forceinline__ uint4 fetch_w(const void* row, long long k, int K, bool ok, bool vec) {
    uint4 r = make_uint4(0u, 0u, 0u, 0u);
    if (!ok || k >= K) return r;
    if (DT == DT_BF16) {
        const u16* p = (const u16*)row + k;
        if (vec) {
            asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
                         : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
            return r;
        }
        u32 h[8];
#pragma unroll
        for (int i = 0; i < 8; i++) h[i] = k + i < K ? p[i] : 0u;
        return make_uint4(h[0] | h[1] << 16, h[2] | h[3] << 16, h[4] | h[5] << 16, h[6] | h[7] << 16);
    } else {
        const signed char* p = (const signed char*)row + k;
        if (vec) {
            asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v2.u32 {%0,%1}, [%2];" : "=r"(r.x), "=r"(r.y) : "l"(p));
            return r;
        }
        u32 b[8];
#pragma unroll
        for (int i = 0; i < 8; i++) b[i] = k + i < K ? (u32)(unsigned char)p[i] : 0u;
        return make_uint4(b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24, b[4] | b[5] << 8 | b[6] << 16 | b[7] << 24, 0u, 0u);
    }
}

// The raw bytes of 16 int8 weights of a row at [k, k + 16): one 16-byte load when vec16 (rows 16-byte aligned, K a
// multiple of 16), else two of fetch_w's 8-byte pieces (each zero past K or for a row past N).
__device__ __forceinline__ uint4 fetch_w16_i8(const void* row, long long k, int K, bool ok, bool vec16, bool vec) {
    if (vec16) {
        uint4 r = make_uint4(0u, 0u, 0u, 0u);
        if (!ok || k >= K) return r;
        asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
                     : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"((const signed char*)row + k));
        return r;
    }
    uint4 a = fetch_w<DT_I8>(row, k, K, ok, vec), b = fetch_w<DT_I8>(row, k + 8, K, ok, vec);
    return make_uint4(a.x, a.y, b.x, b.y);
}

// fetch_w's bytes as four words of bf16 pairs (int8 widened exactly).
template <int DT>
__device__ __forceinline__ uint4 widen_w(uint4 raw) {
    if (DT == DT_BF16) return raw;
    uint4 r;
    i8x4_to_bf16(raw.x, r.x, r.y);
    i8x4_to_bf16(raw.y, r.z, r.w);
    return r;
}

// A chunk's raw weight bytes of one row for a lane: fetch_w's 8 weights, or (WIDE, int8) 16.
template <int DT, bool WIDE>
__device__ __forceinline__ uint4 fetch_chunk(const void* row, long long k, int K, bool ok, bool vec16, bool vec) {
    if (WIDE) return fetch_w16_i8(row, k, K, ok, vec16, vec);
    return fetch_w<DT>(row, k, K, ok, vec);
}

// Half h of a WIDE chunk's 16 int8 weights, as fetch_w's 8 (.x, .y); a plain chunk as it is.
template <bool WIDE>
__device__ __forceinline__ uint4 half_of(uint4 raw, int h) {
    if (!WIDE) return raw;
    return h == 0 ? make_uint4(raw.x, raw.y, 0u, 0u) : make_uint4(raw.z, raw.w, 0u, 0u);
}

// 8 activations of a token row at [k, k + 8); zeros past K or for a row past the list.
__device__ __forceinline__ void fetch_x(const float* row, long long k, int K, bool ok, bool vec, float* v) {
    if (ok && k < K && vec) {
        float4 a = *(const float4*)(row + k), b = *(const float4*)(row + k + 4);
        v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
    } else {
#pragma unroll
        for (int i = 0; i < 8; i++) v[i] = ok && k + i < K ? row[k + i] : 0.0f;
    }
}

// 8 activations split: hi and lo as four words of bf16 pairs each.
__device__ __forceinline__ void split8(const float* v, uint4& hi, uint4& lo) {
    split_pair(v[0], v[1], hi.x, lo.x);
    split_pair(v[2], v[3], hi.y, lo.y);
    split_pair(v[4], v[5], hi.z, lo.z);
    split_pair(v[6], v[7], hi.w, lo.w);
}

// acc += w rows (ra, rb) · x over one chunk: step 0 then step 1, each hi then lo.
__device__ __forceinline__ void chunk_mma(float* acc, uint4 ra, uint4 rb, uint4 hi, uint4 lo) {
    mma_bf16(acc, ra.x, rb.x, ra.y, rb.y, hi.x, hi.y);
    mma_bf16(acc, ra.x, rb.x, ra.y, rb.y, lo.x, lo.y);
    mma_bf16(acc, ra.z, rb.z, ra.w, rb.w, hi.z, hi.w);
    mma_bf16(acc, ra.z, rb.z, ra.w, rb.w, lo.z, lo.w);
}

// The epilogue of one element: the row scale, then the bias (or, GATE_UP, silu(gate) · up).
template <bool GATE_UP>
__device__ __forceinline__ float finish(float v1, float v2, int f, const float* scale1, const float* scale2,
                                        const void* bias, int bias_dt) {
    if (scale1) v1 *= scale1[f];
    if (GATE_UP) {
        if (scale2) v2 *= scale2[f];
        return silu(v1) * v2;
    }
    if (bias) v1 += load_weight(bias, f, bias_dt);
    return v1;
}

// One product (w1), or GATE_UP: silu(x · w1ᵀ) ⊙ (x · w2ᵀ), each warp streaming one weight (gate or up) of its
// 16 features; the two meet in shared memory.
// Rows: without `count`, rows j < T, x row at x[(xrows ? xrows[j] : j) * ldx], out row j. With `count` (experts):
// blockIdx.y picks e = active[blockIdx.y], an expert some token chose (-1: none left, the block has no work);
// expert e's list of count[e] entries at offset[e]; entry j reads x row xrows[offset[e] + j] (or offset[e] + j
// when xrows is null) and writes out row offset[e] + j, with expert e's weights (w + e·N·K) and scales (+ e·N).
// Warps of a block: groups of (GATE_UP ? 2 : 1) x S warps, one per (weight, k-slice) of 16 features.
// grid (ceil(ceil(N / 16) / groups), min(experts, T · top-k) or 1, KB), block 32 * WARPS, dynamic shared memory
// where the warps' chains meet (S > 1, KB > 1 or GATE_UP): WARPS * 16 * NT * 8 floats. KB > 1: plain products
// only (no count), kpart [KB][T][N] floats, arrive one zeroed int per blockIdx.x.
// Returns whether this block holds finished outputs of its features: with KB > 1 only the last block to arrive.
template <int DT, int NT, bool GATE_UP>
__device__ __forceinline__ bool product(const float* x, int ldx, const int* xrows, int T, const void* w1,
                                        const float* scale1, const void* w2, const float* scale2, const int* count,
                                        const int* offset, const int* active, int N, int K, int S, int KB, float* kpart,
                                        int* arrive, const void* bias, int bias_dt, float* out, int ldo, int wvec, int xvec) {
    // chunks whose weights (and activations) are loaded together: about 4 KB of weights a warp in flight, fewer as
    // more n-tiles need registers for their activations. With one n-tile (decode) the next group's weights are
    // loaded while this group is computed (PIPE), so a warp always has weights on the way.
    constexpr bool PIPE = NT == 1;
    // int8 (WIDE): a lane reads 16 weights of a row a chunk (one 16-byte load, as bf16's 8), so an int8 chunk is 64
    // of k, computed as two halves of 8 a lane, each as a bf16 chunk's 8; chunks in flight halve for the same bytes
    // and registers
    constexpr bool WIDE = DT == DT_I8;
    constexpr int CK = WIDE ? 64 : CHUNK, HALVES = WIDE ? 2 : 1;
    constexpr int AHEAD_BASE = DT == DT_I8 ? (PIPE ? 2 : 4) : 4;
    constexpr int AHEAD = AHEAD_BASE / NT > 0 ? AHEAD_BASE / NT : 1;
    constexpr int KINDS = GATE_UP ? 2 : 1;
    extern __shared__ float part[];  // [WARPS][16][NT * 8]: each warp's chains, when warps must meet
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    pdl_trigger();
    int rows = T, base = 0;
    long long wskip = 0;
    if (count) {
        pdl_wait();  // the lists come from the kernel before
        int e = active[blockIdx.y];
        if (e < 0) return false;  // the whole block: fewer experts were chosen than the grid has room for
        rows = count[e];
        base = offset[e];
        wskip = (long long)e * N;
        if (scale1) scale1 += wskip;
        if (scale2) scale2 += wskip;
    }
    int per = KINDS * S, groups = WARPS / per, group = warp / per, kind = warp % per / S, slice = warp % S;
    int f0 = (blockIdx.x * groups + group) * 16;
    int fa = f0 + g, fb = f0 + g + 8;
    const int esize = DT == DT_BF16 ? 2 : 1;
    const char* w = (const char*)(kind ? w2 : w1);
    const char* wa = w + ((wskip + fa) * K) * esize;
    const char* wb = w + ((wskip + fb) * K) * esize;
    bool oka = fa < N && group < groups, okb = fb < N && group < groups;

    const float* xr[NT];
#pragma unroll
    for (int nt = 0; nt < NT; nt++) {
        int j = nt * 8 + g;
        int src = j < rows ? (xrows ? xrows[base + j] : base + j) : 0;
        xr[nt] = x + (long long)src * ldx;
    }
    int tiles = imin(NT, (rows + 7) / 8);

    float acc[NT][4];
#pragma unroll
    for (int nt = 0; nt < NT; nt++)
#pragma unroll
        for (int i = 0; i < 4; i++) acc[nt][i] = 0.0f;

    int chunks = (K + CK - 1) / CK;
    bool vec16 = WIDE && wvec && (K & 15) == 0 && ((((unsigned long long)w1) | (unsigned long long)(w2 ? w2 : w1)) & 15) == 0;
    int ks = blockIdx.z * S + slice, kslices = KB * S;  // this warp's k-slice among all the blocks'
    int c_begin = (int)((long long)chunks * ks / kslices), c_end = (int)((long long)chunks * (ks + 1) / kslices);
    uint4 next[PIPE ? AHEAD : 1][2];
    if (PIPE) {
#pragma unroll
        for (int u = 0; u < AHEAD; u++) {
            long long k = (long long)(c_begin + u) * CK + 8 * HALVES * t;
            next[u][0] = fetch_chunk<DT, WIDE>(wa, k, K, c_begin + u < c_end && oka, vec16, wvec);
            next[u][1] = fetch_chunk<DT, WIDE>(wb, k, K, c_begin + u < c_end && okb, vec16, wvec);
        }
    }
    pdl_wait();  // weights were free to come early; x is the kernel before's output
    for (int c = c_begin; c < c_end; c += AHEAD) {
        uint4 a[AHEAD][2];
        float xv[AHEAD][NT][8 * HALVES];
#pragma unroll
        for (int u = 0; u < AHEAD; u++) {
            long long k = (long long)(c + u) * CK + 8 * HALVES * t;
            if (PIPE) {
                a[u][0] = next[u][0];
                a[u][1] = next[u][1];
                long long kn = k + (long long)AHEAD * CK;
                bool live = c + AHEAD + u < c_end;
                next[u][0] = fetch_chunk<DT, WIDE>(wa, kn, K, live && oka, vec16, wvec);
                next[u][1] = fetch_chunk<DT, WIDE>(wb, kn, K, live && okb, vec16, wvec);
            } else {
                bool live = c + u < c_end;
                a[u][0] = fetch_chunk<DT, WIDE>(wa, k, K, live && oka, vec16, wvec);
                a[u][1] = fetch_chunk<DT, WIDE>(wb, k, K, live && okb, vec16, wvec);
            }
        }
#pragma unroll
        for (int u = 0; u < AHEAD; u++) {
            long long k = (long long)(c + u) * CK + 8 * HALVES * t;
#pragma unroll
            for (int nt = 0; nt < NT; nt++)
#pragma unroll
                for (int h = 0; h < HALVES; h++)
                    fetch_x(xr[nt], k + 8 * h, K, c + u < c_end && nt < tiles && nt * 8 + g < rows, xvec, xv[u][nt] + 8 * h);
        }
#pragma unroll
        for (int u = 0; u < AHEAD; u++) {
            if (c + u >= c_end) break;
#pragma unroll
            for (int h = 0; h < HALVES; h++) {
                uint4 r0 = widen_w<DT>(half_of<WIDE>(a[u][0], h)), r1 = widen_w<DT>(half_of<WIDE>(a[u][1], h));
#pragma unroll
                for (int nt = 0; nt < NT; nt++) {
                    if (nt >= tiles) break;
                    uint4 hi, lo;
                    split8(xv[u][nt] + 8 * h, hi, lo);
                    chunk_mma(acc[nt], r0, r1, hi, lo);
                }
            }
        }
    }

    // accumulator (nt, i): feature g (i < 2) or g + 8, token row nt * 8 + 2t + (i & 1)
    if (!GATE_UP && S == 1 && KB == 1) {
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
            if (nt >= tiles) break;
#pragma unroll
            for (int i = 0; i < 4; i++) {
                int f = i < 2 ? fa : fb, j = nt * 8 + 2 * t + (i & 1);
                if (f < N && j < rows)
                    out[(long long)(base + j) * ldo + f] = finish<false>(acc[nt][i], 0.0f, f, scale1, nullptr, bias, bias_dt);
            }
        }
        return true;
    }
    // the warps of a group meet: each weight's slices summed in slice order, then the epilogue
#pragma unroll
    for (int nt = 0; nt < NT; nt++)
#pragma unroll
        for (int i = 0; i < 4; i++) part[(warp * 16 + g + (i < 2 ? 0 : 8)) * NT * 8 + nt * 8 + 2 * t + (i & 1)] = acc[nt][i];
    __syncthreads();
    for (int idx = threadIdx.x; idx < groups * 16 * NT * 8; idx += blockDim.x) {
        int gr = idx / (16 * NT * 8), fl = idx / (NT * 8) % 16, j = idx % (NT * 8);
        int f = (blockIdx.x * groups + gr) * 16 + fl;
        if (f >= N || j >= rows) continue;
        int step = 16 * NT * 8, at = (gr * per * 16 + fl) * NT * 8 + j;
        float v1 = part[at];
        for (int s = 1; s < S; s++) v1 += part[at + s * step];
        float v2 = 0.0f;
        if (GATE_UP) {
            v2 = part[at + S * step];
            for (int s = 1; s < S; s++) v2 += part[at + (S + s) * step];
        }
        if (KB == 1) out[(long long)(base + j) * ldo + f] = finish<GATE_UP>(v1, v2, f, scale1, scale2, bias, bias_dt);
        else kpart[((long long)blockIdx.z * rows + j) * N + f] = v1;
    }
    if (KB == 1) return true;
    // k-blocks (plain products only): the group's last block to arrive sums them all, then resets the count for the
    // next launch (graphs replay the same counters)
    __shared__ int last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(arrive + blockIdx.x, 1) == KB - 1;
    __syncthreads();
    if (!last) return false;
    __threadfence();
    for (int idx = threadIdx.x; idx < groups * 16 * NT * 8; idx += blockDim.x) {
        int gr = idx / (16 * NT * 8), fl = idx / (NT * 8) % 16, j = idx % (NT * 8);
        int f = (blockIdx.x * groups + gr) * 16 + fl;
        if (f >= N || j >= rows) continue;
        float v = __ldcg(kpart + (long long)j * N + f);
        for (int z = 1; z < KB; z++) v += __ldcg(kpart + ((long long)z * rows + j) * N + f);
        out[(long long)j * ldo + f] = finish<false>(v, 0.0f, f, scale1, nullptr, bias, bias_dt);
    }
    if (threadIdx.x == 0) arrive[blockIdx.x] = 0;
    return true;
}

#define PRODUCT_KERNEL(NAME, DT, NT)                                                                               \
    extern "C" __global__ void __launch_bounds__(32 * WARPS, NT <= 2 ? 2 : 1)                                    \
    NAME(const float* x, int ldx, const int* xrows, int T, const void* w, const float* scale, const int* count,   \
         const int* offset, const int* active, int N, int K, int S, int KB, float* kpart, int* arrive,             \
         const void* bias, int bias_dt, float* out, int ldo, int wvec, int xvec) {                               \
        product<DT, NT, false>(x, ldx, xrows, T, w, scale, nullptr, nullptr, count, offset, active, N, K, S, KB,    \
                               kpart, arrive, bias, bias_dt, out, ldo, wvec, xvec);                              \
    }

#define GATE_UP_KERNEL(NAME, DT, NT)                                                                               \
    extern "C" __global__ void __launch_bounds__(32 * WARPS, NT <= 2 ? 2 : 1)                                    \
    NAME(const float* x, int ldx, const int* xrows, int T, const void* gate, const float* gate_scale,             \
         const void* up, const float* up_scale, const int* count, const int* offset, const int* active, int N,     \
         int K, int S, float* out, int ldo, int wvec, int xvec) {                                                \
        product<DT, NT, true>(x, ldx, xrows, T, gate, gate_scale, up, up_scale, count, offset, active, N, K, S, 1,   \
                              nullptr, nullptr, nullptr, 0, out, ldo, wvec, xvec);                               \
    }

// Named by weight type and n-tiles: the host picks NT = 1, 2, 4 or 8 (rows up to 8, 16, 32, 64).
PRODUCT_KERNEL(mma_bf16_1, DT_BF16, 1)
PRODUCT_KERNEL(mma_bf16_2, DT_BF16, 2)
PRODUCT_KERNEL(mma_bf16_4, DT_BF16, 4)
PRODUCT_KERNEL(mma_bf16_8, DT_BF16, 8)
PRODUCT_KERNEL(mma_i8_1, DT_I8, 1)
PRODUCT_KERNEL(mma_i8_2, DT_I8, 2)
PRODUCT_KERNEL(mma_i8_4, DT_I8, 4)
PRODUCT_KERNEL(mma_i8_8, DT_I8, 8)
GATE_UP_KERNEL(gate_up_bf16_1, DT_BF16, 1)
GATE_UP_KERNEL(gate_up_bf16_2, DT_BF16, 2)
GATE_UP_KERNEL(gate_up_bf16_4, DT_BF16, 4)
GATE_UP_KERNEL(gate_up_bf16_8, DT_BF16, 8)
GATE_UP_KERNEL(gate_up_i8_1, DT_I8, 1)
GATE_UP_KERNEL(gate_up_i8_2, DT_I8, 2)
GATE_UP_KERNEL(gate_up_i8_4, DT_I8, 4)
GATE_UP_KERNEL(gate_up_i8_8, DT_I8, 8)

// A MoE layer's router product, then the routing of its tokens (moe.cuh) by the block that finishes the logits:
// the logits [T, E] are written, the block synchronises (its own global writes are then visible to all its
// threads), and routes. Only for a router whose features fit one block (ceil(E / 16) groups of S warps fit WARPS);
// its K is spread over KB blocks (blockIdx.z) as a plain product's is, the last to arrive summing them, so the
// logits are those of mma_bf16_NT with the same S and KB, bit for bit. grid (1, 1, KB), block 32 * WARPS.
#define ROUTER_KERNEL(NAME, NT)                                                                                     \
    extern "C" __global__ void __launch_bounds__(32 * WARPS, NT <= 2 ? 2 : 1)                                    \
    NAME(const float* x, int ldx, int T, const void* w, int E, int K, int S, int KB, float* kpart, int* arrive,    \
         float* logits, int k, int* sel, float* prob, int* count, int* offset, int* token, int* slot, int* active,  \
         int wvec, int xvec) {                                                                                   \
        if (!product<DT_BF16, NT, false>(x, ldx, nullptr, T, w, nullptr, nullptr, nullptr, nullptr, nullptr,     \
                                         nullptr, E, K, S, KB, kpart, arrive, nullptr, 0, logits, E, wvec, xvec)) \
            return;                                                                                              \
        __syncthreads();                                                                                         \
        route_lists(logits, E, T, E, k, sel, prob, count, offset, token, slot, active);                          \
    }

ROUTER_KERNEL(router_bf16_1, 1)
ROUTER_KERNEL(router_bf16_2, 2)
ROUTER_KERNEL(router_bf16_4, 4)
ROUTER_KERNEL(router_bf16_8, 8)
