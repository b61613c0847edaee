package ai.jamba.engine.serve;

import ai.jamba.engine.tokenizer.StreamingDetokenizer;

import java.util.List;

/**
 * A sequence's generated ids turned into the text its client sees: whole characters only (the detokenizer holds a
 * character back until its last byte token arrives), cut exactly before the first stop string.
 *
 * <p>Text that could be the start of a stop string is held back until it either completes one (generation stops and
 * it is dropped) or no longer can (it is released). So nothing of a stop string is ever sent, and everything before it
 * is. Not thread-safe: one per sequence.
 */
final class TextStream {
    private final StreamingDetokenizer detokenizer;
    private final List<String> stops;
    private final int longestStop;
    /** Decoded but not yet released: at most the start of a stop string. */
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    /** @param detokenizer null when the model has no tokenizer: every piece of text is then empty */
    TextStream(StreamingDetokenizer detokenizer, List<String> stops) {
        this.detokenizer = detokenizer;
        this.stops = stops;
        this.longestStop = stops.stream().mapToInt(String::length).max().orElse(0);
    }

    /** The text that generated id {@code id} releases, possibly empty. */
    String push(int id) {
        if (stopped || detokenizer == null) return "";
        return release(detokenizer.push(id));
    }

    /** Whether a stop string has completed (the text was cut before it). */
    boolean stopped() {
        return stopped;
    }

    /** At the end of generation: whatever is still held back, unless it completes a stop string. */
    String finish() {
        if (stopped || detokenizer == null) return "";
        String tail = release(detokenizer.flush());
        if (stopped) return tail;
        String rest = held.toString();
        held.setLength(0);
        return tail + rest;
    }

    private String release(String piece) {
        held.append(piece);
        int cut = firstStop();
        if (cut >= 0) {
            stopped = true;
            String out = held.substring(0, cut);
            held.setLength(0);
            return out;
        }
        int keep = longestStopStart();
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** Where the earliest stop string starts in the held text, or -1. */
    private int firstStop() {
        int first = -1;
        for (String s : stops) {
            int at = held.indexOf(s);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        return first;
    }

    /** The length of the longest end of the held text that some stop string starts with. */
    private int longestStopStart() {
        for (int k = Math.min(held.length(), longestStop - 1); k > 0; k--) {
            String end = held.substring(held.length() - k);
            for (String s : stops) if (s.startsWith(end)) return k;
        }
        return 0;
    }
}
