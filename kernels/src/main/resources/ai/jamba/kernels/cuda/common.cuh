// Shared by every kernel source. Self-contained on purpose: NVRTC compiles these at start-up without the CUDA
// toolkit's headers, so bf16/f16 are handled as raw bits and integer types are spelled out.
#pragma once

typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int imax(int a, int b) { return a > b ? a : b; }

// Weight element types, as the host names them (DType ordinal order is irrelevant: these are our own codes).
#define DT_F32 0
#define DT_BF16 1
#define DT_F16 2
// int8 with a float scale per output row (ExpertsInt8); only the tensor-core products and the expert kernels read it.
#define DT_I8 3

__device__ __forceinline__ float bf16_to_f32(u16 h) { return __uint_as_float(((u32)h) << 16); }

__device__ __forceinline__ float f16_to_f32(u16 h) {
    float f;
    asm("{ .reg .f16 t; mov.b16 t, %1; cvt.f32.f16 %0, t; }" : "=f"(f) : "h"(h));
    return f;
}

// Round-to-nearest-even float -> bf16 bits (finite inputs; NaN stays NaN).
__device__ __forceinline__ u16 f32_to_bf16(float f) {
    u32 u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u16)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (u16)(u >> 16);
}

// Two floats as one word of bf16 pairs: a in the low half (the lower k), b in the high half.
__device__ __forceinline__ u32 bf16x2_rn(float a, float b) {
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(b), "f"(a));
    return r;
}

// float32 activations meet bf16 weights on the tensor cores as x = hi + lo, both bf16 (16 significant bits of x;
// the rest, below 2^-17 |x|, is dropped). Every product path (split_bf16 before cuBLAS, the mma kernels) splits
// with this one definition, so they differ only in the order they add the same products.
__device__ __forceinline__ void split_pair(float a, float b, u32& hi, u32& lo) {
    hi = bf16x2_rn(a, b);
    lo = bf16x2_rn(a - __uint_as_float(hi << 16), b - __uint_as_float(hi & 0xffff0000u));
}

// Element i of a weight of type dt, widened to float.
__device__ __forceinline__ float load_weight(const void* w, long long i, int dt) {
    if (dt == DT_BF16) return bf16_to_f32(((const u16*)w)[i]);
    if (dt == DT_F16) return f16_to_f32(((const u16*)w)[i]);
    return ((const float*)w)[i];
}

__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }

// torch.nn.functional.softplus with its default threshold: x > 20 passes through.
__device__ __forceinline__ float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `scratch` holds 32 floats of shared memory; the call ends with the block synchronised.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(t);
}

// Programmatic dependent launch (Hopper): a kernel launched "early" may start while the kernel before it on the
// stream still runs. pdl_trigger lets the next kernel's blocks start (they still wait before reading our output);
// pdl_wait, in an early kernel, waits until the kernel before it has finished and its writes are visible. Both are
// no-ops for kernels launched plainly, and compile to nothing before sm_90.
__device__ __forceinline__ void pdl_trigger() {
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_wait() {
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Which rows of a step belong to which sequence (ai.jamba.kernels.Batch, on the device):
// sequence i owns rows [seq_start[i], seq_start[i] + seq_count[i]) and state slot seq_slot[i];
// row_seq[r] is the sequence of row r.
struct BatchDesc {
    const int* seq_slot;
    const int* seq_start;
    const int* seq_count;
    const int* row_seq;
};
