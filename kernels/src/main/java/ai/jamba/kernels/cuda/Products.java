package ai.jamba.kernels.cuda;

import ai.jamba.kernels.DType;

/**
 * How a weight product out[T, N] = x[T, K] · w[N, K]ᵀ runs, by the weight's dtype and the number of token rows.
 *
 * <ul>
 * <li>bf16 and int8 weights, up to {@link #MMA_ROWS} rows (decode, short chunks, routed experts): mma.cu, tensor
 *     cores reading each weight once; a row's result does not depend on the other rows.</li>
 * <li>bf16 and int8 weights, more rows (prefill): cuBLAS, x split the same way (hi + lo), int8 weights first
 *     widened to their bf16 integer values in a scratch and the row scales applied to the product. Same products,
 *     another order of adding them.</li>
 * <li>f32 weights: gemv.cu up to {@link #SKINNY_ROWS} rows, cuBLAS SGEMM beyond (no TF32). f16 weights: gemv.cu
 *     in tiles of {@link #SKINNY_ROWS} rows (activations do not fit f16's range, so no tensor-core split).</li>
 * </ul>
 *
 * Experts routed on the device run their lists through the same mma kernels ({@link Lists}). The mma kernels are
 * launched early ({@link Device#launch(KernelCompiler.Kernel, int, int, int, int, int, KernelArgs, boolean)}): their
 * weights start streaming while the kernel before them finishes.
 */
final class Products {
    /** Token rows up to which bf16 and int8 products run on mma.cu. */
    static final int MMA_ROWS = 64;
    /** Token rows per pass of gemv.cu (SKINNY_ROWS there). */
    static final int SKINNY_ROWS = 8;
    /** gemv.cu KCHUNK: columns of x staged per pass. */
    private static final int KCHUNK = 1024;
    /**
     * mma.cu: warps per block, most k-slices, and the most warps slicing may make: about what the GPU runs at once
     * (132 SMs x 16 warps on an H100), so a product is one wave in which every warp streams its own weights.
     */
    private static final int MMA_WARPS = 8, MMA_MAX_SLICES = 8, MMA_TARGET_WARPS = 2048;
    /**
     * mma.cu k-blocks: a plain product of fewer blocks than this (x_proj: 18 on 132 SMs) spreads K over more,
     * while each warp keeps at least {@link #MMA_MIN_CHUNKS} chunks of 32 (one batch of loads in flight).
     */
    private static final int MMA_FEW_BLOCKS = 128, MMA_MIN_CHUNKS = 4;
    /**
     * Bytes of the k-block scratch: 256 arrival counts, then partial sums [KB][rows][N]. KB · blocks stays below
     * 2 · MMA_FEW_BLOCKS and a block holds at most MMA_WARPS · 16 features, so KB · N ≤ 256 · 128.
     */
    static final long K_BLOCK_SCRATCH_BYTES = 4L * 256 + 4L * MMA_ROWS * 2 * MMA_FEW_BLOCKS * MMA_WARPS * 16;

    /**
     * Per-expert token lists on the device (moe.cu): count[e] entries at offset[e]; the x row of entry i is
     * token[i]; each token in {@code topK} lists; active[i] the i-th expert with tokens (-1 past the last).
     */
    record Lists(long count, long offset, long token, long active, int experts, int topK) {
        /** Grid rows of an expert kernel over T tokens: one per expert that can have been chosen. */
        int gridRows(int T) {
            return Math.min(experts, T * topK);
        }
    }

    private final Device device;
    /** The k-block scratch (zeroed, K_BLOCK_SCRATCH_BYTES): arrival counts (back to zero after each launch), partials. */
    private final long arrive, kpart;

    Products(Device device, long kBlockScratch) {
        this.device = device;
        this.arrive = kBlockScratch;
        this.kpart = kBlockScratch + 4L * 256;
    }

    private KernelCompiler.Kernel kernel(String source, String function) {
        return device.compiler.kernel(source, function);
    }

