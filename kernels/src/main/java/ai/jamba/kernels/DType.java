package ai.jamba.kernels;

/** Element types of weights as they sit in a checkpoint (and, for I8, after quantisation). */
public enum DType {
    F32(4), BF16(2), F16(2),
    /** int8 with one float scale per output row (ExpertsInt8): w = q * scale[row]. */
    I8(1);

    public final int bytes;

    DType(int bytes) { this.bytes = bytes; }

    /** The dtype of a safetensors header's "dtype" field, or null when we cannot compute with it. */
    public static DType ofSafetensors(String name) {
        return switch (name) {
            case "F32" -> F32;
            case "BF16" -> BF16;
            case "F16" -> F16;
            default -> null;
        };
    }
}
