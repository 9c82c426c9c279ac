package dev.taskstate;

import io.grpc.Status.Code;

/** The task does not exist, was deleted, expired, or belongs to another owner (NOT_FOUND). */
public class TaskNotFoundException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  TaskNotFoundException(Details d) {
    super(Code.NOT_FOUND, d);
  }
}