    /** out[T, N] (row stride ldo) = x[T, K] (row stride ldx) · wᵀ (+ bias). */
    void product(long x, int ldx, int T, CudaWeight w, CudaWeight bias, long out, int ldo) {
        if (T == 0) return;
        switch (w.dtype()) {
            case BF16, I8 -> {
                if (T <= MMA_ROWS) mma(x, ldx, 0, T, w, bias, null, out, ldo);
                else cublas(x, ldx, T, w, bias, out, ldo);
            }
            case F32 -> {
                if (T <= SKINNY_ROWS) gemv(x, ldx, T, w, bias, out, ldo);
                else sgemm(x, ldx, T, w, bias, out, ldo);
            }
            case F16 -> {
                for (int t0 = 0; t0 < T; t0 += SKINNY_ROWS)
                    gemv(x + 4L * t0 * ldx, ldx, Math.min(SKINNY_ROWS, T - t0), w, bias, out + 4L * t0 * ldo, ldo);
            }
        }
    }

    /**
     * h[T, I] = silu(x · gateᵀ) ⊙ (x · upᵀ), the first half of a SiLU-gated MLP, in one pass over the two weights
     * where a kernel does it, else as two products and silu_mul. With {@code lists} (experts routed on the device),
     * x rows come through the lists' tokens and h rows are list entries; T bounds any expert's count.
     */
    void gateUp(long x, int ldx, int T, CudaWeight gate, CudaWeight up, Lists lists, long h, int ldh) {
        int I = gate.rows(), K = gate.cols();
        boolean tensor = gate.dtype() == DType.BF16 || gate.dtype() == DType.I8;
        if (tensor && T <= MMA_ROWS && up.dtype() == gate.dtype()) {
            // a warp per (weight, slice) of 16 features: as many warps as a product of 2·I features
            int nt = tiles(T), s = Math.min(slices(2 * I, K, lists), MMA_MAX_SLICES / 2);
            if (device.timing()) device.labelNext(I + "x" + K);
            device.launch(kernel("mma.cu", "gate_up_" + tag(gate.dtype()) + "_" + nt), Device.blocks(Device.blocks(I, 16), MMA_WARPS / (2 * s)),
                    lists == null ? 1 : lists.gridRows(T), 1, 32 * MMA_WARPS, partBytes(nt),
                    device.args().ptr(x).i32(ldx).ptr(lists == null ? 0 : lists.token).i32(T).ptr(gate.ptr()).ptr(gate.scales())
                            .ptr(up.ptr()).ptr(up.scales()).ptr(lists == null ? 0 : lists.count).ptr(lists == null ? 0 : lists.offset)
                            .ptr(lists == null ? 0 : lists.active).i32(I).i32(K).i32(s).ptr(h).i32(ldh).i32(wvec(gate) & wvec(up))
                            .i32(xvec(x, ldx, K)), true);
            return;
        }
        if (lists != null) throw new IllegalStateException("experts of " + gate.dtype() + " are routed by the gemv.cu expert kernels");
        if (!tensor && T <= SKINNY_ROWS && up.dtype() == gate.dtype()) {
            device.launch(kernel("gemv.cu", "gemv_gate_up"), Device.blocks(I, 8), 1, 1, 256, 4 * T * KCHUNK,
                    device.args().ptr(x).i32(ldx).ptr(gate.ptr()).ptr(up.ptr()).i32(gate.code()).ptr(h).i32(ldh)
                            .i32(T).i32(I).i32(K).i32(vec(gate.ptr(), gate.dtype(), K) & vec(up.ptr(), up.dtype(), K)));
            return;
        }
        long hu = device.scratch("up activations", 4L * T * I);
        product(x, ldx, T, gate, null, h, ldh);
        product(x, ldx, T, up, null, hu, I);
        siluMul(h, ldh, hu, I, T, I);
    }

    /** y[entry] = down_e · h[entry] for every entry of each expert's list (h and y rows are list entries). */
    void expertDown(long h, int ldh, int T, CudaWeight down, Lists lists, long y, int ldy) {
        mma(h, ldh, 0, T, down, null, lists, y, ldy);
    }

