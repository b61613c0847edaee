// Grouped-query causal attention without positional encoding, over a paged KV cache in device memory.
// Specialised with the model's head_dim and the cache's element type (-D HEAD_DIM=.. -D KV_BF16=0|1).
//
// Cache of one layer: fixed-size blocks of BLOCK_TOKENS positions, each [keys: BLOCK_TOKENS][kv_heads][HEAD_DIM]
// then [values: same], float32 or bf16. A slot's block table, blocks[slot * max_blocks + i], holds the address of
// its i-th block; len[slot] positions are filled. Long and short sequences share one pool of blocks. A step first
// appends its rows (kv_append), then attends (query token t of a sequence sees positions 0 .. len + t), then
// advances len (kv_advance).
#include "common.cuh"

#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
#ifndef KV_BF16
#define KV_BF16 0
#endif
static_assert(HEAD_DIM % 4 == 0, "head_dim must be a multiple of 4");

#define BLOCK_TOKENS 64
#if KV_BF16
typedef u16 kv_t;
__device__ __forceinline__ float kv_load(const kv_t* p) { return bf16_to_f32(*p); }
__device__ __forceinline__ kv_t kv_cast(float f) { return f32_to_bf16(f); }
#else
typedef float kv_t;
__device__ __forceinline__ float kv_load(const kv_t* p) { return *p; }
__device__ __forceinline__ kv_t kv_cast(float f) { return f; }
#endif

// Position pos of a slot: its key row (values at + BLOCK_TOKENS * width).
__device__ __forceinline__ kv_t* kv_row(const u64* blocks, int max_blocks, int slot, long long pos, int width) {
    return (kv_t*)blocks[(long long)slot * max_blocks + pos / BLOCK_TOKENS] + (pos % BLOCK_TOKENS) * width;
}

// K/V rows of this step into the cache at len[slot] + t. grid (rows), block 256.
extern "C" __global__ void kv_append(BatchDesc batch, const u64* blocks, int max_blocks, const int* len,
                                     const float* k, int ldk, const float* v, int ldv, int width) {
    int r = blockIdx.x, seq = batch.row_seq[r], slot = batch.seq_slot[seq];
    kv_t* kc = kv_row(blocks, max_blocks, slot, len[slot] + r - batch.seq_start[seq], width);
    kv_t* vc = kc + BLOCK_TOKENS * width;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        kc[i] = kv_cast(k[(long long)r * ldk + i]);
        vc[i] = kv_cast(v[(long long)r * ldv + i]);
    }
}

// len[slot] += rows of the step. One thread per sequence.
extern "C" __global__ void kv_advance(BatchDesc batch, int* len, int sequences) {
    pdl_trigger();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < sequences) len[batch.seq_slot[i]] += batch.seq_count[i];
}

// Sessions: positions [from, from + count) of a slot to or from float32 rows [count][width] of keys and of values.
// grid (count), block 256.
extern "C" __global__ void kv_export(const u64* blocks, int max_blocks, int slot, int from, int width, float* keys,
                                     float* values) {
    const kv_t* kc = kv_row(blocks, max_blocks, slot, from + blockIdx.x, width);
    const kv_t* vc = kc + BLOCK_TOKENS * width;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        keys[(long long)blockIdx.x * width + i] = kv_load(kc + i);
        values[(long long)blockIdx.x * width + i] = kv_load(vc + i);
    }
}

extern "C" __global__ void kv_import(const u64* blocks, int max_blocks, int slot, int from, int width, const float* keys,
                                     const float* values) {
    kv_t* kc = kv_row(blocks, max_blocks, slot, from + blockIdx.x, width);
    kv_t* vc = kc + BLOCK_TOKENS * width;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        kc[i] = kv_cast(keys[(long long)blockIdx.x * width + i]);
        vc[i] = kv_cast(values[(long long)blockIdx.x * width + i]);
    }
}

// ---- decode: a few query rows, each over all its positions ------------------------------------------------------
// Warps of a decode block; query heads one KV head serves, at most. The splits over the positions are the grid's
// z (the host picks more for longer contexts, so a long one still fills the GPU).
#define DECODE_WARPS 4
#define MAX_GROUP 8
// Dims of one head per lane when lanes run over dims.
#define DPL ((HEAD_DIM + 31) / 32)

