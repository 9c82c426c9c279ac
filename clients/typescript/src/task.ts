// The friendly Task type and conversions from the generated messages.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Task as TaskMessage } from "./gen/taskstate/v1/taskstate_pb.js";
import { LeasePolicy, TaskStatus, TaskView } from "./gen/taskstate/v1/taskstate_pb.js";
import { durationFromProto } from "./duration.js";
import { mapToJson, valueToJson } from "./json.js";
import type { JsonObject, JsonValue } from "./json.js";

/** A task's status, spelled as MCP, the CLI and every taskstate client spell it. */
export type TaskStatusName = "working" | "input_required" | "completed" | "failed" | "cancelled";

/** Every status, in lifecycle order. */
export const TASK_STATUSES: readonly TaskStatusName[] = Object.freeze([
  "working",
  "input_required",
  "completed",
  "failed",
  "cancelled",
]);

/** Completed, failed and cancelled tasks are frozen: read, wait, watch, list and delete only. */
export const TERMINAL_STATUSES: readonly TaskStatusName[] = Object.freeze([
  "completed",
  "failed",
  "cancelled",
]);

const TO_PROTO: Record<TaskStatusName, TaskStatus> = {
  working: TaskStatus.WORKING,
  input_required: TaskStatus.INPUT_REQUIRED,
  completed: TaskStatus.COMPLETED,
  failed: TaskStatus.FAILED,
  cancelled: TaskStatus.CANCELLED,
};

/** True for completed, failed and cancelled. */
export function isTerminal(status: TaskStatusName): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/** The generated enum value of a status name (accepts any case, e.g. "WORKING" or "TASK_STATUS_WORKING"). */
export function statusToProto(status: TaskStatusName | TaskStatus): TaskStatus {
  if (typeof status === "number") return status;
  const key = String(status).toLowerCase().replace(/^task_status_/, "");
  const value = (TO_PROTO as Record<string, TaskStatus | undefined>)[key];
  if (value === undefined) {
    throw new TypeError(
      `unknown task status ${JSON.stringify(status)} (one of ${TASK_STATUSES.join(", ")})`,
    );
  }
  return value;
}

/** The status name of a generated enum value ("unspecified" for 0 or unknown numbers). */
export function statusFromProto(status: TaskStatus): TaskStatusName {
  switch (status) {
    case TaskStatus.WORKING:
      return "working";
    case TaskStatus.INPUT_REQUIRED:
      return "input_required";
    case TaskStatus.COMPLETED:
      return "completed";
    case TaskStatus.FAILED:
      return "failed";
    case TaskStatus.CANCELLED:
      return "cancelled";
    default:
      // The server never stores UNSPECIFIED; a newer server's unknown status is not terminal.
      return "unspecified" as TaskStatusName;
  }
}

/**
 * How much of each task list() and watchAll() return: "full" (the default) or
 * "basic", which leaves out `variables`, `inputRequests`, `inputResponses` (each read as {}),
 * `result` and `error`, for
 * dashboards and workers scanning for work that should not pull megabytes.
 */
export type TaskViewName = "basic" | "full";

/** The generated enum value of a view name; undefined = the server's default (full). */
export function viewToProto(view: TaskViewName | undefined): TaskView {
  switch (view) {
    case undefined:
      return TaskView.UNSPECIFIED;
    case "basic":
      return TaskView.BASIC;
    case "full":
      return TaskView.FULL;
    default:
      throw new TypeError(`unknown view ${JSON.stringify(view)} (one of basic, full)`);
  }
}

/** Why a task failed, in the JSON-RPC error shape (so MCP can pass it through). */
export interface TaskError {
  code: number;
  message: string;
  /** Optional structured detail; absent when unset. */
  data?: JsonValue;
}

/**
 * What happens to a task whose lease ends without renewal: "fail" fails it (error.data.reason
 * LEASE_EXPIRED); "release" offers it again (attempt + 1) until maxAttempts, then fails it.
 */
export type LeasePolicyName = "fail" | "release";

/** The generated enum value of a lease policy; undefined = unspecified (not claimable by claimNext). */
export function leasePolicyToProto(policy: LeasePolicyName | undefined): LeasePolicy {
  switch (policy) {
    case undefined:
      return LeasePolicy.UNSPECIFIED;
    case "fail":
      return LeasePolicy.FAIL;
    case "release":
      return LeasePolicy.RELEASE;
    default:
      throw new TypeError(`unknown lease policy ${JSON.stringify(policy)} (one of fail, release)`);
  }
}

/** The policy name of a generated enum value; undefined for unspecified (or unknown) values. */
export function leasePolicyFromProto(policy: LeasePolicy): LeasePolicyName | undefined {
  switch (policy) {
    case LeasePolicy.FAIL:
      return "fail";
    case LeasePolicy.RELEASE:
      return "release";
    default:
      return undefined;
  }
}

