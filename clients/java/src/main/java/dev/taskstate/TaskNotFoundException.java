package dev.taskstate;

import io.grpc.Status.Code;
import java.util.List;
import java.util.Map;

/** The task does not exist, was deleted, expired, or belongs to another owner (NOT_FOUND). */
public class TaskNotFoundException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  TaskNotFoundException(
      String reason,
      String domain,
      Map<String, String> metadata,
      String message,
      List<FieldViolation> violations,
      Throwable cause) {
    super(Code.NOT_FOUND, reason, domain, metadata, message, violations, cause);
  }
}
