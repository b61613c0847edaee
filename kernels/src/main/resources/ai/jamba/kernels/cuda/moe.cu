// Jamba's sparse MoE routing and its weighted sum, on the device: routing (moe.cuh), and each token's output summed
// over its experts in ascending expert order, as transformers does. Nothing here needs the host, so a decode step
// with MoE can be captured in a CUDA graph.
#include "moe.cuh"

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

// Routing and lists in one launch for the few tokens of a decode step (moe.cuh). One block of 256 threads.
extern "C" __global__ void moe_route_lists(const float* logits, int ldl, int T, int E, int k, int* sel, float* prob,
                                           int* count, int* offset, int* token, int* slot, int* active) {
    pdl_trigger();
    route_lists(logits, ldl, T, E, k, sel, prob, count, offset, token, slot, active);
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