// 8 cached elements at p (16-byte aligned: head_dim a multiple of 8) as floats.
__device__ __forceinline__ void kv_load8(const kv_t* p, float* f) {
#if KV_BF16
    uint4 q = *(const uint4*)p;
    u32 w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        f[2 * i] = __uint_as_float(w[i] << 16);
        f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
#else
    float4 a = *(const float4*)p, b = *(const float4*)(p + 4);
    f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
#endif
}

// One block per (query row, KV head, split) serves the `group` query heads that share the KV head, so each cached
// key and value is read once. Cache blocks (64 positions) are dealt round-robin to splits × DECODE_WARPS workers
// (warps); a warp scores 32 positions at a time, a lane each, with the scaled queries in shared memory, keeps a
// running softmax per head, then adds the 32 values with lanes over dims. The warps merge into one partial
// (max, sum, acc[HEAD_DIM]) per (row, head, split). partial: [rows][heads][splits][HEAD_DIM + 2].
// grid (rows, kv_heads, splits), block 32 * DECODE_WARPS; group ≤ MAX_GROUP.
extern "C" __global__ void __launch_bounds__(32 * DECODE_WARPS)
attention_decode(BatchDesc batch, const u64* blocks, int max_blocks, const int* len, const float* q, int ldq,
                 int kv_heads, int group, float scale, float* partial) {
    __shared__ float qs[MAX_GROUP][HEAD_DIM];
    __shared__ float s_m[DECODE_WARPS][MAX_GROUP], s_l[DECODE_WARPS][MAX_GROUP], s_acc[DECODE_WARPS][MAX_GROUP][HEAD_DIM];
    int r = blockIdx.x, kvh = blockIdx.y, split = blockIdx.z, splits = gridDim.z;
    int seq = batch.row_seq[r], slot = batch.seq_slot[seq];
    int positions = len[slot] + r - batch.seq_start[seq] + 1;
    int width = kv_heads * HEAD_DIM;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int i = threadIdx.x; i < group * HEAD_DIM; i += blockDim.x)
        qs[i / HEAD_DIM][i % HEAD_DIM] = q[(long long)r * ldq + (kvh * group + i / HEAD_DIM) * HEAD_DIM + i % HEAD_DIM] * scale;
    __syncthreads();

    float m[MAX_GROUP], l[MAX_GROUP], acc[MAX_GROUP][DPL];
#pragma unroll
    for (int h = 0; h < MAX_GROUP; h++) {
        m[h] = -INFINITY;
        l[h] = 0.0f;
#pragma unroll
        for (int i = 0; i < DPL; i++) acc[h][i] = 0.0f;
    }
    int worker = split * DECODE_WARPS + warp, workers = splits * DECODE_WARPS;
    for (int c0 = worker * BLOCK_TOKENS; c0 < positions; c0 += workers * BLOCK_TOKENS) {
        const kv_t* keys = kv_row(blocks, max_blocks, slot, c0, width) + kvh * HEAD_DIM;
        const kv_t* values = keys + BLOCK_TOKENS * width;
        for (int b0 = 0; b0 < BLOCK_TOKENS && c0 + b0 < positions; b0 += 32) {
            bool live = c0 + b0 + lane < positions;
            float s[MAX_GROUP];
#pragma unroll
            for (int h = 0; h < MAX_GROUP; h++) s[h] = 0.0f;
            if (live) {
                const kv_t* kr = keys + (long long)(b0 + lane) * width;
#if HEAD_DIM % 8 == 0
                for (int d = 0; d < HEAD_DIM; d += 8) {
                    float k8[8];
                    kv_load8(kr + d, k8);
#pragma unroll
                    for (int h = 0; h < MAX_GROUP; h++) {
                        if (h >= group) break;
#pragma unroll
                        for (int i = 0; i < 8; i++) s[h] = fmaf(qs[h][d + i], k8[i], s[h]);
                    }
                }
#else
                for (int d = 0; d < HEAD_DIM; d++) {
                    float kd = kv_load(kr + d);
#pragma unroll
                    for (int h = 0; h < MAX_GROUP; h++) {
                        if (h >= group) break;
                        s[h] = fmaf(qs[h][d], kd, s[h]);
                    }
                }
#endif
            }
            int n = imin(32, positions - c0 - b0);
#pragma unroll
            for (int h = 0; h < MAX_GROUP; h++) {
                if (h >= group) break;
                float mn = fmaxf(m[h], warp_max(live ? s[h] : -INFINITY));  // lane 0's position is live: finite
                float alpha = expf(m[h] - mn), e = live ? expf(s[h] - mn) : 0.0f;
                l[h] = l[h] * alpha + warp_sum(e);
                m[h] = mn;
#pragma unroll
                for (int i = 0; i < DPL; i++) acc[h][i] *= alpha;
                s[h] = e;
            }
            for (int j = 0; j < n; j++) {
                const kv_t* vr = values + (long long)(b0 + j) * width;
                float vd[DPL];
#pragma unroll
                for (int i = 0; i < DPL; i++) {
                    int d = lane + 32 * i;
                    vd[i] = d < HEAD_DIM ? kv_load(vr + d) : 0.0f;
                }
#pragma unroll
                for (int h = 0; h < MAX_GROUP; h++) {
                    if (h >= group) break;
                    float p = __shfl_sync(0xffffffffu, s[h], j);
#pragma unroll
                    for (int i = 0; i < DPL; i++) acc[h][i] = fmaf(p, vd[i], acc[h][i]);
                }
            }
        }
    }
