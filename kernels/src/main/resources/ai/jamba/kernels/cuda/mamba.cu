// Mamba's sequence ops, per sequence of a batch and from its state slot: the causal depthwise conv1d with SiLU,
// and the selective scan with the D skip and the silu(z) gate. Specialised at start-up with the model's
// d_conv, d_state and dt_rank (-D D_CONV=.. -D D_STATE=.. -D DT_RANK=..); the defaults are Jamba's.
//
// State layout, per slot: conv [d_inner][d_conv - 1] (oldest input first), ssm [d_inner][d_state].
#include "common.cuh"

#ifndef D_CONV
#define D_CONV 4
#endif
#ifndef D_STATE
#define D_STATE 16
#endif
#ifndef DT_RANK
#define DT_RANK 256
#endif
// Lanes that share one channel's scan, one per state (a power of two, so a channel's lanes sit in one warp).
#define STATE_LANES (D_STATE <= 1 ? 1 : D_STATE <= 2 ? 2 : D_STATE <= 4 ? 4 : D_STATE <= 8 ? 8 : D_STATE <= 16 ? 16 : 32)
#define KEEP (D_CONV - 1)
// dt_rank columns a lane of a channel holds (selective_scan_of_x_proj): k = lane · RANK_PER + i, i < RANK_PER.
#define RANK_PER ((DT_RANK + STATE_LANES - 1) / STATE_LANES)

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