    /**
     * A MoE router's logits [T, E] and the routing of its T ≤ {@link #MMA_ROWS} tokens into {@code lists} (moe.cuh), in
     * one launch where the router's features fit one block (K spread over the k-blocks {@link #product} gives it, so
     * the logits are its bits); false, with nothing launched, where they do not.
     */
    boolean routeInOneLaunch(long x, int ldx, int T, CudaWeight router, long logits, long sel, long prob, Lists lists, long slot) {
        int E = router.rows(), K = router.cols(), s = slices(E, K, null), kb = kBlocks(E, K, s);
        if (router.dtype() != DType.BF16 || T > MMA_ROWS || Device.blocks(Device.blocks(E, 16), MMA_WARPS / s) != 1) return false;
        device.launch(kernel("mma.cu", "router_bf16_" + tiles(T)), 1, 1, kb, 32 * MMA_WARPS, s > 1 || kb > 1 ? partBytes(tiles(T)) : 0,
                device.args().ptr(x).i32(ldx).i32(T).ptr(router.ptr()).i32(E).i32(K).i32(s).i32(kb).ptr(kpart).ptr(arrive)
                        .ptr(logits).i32(lists.topK)
                        .ptr(sel).ptr(prob).ptr(lists.count).ptr(lists.offset).ptr(lists.token).ptr(slot).ptr(lists.active)
                        .i32(wvec(router)).i32(xvec(x, ldx, K)), true);
        return true;
    }

    void siluMul(long g, int ldg, long u, int ldu, int T, int cols) {
        device.launch(kernel("elementwise.cu", "silu_mul"), Device.blocks(cols, 256), T, 1, 256, 0,
                device.args().ptr(g).i32(ldg).ptr(u).i32(ldu).i32(cols));
    }

    // ---- the paths ----------------------------------------------------------------------------------------------

    /**
     * k-slices of a product on mma.cu: a function of the weight's shape (and whether it is an expert's) only, never of
     * the rows, so a row's chains and their sum are the same in every batch. Products with few output features
     * split K while that keeps them within {@link #MMA_TARGET_WARPS} warps (more warps, more weight bytes in
     * flight), each slice at least 16 chunks of 32. Experts routed on the device share that budget among the
     * top-k experts a token runs.
     */
    static int slices(int N, int K, Lists lists) {
        int target = lists == null ? MMA_TARGET_WARPS : MMA_TARGET_WARPS / Math.max(1, lists.topK());
        int groups = (N + 15) / 16, chunks = (K + 31) / 32, s = 1;
        while (s < MMA_MAX_SLICES && (long) groups * s * 2 <= target && chunks >= 32 * s) s *= 2;
        return s;
    }

    /**
     * k-blocks of a plain product on mma.cu (blockIdx.z): 1, or more where its groups would leave most SMs idle. A
     * function of the weight's shape only, as the slices are, so a row's sum is the same in every batch.
     */
    static int kBlocks(int N, int K, int s) {
        int blocks = Device.blocks(Device.blocks(N, 16), MMA_WARPS / s), chunks = (K + 31) / 32, kb = 1;
        while (blocks * kb < MMA_FEW_BLOCKS && chunks >= MMA_MIN_CHUNKS * s * kb * 2) kb *= 2;
        return kb;
    }

    /** Shared memory where a block's warps meet (mma.cu `part`): every warp's chains. */
    private static int partBytes(int nt) {
        return MMA_WARPS * 16 * nt * 8 * 4;
    }

    /** n-tiles of 8 rows for T rows: 1, 2, 4 or 8. */
    private static int tiles(int T) {
        int n = (T + 7) / 8;
        return n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8;
    }

    private static String tag(DType dt) {
        return dt == DType.I8 ? "i8" : "bf16";
    }

    private void mma(long x, int ldx, long xrows, int T, CudaWeight w, CudaWeight bias, Lists lists, long out, int ldo) {
        int N = w.rows(), K = w.cols(), s = slices(N, K, lists), nt = tiles(T), kb = lists == null ? kBlocks(N, K, s) : 1;
        int blocks = Device.blocks(Device.blocks(N, 16), MMA_WARPS / s);
        if (device.timing()) device.labelNext(N + "x" + K);
        device.launch(kernel("mma.cu", "mma_" + tag(w.dtype()) + "_" + nt), blocks, lists == null ? 1 : lists.gridRows(T), kb,
                32 * MMA_WARPS, s > 1 || kb > 1 ? partBytes(nt) : 0,
                device.args().ptr(x).i32(ldx).ptr(xrows).i32(T).ptr(w.ptr()).ptr(w.scales())
                        .ptr(lists == null ? 0 : lists.count).ptr(lists == null ? 0 : lists.offset).ptr(lists == null ? 0 : lists.active)
                        .i32(N).i32(K).i32(s).i32(kb).ptr(kpart).ptr(arrive)
                        .ptr(bias == null ? 0 : bias.ptr()).i32(bias == null ? 0 : bias.code()).ptr(out).i32(ldo)
                        .i32(wvec(w)).i32(xvec(x, ldx, K)), true);
    }

