package dev.taskstate;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A bounded, jittered exponential backoff: before retry n the client sleeps a random time in
 * [0, min(maxBackoff, initialBackoff * multiplier^(n-1))] ("full jitter"), which spreads out
 * writers that collided.
 *
 * @param maxAttempts total attempts, the first included (at least 1)
 * @param initialBackoff cap of the first sleep
 * @param maxBackoff cap of every sleep
 * @param multiplier growth of the cap after each retry (at least 1)
 */
public record RetryPolicy(
    int maxAttempts, Duration initialBackoff, Duration maxBackoff, double multiplier) {
  /** The policy of {@code update}: 20 attempts, sleeps capped at 10 ms doubling up to 1 s. */
  public static final RetryPolicy UPDATE_DEFAULT =
      new RetryPolicy(20, Duration.ofMillis(10), Duration.ofSeconds(1), 2);

  /**
   * The policy of {@code watch}'s resumption: 12 reconnections in a row without progress, sleeps
   * capped at 100 ms doubling up to 5 s; every received version restores the budget.
   */
  public static final RetryPolicy WATCH_DEFAULT =
      new RetryPolicy(12, Duration.ofMillis(100), Duration.ofSeconds(5), 2);

  /** Validates the policy. */
  public RetryPolicy {
    if (maxAttempts < 1 || multiplier < 1) {
      throw new IllegalArgumentException("maxAttempts and multiplier must be at least 1");
    }
  }

  /** The sleeps of one retry loop. */
  static final class Backoff {
    private final RetryPolicy p;
    private int tries;
    private double capMillis;

    Backoff(RetryPolicy p) {
      this.p = p;
      reset();
    }

    /** The sleep before the next retry in milliseconds, or -1 when the attempts are used up. */
    long next() {
      if (tries + 1 >= p.maxAttempts) {
        return -1;
      }
      tries++;
      double cap = Math.min(capMillis, p.maxBackoff.toMillis());
      capMillis *= p.multiplier;
      return cap <= 0 ? 0 : ThreadLocalRandom.current().nextLong((long) cap + 1);
    }

    void reset() {
      tries = 0;
      capMillis = p.initialBackoff.toMillis();
    }
  }
}
