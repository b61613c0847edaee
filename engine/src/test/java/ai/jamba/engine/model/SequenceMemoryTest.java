package ai.jamba.engine.model;

import ai.jamba.engine.checkpoint.JambaConfig;
import ai.jamba.kernels.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What one sequence's state costs for Jamba-1.5-Mini (the numbers in README's "Serving" section): its Mamba state is
 * fixed, its K/V grows 8× slower than a Transformer's of the same width and depth.
 */
class SequenceMemoryTest {
    /** ai21labs/AI21-Jamba-1.5-Mini's config.json. */
    static final JambaConfig MINI = new JambaConfig(65536, 4096, 14336, 32, 32, 8, 1e-6f, 16, 2, 2, 1, 8, 4, 16, 4, 2, 256,
            true, false, false, 1, List.of(2), 0, 262144);

    @Test
    void jamba15MiniKeepsSeventeenMegabytesOfMambaStateAndThirtyTwoKilobytesOfKvPerToken() {
        try (CpuBackend backend = new CpuBackend(1)) {
            StatePool pool = new StatePool(MINI, backend, StatePool.Sizing.UNBOUNDED); // slots come on first use: nothing is allocated here
            int mambaLayers = 28, attentionLayers = 4, dInner = 8192;
            assertEquals(mambaLayers * 4L * dInner * (3 + 16), pool.mambaBytesPerSequence()); // conv (d_conv - 1) + SSM (d_state)
            assertEquals(17_432_576L, pool.mambaBytesPerSequence());
            assertEquals(32_768L, pool.kvBytesPerToken()); // float32 K and V, 8 KV heads of 128, 4 attention layers
            long transformerKvPerToken = 32 * 2 * 4L * 8 * 128; // every one of 32 layers attending, same heads
            assertEquals(8, transformerKvPerToken / pool.kvBytesPerToken());

            // with K/V kept in bf16 (the paper's setting): 16 KiB a token, 4 GiB at 256K tokens (Table 1)
            StatePool bf16 = new StatePool(MINI, backend, new StatePool.Sizing(0, 0, ai.jamba.kernels.DType.BF16));
            assertEquals(16_384L, bf16.kvBytesPerToken());
            assertEquals(4L << 30, bf16.kvBytesPerToken() * 262_144);
        }
    }
}
