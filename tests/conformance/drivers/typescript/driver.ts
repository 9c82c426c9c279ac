// The TypeScript conformance driver (contract: /work/notes/DRIVER_PROTOCOL.md, tests/conformance/README.md).
//
// One JSON request per stdin line -> one call of the idiomatic client -> one JSON line on stdout.
// Every request runs as its own promise, so slow calls (wait, watch, parallel updates) never hold
// up the lines after them. No matchers and no scenario logic: the Python engine owns those.
//
// "@taskstate/client" is the client package itself, imported exactly as a user imports it: `build`
// installs what `npm pack` of clients/typescript ships (package.json + dist/) into ./node_modules,
// with the package's dependencies linked from clients/typescript/node_modules. (A bare relative
// import of ../clients/typescript would break whenever the client rebuilds dist/, and NODE_PATH
// would not do: Node's ESM resolver ignores it.)

import { createInterface } from "node:readline";

import {
  TaskStateError,
  createClient,
  createWorker,
  durationToProto,
  jsonToMap,
  jsonToValue,
  statusToProto,
  taskFromProto,
  toTaskStateError,
} from "@taskstate/client";
import type {
  JsonObject,
  JsonValue,
  LeasePolicyName,
  Task,
  TaskClient,
  TaskError,
  TaskEvent,
  TaskPatch,
  TaskStatusName,
  TaskStream,
  TaskViewName,
  UpdateFn,
} from "@taskstate/client";

const DEADLINE_MS = 30_000;

type Obj = { [key: string]: JsonValue };
type Target = { address: string; token: string | null; subject?: string };

/** A request the driver cannot serve (unknown op or arg, wrong type): a `failure` answer. */
class Failure extends Error {}

/** The arguments of one request; `use` rejects keys the op does not take. */
class Args {
  constructor(private readonly a: Obj) {}

  use(...keys: string[]): this {
    const unknown = Object.keys(this.a).filter((k) => !keys.includes(k));
    if (unknown.length > 0) throw new Failure(`unknown args ${JSON.stringify(unknown)}`);
    return this;
  }
  has(key: string): boolean {
    return key in this.a;
  }
  raw(key: string): JsonValue | undefined {
    return this.a[key];
  }
  str(key: string): string {
    return check(this.a[key], "string", key) as string;
  }
  optStr(key: string): string | undefined {
    return this.has(key) ? this.str(key) : undefined;
  }
  optInt(key: string): number | undefined {
    const v = this.a[key];
    if (v === undefined) return undefined;
    if (!Number.isInteger(v)) throw new Failure(`${key} must be an integer`);
    return v as number;
  }
  optBool(key: string): boolean | undefined {
    const v = this.a[key];
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") throw new Failure(`${key} must be a boolean`);
    return v;
  }
  int(key: string): number {
    const v = this.optInt(key);
    if (v === undefined) throw new Failure(`${key} is required`);
    return v;
  }
  optObj(key: string): JsonObject | undefined {
    return this.has(key) ? (check(this.a[key], "object", key) as JsonObject) : undefined;
  }
  obj(key: string): JsonObject {
    return check(this.a[key], "object", key) as JsonObject;
  }
  optStrings(key: string): string[] | undefined {
    const v = this.a[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
      throw new Failure(`${key} must be an array of strings`);
    }
    return v as string[];
  }
  statuses(): TaskStatusName[] | undefined {
    return this.optStrings("statuses") as TaskStatusName[] | undefined;
  }
}

function check(v: JsonValue | undefined, kind: "string" | "object", key: string): JsonValue {
  const ok = kind === "string" ? typeof v === "string" : isObj(v);
  if (!ok) throw new Failure(`${key} must be a ${kind}`);
  return v as JsonValue;
}

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// -- clients and open WatchTasks streams ----------------------------------------------------------

const clients = new Map<string, TaskClient>();

/**
 * One client per (address, token); plaintext and no token from the environment, explicitly.
 * With a subject: one withSubject() view of it per subject.
 */
function clientFor(target: Target): TaskClient {
  const key = JSON.stringify([target.address, target.token]);
  let c = clients.get(key);
  if (c === undefined) {
    c = createClient({
      address: target.address,
      token: target.token ?? undefined,
      tls: false,
      defaultTimeoutMs: DEADLINE_MS,
    });
    clients.set(key, c);
  }
  if (target.subject === undefined) return c;
  const subjectKey = JSON.stringify([target.address, target.token, target.subject]);
  let view = clients.get(subjectKey);
  if (view === undefined) {
    view = c.withSubject(target.subject);
    clients.set(subjectKey, view);
  }
  return view;
}

