package ai.jamba.engine.cli;

import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.model.MemoryPlan;
import ai.jamba.engine.model.StatePool;
import ai.jamba.engine.tokenizer.JambaTokenizer;
import ai.jamba.kernels.Backend;
import ai.jamba.kernels.Backends;
import ai.jamba.kernels.DType;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Set;

/**
 * What the model commands share: {@code --model --backend --threads --experts-int8} opened into a backend,
 * a model and (when the folder has one) a tokenizer, with progress on stderr. On a GPU, the state pools are
 * sized by a {@link MemoryPlan} ({@code --gpu-memory-fraction}, {@code --max-sequences}, {@code --kv-cache-dtype}),
 * printed at start-up; elsewhere they grow on demand.
 */
record LoadedModel(Backend backend, JambaModel model, JambaTokenizer tokenizer, StatePool.Sizing sizing) implements AutoCloseable {

    static final Set<String> VALUED = Set.of("model", "backend", "threads", "gpu-memory-fraction", "max-sequences", "kv-cache-dtype");
    static final Set<String> FLAGS = Set.of("experts-int8");

    static LoadedModel open(Args args, PrintStream log) {
        Path dir = args.model();
        Backend backend = Backends.open(args.string("backend", "auto"), args.integer("threads", 0), log::println);
        try {
            log.println("jamba: " + backend.describe());
            long t0 = System.nanoTime();
            JambaModel model = JambaModel.load(dir, backend, new JambaModel.LoadOptions(args.flag("experts-int8")),
                    (done, total) -> {
                        log.print("\rjamba: loading " + dir + ": layer " + done + "/" + total);
                        if (done == total) log.println();
                    });
            log.printf("jamba: loaded %s (%.1f MB of weights) in %.2f s%n", dir.getFileName(), model.weightBytes() / 1e6,
                    (System.nanoTime() - t0) / 1e9);
            StatePool.Sizing sizing = StatePool.Sizing.UNBOUNDED;
            if (backend.deviceMemory() != null) {
                MemoryPlan plan = MemoryPlan.make(model, args.number("gpu-memory-fraction", 0.9f), args.integer("max-sequences", 8),
                        kvDType(args.string("kv-cache-dtype", "f32")));
                log.println("jamba: " + plan.describe());
                sizing = plan.sizing();
            }
            JambaTokenizer tokenizer = null;
            if (JambaTokenizer.available(dir)) tokenizer = JambaTokenizer.load(dir);
            else log.println("jamba: " + dir + " has no tokenizer.json: token ids only (text is null)");
            return new LoadedModel(backend, model, tokenizer, sizing);
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
    }

    static DType kvDType(String name) {
        return switch (name) {
            case "f32" -> DType.F32;
            case "bf16" -> DType.BF16;
            default -> throw new Args.UsageException("--kv-cache-dtype is f32 or bf16, got " + name);
        };
    }

    JambaTokenizer requireTokenizer(String why) {
        if (tokenizer == null) throw new Args.UsageException(why + " needs a tokenizer, and the model folder has no tokenizer.json");
        return tokenizer;
    }

    @Override
    public void close() {
        if (tokenizer != null) tokenizer.close();
        model.close();
        backend.close();
    }
}
