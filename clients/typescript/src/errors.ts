// Typed errors: the gRPC status code plus the google.rpc.ErrorInfo the server attaches.

import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { ErrorReason as Reason } from "./gen/taskstate/v1/taskstate_pb.js";

/** The ErrorInfo domain of taskstate's own errors. */
export const ERROR_DOMAIN = "taskstate.dev";

/** gRPC status code names (as in the gRPC spec and every other taskstate client). */
export type GrpcCodeName =
  | "OK"
  | "CANCELLED"
  | "UNKNOWN"
  | "INVALID_ARGUMENT"
  | "DEADLINE_EXCEEDED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "OUT_OF_RANGE"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "DATA_LOSS"
  | "UNAUTHENTICATED";

const CODE_NAMES: readonly GrpcCodeName[] = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** The gRPC name of a Connect code (Connect's numeric codes are gRPC's). */
export function codeName(code: Code): GrpcCodeName {
  return CODE_NAMES[code] ?? "UNKNOWN";
}

/** One entry of a google.rpc.BadRequest: which request field was wrong, and why. */
export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * Reasons (ErrorInfo.reason) the server sends; see docs/design.md §6: the names of the proto's
 * ErrorReason values but ERROR_REASON_UNSPECIFIED, e.g. "VERSION_MISMATCH". One is client-side
 * only: VALUE_NOT_REPRESENTABLE, a number JSON (IEEE doubles) cannot carry exactly; see README
 * "JSON numbers". One is never a call's error: LEASE_EXPIRED, the `reason` in the error data of
 * a task failed because its lease expired.
 */
export type ErrorReason = Exclude<keyof typeof Reason, "ERROR_REASON_UNSPECIFIED">;

/** The reason string of a generated ErrorReason value: its name, as ErrorInfo carries it. */
export function reasonName(value: Exclude<Reason, Reason.ERROR_REASON_UNSPECIFIED>): ErrorReason {
  return Reason[value] as ErrorReason;
}

const VERSION_MISMATCH = reasonName(Reason.VERSION_MISMATCH);

export interface TaskStateErrorInit {
  code: GrpcCodeName;
  reason?: string | null | undefined;
  domain?: string | null | undefined;
  metadata?: Record<string, string> | undefined;
  fieldViolations?: FieldViolation[] | undefined;
  cause?: unknown;
  /** False when the error was made by the client or the transport, not sent by the server. */
  fromServer?: boolean | undefined;
}

/**
 * A failed call. `code` is the gRPC status code name, `connectCode` the same as
 * Connect's numeric `Code`; `reason`, `domain` and `metadata` come from the
 * google.rpc.ErrorInfo detail (`reason` is null when there was none),
 * `fieldViolations` from google.rpc.BadRequest. `message` is the server's status
 * message, unchanged.
 *
 * Subclasses are picked by reason first, then by code (e.g. `VersionMismatchError`
 * for ABORTED/VERSION_MISMATCH), so both `instanceof` and the `isXxx()` helpers work.
 */
export class TaskStateError extends Error {
  override name = "TaskStateError";
  readonly code: GrpcCodeName;
  readonly reason: string | null;
  readonly domain: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  /** True when the status came from the server (a gRPC status), false for a client/transport failure. */
  readonly fromServer: boolean;

  constructor(message: string, init: TaskStateErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.reason = init.reason || null;
    this.domain = init.domain || null;
    this.metadata = Object.freeze({ ...(init.metadata ?? {}) });
    this.fieldViolations = Object.freeze([...(init.fieldViolations ?? [])]);
    this.fromServer = init.fromServer ?? true;
  }

  /** Connect's numeric code (equal to the gRPC status number). */
  get connectCode(): Code {
    const i = CODE_NAMES.indexOf(this.code);
    return (i < 0 ? Code.Unknown : i) as Code;
  }

  isNotFound(): boolean {
    return this.code === "NOT_FOUND";
  }
  isVersionMismatch(): boolean {
    return this.code === "ABORTED" && this.reason === VERSION_MISMATCH;
  }
  isFailedPrecondition(): boolean {
    return this.code === "FAILED_PRECONDITION";
  }
  isInvalidArgument(): boolean {
    return this.code === "INVALID_ARGUMENT";
  }
  isResourceExhausted(): boolean {
    return this.code === "RESOURCE_EXHAUSTED";
  }
  isUnauthenticated(): boolean {
    return this.code === "UNAUTHENTICATED";
  }
  isUnavailable(): boolean {
    return this.code === "UNAVAILABLE";
  }
}

/** NOT_FOUND / TASK_NOT_FOUND: unknown, deleted, expired, or another owner's task. */
export class TaskNotFoundError extends TaskStateError {
  override name = "TaskNotFoundError";
}

