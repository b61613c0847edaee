package ai.jamba.engine.eval;

import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.model.StatePool;
import ai.jamba.kernels.Batch;
import ai.jamba.kernels.Mat;

import ai.jamba.engine.tokenizer.JambaTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Perplexity of tokenised documents: the mean negative log-likelihood of every token after the first, each
 * predicted from the logits at the position before it. Several documents share one forward pass (each is its
 * own sequence in the batch), up to a budget of rows.
 */
public final class Perplexity {
    private Perplexity() {}

    public record Score(int documents, long tokens, double nllPerToken) {
        public double perplexity() {
            return Math.exp(nllPerToken);
        }
    }

    /**
     * The documents of a JSONL file (one {"text": ...} per line), each tokenised as [BOS] + tokens + [EOS].
     * A bad line is an error naming the file and line.
     */
    public static List<int[]> documents(Path jsonl, JambaTokenizer tok) throws IOException {
        ObjectMapper m = new ObjectMapper();
        List<int[]> docs = new ArrayList<>();
        int lineNo = 0;
        for (String line : Files.readAllLines(jsonl)) {
            lineNo++;
            if (line.isBlank()) continue;
            JsonNode n;
            try {
                n = m.readTree(line);
            } catch (IOException e) {
                throw new IllegalArgumentException(jsonl + ":" + lineNo + ": not valid JSON");
            }
            if (n == null || !n.path("text").isTextual()) throw new IllegalArgumentException(jsonl + ":" + lineNo + ": no \"text\" string");
            int[] ids = tok.encode(n.get("text").asText(), true);
            int[] doc = Arrays.copyOf(ids, ids.length + 1);
            doc[ids.length] = tok.eosId();
            docs.add(doc);
        }
        if (docs.isEmpty()) throw new IllegalArgumentException(jsonl + ": no documents");
        return docs;
    }

    /** Rows per forward pass: bounds the activation and logits memory. */
    private static final int ROW_BUDGET = 2048;

    /** {@code progress} is told how many documents are done after each pass. */
    public static Score score(JambaModel model, List<int[]> documents, IntConsumer progress) {
        try (StatePool pool = model.newStatePool()) {
            return score(model, pool, documents, progress);
        }
    }

    private static Score score(JambaModel model, StatePool pool, List<int[]> documents, IntConsumer progress) {
        int vocab = model.config().vocabSize();
        double nll = 0;
        long tokens = 0;
        int done = 0;
        for (int first = 0; first < documents.size(); ) {
            // a group of whole documents; a document longer than the budget goes through alone, in chunks
            List<int[]> group = new ArrayList<>();
            int rows = 0;
            while (first + group.size() < documents.size()) {
                int[] doc = documents.get(first + group.size());
                if (!group.isEmpty() && rows + doc.length > ROW_BUDGET) break;
                group.add(doc);
                rows += doc.length;
            }
            if (group.size() == 1 && group.get(0).length > ROW_BUDGET) {
                int[] doc = group.get(0);
                int slot = pool.acquire();
                for (int start = 0; start < doc.length - 1; start += ROW_BUDGET) {
                    int end = Math.min(doc.length - 1, start + ROW_BUDGET);
                    nll += chunk(model, pool, new int[]{slot}, new int[][]{Arrays.copyOfRange(doc, start, end + 1)}, vocab);
                }
                pool.release(slot);
            } else {
                int[] slots = new int[group.size()];
                for (int i = 0; i < slots.length; i++) slots[i] = pool.acquire();
                nll += chunk(model, pool, slots, group.toArray(int[][]::new), vocab);
                for (int s : slots) pool.release(s);
            }
            for (int[] doc : group) tokens += doc.length - 1;
            first += group.size();
            done += group.size();
            progress.accept(done);
        }
        return new Score(documents.size(), tokens, nll / tokens);
    }

    /**
     * Feeds each piece but its last token (whose successor is not known) and sums -log p(next token).
     * A piece continues its slot's state, so a long document can arrive in consecutive chunks.
     */
    private static double chunk(JambaModel model, StatePool pool, int[] slots, int[][] pieces, int vocab) {
        int[] counts = new int[pieces.length];
        int total = 0;
        for (int i = 0; i < pieces.length; i++) total += counts[i] = pieces[i].length - 1;
        int[] ids = new int[total], rows = new int[total];
        for (int i = 0, at = 0; i < pieces.length; i++)
            for (int t = 0; t < counts[i]; t++, at++) {
                ids[at] = pieces[i][t];
                rows[at] = at;
            }
        Mat logits = model.forward(pool, Batch.of(slots, counts), ids, rows, null);
        float[] host = new float[total * vocab];
        model.backend().download(logits, host);
        double nll = 0;
        for (int i = 0, at = 0; i < pieces.length; i++)
            for (int t = 0; t < counts[i]; t++, at++) nll -= logSoftmax(host, at * vocab, vocab, pieces[i][t + 1]);
        return nll;
    }

    static double logSoftmax(float[] logits, int offset, int n, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp(logits[offset + i] - max);
        return logits[offset + target] - max - Math.log(sum);
    }
}
