package ai.jamba.service;

import ai.jamba.engine.generate.Generator;
import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.model.StatePool;
import ai.jamba.engine.tokenizer.JambaTokenizer;
import ai.jamba.engine.tokenizer.StreamingDetokenizer;
import ai.jamba.kernels.SamplingParams;
import ai.jamba.kernels.cpu.CpuBackend;

import java.util.Arrays;

/**
 * What {@code ./jamba generate --greedy --stop-at-eos} gives on the demo model, computed in the test with the plain
 * generation loop (no engine, no service): the generated ids (EOS included when it ends them) and their text (EOS
 * excluded). Every transport's greedy output is held to it.
 */
public record Greedy(int[] ids, String text) {

    /** Greedy generation of up to {@code maxTokens} after {@code prompt}, stopping at EOS. */
    public static Greedy of(int[] prompt, int maxTokens) {
        try (CpuBackend backend = new CpuBackend(1);
             JambaModel model = JambaModel.load(TestService.demoModel(), backend, JambaModel.LoadOptions.DEFAULT, JambaModel.Progress.NONE);
             JambaTokenizer tok = JambaTokenizer.load(TestService.demoModel())) {
            StatePool pool = model.newStatePool();
            StreamingDetokenizer detok = tok.newDetokenizer(prompt);
            StringBuilder text = new StringBuilder();
            var eos = model.config().eosTokenIds();
            int[] ids = Generator.generate(model, pool, pool.acquire(), prompt, maxTokens, SamplingParams.GREEDY, 0,
                    eos::contains, id -> {
                        if (!eos.contains(id)) text.append(detok.push(id));
                        return true;
                    }).ids();
            text.append(detok.flush());
            return new Greedy(ids, text.toString());
        }
    }

    /** The demo tokenizer's ids for {@code text}, with BOS in front when {@code bos}. */
    public static int[] encode(String text, boolean bos) {
        try (JambaTokenizer tok = JambaTokenizer.load(TestService.demoModel())) {
            return tok.encode(text, bos);
        }
    }

    public static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
