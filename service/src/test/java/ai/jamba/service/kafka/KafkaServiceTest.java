package ai.jamba.service.kafka;

import ai.jamba.service.Greedy;
import ai.jamba.service.JambaService;
import ai.jamba.service.TestKafka;
import ai.jamba.service.TestService;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.TestMethodOrder;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;

import static ai.jamba.service.TestKafka.finalOf;
import static ai.jamba.service.TestKafka.of;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The main job: prompts produced to jamba.prompts stream their tokens to jamba.tokens, on a real broker. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KafkaServiceTest {
    static final Duration WAIT = Duration.ofSeconds(120);

    @TempDir
    static Path data;

    static TestKafka kafka;
    static JambaService service;
    static TestKafka.Reader tokens, errors;
    static Topics topics = Topics.load(0, 0);

    @BeforeAll
    static void start() throws Exception {
        kafka = new TestKafka();
        service = TestService.start(TestService.settings(kafka.bootstrap(), data));
        tokens = kafka.reader(topics.tokens());
        errors = kafka.reader(topics.errors());
    }

    @AfterAll
    static void stop() throws Exception {
        if (tokens != null) tokens.close();
        if (errors != null) errors.close();
        if (service != null) service.close();
        if (kafka != null) kafka.close();
    }

    static String request(String id, String session, String prompt, int maxTokens) {
        var n = TestKafka.JSON.createObjectNode().put("request_id", id);
        if (session != null) n.put("session_id", session);
        return n.put("prompt", prompt).put("max_tokens", maxTokens).put("temperature", 0).toString();
    }

    static JsonNode done(String requestId) {
        JsonNode last = tokens.await(finalOf(requestId), 1, WAIT, "final event of " + requestId).getFirst();
        assertEquals("done", last.get("type").asText(), requestId + " ended with " + last);
        return last;
    }

    @Test
    void greedyPromptStreamsWhatGenerateGives() {
        String prompt = "The meaning of life is";
        kafka.send(topics.prompts(), "r-greedy", request("r-greedy", null, prompt, 64));
        JsonNode done = done("r-greedy");
        Greedy expected = Greedy.of(Greedy.encode(prompt, true), 64);
        assertEquals(expected.text(), TestKafka.text(tokens.matching(of("r-greedy"))));
        assertEquals(expected.ids().length, done.get("usage").get("completion_tokens").asInt());
        assertTrue(done.get("session_id").asText().matches("[A-Za-z0-9._-]{1,128}"));
    }

    @Test
    void aSecondRequestOfTheSessionResumesIt() {
        String p1 = "A programmer walks into a bar", p2 = " and then";
        kafka.send(topics.prompts(), "s-resume", request("r-turn1", "s-resume", p1, 12));
        JsonNode first = done("r-turn1");
        kafka.send(topics.prompts(), "s-resume", request("r-turn2", "s-resume", p2, 12));
        JsonNode second = done("r-turn2");

        // one greedy run over P1 + O1 + P2 (no BOS before P2) gives what turn 2 gave
        int[] ids1 = Greedy.encode(p1, true);
        Greedy o1 = Greedy.of(ids1, 12);
        int[] all = Greedy.concat(Greedy.concat(ids1, o1.ids()), Greedy.encode(p2, false));
        assertEquals(Greedy.of(all, 12).text(), TestKafka.text(tokens.matching(of("r-turn2"))));
        // every token of turn 1 but its last sampled one (never fed to the model) is restored, not computed again
        assertEquals(first.get("usage").get("session_tokens").asInt() - 1, second.get("usage").get("reused_tokens").asInt(),
                "turn 2 restores turn 1's state instead of re-reading it");
        assertEquals("s-resume", second.get("session_id").asText());
    }

    @Test
    void badRecordsGetErrorsAndEverythingElseCompletes() {
        String t = topics.prompts();
        kafka.send(t, "ok-before", request("ok-before", null, "You will", 8));
        kafka.send(t, "bad-json", "{not json");
        kafka.send(t, "b-missing", "{\"request_id\":\"b-missing\",\"max_tokens\":5}");
        kafka.send(t, "b-two", "{\"request_id\":\"b-two\",\"prompt\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        kafka.send(t, "b-dup", "{\"request_id\":\"b-dup\",\"prompt\":\"x\",\"prompt\":\"y\"}");
        kafka.send(t, "b-type", "{\"request_id\":\"b-type\",\"prompt\":\"x\",\"max_tokens\":\"ten\"}");
        kafka.send(t, "b-zero", "{\"request_id\":\"b-zero\",\"prompt\":\"x\",\"max_tokens\":0}");
        kafka.send(t, "b-huge", "{\"request_id\":\"b-huge\",\"prompt\":\"x\",\"max_tokens\":100000}");
        int[] longPrompt = IntStream.range(0, 600).map(i -> 100 + i % 1000).toArray();
        kafka.send(t, "b-context", "{\"request_id\":\"b-context\",\"prompt_ids\":" + Arrays.toString(longPrompt) + "}");
        byte[] badUtf8 = "{\"request_id\":\"b-utf8\",\"prompt\":\"\u0000\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        badUtf8 = Arrays.copyOf(badUtf8, badUtf8.length + 2);
        badUtf8[badUtf8.length - 2] = (byte) 0xff;
        badUtf8[badUtf8.length - 1] = (byte) 0xfe;
        kafka.send(t, "b-utf8", badUtf8);
        byte[] tenMb = new byte[10 << 20];
        Arrays.fill(tenMb, (byte) 'a');
        kafka.send(t, "b-10mb", tenMb);
        kafka.send(t, "ok-after", request("ok-after", null, "Never trust a", 8));

        done("ok-before");
        done("ok-after");
        for (String id : List.of("b-missing", "b-two", "b-type", "b-zero", "b-huge", "b-context")) {
            JsonNode e = tokens.await(finalOf(id), 1, WAIT, "error event of " + id).getFirst();
            assertEquals("error", e.get("type").asText(), id + ": " + e);
            assertEquals("invalid_request", e.get("error").get("code").asText(), id + ": " + e);
        }
        List<JsonNode> errs = errors.await(n -> true, 9, WAIT, "records on jamba.errors");
        List<String> codes = new ArrayList<>(errs.stream().map(n -> n.get("code").asText()).toList());
        for (String code : List.of("invalid_json", "invalid_utf8", "request_too_large")) assertTrue(codes.contains(code), code + " in " + codes);
        JsonNode big = errs.stream().filter(n -> n.get("code").asText().equals("request_too_large")).findFirst().orElseThrow();
        assertEquals(10 << 20, big.get("value_bytes").asInt());
        assertEquals(TokenWriter.RAW_VALUE_LIMIT, big.get("value").asText().length(), "the raw value is kept up to 64 KB");
    }

    @Test
    void fiftyConcurrentSessionsCompleteInBatches() {
        List<String> ids = IntStream.range(0, 50).mapToObj(i -> "many-" + i).toList();
        for (int i = 0; i < ids.size(); i++)
            kafka.send(topics.prompts(), "sess-" + i, request(ids.get(i), "sess-" + i, i % 2 == 0 ? "The meaning of" : "Q: Why", 16));
        for (String id : ids) done(id);
        assertTrue(service.maxBatchSequences() > 1, "requests ran batched (max batch " + service.maxBatchSequences() + ")");
    }

    @Test
    @Order(Integer.MAX_VALUE)
    void everyRecordFollowsItsSchemaInKafkaConfig() throws Exception {
        var factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012);
        JsonSchema tokenSchema = factory.getSchema(schema("token-event")), errorSchema = factory.getSchema(schema("error-record"));
        List<JsonNode> all = tokens.matching(n -> true), errs = errors.matching(n -> true);
        assertTrue(all.size() > 50 && !errs.isEmpty(), "the other tests wrote records to check");
        for (JsonNode n : all) assertEquals(Set.of(), tokenSchema.validate(n), "jamba.tokens record " + n);
        for (JsonNode n : errs) assertEquals(Set.of(), errorSchema.validate(n), "jamba.errors record " + n);
        JsonSchema promptSchema = factory.getSchema(schema("prompt"));
        assertEquals(Set.of(), promptSchema.validate(TestKafka.JSON.readTree(request("r", "s", "hi", 4))));
        assertTrue(!promptSchema.validate(TestKafka.JSON.readTree("{\"request_id\":\"b\",\"prompt\":\"x\",\"prompt_ids\":[1]}")).isEmpty(),
                "the prompt schema also says: exactly one of prompt, messages, prompt_ids");
    }

    static java.io.InputStream schema(String name) {
        return KafkaServiceTest.class.getResourceAsStream("/kafka-config/schemas/" + name + ".schema.json");
    }
}
