package dev.taskstate;

import io.grpc.Status.Code;
import java.util.List;
import java.util.Map;

/** The server or its store cannot be reached (UNAVAILABLE); retrying may help. */
public class UnavailableException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  UnavailableException(
      String reason,
      String domain,
      Map<String, String> metadata,
      String message,
      List<FieldViolation> violations,
      Throwable cause) {
    super(Code.UNAVAILABLE, reason, domain, metadata, message, violations, cause);
  }
}
