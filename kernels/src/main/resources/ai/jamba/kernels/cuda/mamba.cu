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

// The per-(row, channel) math of Jamba's Mamba from x_proj's output, shared by selective_scan_of_x_proj (a decode
// step) and dt_of_x_proj + selective_scan (rows of prompts), so both give a row the same bits: lane (channel,
// state) layout, sums over each lane's i in order then channel_sum, explicit fmaf / __fmul_rn where a compiler's
// contraction could differ between kernels.

// dt_proj[cc, k] · dt_layernorm[k] for lane_state's columns k = k0 + i (zeros past DT_RANK). vec: dt_proj's rows
// are 16-byte aligned, so (RANK_VEC) the bf16 weights are read 16 bytes at a time.
#define RANK_VEC (RANK_PER % 8 == 0 && RANK_PER * STATE_LANES == DT_RANK)
__device__ __forceinline__ void dt_weights(float* wp, int cc, int k0, int vec, const void* dt_proj, int dt_proj_dt,
                                           const void* dt_norm, int dt_norm_dt) {
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
    for (int i = 0; i < RANK_PER; i++) wp[i] = __fmul_rn(wp[i], load_weight(dt_norm, imin(k0 + i, DT_RANK - 1), dt_norm_dt));
}

// A lane's partial sums over its dt columns of a row, for CH channels whose weights it holds: Σ x² and each
// channel's Σ wp · x, each in order of i (a caller using only some lets the compiler drop the rest). vec: the row is
// 16-byte aligned (float4 reads).
template <int CH>
__device__ __forceinline__ void dt_partials(const float* row, int k0, const float (*wp)[RANK_PER], int vec, float& ss,
                                            float* dot) {
    ss = 0.0f;
#pragma unroll
    for (int j = 0; j < CH; j++) dot[j] = 0.0f;
    if (RANK_VEC && vec) {
#pragma unroll
        for (int i = 0; i < RANK_PER; i += 4) {
            float4 v = *(const float4*)(row + k0 + i);
            ss = fmaf(v.x, v.x, ss);
            ss = fmaf(v.y, v.y, ss);
            ss = fmaf(v.z, v.z, ss);
            ss = fmaf(v.w, v.w, ss);
#pragma unroll
            for (int j = 0; j < CH; j++) {
                dot[j] = fmaf(wp[j][i], v.x, dot[j]);
                dot[j] = fmaf(wp[j][i + 1], v.y, dot[j]);
                dot[j] = fmaf(wp[j][i + 2], v.z, dot[j]);
                dot[j] = fmaf(wp[j][i + 3], v.w, dot[j]);
            }
        }
    } else {
#pragma unroll
        for (int i = 0; i < RANK_PER; i++) {
            float x = k0 + i < DT_RANK ? row[k0 + i] : 0.0f;
            ss = fmaf(x, x, ss);
#pragma unroll
            for (int j = 0; j < CH; j++) dot[j] = fmaf(wp[j][i], x, dot[j]);
        }
    }
}

// 1 / rms of n values whose squares sum to ss (channel_sum'd).
__device__ __forceinline__ float inv_rms(float ss, int n, float eps) { return 1.0f / sqrtf(__fadd_rn(ss / n, eps)); }

// dt before softplus: dt_bias + dt_proj · rmsnorm(dt), from the dot's channel sum and the row's 1 / rms.
__device__ __forceinline__ float dt_of(float dot, float inv, float bias) { return fmaf(dot, inv, bias); }

// B or C of lane_state (0 for idle lanes), rms-normed over the channel's lanes and times its norm weight w.
__device__ __forceinline__ float normed_state(float v, float w, float eps) {
    return __fmul_rn(__fmul_rn(v, inv_rms(channel_sum(__fmul_rn(v, v)), D_STATE, eps)), w);
}

// One token of the scan for lane (channel, state): h moves on; returns the gated output (the channel's sum of C·h,
// the same in every lane of the channel). delta after softplus.
__device__ __forceinline__ float scan_step(float& h, bool live, float delta, float a, float ut, float b, float cn, float d,
                                           float zt) {
    h = live ? fmaf(expf(delta * a), h, __fmul_rn(__fmul_rn(delta, ut), b)) : 0.0f;
    float y = channel_sum(__fmul_rn(h, cn));
    return __fmul_rn(fmaf(ut, d, y), silu(zt));
}

// Jamba's Mamba from x_proj's output to the gated scan, token by token from each slot's SSM state h [d_inner][d_state]:
//   dt, B, C = rmsnorm(xdbl[t] columns [0, DT_RANK), [DT_RANK, + D_STATE), [+ D_STATE, + D_STATE)) each with its weight,
//   Δ = softplus(dt_bias + dt_proj · dt), h = exp(Δ·A) ⊙ h + Δ·u·B, y = C·h + D·u, out = y · silu(z), A = -exp(A_log).
// For a decode step (one row a sequence). One lane per (channel, state), as the scan needs; the STATE_LANES lanes of
// channel c also share its dt: lane l holds dt columns k = l·RANK_PER + i and c's dt_proj weights of those columns
// times dt_layernorm's (read once per launch, before waiting for x_proj: launched early). Every channel norms the
// row's dt, B and C itself (a few hundred floats, L1 hits), so dt_proj needs no launch of its own; its dot is
// float32 on the CUDA cores, the norm's 1/rms applied to the dot's sum. A block runs SEQS sequences' rows in order
// (a decode step's rows reuse the weights in registers).
// grid (ceil(d_inner * STATE_LANES / blockDim.x), ceil(sequences / SEQS)), blockDim.x a multiple of 32. vec: xdbl's
// rows and dt_proj's are 16-byte aligned.
#define SEQS 8
// At most 64 registers: 8 blocks of 128 an SM.
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
    float wp[1][RANK_PER];
    int k0 = lane_state * RANK_PER;
    dt_weights(wp[0], cc, k0, vec, dt_proj, dt_proj_dt, dt_norm, dt_norm_dt);
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
        float ss, dot;
        dt_partials<1>(row, k0, wp, vec, ss, &dot);
        float delta = softplus(dt_of(channel_sum(dot), inv_rms(channel_sum(ss), DT_RANK, eps), bias));
        float y = scan_step(h, live, delta, a, ut, normed_state(b, wb, eps), normed_state(cn, wc, eps), d, zt);
        if (lane_state == 0 && c < d_inner) out[(long long)r * ldo + cc] = y;
        if (r + 1 == next_seq_row) {  // its last row: the state goes back
            if (live) *h_at = h;
            seq++;
        }
    }
}

