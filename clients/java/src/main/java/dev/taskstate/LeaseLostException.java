package dev.taskstate;

import java.util.OptionalLong;

/**
 * The lease a fenced write or a renewal named is no longer the task's live lease
 * (FAILED_PRECONDITION, reason LEASE_LOST): it expired, another worker claimed the task, or the
 * task left {@code working}. Stop working on the task; its writes would be refused too. A {@link
 * Lease} also raises it locally once it missed its renewal deadline.
 */
public class LeaseLostException extends FailedPreconditionException {
  private static final long serialVersionUID = 1L;

  LeaseLostException(Details d) {
    super(d);
  }

  /** The fencing token the refused call named (metadata fencing_token), if said. */
  public OptionalLong fencingToken() {
    return unsignedMetadata("fencing_token");
  }

  /** The task's live fencing token (metadata current_fencing_token; 0: no lease), if said. */
  public OptionalLong currentFencingToken() {
    return unsignedMetadata("current_fencing_token");
  }
}
