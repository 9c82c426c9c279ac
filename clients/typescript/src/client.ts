// TaskClient: the idiomatic TypeScript face of taskstate.v1.TaskService.

import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { createClient as createConnectClient } from "@connectrpc/connect";
import type { Client, Interceptor } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import type { Http2SessionOptions } from "@connectrpc/connect-node";
import type * as http2 from "node:http2";

import {
  CompleteTaskRequestSchema,
  PutIfVersionRequestSchema,
  TaskErrorSchema,
  TaskSchema,
  TaskService,
  TaskStatus,
} from "./gen/taskstate/v1/taskstate_pb.js";
import type {
  CompleteTaskRequest,
  Task as TaskMessage,
  TaskError as TaskErrorMessage,
  WatchTasksResponse,
} from "./gen/taskstate/v1/taskstate_pb.js";
import { eventFromProto, resumingEvents } from "./events.js";
import type { TaskEvent } from "./events.js";
import { durationToMs, durationToProto } from "./duration.js";
import type { DurationInput } from "./duration.js";
import {
  TaskStateError,
  localInvalidArgument,
  toTaskStateError,
} from "./errors.js";
import { jsonClone, jsonEqual, jsonToMap, jsonToValue } from "./json.js";
import type { JsonObject, JsonValue } from "./json.js";
import {
  DEFAULT_UPDATE_RETRY,
  DEFAULT_WATCH_RETRY,
  backoffDelays,
  resolvePolicy,
  sleep,
} from "./retry.js";
import type { RetryPolicy } from "./retry.js";
import { backoffOrThrow, closedError, linkSignal, resumable } from "./stream.js";
import {
  TERMINAL_STATUSES,
  leasePolicyToProto,
  statusToProto,
  taskFromProto,
  viewToProto,
} from "./task.js";
import type { LeasePolicyName, Task, TaskError, TaskStatusName, TaskViewName } from "./task.js";
import { resolveTransport } from "./transport.js";
import type { TlsOptions } from "./transport.js";

/** The default deadline of unary calls (watch streams have none). */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** The metadata key of ClientOptions.subject. */
const SUBJECT_HEADER = "taskstate-subject";

/** JSON-RPC's first implementation-defined server error: fail()'s default error code. */
export const DEFAULT_FAIL_CODE = -32000;

/** Long waits are split into server-side waits of at most this long. */
const WAIT_CHUNK_MS = 300_000;

export interface ClientOptions {
  /** `host:port` (e.g. "127.0.0.1:50051", "[::1]:50051"), or an `http://` / `https://` URL. */
  address: string;
  /** Bearer token; sent as `authorization: Bearer <token>`. Omit for anonymous access. */
  token?: string | undefined;
  /**
   * true = TLS with the system roots, TLS settings (a CA, a client cert + key) = TLS with
   * them, false = plaintext. Omitted: the scheme decides (https:// / http://), else the
   * host: plaintext for loopback (localhost, 127.0.0.0/8, ::1), TLS for any other.
   */
  tls?: boolean | TlsOptions | undefined;
  /** Deadline of unary calls in ms (default 30 000; 0 = none). Streams have no deadline. */
  defaultTimeoutMs?: number | undefined;
  /** Retry budget of update()/updateTask() on VERSION_MISMATCH. */
  updateRetry?: Partial<RetryPolicy> | undefined;
  /** Reconnection budget of watch() after a dropped connection. */
  watchRetry?: Partial<RetryPolicy> | undefined;
  /** HTTP/2 keepalive settings (PING interval/timeout, idle timeout). */
  http2?: Http2SessionOptions | undefined;
  /** Extra Connect interceptors (run after the one adding the token). */
  interceptors?: Interceptor[] | undefined;
  /**
   * The end user on whose behalf every call acts (the `taskstate-subject` metadata, 1 to 256
   * printable bytes; omitted or "" = none): create() records it on the task, and every other
   * call sees only that subject's tasks (another subject's is TaskNotFoundError). Without it
   * a call sees all of the owner's tasks, as a worker does. See also withSubject().
   */
  subject?: string | undefined;
}

/** Per-call options accepted by every method. */
export interface CallOptions {
  /** Deadline of this call in ms (overrides defaultTimeoutMs; 0 = none). */
  timeoutMs?: number | undefined;
  /** Abort the call (rejects with a CANCELLED TaskStateError). */
  signal?: AbortSignal | undefined;
}

export interface CreateOptions extends CallOptions {
  /** Time to live; omitted = the server's default ttl. */
  ttl?: DurationInput | undefined;
  /** Suggested polling interval; omitted = the server's default. */
  pollInterval?: DurationInput | undefined;
  /** What started the task, e.g. "tools/call". */
  requestMethod?: string | undefined;
  /** Initial variables (null values are ignored). */
  variables?: JsonObject | undefined;
  /** Idempotency key (per owner): a retry returns the task created first. */
  requestId?: string | undefined;
  /** What happens when a lease on it ends unrenewed; omitted = not offered to claimNext(). */
  leasePolicy?: LeasePolicyName | undefined;
  /** With "release": the most attempts before it fails (0/omitted = the server's default). */
  maxAttempts?: number | undefined;
}

