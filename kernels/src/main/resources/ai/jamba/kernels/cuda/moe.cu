// Jamba's sparse MoE routing and its weighted sum, on the device: softmax over all experts' router logits, each
// token's top-k experts kept with their probabilities as they are (not renormalised), per-expert token lists
// for the expert products, and each token's output summed over its experts in ascending expert order, as
// transformers does. Nothing here needs the host, so a decode step with MoE can be captured in a CUDA graph.
#include "common.cuh"

#ifndef MAX_EXPERTS
#define MAX_EXPERTS 256
#endif

// Token t: sel[t * k + j], prob[t * k + j] for its top-k experts, listed in ascending expert order.
// Probabilities in double, as the CPU backend ranks them; a tie goes to the lower expert index.
__device__ void route_token(const float* logits, int ldl, int t, int E, int k, int* sel, float* prob) {
    const float* l = logits + (long long)t * ldl;
    double mx = -INFINITY, sum = 0.0;
    for (int e = 0; e < E; e++) mx = fmax(mx, (double)l[e]);
    for (int e = 0; e < E; e++) sum += exp((double)l[e] - mx);
    // chosen as a bit set over experts; k rounds of "best not yet chosen"
    u32 chosen[MAX_EXPERTS / 32];
    for (int i = 0; i < MAX_EXPERTS / 32; i++) chosen[i] = 0;
    for (int j = 0; j < k; j++) {
        int best = -1;
        float best_l = 0.0f;
        for (int e = 0; e < E; e++) {
            if (chosen[e >> 5] >> (e & 31) & 1u) continue;
            if (best < 0 || l[e] > best_l) {
                best = e;
                best_l = l[e];
            }
        }
        chosen[best >> 5] |= 1u << (best & 31);
    }
    int j = 0;
    for (int e = 0; e < E && j < k; e++) {
        if (chosen[e >> 5] >> (e & 31) & 1u) {
            sel[t * k + j] = e;
            prob[t * k + j] = (float)(exp((double)l[e] - mx) / sum);
            j++;
        }
    }
}

// Expert e's list: count[e] tokens, listed in ascending token order at token[offset[e] + i]; the offsets are the
// running sum of the counts (counts[] in shared memory, every expert's), so lists pack into T * k entries.
// slot[t * k + j] is where token t's j-th choice sits in that packing (its row in the expert outputs).
__device__ void list_expert(const int* sel, int T, int e, int k, const int* counts, int* count, int* offset, int* token,
                            int* slot) {
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

// grid (ceil(T / 128)), block 128.
extern "C" __global__ void moe_route(const float* logits, int ldl, int T, int E, int k, int* sel, float* prob) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t < T) route_token(logits, ldl, t, E, k, sel, prob);
}

// Lists after moe_route. One block of E threads (E ≤ 1024).
extern "C" __global__ void moe_lists(const int* sel, int T, int E, int k, int* count, int* offset, int* token,
                                     int* slot) {
    __shared__ int counts[1024];
    int e = threadIdx.x;
    int n = 0;
    if (e < E)
        for (int i = 0; i < T * k; i++) n += sel[i] == e;
    counts[e] = n;
    __syncthreads();
    if (e < E) list_expert(sel, T, e, k, counts, count, offset, token, slot);
}

// route_token for one token by a whole warp, lanes over experts (lane i holds experts i, i + 32, ...): the same
// choice and, up to the order of adding the softmax's denominator in double, the same probabilities.
__device__ void route_token_warp(const float* logits, int ldl, int t, int E, int k, int* sel, float* prob) {
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

// Routing and lists in one launch for the few tokens of a decode step (T ≤ 64, k ≤ 8): a warp per token, then a
// thread per expert. One block of 256 threads.
extern "C" __global__ void moe_route_lists(const float* logits, int ldl, int T, int E, int k, int* sel, float* prob,
                                           int* count, int* offset, int* token, int* slot) {
    pdl_trigger();
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
}

// out[t, :] = Σ_j prob[t, j] · y[slot[t, j], :], j over t's experts in ascending order.
// grid (ceil(cols / 256), T), block 256.
extern "C" __global__ void moe_combine(const float* y, const int* slot, const float* prob, int k, float* out, int ldo,
                                       int cols) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    int t = blockIdx.y;
    float acc = 0.0f;
    for (int j = 0; j < k; j++) acc += y[(long long)slot[t * k + j] * cols + c] * prob[t * k + j];
    out[(long long)t * ldo + c] = acc;
}
