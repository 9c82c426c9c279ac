package dev.taskstate;

import io.grpc.Status.Code;
import java.util.OptionalLong;

/**
 * The stored version differs from the expected one (ABORTED, reason VERSION_MISMATCH): another
 * writer got there first. Read the task again and retry, or use {@code update}, which does.
 */
public class VersionMismatchException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  VersionMismatchException(Details d) {
    super(Code.ABORTED, d);
  }

  /** The version the write expected (metadata expected_version), if the server said. */
  public OptionalLong expectedVersion() {
    return unsignedMetadata("expected_version");
  }

  /** The task's version when the write was refused (metadata actual_version), if said. */
  public OptionalLong actualVersion() {
    return unsignedMetadata("actual_version");
  }
}
