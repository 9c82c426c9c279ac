package dev.taskstate;

import dev.taskstate.v1.ErrorReason;
import io.grpc.Status.Code;
import java.util.List;
import java.util.Map;

/**
 * A malformed request (INVALID_ARGUMENT); {@link #fieldViolations()} says which field. Also raised
 * locally, before any call, for a value JSON cannot carry exactly (reason {@code
 * VALUE_NOT_REPRESENTABLE}, metadata {@code path}).
 */
public class InvalidArgumentException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  InvalidArgumentException(
      String reason,
      String domain,
      Map<String, String> metadata,
      String message,
      List<FieldViolation> violations,
      Throwable cause) {
    super(Code.INVALID_ARGUMENT, reason, domain, metadata, message, violations, cause);
  }

  static InvalidArgumentException notRepresentable(String path, String message, String rule) {
    return new InvalidArgumentException(
        ErrorReason.VALUE_NOT_REPRESENTABLE.name(),
        ERROR_DOMAIN,
        Map.of("path", path),
        message,
        List.of(new FieldViolation(path, rule)),
        null);
  }
}
