package ai.jamba.kernels.cpu;

/**
 * The dense SiLU-gated MLP, out = down(silu(gate · x) ⊙ (up · x)). Gate and up share one pass over the pool:
 * each thread computes its slice of both products and gates it while the slice is still in cache, so the
 * step has two parallel regions instead of four.
 */
final class Mlp {
    private Mlp() {}

    static void run(Parallel pool, Scratch scratch, CpuMat x, CpuWeight gate, CpuWeight up, CpuWeight down, CpuMat out) {
        int t = x.rows, inter = gate.rows;
        if (up.rows != inter || up.cols != gate.cols || down.cols != inter)
            throw new IllegalArgumentException("MLP shapes disagree: gate " + gate.rows + " x " + gate.cols + ", up " + up.rows
                    + " x " + up.cols + ", down " + down.rows + " x " + down.cols);
        if (up.dtype != gate.dtype) throw new IllegalArgumentException("MLP gate is " + gate.dtype + " but up is " + up.dtype);
        CpuMat g = scratch.mat(Scratch.Use.MLP_GATE, t, inter), u = scratch.mat(Scratch.Use.MLP_UP, t, inter);
        MatMul.check(x, gate, g);
        CpuMat packed = MatMul.pack(scratch, x, gate);
        int units = (inter + MatMul.UNIT - 1) / MatMul.UNIT;
        pool.forRange(units, 2L * MatMul.UNIT * x.cols * t, (c0, c1) -> {
            int n0 = c0 * MatMul.UNIT, n1 = Math.min(inter, c1 * MatMul.UNIT);
            MatMul.rows(x, packed, gate, null, g, n0, n1);
            MatMul.rows(x, packed, up, null, u, n0, n1);
            for (int r = 0; r < t; r++) Simd.siluMul(g.data, g.at(r), u.data, u.at(r), g.data, g.at(r), n0, n1);
        });
        MatMul.run(pool, scratch, g, down, null, out);
    }
}
