package ai.jamba.kernels.cpu;

import ai.jamba.kernels.Mat;

/** A float32 matrix view on a heap array: element (r, c) is data[offset + r * stride + c]. */
final class CpuMat implements Mat {
    final float[] data;
    final int offset, rows, cols, stride;

    CpuMat(float[] data, int offset, int rows, int cols, int stride) {
        this.data = data;
        this.offset = offset;
        this.rows = rows;
        this.cols = cols;
        this.stride = stride;
    }

    static CpuMat of(Mat m) {
        if (m instanceof CpuMat c) return c;
        throw new IllegalArgumentException("not a CPU matrix: " + m);
    }

    int at(int row) {
        return offset + row * stride;
    }

    @Override public int rows() { return rows; }

    @Override public int cols() { return cols; }

    @Override
    public Mat cols(int from, int to) {
        if (from < 0 || to > cols || from > to) throw new IndexOutOfBoundsException("columns [" + from + ", " + to + ") of " + cols);
        return new CpuMat(data, offset + from, rows, to - from, stride);
    }

    @Override
    public Mat rows(int from, int to) {
        if (from < 0 || to > rows || from > to) throw new IndexOutOfBoundsException("rows [" + from + ", " + to + ") of " + rows);
        return new CpuMat(data, offset + from * stride, to - from, cols, stride);
    }

    @Override
    public String toString() {
        return "CpuMat[" + rows + " x " + cols + ", stride " + stride + "]";
    }
}
