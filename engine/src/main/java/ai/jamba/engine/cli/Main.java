package ai.jamba.engine.cli;

import ai.jamba.engine.checkpoint.CheckpointException;
import ai.jamba.engine.serve.EngineException;
import ai.jamba.engine.tokenizer.TokenizerException;
import ai.jamba.kernels.BackendUnavailableException;
import ai.jamba.kernels.CapacityException;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.Arrays;

/** The engine's commands: generate, chat, tokenize, perplexity. Errors are one line on stderr and exit status 1 or 2. */
public final class Main {
    private Main() {}

    public static void main(String[] argv) {
        System.exit(run(argv, System.in, System.out, System.err));
    }

    static int run(String[] argv, InputStream stdin, PrintStream stdout, PrintStream stderr) {
        if (argv.length == 0) {
            stderr.println("usage: ./jamba (generate | chat | tokenize | perplexity) ...");
            return 2;
        }
        String command = argv[0];
        String[] rest = Arrays.copyOfRange(argv, 1, argv.length);
        String usage = switch (command) {
            case "generate" -> GenerateCommand.USAGE;
            case "chat" -> ChatCommand.USAGE;
            case "tokenize" -> TokenizeCommand.USAGE;
            case "perplexity" -> PerplexityCommand.USAGE;
            default -> null;
        };
        if (usage == null) {
            stderr.println("jamba: unknown command " + command);
            return 2;
        }
        if (Arrays.asList(rest).contains("--help")) {
            stderr.println(usage);
            return 0;
        }
        try {
            return switch (command) {
                case "generate" -> GenerateCommand.run(rest, stdout, stderr);
                case "chat" -> ChatCommand.run(rest, stdin, stdout, stderr);
                case "tokenize" -> TokenizeCommand.run(rest, stdout);
                default -> PerplexityCommand.run(rest, stdout, stderr);
            };
        } catch (Args.UsageException e) {
            stderr.println("jamba " + command + ": " + e.getMessage());
            stderr.println(usage);
            return 2;
        } catch (CheckpointException | TokenizerException | BackendUnavailableException | EngineException
                 | CapacityException | IOException e) {
            stderr.println("jamba " + command + ": " + e.getMessage());
            return 1;
        }
    }
}
