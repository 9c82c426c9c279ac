package dev.taskstate;

import io.grpc.Status.Code;

/** A missing or unknown token (UNAUTHENTICATED). */
public class UnauthenticatedException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  UnauthenticatedException(Details d) {
    super(Code.UNAUTHENTICATED, d);
  }
}
