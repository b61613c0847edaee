package ai.jamba.bench;

import java.util.Arrays;

/** {@code ./jamba bench <name> [options]}: picks a benchmark by name and hands it the rest of the arguments. */
public final class Main {
    private Main() {}

    private static final String USAGE = """
            usage: ./jamba bench <name> [options]     (./jamba bench <name> --help for its options)

              cpu        prefill and decode tok/s of the CPU backend (random jamba-3b-dense, or --model DIR), beside
                         the machine's read bandwidth and FMA peak, with a per-op breakdown
              gpu        one Jamba-1.5-Mini-shaped block on the GPU: prefill, decode ms/step, per-kernel times
              full       the whole Jamba-1.5-Mini shape on the GPU (int8 experts) up to a 256K context
              serve      the serving engine: aggregate decode tok/s by concurrency, resume vs re-prefill
              agreement  the serving engine's batched outputs against each request run alone
              ws         many WebSocket chats at once against the service
              plots DIR  the PNG charts from a results folder
              jmh [...]  JMH benchmarks of the hot CPU kernels (JMH's own options)
            """;

    public static void main(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            System.err.print(USAGE);
            System.exit(args.length == 0 ? 2 : 0);
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "cpu" -> CpuBench.main(rest);
            case "gpu" -> GpuBench.main(rest);
            case "full" -> FullModelBench.main(rest);
            case "serve" -> ServeBench.main(rest);
            case "agreement" -> ServeAgreement.main(rest);
            case "ws" -> WsLoadBench.main(rest);
            case "plots" -> Plots.main(rest);
            case "jmh" -> org.openjdk.jmh.Main.main(rest);
            default -> {
                System.err.print(USAGE);
                System.err.println("jamba bench: unknown benchmark '" + args[0] + "'");
                System.exit(2);
            }
        }
    }
}
