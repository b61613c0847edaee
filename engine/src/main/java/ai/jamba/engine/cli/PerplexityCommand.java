package ai.jamba.engine.cli;

import ai.jamba.engine.eval.Perplexity;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** {@code perplexity}: scores a JSONL of {"text": ...} documents, each as [BOS] + tokens + [EOS]. */
final class PerplexityCommand {
    private PerplexityCommand() {}

    static final String USAGE = "usage: ./jamba perplexity [--model DIR] --jsonl FILE [--backend auto|cpu|cuda] [--threads N] [--experts-int8]"
            + " [--gpu-memory-fraction F] [--max-sequences N] [--kv-cache-dtype f32|bf16]";

    static int run(String[] argv, PrintStream stdout, PrintStream stderr) throws IOException {
        Set<String> valued = new HashSet<>(LoadedModel.VALUED);
        valued.add("jsonl");
        Args args = Args.parse(argv, valued, LoadedModel.FLAGS);
        Path file = Path.of(args.required("jsonl"));
        try (LoadedModel lm = LoadedModel.open(args, stderr)) {
            List<int[]> docs;
            try {
                docs = Perplexity.documents(file, lm.requireTokenizer("perplexity"));
            } catch (IllegalArgumentException e) {
                throw new Args.UsageException(e.getMessage());
            }
            long t0 = System.nanoTime();
            Perplexity.Score s = Perplexity.score(lm.model(), docs, done ->
                    stderr.print("\rjamba: scored " + done + "/" + docs.size() + " documents"));
            stderr.printf("%njamba: %d tokens in %.1f s%n", s.tokens(), (System.nanoTime() - t0) / 1e9);
            ObjectNode out = new ObjectMapper().createObjectNode();
            out.put("documents", s.documents());
            out.put("tokens", s.tokens());
            out.put("nll_per_token", s.nllPerToken());
            out.put("perplexity", s.perplexity());
            stdout.println(out);
        }
        return 0;
    }
}
