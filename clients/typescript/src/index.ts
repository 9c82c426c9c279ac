// @taskstate/client: the TypeScript client of taskstate (see README.md).

export {
  DEFAULT_FAIL_CODE,
  DEFAULT_TIMEOUT_MS,
  TaskClient,
  TaskStream,
  createClient,
} from "./client.js";
export type {
  CallOptions,
  CancelOptions,
  ClaimOptions,
  ClientOptions,
  CompleteOptions,
  CreateOptions,
  EventsOptions,
  FailError,
  FailOptions,
  FencedOptions,
  InputAccepted,
  ListOptions,
  RawTaskClient,
  RenewOptions,
  TaskPage,
  TaskPatch,
  UpdateFn,
  UpdateOptions,
  UpdateStatusOptions,
  UpdateTaskFn,
  VersionedOptions,
  WaitOptions,
  WatchAllOptions,
  WatchOptions,
} from "./client.js";
export { eventFromProto } from "./events.js";
export type { TaskEvent, TaskEventKind } from "./events.js";
export { DEFAULT_LEASE_MS, Lease, Worker, createWorker, defaultWorkerId } from "./worker.js";
export type { ClaimNextOptions, WorkerOptions } from "./worker.js";
export {
  ERROR_DOMAIN,
  DeadlineExceededError,
  FailedPreconditionError,
  FeedCompactedError,
  InvalidArgumentError,
  InvalidTransitionError,
  LeaseHeldError,
  LeaseLostError,
  QuotaExceededError,
  ResourceExhaustedError,
  TaskNotFoundError,
  TaskStateError,
  TaskTerminalError,
  UnauthenticatedError,
  UnavailableError,
  UnsupportedByStoreError,
  VariablesTooLargeError,
  VersionMismatchError,
  codeName,
  toTaskStateError,
} from "./errors.js";
export type { ErrorReason, FieldViolation, GrpcCodeName, TaskStateErrorInit } from "./errors.js";
export { isLoopbackHost, resolveTransport } from "./transport.js";
export type { TlsDecidedBy, TlsOptions, Transport } from "./transport.js";
export { DEFAULT_ADDRESS, ENV, optionsFromEnv } from "./env.js";
export type { EnvOptions } from "./env.js";
export { durationFromProto, durationToMs, durationToProto, formatDuration } from "./duration.js";
export type { DurationInput } from "./duration.js";
export { jsonEqual, jsonToMap, jsonToValue, mapToJson, valueToJson } from "./json.js";
export type { JsonObject, JsonValue } from "./json.js";
export { DEFAULT_UPDATE_RETRY, DEFAULT_WATCH_RETRY } from "./retry.js";
export type { RetryPolicy } from "./retry.js";
export {
  TASK_STATUSES,
  TERMINAL_STATUSES,
  isTerminal,
  leasePolicyFromProto,
  leasePolicyToProto,
  outstandingInput,
  statusFromProto,
  statusToProto,
  taskFromProto,
  viewToProto,
} from "./task.js";
export type {
  LeasePolicyName,
  Task,
  TaskError,
  TaskLease,
  TaskStatusName,
  TaskViewName,
} from "./task.js";