export interface ListOptions extends CallOptions {
  /** 0 = the server's default (50); at most 1000. */
  pageSize?: number | undefined;
  /** nextPageToken of the previous page; "" for the first. */
  pageToken?: string | undefined;
  /** Only tasks in these statuses (default: all). */
  statuses?: readonly TaskStatusName[] | undefined;
  /** "full" (default) or "basic": without variables, result and error (see TaskViewName). */
  view?: TaskViewName | undefined;
}

/**
 * One page of list(); pass nextPageToken back for the next page ("" = last page).
 * A page can be shorter than pageSize and still not be the last.
 */
export interface TaskPage {
  tasks: Task[];
  nextPageToken: string;
  /**
   * On the first page: the feed position read before the page. events()/watchAll() from it,
   * after listing every page, miss nothing. "" on later pages (or from older servers).
   */
  resumeCursor: string;
}

export interface FencedOptions extends CallOptions {
  /** Write only while this lease (Lease.fencingToken) is the task's live one (else LeaseLostError). */
  fencingToken?: number | bigint | undefined;
}

export interface VersionedOptions extends FencedOptions {
  /** Write only if the stored version equals this (else VersionMismatchError). */
  expectedVersion?: number | bigint | undefined;
}

export interface UpdateStatusOptions extends VersionedOptions {
  /** The new status message ("" clears it). */
  message?: string | undefined;
  /**
   * Only with "input_required": questions for the requester (e.g. an MCP elicitation) by a
   * key unique over the task's lifetime, merged into the task's inputRequests. A key already
   * used by another request, or already answered, is INVALID_ARGUMENT; an identical re-send
   * is fine. The requester answers with provideInput().
   */
  inputRequests?: JsonObject | undefined;
}

/** What provideInput() did: the task after the call and the keys it recorded (sorted). */
export interface InputAccepted {
  task: Task;
  /** Empty when nothing was recorded (then nothing was written). */
  acceptedKeys: string[];
}

export interface CompleteOptions extends VersionedOptions {
  /** The outcome (any JSON; JSON null is stored as null). */
  result?: JsonValue | undefined;
  /** The final status message. */
  message?: string | undefined;
  /** Merged into the variables in the same write (null deletes a key). */
  variables?: JsonObject | undefined;
}

export interface FailOptions extends VersionedOptions {
  /** The final status message (default: the error's message). */
  message?: string | undefined;
  /** An optional (partial) result. */
  result?: JsonValue | undefined;
  /** Merged into the variables in the same write (null deletes a key). */
  variables?: JsonObject | undefined;
}

/** The error of a failed task; `code` defaults to -32000. */
export interface FailError {
  code?: number | undefined;
  message: string;
  data?: JsonValue | undefined;
}

export interface CancelOptions extends CallOptions {
  /** The final status message. */
  message?: string | undefined;
}

export interface WaitOptions extends CallOptions {
  /** How long to wait at most; omitted = until the status is reached (or the signal aborts). */
  timeout?: DurationInput | undefined;
  /** Return once the status is one of these (default: the terminal ones). */
  statuses?: readonly TaskStatusName[] | undefined;
}

export interface WatchOptions {
  /** Only versions after this one (default 0: the current version first). */
  afterVersion?: number | bigint | undefined;
  /** Stop watching (the iterator then throws a CANCELLED TaskStateError). */
  signal?: AbortSignal | undefined;
  /** Reconnection budget (default: the client's watchRetry). */
  retry?: Partial<RetryPolicy> | undefined;
}

export interface WatchAllOptions {
  /** Only changes leaving a task in one of these statuses (default: all). */
  statuses?: readonly TaskStatusName[] | undefined;
  /** "full" (default) or "basic": without variables, result and error (see TaskViewName). */
  view?: TaskViewName | undefined;
  /** Closes the stream when aborted. */
  signal?: AbortSignal | undefined;
  /** Resume right after this position (a TaskEvent's or TaskPage's resumeCursor); "" = from now. */
  resumeCursor?: string | undefined;
  /** Also send deleted, expired and progress events (implied by resumeCursor). */
  allEvents?: boolean | undefined;
}

export interface EventsOptions {
  /**
   * true: survive anything. A dropped connection reopens the stream from the last cursor
   * (backoff from `retry`); a cursor the server no longer keeps (FEED_COMPACTED) turns into a
   * "reset" event and one "write" per current task (a fresh listing), then the feed goes on.
   * false (default): one stream; it ends with an error as watchAll() does.
   */
  resume?: boolean | undefined;
  /** Start right after this position; "" (default) = from now. */
  cursor?: string | undefined;
  /** Only changes leaving a task in one of these statuses (default: all). */
  statuses?: readonly TaskStatusName[] | undefined;
  /** "full" (default) or "basic". */
  view?: TaskViewName | undefined;
  /** Stops the iteration (it then throws a CANCELLED TaskStateError). */
  signal?: AbortSignal | undefined;
  /** Reconnection budget with resume (default: the client's watchRetry). */
  retry?: Partial<RetryPolicy> | undefined;
}

