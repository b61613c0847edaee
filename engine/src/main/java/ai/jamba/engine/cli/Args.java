package ai.jamba.engine.cli;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Command-line options: {@code --name value} and bare {@code --flag}s. Each command declares what it
 * accepts, so a misspelt option is an error that names it rather than something silently ignored.
 */
public final class Args {
    private final Map<String, String> values = new HashMap<>();
    private final Set<String> flags = new HashSet<>();

    /** Thrown for bad usage; the message is shown as it is, with the command's usage. */
    public static final class UsageException extends RuntimeException {
        public UsageException(String message) {
            super(message);
        }
    }

    /**
     * @param valued options that take a value (without "--")
     * @param flagNames options that take none
     */
    public static Args parse(String[] argv, Set<String> valued, Set<String> flagNames) {
        Args a = new Args();
        for (int i = 0; i < argv.length; i++) {
            String arg = argv[i];
            if (!arg.startsWith("--")) throw new UsageException("unexpected argument \"" + arg + "\"");
            String name = arg.substring(2);
            String inline = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                inline = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (flagNames.contains(name) && inline == null) a.flags.add(name);
            else if (valued.contains(name)) {
                if (inline == null && i + 1 >= argv.length) throw new UsageException("--" + name + " needs a value");
                a.values.put(name, inline != null ? inline : argv[++i]);
            } else throw new UsageException("unknown option --" + name);
        }
        return a;
    }

    public boolean has(String name) {
        return values.containsKey(name) || flags.contains(name);
    }

    public boolean flag(String name) {
        return flags.contains(name);
    }

    public String string(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    public String required(String name) {
        String v = values.get(name);
        if (v == null) throw new UsageException("--" + name + " is required");
        return v;
    }

    public int integer(String name, int fallback) {
        String v = values.get(name);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be an integer, got \"" + v + "\"");
        }
    }

    public long longValue(String name, long fallback) {
        String v = values.get(name);
        if (v == null) return fallback;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be an integer, got \"" + v + "\"");
        }
    }

    public float number(String name, float fallback) {
        String v = values.get(name);
        if (v == null) return fallback;
        try {
            return Float.parseFloat(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be a number, got \"" + v + "\"");
        }
    }

    /** A comma-separated list of integers ("1,2,3"). */
    public int[] ints(String name) {
        String v = required(name);
        String[] parts = v.split(",");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                out[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new UsageException("--" + name + " must be comma-separated integers, got \"" + v + "\"");
            }
        }
        return out;
    }

    /** --session-dir, defaulting to data/sessions in the repo the launcher runs from. */
    public Path sessionDir() {
        String dir = string("session-dir", null);
        if (dir != null) return Path.of(dir);
        return Path.of(System.getProperty("jamba.home", ".")).resolve("data/sessions");
    }

    /** --model, defaulting to the demo model in the repo the launcher runs from. */
    public Path model() {
        String dir = string("model", null);
        if (dir != null) return Path.of(dir);
        return Path.of(System.getProperty("jamba.home", ".")).resolve("models/jamba-demo-fortunes");
    }
}
