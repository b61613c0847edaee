package ai.jamba.service;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

/**
 * Where the service's settings come from, strongest first: command-line options ({@code --http-port 8080}),
 * environment variables ({@code JAMBA_HTTP_PORT=8080}), a properties file ({@code --config FILE}:
 * {@code http-port=8080}), then defaults. Keys under {@code kafka.client.} pass through to the Kafka clients
 * (SASL, TLS for a real cluster) and may only come from the file or the environment.
 */
public final class Settings {
    private final Map<String, String> values;

    private Settings(Map<String, String> values) {
        this.values = values;
    }

    /** Thrown for a setting that is unknown or has the wrong form; the message names it and where it came from. */
    public static final class SettingsException extends RuntimeException {
        public SettingsException(String message) {
            super(message);
        }
    }

    public static Settings of(Map<String, String> values) {
        return new Settings(new LinkedHashMap<>(values));
    }

    /**
     * Merges the sources. {@code known} names every option (without "--"); {@code flags} those that take no
     * value. Unknown options are errors, so a typo is never silently ignored.
     */
    public static Settings load(String[] argv, Map<String, String> env, Set<String> known, Set<String> flags) {
        Map<String, String> cli = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--")) throw new SettingsException("unexpected argument \"" + a + "\"");
            String name = a.substring(2), value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (!known.contains(name) && !flags.contains(name) && !name.equals("config"))
                throw new SettingsException("unknown option --" + name);
            if (value == null) {
                if (flags.contains(name)) value = "true";
                else if (i + 1 < argv.length) value = argv[++i];
                else throw new SettingsException("--" + name + " needs a value");
            }
            cli.put(name, value);
        }
        Map<String, String> merged = new LinkedHashMap<>();
        String file = cli.getOrDefault("config", env.get("JAMBA_CONFIG"));
        if (file != null) merged.putAll(readFile(Path.of(file), known, flags));
        for (Map.Entry<String, String> e : env.entrySet()) {
            String k = e.getKey();
            if (k.startsWith("JAMBA_KAFKA_CLIENT_"))
                merged.put("kafka.client." + k.substring("JAMBA_KAFKA_CLIENT_".length()).toLowerCase().replace('_', '.'), e.getValue());
            else if (k.startsWith("JAMBA_")) {
                String name = k.substring(6).toLowerCase().replace('_', '-');
                if (known.contains(name) || flags.contains(name)) merged.put(name, e.getValue());
            }
        }
        merged.putAll(cli);
        merged.remove("config");
        return new Settings(merged);
    }

    private static Map<String, String> readFile(Path file, Set<String> known, Set<String> flags) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        } catch (IOException e) {
            throw new SettingsException("cannot read config file " + file + ": " + e.getMessage());
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (String k : new TreeSet<>(p.stringPropertyNames())) {
            if (!k.startsWith("kafka.client.") && !known.contains(k) && !flags.contains(k))
                throw new SettingsException(file + ": unknown setting \"" + k + "\"");
            out.put(k, p.getProperty(k).trim());
        }
        return out;
    }

    public String string(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    public int integer(String name, int fallback) {
        String v = values.get(name);
        if (v == null || v.isBlank()) return fallback;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new SettingsException(name + " must be an integer, got \"" + v + "\"");
        }
    }

    public long longValue(String name, long fallback) {
        String v = values.get(name);
        if (v == null || v.isBlank()) return fallback;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new SettingsException(name + " must be an integer, got \"" + v + "\"");
        }
    }

    public boolean bool(String name) {
        String v = values.get(name);
        if (v == null) return false;
        return switch (v.trim().toLowerCase()) {
            case "true", "1", "yes" -> true;
            case "false", "0", "no", "" -> false;
            default -> throw new SettingsException(name + " must be true or false, got \"" + v + "\"");
        };
    }

    /** Settings under a prefix, with the prefix removed (kafka.client.* → client properties). */
    public Map<String, String> withPrefix(String prefix) {
        Map<String, String> out = new LinkedHashMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith(prefix)) out.put(k.substring(prefix.length()), v);
        });
        return out;
    }
}