export interface ClaimOptions extends CallOptions {
  /** Required: 1 to 256 printable bytes naming the worker (see createWorker()). */
  workerId: string;
  /** The task to claim; omitted = the oldest claimable one (created with a leasePolicy). */
  taskId?: string | undefined;
  /** How long the lease lasts unless renewed; omitted = the server's default. */
  lease?: DurationInput | undefined;
  /** Without taskId: only tasks of this request method. */
  requestMethod?: string | undefined;
  /** Without taskId: how long to wait for a claimable task; omitted = answer at once. */
  wait?: DurationInput | undefined;
}

export interface RenewOptions extends CallOptions {
  /** The new duration, counted from now; omitted = the lease's current duration. */
  lease?: DurationInput | undefined;
  /** A new status message, written in the same write. */
  message?: string | undefined;
}

/**
 * Fields for putIfVersion()/updateTask(): exactly the keys present are written
 * (they form the update mask), even when their value is undefined (= clear it).
 */
export interface TaskPatch {
  status?: TaskStatusName;
  statusMessage?: string;
  /** Replaces the whole variables map. */
  variables?: JsonObject;
  /** JSON null stores null; undefined clears the result. */
  result?: JsonValue | undefined;
  /** null/undefined clears the error. */
  error?: TaskError | null | undefined;
  /** Renews expire_time to now + ttl; null/undefined = never expires. */
  ttl?: DurationInput | null | undefined;
  pollInterval?: DurationInput | null | undefined;
}

const PATCH_PATHS: Record<keyof TaskPatch, string> = {
  status: "status",
  statusMessage: "status_message",
  variables: "variables",
  result: "result",
  error: "error",
  ttl: "ttl",
  pollInterval: "poll_interval",
};

/**
 * update()'s function: gets a deep copy of the variables (and the task as read),
 * mutates the copy in place or returns a new object. If the variables end up
 * unchanged nothing is written. It may run several times: keep it free of side effects.
 */
export type UpdateFn = (
  variables: JsonObject,
  task: Task,
) => JsonObject | void | Promise<JsonObject | void>;

/**
 * updateTask()'s function: gets a copy of the task as read and returns the fields
 * to write (a TaskPatch), or null/undefined/{} to write nothing.
 */
export type UpdateTaskFn = (
  task: Task,
) => TaskPatch | null | undefined | Promise<TaskPatch | null | undefined>;

export interface UpdateOptions extends FencedOptions {
  /** Retry budget on VERSION_MISMATCH (default: the client's updateRetry). */
  retry?: Partial<RetryPolicy> | undefined;
}

/** The generated Connect client of taskstate.v1.TaskService. */
export type RawTaskClient = Client<typeof TaskService>;

/** withSubject() hands its view the connection to share through this (not an option). */
const sharedSessions = new WeakMap<ClientOptions, Http2SessionManager>();

/** Creates a client; it connects lazily on the first call. Call close() when done. */
export function createClient(options: ClientOptions): TaskClient {
  return new TaskClient(options);
}

/**
 * A connection to one taskstate server, as one owner (the token's).
 *
 * Every method returns plain data (`Task`) and throws `TaskStateError`
 * subclasses. One instance multiplexes all calls over one HTTP/2 connection;
 * create one per process (or per token) and share it.
 */
export class TaskClient {
  /** The server's base URL (`https://` when the connection uses TLS). */
  readonly baseUrl: string;
  /** Whether the connection uses TLS (see the TLS default rule in the README). */
  readonly tls: boolean;
  /**
   * The generated Connect client on the same connection and credentials, for
   * what the friendly methods do not expose. It throws ConnectError; convert
   * with `toTaskStateError`.
   */
  readonly raw: RawTaskClient;
  private readonly session: Http2SessionManager;
  private readonly defaultTimeoutMs: number;
  private readonly updateRetry: RetryPolicy;
  private readonly watchRetry: RetryPolicy;
  private readonly options: ClientOptions;
  /** False for a withSubject() view: close() leaves the shared connection open. */
  private readonly ownsSession: boolean;
  private closed = false;