#pragma unroll
    for (int h = 0; h < MAX_GROUP; h++) {
        if (h >= group) break;
        if (lane == 0) {
            s_m[warp][h] = m[h];
            s_l[warp][h] = l[h];
        }
#pragma unroll
        for (int i = 0; i < DPL; i++) {
            int d = lane + 32 * i;
            if (d < HEAD_DIM) s_acc[warp][h][d] = acc[h][i];
        }
    }
    __syncthreads();
    int heads = kv_heads * group;
    for (int h = 0; h < group; h++) {
        float* out = partial + (((long long)r * heads + kvh * group + h) * splits + split) * (HEAD_DIM + 2);
        float mm = -INFINITY;
        for (int w = 0; w < DECODE_WARPS; w++) mm = fmaxf(mm, s_m[w][h]);
        for (int d = threadIdx.x; d < HEAD_DIM; d += blockDim.x) {
            float a = 0.0f;
            for (int w = 0; w < DECODE_WARPS; w++)
                if (s_l[w][h] > 0.0f) a += s_acc[w][h][d] * expf(s_m[w][h] - mm);
            out[2 + d] = a;
        }
        if (threadIdx.x == 0) {
            float ll = 0.0f;
            for (int w = 0; w < DECODE_WARPS; w++)
                if (s_l[w][h] > 0.0f) ll += s_l[w][h] * expf(s_m[w][h] - mm);
            out[0] = mm;
            out[1] = ll;
        }
    }
}

// Merges the splits' partials of each (row, head): out = Σ acc_i e^{m_i - m} / Σ l_i e^{m_i - m}.
// grid (rows, heads), block HEAD_DIM rounded up to 32.
extern "C" __global__ void attention_combine(const float* partial, int splits, float* out, int ldo) {
    pdl_trigger();
    int r = blockIdx.x, head = blockIdx.y, d = threadIdx.x;
    const float* p = partial + ((long long)r * gridDim.y + head) * splits * (HEAD_DIM + 2);
    float m = -INFINITY;
    for (int i = 0; i < splits; i++)
        if (p[i * (HEAD_DIM + 2) + 1] > 0.0f) m = fmaxf(m, p[i * (HEAD_DIM + 2)]);
    float l = 0.0f, a = 0.0f;
    for (int i = 0; i < splits; i++) {
        const float* s = p + i * (HEAD_DIM + 2);
        if (s[1] > 0.0f) {
            float w = expf(s[0] - m);
            l += s[1] * w;
            if (d < HEAD_DIM) a += s[2 + d] * w;
        }
    }
    if (d < HEAD_DIM) out[(long long)r * ldo + head * HEAD_DIM + d] = a / l;
}

// ---- prefill on the CUDA cores (any head_dim, float32 or bf16 cache) ---------------------------------------------
// A block takes PREFILL_Q consecutive query rows of one sequence for one head; each row is owned by ROW_THREADS
// threads, thread `part` holding dims part, part + ROW_THREADS, ... (so the four parts read four banks). Keys and
// values stream through shared memory PREFILL_K positions at a time, up to the block's last causal position, with
// a running softmax per row. tiles[i] = (first row, rows) of tile i; grid (tiles, heads), block PREFILL_Q *
// ROW_THREADS.
#define PREFILL_Q 64
#define PREFILL_K 32
#define ROW_THREADS 4
#define DPT (HEAD_DIM / ROW_THREADS)

