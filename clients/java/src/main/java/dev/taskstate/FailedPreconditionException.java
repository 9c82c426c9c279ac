package dev.taskstate;

import io.grpc.Status.Code;

/**
 * The write is not allowed in the task's state (FAILED_PRECONDITION): reason INVALID_TRANSITION or
 * TASK_TERMINAL, or a lease reason ({@link LeaseLostException}, {@link LeaseHeldException}).
 */
public class FailedPreconditionException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  FailedPreconditionException(Details d) {
    super(Code.FAILED_PRECONDITION, d);
  }
}
