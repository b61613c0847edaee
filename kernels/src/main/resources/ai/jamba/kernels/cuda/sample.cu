// Next-token choice on the device, so only token ids cross to the host: one block of 1024 threads per row of
// logits. Computes what ai.jamba.kernels.Sampler computes on the host (its reference): candidates ordered by
// probability (ties by index), cut to top-k, then to the smallest prefix whose mass reaches top-p, and one
// drawn with the caller's uniform. Instead of sorting the vocabulary, the cut and the draw are found by
// bisection over the probability values (their bit patterns, which order like the values) and then over the
// indices of tied candidates: a few dozen passes over the row, each a block reduction.
#include "common.cuh"

#define THREADS 1024

__device__ __forceinline__ double block_sum_d(double v, double* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    double t = lane < (int)(blockDim.x >> 5) ? scratch[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) t += __shfl_xor_sync(0xffffffffu, t, o);
    return t;
}

// Argmax of one row; the lowest index wins a tie, as torch.argmax does.
__device__ int row_argmax(const float* l, int n) {
    __shared__ float s_v[32];
    __shared__ int s_i[32];
    float best = -INFINITY;
    int at = n;
    for (int i = threadIdx.x; i < n; i += blockDim.x)  // indices rise, so a tie keeps the earlier one
        if (at == n || l[i] > best) {
            best = l[i];
            at = i;
        }
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, best, o);
        int oi = __shfl_xor_sync(0xffffffffu, at, o);
        if (oi < n && (at == n || ov > best || (ov == best && oi < at))) {
            best = ov;
            at = oi;
        }
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) {
        s_v[warp] = best;
        s_i[warp] = at;
    }
    __syncthreads();
    if (warp == 0) {
        best = lane < (int)(blockDim.x >> 5) ? s_v[lane] : -INFINITY;
        at = lane < (int)(blockDim.x >> 5) ? s_i[lane] : n;
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, best, o);
            int oi = __shfl_xor_sync(0xffffffffu, at, o);
            if (oi < n && (at == n || ov > best || (ov == best && oi < at))) {
                best = ov;
                at = oi;
            }
        }
        if (lane == 0) s_i[0] = at;
    }
    __syncthreads();
    return s_i[0];
}

// ids[row] = argmax(logits[row]). grid (rows), block THREADS.
extern "C" __global__ void __launch_bounds__(THREADS) argmax_rows(const float* logits, int ldl, int n, int* ids) {
    int id = row_argmax(logits + (long long)blockIdx.x * ldl, n);
    if (threadIdx.x == 0) ids[blockIdx.x] = id;
}

// Mass (Σ p) and count of the candidates i with p[i] >= v, or p[i] > v when `strict`; with `kept_v` >= 0 only
// candidates inside the kept set (p > kept_v, or p == kept_v with index <= kept_idx).
struct Tally {
    double mass;
    double count;
};

__device__ Tally tally(const double* p, int n, double v, bool strict, double kept_v, int kept_idx, double* scratch) {
    double mass = 0.0, count = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        double x = p[i];
        bool in = strict ? x > v : x >= v;
        if (kept_v >= 0.0) in = in && (x > kept_v || (x == kept_v && i <= kept_idx));
        if (in) {
            mass += x;
            count += 1.0;
        }
    }
    Tally t;
    t.mass = block_sum_d(mass, scratch);
    t.count = block_sum_d(count, scratch);
    return t;
}

// The index of the (r+1)-th smallest i with p[i] == v (and i <= limit), by bisection over indices.
__device__ int nth_tied(const double* p, int n, double v, int r, int limit, double* scratch) {
    int lo = -1, hi = imin(n - 1, limit);  // invariant: fewer than r+1 ties in [0, lo], at least r+1 in [0, hi]
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        double c = 0.0;
        for (int i = threadIdx.x; i <= mid; i += blockDim.x) c += p[i] == v ? 1.0 : 0.0;
        c = block_sum_d(c, scratch);
        if (c >= r + 1) hi = mid;
        else lo = mid;
    }
    return hi;
}

