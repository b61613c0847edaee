package ai.jamba.engine.session;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** Session ids: a client's own name ({@code [A-Za-z0-9._-]{1,128}}), or a random 128-bit one the server makes. */
public final class SessionIds {
    private SessionIds() {}

    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9._-]{1,128}");
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Whether {@code id} is a valid session id (which also makes it a safe file name). */
    public static boolean valid(String id) {
        return id != null && VALID.matcher(id).matches();
    }

    /** A fresh random id: 32 hex digits, unguessable, so a session id alone does not let others find a session. */
    public static String random() {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}
