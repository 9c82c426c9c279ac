package dev.taskstate;

import java.util.Locale;

/**
 * What happens to a task whose lease ends without renewal, set at creation. A task created without
 * one is not offered to {@code claimNext}; a lease taken on it by id expires as {@link #FAIL}.
 * Prints as {@code fail} / {@code release}.
 */
public enum LeasePolicy {
  /** The task fails, with error data reason {@code LEASE_EXPIRED}. */
  FAIL(dev.taskstate.v1.LeasePolicy.LEASE_POLICY_FAIL),
  /** The task goes back to unclaimed {@code working} (attempt + 1) until max attempts. */
  RELEASE(dev.taskstate.v1.LeasePolicy.LEASE_POLICY_RELEASE);

  private final dev.taskstate.v1.LeasePolicy proto;

  LeasePolicy(dev.taskstate.v1.LeasePolicy proto) {
    this.proto = proto;
  }

  /** The generated enum value. */
  public dev.taskstate.v1.LeasePolicy toProto() {
    return proto;
  }

  /** The policy of a generated value, or null for unspecified (or one newer than this client). */
  public static LeasePolicy fromProto(dev.taskstate.v1.LeasePolicy p) {
    for (LeasePolicy v : values()) {
      if (v.proto == p) {
        return v;
      }
    }
    return null;
  }

  /** The lower-case name. */
  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
