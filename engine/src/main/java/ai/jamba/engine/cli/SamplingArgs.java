package ai.jamba.engine.cli;

import ai.jamba.kernels.SamplingParams;

import java.util.Set;

/** The sampling options {@code generate} and {@code chat} share: greedy unless {@code --temperature} is given. */
final class SamplingArgs {
    private SamplingArgs() {}

    static final Set<String> VALUED = Set.of("max-tokens", "temperature", "top-p", "top-k", "seed");
    static final Set<String> FLAGS = Set.of("greedy");

    static SamplingParams params(Args args) {
        if (args.flag("greedy") && (args.has("temperature") || args.has("top-p") || args.has("top-k")))
            throw new Args.UsageException("--greedy takes no --temperature, --top-p or --top-k");
        if (args.flag("greedy") || !args.has("temperature")) return SamplingParams.GREEDY;
        try {
            return new SamplingParams(args.number("temperature", 1f), args.integer("top-k", 0), args.number("top-p", 1f));
        } catch (IllegalArgumentException e) {
            throw new Args.UsageException(e.getMessage());
        }
    }

    static int maxTokens(Args args, int fallback) {
        int maxTokens = args.integer("max-tokens", fallback);
        if (maxTokens < 1) throw new Args.UsageException("--max-tokens must be at least 1, got " + maxTokens);
        return maxTokens;
    }
}
