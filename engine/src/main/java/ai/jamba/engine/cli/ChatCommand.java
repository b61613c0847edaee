package ai.jamba.engine.cli;

import ai.jamba.engine.serve.Engine;
import ai.jamba.engine.serve.EngineException;
import ai.jamba.engine.serve.GenerationEvent;
import ai.jamba.engine.serve.GenerationRequest;
import ai.jamba.engine.session.SessionIds;
import ai.jamba.engine.tokenizer.ChatMessage;
import ai.jamba.kernels.SamplingParams;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code chat}: a conversation in the terminal. Each line is a user message; the reply streams back. The conversation
 * is a session kept in {@code --session-dir}, so {@code --session ID} picks it up again later, in this process or
 * another. Replies go to stdout; the prompt and notes to stderr.
 */
final class ChatCommand {
    private ChatCommand() {}

    static final String USAGE = """
            usage: ./jamba chat [--model DIR] [--session ID] [--session-dir DIR] [--max-tokens N]
                                [--greedy | --temperature T --top-p P --top-k K --seed S]
                                [--backend auto|cpu|cuda] [--threads N] [--experts-int8]
              Each line you type is a message; /exit or end of input leaves. --session continues a conversation
              (default: a new one, whose id is printed); it is kept in --session-dir (default data/sessions).
              Greedy unless --temperature is given; replies stop at EOS or --max-tokens (default 256).""";

    static int run(String[] argv, InputStream stdin, PrintStream stdout, PrintStream stderr) throws IOException {
        Set<String> valued = new HashSet<>(LoadedModel.VALUED);
        valued.addAll(SamplingArgs.VALUED);
        valued.addAll(Set.of("session", "session-dir"));
        Set<String> flags = new HashSet<>(LoadedModel.FLAGS);
        flags.addAll(SamplingArgs.FLAGS);
        Args args = Args.parse(argv, valued, flags);
        int maxTokens = SamplingArgs.maxTokens(args, 256);
        SamplingParams sampling = SamplingArgs.params(args);
        String sessionId = args.string("session", SessionIds.random());
        if (!SessionIds.valid(sessionId)) throw new Args.UsageException("--session must match [A-Za-z0-9._-]{1,128}");
        Long seed = args.has("seed") ? args.longValue("seed", 0) : null;

        try (LoadedModel lm = LoadedModel.open(args, stderr);
             Engine engine = EngineTurn.start(lm.model(), lm.requireTokenizer("chat"), args.sessionDir())) {
            // Ctrl-C: let the engine finish writing the conversation before the JVM goes.
            Thread saveOnExit = new Thread(engine::close, "jamba-chat-exit");
            Runtime.getRuntime().addShutdownHook(saveOnExit);
            boolean resumed = engine.session(sessionId, null).join().isPresent();
            stderr.println("jamba: " + (resumed ? "continuing" : "new") + " conversation " + sessionId
                    + " (resume it with --session " + sessionId + "); /exit to leave");
            BufferedReader in = new BufferedReader(new InputStreamReader(stdin, StandardCharsets.UTF_8));
            while (true) {
                stderr.print("> ");
                stderr.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit")) break;
                if (line.isBlank()) continue;
                GenerationRequest request = GenerationRequest.builder().sessionId(sessionId)
                        .chat(List.of(new ChatMessage("user", line))).maxTokens(maxTokens)
                        .temperature(sampling.temperature()).topK(sampling.topK()).topP(sampling.topP()).seed(seed).build();
                try {
                    GenerationEvent.Done done = EngineTurn.run(engine, request, piece -> {
                        stdout.print(piece);
                        stdout.flush();
                    });
                    stdout.println();
                    stderr.printf("jamba: %d tokens (%d reused, %d new), %.1f tok/s%n", done.usage().sessionTokens(),
                            done.usage().reusedTokens(), done.usage().promptTokens() - done.usage().reusedTokens(),
                            done.timings().decodeTokensPerSecond());
                } catch (EngineException e) {
                    stderr.println("jamba chat: " + e.getMessage());
                }
            }
            Runtime.getRuntime().removeShutdownHook(saveOnExit);
        }
        return 0;
    }
}