/** ABORTED / VERSION_MISMATCH: the stored version was not the expected one. */
export class VersionMismatchError extends TaskStateError {
  override name = "VersionMismatchError";
  /** metadata.expected_version as a number (undefined if absent). */
  get expectedVersion(): number | undefined {
    return numberOrUndefined(this.metadata["expected_version"]);
  }
  /** metadata.actual_version as a number (undefined if absent). */
  get actualVersion(): number | undefined {
    return numberOrUndefined(this.metadata["actual_version"]);
  }
}

/** FAILED_PRECONDITION: an illegal transition, a write to a terminal task, a lease lost or held. */
export class FailedPreconditionError extends TaskStateError {
  override name = "FailedPreconditionError";
}
/** FAILED_PRECONDITION / INVALID_TRANSITION. */
export class InvalidTransitionError extends FailedPreconditionError {
  override name = "InvalidTransitionError";
}
/** FAILED_PRECONDITION / TASK_TERMINAL. */
export class TaskTerminalError extends FailedPreconditionError {
  override name = "TaskTerminalError";
}
/**
 * FAILED_PRECONDITION / LEASE_LOST: the fencing token named is no longer the task's live lease;
 * the worker should stop working on the task.
 */
export class LeaseLostError extends FailedPreconditionError {
  override name = "LeaseLostError";
  /** metadata.fencing_token: the token the refused call named. */
  get fencingToken(): number | undefined {
    return numberOrUndefined(this.metadata["fencing_token"]);
  }
  /** metadata.current_fencing_token: the token of the task's live lease, 0 when it has none. */
  get currentFencingToken(): number | undefined {
    return numberOrUndefined(this.metadata["current_fencing_token"]);
  }
}
/** FAILED_PRECONDITION / LEASE_HELD: another worker holds a live lease on the task. */
export class LeaseHeldError extends FailedPreconditionError {
  override name = "LeaseHeldError";
  /** metadata.lease_expire_time (RFC 3339): when that lease ends unless renewed. */
  get leaseExpireTime(): string | undefined {
    return this.metadata["lease_expire_time"] || undefined;
  }
}
/** INVALID_ARGUMENT: see `fieldViolations`. */
export class InvalidArgumentError extends TaskStateError {
  override name = "InvalidArgumentError";
}
/** RESOURCE_EXHAUSTED. */
export class ResourceExhaustedError extends TaskStateError {
  override name = "ResourceExhaustedError";
}
/** RESOURCE_EXHAUSTED / TASK_QUOTA_EXCEEDED: too many active tasks for this owner. */
export class QuotaExceededError extends ResourceExhaustedError {
  override name = "QuotaExceededError";
}
/** RESOURCE_EXHAUSTED / VARIABLES_TOO_LARGE. */
export class VariablesTooLargeError extends ResourceExhaustedError {
  override name = "VariablesTooLargeError";
}
/**
 * OUT_OF_RANGE / FEED_COMPACTED: the resume cursor is older than the server keeps events for;
 * list the tasks again and watch from the new cursor.
 */
export class FeedCompactedError extends TaskStateError {
  override name = "FeedCompactedError";
}
/** UNIMPLEMENTED / UNSUPPORTED_BY_STORE: the server's store cannot serve the call (e.g. leases). */
export class UnsupportedByStoreError extends TaskStateError {
  override name = "UnsupportedByStoreError";
}
/** UNAUTHENTICATED: missing or unknown token. */
export class UnauthenticatedError extends TaskStateError {
  override name = "UnauthenticatedError";
}
/** UNAVAILABLE: the server or its backend cannot be reached (retry later). */
export class UnavailableError extends TaskStateError {
  override name = "UnavailableError";
}
/** DEADLINE_EXCEEDED: the call's deadline passed. */
export class DeadlineExceededError extends TaskStateError {
  override name = "DeadlineExceededError";
}

/**
 * An INVALID_ARGUMENT the client raises itself, before any call (fromServer false),
 * shaped like the server's: an ErrorInfo-style reason, `metadata.path` and one field
 * violation naming `field` (e.g. "variables.count"), and a message starting with it.
 */
export function localInvalidArgument(
  field: string,
  description: string,
  reason: string = reasonName(Reason.INVALID_ARGUMENT),
): InvalidArgumentError {
  return new InvalidArgumentError(`${field}: ${description}`, {
    code: "INVALID_ARGUMENT",
    reason,
    domain: ERROR_DOMAIN,
    metadata: { path: field },
    fieldViolations: [{ field, description }],
    fromServer: false,
  });
}

type ErrorClass = new (message: string, init: TaskStateErrorInit) => TaskStateError;