extern "C" __global__ void __launch_bounds__(PREFILL_Q * ROW_THREADS)
attention_prefill(BatchDesc batch, const u64* blocks, int max_blocks, const int* len, const int* tiles,
                  const float* q, int ldq, int kv_heads, int group, float scale, float* out, int ldo) {
    __shared__ float ks[PREFILL_K][HEAD_DIM], vs[PREFILL_K][HEAD_DIM];
    int first = tiles[2 * blockIdx.x], rows = tiles[2 * blockIdx.x + 1], head = blockIdx.y;
    int seq = batch.row_seq[first], slot = batch.seq_slot[seq];
    int past = len[slot], start = batch.seq_start[seq];
    int width = kv_heads * HEAD_DIM, kvh = head / group;
    int row = threadIdx.x / ROW_THREADS, part = threadIdx.x % ROW_THREADS;
    bool live = row < rows;
    int r = first + (live ? row : 0);
    int my_pos = past + r - start;                               // this row's own position
    int last_pos = past + first + rows - 1 - start;              // the tile's last position
    float qd[DPT], acc[DPT];
#pragma unroll
    for (int i = 0; i < DPT; i++) {
        qd[i] = q[(long long)r * ldq + head * HEAD_DIM + part + ROW_THREADS * i] * scale;
        acc[i] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int p0 = 0; p0 <= last_pos; p0 += PREFILL_K) {
        int n = imin(PREFILL_K, last_pos + 1 - p0);
        const kv_t* keys = kv_row(blocks, max_blocks, slot, p0, width) + kvh * HEAD_DIM;  // PREFILL_K divides a block
        const kv_t* values = keys + BLOCK_TOKENS * width;
        __syncthreads();
        for (int i = threadIdx.x; i < n * HEAD_DIM; i += blockDim.x) {
            int j = i / HEAD_DIM, d = i % HEAD_DIM;
            ks[j][d] = kv_load(keys + (long long)j * width + d);
            vs[j][d] = kv_load(values + (long long)j * width + d);
        }
        __syncthreads();
        float s[PREFILL_K];
        float tile_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < PREFILL_K; j++) {
            float v = 0.0f;
            if (j < n) {
#pragma unroll
                for (int i = 0; i < DPT; i++) v = fmaf(qd[i], ks[j][part + ROW_THREADS * i], v);
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
                for (int i = 0; i < DPT; i++) acc[i] = fmaf(e, vs[j][part + ROW_THREADS * i], acc[i]);
            }
        }
        m = m_new;
    }
    if (live) {
        float inv = 1.0f / l;
#pragma unroll
        for (int i = 0; i < DPT; i++) out[(long long)r * ldo + head * HEAD_DIM + part + ROW_THREADS * i] = acc[i] * inv;
    }
}

// ---- prefill on the tensor cores (bf16 cache, head_dim a multiple of 64) -----------------------------------------
// FlashAttention-2's loop with mma.sync m16n8k16: a block of 4 warps takes 64 query rows of one head (16 a warp),
// key tiles of one cache block each stream through shared memory (two stages, cp.async), and the scores and the
// softmax-weighted values accumulate in float32 registers. Kept close to float32: q enters as hi + lo bf16 parts
// and so do the probabilities (split_pair), so each score and each output is a sum of exact products. Scores are
// taken in log2 units (q pre-scaled by scale · log2 e) for exp2.
#if KV_BF16 && HEAD_DIM % 64 == 0
#define FQ 64                   // query rows per block
#define CH (HEAD_DIM / 8)       // 16-byte chunks of a cached row of one head
#define KS (HEAD_DIM / 16)      // mma k-steps over a head

__device__ __forceinline__ void mma_bf16(float* d, u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void ldmatrix_x4(u32 addr, u32& r0, u32& r1, u32& r2, u32& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}

__device__ __forceinline__ void ldmatrix_x4_trans(u32 addr, u32& r0, u32& r1, u32& r2, u32& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}

// Shared memory: [stage][K or V][key][chunk], chunks of a row swizzled (chunk ^ key % 8) so that the 8 rows an
// ldmatrix reads fall in 8 different bank groups.
__device__ __forceinline__ u32 tile_at(u32 base, int stage, int kv, int key, int chunk) {
    return base + ((((stage * 2 + kv) * BLOCK_TOKENS + key) * CH + (chunk ^ (key & 7))) << 4);
}

// One key tile (one cache block) of head kvh into a stage; rows at or past `valid` read as zeros.
__device__ __forceinline__ void load_tile(u32 base, int stage, const u16* block, int width, int kvh, int valid) {
    for (int i = threadIdx.x; i < 2 * BLOCK_TOKENS * CH; i += blockDim.x) {
        int kv = i / (BLOCK_TOKENS * CH), key = i / CH % BLOCK_TOKENS, chunk = i % CH;
        const u16* src = block + ((long long)kv * BLOCK_TOKENS + key) * width + kvh * HEAD_DIM + chunk * 8;
        int bytes = key < valid ? 16 : 0;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(tile_at(base, stage, kv, key, chunk)),
                     "l"(bytes ? src : block), "r"(bytes));
    }
    asm volatile("cp.async.commit_group;");
}