  constructor(options: ClientOptions) {
    if (!options || typeof options.address !== "string" || options.address === "") {
      throw new TypeError("createClient: address is required (host:port)");
    }
    const transport = resolveTransport(options.address, options.tls);
    const url = transport.url;
    this.baseUrl = url;
    this.tls = transport.tls;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.updateRetry = resolvePolicy(options.updateRetry, DEFAULT_UPDATE_RETRY);
    this.watchRetry = resolvePolicy(options.watchRetry, DEFAULT_WATCH_RETRY);

    let nodeOptions: http2.ClientSessionOptions | http2.SecureClientSessionOptions = {};
    if (transport.tls && typeof options.tls === "object") {
      const tls = options.tls;
      const secureOptions: http2.SecureClientSessionOptions = {};
      if (tls.ca !== undefined) secureOptions.ca = tls.ca;
      if (tls.cert !== undefined) secureOptions.cert = tls.cert;
      if (tls.key !== undefined) secureOptions.key = tls.key;
      if (tls.servername !== undefined) secureOptions.servername = tls.servername;
      if (tls.rejectUnauthorized !== undefined) {
        secureOptions.rejectUnauthorized = tls.rejectUnauthorized;
      }
      nodeOptions = secureOptions;
    }
    this.options = options;
    const shared = sharedSessions.get(options);
    this.ownsSession = shared === undefined;
    this.session = shared ?? new Http2SessionManager(url, options.http2 ?? {}, nodeOptions);

    const interceptors: Interceptor[] = [];
    const token = options.token;
    if (token !== undefined && token !== "") {
      const value = `Bearer ${token}`;
      interceptors.push((next) => (req) => {
        req.header.set("authorization", value);
        return next(req);
      });
    }
    const subject = options.subject;
    if (subject !== undefined && subject !== "") {
      interceptors.push((next) => (req) => {
        req.header.set(SUBJECT_HEADER, subject);
        return next(req);
      });
    }
    interceptors.push(...(options.interceptors ?? []));
    this.raw = createConnectClient(
      TaskService,
      createGrpcTransport({ baseUrl: url, sessionManager: this.session, interceptors }),
    );
  }

  /**
   * Closes the HTTP/2 connection; calls and streams still open fail. A withSubject() view
   * does nothing: close the client it came from.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsSession) this.session.abort();
  }

  /** The subject this client's calls carry ("" = none). */
  get subject(): string {
    return this.options.subject ?? "";
  }

