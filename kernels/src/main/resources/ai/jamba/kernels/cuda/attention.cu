// Grouped-query causal attention without positional encoding, over a per-slot KV cache in device memory.
// Specialised with the model's head_dim (-D HEAD_DIM=..; the default is Jamba's).
//
// Cache of one layer: for each slot, keys and values [capacity][kv_heads][HEAD_DIM] float32 at k_ptr[slot],
// v_ptr[slot], with len[slot] tokens filled. A step first appends its rows (kv_append), then attends (decode
// or prefill kernel: query token t of a sequence sees positions 0 .. len + t), then advances len (kv_advance).
#include "common.cuh"

#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
static_assert(HEAD_DIM % 4 == 0, "head_dim must be a multiple of 4");

// Splits of the decode kernel over the KV positions (chunks of DECODE_CHUNK, dealt round-robin).
#define NSPLIT 16
#define DECODE_CHUNK 64
#define DECODE_WARPS 4
// Dims of one head per lane in the decode kernel.
#define DPL ((HEAD_DIM + 31) / 32)

// K/V rows of this step into the cache at len[slot] + t. grid (rows), block 256.
extern "C" __global__ void kv_append(BatchDesc batch, const u64* k_ptr, const u64* v_ptr, const int* len,
                                     const float* k, int ldk, const float* v, int ldv, int width) {
    int r = blockIdx.x, seq = batch.row_seq[r], slot = batch.seq_slot[seq];
    long long pos = len[slot] + r - batch.seq_start[seq];
    float* kc = (float*)k_ptr[slot] + pos * width;
    float* vc = (float*)v_ptr[slot] + pos * width;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        kc[i] = k[(long long)r * ldk + i];
        vc[i] = v[(long long)r * ldv + i];
    }
}

// len[slot] += rows of the step. One thread per sequence.
extern "C" __global__ void kv_advance(BatchDesc batch, int* len, int sequences) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < sequences) len[batch.seq_slot[i]] += batch.seq_count[i];
}

// Decode: one block per (query row, head, split); its warps take positions one at a time (lanes over the head's
// dims) with a running softmax, then merge into one partial (max, sum, acc[HEAD_DIM]) per split.
// partial: [rows][heads][NSPLIT][HEAD_DIM + 2]. grid (rows, heads, NSPLIT), block 32 * DECODE_WARPS.
extern "C" __global__ void attention_decode(BatchDesc batch, const u64* k_ptr, const u64* v_ptr, const int* len,
                                            const float* q, int ldq, int kv_heads, int group, float scale,
                                            float* partial) {
    __shared__ float s_m[DECODE_WARPS], s_l[DECODE_WARPS], s_acc[DECODE_WARPS][HEAD_DIM];
    int r = blockIdx.x, head = blockIdx.y, split = blockIdx.z;
    int seq = batch.row_seq[r], slot = batch.seq_slot[seq];
    int positions = len[slot] + r - batch.seq_start[seq] + 1;
    int width = kv_heads * HEAD_DIM, kvh = head / group;
    const float* keys = (const float*)k_ptr[slot] + kvh * HEAD_DIM;
    const float* values = (const float*)v_ptr[slot] + kvh * HEAD_DIM;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float qd[DPL];
#pragma unroll
    for (int i = 0; i < DPL; i++) {
        int d = lane + 32 * i;
        qd[i] = d < HEAD_DIM ? q[(long long)r * ldq + head * HEAD_DIM + d] : 0.0f;
    }
    float m = -INFINITY, l = 0.0f, acc[DPL];
#pragma unroll
    for (int i = 0; i < DPL; i++) acc[i] = 0.0f;
    for (int c0 = split * DECODE_CHUNK; c0 < positions; c0 += NSPLIT * DECODE_CHUNK) {
        int c1 = imin(positions, c0 + DECODE_CHUNK);
        for (int p = c0 + warp; p < c1; p += DECODE_WARPS) {
            const float* kr = keys + (long long)p * width;
            float s = 0.0f;
#pragma unroll
            for (int i = 0; i < DPL; i++) {
                int d = lane + 32 * i;
                if (d < HEAD_DIM) s = fmaf(qd[i], kr[d], s);
            }
            s = warp_sum(s) * scale;
            float m_new = fmaxf(m, s), rescale = expf(m - m_new), e = expf(s - m_new);
            const float* vr = values + (long long)p * width;
            l = l * rescale + e;
#pragma unroll
            for (int i = 0; i < DPL; i++) {
                int d = lane + 32 * i;
                acc[i] = acc[i] * rescale + (d < HEAD_DIM ? e * vr[d] : 0.0f);
            }
            m = m_new;
        }
    }
    if (lane == 0) {
        s_m[warp] = m;
        s_l[warp] = l;
    }
#pragma unroll
    for (int i = 0; i < DPL; i++) {
        int d = lane + 32 * i;
        if (d < HEAD_DIM) s_acc[warp][d] = acc[i];
    }
    __syncthreads();
    float* out = partial + (((long long)r * gridDim.y + head) * NSPLIT + split) * (HEAD_DIM + 2);
    float mm = -INFINITY;
    for (int w = 0; w < DECODE_WARPS; w++) mm = fmaxf(mm, s_m[w]);
    for (int d = threadIdx.x; d < HEAD_DIM; d += blockDim.x) {
        float a = 0.0f;
        for (int w = 0; w < DECODE_WARPS; w++)
            if (s_l[w] > 0.0f) a += s_acc[w][d] * expf(s_m[w] - mm);
        out[2 + d] = a;
    }
    if (threadIdx.x == 0) {
        float ll = 0.0f;
        for (int w = 0; w < DECODE_WARPS; w++)
            if (s_l[w] > 0.0f) ll += s_l[w] * expf(s_m[w] - mm);
        out[0] = mm;
        out[1] = ll;
    }
}

