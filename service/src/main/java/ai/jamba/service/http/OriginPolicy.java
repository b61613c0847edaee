package ai.jamba.service.http;

import io.vertx.core.net.HostAndPort;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.Locale;

/**
 * Which web pages may open a WebSocket to the chat. Browsers do not apply CORS to WebSockets: any page the user
 * visits could otherwise talk to a server on localhost in the user's name. A browser always says which page opened
 * the socket ({@code Origin}); other clients send none and go on to the API-key check.
 *
 * <ul>
 *   <li>{@code allowed-origins} empty (the default): same origin only, the Origin's host and port equal to the
 *       request's {@code Host}: the chat page served by this server works, other sites do not.</li>
 *   <li>A list: exactly those origins ({@code https://chat.example.com}, {@code http://localhost:3000}), compared
 *       as scheme, host and port; {@code *} allows any.</li>
 * </ul>
 */
public final class OriginPolicy {
    private final List<String> allowed;

    public OriginPolicy(List<String> allowedOrigins) {
        this.allowed = allowedOrigins.stream().map(OriginPolicy::normalise).toList();
    }

    /** Whether a socket opened with {@code origin} (null: none sent) on a request to {@code host} may go on. */
    public boolean allows(String origin, HostAndPort host) {
        if (origin == null) return true;
        if (allowed.contains("*")) return true;
        String o = normalise(origin);
        if (!allowed.isEmpty()) return allowed.contains(o);
        if (host == null) return false;
        try {
            URI u = new URI(o);
            return u.getHost() != null && u.getHost().equalsIgnoreCase(host.host()) && port(u) == port(host, u.getScheme());
        } catch (URISyntaxException e) {
            return false;
        }
    }

    /** Lower case, no trailing slash, the scheme's default port dropped: how browsers write an Origin. */
    private static String normalise(String origin) {
        String o = origin.strip().toLowerCase(Locale.ROOT);
        if (o.endsWith("/")) o = o.substring(0, o.length() - 1);
        return o.replaceFirst("^(http|ws)://([^/]+):80$", "$1://$2").replaceFirst("^(https|wss)://([^/]+):443$", "$1://$2");
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : defaultPort(u.getScheme());
    }

    /** A Host header without a port means the default port of the scheme the page was loaded with. */
    private static int port(HostAndPort host, String scheme) {
        return host.port() >= 0 ? host.port() : defaultPort(scheme);
    }

    private static int defaultPort(String scheme) {
        return "https".equals(scheme) || "wss".equals(scheme) ? 443 : 80;
    }
}
