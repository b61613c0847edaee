package ai.jamba.kernels.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * A bf16 matrix in 12 bits a weight, losslessly, for the batch-1 product: a decode step waits on nothing but memory,
 * and reads three quarters of the bytes so.
 *
 * <p>A bf16 weight is a sign, an 8-bit exponent and a 7-bit mantissa. A matrix's weights sit in few binades: the 16
 * consecutive exponents {@code base .. base+15} (base even) that hold the most of them hold all but about 3 in 10,000
 * of a Gaussian matrix's. So each weight keeps its sign and mantissa and a 4-bit code {@code c = exponent - base}: a
 * byte {@code (c & 1) << 7 | mantissa}, which is the bf16's low byte as it stands, and a nibble
 * {@code sign << 3 | c >> 1}, which a 16-entry table ({@link #lut}) turns into the bf16's high byte. Widening is byte
 * shuffles, no arithmetic: one table lookup ({@code vpermb}) gives 64 weights' high bytes, and one two-vector shuffle
 * ({@code vpermt2b}) interleaves 32 low and high bytes into the bf16 pairs the blocked layout holds ({@link CpuWeight}),
 * which then widen to float32 as bf16 does. Nibble 0 reads +0: a weight outside the 16 exponents (zero, tiny, huge,
 * not finite), or positive in the lowest two, is stored so and kept in a list, {@link #fix}, whose products are added
 * to the outputs after the vector lanes: every weight counts exactly. A matrix with more than {@link #MAX_EXCEPTIONS}
 * of them is not packed.
 *
 * <p>Layout, like the blocked bf16 one with quads of rows: chunks of {@link CpuWeight#CHUNK} columns; within a chunk,
 * quads of 4 rows one after another, and within a quad, for each block of {@link Simd#BLOCK} columns, a record of
 * {@link #RECORD} bytes, three vectors of 64 bytes: the low bytes of rows 0 and 1 ({@code [row0 even, row0 odd,
 * row1 even, row1 odd]} for the block's elements 2j and 2j+1 at bytes 4j..4j+3), those of rows 2 and 3 in the same
 * order, and the nibbles in the same order again, rows 0 and 1 in the low halves of the bytes, rows 2 and 3 in the
 * high halves. Rows are padded to a whole {@link CpuWeight#UNIT}; the columns past the last whole block stay bf16,
 * row by row. The byte shuffles need AVX-512 VBMI ({@link Simd#BYTE_PERMUTES}); without it nothing is packed.
 */
final class PackedBf16 {
    /** Rows whose blocks of one chunk's column block share a record. */
    static final int QUAD = 4;
    /** Bytes of one record: QUAD rows x BLOCK weights x 12 bits. */
    static final int RECORD = QUAD * Simd.BLOCK * 3 / 2;
    /** At most this share of weights outside the 16 exponents (each costs a scalar multiply-add per token row). */
    private static final double MAX_EXCEPTIONS = 1.0 / 500;

    final int rows, cols, paddedRows, upper;
    /** The records ({@link #at}). */
    final MemorySegment data;
    /** The columns past {@code upper}, bf16, row-major. */
    private final MemorySegment tail;
    /** Byte lanes, as many as a float vector's bytes. */
    static final VectorSpecies<Byte> BYTES = VectorSpecies.of(byte.class, Simd.F.vectorShape());
    /**
     * Nibble to the bf16's high byte (sign and the exponent's upper seven bits: an even base leaves its lowest bit
     * to the code's), at every lane whose index ends in the nibble's four bits: a lookup need not clear the rest.
     */
    final ByteVector lut;
    /**
     * Shuffles of (low bytes, high bytes) into the bf16 pairs of the first and the second row of a record's vector:
     * lane 4j+i takes byte 4j+i/2 (+2 for the second row) of the low bytes for even i, of the high bytes for odd i.
     */
    static final ByteVector FIRST_ROW = interleave(0), SECOND_ROW = interleave(2);
    /** Row r's exceptions are entries fixStart[r] .. fixStart[r+1]-1: row, column, and the weight (stored as +0). */
    private final int[] fixStart, fixRow, fixCol;
    private final float[] fixWeight;
    private final byte[] lutBytes;

    private PackedBf16(int rows, int cols, MemorySegment data, MemorySegment tail, byte[] lutBytes, int[] fixStart, int[] fixRow, int[] fixCol, float[] fixWeight) {
        this.rows = rows;
        this.cols = cols;
        this.paddedRows = (rows + CpuWeight.UNIT - 1) / CpuWeight.UNIT * CpuWeight.UNIT;
        this.upper = cols - cols % Simd.BLOCK;
        this.data = data;
        this.tail = tail;
        this.lutBytes = lutBytes;
        this.lut = ByteVector.fromArray(BYTES, lutBytes, 0);
        this.fixStart = fixStart;
        this.fixRow = fixRow;
        this.fixCol = fixCol;
        this.fixWeight = fixWeight;
    }

    /** Byte offset of the record of quad {@code r / QUAD} (r a multiple of QUAD) for the block holding column c. */
    long at(int r, int c) {
        int perChunk = CpuWeight.CHUNK / Simd.BLOCK, blocks = upper / Simd.BLOCK, chunk = c / CpuWeight.CHUNK, block = c / Simd.BLOCK;
        int inChunk = Math.min(perChunk, blocks - chunk * perChunk);
        long chunkAt = (long) chunk * (paddedRows / QUAD) * perChunk * RECORD; // every earlier chunk is whole
        return chunkAt + ((long) (r / QUAD) * inChunk + block % perChunk) * RECORD;
    }

    /** Bytes resident: the records, the bf16 tail, the exceptions. */
    long bytes() {
        return data.byteSize() + tail.byteSize() + 12L * fixCol.length + 4L * fixStart.length;
    }

    /** Element (r, c), exactly as the checkpoint holds it. */
    float get(int r, int c) {
        if (c >= upper) return Float.intBitsToFloat((tail.getAtIndex(Simd.U16_LE, (long) r * (cols - upper) + c - upper) & 0xffff) << 16);
        for (int i = fixStart[r]; i < fixStart[r + 1]; i++) if (fixCol[i] == c) return fixWeight[i];
        int j = c % Simd.BLOCK / 2, odd = c & 1, q = r % QUAD;
        long record = at(r - q, c);
        int mantissa = data.get(ValueLayout.JAVA_BYTE, record + (q / 2) * 64L + 4L * j + (q % 2) * 2 + odd) & 0xff;
        int nibble = (data.get(ValueLayout.JAVA_BYTE, record + 2 * 64L + 4L * j + (q % 2) * 2 + odd) >>> (4 * (q / 2))) & 0xf;
        return Float.intBitsToFloat((lutBytes[nibble] & 0xff) << 24 | mantissa << 16);
    }

    /**
     * Adds the exceptions of rows [r0, r1) (r1 at most rows), x · weight, to out (x · the weights as stored, bias included): row by row,
     * each row's in column order, so a row comes out the same whatever the tile or batch that computed its sum.
     */
    void fix(CpuMat x, CpuMat out, int r0, int r1) {
        for (int t = 0; t < x.rows; t++) {
            int xa = x.at(t), oa = out.at(t);
            for (int i = fixStart[r0], end = fixStart[r1]; i < end; i++)
                out.data[oa + fixRow[i]] += x.data[xa + fixCol[i]] * fixWeight[i];
        }
    }

    // ---- packing ------------------------------------------------------------------------------------------

    /**
     * A bf16 row-major matrix packed, or null where it would not pay (see the class doc) or where vectors are not 16
     * ints wide or bytes cannot be shuffled across a whole vector (the widening's shuffles, {@link Simd#BYTE_PERMUTES}).
     */
    static PackedBf16 pack(int rows, int cols, MemorySegment rowMajor) {
        if (Simd.L != 16 || !Simd.BYTE_PERMUTES || cols < Simd.BLOCK) return null;
        int upper = cols - cols % Simd.BLOCK, tailCols = cols - upper;
        int paddedRows = (rows + CpuWeight.UNIT - 1) / CpuWeight.UNIT * CpuWeight.UNIT, quads = paddedRows / QUAD;
        // load-time work on every core: ranges of quads of rows, each range's results kept apart, then merged in order
        int tasks = Math.min(quads, 8 * Runtime.getRuntime().availableProcessors());
        long[][][] counted = new long[tasks][][];
        IntStream.range(0, tasks).parallel().forEach(task -> {
            long[][] binades = new long[2][256]; // by sign, by exponent
            short[] row = new short[cols];
            for (int r = firstQuad(task, tasks, quads) * QUAD; r < Math.min(rows, firstQuad(task + 1, tasks, quads) * QUAD); r++) {
                MemorySegment.copy(rowMajor, Simd.U16_LE, 2L * r * cols, row, 0, cols);
                for (int c = 0; c < upper; c++) binades[(row[c] >>> 15) & 1][(row[c] >>> 7) & 0xff]++;
            }
            counted[task] = binades;
        });
        long[][] binades = new long[2][256];
        for (long[][] part : counted) for (int sign = 0; sign < 2; sign++) for (int e = 0; e < 256; e++) binades[sign][e] += part[sign][e];
        int base = 0;
        long covered = -1;
        for (int b = 0; b <= 240; b += 2) {
            long n = -binades[0][b] - binades[0][b + 1]; // nibble 0 (positive, code 0 or 1) is kept for exceptions
            for (int e = b; e < b + 16; e++) n += binades[0][e] + binades[1][e];
            if (n > covered) {
                covered = n;
                base = b;
            }
        }
        long exceptions = (long) rows * upper - covered;
        if (exceptions > MAX_EXCEPTIONS * rows * upper) return null;

        byte[] lut = new byte[BYTES.length()];
        for (int i = 0; i < lut.length; i++) {
            int n = i & 15;
            lut[i] = n == 0 ? 0 : (byte) ((n >>> 3) << 7 | (base / 2 + (n & 7))); // lut[0] = 0: an exception reads +0
        }
        int[] fixStart = new int[rows + 1], fixRow = new int[(int) exceptions], fixCol = new int[(int) exceptions];
        float[] fixWeight = new float[(int) exceptions];
        MemorySegment data = WeightMemory.allocate((long) quads * (upper / Simd.BLOCK) * RECORD);
        MemorySegment tail = WeightMemory.allocate(Math.max(2L, 2L * rows * tailCols));
        PackedBf16 p = new PackedBf16(rows, cols, data, tail, lut, fixStart, fixRow, fixCol, fixWeight);
        int codeBase = base;
        Exceptions[] found = new Exceptions[tasks];
        IntStream.range(0, tasks).parallel().forEach(task -> found[task] = p.packQuads(firstQuad(task, tasks, quads), firstQuad(task + 1, tasks, quads), codeBase, rowMajor));
        int fixes = 0;
        for (Exceptions part : found) { // in row order, each row's in column order
            System.arraycopy(part.rows, 0, fixRow, fixes, part.size);
            System.arraycopy(part.cols, 0, fixCol, fixes, part.size);
            System.arraycopy(part.weights, 0, fixWeight, fixes, part.size);
            fixes += part.size;
        }
        for (int r = 0, i = 0; r <= rows; r++) { // fixStart[r]: the first entry of row r or of a later row
            while (i < fixes && fixRow[i] < r) i++;
            fixStart[r] = i;
        }
        return p;
    }

    /** Quads [0, quads) split in {@code tasks} ranges: where range {@code task} starts. */
    private static int firstQuad(int task, int tasks, int quads) {
        return (int) ((long) quads * task / tasks);
    }

    /** Weights stored as +0, in the order found: row, column, the weight. */
    private static final class Exceptions {
        int size;
        int[] rows = new int[16], cols = new int[16];
        float[] weights = new float[16];

        void add(int r, int c, float w) {
            if (size == rows.length) {
                rows = Arrays.copyOf(rows, 2 * size);
                cols = Arrays.copyOf(cols, 2 * size);
                weights = Arrays.copyOf(weights, 2 * size);
            }
            rows[size] = r;
            cols[size] = c;
            weights[size++] = w;
        }
    }

    /** Writes the records of quads [from, to) and the columns past {@link #upper} of their rows; returns their exceptions. */
    private Exceptions packQuads(int from, int to, int base, MemorySegment rowMajor) {
        int tailCols = cols - upper;
        Exceptions found = new Exceptions();
        short[] row = new short[cols];
        byte[] mantissas = new byte[QUAD * upper], nibbles = new byte[QUAD * upper];
        byte[] record = new byte[RECORD];
        for (int q0 = from * QUAD; q0 < to * QUAD; q0 += QUAD) {
            Arrays.fill(mantissas, (byte) 0);
            Arrays.fill(nibbles, (byte) 0);
            for (int q = 0; q < QUAD && q0 + q < rows; q++) {
                int r = q0 + q;
                MemorySegment.copy(rowMajor, Simd.U16_LE, 2L * r * cols, row, 0, cols);
                for (int c = 0; c < upper; c++) {
                    int bits = row[c] & 0xffff, code = ((bits >>> 7) & 0xff) - base;
                    if (code < 0 || code > 15 || (bits >>> 15 == 0 && code < 2)) { // stored as +0, the weight is the correction
                        found.add(r, c, Float.intBitsToFloat(bits << 16));
                        code = 0;
                        bits = 0;
                    }
                    mantissas[q * upper + c] = (byte) ((code & 1) << 7 | (bits & 0x7f));
                    nibbles[q * upper + c] = (byte) ((bits >>> 15) << 3 | code >>> 1);
                }
                if (tailCols > 0) MemorySegment.copy(rowMajor, 2L * r * cols + 2L * upper, tail, 2L * r * tailCols, 2L * tailCols);
            }
            for (int b = 0; b < upper / Simd.BLOCK; b++) {
                Arrays.fill(record, (byte) 0);
                for (int q = 0; q < QUAD; q++)
                    for (int j = 0; j < Simd.BLOCK / 2; j++)
                        for (int odd = 0; odd < 2; odd++) {
                            int i = q * upper + b * Simd.BLOCK + 2 * j + odd;
                            record[(q / 2) * 64 + 4 * j + (q % 2) * 2 + odd] = mantissas[i];
                            record[2 * 64 + 4 * j + (q % 2) * 2 + odd] |= (byte) (nibbles[i] << (4 * (q / 2)));
                        }
                MemorySegment.copy(record, 0, data, ValueLayout.JAVA_BYTE, at(q0, b * Simd.BLOCK), RECORD);
            }
        }
        return found;
    }

    // ---- widening a panel, for the register tiles ---------------------------------------------------------

    /**
     * Rows [r0, r1) (r0 a multiple of {@link CpuWeight#UNIT}) into {@code dst} in the blocked bf16 layout of an
     * (r1 - r0)-row matrix, as stored (the exceptions are {@link #fix}'s, as for a lone row). The records are read
     * into the caches first ({@link #read}), then widened from there.
     */
    void unpack(int r0, int r1, MemorySegment dst) {
        var I = Simd.I;
        var LE = Simd.LE;
        int perChunk = CpuWeight.CHUNK / Simd.BLOCK, blocks = upper / Simd.BLOCK, viewRows = r1 - r0;
        int quadEnd = (r1 + QUAD - 1) / QUAD * QUAD;
        long row = 2L * Simd.BLOCK; // bytes of one row's block
        ByteVector first = FIRST_ROW, second = SECOND_ROW, table = lut;
        for (int c0 = 0; c0 < upper; c0 += CpuWeight.CHUNK) {
            long from = at(r0, c0);
            read(from, from + (long) (quadEnd - r0) / QUAD * Math.min(perChunk, blocks - c0 / Simd.BLOCK) * RECORD);
        }
        for (int c0 = 0; c0 < upper; c0 += CpuWeight.CHUNK) {
            int inChunk = Math.min(perChunk, blocks - c0 / Simd.BLOCK);
            for (int q0 = r0; q0 < quadEnd; q0 += QUAD) {
                long src = at(q0, c0), to = 2 * CpuWeight.blockAt(viewRows, cols, q0 - r0, c0 / Simd.BLOCK);
                for (int b = 0; b < inChunk; b++, src += RECORD, to += CpuWeight.UNIT * row) {
                    ByteVector P = ByteVector.fromMemorySegment(BYTES, data, src, LE), Q = ByteVector.fromMemorySegment(BYTES, data, src + 64, LE);
                    IntVector N = IntVector.fromMemorySegment(I, data, src + 128, LE);
                    ByteVector high01 = N.reinterpretAsBytes().selectFrom(table), high23 = N.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(table);
                    first.selectFrom(P, high01).intoMemorySegment(dst, to, LE);
                    second.selectFrom(P, high01).intoMemorySegment(dst, to + row, LE);
                    first.selectFrom(Q, high23).intoMemorySegment(dst, to + 2 * row, LE);
                    second.selectFrom(Q, high23).intoMemorySegment(dst, to + 3 * row, LE);
                }
            }
        }
    }

    /** Where {@link #read} leaves what it loaded, so that the JIT keeps the loads. */
    private static int readSum;

    /**
     * Loads bytes [from, to) of the records in a loop that does nothing else, so that they are in L2 when
     * {@link #unpack} widens them. Java has no prefetch instruction, and widening straight from memory read 6.6-7.3
     * billion weights/s on one core where the same loads and shuffles without the stores read 15.6-16.5: the
     * stores into the panel starved the loads from memory (bench/README.md, "Reading a packed panel first").
     */
    private void read(long from, long to) {
        IntVector sum = IntVector.zero(Simd.I);
        long o = from;
        for (; o + 256 <= to; o += 256) // four lines an iteration
            sum = sum.add(IntVector.fromMemorySegment(Simd.I, data, o, Simd.LE)).add(IntVector.fromMemorySegment(Simd.I, data, o + 64, Simd.LE))
                    .add(IntVector.fromMemorySegment(Simd.I, data, o + 128, Simd.LE)).add(IntVector.fromMemorySegment(Simd.I, data, o + 192, Simd.LE));
        for (; o < to; o += 64) sum = sum.add(IntVector.fromMemorySegment(Simd.I, data, o, Simd.LE)); // records are three lines
        readSum = sum.reduceLanes(VectorOperators.ADD);
    }

    private static ByteVector interleave(int second) {
        byte[] index = new byte[BYTES.length()];
        for (int i = 0; i < index.length; i++) {
            int j = i / 4, k = i % 4;
            index[i] = (byte) ((k % 2 == 0 ? 0 : index.length) + 4 * j + second + k / 2);
        }
        return ByteVector.fromArray(BYTES, index, 0);
    }
}
