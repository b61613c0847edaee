package ai.jamba.service.http;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.StaticHandler;

import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The HTTP side of the service: {@code /health} (200 once the process is up), {@code /ready} (200 once the model
 * is loaded, the broker reachable and the consumer holds its partitions), {@code /metrics} (Prometheus), the chat
 * page at {@code /}, and whatever the transports add to the router (WebSocket chat, OpenAI-style API).
 */
public final class HttpApi {
    private final Vertx vertx;
    private final Router router;
    private HttpServer server;

    public HttpApi(Vertx vertx, PrometheusMeterRegistry registry, BooleanSupplier ready) {
        this.vertx = vertx;
        this.router = Router.router(vertx);
        router.get("/health").handler(ctx -> ctx.response().putHeader("content-type", "application/json").end("{\"status\":\"up\"}"));
        router.get("/ready").handler(ctx -> {
            boolean ok = ready.getAsBoolean();
            ctx.response().setStatusCode(ok ? 200 : 503).putHeader("content-type", "application/json")
                    .end(ok ? "{\"status\":\"ready\"}" : "{\"status\":\"starting\"}");
        });
        router.get("/metrics").handler(ctx -> ctx.response()
                .putHeader("content-type", "text/plain; version=0.0.4; charset=utf-8").end(registry.scrape()));
    }

    /**
     * Lets a transport add its routes. The server listens before the model is loaded (so /health answers
     * during start-up); routes added later take effect at once.
     */
    public HttpApi routes(Consumer<Router> add) {
        add.accept(router);
        return this;
    }

    /** The chat page and its files, after every API route. */
    public HttpApi servePage() {
        router.route("/*").handler(StaticHandler.create("webroot").setCachingEnabled(false));
        return this;
    }

    public Future<HttpServer> listen(String host, int port, int maxFrameBytes) {
        HttpServerOptions options = new HttpServerOptions().setHost(host).setPort(port)
                .setMaxWebSocketFrameSize(maxFrameBytes).setMaxWebSocketMessageSize(maxFrameBytes);
        return vertx.createHttpServer(options).requestHandler(router).listen().onSuccess(s -> server = s);
    }

    public int port() {
        return server.actualPort();
    }

    public Future<Void> close() {
        return server == null ? Future.succeededFuture() : server.close();
    }
}
