package ai.jamba.engine.eval;

import ai.jamba.engine.Fixtures;
import ai.jamba.engine.tokenizer.JambaTokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The demo model's validation documents as token ids. Where the tokenizer's native library is not on the class
 * path (the GPU machine gets no 18 MB DJL jar), {@code -Djamba.test.tokenized=FILE} names the ids written here
 * beforehand by {@link #main}: one document a line, ids separated by spaces.
 */
final class TokenizedDocuments {
    static final String PROPERTY = "jamba.test.tokenized";

    private TokenizedDocuments() {}

    static List<int[]> validation() throws IOException {
        String file = System.getProperty(PROPERTY);
        if (file != null) {
            List<int[]> docs = new ArrayList<>();
            for (String line : Files.readAllLines(Path.of(file)))
                if (!line.isBlank()) docs.add(Arrays.stream(line.trim().split(" ")).mapToInt(Integer::parseInt).toArray());
            return docs;
        }
        try (JambaTokenizer tok = JambaTokenizer.load(Fixtures.demoModel())) {
            return Perplexity.documents(Fixtures.root().resolve("models/jamba-demo-fortunes-valid.jsonl"), tok);
        }
    }

    /** Writes the validation documents' ids to {@code args[0]}. */
    public static void main(String[] args) throws IOException {
        StringBuilder out = new StringBuilder();
        for (int[] doc : validation()) {
            for (int i = 0; i < doc.length; i++) out.append(i == 0 ? "" : " ").append(doc[i]);
            out.append('\n');
        }
        Files.writeString(Path.of(args[0]), out);
    }
}