interface OpenStream {
  stream: TaskStream;
  events: AsyncIterator<TaskEvent>;
  /** Set once the stream has ended; every later `next` answers it again. */
  end?: Obj;
}

const streams = new Map<string, OpenStream>();

// -- views ----------------------------------------------------------------------------------------

function taskView(task: Task): Obj {
  const view: Obj = {
    task_id: task.taskId,
    status: task.status,
    status_message: task.statusMessage,
    request_method: task.requestMethod,
    version: task.version,
    variables: task.variables,
    create_time_ms: task.createTime.getTime(),
    update_time_ms: task.updateTime.getTime(),
  };
  if ("result" in task) view["result"] = task.result as JsonValue;
  if (task.error !== undefined) {
    const error: Obj = { code: task.error.code, message: task.error.message };
    if (task.error.data !== undefined) error["data"] = task.error.data;
    view["error"] = error;
  }
  if (task.ttlMs !== undefined) view["ttl_ms"] = Math.floor(task.ttlMs);
  if (task.pollIntervalMs !== undefined) view["poll_interval_ms"] = Math.floor(task.pollIntervalMs);
  if (task.expireTime !== undefined) view["expire_time_ms"] = task.expireTime.getTime();
  if (task.lease !== undefined) {
    view["lease"] = {
      worker_id: task.lease.workerId,
      fencing_token: task.lease.fencingToken,
      expire_time_ms: task.lease.expireTime.getTime(),
      duration_ms: Math.floor(task.lease.durationMs),
    };
  }
  if (task.leasePolicy !== undefined) view["lease_policy"] = task.leasePolicy;
  view["max_attempts"] = task.maxAttempts;
  view["attempt"] = task.attempt;
  view["subject"] = task.subject;
  view["input_requests"] = task.inputRequests;
  view["input_responses"] = task.inputResponses;
  view["cancel_requested"] = task.cancelRequested;
  return view;
}

/** A WatchTasks message: kind, task_id, version, resume_cursor, and the task with a write. */
function eventView(event: TaskEvent): Obj {
  const view: Obj = {
    kind: event.kind,
    task_id: event.taskId,
    version: event.version,
    resume_cursor: event.resumeCursor,
  };
  if (event.kind === "write" && event.task !== undefined) view["task"] = taskView(event.task);
  return view;
}

/** The server's status as the engine sees it; anything the client made up itself is a failure. */
function serverError(err: unknown): TaskStateError {
  if (err instanceof TaskStateError && err.fromServer) return err;
  throw err instanceof TaskStateError
    ? new Failure(`client-side error (no server status): ${err.code} ${err.message}`)
    : err;
}

function streamEnd(err: unknown): Obj {
  const e = serverError(err);
  return e.reason === null ? { end: e.code } : { end: e.code, end_reason: e.reason };
}

/** A generated-stub call (the documented fallbacks), its answer converted like the client's. */
async function stub(call: Promise<{ task?: Parameters<typeof taskFromProto>[0] }>): Promise<Obj> {
  let resp;
  try {
    resp = await call;
  } catch (err) {
    throw toTaskStateError(err);
  }
  if (resp.task === undefined) throw new Failure("the response carries no task");
  return taskView(taskFromProto(resp.task));
}

// -- argument conversions -------------------------------------------------------------------------

/** `{code, message, data?}`; absent code/message are the proto defaults (0, ""). */
function taskError(spec: JsonObject): TaskError {
  const e: TaskError = {
    code: (spec["code"] as number | undefined) ?? 0,
    message: (spec["message"] as string | undefined) ?? "",
  };
  if ("data" in spec) e.data = spec["data"] as JsonValue;
  return e;
}

const PATCH_KEYS: Record<string, keyof TaskPatch> = {
  status: "status",
  status_message: "statusMessage",
  variables: "variables",
  result: "result",
  error: "error",
  ttl_ms: "ttl",
  poll_interval_ms: "pollInterval",
};

