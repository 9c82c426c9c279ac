package dev.taskstate;

import io.grpc.Status.Code;

/** The server or its store cannot be reached (UNAVAILABLE); retrying may help. */
public class UnavailableException extends TaskStateException {
  private static final long serialVersionUID = 1L;

  UnavailableException(Details d) {
    super(Code.UNAVAILABLE, d);
  }
}