// grid (tiles, heads), block 128, dynamic shared memory 2 * 2 * BLOCK_TOKENS * HEAD_DIM * 2 bytes.
extern "C" __global__ void __launch_bounds__(128)
attention_prefill_mma(BatchDesc batch, const u64* blocks, int max_blocks, const int* len, const int* tiles,
                      const float* q, int ldq, int kv_heads, int group, float scale, float* out, int ldo) {
    extern __shared__ uint4 smem[];
    u32 base = (u32)__cvta_generic_to_shared(smem);
    int first = tiles[2 * blockIdx.x], rows = tiles[2 * blockIdx.x + 1], head = blockIdx.y;
    int seq = batch.row_seq[first], slot = batch.seq_slot[seq];
    int past = len[slot], start = batch.seq_start[seq];
    int width = kv_heads * HEAD_DIM, kvh = head / group;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    int last_pos = past + first + rows - 1 - start;
    const u64* table = blocks + (long long)slot * max_blocks;

    // this lane's query rows (tile-local) ra = warp * 16 + g and rb = ra + 8; their positions
    int ra = warp * 16 + g, rb = ra + 8;
    int pos_a = past + first + ra - start, pos_b = past + first + rb - start;
    float qscale = scale * 1.4426950408889634f;
    u32 qh[KS][4], ql[KS][4];
#pragma unroll
    for (int ks = 0; ks < KS; ks++) {
#pragma unroll
        for (int reg = 0; reg < 4; reg++) {
            int rr = reg & 1 ? rb : ra, d = ks * 16 + 2 * t + (reg & 2 ? 8 : 0);
            const float* src = q + (long long)(first + rr) * ldq + head * HEAD_DIM + d;
            float a = rr < rows ? src[0] * qscale : 0.0f, b = rr < rows ? src[1] * qscale : 0.0f;
            split_pair(a, b, qh[ks][reg], ql[ks][reg]);
        }
    }
    float o[HEAD_DIM / 8][4];
#pragma unroll
    for (int n = 0; n < HEAD_DIM / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float m_a = -INFINITY, m_b = -INFINITY, l_a = 0.0f, l_b = 0.0f;

    int ntiles = last_pos / BLOCK_TOKENS + 1;
    load_tile(base, 0, (const u16*)table[0], width, kvh, imin(BLOCK_TOKENS, last_pos + 1));
    for (int kt = 0; kt < ntiles; kt++) {
        int stage = kt & 1;
        if (kt + 1 < ntiles)
            load_tile(base, stage ^ 1, (const u16*)table[kt + 1], width, kvh, imin(BLOCK_TOKENS, last_pos + 1 - (kt + 1) * BLOCK_TOKENS));
        else
            asm volatile("cp.async.commit_group;");
        asm volatile("cp.async.wait_group 1;");
        __syncthreads();

        // scores of 64 keys: n-tile j holds keys 8j .. 8j + 7
        float s[8][4];
#pragma unroll
        for (int j = 0; j < 8; j++) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
        for (int ks = 0; ks < KS; ks++) {
#pragma unroll
            for (int np = 0; np < 4; np++) {
                int key = np * 16 + (lane & 7) + ((lane >> 4) << 3), chunk = ks * 2 + ((lane >> 3) & 1);
                u32 b0, b1, b2, b3;
                ldmatrix_x4(tile_at(base, stage, 0, key, chunk), b0, b1, b2, b3);
                mma_bf16(s[2 * np], qh[ks][0], qh[ks][1], qh[ks][2], qh[ks][3], b0, b1);
                mma_bf16(s[2 * np + 1], qh[ks][0], qh[ks][1], qh[ks][2], qh[ks][3], b2, b3);
                mma_bf16(s[2 * np], ql[ks][0], ql[ks][1], ql[ks][2], ql[ks][3], b0, b1);
                mma_bf16(s[2 * np + 1], ql[ks][0], ql[ks][1], ql[ks][2], ql[ks][3], b2, b3);
            }
        }
        // causal mask, running max and sum (rows a: s[.][0..1], b: s[.][2..3]; a row's 4 lanes share it)
        int kp0 = kt * BLOCK_TOKENS;
        float mx_a = -INFINITY, mx_b = -INFINITY;
#pragma unroll
        for (int j = 0; j < 8; j++) {
#pragma unroll
            for (int i = 0; i < 4; i++) {
                int key = kp0 + 8 * j + 2 * t + (i & 1);
                bool masked = key > (i < 2 ? pos_a : pos_b);
                if (masked) s[j][i] = -INFINITY;
            }
            mx_a = fmaxf(mx_a, fmaxf(s[j][0], s[j][1]));
            mx_b = fmaxf(mx_b, fmaxf(s[j][2], s[j][3]));
        }
#pragma unroll
        for (int off = 1; off <= 2; off <<= 1) {
            mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, off));
            mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, off));
        }
        float mn_a = fmaxf(m_a, mx_a), mn_b = fmaxf(m_b, mx_b);
        float use_a = mn_a == -INFINITY ? 0.0f : mn_a, use_b = mn_b == -INFINITY ? 0.0f : mn_b;
        float alpha_a = exp2f(m_a - use_a), alpha_b = exp2f(m_b - use_b);
        m_a = mn_a;
        m_b = mn_b;
        float sum_a = 0.0f, sum_b = 0.0f;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            s[j][0] = exp2f(s[j][0] - use_a);
            s[j][1] = exp2f(s[j][1] - use_a);
            s[j][2] = exp2f(s[j][2] - use_b);
            s[j][3] = exp2f(s[j][3] - use_b);
            sum_a += s[j][0] + s[j][1];
            sum_b += s[j][2] + s[j][3];
        }
        l_a = l_a * alpha_a + sum_a;  // this lane's part; the row's 4 lanes are summed at the end
        l_b = l_b * alpha_b + sum_b;
