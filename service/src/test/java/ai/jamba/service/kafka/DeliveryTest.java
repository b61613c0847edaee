package ai.jamba.service.kafka;

import ai.jamba.service.Greedy;
import ai.jamba.service.JambaService;
import ai.jamba.service.ServiceProcess;
import ai.jamba.service.TestKafka;
import ai.jamba.service.TestService;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;

import static ai.jamba.service.TestKafka.finalOf;
import static ai.jamba.service.TestKafka.of;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the delivery guarantee promises, tested against a real broker and a real process: no request is lost to a
 * crash, SIGTERM gives every running request its final event, and a session moves with its partition.
 */
class DeliveryTest {
    static final Duration WAIT = Duration.ofSeconds(180);

    static TestKafka kafka;
    static TestKafka.Reader tokens;
    static Topics topics = Topics.load(0, 0);

    @BeforeAll
    static void start() throws Exception {
        kafka = new TestKafka();
        tokens = kafka.reader(topics.tokens());
    }

    @AfterAll
    static void stop() throws Exception {
        if (tokens != null) tokens.close();
        if (kafka != null) kafka.close();
    }

    static String request(String id, String session, String prompt, int maxTokens) {
        var n = TestKafka.JSON.createObjectNode().put("request_id", id);
        if (session != null) n.put("session_id", session);
        return n.put("prompt", prompt).put("max_tokens", maxTokens).put("temperature", 0.8).put("seed", 7).toString();
    }

    @Test
    void killedMidGenerationThenRestartedEveryRequestGetsItsDoneEvent(@TempDir Path data) throws Exception {
        var settings = TestService.settings(kafka.bootstrap(), data);
        settings.put("kafka-group", "crash-test");
        List<String> ids = IntStream.range(0, 8).mapToObj(i -> "crash-" + i).toList();
        ServiceProcess service = ServiceProcess.start(settings, data.resolve("first.log"));
        for (String id : ids) kafka.send(topics.prompts(), id, request(id, null, "The meaning of life is", 200));
        tokens.await(n -> n.path("request_id").asText().startsWith("crash-") && n.path("type").asText().equals("token"), 1, WAIT, "a first token");
        service.kill();
        long unfinished = ids.stream().filter(id -> tokens.matching(finalOf(id)).isEmpty()).count();
        assertTrue(unfinished > 0, "the kill should land while requests are still running (all finished first)");

        ServiceProcess again = ServiceProcess.start(settings, data.resolve("second.log"));
        try {
            for (String id : ids) {
                JsonNode last = tokens.await(finalOf(id), 1, WAIT, "the final event of " + id).getFirst();
                assertEquals("done", last.get("type").asText(), id + ": " + last);
            }
        } finally {
            again.terminate(Duration.ofSeconds(60));
        }
    }

    @Test
    void sigtermGivesEveryRunningRequestItsFinalEvent(@TempDir Path data) throws Exception {
        var settings = TestService.settings(kafka.bootstrap(), data);
        settings.put("kafka-group", "sigterm-test");
        List<String> ids = IntStream.range(0, 4).mapToObj(i -> "term-" + i).toList();
        ServiceProcess service = ServiceProcess.start(settings, data.resolve("service.log"));
        for (String id : ids) kafka.send(topics.prompts(), id, request(id, null, "Never trust a", 300));
        tokens.await(n -> n.path("request_id").asText().startsWith("term-") && n.path("type").asText().equals("token"), 1, WAIT, "a first token");
        service.terminate(Duration.ofSeconds(90));
        for (String id : ids) {
            if (tokens.matching(of(id)).isEmpty()) continue; // never started: it stays for the next instance
            JsonNode last = tokens.await(finalOf(id), 1, Duration.ofSeconds(10), "the final event of " + id).getFirst();
            assertEquals("done", last.get("type").asText(), id + ": " + last);
        }
    }

    @Test
    void aSessionFollowsItsPartitionToAnotherInstance(@TempDir Path dataA, @TempDir Path dataB) throws Exception {
        var a = TestService.settings(kafka.bootstrap(), dataA);
        a.put("kafka-group", "scale-test");
        var b = TestService.settings(kafka.bootstrap(), dataB);
        b.put("kafka-group", "scale-test");
        String p1 = "A programmer walks into a bar", p2 = " and then";
        JsonNode first;
        JambaService second;
        try (JambaService one = TestService.start(a)) {
            kafka.send(topics.prompts(), "moving", KafkaServiceTest.request("move-1", "moving", p1, 12));
            first = tokens.await(finalOf("move-1"), 1, WAIT, "turn 1").getFirst();
            second = TestService.start(b);
        } // the first instance leaves the group: the second now owns every partition
        try {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!second.engine().sessionStore().exists("moving") && System.nanoTime() < deadline) Thread.sleep(100);
            assertTrue(second.engine().sessionStore().exists("moving"), "the session reached the second instance through " + topics.sessions());
            kafka.send(topics.prompts(), "moving", KafkaServiceTest.request("move-2", "moving", p2, 12));
            JsonNode turn2 = tokens.await(finalOf("move-2"), 1, WAIT, "turn 2").getFirst();
            assertEquals(first.get("usage").get("session_tokens").asInt() - 1, turn2.get("usage").get("reused_tokens").asInt(),
                    "the second instance restored the session's state instead of prefilling it again");
            int[] ids1 = Greedy.encode(p1, true);
            int[] all = Greedy.concat(Greedy.concat(ids1, Greedy.of(ids1, 12).ids()), Greedy.encode(p2, false));
            assertEquals(Greedy.of(all, 12).text(), TestKafka.text(tokens.matching(of("move-2"))));
        } finally {
            second.close();
        }
    }
}
