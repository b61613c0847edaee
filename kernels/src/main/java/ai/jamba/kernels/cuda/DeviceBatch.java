package ai.jamba.kernels.cuda;

/**
 * A {@link ai.jamba.kernels.Batch} in device memory, as the kernels' BatchDesc reads it: per sequence its slot,
 * first row and row count, and per row its sequence. Pointers into one allocation of int32s.
 */
record DeviceBatch(long slots, long starts, long counts, long rowSeq) {

    /** The ints to upload: slots, starts, counts, then the sequence of every row. */
    static int[] layout(ai.jamba.kernels.Batch batch) {
        int n = batch.sequences(), rows = batch.rows();
        int[] data = new int[3 * n + rows];
        for (int i = 0; i < n; i++) {
            data[i] = batch.slots()[i];
            data[n + i] = batch.rowStart()[i];
            data[2 * n + i] = batch.rowCount()[i];
            for (int r = 0; r < batch.rowCount()[i]; r++) data[3 * n + batch.rowStart()[i] + r] = i;
        }
        return data;
    }

    /** The descriptor of a layout uploaded at {@code base}. */
    static DeviceBatch at(long base, int sequences) {
        return new DeviceBatch(base, base + 4L * sequences, base + 8L * sequences, base + 12L * sequences);
    }
}