// The rows of prompts (more than one row a sequence): selective_scan_of_x_proj's dt, B and C for every (row,
// channel) in parallel, then selective_scan over them, so a prompt's time loop holds only the scan. Writes dt
// before softplus to dt [rows][d_inner] and the normed B and C in place into xdbl. A lane holds its columns'
// dt_proj weights of DT_CH channels (each dt column read from L1 once for DT_CH dots, not once per channel) for
// DT_ROWS rows; a row's 1/rms of dt is computed once per block. Each channel's sums are those of the fused kernel.
// grid (ceil(d_inner * STATE_LANES / (blockDim.x * DT_CH)), ceil(rows / DT_ROWS)), blockDim.x a multiple of 32.
#define DT_ROWS 32
#define DT_CH 4
extern "C" __global__ void __launch_bounds__(128, 4) dt_of_x_proj(
        int rows, float* xdbl, int ldx, int vec, const void* dt_norm, int dt_norm_dt, const void* b_norm, int b_norm_dt,
        const void* c_norm, int c_norm_dt, float eps, const void* dt_proj, int dt_proj_dt, const void* dt_bias,
        int dt_bias_dt, float* dt, int lddt, int d_inner) {
    pdl_trigger();
    __shared__ float inv[DT_ROWS];
    int lane_state = threadIdx.x % STATE_LANES;
    int c0 = (blockIdx.x * blockDim.x + threadIdx.x) / STATE_LANES * DT_CH;  // channels c0 .. c0 + DT_CH - 1
    int k0 = lane_state * RANK_PER;
    float wp[DT_CH][RANK_PER], bias[DT_CH];
#pragma unroll
    for (int j = 0; j < DT_CH; j++) {
        int cc = imin(c0 + j, d_inner - 1);
        bias[j] = dt_bias ? load_weight(dt_bias, cc, dt_bias_dt) : 0.0f;
        dt_weights(wp[j], cc, k0, vec, dt_proj, dt_proj_dt, dt_norm, dt_norm_dt);
    }
    pdl_wait();  // xdbl is x_proj's output
    int r0 = blockIdx.y * DT_ROWS, n = imin(DT_ROWS, rows - r0);
    int group = threadIdx.x / STATE_LANES, groups = blockDim.x / STATE_LANES;
    for (int i0 = 0; i0 < n; i0 += groups) {  // whole warps in step: a group per row
        int i = imin(i0 + group, n - 1);
        float ss, dot[1];
        dt_partials<1>(xdbl + (long long)(r0 + i) * ldx, k0, wp, vec, ss, dot);
        float v = inv_rms(channel_sum(ss), DT_RANK, eps);
        if (lane_state == 0 && i0 + group < n) inv[i] = v;
    }
    __syncthreads();
    for (int i = 0; i < n; i++) {
        float ss, dot[DT_CH];
        dt_partials<DT_CH>(xdbl + (long long)(r0 + i) * ldx, k0, wp, vec, ss, dot);
#pragma unroll
        for (int j = 0; j < DT_CH; j++) {
            float v = dt_of(channel_sum(dot[j]), inv[i], bias[j]);
            if (lane_state == 0 && c0 + j < d_inner) dt[(long long)(r0 + i) * lddt + c0 + j] = v;
        }
    }
    if (blockIdx.x == 0 && threadIdx.x < 32) {  // B and C, by the first channels' lanes (the first warp shuffles whole)
        int s = lane_state < D_STATE ? lane_state : 0;
        float wb = load_weight(b_norm, s, b_norm_dt), wc = load_weight(c_norm, s, c_norm_dt);
        for (int i = 0; i < n; i++) {
            float* row = xdbl + (long long)(r0 + i) * ldx;
            float b = lane_state < D_STATE ? row[DT_RANK + lane_state] : 0.0f;
            float cn = lane_state < D_STATE ? row[DT_RANK + D_STATE + lane_state] : 0.0f;
            b = normed_state(b, wb, eps);
            cn = normed_state(cn, wc, eps);
            if (threadIdx.x < D_STATE) {
                row[DT_RANK + lane_state] = b;
                row[DT_RANK + D_STATE + lane_state] = cn;
            }
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
        float uv = u[(long long)t * ldu + cc], zv = z[(long long)t * ldz + cc];
        float y = scan_step(h, live, softplus(dt[(long long)t * lddt + cc]), a, uv, B[(long long)t * ldb + s],
                            C[(long long)t * ldc + s], d, zv);
        if (lane_state == 0 && c < d_inner) out[(long long)t * ldo + cc] = y;
    }
    if (live) *h_at = h;
}
