package ai.jamba.engine.cli;

import ai.jamba.engine.model.JambaModel;
import ai.jamba.engine.serve.Engine;
import ai.jamba.engine.serve.EngineConfig;
import ai.jamba.engine.serve.EngineException;
import ai.jamba.engine.serve.GenerationEvent;
import ai.jamba.engine.serve.GenerationRequest;
import ai.jamba.engine.session.SessionStoreConfig;
import ai.jamba.engine.tokenizer.JambaTokenizer;

import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;

/** The commands' use of the serving engine: one engine with sessions in a directory, one turn at a time, streamed. */
final class EngineTurn {
    private EngineTurn() {}

    /** An engine for a terminal: one sequence at a time, sessions kept in {@code sessionDir}. */
    static Engine start(JambaModel model, JambaTokenizer tokenizer, Path sessionDir) {
        return Engine.start(model, tokenizer, EngineConfig.defaults().withMaxRunningSequences(1)
                .withSessions(SessionStoreConfig.defaults().withDirectory(sessionDir)));
    }

    /**
     * Runs one turn, handing its text to {@code onText} as it comes.
     *
     * @throws EngineException when the engine turns it down or it fails
     */
    static GenerationEvent.Done run(Engine engine, GenerationRequest request, Consumer<String> onText) {
        var handle = engine.submit(request, event -> {
            if (event instanceof GenerationEvent.Token t && !t.text().isEmpty()) onText.accept(t.text());
        });
        GenerationEvent last;
        try {
            last = handle.completion().get();
        } catch (InterruptedException e) {
            handle.cancel();
            Thread.currentThread().interrupt();
            throw new EngineException(EngineException.Code.UNAVAILABLE, "interrupted");
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        if (last instanceof GenerationEvent.Error(String id, EngineException.Code code, String message))
            throw new EngineException(code, message);
        return (GenerationEvent.Done) last;
    }
}