/** put_if_version's `task` as the client's TaskPatch: exactly its keys form the mask. */
function taskPatch(spec: JsonObject): TaskPatch {
  const patch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(spec)) {
    const field = PATCH_KEYS[key];
    if (field === undefined) throw new Failure(`unknown task field ${JSON.stringify(key)}`);
    patch[field] = key === "error" && isObj(value) ? taskError(value) : value;
  }
  return patch as TaskPatch;
}

/** The same patch as a generated Task message (for an explicit update_mask). */
function patchMessage(p: TaskPatch) {
  return {
    ...(p.status !== undefined ? { status: statusToProto(p.status) } : {}),
    ...(p.statusMessage !== undefined ? { statusMessage: p.statusMessage } : {}),
    ...(p.variables !== undefined ? { variables: jsonToMap(p.variables, "variables") } : {}),
    ...(p.result !== undefined ? { result: jsonToValue(p.result, "result") } : {}),
    ...(p.error ? { error: errorMessage(p.error) } : {}),
    ...(p.ttl != null ? { ttl: durationToProto(p.ttl) } : {}),
    ...(p.pollInterval != null ? { pollInterval: durationToProto(p.pollInterval) } : {}),
  };
}

function errorMessage(e: TaskError) {
  return { code: e.code, message: e.message, ...(e.data !== undefined ? { data: jsonToValue(e.data) } : {}) };
}

/** update's fn: `{"increment": key, "by": n}` or `{"merge": {...}}` (null deletes). */
function updateFn(spec: JsonObject): UpdateFn {
  const keys = Object.keys(spec).sort().join(",");
  if (keys === "increment" || keys === "by,increment") {
    const key = spec["increment"];
    const by = spec["by"] ?? 1;
    if (typeof key !== "string" || typeof by !== "number") throw new Failure(`bad fn ${JSON.stringify(spec)}`);
    return (vars) => {
      const current = vars[key] ?? 0;
      if (typeof current !== "number") throw new Failure(`increment: ${key} is not a number`);
      vars[key] = current + by;
    };
  }
  const merge = spec["merge"];
  if (keys !== "merge" || !isObj(merge)) throw new Failure(`bad fn ${JSON.stringify(spec)}`);
  return (vars) => {
    for (const [key, value] of Object.entries(merge)) {
      if (value === null) delete vars[key];
      else vars[key] = value;
    }
  };
}

// -- operations -----------------------------------------------------------------------------------

type Op = (a: Args, target: Target) => Promise<Obj>;

