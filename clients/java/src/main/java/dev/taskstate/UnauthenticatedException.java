package dev.taskstate;

import io.grpc.Status.Code;
import java.util.List;
import java.util.Map;

/** A missing or unknown token (UNAUTHENTICATED). */
public class UnauthenticatedException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  UnauthenticatedException(
      String reason,
      String domain,
      Map<String, String> metadata,
      String message,
      List<FieldViolation> violations,
      Throwable cause) {
    super(Code.UNAUTHENTICATED, reason, domain, metadata, message, violations, cause);
  }
}