    /** Prefill with bf16 or int8 weights: W·hi + W·lo through cuBLAS in float32 accumulation. */
    private void cublas(long x, int ldx, int T, CudaWeight w, CudaWeight bias, long out, int ldo) {
        int N = w.rows(), K = w.cols();
        long wb = w.ptr();
        boolean int8 = w.dtype() == DType.I8;
        if (int8) {
            if (bias != null) throw new IllegalArgumentException(w.name() + ": int8 weights come without a bias");
            long n = (long) N * K;
            wb = device.scratch("int8 weight as bf16", 2 * n);
            device.launch(kernel("elementwise.cu", "dequantize_i8"), (int) Math.min(Device.blocks(n, 256), 65535), 1, 1, 256, 0,
                    device.args().ptr(w.ptr()).ptr(wb).i64(n));
        }
        boolean accumulate = bias != null;
        if (accumulate) fillRows(out, ldo, T, bias, N);
        long split = device.scratch("bf16 split activations", 2L * 2 * T * K);
        device.launch(kernel("elementwise.cu", "split_bf16"), Device.blocks(K, 256), T, 1, 256, 0,
                device.args().ptr(x).i32(ldx).ptr(0).ptr(split).i32(T).i32(K));
        device.gemm(T, N, K, wb, Cublas.CUDA_R_16BF, split, Cublas.CUDA_R_16BF, K, out, ldo, accumulate);
        device.gemm(T, N, K, wb, Cublas.CUDA_R_16BF, split + 2L * T * K, Cublas.CUDA_R_16BF, K, out, ldo, true);
        if (int8)
            device.launch(kernel("elementwise.cu", "scale_cols"), Device.blocks(N, 256), T, 1, 256, 0,
                    device.args().ptr(out).i32(ldo).ptr(w.scales()).i32(N));
    }

    private void sgemm(long x, int ldx, int T, CudaWeight w, CudaWeight bias, long out, int ldo) {
        boolean accumulate = bias != null;
        if (accumulate) fillRows(out, ldo, T, bias, w.rows());
        device.gemm(T, w.rows(), w.cols(), w.ptr(), Cublas.CUDA_R_32F, x, Cublas.CUDA_R_32F, ldx, out, ldo, accumulate);
    }

    private void fillRows(long out, int ldo, int T, CudaWeight bias, int N) {
        device.launch(kernel("elementwise.cu", "fill_rows"), Device.blocks(N, 256), T, 1, 256, 0,
                device.args().ptr(out).i32(ldo).ptr(bias.ptr()).i32(bias.code()).i32(N));
    }

    private void gemv(long x, int ldx, int T, CudaWeight w, CudaWeight bias, long out, int ldo) {
        int N = w.rows(), K = w.cols();
        device.launch(kernel("gemv.cu", "gemv"), Device.blocks(N, 8), 1, 1, 256, 4 * T * KCHUNK,
                device.args().ptr(x).i32(ldx).ptr(w.ptr()).i32(w.code()).ptr(bias == null ? 0 : bias.ptr())
                        .i32(bias == null ? 0 : bias.code()).ptr(out).i32(ldo).i32(T).i32(N).i32(K).i32(vec(w.ptr(), w.dtype(), K)));
    }

    /** gemv.cu: 1 when every weight row starts 16-byte aligned, so the kernels read 16 bytes a lane. */
    static int vec(long w, DType dt, int K) {
        return (w % 16 == 0 && ((long) K * dt.bytes) % 16 == 0) ? 1 : 0;
    }

    /** mma.cu: 1 when every row's 8 weights at a time are one aligned load (16 bytes of bf16, 8 of int8). */
    private static int wvec(CudaWeight w) {
        int align = w.dtype() == DType.I8 ? 8 : 16;
        return w.ptr() % align == 0 && w.cols() % 8 == 0 ? 1 : 0;
    }

    /** mma.cu: 1 when x's rows are read 8 floats at a time, two aligned float4 loads. */
    private static int xvec(long x, int ldx, int K) {
        return x % 16 == 0 && ldx % 4 == 0 && K % 8 == 0 ? 1 : 0;
    }
}