// Merges the NSPLIT partials of each (row, head): out = Σ acc_i e^{m_i - m} / Σ l_i e^{m_i - m}.
// grid (rows, heads), block HEAD_DIM rounded up to 32.
extern "C" __global__ void attention_combine(const float* partial, float* out, int ldo) {
    int r = blockIdx.x, head = blockIdx.y, d = threadIdx.x;
    const float* p = partial + ((long long)r * gridDim.y + head) * NSPLIT * (HEAD_DIM + 2);
    float m = -INFINITY;
    for (int i = 0; i < NSPLIT; i++)
        if (p[i * (HEAD_DIM + 2) + 1] > 0.0f) m = fmaxf(m, p[i * (HEAD_DIM + 2)]);
    float l = 0.0f, a = 0.0f;
    for (int i = 0; i < NSPLIT; i++) {
        const float* s = p + i * (HEAD_DIM + 2);
        if (s[1] > 0.0f) {
            float w = expf(s[0] - m);
            l += s[1] * w;
            if (d < HEAD_DIM) a += s[2 + d] * w;
        }
    }
    if (d < HEAD_DIM) out[(long long)r * ldo + head * HEAD_DIM + d] = a / l;
}

// Prefill: a block takes PREFILL_Q consecutive query rows of one sequence for one head; each row is owned by
// ROW_THREADS threads (HEAD_DIM / ROW_THREADS dims each). Keys and values stream through shared memory
// PREFILL_K positions at a time, up to the block's last causal position, with a running softmax per row.
// tiles[i] = (first row, rows) of tile i; grid (tiles, heads), block PREFILL_Q * ROW_THREADS.
#define PREFILL_Q 64
#define PREFILL_K 32
#define ROW_THREADS 4
#define DPT (HEAD_DIM / ROW_THREADS)

extern "C" __global__ void __launch_bounds__(PREFILL_Q * ROW_THREADS)
attention_prefill(BatchDesc batch, const u64* k_ptr, const u64* v_ptr, const int* len, const int* tiles,
                  const float* q, int ldq, int kv_heads, int group, float scale, float* out, int ldo) {
    __shared__ float ks[PREFILL_K][HEAD_DIM], vs[PREFILL_K][HEAD_DIM];
    int first = tiles[2 * blockIdx.x], rows = tiles[2 * blockIdx.x + 1], head = blockIdx.y;
    int seq = batch.row_seq[first], slot = batch.seq_slot[seq];
    int past = len[slot], start = batch.seq_start[seq];
    int width = kv_heads * HEAD_DIM, kvh = head / group;
    const float* keys = (const float*)k_ptr[slot] + kvh * HEAD_DIM;
    const float* values = (const float*)v_ptr[slot] + kvh * HEAD_DIM;
    int row = threadIdx.x / ROW_THREADS, part = threadIdx.x % ROW_THREADS, d0 = part * DPT;
    bool live = row < rows;
    int r = first + (live ? row : 0);
    int my_pos = past + r - start;                               // this row's own position
    int last_pos = past + first + rows - 1 - start;              // the tile's last position
    float qd[DPT], acc[DPT];
#pragma unroll
    for (int i = 0; i < DPT; i++) {
        qd[i] = q[(long long)r * ldq + head * HEAD_DIM + d0 + i] * scale;
        acc[i] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int p0 = 0; p0 <= last_pos; p0 += PREFILL_K) {
        int n = imin(PREFILL_K, last_pos + 1 - p0);
        __syncthreads();
        for (int i = threadIdx.x; i < n * HEAD_DIM; i += blockDim.x) {
            int j = i / HEAD_DIM, d = i % HEAD_DIM;
            ks[j][d] = keys[(long long)(p0 + j) * width + d];
            vs[j][d] = values[(long long)(p0 + j) * width + d];
        }
        __syncthreads();
        float s[PREFILL_K];
        float tile_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < PREFILL_K; j++) {
            float v = 0.0f;
            if (j < n) {
#pragma unroll
                for (int i = 0; i < DPT; i++) v = fmaf(qd[i], ks[j][d0 + i], v);
            }
#pragma unroll
            for (int o = ROW_THREADS / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            s[j] = (j < n && p0 + j <= my_pos) ? v : -INFINITY;
            tile_max = fmaxf(tile_max, s[j]);
        }
        if (tile_max == -INFINITY) continue;  // every position of this tile is in this row's future
        float m_new = fmaxf(m, tile_max), rescale = expf(m - m_new);
        l *= rescale;
#pragma unroll
        for (int i = 0; i < DPT; i++) acc[i] *= rescale;
#pragma unroll
        for (int j = 0; j < PREFILL_K; j++) {
            if (j < n) {  // rows past n hold stale shared memory, which may not even be a number
                float e = expf(s[j] - m_new);  // 0 for positions in this row's future
                l += e;
#pragma unroll
                for (int i = 0; i < DPT; i++) acc[i] = fmaf(e, vs[j][d0 + i], acc[i]);
            }
        }
        m = m_new;
    }
    if (live) {
        float inv = 1.0f / l;
#pragma unroll
        for (int i = 0; i < DPT; i++) out[(long long)r * ldo + head * HEAD_DIM + d0 + i] = acc[i] * inv;
    }
}
