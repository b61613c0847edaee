package ai.jamba.engine.cli;

import ai.jamba.engine.generate.Generator;
import ai.jamba.engine.model.StatePool;
import ai.jamba.engine.serve.Engine;
import ai.jamba.engine.serve.GenerationEvent;
import ai.jamba.engine.serve.GenerationRequest;
import ai.jamba.engine.serve.Prompt;
import ai.jamba.engine.session.Session;
import ai.jamba.engine.tokenizer.StreamingDetokenizer;
import ai.jamba.kernels.SamplingParams;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * {@code generate}: a prompt in, its continuation streamed out. With {@code --json}, stdout is exactly one JSON
 * line and everything else (streamed text, progress, logs) goes to stderr. With {@code --session}, the turn runs
 * through the serving engine and continues (or starts) a conversation kept in {@code --session-dir}.
 */
final class GenerateCommand {
    private GenerateCommand() {}

    static final String USAGE = """
            usage: ./jamba generate [--model DIR] (--prompt TEXT | --prompt-ids 1,2,3) [--max-tokens N]
                                    [--greedy | --temperature T --top-p P --top-k K --seed S]
                                    [--stop-at-eos] [--no-bos] [--json] [--backend auto|cpu|cuda] [--threads N]
                                    [--experts-int8] [--gpu-memory-fraction F] [--max-sequences N]
                                    [--kv-cache-dtype f32|bf16] [--session ID [--session-dir DIR]]
              Greedy unless --temperature is given. --prompt is tokenised as BOS + text (--no-bos drops BOS);
              --prompt-ids are used as given. Runs to --max-tokens (default 64) unless --stop-at-eos.
              --session continues the conversation ID stored in --session-dir (default data/sessions), or starts it,
              and saves it after the turn: BOS only at its start; --prompt-ids are appended as given. Then
              --json's prompt_ids are the whole conversation before this turn's ids, and it adds session_id and
              reused_tokens (prompt tokens restored rather than computed).""";

    static int run(String[] argv, PrintStream stdout, PrintStream stderr) {
        Set<String> valued = new HashSet<>(LoadedModel.VALUED);
        valued.addAll(SamplingArgs.VALUED);
        valued.addAll(Set.of("prompt", "prompt-ids", "session", "session-dir"));
        Set<String> flags = new HashSet<>(LoadedModel.FLAGS);
        flags.addAll(SamplingArgs.FLAGS);
        flags.addAll(Set.of("stop-at-eos", "no-bos", "json"));
        Args args = Args.parse(argv, valued, flags);
        if (args.has("prompt") == args.has("prompt-ids")) throw new Args.UsageException("give exactly one of --prompt and --prompt-ids");
        if (args.has("session-dir") && !args.has("session")) throw new Args.UsageException("--session-dir needs --session");
        int maxTokens = SamplingArgs.maxTokens(args, 64);
        SamplingParams sampling = SamplingArgs.params(args);
        PrintStream text = args.flag("json") ? stderr : stdout;

        try (LoadedModel lm = LoadedModel.open(args, stderr)) {
            int vocab = lm.model().config().vocabSize();
            int[] given = args.has("prompt-ids") ? args.ints("prompt-ids") : null;
            if (given != null)
                for (int id : given)
                    if (id < 0 || id >= vocab) throw new Args.UsageException("prompt id " + id + " is outside the vocabulary [0, " + vocab + ")");
            Output out = args.has("session")
                    ? inSession(lm, args, given, maxTokens, sampling, text)
                    : alone(lm, args, given, maxTokens, sampling, text);
            text.println();
            stderr.printf("jamba: %d prompt tokens at %.1f tok/s, %d generated at %.1f tok/s%n",
                    out.promptIds.length, out.prefillTokS, out.ids.length, out.decodeTokS);
            if (args.flag("json")) stdout.println(out.json(lm.tokenizer() != null));
        }
        return 0;
    }

    /** What --json reports; the session fields are null outside a session. */
    private record Output(int[] promptIds, int[] ids, String text, double prefillTokS, double decodeTokS,
                          String sessionId, Integer reusedTokens) {
        String json(boolean hasText) {
            ObjectMapper m = new ObjectMapper();
            ObjectNode out = m.createObjectNode();
            out.set("prompt_ids", m.valueToTree(promptIds));
            out.set("ids", m.valueToTree(ids));
            if (hasText) out.put("text", text);
            else out.putNull("text");
            out.put("prefill_tok_s", prefillTokS);
            out.put("decode_tok_s", decodeTokS);
            if (sessionId != null) {
                out.put("session_id", sessionId);
                out.put("reused_tokens", reusedTokens);
            }
            return out.toString();
        }
    }

    /** The plain loop: one sequence, nothing kept. */
    private static Output alone(LoadedModel lm, Args args, int[] given, int maxTokens, SamplingParams sampling, PrintStream text) {
        int[] prompt = given != null ? given
                : lm.requireTokenizer("--prompt").encode(args.required("prompt"), !args.flag("no-bos"));
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
        return new Output(prompt, r.ids(), all.toString(), r.prefillTokensPerSecond(), r.decodeTokensPerSecond(), null, null);
    }

    /** A turn of a stored conversation, through the serving engine. */
    private static Output inSession(LoadedModel lm, Args args, int[] given, int maxTokens, SamplingParams sampling,
                                    PrintStream text) {
        Prompt prompt = given != null ? Prompt.ids(given)
                : args.flag("no-bos") ? Prompt.ids(lm.requireTokenizer("--prompt").encode(args.required("prompt"), false))
                : Prompt.text(args.required("prompt"));
        if (!(prompt instanceof Prompt.Ids)) lm.requireTokenizer("--prompt");
        String sessionId = args.required("session");
        GenerationRequest request = GenerationRequest.builder().sessionId(sessionId).prompt(prompt).maxTokens(maxTokens)
                .temperature(sampling.temperature()).topK(sampling.topK()).topP(sampling.topP())
                .seed(args.longValue("seed", 0)).stopAtEos(args.flag("stop-at-eos")).build();
        try (Engine engine = EngineTurn.start(lm.model(), lm.tokenizer(), args.sessionDir())) {
            StringBuilder all = new StringBuilder();
            GenerationEvent.Done done = EngineTurn.run(engine, request, piece -> {
                all.append(piece);
                text.print(piece);
                text.flush();
            });
            Session session = engine.session(sessionId, null).join().orElseThrow();
            int[] tokens = session.tokens();
            int generated = done.usage().completionTokens();
            GenerationEvent.Usage u = done.usage();
            GenerationEvent.Timings t = done.timings();
            double prefill = (u.promptTokens() - u.reusedTokens()) / Math.max(1e-9, t.prefillMs() / 1000);
            return new Output(Arrays.copyOf(tokens, tokens.length - generated),
                    Arrays.copyOfRange(tokens, tokens.length - generated, tokens.length), all.toString(),
                    prefill, t.decodeTokensPerSecond(), sessionId, u.reusedTokens());
        }
    }
}
