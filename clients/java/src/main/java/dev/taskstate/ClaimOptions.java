package dev.taskstate;

import java.time.Duration;

/**
 * What {@code claimNext} looks for: tasks of one request method only (any when unset), waiting up
 * to some time for one to be offered (not at all when unset), and the lease to ask for (unset: the
 * worker's, or the server's default for a plain {@link TaskStateClient#claimNext}).
 *
 * <pre>{@code
 * ClaimOptions.builder().requestMethod("tools/call").waitUpTo(Duration.ofSeconds(30)).build()
 * }</pre>
 */
public final class ClaimOptions {
  private final String requestMethod;
  private final Duration wait;
  private final Duration lease;

  private ClaimOptions(Builder b) {
    this.requestMethod = b.requestMethod;
    this.wait = b.wait;
    this.lease = b.lease;
  }

  /** A builder of options with nothing set. */
  public static Builder builder() {
    return new Builder();
  }

  /** Options with nothing set: any task, no wait. */
  public static ClaimOptions defaults() {
    return builder().build();
  }

  /** Only tasks of this request method, or null for any. */
  public String requestMethod() {
    return requestMethod;
  }

  /** How long to wait for a task, or null not to wait. */
  public Duration waitUpTo() {
    return wait;
  }

  /** The lease to ask for, or null for the default. */
  public Duration lease() {
    return lease;
  }

  /** Builds {@link ClaimOptions}. */
  public static final class Builder {
    private String requestMethod;
    private Duration wait;
    private Duration lease;

    private Builder() {}

    /** Only tasks created with this request method. */
    public Builder requestMethod(String m) {
      this.requestMethod = m;
      return this;
    }

    /** Waits up to {@code d} for a task to claim (bounded by the server like a wait). */
    public Builder waitUpTo(Duration d) {
      this.wait = d;
      return this;
    }

    /** The lease to ask for (at most the server's --max-lease). */
    public Builder lease(Duration d) {
      this.lease = d;
      return this;
    }

    public ClaimOptions build() {
      return new ClaimOptions(this);
    }
  }
}