/** A worker's hold on a task (see claim() and createWorker()). */
export interface TaskLease {
  /** The claim's workerId. */
  workerId: string;
  /** The lease epoch (+1 per claim, never reused): fenced writes name it. A number, like version. */
  fencingToken: number;
  /** When the lease ends unless renewed (server clock). */
  expireTime: Date;
  /** What the last claim or renewal asked for, in milliseconds. */
  durationMs: number;
}

/**
 * One committed version of a task, as plain data.
 *
 * Optional fields are absent (not `undefined`-valued keys) when unset. `result`
 * is absent when no result was set and `null` when the result is JSON null:
 * test with `"result" in task`.
 */
export interface Task {
  taskId: string;
  status: TaskStatusName;
  statusMessage: string;
  requestMethod: string;
  /** 1 at creation, +1 on every committed write. */
  version: number;
  createTime: Date;
  updateTime: Date;
  /** Time to live in milliseconds; absent when the task never expires. */
  ttlMs?: number;
  /** When the task stops existing; absent when it never expires. */
  expireTime?: Date;
  /** Suggested polling interval in milliseconds. */
  pollIntervalMs?: number;
  /** The shared scratchpad (plain JSON). */
  variables: JsonObject;
  result?: JsonValue;
  error?: TaskError;
  /** The lease a worker holds on the task; absent while nobody holds one. */
  lease?: TaskLease;
  /** Set at creation; absent when the task was created without one. */
  leasePolicy?: LeasePolicyName;
  /** The most attempts the "release" policy allows; 0 otherwise. */
  maxAttempts: number;
  /** 1 at creation, +1 each time an expired lease releases the task (0 from older servers). */
  attempt: number;
  /** The end user the task belongs to (the `subject` of the client that created it); "" if none. */
  subject: string;
  /**
   * Requests the worker needs answered (updateStatus with `inputRequests`), by a key unique
   * over the task's lifetime; {} when none (and with the "basic" view). See outstandingInput().
   */
  inputRequests: JsonObject;
  /** The answers given with provideInput(), by the key of their request; {} when none. */
  inputResponses: JsonObject;
  /** Set by requestCancel(): the requester wants the work stopped. */
  cancelRequested: boolean;
  /** status is completed, failed or cancelled. */
  terminal: boolean;
}

/** The task's input requests still without a response, by key. */
export function outstandingInput(task: Pick<Task, "inputRequests" | "inputResponses">): JsonObject {
  const out: JsonObject = {};
  for (const [key, request] of Object.entries(task.inputRequests)) {
    if (!Object.hasOwn(task.inputResponses, key)) out[key] = request;
  }
  return out;
}

/** Converts a generated `taskstate.v1.Task` message to the friendly `Task`. */
export function taskFromProto(msg: TaskMessage): Task {
  const status = statusFromProto(msg.status);
  const task: Task = {
    taskId: msg.taskId,
    status,
    statusMessage: msg.statusMessage,
    requestMethod: msg.requestMethod,
    version: Number(msg.version),
    createTime: msg.createTime ? timestampDate(msg.createTime) : new Date(0),
    updateTime: msg.updateTime ? timestampDate(msg.updateTime) : new Date(0),
    variables: mapToJson(msg.variables),
    maxAttempts: msg.maxAttempts,
    attempt: msg.attempt,
    subject: msg.subject,
    inputRequests: mapToJson(msg.inputRequests),
    inputResponses: mapToJson(msg.inputResponses),
    cancelRequested: msg.cancelRequested,
    terminal: isTerminal(status),
  };
  if (msg.ttl) task.ttlMs = durationFromProto(msg.ttl);
  if (msg.expireTime) task.expireTime = timestampDate(msg.expireTime);
  if (msg.pollInterval) task.pollIntervalMs = durationFromProto(msg.pollInterval);
  if (msg.result) task.result = valueToJson(msg.result);
  if (msg.lease) {
    task.lease = {
      workerId: msg.lease.workerId,
      fencingToken: Number(msg.lease.fencingToken),
      expireTime: msg.lease.expireTime ? timestampDate(msg.lease.expireTime) : new Date(0),
      durationMs: msg.lease.duration ? durationFromProto(msg.lease.duration) : 0,
    };
  }
  const policy = leasePolicyFromProto(msg.leasePolicy);
  if (policy !== undefined) task.leasePolicy = policy;
  if (msg.error) {
    const error: TaskError = { code: msg.error.code, message: msg.error.message };
    if (msg.error.data) error.data = valueToJson(msg.error.data);
    task.error = error;
  }
  return task;
}
