package ai.jamba.kernels.cuda;

import ai.jamba.kernels.Mat;

/**
 * A float32 matrix in device memory: element (r, c) at {@code ptr + 4 * (r * stride + c)}. Views share the
 * allocation; only the matrix {@link CudaBackend#allocate} returned owns it.
 */
final class CudaMat implements Mat {
    final long ptr;
    final int rows, cols, stride;
    final boolean owner;

    CudaMat(long ptr, int rows, int cols, int stride, boolean owner) {
        this.ptr = ptr;
        this.rows = rows;
        this.cols = cols;
        this.stride = stride;
        this.owner = owner;
    }

    static CudaMat of(Mat m) {
        if (m instanceof CudaMat c) return c;
        throw new IllegalArgumentException("not a CUDA matrix: " + m);
    }

    /** Device address of row r. */
    long row(int r) {
        return ptr + 4L * r * stride;
    }

    boolean contiguous() {
        return stride == cols || rows == 1;
    }

    @Override public int rows() { return rows; }

    @Override public int cols() { return cols; }

    @Override
    public Mat cols(int from, int to) {
        if (from < 0 || to > cols || from > to) throw new IndexOutOfBoundsException("columns [" + from + ", " + to + ") of " + cols);
        return new CudaMat(ptr + 4L * from, rows, to - from, stride, false);
    }

    @Override
    public Mat rows(int from, int to) {
        if (from < 0 || to > rows || from > to) throw new IndexOutOfBoundsException("rows [" + from + ", " + to + ") of " + rows);
        return new CudaMat(row(from), to - from, cols, stride, false);
    }

    @Override
    public String toString() {
        return "CudaMat[" + rows + " x " + cols + ", stride " + stride + "]";
    }
}