/** The reasons that pick a subclass their code alone would not. */
const BY_REASON: ReadonlyMap<string, ErrorClass> = new Map<ErrorReason, ErrorClass>([
  [reasonName(Reason.TASK_NOT_FOUND), TaskNotFoundError],
  [VERSION_MISMATCH, VersionMismatchError],
  [reasonName(Reason.INVALID_TRANSITION), InvalidTransitionError],
  [reasonName(Reason.TASK_TERMINAL), TaskTerminalError],
  [reasonName(Reason.TASK_QUOTA_EXCEEDED), QuotaExceededError],
  [reasonName(Reason.VARIABLES_TOO_LARGE), VariablesTooLargeError],
  [reasonName(Reason.LEASE_LOST), LeaseLostError],
  [reasonName(Reason.LEASE_HELD), LeaseHeldError],
  [reasonName(Reason.FEED_COMPACTED), FeedCompactedError],
  [reasonName(Reason.UNSUPPORTED_BY_STORE), UnsupportedByStoreError],
]);

const BY_CODE: Partial<Record<GrpcCodeName, ErrorClass>> = {
  NOT_FOUND: TaskNotFoundError,
  FAILED_PRECONDITION: FailedPreconditionError,
  INVALID_ARGUMENT: InvalidArgumentError,
  RESOURCE_EXHAUSTED: ResourceExhaustedError,
  UNAUTHENTICATED: UnauthenticatedError,
  UNAVAILABLE: UnavailableError,
  DEADLINE_EXCEEDED: DeadlineExceededError,
};

/**
 * Converts anything a Connect call threw into a TaskStateError (a TaskStateError
 * is returned as is). Exported for code that uses the raw generated client.
 */
export function toTaskStateError(err: unknown, signal?: AbortSignal): TaskStateError {
  if (err instanceof TaskStateError) return err;
  if (signal?.aborted) {
    // The caller aborted: whatever the transport reported, the call was cancelled.
    return new TaskStateError(signal.reason instanceof Error ? signal.reason.message : "call aborted", {
      code: "CANCELLED",
      cause: err,
      fromServer: false,
    });
  }
  const ce = ConnectError.from(err);
  let code = codeName(ce.code);
  let reason: string | null = null;
  let domain: string | null = null;
  let metadata: Record<string, string> = {};
  for (const info of ce.findDetails(ErrorInfoSchema)) {
    // Only our own domain picks the subclass; a proxy's ErrorInfo must not be mistaken for ours.
    if (reason === null || info.domain === ERROR_DOMAIN) {
      reason = info.reason || null;
      domain = info.domain || null;
      metadata = { ...info.metadata };
    }
  }
  const fieldViolations: FieldViolation[] = [];
  for (const bad of ce.findDetails(BadRequestSchema)) {
    for (const v of bad.fieldViolations) {
      fieldViolations.push({ field: v.field, description: v.description });
    }
  }
  // A status the server sent carries grpc-status in the trailers (or a trailers-only header).
  const fromServer = ce.metadata.has("grpc-status");
  if (!fromServer && TRANSPORT_CODES.has(ce.code) && isConnectionFailure(ce)) {
    // A dropped connection or refused stream: Connect reports ECONNRESET as ABORTED, and a
    // stream torn down with its session as CANCELLED or INTERNAL; gRPC calls that
    // UNAVAILABLE (safe to retry reads; a write may or may not have committed).
    code = "UNAVAILABLE";
  }
  const cls =
    (reason !== null && (domain === ERROR_DOMAIN || domain === null) ? BY_REASON.get(reason) : undefined) ??
    BY_CODE[code] ??
    TaskStateError;
  return new cls(ce.rawMessage, {
    code,
    reason,
    domain,
    metadata,
    fieldViolations,
    cause: err,
    fromServer,
  });
}

function numberOrUndefined(s: string | undefined): number | undefined {
  if (s === undefined || s === "") return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

const TRANSPORT_CODES = new Set<Code>([
  Code.Canceled,
  Code.Aborted,
  Code.Internal,
  Code.Unknown,
  Code.Unavailable,
]);

/**
 * Node.js codes of a failed connection: socket errors (ECONNREFUSED ...), HTTP/2 and
 * stream errors, and TLS handshake failures (an untrusted or mismatched certificate:
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_TLS_CERT_ALTNAME_INVALID, ERR_SSL_... ), which
 * gRPC also reports as UNAVAILABLE.
 */
const CONNECTION_ERROR =
  /^(E[A-Z]+|ERR_HTTP2_\w+|ERR_STREAM_\w+|ERR_TLS_\w+|ERR_SSL_\w+|\w*CERT\w*|UNABLE_TO_\w+)$/;

/** The error (or one of its causes) is a Node.js socket / HTTP/2 / TLS failure, not a server status. */
function isConnectionFailure(ce: ConnectError): boolean {
  if (ce.code === Code.Unavailable) return true;
  if (/http\/2 (stream|connection) closed|session closed|socket hang up/i.test(ce.rawMessage)) {
    return true;
  }
  let cur: unknown = ce.cause;
  for (let depth = 0; depth < 8 && cur instanceof Error; depth++) {
    const nodeCode = (cur as { code?: unknown }).code;
    if (typeof nodeCode === "string" && CONNECTION_ERROR.test(nodeCode)) {
      return true;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}
