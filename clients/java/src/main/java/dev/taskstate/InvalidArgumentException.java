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

  InvalidArgumentException(Details d) {
    super(Code.INVALID_ARGUMENT, d);
  }

  static InvalidArgumentException notRepresentable(String path, String message, String rule) {
    List<FieldViolation> violation = List.of(new FieldViolation(path, rule));
    return new InvalidArgumentException(
        new Details(
            ErrorReason.VALUE_NOT_REPRESENTABLE.name(),
            ERROR_DOMAIN,
            Map.of("path", path),
            message,
            violation,
            null));
  }
}
