package dev.taskstate;

import io.grpc.Status.Code;
import java.util.List;
import java.util.Map;

/** Over a limit (RESOURCE_EXHAUSTED): reason TASK_QUOTA_EXCEEDED or VARIABLES_TOO_LARGE. */
public class ResourceExhaustedException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  ResourceExhaustedException(
      String reason,
      String domain,
      Map<String, String> metadata,
      String message,
      List<FieldViolation> violations,
      Throwable cause) {
    super(Code.RESOURCE_EXHAUSTED, reason, domain, metadata, message, violations, cause);
  }
}
