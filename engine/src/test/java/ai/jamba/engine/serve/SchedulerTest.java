package ai.jamba.engine.serve;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How a step's token budget is shared: decodes first, then prompt chunks in admission order. */
class SchedulerTest {

    @Test
    void everyDecodingSequenceFeedsItsTokenEveryStep() {
        assertArrayEquals(new int[]{1, 5, 1, 1}, Scheduler.plan(new int[]{1, 500, 1, 1}, 8));
    }

    @Test
    void promptsAreChunkedInAdmissionOrderUnderTheBudget() {
        assertArrayEquals(new int[]{6, 0}, Scheduler.plan(new int[]{10, 7}, 6), "the first prompt takes what is left");
        assertArrayEquals(new int[]{4, 2}, Scheduler.plan(new int[]{4, 7}, 6), "and what it does not need goes to the next");
        assertArrayEquals(new int[]{1, 1}, Scheduler.plan(new int[]{1, 1}, 2));
    }

    @Test
    void aLongPromptSpreadsOverStepsWhileEveryoneElseKeepsDecoding() {
        int budget = 64;
        int[] unfed = {3000, 1, 1}; // a 3000-token prompt admitted first, two sequences decoding
        int steps = 0;
        while (unfed[0] > 0) {
            int[] take = Scheduler.plan(unfed, budget);
            assertEquals(1, take[1], "step " + steps + ": decoding went on");
            assertEquals(1, take[2], "step " + steps + ": decoding went on");
            assertTrue(Arrays.stream(take).sum() <= budget, "step " + steps + " is within the budget");
            unfed[0] -= take[0];
            steps++;
        }
        assertEquals((3000 + 61) / 62, steps, "the prompt used all the budget the decodes left");
    }
}
