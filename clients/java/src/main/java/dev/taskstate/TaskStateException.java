package dev.taskstate;

import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.taskstate.v1.ErrorReason;
import io.grpc.Status.Code;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * An error answered by the server (or by gRPC on its behalf, or raised locally with the same
 * shape): the gRPC status code, the google.rpc.ErrorInfo reason and metadata, the status message
 * and any google.rpc.BadRequest field violations. Subclasses name the common cases: {@link
 * TaskNotFoundException}, {@link VersionMismatchException}, {@link FailedPreconditionException},
 * {@link InvalidArgumentException}, {@link ResourceExhaustedException}, {@link
 * UnauthenticatedException}, {@link UnavailableException}.
 */
public class TaskStateException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The google.rpc.ErrorInfo domain of the taskstate service. */
  public static final String ERROR_DOMAIN = "taskstate.dev";

  /** One google.rpc.BadRequest field violation. */
  public record FieldViolation(String field, String description) {}

  private final Code code;
  private final String reason;
  private final String domain;
  private final Map<String, String> metadata;
  private final String statusMessage;
  private final List<FieldViolation> fieldViolations;

  /**
   * What an error carries besides its code: the ErrorInfo reason and domain (null without
   * ErrorInfo), its metadata, the status message, the BadRequest violations and the cause.
   */
  record Details(
      String reason,
      String domain,
      Map<String, String> metadata,
      String message,
      List<FieldViolation> violations,
      Throwable cause) {}

  /** Builds an error of {@code code} from its details. */
  TaskStateException(Code code, Details d) {
    super(describe(code, d.reason(), d.message()), d.cause());
    this.code = code;
    this.reason = d.reason();
    this.domain = d.domain();
    this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(d.metadata()));
    this.statusMessage = d.message();
    this.fieldViolations = List.copyOf(d.violations());
  }

  private static String describe(Code code, String reason, String message) {
    return reason == null
        ? "taskstate: " + code + ": " + message
        : "taskstate: " + code + " (" + reason + "): " + message;
  }

  /** The gRPC status code. */
  public Code code() {
    return code;
  }

  /** The ErrorInfo reason, e.g. {@code TASK_NOT_FOUND}; null if the status carried none. */
  public String reason() {
    return reason;
  }

  /**
   * The reason as the generated enum: {@code ERROR_REASON_UNSPECIFIED} without a reason, {@code
   * UNRECOGNIZED} for a reason newer than this client (go by {@link #code()} then).
   */
  public ErrorReason errorReason() {
    if (reason == null) {
      return ErrorReason.ERROR_REASON_UNSPECIFIED;
    }
    try {
      return ErrorReason.valueOf(reason);
    } catch (IllegalArgumentException e) {
      return ErrorReason.UNRECOGNIZED;
    }
  }

  /** Whether the reason is {@code r}. */
  public boolean is(ErrorReason r) {
    return r.name().equals(reason);
  }

  /** The ErrorInfo domain ({@code taskstate.dev}); null without ErrorInfo. */
  public String domain() {
    return domain;
  }

  /** The ErrorInfo metadata (never null), e.g. expected_version and actual_version. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** A metadata value that is an unsigned 64-bit integer (a version, a fencing token), if set. */
  OptionalLong unsignedMetadata(String key) {
    String v = metadata.get(key);
    if (v == null) {
      return OptionalLong.empty();
    }
    try {
      return OptionalLong.of(Long.parseUnsignedLong(v));
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }

  /** The status message. */
  public String statusMessage() {
    return statusMessage;
  }

  /** The BadRequest field violations of an INVALID_ARGUMENT error. */
  public List<FieldViolation> fieldViolations() {
    return fieldViolations;
  }

  /**
   * Converts the failure of a call: a gRPC status exception (its ErrorInfo and BadRequest
   * details read), a TaskStateException (returned as is), or a wrapper of either (completion,
   * execution). Anything else is returned unchanged as a RuntimeException (wrapped if checked).
   */
  public static RuntimeException from(Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof ExecutionException)
        && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof TaskStateException e) {
      return e;
    }
    if (c instanceof StatusRuntimeException || c instanceof StatusException) {
      return fromStatus(io.grpc.Status.fromThrowable(c), StatusProto.fromThrowable(c), c);
    }
    if (c instanceof CancellationException) {
      return fromStatus(io.grpc.Status.CANCELLED.withDescription("cancelled"), null, c);
    }
    if (c instanceof RuntimeException r) {
      return r;
    }
    return new CompletionException(c);
  }

  static TaskStateException fromStatus(
      io.grpc.Status st, com.google.rpc.Status details, Throwable cause) {
    String reason = null;
    String domain = null;
    Map<String, String> metadata = new LinkedHashMap<>();
    List<FieldViolation> violations = new ArrayList<>();
    if (details != null) {
      for (Any any : details.getDetailsList()) {
        try {
          if (any.is(ErrorInfo.class) && reason == null) {
            ErrorInfo info = any.unpack(ErrorInfo.class);
            reason = info.getReason();
            domain = info.getDomain();
            metadata.putAll(info.getMetadataMap());
          } else if (any.is(BadRequest.class)) {
            for (BadRequest.FieldViolation v : any.unpack(BadRequest.class).getFieldViolationsList()) {
              violations.add(new FieldViolation(v.getField(), v.getDescription()));
            }
          }
        } catch (InvalidProtocolBufferException e) {
          // A malformed detail: keep what the status itself says.
        }
      }
    }
    String message = st.getDescription() == null ? "" : st.getDescription();
    return create(st.getCode(), new Details(reason, domain, metadata, message, violations, cause));
  }

  /** Builds the subclass that matches the code. */
  static TaskStateException create(Code code, Details d) {
    switch (code) {
      case NOT_FOUND:
        return new TaskNotFoundException(d);
      case ABORTED:
        return new VersionMismatchException(d);
      case FAILED_PRECONDITION:
        if (ErrorReason.LEASE_LOST.name().equals(d.reason())) {
          return new LeaseLostException(d);
        }
        if (ErrorReason.LEASE_HELD.name().equals(d.reason())) {
          return new LeaseHeldException(d);
        }
        return new FailedPreconditionException(d);
      case OUT_OF_RANGE:
        return ErrorReason.FEED_COMPACTED.name().equals(d.reason())
            ? new FeedCompactedException(d)
            : new TaskStateException(code, d);
      case INVALID_ARGUMENT:
        return new InvalidArgumentException(d);
      case RESOURCE_EXHAUSTED:
        return new ResourceExhaustedException(d);
      case UNAUTHENTICATED:
        return new UnauthenticatedException(d);
      case UNAVAILABLE:
        return new UnavailableException(d);
      default:
        return new TaskStateException(code, d);
    }
  }

  /** An error raised by the client itself, with no ErrorInfo. */
  static TaskStateException local(Code code, String message) {
    return create(code, new Details(null, null, Map.of(), message, List.of(), null));
  }
}