const OPS: Record<string, Op> = {
  async create(a, t) {
    a.use(
      "ttl_ms",
      "poll_interval_ms",
      "request_method",
      "variables",
      "request_id",
      "lease_policy",
      "max_attempts",
    );
    const task = await clientFor(t).create({
      ttl: a.optInt("ttl_ms"),
      pollInterval: a.optInt("poll_interval_ms"),
      requestMethod: a.optStr("request_method"),
      variables: a.optObj("variables"),
      requestId: a.optStr("request_id"),
      leasePolicy: a.optStr("lease_policy") as LeasePolicyName | undefined,
      maxAttempts: a.optInt("max_attempts"),
    });
    return taskView(task);
  },

  async get(a, t) {
    return taskView(await clientFor(t).get(a.use("task_id").str("task_id")));
  },

  async list(a, t) {
    a.use("page_size", "page_token", "statuses", "view");
    const page = await clientFor(t).list({
      pageSize: a.optInt("page_size"),
      pageToken: a.optStr("page_token"),
      statuses: a.statuses(),
      view: a.optStr("view") as TaskViewName | undefined,
    });
    return {
      tasks: page.tasks.map(taskView),
      next_page_token: page.nextPageToken,
      resume_cursor: page.resumeCursor,
    };
  },

  async update_status(a, t) {
    a.use("task_id", "status", "message", "expected_version", "fencing_token", "input_requests");
    const task = await clientFor(t).updateStatus(a.str("task_id"), a.str("status") as TaskStatusName, {
      message: a.optStr("message"),
      expectedVersion: a.optInt("expected_version"),
      fencingToken: a.optInt("fencing_token"),
      inputRequests: a.optObj("input_requests"),
    });
    return taskView(task);
  },

  async provide_input(a, t) {
    a.use("task_id", "input_responses");
    const { task, acceptedKeys } = await clientFor(t).provideInput(a.str("task_id"), a.obj("input_responses"));
    return { task: taskView(task), accepted_keys: acceptedKeys };
  },

  async request_cancel(a, t) {
    return taskView(await clientFor(t).requestCancel(a.use("task_id").str("task_id")));
  },

  async set_variables(a, t) {
    a.use("task_id", "variables", "expected_version", "fencing_token");
    const task = await clientFor(t).setVariables(a.str("task_id"), a.obj("variables"), {
      expectedVersion: a.optInt("expected_version"),
      fencingToken: a.optInt("fencing_token"),
    });
    return taskView(task);
  },

  async put_if_version(a, t) {
    a.use("task_id", "expected_version", "task", "update_mask", "fencing_token");
    const taskId = a.str("task_id");
    const version = a.optInt("expected_version") ?? 0;
    const patch = taskPatch(a.obj("task"));
    const mask = a.optStrings("update_mask");
    const fencingToken = a.optInt("fencing_token");
    if (mask === undefined) {
      return taskView(await clientFor(t).putIfVersion(taskId, version, patch, { fencingToken }));
    }
    // Fallback: an explicit mask (empty, unknown or unset fields) is what the client never sends.
    const request = {
      taskId,
      expectedVersion: BigInt(version),
      task: patchMessage(patch),
      updateMask: { paths: mask },
      ...(fencingToken !== undefined ? { fencingToken: BigInt(fencingToken) } : {}),
    };
    return stub(clientFor(t).raw.putIfVersion(request, { timeoutMs: DEADLINE_MS }));
  },

  async complete(a, t) {
    a.use("task_id", "status", "message", "result", "error", "variables", "expected_version", "fencing_token");
    const taskId = a.str("task_id");
    const status = a.optStr("status") ?? "completed";
    const error = a.optObj("error");
    const common = {
      // Absent message = the proto default "" (fail() would otherwise copy the error's message).
      message: a.optStr("message") ?? "",
      variables: a.optObj("variables"),
      expectedVersion: a.optInt("expected_version"),
      fencingToken: a.optInt("fencing_token"),
      ...(a.has("result") ? { result: a.raw("result") as JsonValue } : {}),
    };
    const c = clientFor(t);
    if (status === "completed" && error === undefined) return taskView(await c.complete(taskId, common));
    if (status === "failed" && error !== undefined) {
      return taskView(await c.fail(taskId, taskError(error), common));
    }
    // Fallback: a combination the client refuses to express (it tests server validation).
    const request = {
      taskId,
      status: statusToProto(status as TaskStatusName),
      statusMessage: common.message,
      ...(common.variables !== undefined ? { variables: jsonToMap(common.variables, "variables") } : {}),
      ...(a.has("result") ? { result: jsonToValue(a.raw("result") as JsonValue, "result") } : {}),
      ...(error !== undefined ? { error: errorMessage(taskError(error)) } : {}),
      ...(common.expectedVersion !== undefined ? { expectedVersion: BigInt(common.expectedVersion) } : {}),
      ...(common.fencingToken !== undefined ? { fencingToken: BigInt(common.fencingToken) } : {}),
    };
    return stub(c.raw.completeTask(request, { timeoutMs: DEADLINE_MS }));
  },

  async cancel(a, t) {
    a.use("task_id", "message");
    return taskView(await clientFor(t).cancel(a.str("task_id"), { message: a.optStr("message") }));
  },

  async delete(a, t) {
    await clientFor(t).delete(a.use("task_id").str("task_id"));
    return {};
  },

  async wait(a, t) {
    a.use("task_id", "timeout_ms", "statuses");
    const task = await clientFor(t).wait(a.str("task_id"), {
      timeout: a.optInt("timeout_ms"),
      statuses: a.statuses(),
    });
    return taskView(task);
  },

  async update(a, t) {
    a.use("task_id", "fn");
    return taskView(await clientFor(t).update(a.str("task_id"), updateFn(a.obj("fn"))));
  },

  async watch(a, t) {
    a.use("task_id", "after_version");
    const tasks: JsonValue[] = [];
    const watch = clientFor(t).watch(a.str("task_id"), { afterVersion: a.optInt("after_version") });
    try {
      for await (const task of watch) tasks.push(taskView(task));
    } catch (err) {
      return { tasks, ...streamEnd(err) } as Obj;
    }
    return { tasks, end: "OK" };
  },

  async watch_all_open(a, t) {
    a.use("stream", "statuses", "view", "resume_cursor", "all_events");
    const name = a.str("stream");
    if (streams.has(name)) throw new Failure(`stream ${name} is already open`);
    // The plain stream, not events({resume: true}): the engine tests the server's resume.
    const stream = clientFor(t).watchAll({
      statuses: a.statuses(),
      view: a.optStr("view") as TaskViewName | undefined,
      resumeCursor: a.optStr("resume_cursor"),
      allEvents: a.optBool("all_events"),
    });
    streams.set(name, { stream, events: stream.events() });
    try {
      await stream.ready; // the server has registered the watcher: no later write is missed
    } catch (err) {
      streams.delete(name);
      stream.close();
      throw err;
    }
    return {};
  },

  async watch_all_next(a) {
    const name = a.use("stream").str("stream");
    const open = streams.get(name);
    if (open === undefined) throw new Failure(`unknown stream ${name}`);
    if (open.end !== undefined) return open.end;
    try {
      const next = await open.events.next();
      if (!next.done) return eventView(next.value);
      open.end = { end: "OK" };
    } catch (err) {
      open.end = streamEnd(err);
    }
    return open.end;
  },

  async claim(a, t) {
    a.use("worker_id", "task_id", "lease_ms", "request_method", "wait_ms");
    const task = await clientFor(t).claim({
      workerId: a.str("worker_id"),
      taskId: a.optStr("task_id"),
      lease: a.optInt("lease_ms"),
      requestMethod: a.optStr("request_method"),
      wait: a.optInt("wait_ms"),
    });
    const answer: Obj = {};
    if (task !== null) answer["task"] = taskView(task);
    return answer;
  },

  async renew_lease(a, t) {
    a.use("task_id", "fencing_token", "lease_ms", "message");
    const task = await clientFor(t).renewLease(a.str("task_id"), a.int("fencing_token"), {
      lease: a.optInt("lease_ms"),
      message: a.optStr("message"),
    });
    return taskView(task);
  },

  async worker_run(a, t) {
    a.use("worker_id", "request_method", "lease_ms", "wait_ms", "variables", "result");
    const worker = createWorker(clientFor(t), {
      workerId: a.str("worker_id"),
      lease: a.optInt("lease_ms"), // absent: the helper's default
    });
    const lease = await worker.claimNext({
      requestMethod: a.optStr("request_method"),
      wait: a.optInt("wait_ms"),
    });
    if (lease === null) return {} as Obj;
    try {
      const claimed = taskView(lease.task);
      const variables = a.optObj("variables");
      if (variables !== undefined) await lease.setVariables(variables);
      const done = await lease.complete(a.has("result") ? { result: a.raw("result") as JsonValue } : {});
      return { claimed, task: taskView(done) };
    } finally {
      await lease.close();
    }
  },

  async watch_all_close(a) {
    const name = a.use("stream").str("stream");
    streams.get(name)?.stream.close();
    streams.delete(name);
    return {};
  },
};

