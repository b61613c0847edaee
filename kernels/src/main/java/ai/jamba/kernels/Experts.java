package ai.jamba.kernels;

/**
 * The weights of a mixture-of-experts feed-forward block as a backend lays them out (stacked, quantised,
 * resident on a device): a router [num_experts, hidden] and, per expert, SiLU-gated MLP weights
 * gate/up [intermediate, hidden] and down [hidden, intermediate].
 */
public interface Experts {
    int numExperts();

    /** Experts each token is routed to (num_experts_per_tok). */
    int topK();

    /** Bytes the expert weights (and router) occupy. */
    long bytes();
}
