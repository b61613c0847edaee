package ai.jamba.kernels.cpu;

import ai.jamba.kernels.DType;
import ai.jamba.kernels.HostTensor;
import ai.jamba.kernels.Weight;

import jdk.incubator.vector.IntVector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * A weight on the CPU: the checkpoint's bytes (never widened to float32), or int8 values with a float scale per row.
 *
 * <p>bf16 matrices of at least one {@link Simd#BLOCK} of columns are stored <em>blocked</em> for the matrix product
 * ({@link MatMul}). Columns are cut in chunks of {@link #CHUNK} (the last may be shorter); chunk by chunk, rows come
 * in units of {@link #UNIT}, and within a unit, for each block of the chunk's columns, the unit's rows' blocks one
 * after another ({@code UNIT} x 2·BLOCK bytes); the columns past the last whole block follow, row by row. So a
 * thread's rows are one sequential stream per chunk, which a core reads faster than eight interleaved rows, while
 * the chunk of x it meets stays in L1 (bench/README.md, CPU). The last unit is padded with zero rows.
 */
final class CpuWeight implements Weight {
    /** Rows per unit of the blocked layout: the rows one pass of the batch-1 product accumulates together. */
    static final int UNIT = 8;
    /**
     * Columns per chunk of the blocked layout (a multiple of every {@link Simd#BLOCK}): a decode step's product runs
     * the chunk's 4 KB of x past all of a thread's rows before the next chunk. A whole row of x (10-32 KB) left L1
     * between two uses, and its reloads cost a quarter of a core's streaming speed; 512-column chunks were slower.
     */
    static final int CHUNK = 1024;

    final String name;
    final DType dtype;
    final int rows, cols;
    final MemorySegment data;
    /** Whether the matrix product takes its tiles ({@link #data} blocked, or packed). */
    final boolean blocked;
    /** The 12-bit lossless packing of a bf16 matrix ({@link #data} is its records), or null. */
    final PackedBf16 packed;
    /** Per-row scales of an I8 weight, else null. */
    final float[] scales;
    /** Values derived from this weight that ops reuse (float32 copies of small vectors, the scan's A). */
    private final Map<String, float[]> derived = new ConcurrentHashMap<>();

    /** A row-major weight. */
    CpuWeight(String name, DType dtype, int rows, int cols, MemorySegment data, float[] scales) {
        this(name, dtype, rows, cols, data, scales, false);
    }

    private CpuWeight(String name, DType dtype, int rows, int cols, MemorySegment data, float[] scales, boolean blocked) {
        this(name, dtype, rows, cols, data, scales, blocked, null);
    }

    private CpuWeight(String name, DType dtype, int rows, int cols, MemorySegment data, float[] scales, boolean blocked, PackedBf16 packed) {
        this.name = name;
        this.dtype = dtype;
        this.rows = rows;
        this.cols = cols;
        this.data = data;
        this.scales = scales;
        this.blocked = blocked;
        this.packed = packed;
    }

    /** A host tensor's weight: bf16 matrices copied into the blocked layout, anything else as it is. */
    static CpuWeight of(HostTensor t) {
        return of(t, false);
    }

    /** {@link #of(HostTensor)}, with bf16 matrices packed in 12 bits where that is exact ({@link PackedBf16}) if {@code pack}. */
    static CpuWeight of(HostTensor t, boolean pack) {
        long rows = t.rows(), cols = t.cols();
        if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE)
            throw new IllegalArgumentException(t.name() + ": " + rows + " x " + cols + " is too large for one matrix");
        if (t.dtype() == DType.BF16 && cols >= Simd.BLOCK) {
            PackedBf16 p = pack ? PackedBf16.pack((int) rows, (int) cols, t.data()) : null;
            if (p != null) return new CpuWeight(t.name(), DType.BF16, (int) rows, (int) cols, p.data, null, true, p);
            return blocked(t.name(), (int) rows, (int) cols, t.data());
        }
        return new CpuWeight(t.name(), t.dtype(), (int) rows, (int) cols, t.data(), null);
    }

    /** Bytes of one block of one row: 2·BLOCK bf16 values, one vector load. */
    private static final int BLOCK_BYTES = 2 * Simd.BLOCK;

    /** A bf16 row-major matrix copied into the blocked layout. */
    private static CpuWeight blocked(String name, int rows, int cols, MemorySegment rowMajor) {
        int blocks = cols / Simd.BLOCK, tail = cols % Simd.BLOCK, units = (rows + UNIT - 1) / UNIT;
        long tailAt = (long) units * UNIT * blocks * BLOCK_BYTES;
        MemorySegment data = WeightMemory.allocate(tailAt + 2L * rows * tail);
        for (int r = 0; r < rows; r++) {
            long src = 2L * r * cols;
            for (int b = 0; b < blocks; b++) // a block is one vector: ~10x a copy() call
                IntVector.fromMemorySegment(Simd.I, rowMajor, src + (long) b * BLOCK_BYTES, Simd.LE)
                        .intoMemorySegment(data, 2 * blockAt(rows, cols, r, b), Simd.LE);
            if (tail > 0) MemorySegment.copy(rowMajor, src + (long) blocks * BLOCK_BYTES, data, tailAt + 2L * r * tail, 2L * tail);
        }
        return new CpuWeight(name, DType.BF16, rows, cols, data, null, true);
    }

    /** Where whole block {@code block} of row r starts in the blocked layout of a rows x cols matrix, in elements. */
    static long blockAt(int rows, int cols, int r, int block) {
        int blocks = cols / Simd.BLOCK, perChunk = CHUNK / Simd.BLOCK, c = block / perChunk;
        int inChunk = Math.min(perChunk, blocks - c * perChunk);
        long units = (rows + UNIT - 1) / UNIT, chunkAt = c * units * UNIT * CHUNK; // every earlier chunk is whole
        return chunkAt + (((long) (r / UNIT) * inChunk + block % perChunk) * UNIT + r % UNIT) * Simd.BLOCK;
    }

    /**
     * Where element (r, c) is in {@link #data}, counted in elements. Runs of elements that stay inside one block (or
     * inside a row's columns past the last block) are contiguous, as in the row-major layout; so are a unit's blocks
     * within a chunk, and the units of a chunk.
     */
    long index(int r, int c) {
        if (packed != null) throw new IllegalStateException(name + " is packed: its elements have no index");
        if (!blocked) return (long) r * cols + c;
        int blocks = cols / Simd.BLOCK;
        if (c >= blocks * Simd.BLOCK) {
            int tail = cols % Simd.BLOCK;
            return (long) (rows + UNIT - 1) / UNIT * UNIT * blocks * Simd.BLOCK + (long) r * tail + (c - blocks * Simd.BLOCK);
        }
        return blockAt(rows, cols, r, c / Simd.BLOCK) + c % Simd.BLOCK;
    }

    static CpuWeight of(Weight w) {
        if (w instanceof CpuWeight c) return c;
        throw new IllegalArgumentException("not a CPU weight: " + w.name());
    }

    /** Element i of {@link #data} (see {@link #index}) as float32, before any int8 row scale. */
    float raw(long i) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(Simd.F32_LE, i);
            case BF16 -> Float.intBitsToFloat((data.getAtIndex(Simd.U16_LE, i) & 0xffff) << 16);
            case F16 -> Float.float16ToFloat(data.getAtIndex(Simd.U16_LE, i));
            case I8 -> data.get(ValueLayout.JAVA_BYTE, i);
        };
    }

    /** Element (r, c) as float32, before any int8 row scale. */
    float stored(int r, int c) {
        return packed != null ? packed.get(r, c) : raw(index(r, c));
    }

    /** Element (r, c) as float32 (slow path: small vectors). */
    float get(int r, int c) {
        float v = stored(r, c);
        return scales == null ? v : v * scales[r];
    }

    /** All elements as float32, row-major (for the small weights ops read many times: norms, conv, D). */
    float[] floats() {
        return derive("floats", () -> {
            float[] f = new float[rows * cols];
            for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) f[r * cols + c] = get(r, c);
            return f;
        });
    }

    /** A value computed from this weight once, on first use, and kept with it. */
    float[] derive(String key, Supplier<float[]> compute) {
        return derived.computeIfAbsent(key, k -> compute.get());
    }

    @Override public String name() { return name; }

    @Override public DType dtype() { return dtype; }

    @Override public int rows() { return rows; }

    @Override public int cols() { return cols; }

    @Override
    public long bytes() {
        if (packed != null) return packed.bytes();
        return (long) rows * cols * dtype.bytes + (scales == null ? 0 : 4L * scales.length);
    }
}
