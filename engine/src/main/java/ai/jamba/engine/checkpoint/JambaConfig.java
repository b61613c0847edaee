package ai.jamba.engine.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A Jamba checkpoint's {@code config.json}: every field the architecture uses, with transformers' JambaConfig
 * defaults for the ones a file leaves out.
 *
 * <pre>
 * glossary (symbol in the Mamba paper)
 *   hidden_size      D   width of the residual stream
 *   d_inner          E·D channels inside a Mamba layer (mamba_expand × hidden_size)
 *   d_state          N   SSM state size per channel
 *   d_conv               width of the causal depthwise conv
 *   dt_rank          R   rank of the Δ projection (x_proj → dt_proj)
 *   num_experts      E   experts in a MoE layer; num_experts_per_tok = top-k
 *   attn_layer_period/offset    layer i is attention iff i % period == offset (else Mamba)
 *   expert_layer_period/offset  layer i is MoE iff i % period == offset (else a dense MLP)
 * </pre>
 */
public record JambaConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        float rmsNormEps,
        int numExperts,
        int numExpertsPerTok,
        int expertLayerPeriod,
        int expertLayerOffset,
        int attnLayerPeriod,
        int attnLayerOffset,
        int mambaDState,
        int mambaDConv,
        int mambaExpand,
        int mambaDtRank,
        boolean mambaConvBias,
        boolean mambaProjBias,
        boolean tieWordEmbeddings,
        int bosTokenId,
        List<Integer> eosTokenIds,
        int padTokenId,
        int maxPositionEmbeddings) {

    public JambaConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
        List<String> problems = new ArrayList<>();
        positive(problems, "vocab_size", vocabSize);
        positive(problems, "hidden_size", hiddenSize);
        positive(problems, "intermediate_size", intermediateSize);
        positive(problems, "num_hidden_layers", numHiddenLayers);
        positive(problems, "num_attention_heads", numAttentionHeads);
        positive(problems, "num_key_value_heads", numKeyValueHeads);
        positive(problems, "num_experts", numExperts);
        positive(problems, "num_experts_per_tok", numExpertsPerTok);
        positive(problems, "expert_layer_period", expertLayerPeriod);
        positive(problems, "attn_layer_period", attnLayerPeriod);
        positive(problems, "mamba_d_state", mambaDState);
        positive(problems, "mamba_d_conv", mambaDConv);
        positive(problems, "mamba_expand", mambaExpand);
        positive(problems, "mamba_dt_rank", mambaDtRank);
        if (!(rmsNormEps > 0)) problems.add("rms_norm_eps must be > 0, got " + rmsNormEps);
        if (numAttentionHeads > 0 && hiddenSize % numAttentionHeads != 0)
            problems.add("hidden_size " + hiddenSize + " is not divisible by num_attention_heads " + numAttentionHeads);
        if (numKeyValueHeads > 0 && numAttentionHeads % numKeyValueHeads != 0)
            problems.add("num_attention_heads " + numAttentionHeads + " is not divisible by num_key_value_heads " + numKeyValueHeads);
        if (numExpertsPerTok > numExperts)
            problems.add("num_experts_per_tok " + numExpertsPerTok + " exceeds num_experts " + numExperts);
        if (expertLayerPeriod > 0 && (expertLayerOffset < 0 || expertLayerOffset >= expertLayerPeriod))
            problems.add("expert_layer_offset " + expertLayerOffset + " is not in [0, expert_layer_period " + expertLayerPeriod + ")");
        if (attnLayerPeriod > 0 && (attnLayerOffset < 0 || attnLayerOffset >= attnLayerPeriod))
            problems.add("attn_layer_offset " + attnLayerOffset + " is not in [0, attn_layer_period " + attnLayerPeriod + ")");
        for (int id : eosTokenIds)
            if (id < 0 || id >= vocabSize) problems.add("eos_token_id " + id + " is outside the vocabulary of " + vocabSize);
        if (!problems.isEmpty()) throw new CheckpointException("invalid Jamba config: " + String.join("; ", problems));
    }

    private static void positive(List<String> problems, String field, int value) {
        if (value <= 0) problems.add(field + " must be > 0, got " + value);
    }

    /** Channels inside a Mamba layer. */
    public int dInner() {
        return mambaExpand * hiddenSize;
    }

    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    public boolean isAttentionLayer(int layer) {
        return layer % attnLayerPeriod == attnLayerOffset;
    }

    public boolean isExpertLayer(int layer) {
        return numExperts > 1 && layer % expertLayerPeriod == expertLayerOffset;
    }

    /** Reads {@code dir/config.json}. */
    public static JambaConfig load(Path dir) {
        Path file = dir.resolve("config.json");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file + ": not found (a Hugging Face checkpoint folder has a config.json)");
        } catch (JsonProcessingException e) {
            throw new CheckpointException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new CheckpointException(file + ": expected a JSON object");
        try {
            return parse(root);
        } catch (CheckpointException e) {
            throw new CheckpointException(file + ": " + e.getMessage(), e);
        }
    }

    /** A config from a parsed config.json object. */
    public static JambaConfig parse(JsonNode c) {
        String type = c.path("model_type").asText("");
        if (!type.equals("jamba")) throw new CheckpointException("model_type is \"" + type + "\", expected \"jamba\"");
        String act = c.path("hidden_act").asText("silu");
        if (!act.equals("silu")) throw new CheckpointException("hidden_act \"" + act + "\" is not supported (Jamba uses silu)");
        int hidden = integer(c, "hidden_size", 4096);
        JsonNode dtRank = c.get("mamba_dt_rank");
        int rank = dtRank == null || dtRank.isNull() || dtRank.asText().equals("auto")
                ? (hidden + 15) / 16
                : integer(c, "mamba_dt_rank", 0);
        List<Integer> eos = new ArrayList<>();
        JsonNode e = c.get("eos_token_id");
        if (e == null || e.isNull()) eos.add(2);
        else if (e.isArray()) e.forEach(n -> eos.add(n.asInt()));
        else eos.add(integer(c, "eos_token_id", 2));
        return new JambaConfig(
                integer(c, "vocab_size", 65536),
                hidden,
                integer(c, "intermediate_size", 14336),
                integer(c, "num_hidden_layers", 32),
                integer(c, "num_attention_heads", 32),
                integer(c, "num_key_value_heads", 8),
                (float) number(c, "rms_norm_eps", 1e-6),
                integer(c, "num_experts", 16),
                integer(c, "num_experts_per_tok", 2),
                integer(c, "expert_layer_period", 2),
                integer(c, "expert_layer_offset", 1),
                integer(c, "attn_layer_period", 8),
                integer(c, "attn_layer_offset", 4),
                integer(c, "mamba_d_state", 16),
                integer(c, "mamba_d_conv", 4),
                integer(c, "mamba_expand", 2),
                rank,
                bool(c, "mamba_conv_bias", true),
                bool(c, "mamba_proj_bias", false),
                bool(c, "tie_word_embeddings", false),
                integer(c, "bos_token_id", 1),
                eos,
                integer(c, "pad_token_id", 0),
                integer(c, "max_position_embeddings", 262144));
    }

    private static int integer(JsonNode c, String field, int fallback) {
        JsonNode n = c.get(field);
        if (n == null || n.isNull()) return fallback;
        if (!n.isIntegralNumber() || !n.canConvertToInt()) throw new CheckpointException(field + " must be an integer, got " + n);
        return n.intValue();
    }

    private static double number(JsonNode c, String field, double fallback) {
        JsonNode n = c.get(field);
        if (n == null || n.isNull()) return fallback;
        if (!n.isNumber()) throw new CheckpointException(field + " must be a number, got " + n);
        return n.doubleValue();
    }

    private static boolean bool(JsonNode c, String field, boolean fallback) {
        JsonNode n = c.get(field);
        if (n == null || n.isNull()) return fallback;
        if (!n.isBoolean()) throw new CheckpointException(field + " must be true or false, got " + n);
        return n.booleanValue();
    }
}
