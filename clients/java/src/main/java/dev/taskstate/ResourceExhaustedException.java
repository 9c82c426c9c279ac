package dev.taskstate;

import io.grpc.Status.Code;

/** Over a limit (RESOURCE_EXHAUSTED): reason TASK_QUOTA_EXCEEDED or VARIABLES_TOO_LARGE. */
public class ResourceExhaustedException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  ResourceExhaustedException(Details d) {
    super(Code.RESOURCE_EXHAUSTED, d);
  }
}