  /**
   * A client acting on behalf of `subject` (see ClientOptions.subject; "" = none) that shares
   * this one's connection and options. Cheap: make one per request if need be.
   */
  withSubject(subject: string): TaskClient {
    const options = { ...this.options, subject };
    sharedSessions.set(options, this.session);
    return new TaskClient(options);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // -- unary RPCs -------------------------------------------------------------------------

  /** CreateTask: a new task in `working`, version 1. */
  async create(options: CreateOptions = {}): Promise<Task> {
    // Requests are built before the call: bad input throws its own error, never UNKNOWN.
    const request = {
      ...(options.ttl !== undefined ? { ttl: durationToProto(options.ttl) } : {}),
      ...(options.pollInterval !== undefined
        ? { pollInterval: durationToProto(options.pollInterval) }
        : {}),
      requestMethod: options.requestMethod ?? "",
      variables: options.variables ? jsonToMap(options.variables, "variables") : {},
      requestId: options.requestId ?? "",
      leasePolicy: leasePolicyToProto(options.leasePolicy),
      maxAttempts: options.maxAttempts ?? 0,
    };
    const resp = await this.unary(options, (o) => this.raw.createTask(request, o));
    return taskOf(resp.task);
  }

  /** GetTask. Throws TaskNotFoundError for unknown, deleted, expired or others' tasks. */
  async get(taskId: string, options: CallOptions = {}): Promise<Task> {
    const resp = await this.unary(options, (o) => this.raw.getTask({ taskId }, o));
    return taskOf(resp.task);
  }

  /** ListTasks: one page of the caller's tasks, newest first (see listAll()). */
  async list(options: ListOptions = {}): Promise<TaskPage> {
    const request = {
      pageSize: options.pageSize ?? 0,
      pageToken: options.pageToken ?? "",
      statuses: (options.statuses ?? []).map(statusToProto),
      view: viewToProto(options.view),
    };
    const resp = await this.unary(options, (o) => this.raw.listTasks(request, o));
    return {
      tasks: resp.tasks.map(taskFromProto),
      nextPageToken: resp.nextPageToken,
      resumeCursor: resp.resumeCursor,
    };
  }

  /**
   * Every task of the caller, newest first, fetching pages as the iteration needs them.
   * A page may hold fewer than pageSize tasks (the server cuts pages to stay under
   * 4 MiB), so only an empty nextPageToken ends the listing.
   */
  async *listAll(options: Omit<ListOptions, "pageToken"> = {}): AsyncGenerator<Task, void, void> {
    let pageToken = "";
    for (;;) {
      const page = await this.list({ ...options, pageToken });
      yield* page.tasks;
      pageToken = page.nextPageToken;
      if (pageToken === "") return;
    }
  }

  /** UpdateTaskStatus: a legal transition (see docs/design.md §4.2). */
  async updateStatus(
    taskId: string,
    status: TaskStatusName,
    options: UpdateStatusOptions = {},
  ): Promise<Task> {
    const request = {
      taskId,
      status: statusToProto(status),
      statusMessage: options.message ?? "",
      ...versionField(options.expectedVersion),
      ...fencingField(options.fencingToken),
      inputRequests: options.inputRequests
        ? jsonToMap(options.inputRequests, "input_requests")
        : {},
    };
    const resp = await this.unary(options, (o) => this.raw.updateTaskStatus(request, o));
    return taskOf(resp.task);
  }

  /**
   * ProvideInput: answers some of the task's outstanding input requests (see
   * outstandingInput()). Answers to keys without an outstanding request (never asked, or
   * already answered) are ignored, so each answer is recorded once. When none remains
   * outstanding, an input_required task moves back to working in the same write.
   */
  async provideInput(
    taskId: string,
    responses: JsonObject,
    options: CallOptions = {},
  ): Promise<InputAccepted> {
    const request = { taskId, inputResponses: jsonToMap(responses, "input_responses") };
    const resp = await this.unary(options, (o) => this.raw.provideInput(request, o));
    return { task: taskOf(resp.task), acceptedKeys: [...resp.acceptedKeys] };
  }

  /**
   * RequestCancel: asks the task's worker to stop by setting cancelRequested (a task already
   * asked, or terminal, is returned unchanged). The status stays until the worker, seeing
   * the flag through its watch, cancels or finishes the task.
   */
  async requestCancel(taskId: string, options: CallOptions = {}): Promise<Task> {
    const resp = await this.unary(options, (o) => this.raw.requestCancel({ taskId }, o));
    return taskOf(resp.task);
  }

  /** SetVariables: merges (each key is set; a null value deletes the key). */
  async setVariables(
    taskId: string,
    variables: JsonObject,
    options: VersionedOptions = {},
  ): Promise<Task> {
    const request = {
      taskId,
      variables: jsonToMap(variables, "variables"),
      ...versionField(options.expectedVersion),
      ...fencingField(options.fencingToken),
    };
    const resp = await this.unary(options, (o) => this.raw.setVariables(request, o));
    return taskOf(resp.task);
  }

  /**
   * PutIfVersion: writes exactly the fields present in `patch` if the task is
   * still at `expectedVersion` (else VersionMismatchError). `variables` replaces the map.
   */
  async putIfVersion(
    taskId: string,
    expectedVersion: number | bigint,
    patch: TaskPatch,
    options: FencedOptions = {},
  ): Promise<Task> {
    const { task, paths } = patchToProto(patch);
    const request = create(PutIfVersionRequestSchema, {
      taskId,
      expectedVersion: toVersion(expectedVersion, "expected_version"),
      task,
      updateMask: create(FieldMaskSchema, { paths }),
      ...fencingField(options.fencingToken),
    });
    const resp = await this.unary(options, (o) => this.raw.putIfVersion(request, o));
    return taskOf(resp.task);
  }

  /** CompleteTask with status completed: the result and final variables in one write. */
  async complete(taskId: string, options: CompleteOptions = {}): Promise<Task> {
    const request = create(CompleteTaskRequestSchema, {
      taskId,
      status: TaskStatus.COMPLETED,
      statusMessage: options.message ?? "",
      ...versionField(options.expectedVersion),
      ...fencingField(options.fencingToken),
    });
    finishRequest(request, options);
    const resp = await this.unary(options, (o) => this.raw.completeTask(request, o));
    return taskOf(resp.task);
  }

  /** CompleteTask with status failed and a JSON-RPC shaped error. */
  async fail(taskId: string, error: FailError | string, options: FailOptions = {}): Promise<Task> {
    const e: FailError = typeof error === "string" ? { message: error } : error;
    const request = create(CompleteTaskRequestSchema, {
      taskId,
      status: TaskStatus.FAILED,
      statusMessage: options.message ?? e.message,
      error: taskErrorToProto({
        code: e.code ?? DEFAULT_FAIL_CODE,
        message: e.message,
        ...("data" in e && e.data !== undefined ? { data: e.data } : {}),
      }),
      ...versionField(options.expectedVersion),
      ...fencingField(options.fencingToken),
    });
    finishRequest(request, options);
    const resp = await this.unary(options, (o) => this.raw.completeTask(request, o));
    return taskOf(resp.task);
  }

  /** CancelTask: moves a non-terminal task to cancelled. */
  async cancel(taskId: string, options: CancelOptions = {}): Promise<Task> {
    const resp = await this.unary(options, (o) =>
      this.raw.cancelTask({ taskId, statusMessage: options.message ?? "" }, o),
    );
    return taskOf(resp.task);
  }

  /** DeleteTask: removes the task, whatever its status. */
  async delete(taskId: string, options: CallOptions = {}): Promise<void> {
    await this.unary(options, (o) => this.raw.deleteTask({ taskId }, o));
  }

  /**
   * WaitTask: resolves with the task once its status is in `statuses` (default:
   * terminal) or when `timeout` passes — either way with the task as it is then
   * (look at its status). Without a timeout it waits as long as it takes; long
   * waits are made of bounded server-side waits, so no deadline cuts them short.
   */
  async wait(taskId: string, options: WaitOptions = {}): Promise<Task> {
    const targets = new Set<TaskStatusName>(
      options.statuses && options.statuses.length > 0 ? options.statuses : TERMINAL_STATUSES,
    );
    const statuses = [...targets].map(statusToProto).sort((a, b) => a - b);
    const end =
      options.timeout === undefined
        ? Infinity
        : performance.now() + Math.max(0, durationToMs(options.timeout));
    const margin = this.defaultTimeoutMs > 0 ? Math.min(this.defaultTimeoutMs, 10_000) : 10_000;
    for (;;) {
      const remaining = Math.max(0, end - performance.now());
      const chunk = Math.min(remaining, WAIT_CHUNK_MS);
      const resp = await this.unary(
        { signal: options.signal, timeoutMs: options.timeoutMs ?? chunk + margin },
        (o) => this.raw.waitTask({ taskId, timeout: durationToProto(chunk), statuses }, o),
      );
      const task = taskOf(resp.task);
      if (targets.has(task.status) || task.terminal || performance.now() >= end) {
        return task;
      }
    }
  }

  // -- leases ---------------------------------------------------------------------------------

  /**
   * ClaimTask: a lease on `taskId`, or without it on the oldest claimable task (created with a
   * leasePolicy), waiting up to `wait` for one. Resolves with the task and its new lease
   * (`task.lease.fencingToken` is what fenced writes name), or null when nothing was claimed.
   * Throws LeaseHeldError when another worker holds the task. createWorker() adds heartbeats.
   */
  async claim(options: ClaimOptions): Promise<Task | null> {
    const request = {
      taskId: options.taskId ?? "",
      workerId: options.workerId,
      ...(options.lease !== undefined ? { leaseDuration: durationToProto(options.lease) } : {}),
      ...(options.requestMethod !== undefined ? { requestMethod: options.requestMethod } : {}),
      ...(options.wait !== undefined ? { waitTimeout: durationToProto(options.wait) } : {}),
    };
    // The deadline covers the wait: a long wait must not end as DEADLINE_EXCEEDED.
    const waitMs = options.wait === undefined ? 0 : Math.max(0, durationToMs(options.wait));
    const timeoutMs =
      options.timeoutMs ?? (this.defaultTimeoutMs > 0 ? this.defaultTimeoutMs + waitMs : 0);
    const resp = await this.unary({ signal: options.signal, timeoutMs }, (o) =>
      this.raw.claimTask(request, o),
    );
    return resp.task ? taskFromProto(resp.task) : null;
  }

  /**
   * RenewLease: extends the lease named by `fencingToken` to now + `lease` (default: its
   * current duration). Throws LeaseLostError when that lease is no longer the task's live one.
   */
  async renewLease(
    taskId: string,
    fencingToken: number | bigint,
    options: RenewOptions = {},
  ): Promise<Task> {
    const request = {
      taskId,
      fencingToken: toVersion(fencingToken, "fencing_token"),
      ...(options.lease !== undefined ? { leaseDuration: durationToProto(options.lease) } : {}),
      ...(options.message !== undefined ? { statusMessage: options.message } : {}),
    };
    const resp = await this.unary(options, (o) => this.raw.renewLease(request, o));
    return taskOf(resp.task);
  }

  // -- streams ----------------------------------------------------------------------------

  /**
   * WatchTask as an async iterator: every new version of the task once, in
   * increasing order, ending after the terminal version. After a dropped
   * connection or a draining server (UNAVAILABLE) it reopens the stream from
   * the last version seen, with jittered backoff (bounded by `retry`; the budget
   * refills whenever a version arrives). Intermediate versions may be coalesced,
   * the terminal one never is. Throws TaskNotFoundError if the task does not
   * exist, is deleted or expires. `break` out of the loop to stop watching.
   */
  async *watch(taskId: string, options: WatchOptions = {}): AsyncGenerator<Task, void, void> {
    const policy = resolvePolicy(options.retry, this.watchRetry);
    const outer = options.signal;
    let last = Number(toVersion(options.afterVersion ?? 0, "after_version"));
    let delays = backoffDelays(policy);
    for (;;) {
      let failure: TaskStateError | undefined;
      const controller = new AbortController();
      const unlink = linkSignal(outer, controller);
      try {
        const stream = this.raw.watchTask(
          { taskId, afterVersion: BigInt(last) },
          { signal: controller.signal },
        );
        for await (const resp of stream) {
          if (!resp.task || Number(resp.task.version) <= last) continue;
          const task = taskFromProto(resp.task);
          last = task.version;
          delays = backoffDelays(policy); // progress: the next outage gets a fresh budget
          yield task;
          if (task.terminal) return;
        }
      } catch (err) {
        const error = toTaskStateError(err, outer);
        if (outer?.aborted || !resumable(error)) throw error;
        failure = error;
      } finally {
        unlink();
        controller.abort();
      }
      if (failure === undefined) {
        // A clean end without a terminal version: the task was already terminal at or
        // before afterVersion, or the server closed politely. A read tells which.
        const current = await this.get(taskId, { signal: outer });
        if (current.terminal) {
          if (current.version > last) yield current;
          return;
        }
      }
      const what = "watch stream kept ending before the terminal version";
      await backoffOrThrow(delays, failure, what, outer);
    }
  }

  /**
   * WatchTasks: every committed change to any of the caller's tasks from the moment
   * the stream is open (await `stream.ready` for that moment). Iterate it once with
   * `for await`; close() it when done. It does not resume after a dropped connection
   * (changes in the gap would be lost silently): on UnavailableError, open a new
   * watch, then list() again, keeping the highest version per task.
   */
  watchAll(options: WatchAllOptions = {}): TaskStream {
    return new TaskStream(this.raw, options);
  }

  /**
   * The caller's task feed as TaskEvents, from `cursor` ("" = now). With `resume: true` it
   * survives anything: a dropped stream reopens from the last cursor, and a cursor the server
   * no longer keeps (FEED_COMPACTED) turns into a "reset" event and one "write" per current
   * task (a fresh listing), after which the feed continues. Progress messages only move the
   * cursor there. Without resume it is one stream (watchAll with allEvents) and ends as that
   * does. Aborting `signal` makes the iteration throw a CANCELLED TaskStateError; `break` ends it.
   */
  async *events(options: EventsOptions = {}): AsyncGenerator<TaskEvent, void, void> {
    const outer = options.signal;
    if (options.resume) {
      const policy = resolvePolicy(options.retry, this.watchRetry);
      yield* resumingEvents(this, { ...options, cursor: options.cursor ?? "", policy });
      return;
    }
    const stream = this.watchAll({
      statuses: options.statuses,
      view: options.view,
      signal: outer,
      resumeCursor: options.cursor,
      allEvents: true,
    });
    try {
      yield* stream.events();
    } finally {
      stream.close();
    }
    if (outer?.aborted) throw toTaskStateError(outer.reason, outer);
  }

  // -- compare-and-swap helpers -------------------------------------------------------------

  /**
   * Read-modify-write of the variables that never loses a concurrent update:
   * reads the task, runs `fn` on a deep copy of its variables, and writes the
   * result with PutIfVersion at the version read (the map is replaced). If another
   * writer got there first (ABORTED / VERSION_MISMATCH) the whole cycle is retried
   * with jittered exponential backoff; VersionMismatchError is thrown when the
   * budget runs out. Returns the task as written (or as read, if fn changed nothing).
   */
  async update(taskId: string, fn: UpdateFn, options: UpdateOptions = {}): Promise<Task> {
    return this.casLoop(taskId, options, async (task) => {
      const scratch = jsonClone(task.variables);
      const returned = await fn(scratch, cloneTask(task));
      const next = returned === undefined || returned === null ? scratch : returned;
      if (jsonEqual(next, task.variables)) return null;
      return { variables: next };
    });
  }

  /**
   * Like update(), for any fields: `fn` gets a copy of the task as read and returns
   * the TaskPatch to write at that version (null/undefined/{} writes nothing).
   */
  async updateTask(taskId: string, fn: UpdateTaskFn, options: UpdateOptions = {}): Promise<Task> {
    return this.casLoop(taskId, options, async (task) => {
      const patch = await fn(cloneTask(task));
      return patch && Object.keys(patch).length > 0 ? patch : null;
    });
  }

  private async casLoop(
    taskId: string,
    options: UpdateOptions,
    plan: (task: Task) => Promise<TaskPatch | null>,
  ): Promise<Task> {
    const policy = resolvePolicy(options.retry, this.updateRetry);
    const delays = backoffDelays(policy);
    const call: CallOptions = { timeoutMs: options.timeoutMs, signal: options.signal };
    for (;;) {
      const task = await this.get(taskId, call);
      const patch = await plan(task);
      if (patch === null) return task;
      try {
        const fenced = { ...call, fencingToken: options.fencingToken };
        return await this.putIfVersion(taskId, task.version, patch, fenced);
      } catch (err) {
        // Retry only a conflict the server reported: a write whose answer was lost in a
        // dropped connection may have committed, and re-running fn would apply it twice.
        if (!(err instanceof TaskStateError) || err.code !== "ABORTED" || !err.fromServer) {
          throw err;
        }
        const delay = delays.next();
        if (delay.done) throw err;
        try {
          await sleep(delay.value, options.signal);
        } catch (abortErr) {
          throw toTaskStateError(abortErr, options.signal);
        }
      }
    }
  }

  // -- plumbing -----------------------------------------------------------------------------

  private async unary<T>(
    options: CallOptions,
    call: (o: { timeoutMs: number; signal?: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    // grpc-timeout takes whole units: round a fractional deadline up.
    const o: { timeoutMs: number; signal?: AbortSignal } = {
      timeoutMs: Math.ceil(options.timeoutMs ?? this.defaultTimeoutMs),
    };
    if (options.signal) o.signal = options.signal;
    try {
      return await call(o);
    } catch (err) {
      throw toTaskStateError(err, options.signal);
    }
  }
}

/**
 * An open WatchTasks stream. `for await (const task of stream)` (once); `close()`
 * ends it (the loop then finishes quietly). `ready` resolves once the server has
 * sent the response headers — from then on no change is missed.
 */
export class TaskStream implements AsyncIterable<Task> {
  /** Resolves when the server has registered the watcher; rejects if the stream fails first. */
  readonly ready: Promise<void>;
  private readonly controller = new AbortController();
  private readonly iterator: AsyncIterator<WatchTasksResponse>;
  private first: Promise<IteratorResult<WatchTasksResponse>>;
  private closed = false;
  private iterated = false;
  private readonly unlink: () => void;

  constructor(raw: RawTaskClient, options: WatchAllOptions) {
    this.unlink = linkSignal(options.signal, this.controller);
    let resolveReady!: () => void;
    let rejectReady!: (err: unknown) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.ready.catch(() => {}); // observed through iteration too; never unhandled
    const request = {
      statuses: (options.statuses ?? []).map(statusToProto),
      view: viewToProto(options.view),
      resumeCursor: options.resumeCursor ?? "",
      allEvents: options.allEvents ?? false,
    };
    const iterable = raw.watchTasks(request, {
      signal: this.controller.signal,
      onHeader: () => resolveReady(),
    });
    this.iterator = iterable[Symbol.asyncIterator]();
    // Start reading at once: the call's headers (and `ready`) arrive with the first read.
    this.first = this.iterator.next();
    this.first.then(
      () => resolveReady(),
      (err: unknown) =>
        rejectReady(
          this.closed || this.controller.signal.aborted ? closedError() : toTaskStateError(err),
        ),
    );
  }

  /** Ends the stream. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unlink();
    this.controller.abort();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** The tasks written (write events only). Iterate either this or events(), once. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Task, void, void> {
    for await (const event of this.events()) {
      if (event.task) yield event.task;
    }
  }

  /**
   * Every message as a TaskEvent: writes, and with `allEvents` (or a resumeCursor) deletions,
   * expiries and progress, each with the resumeCursor that resumes right after it.
   */
  async *events(): AsyncGenerator<TaskEvent, void, void> {
    if (this.iterated) throw new TypeError("a TaskStream can be iterated only once");
    this.iterated = true;
    try {
      let next = await this.first;
      while (!next.done) {
        const event = eventFromProto(next.value);
        if (event !== undefined) yield event;
        next = await this.iterator.next();
      }
    } catch (err) {
      if (this.closed || this.controller.signal.aborted) return;
      throw toTaskStateError(err);
    } finally {
      this.close();
    }
  }
}

// -- helpers ----------------------------------------------------------------------------------

function taskOf(msg: TaskMessage | undefined): Task {
  if (!msg) {
    throw new TaskStateError("the server's response carries no task", {
      code: "INTERNAL",
      fromServer: false,
    });
  }
  return taskFromProto(msg);
}

function versionField(v: number | bigint | undefined): { expectedVersion?: bigint } {
  return v === undefined ? {} : { expectedVersion: toVersion(v, "expected_version") };
}

function fencingField(v: number | bigint | undefined): { fencingToken?: bigint } {
  return v === undefined ? {} : { fencingToken: toVersion(v, "fencing_token") };
}

/** A version as the proto's int64: a whole number >= 0 (else a local INVALID_ARGUMENT). */
function toVersion(v: number | bigint, field: string): bigint {
  if (typeof v === "bigint" ? v >= 0n : Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw localInvalidArgument(field, `${String(v)} is not a version (a whole number >= 0)`);
}

function taskErrorToProto(e: TaskError): TaskErrorMessage {
  return create(TaskErrorSchema, {
    code: e.code,
    message: e.message,
    ...("data" in e && e.data !== undefined ? { data: jsonToValue(e.data, "error.data") } : {}),
  });
}

function finishRequest(
  request: CompleteTaskRequest,
  options: { result?: JsonValue | undefined; variables?: JsonObject | undefined },
): void {
  if ("result" in options && options.result !== undefined) {
    request.result = jsonToValue(options.result, "result");
  }
  if (options.variables) request.variables = jsonToMap(options.variables, "variables");
}

function patchToProto(patch: TaskPatch): { task: TaskMessage; paths: string[] } {
  const task = create(TaskSchema);
  const paths: string[] = [];
  for (const key of Object.keys(patch) as (keyof TaskPatch)[]) {
    const path = PATCH_PATHS[key];
    if (path === undefined) throw new TypeError(`unknown task field ${JSON.stringify(key)}`);
    paths.push(path);
    switch (key) {
      case "status":
        if (patch.status !== undefined) task.status = statusToProto(patch.status);
        break;
      case "statusMessage":
        task.statusMessage = patch.statusMessage ?? "";
        break;
      case "variables":
        task.variables = jsonToMap(patch.variables ?? {}, "variables");
        break;
      case "result":
        if (patch.result !== undefined) task.result = jsonToValue(patch.result, "result");
        break;
      case "error":
        if (patch.error) task.error = taskErrorToProto(patch.error);
        break;
      case "ttl":
        if (patch.ttl !== undefined && patch.ttl !== null) task.ttl = durationToProto(patch.ttl);
        break;
      case "pollInterval":
        if (patch.pollInterval !== undefined && patch.pollInterval !== null) {
          task.pollInterval = durationToProto(patch.pollInterval);
        }
        break;
    }
  }
  return { task, paths };
}

function cloneTask(task: Task): Task {
  return structuredClone(task);
}
