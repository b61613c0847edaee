package ai.jamba.engine.cli;

import ai.jamba.engine.tokenizer.JambaTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintStream;
import java.util.Set;

/** {@code tokenize}: prints {"ids":[..],"tokens":[..]} for a text (BOS first unless --no-bos). */
final class TokenizeCommand {
    private TokenizeCommand() {}

    static final String USAGE = "usage: ./jamba tokenize [--model DIR] --text TEXT [--no-bos]";

    static int run(String[] argv, PrintStream stdout) {
        Args args = Args.parse(argv, Set.of("model", "text"), Set.of("no-bos"));
        String text = args.required("text");
        try (JambaTokenizer tok = JambaTokenizer.load(args.model())) {
            boolean bos = !args.flag("no-bos");
            int[] ids = tok.encode(text, bos);
            String[] pieces = tok.tokens(text);
            ObjectMapper m = new ObjectMapper();
            ObjectNode out = m.createObjectNode();
            out.set("ids", m.valueToTree(ids));
            var tokens = out.putArray("tokens");
            if (bos) tokens.add(tok.bosToken());
            for (String p : pieces) tokens.add(p);
            stdout.println(out);
        }
        return 0;
    }
}
