package dev.taskstate;

import io.grpc.Status.Code;
import java.util.List;
import java.util.Map;

/** The write is not allowed in the task's status (FAILED_PRECONDITION): reason INVALID_TRANSITION or TASK_TERMINAL. */
public class FailedPreconditionException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  FailedPreconditionException(
      String reason,
      String domain,
      Map<String, String> metadata,
      String message,
      List<FieldViolation> violations,
      Throwable cause) {
    super(Code.FAILED_PRECONDITION, reason, domain, metadata, message, violations, cause);
  }
}
