package ai.jamba.service;

import ai.jamba.service.kafka.KafkaCli;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.concurrent.CountDownLatch;

/** {@code ./jamba serve} and {@code ./jamba kafka ...}. */
public final class Main {
    private Main() {}

    static final String USAGE = """
            usage: ./jamba serve [--model DIR] [--backend auto|cpu|cuda] [--kafka BOOTSTRAP] [--kafka-port 9092]
                                 [--http-port 8080] [--data-dir ./data] [--config FILE] [--experts-int8] ...
              Without --kafka, a single-node Kafka broker runs inside the process (log under --data-dir).
              Every option can also come from the environment (JAMBA_HTTP_PORT=...) or the --config properties file;
              README.md lists them all.""";

    public static void main(String[] argv) throws Exception {
        if (argv.length > 0 && argv[0].equals("kafka")) {
            try {
                System.exit(KafkaCli.run(Arrays.copyOfRange(argv, 1, argv.length), System.out, System.err));
            } catch (IllegalArgumentException e) {
                System.err.println("jamba kafka: " + e.getMessage());
                System.exit(2);
            }
        }
        String[] rest = argv.length > 0 && argv[0].equals("serve") ? Arrays.copyOfRange(argv, 1, argv.length) : argv;
        if (Arrays.asList(rest).contains("--help")) {
            System.err.println(USAGE);
            return;
        }
        int code = serve(rest);
        if (code != 0) System.exit(code);
    }

    static int serve(String[] argv) throws InterruptedException {
        Logger log = LoggerFactory.getLogger(Main.class);
        ServiceConfig config;
        try {
            config = ServiceConfig.from(Settings.load(argv, System.getenv(), ServiceConfig.OPTIONS, ServiceConfig.FLAGS));
        } catch (Settings.SettingsException e) {
            System.err.println("jamba serve: " + e.getMessage());
            System.err.println(USAGE);
            return 2;
        }
        JambaService service;
        try {
            service = JambaService.start(config);
        } catch (Exception e) {
            System.err.println("jamba serve: cannot start: " + e.getMessage());
            log.debug("start failure", e);
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("service: shutting down (SIGTERM)");
            service.close();
            stopped.countDown();
        }, "jamba-shutdown"));
        log.info("service: ready; stop with Ctrl-C or SIGTERM");
        stopped.await();
        return 0;
    }
}
