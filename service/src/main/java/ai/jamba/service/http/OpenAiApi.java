package ai.jamba.service.http;

import ai.jamba.engine.serve.EngineException;
import ai.jamba.engine.serve.RequestHandle;
import ai.jamba.service.EventJson;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Future;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletionException;

/**
 * The OpenAI-compatible HTTP API under {@code /v1}:
 * <ul>
 *   <li>{@code POST /v1/chat/completions}, {@code POST /v1/completions}: one completion, whole or streamed
 *       ({@link OpenAiRequest} reads the body, {@link CompletionResponse} writes the answer);</li>
 *   <li>{@code GET /v1/models}, {@code GET /v1/models/{name}}: the one model, named after its folder;</li>
 *   <li>{@code DELETE /v1/sessions/{id}}: ends a conversation.</li>
 * </ul>
 * Every request is authenticated first (with API keys configured), then its body is read up to the size limit
 * (413 beyond). Errors have OpenAI's shape and status: 400, 401, 403, 404, 409 (a session busy with another turn),
 * 413, 429 (the key's rate or concurrency), 503 (the engine's queue is full, or it is shutting down).
 */
public final class OpenAiApi {
    private static final Logger log = LoggerFactory.getLogger(OpenAiApi.class);
    private static final String OWNER = "jamba.owner";

    private final Generations generations;
    private final OpenAiRequest.Limits limits;
    private final long created = System.currentTimeMillis() / 1000;

    private OpenAiApi(Generations generations, OpenAiRequest.Limits limits) {
        this.generations = generations;
        this.limits = limits;
    }

    public static void mount(Router router, Generations generations, OpenAiRequest.Limits limits, int maxBodyBytes) {
        OpenAiApi api = new OpenAiApi(generations, limits);
        BodyHandler body = BodyHandler.create(false).setBodyLimit(maxBodyBytes);
        router.route("/v1/*").handler(api::authenticate);
        router.post("/v1/chat/completions").handler(body).handler(ctx -> api.complete(ctx, OpenAiRequest.Kind.CHAT));
        router.post("/v1/completions").handler(body).handler(ctx -> api.complete(ctx, OpenAiRequest.Kind.TEXT));
        router.get("/v1/models").handler(api::models);
        router.get("/v1/models/:model").handler(api::model);
        router.delete("/v1/sessions/:id").handler(api::deleteSession);
        router.route("/v1/*").handler(ctx -> { throw new ApiError(404, "not_found", ctx.request().method() + " " + ctx.normalizedPath() + " is not part of this API"); });
        router.route("/v1/*").failureHandler(api::fail);
    }

    private void authenticate(RoutingContext ctx) {
        ctx.put(OWNER, generations.access().authenticate(ctx.request().getHeader("Authorization"), null));
        ctx.next();
    }

    private void complete(RoutingContext ctx, OpenAiRequest.Kind kind) {
        JsonNode body;
        try {
            body = EventJson.JSON.readTree(ctx.body().asString());
        } catch (JsonProcessingException e) {
            throw new ApiError(400, "invalid_json", "the body is not valid JSON: " + e.getOriginalMessage());
        }
        OpenAiRequest request = OpenAiRequest.parse(kind, body, ctx.request().getHeader("X-Session-Id"), ctx.get(OWNER), limits);
        CompletionResponse response = new CompletionResponse(kind, request, limits.model(), ctx.response());
        RequestHandle handle = generations.start(endpoint(ctx), request.generation(), response::accept);
        response.started(handle.requestId(), handle.sessionId());
        ctx.response().closeHandler(v -> handle.cancel()); // the client hung up: stop generating for nobody
    }

    private void models(RoutingContext ctx) {
        ObjectNode list = EventJson.JSON.createObjectNode().put("object", "list");
        list.putArray("data").add(modelJson());
        ok(ctx, list);
    }

    private void model(RoutingContext ctx) {
        if (!ctx.pathParam("model").equals(limits.model()))
            throw new ApiError(404, "model_not_found", "the model \"" + ctx.pathParam("model") + "\" does not exist; this server has \"" + limits.model() + "\"");
        ok(ctx, modelJson());
    }

    private ObjectNode modelJson() {
        return EventJson.JSON.createObjectNode().put("id", limits.model()).put("object", "model").put("created", created).put("owned_by", "jamba");
    }

    private void deleteSession(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        Future.fromCompletionStage(generations.engine().deleteSession(id, ctx.get(OWNER)), ctx.vertx().getOrCreateContext())
                .onSuccess(existed -> {
                    if (!existed) ctx.fail(new ApiError(404, "session_not_found", "there is no session " + id));
                    else ok(ctx, EventJson.JSON.createObjectNode().put("id", id).put("object", "session").put("deleted", true));
                })
                .onFailure(ctx::fail);
    }

    private void ok(RoutingContext ctx, ObjectNode body) {
        generations.metrics().count(endpoint(ctx), "ok");
        ctx.response().putHeader("content-type", "application/json").end(body.toString());
    }

    private void fail(RoutingContext ctx) {
        ApiError e = error(ctx);
        generations.metrics().count(endpoint(ctx), e.code());
        if (ctx.response().headWritten()) ctx.response().reset(); // mid-stream: nothing sensible can be written any more
        else e.send(ctx.response());
    }

    private ApiError error(RoutingContext ctx) {
        Throwable f = ctx.failure() instanceof CompletionException c && c.getCause() != null ? c.getCause() : ctx.failure();
        if (f instanceof ApiError e) return e;
        if (f instanceof EngineException e) return ApiError.of(e);
        if (ctx.statusCode() == 413) return new ApiError(413, "request_too_large", "the body is larger than the limit (max-request-bytes)");
        if (f == null) return new ApiError(ctx.statusCode(), "http_" + ctx.statusCode(), "the request failed with HTTP status " + ctx.statusCode());
        log.error("http: {} {} failed", ctx.request().method(), ctx.normalizedPath(), f);
        return new ApiError(500, "internal", "the server failed: " + f);
    }

    /** A request's endpoint, as the metrics name it. */
    private static String endpoint(RoutingContext ctx) {
        String path = ctx.normalizedPath();
        if (path.equals("/v1/chat/completions")) return "chat_completions";
        if (path.equals("/v1/completions")) return "completions";
        if (path.startsWith("/v1/models")) return "models";
        if (path.startsWith("/v1/sessions/")) return "sessions";
        return "other";
    }
}
