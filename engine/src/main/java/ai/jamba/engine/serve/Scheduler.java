package ai.jamba.engine.serve;

/**
 * Which tokens go into the next forward step: continuous batching with chunked prefill.
 *
 * <p>Every running sequence has some tokens it has not fed to the model yet: one, when it is decoding (the token it
 * just sampled), or the rest of its prompt. Each step first takes one token from every sequence that has exactly one
 * (decodes, and prompts on their last token), so decoding never waits, then fills what is left of the token budget
 * with chunks of the longer ones in admission order. A long prompt therefore spreads over several steps, each of which
 * also advances everyone's decoding, instead of stalling them for its whole prefill.
 */
final class Scheduler {
    private Scheduler() {}

    /**
     * @param unfed  per running sequence, in admission order: tokens it has not fed yet (at least 1)
     * @param budget most tokens in the step; at least {@code unfed.length}
     * @return per sequence, how many of its tokens to feed this step (0: none this step)
     */
    static int[] plan(int[] unfed, int budget) {
        int[] take = new int[unfed.length];
        int left = budget;
        for (int i = 0; i < unfed.length; i++) {
            if (unfed[i] == 1) {
                take[i] = 1;
                left--;
            }
        }
        for (int i = 0; i < unfed.length && left > 0; i++) {
            if (unfed[i] > 1) {
                take[i] = Math.min(unfed[i], left);
                left -= take[i];
            }
        }
        return take;
    }
}
