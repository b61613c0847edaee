// Jamba's routing of a few tokens on the device, shared by moe.cu (moe_route_lists) and mma.cu (the router
// product that routes its own logits): softmax over all experts' router logits, each token's top-k experts kept
// with their probabilities as they are (not renormalised), and per-expert token lists for the expert products.
#pragma once
#include "common.cuh"

#ifndef MAX_EXPERTS
#define MAX_EXPERTS 256
#endif

// Expert e's list: count[e] tokens, listed in ascending token order at token[offset[e] + i]; the offsets are the
// running sum of the counts (counts[] in shared memory, every expert's), so lists pack into T * k entries.
// slot[t * k + j] is where token t's j-th choice sits in that packing (its row in the expert outputs).
__device__ __forceinline__ void list_expert(const int* sel, int T, int e, int k, const int* counts, int* count,
                                            int* offset, int* token, int* slot) {
    int off = 0;
    for (int i = 0; i < e; i++) off += counts[i];
    count[e] = counts[e];
    offset[e] = off;
    for (int i = 0; i < T * k; i++) {
        if (sel[i] == e) {
            token[off] = i / k;
            slot[i] = off;
            off++;
        }
    }
}

// route_token (moe.cu) for one token by a whole warp, lanes over experts (lane i holds experts i, i + 32, ...): the same
// choice and, up to the order of adding the softmax's denominator in double, the same probabilities.
__device__ __forceinline__ void route_token_warp(const float* logits, int ldl, int t, int E, int k, int* sel,
                                                 float* prob) {
    const float* l = logits + (long long)t * ldl;
    int lane = threadIdx.x & 31;
    float v[MAX_EXPERTS / 32];
    float mx = -INFINITY;
#pragma unroll
    for (int i = 0; i < MAX_EXPERTS / 32; i++) {
        int e = lane + 32 * i;
        v[i] = e < E ? l[e] : -INFINITY;
        mx = fmaxf(mx, v[i]);
    }
    mx = warp_max(mx);
    double sum = 0.0;
#pragma unroll
    for (int i = 0; i < MAX_EXPERTS / 32; i++)
        if (lane + 32 * i < E) sum += exp((double)v[i] - (double)mx);
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    u32 chosen = 0;  // lane's experts taken, bit i for expert lane + 32 i
    int picks[8];    // k ≤ 8
    for (int j = 0; j < k; j++) {
        float best = -INFINITY;
        int best_e = 0x7fffffff;
#pragma unroll
        for (int i = 0; i < MAX_EXPERTS / 32; i++) {
            int e = lane + 32 * i;
            if (e < E && !(chosen >> i & 1u) && (v[i] > best || best_e == 0x7fffffff)) {
                best = v[i];
                best_e = e;
            }
        }
        for (int o = 16; o > 0; o >>= 1) {  // the largest logit; a tie goes to the lower expert
            float ob = __shfl_xor_sync(0xffffffffu, best, o);
            int oe = __shfl_xor_sync(0xffffffffu, best_e, o);
            if (oe != 0x7fffffff && (best_e == 0x7fffffff || ob > best || (ob == best && oe < best_e))) {
                best = ob;
                best_e = oe;
            }
        }
        picks[j] = best_e;
        if ((best_e & 31) == lane) chosen |= 1u << (best_e >> 5);
    }
    if (lane == 0) {
        for (int a = 1; a < k; a++)  // ascending expert order
            for (int b = a; b > 0 && picks[b - 1] > picks[b]; b--) {
                int x = picks[b];
                picks[b] = picks[b - 1];
                picks[b - 1] = x;
            }
        for (int j = 0; j < k; j++) {
            sel[t * k + j] = picks[j];
            prob[t * k + j] = (float)(exp((double)l[picks[j]] - (double)mx) / sum);
        }
    }
}

// Routing and lists for the few tokens of a decode step (T ≤ 64, k ≤ 8, E ≤ blockDim.x): a warp per token, then a
// thread per expert. Also active[0, min(E, T·k)): the experts with tokens, ascending, then -1s, so the expert
// kernels run a grid row per chosen expert rather than one per expert (most of which would find no token at
// batch 1 and only delay the chosen ones). Called by every thread of one block.
__device__ __forceinline__ void route_lists(const float* logits, int ldl, int T, int E, int k, int* sel, float* prob,
                                            int* count, int* offset, int* token, int* slot, int* active) {
    __shared__ int counts[MAX_EXPERTS];
    int warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int t = warp; t < T; t += warps) route_token_warp(logits, ldl, t, E, k, sel, prob);
    __syncthreads();  // every token's choices are in sel
    int e = threadIdx.x;
    if (e < E) {
        int n = 0;
        for (int j = 0; j < T * k; j++) n += sel[j] == e;
        counts[e] = n;
    }
    __syncthreads();
    if (e < E) list_expert(sel, T, e, k, counts, count, offset, token, slot);
    if (threadIdx.x == 0) {
        int n = 0;
        for (int x = 0; x < E; x++)
            if (counts[x] > 0) active[n++] = x;
        for (; n < imin(E, T * k); n++) active[n] = -1;
    }
}