function describe(err: unknown): string {
  if (err instanceof Failure) return err.message;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

// -- the loop -------------------------------------------------------------------------------------

function send(response: Obj): void {
  // One write per whole line; Node writes to a pipe synchronously, so lines never interleave.
  process.stdout.write(`${JSON.stringify(response)}\n`);
}

async function handle(line: string): Promise<void> {
  let id: JsonValue = null;
  try {
    const request: unknown = JSON.parse(line);
    if (!isObj(request)) throw new Failure("a request must be a JSON object");
    id = request["id"] ?? null;
    const op = typeof request["op"] === "string" ? OPS[request["op"]] : undefined;
    if (op === undefined) throw new Failure(`unknown op ${JSON.stringify(request["op"])}`);
    const target = (request["target"] ?? {}) as Target;
    send({ id, ok: await op(new Args((request["args"] ?? {}) as Obj), target) });
  } catch (err) {
    try {
      const e = serverError(err);
      send({ id, error: { code: e.code, reason: e.reason, message: e.message, metadata: { ...e.metadata } } });
    } catch (failure) {
      send({ id, failure: describe(failure) });
    }
  }
}

send({ hello: "typescript" });
const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on("line", (line) => {
  if (line.trim() !== "") void handle(line);
});
input.on("close", () => process.exit(0)); // abandons whatever is still running, as the protocol asks
