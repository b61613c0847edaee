package ai.jamba.service.http;

import io.vertx.core.net.HostAndPort;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which pages may open the chat socket. */
class OriginPolicyTest {
    static final HostAndPort SERVER = HostAndPort.create("chat.example.com", 8080);

    @Test
    void clientsThatSendNoOriginGoOnToTheKeyCheck() {
        assertTrue(new OriginPolicy(List.of()).allows(null, SERVER));
        assertTrue(new OriginPolicy(List.of("https://elsewhere.example")).allows(null, SERVER));
    }

    @Test
    void byDefaultOnlyPagesOfTheServerItself() {
        OriginPolicy sameOrigin = new OriginPolicy(List.of());
        assertTrue(sameOrigin.allows("http://chat.example.com:8080", SERVER));
        assertTrue(sameOrigin.allows("http://CHAT.example.com:8080/", SERVER));
        assertFalse(sameOrigin.allows("http://chat.example.com:8081", SERVER), "another port is another origin");
        assertFalse(sameOrigin.allows("http://evil.example:8080", SERVER));
        assertFalse(sameOrigin.allows("null", SERVER), "sandboxed pages and files say \"null\"");
        // without a port, Host and Origin both mean their scheme's default
        assertTrue(sameOrigin.allows("https://chat.example.com", HostAndPort.create("chat.example.com", -1)));
        assertTrue(sameOrigin.allows("http://chat.example.com", HostAndPort.create("chat.example.com", 80)));
        assertFalse(sameOrigin.allows("https://chat.example.com", HostAndPort.create("chat.example.com", 80)));
    }

    @Test
    void aListAllowsExactlyItsOriginsAndStarAllowsAny() {
        OriginPolicy listed = new OriginPolicy(List.of("https://app.example.com", "http://localhost:3000/"));
        assertTrue(listed.allows("https://app.example.com", SERVER));
        assertTrue(listed.allows("https://app.example.com:443", SERVER), "the default port is the same origin");
        assertTrue(listed.allows("http://localhost:3000", SERVER));
        assertFalse(listed.allows("http://app.example.com", SERVER), "another scheme is another origin");
        assertFalse(listed.allows("http://chat.example.com:8080", SERVER), "a list replaces the same-origin default");
        assertTrue(new OriginPolicy(List.of("*")).allows("https://anything.example", SERVER));
    }
}
