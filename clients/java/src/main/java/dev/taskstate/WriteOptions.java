package dev.taskstate;

/**
 * The conditions of a write ({@code updateStatus}, {@code setVariables}, {@code putIfVersion}):
 * an expected version (compare-and-swap) and a fencing token (only while that lease is the task's
 * live one, else {@link LeaseLostException}). Both optional.
 *
 * <pre>{@code
 * long token = task.lease().fencingToken();
 * client.setVariables(id, Map.of("step", 2), new WriteOptions().fencingToken(token))
 * }</pre>
 */
public final class WriteOptions {
  private Long expectedVersion;
  private Long fencingToken;

  /** The write happens only if the stored version is {@code v}. */
  public WriteOptions expectedVersion(long v) {
    this.expectedVersion = v;
    return this;
  }

  /** The write happens only while the lease of this fencing token is the task's live lease. */
  public WriteOptions fencingToken(long token) {
    this.fencingToken = token;
    return this;
  }

  Long expectedVersion() {
    return expectedVersion;
  }

  Long fencingToken() {
    return fencingToken;
  }
}