// Largest bit pattern b (a probability value) with pred(tally of p >= b) true; pred(0) must hold.
template <typename Pred>
__device__ double bisect_value(const double* p, int n, double top, double kept_v, int kept_idx, double* scratch, Pred pred) {
    long long lo = 0, hi = __double_as_longlong(top) + 1;  // pred(lo) holds, pred(hi) does not
    while (hi - lo > 1) {
        long long mid = lo + (hi - lo) / 2;
        if (pred(tally(p, n, __longlong_as_double(mid), false, kept_v, kept_idx, scratch))) lo = mid;
        else hi = mid;
    }
    return __longlong_as_double(lo);
}

// ids[row] for rows with their own temperature (0 = greedy), top_k (0 = all), top_p and uniform draw.
// p: scratch of rows * n doubles. grid (rows), block THREADS.
extern "C" __global__ void __launch_bounds__(THREADS)
sample_rows(const float* logits, int ldl, int n, const float* temperature, const int* top_k, const float* top_p,
            const double* uniform, double* p_all, int* ids) {
    __shared__ double scratch[32];
    __shared__ int s_pick;
    int row = blockIdx.x;
    const float* l = logits + (long long)row * ldl;
    float temp = temperature[row];
    if (temp == 0.0f) {
        int id = row_argmax(l, n);
        if (threadIdx.x == 0) ids[row] = id;
        return;
    }
    double* p = p_all + (long long)row * n;
    __shared__ float s_max[32];
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, l[i]);
    mx = warp_max(mx);
    if ((threadIdx.x & 31) == 0) s_max[threadIdx.x >> 5] = mx;
    __syncthreads();
    mx = -INFINITY;
    for (int w = 0; w < (int)(blockDim.x >> 5); w++) mx = fmaxf(mx, s_max[w]);
    double local = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float arg = (l[i] - mx) / temp;  // in float, as the host reference does
        p[i] = exp((double)arg);
        local += p[i];
    }
    double sum = block_sum_d(local, scratch);  // also orders the writes of p before every read below
    int keep = top_k[row] > 0 ? imin(top_k[row], n) : n;
    double want = (double)top_p[row];

    // the cut: v* is the probability of the last kept candidate
    double v_cut = bisect_value(p, n, 1.0, -1.0, 0, scratch, [&](Tally t) {
        return t.count >= keep || t.mass / sum >= want;
    });
    Tally above = tally(p, n, v_cut, true, -1.0, 0, scratch);
    Tally at_cut = tally(p, n, v_cut, false, -1.0, 0, scratch);
    double ties = at_cut.count - above.count;
    // how many of the tied candidates (by index) the cut takes: the first r where count or mass is reached
    double r = fmin(ties, fmax(1.0, (double)keep - above.count));
    double q = v_cut / sum;
    if (above.mass / sum + q >= want) r = 1.0;
    else if (q > 0.0) r = fmin(r, fmax(1.0, ceil((want - above.mass / sum) / q)));
    int cut_idx = nth_tied(p, n, v_cut, (int)r - 1, n - 1, scratch);
    Tally kept = tally(p, n, 0.0, false, v_cut, cut_idx, scratch);

    // the draw: the first candidate in order whose running mass exceeds target
    double target = uniform[row] * kept.mass;
    int pick;
    if (!(kept.mass > target)) {
        pick = cut_idx;  // rounding left the target at the very end: the host reference takes the last kept
    } else {
        double w = bisect_value(p, n, 1.0, v_cut, cut_idx, scratch, [&](Tally t) { return t.mass > target; });
        Tally over = tally(p, n, w, true, v_cut, cut_idx, scratch);
        Tally at_w = tally(p, n, w, false, v_cut, cut_idx, scratch);
        double tied = at_w.count - over.count;
        double j = w > 0.0 ? floor((target - over.mass) / w) : 0.0;
        j = fmin(fmax(j, 0.0), tied - 1.0);
        pick = nth_tied(p, n, w, (int)j, w == v_cut ? cut_idx : n - 1, scratch);
    }
    if (threadIdx.x == 0) s_pick = pick;
    __syncthreads();
    if (threadIdx.x == 0) ids[row] = s_pick;
}