// Sum over the STATE_LANES lanes of a channel (a butterfly: every lane ends with the same bits).
__device__ __forceinline__ float channel_sum(float v) {
#pragma unroll
    for (int o = STATE_LANES / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Jamba's Mamba from x_proj's output to the gated scan, token by token from each slot's SSM state h [d_inner][d_state]:
//   dt, B, C = rmsnorm(xdbl[t] columns [0, DT_RANK), [DT_RANK, + D_STATE), [+ D_STATE, + D_STATE)) each with its weight,
//   Δ = softplus(dt_bias + dt_proj · dt), h = exp(Δ·A) ⊙ h + Δ·u·B, y = C·h + D·u, out = y · silu(z), A = -exp(A_log).
// One lane per (channel, state), as the scan needs; the STATE_LANES lanes of channel c also share its dt: lane l holds
// dt columns k = l·RANK_PER + i and c's dt_proj weights of those columns times dt_layernorm's (read once per launch,
// before waiting for x_proj: launched early). Every channel norms the row's dt, B and C itself (a few hundred floats,
// L1 hits), so dt_proj needs no launch of its own; its dot is float32 on the CUDA cores, the norm's 1/rms applied to
// the dot's sum. Sums run over each lane's i in order, then channel_sum: fixed by the shapes, so a row's result is
// the same in any batch. A block runs SEQS sequences' rows in order (a decode step's rows reuse the weights in
// registers).
// grid (ceil(d_inner * STATE_LANES / blockDim.x), ceil(sequences / SEQS)), blockDim.x a multiple of 32. vec: xdbl's
// rows and dt_proj's are 16-byte aligned, so (RANK_VEC) a lane reads its dt columns as float4s and its bf16 weights
// 16 bytes at a time.
#define SEQS 8
#define RANK_VEC (RANK_PER % 8 == 0 && RANK_PER * STATE_LANES == DT_RANK)
// At most 64 registers: 8 blocks of 128 an SM, so a prompt's d_inner · STATE_LANES lanes (Jamba: 1,024 blocks) run
// in one wave; time runs in order inside each lane, so a second wave would double a prefill's scan.
extern "C" __global__ void __launch_bounds__(128, 8) selective_scan_of_x_proj(
        BatchDesc batch, int sequences, float* ssm_state, const float* u, int ldu, const float* xdbl, int ldx, int vec,
        const void* dt_norm, int dt_norm_dt, const void* b_norm, int b_norm_dt, const void* c_norm, int c_norm_dt,
        float eps, const void* dt_proj, int dt_proj_dt, const void* dt_bias, int dt_bias_dt, const void* a_log, int a_dt,
        const void* d_skip, int d_dt, const float* z, int ldz, float* out, int ldo, int d_inner) {
    pdl_trigger();
    int lane_state = threadIdx.x % STATE_LANES;
    int c = (blockIdx.x * blockDim.x + threadIdx.x) / STATE_LANES;
    bool live = c < d_inner && lane_state < D_STATE;
    int cc = c < d_inner ? c : d_inner - 1;  // idle lanes still shuffle, on a valid channel
    float a = live ? -expf(load_weight(a_log, (long long)cc * D_STATE + lane_state, a_dt)) : 0.0f;
    float d = load_weight(d_skip, cc, d_dt);
    float bias = dt_bias ? load_weight(dt_bias, cc, dt_bias_dt) : 0.0f;
    int s = live ? lane_state : 0;
    float wb = load_weight(b_norm, s, b_norm_dt), wc = load_weight(c_norm, s, c_norm_dt);
    float wp[RANK_PER];  // dt_proj[cc, k] · dt_layernorm[k] for this lane's columns
    int k0 = lane_state * RANK_PER;
    if (RANK_VEC && vec && dt_proj_dt == DT_BF16) {
        const uint4* p = (const uint4*)((const u16*)dt_proj + (long long)cc * DT_RANK + k0);
#pragma unroll
        for (int i = 0; i < RANK_PER; i += 8) {
            uint4 v = p[i / 8];
            u32 w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
            for (int q = 0; q < 8; q++) wp[i + q] = bf16_to_f32((u16)(w[q / 2] >> (16 * (q & 1))));
        }
    } else {
#pragma unroll
        for (int i = 0; i < RANK_PER; i++) {
            int k = imin(k0 + i, DT_RANK - 1);
            wp[i] = k0 + i < DT_RANK ? load_weight(dt_proj, (long long)cc * DT_RANK + k, dt_proj_dt) : 0.0f;
        }
    }
#pragma unroll
    for (int i = 0; i < RANK_PER; i++) wp[i] *= load_weight(dt_norm, imin(k0 + i, DT_RANK - 1), dt_norm_dt);
    pdl_wait();  // weights were free to come early; xdbl is x_proj's output
    // the block's sequences own rows [r, end) one after another (Batch: contiguous, in order)
    int seq = blockIdx.y * SEQS, seq_end = imin(seq + SEQS, sequences);
    int r = batch.seq_start[seq], next_seq_row = r;
    float h = 0.0f;
    float* h_at = ssm_state;
    for (; seq < seq_end; r++) {
        if (r == next_seq_row) {  // a sequence starts: its state
            next_seq_row = r + batch.seq_count[seq];
            h_at = ssm_state + ((long long)batch.seq_slot[seq] * d_inner + cc) * D_STATE + lane_state;
            h = live ? *h_at : 0.0f;
        }
        const float* row = xdbl + (long long)r * ldx;
        float b = lane_state < D_STATE ? row[DT_RANK + lane_state] : 0.0f;
        float cn = lane_state < D_STATE ? row[DT_RANK + D_STATE + lane_state] : 0.0f;
        float ut = u[(long long)r * ldu + cc], zt = z[(long long)r * ldz + cc];
        float ss = 0.0f, dot = 0.0f;
        if (RANK_VEC && vec) {
#pragma unroll
            for (int i = 0; i < RANK_PER; i += 4) {
                float4 v = *(const float4*)(row + k0 + i);
                ss = fmaf(v.x, v.x, ss); dot = fmaf(wp[i], v.x, dot);
                ss = fmaf(v.y, v.y, ss); dot = fmaf(wp[i + 1], v.y, dot);
                ss = fmaf(v.z, v.z, ss); dot = fmaf(wp[i + 2], v.z, dot);
                ss = fmaf(v.w, v.w, ss); dot = fmaf(wp[i + 3], v.w, dot);
            }
        } else {
#pragma unroll
            for (int i = 0; i < RANK_PER; i++) {
                float x = k0 + i < DT_RANK ? row[k0 + i] : 0.0f;
                ss = fmaf(x, x, ss);
                dot = fmaf(wp[i], x, dot);
            }
        }
        ss = channel_sum(ss);
        dot = channel_sum(dot);
        float sb = channel_sum(b * b), sc = channel_sum(cn * cn);
        float delta = softplus(bias + dot * (1.0f / sqrtf(ss / DT_RANK + eps)));
        b = b * (1.0f / sqrtf(sb / D_STATE + eps)) * wb;
        cn = cn * (1.0f / sqrtf(sc / D_STATE + eps)) * wc;
        h = live ? expf(delta * a) * h + delta * ut * b : 0.0f;
        float y = channel_sum(h * cn);
        if (lane_state == 0 && c < d_inner) out[(long long)r * ldo + cc] = (y + ut * d) * silu(zt);
        if (r + 1 == next_seq_row) {  // its last row: the state goes back
            if (live) *h_at = h;
            seq++;
        }
    }
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
        float y = channel_sum(h * cv);
        if (lane_state == 0 && c < d_inner) {
            float zv = z[(long long)t * ldz + cc];
            out[(long long)t * ldo + cc] = (y + uv * d) * silu(zv);
        }
    }
    if (live) *h_at = h;
}
