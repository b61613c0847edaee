package ai.jamba.engine.cli;

import ai.jamba.engine.generate.Generator;
import ai.jamba.engine.model.StatePool;
import ai.jamba.engine.tokenizer.StreamingDetokenizer;
import ai.jamba.kernels.SamplingParams;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintStream;
import java.util.HashSet;
import java.util.Set;

/**
 * {@code generate}: a prompt in, its continuation streamed out. With {@code --json}, stdout is exactly one JSON
 * line and everything else (streamed text, progress, logs) goes to stderr.
 */
final class GenerateCommand {
    private GenerateCommand() {}

    static final String USAGE = """
            usage: ./jamba generate [--model DIR] (--prompt TEXT | --prompt-ids 1,2,3) [--max-tokens N]
                                    [--greedy | --temperature T --top-p P --top-k K --seed S]
                                    [--stop-at-eos] [--no-bos] [--json] [--backend auto|cpu|cuda] [--threads N]
                                    [--experts-int8] [--gpu-memory-fraction F] [--max-sequences N]
                                    [--kv-cache-dtype f32|bf16]
              Greedy unless --temperature is given. --prompt is tokenised as BOS + text (--no-bos drops BOS);
              --prompt-ids are used as given. Runs to --max-tokens (default 64) unless --stop-at-eos.""";

    static int run(String[] argv, PrintStream stdout, PrintStream stderr) {
        Set<String> valued = new HashSet<>(LoadedModel.VALUED);
        valued.addAll(Set.of("prompt", "prompt-ids", "max-tokens", "temperature", "top-p", "top-k", "seed"));
        Set<String> flags = new HashSet<>(LoadedModel.FLAGS);
        flags.addAll(Set.of("greedy", "stop-at-eos", "no-bos", "json"));
        Args args = Args.parse(argv, valued, flags);
        if (args.has("prompt") == args.has("prompt-ids")) throw new Args.UsageException("give exactly one of --prompt and --prompt-ids");
        if (args.flag("greedy") && (args.has("temperature") || args.has("top-p") || args.has("top-k")))
            throw new Args.UsageException("--greedy takes no --temperature, --top-p or --top-k");
        int maxTokens = args.integer("max-tokens", 64);
        if (maxTokens < 1) throw new Args.UsageException("--max-tokens must be at least 1, got " + maxTokens);
        SamplingParams sampling = args.flag("greedy") || !args.has("temperature") ? SamplingParams.GREEDY
                : sampling(args);
        boolean json = args.flag("json");
        PrintStream text = json ? stderr : stdout;

        try (LoadedModel lm = LoadedModel.open(args, stderr)) {
            int[] prompt = args.has("prompt-ids") ? args.ints("prompt-ids")
                    : lm.requireTokenizer("--prompt").encode(args.required("prompt"), !args.flag("no-bos"));
            int vocab = lm.model().config().vocabSize();
            for (int id : prompt)
                if (id < 0 || id >= vocab) throw new Args.UsageException("prompt id " + id + " is outside the vocabulary [0, " + vocab + ")");
            StreamingDetokenizer detok = lm.tokenizer() == null ? null : lm.tokenizer().newDetokenizer(prompt);
            StringBuilder all = new StringBuilder();
            StatePool pool = lm.model().newStatePool(lm.sizing());
            var eos = lm.model().config().eosTokenIds();
            Generator.Result r = Generator.generate(lm.model(), pool, pool.acquire(), prompt, maxTokens, sampling,
                    args.longValue("seed", 0), args.flag("stop-at-eos") ? eos::contains : id -> false,
                    id -> {
                        if (detok != null) {
                            String piece = detok.push(id);
                            all.append(piece);
                            text.print(piece);
                            text.flush();
                        }
                        return true;
                    });
            if (detok != null) {
                String rest = detok.flush();
                all.append(rest);
                text.print(rest);
            }
            text.println();
            stderr.printf("jamba: %d prompt tokens at %.1f tok/s, %d generated at %.1f tok/s%n",
                    prompt.length, r.prefillTokensPerSecond(), r.ids().length, r.decodeTokensPerSecond());
            if (json) {
                ObjectMapper m = new ObjectMapper();
                ObjectNode out = m.createObjectNode();
                out.set("prompt_ids", m.valueToTree(prompt));
                out.set("ids", m.valueToTree(r.ids()));
                if (detok != null) out.put("text", all.toString());
                else out.putNull("text");
                out.put("prefill_tok_s", r.prefillTokensPerSecond());
                out.put("decode_tok_s", r.decodeTokensPerSecond());
                stdout.println(out);
            }
        }
        return 0;
    }

    private static SamplingParams sampling(Args args) {
        try {
            return new SamplingParams(args.number("temperature", 1f), args.integer("top-k", 0), args.number("top-p", 1f));
        } catch (IllegalArgumentException e) {
            throw new Args.UsageException(e.getMessage());
        }
    }
}
