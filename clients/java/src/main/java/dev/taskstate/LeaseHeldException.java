package dev.taskstate;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/**
 * Another worker holds a live lease on the task (FAILED_PRECONDITION, reason LEASE_HELD): a claim
 * by id of a task someone else is working on.
 */
public class LeaseHeldException extends FailedPreconditionException {
  private static final long serialVersionUID = 1L;

  LeaseHeldException(Details d) {
    super(d);
  }

  /** When the holder's lease ends unless renewed (metadata lease_expire_time), if said. */
  public Optional<Instant> leaseExpireTime() {
    String v = metadata().get("lease_expire_time");
    try {
      return v == null ? Optional.empty() : Optional.of(Instant.parse(v));
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }
}