#pragma unroll
        for (int n = 0; n < HEAD_DIM / 8; n++) {
            o[n][0] *= alpha_a;
            o[n][1] *= alpha_a;
            o[n][2] *= alpha_b;
            o[n][3] *= alpha_b;
        }
        // o += p · v, 16 keys a k-step: p's accumulator layout is the next mma's A layout
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            u32 ph[4], pl[4];
            split_pair(s[2 * kk][0], s[2 * kk][1], ph[0], pl[0]);
            split_pair(s[2 * kk][2], s[2 * kk][3], ph[1], pl[1]);
            split_pair(s[2 * kk + 1][0], s[2 * kk + 1][1], ph[2], pl[2]);
            split_pair(s[2 * kk + 1][2], s[2 * kk + 1][3], ph[3], pl[3]);
#pragma unroll
            for (int dp = 0; dp < HEAD_DIM / 16; dp++) {
                int mat = lane >> 3;
                int key = kk * 16 + (lane & 7) + ((mat & 1) << 3), chunk = dp * 2 + (mat >> 1);
                u32 b0, b1, b2, b3;
                ldmatrix_x4_trans(tile_at(base, stage, 1, key, chunk), b0, b1, b2, b3);
                mma_bf16(o[2 * dp], ph[0], ph[1], ph[2], ph[3], b0, b1);
                mma_bf16(o[2 * dp + 1], ph[0], ph[1], ph[2], ph[3], b2, b3);
                mma_bf16(o[2 * dp], pl[0], pl[1], pl[2], pl[3], b0, b1);
                mma_bf16(o[2 * dp + 1], pl[0], pl[1], pl[2], pl[3], b2, b3);
            }
        }
        __syncthreads();  // the stage is reloaded two tiles on
    }
#pragma unroll
    for (int off = 1; off <= 2; off <<= 1) {
        l_a += __shfl_xor_sync(0xffffffffu, l_a, off);
        l_b += __shfl_xor_sync(0xffffffffu, l_b, off);
    }
    float inv_a = 1.0f / l_a, inv_b = 1.0f / l_b;
#pragma unroll
    for (int n = 0; n < HEAD_DIM / 8; n++) {
        int d = head * HEAD_DIM + n * 8 + 2 * t;
        if (ra < rows) {
            out[(long long)(first + ra) * ldo + d] = o[n][0] * inv_a;
            out[(long long)(first + ra) * ldo + d + 1] = o[n][1] * inv_a;
        }
        if (rb < rows) {
            out[(long long)(first + rb) * ldo + d] = o[n][2] * inv_b;
            out[(long long)(first + rb) * ldo + d + 1] = o[n][3] * inv_b;
        }
    }
}
#endif
