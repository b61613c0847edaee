// Mamba's sequence ops, per sequence of a batch and from its state slot: the causal depthwise conv1d with SiLU,
// and the selective scan with the D skip and the silu(z) gate. Specialised at start-up with the model's
// d_conv and d_state (-D D_CONV=.. -D D_STATE=..); the defaults are Jamba's.
//
// State layout, per slot: conv [d_inner][d_conv - 1] (oldest input first), ssm [d_inner][d_state].
#include "common.cuh"

#ifndef D_CONV
#define D_CONV 4
#endif
#ifndef D_STATE
#define D_STATE 16
#endif
// Lanes that share one channel's scan, one per state (a power of two, so a channel's lanes sit in one warp).
#define STATE_LANES (D_STATE <= 1 ? 1 : D_STATE <= 2 ? 2 : D_STATE <= 4 ? 4 : D_STATE <= 8 ? 8 : D_STATE <= 16 ? 16 : 32)
#define KEEP (D_CONV - 1)

static_assert(D_STATE >= 1 && D_STATE <= 32, "the scan keeps one state per lane: d_state must be 1..32");
static_assert(D_CONV >= 1 && D_CONV <= 16, "d_conv must be 1..16");

// out[r, c] = silu(bias[c] + Σ_k w[c, k] · in[t - KEEP + k, c]) where row r is token t of its sequence and inputs
// before the sequence's first row come from the slot's conv state. With `one_row_each` (a decode step: every
// sequence has exactly one row, so the thread of (row, channel) is the only reader of that slot's channel) the
// thread also moves the state on by its row; otherwise conv_state follows. grid (ceil(d_inner / 256), rows).
extern "C" __global__ void conv1d(BatchDesc batch, float* conv_state, const float* x, int ldx, const void* w, int w_dt,
                                  const void* bias, int bias_dt, float* out, int ldo, int d_inner, int one_row_each) {
    pdl_trigger();
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= d_inner) return;
    int r = blockIdx.y, seq = batch.row_seq[r];
    int start = batch.seq_start[seq], t = r - start;
    float* st = conv_state + ((long long)batch.seq_slot[seq] * d_inner + c) * KEEP;
    float acc = bias ? load_weight(bias, c, bias_dt) : 0.0f;
    float window[D_CONV];
#pragma unroll
    for (int k = 0; k < D_CONV; k++) {
        int j = t - KEEP + k;
        window[k] = j >= 0 ? x[(long long)(start + j) * ldx + c] : st[KEEP + j];
        acc = fmaf(load_weight(w, (long long)c * D_CONV + k, w_dt), window[k], acc);
    }
    out[(long long)r * ldo + c] = silu(acc);
    if (one_row_each)
#pragma unroll
        for (int q = 0; q < KEEP; q++) st[q] = window[q + 1];
}

// After conv1d: each slot keeps the last KEEP inputs of its sequence (old state, then this step's rows).
// grid (ceil(d_inner / 256), sequences).
extern "C" __global__ void conv_state(BatchDesc batch, float* conv_state, const float* x, int ldx, int d_inner) {
    pdl_trigger();
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= d_inner || KEEP == 0) return;
    int seq = blockIdx.y, start = batch.seq_start[seq], count = batch.seq_count[seq];
    float* st = conv_state + ((long long)batch.seq_slot[seq] * d_inner + c) * KEEP;
    float keep[KEEP > 0 ? KEEP : 1];
#pragma unroll
    for (int q = 0; q < KEEP; q++) {
        int j = count + q;  // index in the window [old state | rows]
        keep[q] = j < KEEP ? st[j] : x[(long long)(start + j - KEEP) * ldx + c];
    }
#pragma unroll
    for (int q = 0; q < KEEP; q++) st[q] = keep[q];
}

// The selective scan with its gate, token by token from the slot's SSM state h [d_inner][d_state]:
//   Δ = softplus(dt), h = exp(Δ·A) ⊙ h + Δ·u·B, y = C·h + D·u, out = y · silu(z), with A = -exp(A_log).
// One lane per (channel, state): the STATE_LANES lanes of a channel reduce C·h with shuffles; lanes run over
// channels and blocks over (channels, sequences), so a long prompt keeps every SM busy while time runs in
// order inside each lane. The final h goes back to the slot.
// grid (ceil(d_inner * STATE_LANES / blockDim.x), sequences), blockDim.x a multiple of 32.
extern "C" __global__ void selective_scan(BatchDesc batch, float* ssm_state, const float* u, int ldu, const float* dt,
                                          int lddt, const void* a_log, int a_dt, const float* B, int ldb, const float* C,
                                          int ldc, const void* d_skip, int d_dt, const float* z, int ldz, float* out,
                                          int ldo, int d_inner) {
    pdl_trigger();
    int lane_state = threadIdx.x % STATE_LANES;
    int c = (blockIdx.x * blockDim.x + threadIdx.x) / STATE_LANES;
    bool live = c < d_inner && lane_state < D_STATE;
    int cc = c < d_inner ? c : d_inner - 1;  // idle lanes still shuffle, on a valid channel
    int seq = blockIdx.y, start = batch.seq_start[seq], count = batch.seq_count[seq];
    float* h_at = ssm_state + ((long long)batch.seq_slot[seq] * d_inner + cc) * D_STATE + lane_state;
    float a = live ? -expf(load_weight(a_log, (long long)cc * D_STATE + lane_state, a_dt)) : 0.0f;
    float d = load_weight(d_skip, cc, d_dt);
    float h = live ? *h_at : 0.0f;
    int s = live ? lane_state : 0;
    for (int t = start; t < start + count; t++) {
        float delta = softplus(dt[(long long)t * lddt + cc]);
        float uv = u[(long long)t * ldu + cc];
        float b = B[(long long)t * ldb + s], cv = C[(long long)t * ldc + s];
        h = live ? expf(delta * a) * h + delta * uv * b : 0.0f;
        float y = h * cv;
#pragma unroll
        for (int o = STATE_LANES / 2; o > 0; o >>= 1) y += __shfl_xor_sync(0xffffffffu, y, o);
        if (lane_state == 0 && c < d_inner) {
            float zv = z[(long long)t * ldz + cc];
            out[(long long)t * ldo + cc] = (y + uv * d) * silu(zv);
        }
    }
    if (live) *h_at = h;
}
