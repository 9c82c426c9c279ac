// Conformance runner for the TypeScript client; the contract is tests/conformance/README.md.
//
//   TASKSTATE_ADDRESS=... TASKSTATE_QUOTA_ADDRESS=... TASKSTATE_TOKEN_ALICE=... \
//   TASKSTATE_TOKEN_BOB=... TASKSTATE_VECTORS_DIR=tests/conformance/vectors \
//     node clients/typescript/build/tools/conformance.js [FILE_OR_NAME ...]
//
// With arguments, only the named scenarios run (a debugging aid; the harness passes none).
// stdout carries only the PASS/FAIL lines and the summary; everything else goes to stderr.

import { randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";

import { createClient } from "../src/client.js";
import type { TaskClient, TaskPatch, TaskStream } from "../src/client.js";
import { durationToProto } from "../src/duration.js";
import { TaskStateError, toTaskStateError } from "../src/errors.js";
import {
  CompleteTaskRequestSchema,
  PutIfVersionRequestSchema,
  TaskErrorSchema,
  TaskSchema,
  TaskStatus,
} from "../src/gen/taskstate/v1/taskstate_pb.js";
import type { Task as TaskMessage, TaskError as TaskErrorMessage } from "../src/gen/taskstate/v1/taskstate_pb.js";
import { jsonToMap, jsonToValue } from "../src/json.js";
import type { JsonObject, JsonValue } from "../src/json.js";
import { TASK_STATUSES, statusToProto, taskFromProto } from "../src/task.js";
import type { Task, TaskStatusName } from "../src/task.js";

const STEP_TIMEOUT_MS = 10_000; // await / watch_all_collect
const CALL_TIMEOUT_MS = 30_000; // every unary call (and, as a guard, a synchronous watch)
const UNKNOWN_TOKEN = "conformance-unknown-token";
const MAX_PAGES = 1000;

const OWNERS = ["alice", "bob", "nobody", "anonymous"] as const;
type Owner = (typeof OWNERS)[number];
const SERVERS = ["main", "quota"];
const STEP_KEYS = new Set(["op", "as", "args", "expect", "save", "async", "comment"]);
const SCENARIO_KEYS = new Set(["name", "description", "server", "steps"]);
const TASK_FIELDS = new Set([
  "status",
  "status_message",
  "variables",
  "result",
  "error",
  "ttl",
  "poll_interval",
]);

// op -> [required args, optional args]
const OPS: Record<string, [string[], string[]]> = {
  create: [[], ["ttl", "poll_interval", "request_method", "variables", "request_id"]],
  get: [["task_id"], []],
  list: [[], ["page_size", "page_token", "statuses"]],
  list_all: [[], ["page_size", "statuses"]],
  update_status: [["task_id", "status"], ["message", "expected_version"]],
  set_variables: [["task_id", "variables"], ["expected_version"]],
  put_if_version: [["task_id", "expected_version", "task"], ["update_mask"]],
  complete: [["task_id"], ["status", "message", "result", "error", "variables", "expected_version"]],
  cancel: [["task_id"], ["message"]],
  delete: [["task_id"], []],
  wait: [["task_id", "timeout"], ["statuses"]],
  update: [["task_id", "fn"], ["parallel"]],
  watch: [["task_id"], ["after_version"]],
  watch_all_start: [["handle"], ["statuses"]],
  watch_all_collect: [["handle", "task_ids", "until"], []],
  await: [["handle"], []],
};
const NO_ASYNC = new Set(["await", "watch_all_start", "watch_all_collect"]);
const MATCHERS = new Set([
  "$exists",
  "$eq",
  "$ne",
  "$gt",
  "$gte",
  "$lt",
  "$lte",
  "$len",
  "$contains",
  "$not_contains",
  "$subsequence",
  "$increasing",
  "$unique",
  "$each",
  "$regex",
]);
const DURATION_RE = /^(\d+)(ms|s|m|h)$/;
const WHOLE_REF = /^\$\{([^}]+)\}$/;
const REF = /\$\{([^}]+)\}/g;

/** A scenario failed: a mismatch, a malformed vector, a timeout. */
class ScenarioError extends Error {}

/** "absent" in the README's sense (a path that does not resolve). */
const ABSENT: unique symbol = Symbol("absent");
type Maybe = JsonValue | typeof ABSENT;

type Json = JsonValue;
type Obj = { [key: string]: Json };
type Step = {
  op: string;
  as?: string;
  args?: Obj;
  expect?: Obj;
  save?: Record<string, string>;
  async?: string;
  comment?: unknown;
};
type Scenario = { name: string; description: string; server?: string; steps: Step[] };

// ---------------------------------------------------------------------------------------------
// Static validation
// ---------------------------------------------------------------------------------------------

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isMatcher(m: unknown): m is Obj {
  return isObj(m) && Object.keys(m).length > 0 && Object.keys(m).every((k) => k.startsWith("$"));
}

function validateMatcher(m: unknown): string[] {
  if (!isMatcher(m)) return [];
  const problems = Object.keys(m)
    .filter((k) => !MATCHERS.has(k))
    .map((k) => `unknown matcher ${k}`);
  if ("$each" in m) problems.push(...validateMatcher(m["$each"]));
  return problems;
}

function validateScenario(doc: unknown, stem: string): string[] {
  if (!isObj(doc)) return ["scenario is not a JSON object"];
  const problems: string[] = [];
  const unknown = Object.keys(doc).filter((k) => !SCENARIO_KEYS.has(k));
  if (unknown.length) problems.push(`unknown scenario keys ${JSON.stringify(unknown.sort())}`);
  if (typeof doc["name"] !== "string" || doc["name"] === "") problems.push("missing name");
  else if (doc["name"] !== stem) problems.push(`name ${doc["name"]} differs from the file name ${stem}`);
  if (typeof doc["description"] !== "string") problems.push("missing description");
  if (!SERVERS.includes(String(doc["server"] ?? "main"))) problems.push("server must be main or quota");
  const steps = doc["steps"];
  if (!Array.isArray(steps) || steps.length === 0) return [...problems, "steps must be a non-empty list"];
  const handles = new Set<string>();
  steps.forEach((step, i) => problems.push(...validateStep(step, handles).map((p) => `step ${i}: ${p}`)));
  return problems;
}

function validateStep(step: unknown, handles: Set<string>): string[] {
  if (!isObj(step)) return ["not an object"];
  const problems: string[] = [];
  const unknown = Object.keys(step).filter((k) => !STEP_KEYS.has(k));
  if (unknown.length) problems.push(`unknown step keys ${JSON.stringify(unknown.sort())}`);
  const op = step["op"];
  if (typeof op !== "string" || !(op in OPS)) return [...problems, `unknown op ${JSON.stringify(op)}`];
  if (!(OWNERS as readonly string[]).includes(String(step["as"] ?? "alice"))) {
    problems.push(`as must be one of ${OWNERS.join(", ")}`);
  }
  const args = step["args"] ?? {};
  if (!isObj(args)) return [...problems, "args must be an object"];
  const [required, optional] = OPS[op] as [string[], string[]];
  const missing = required.filter((k) => !(k in args));
  if (missing.length) problems.push(`${op}: missing args ${JSON.stringify(missing)}`);
  const extra = Object.keys(args).filter((k) => !required.includes(k) && !optional.includes(k));
  if (extra.length) problems.push(`${op}: unknown args ${JSON.stringify(extra)}`);
  if ("async" in step) {
    if (NO_ASYNC.has(op)) problems.push(`${op} cannot be async`);
    if ("expect" in step || "save" in step) {
      problems.push("an async step takes no expect/save (put them on the await step)");
    }
    handles.add(String(step["async"]));
  }
  if (op === "watch_all_start") handles.add(String(args["handle"]));
  if ((op === "await" || op === "watch_all_collect") && !handles.has(String(args["handle"]))) {
    problems.push(`handle ${JSON.stringify(args["handle"])} was never started`);
  }
  if (op === "put_if_version" && isObj(args["task"])) {
    const bad = Object.keys(args["task"]).filter((k) => !TASK_FIELDS.has(k));
    if (bad.length) problems.push(`put_if_version: unknown task fields ${JSON.stringify(bad)}`);
  }
  if (op === "update" && isObj(args["fn"])) {
    const keys = Object.keys(args["fn"]).sort().join(",");
    if (!["increment", "by,increment", "merge"].includes(keys)) {
      problems.push(`update: bad fn ${JSON.stringify(args["fn"])}`);
    }
  }
  const expect = step["expect"];
  if (expect !== undefined) {
    const kinds = isObj(expect) ? Object.keys(expect) : [];
    if (kinds.length !== 1 || (kinds[0] !== "ok" && kinds[0] !== "error")) {
      problems.push('expect must be {"ok": {...}} or {"error": {...}}');
    } else if (isObj(expect) && "ok" in expect) {
      const ok = expect["ok"];
      if (!isObj(ok)) problems.push("expect.ok must be an object of path -> matcher");
      else {
        for (const [path, m] of Object.entries(ok)) {
          problems.push(...validateMatcher(m).map((p) => `expect.ok[${path}]: ${p}`));
        }
      }
    } else if (isObj(expect)) {
      const err = expect["error"];
      if (!isObj(err) || typeof err["code"] !== "string") problems.push("expect.error needs a code");
      else {
        const bad = Object.keys(err).filter((k) => !["code", "reason", "message", "metadata"].includes(k));
        if (bad.length) problems.push(`expect.error: unknown keys ${JSON.stringify(bad)}`);
      }
    }
  }
  const save = step["save"];
  if (save !== undefined && !(isObj(save) && Object.values(save).every((v) => typeof v === "string"))) {
    problems.push("save must be an object of name -> path");
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Values: durations, substitution, task and error views
// ---------------------------------------------------------------------------------------------

function duration(text: unknown): string {
  if (typeof text !== "string" || !DURATION_RE.test(text)) {
    throw new ScenarioError(`bad duration ${JSON.stringify(text)} (use e.g. 500ms, 90s, 5m, 1h)`);
  }
  return text;
}

function asText(value: Json): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return JSON.stringify(value);
}

function lookup(saved: Map<string, Json>, name: string): Json {
  if (!saved.has(name)) throw new ScenarioError(`unknown reference \${${name}}`);
  return saved.get(name) as Json;
}

function substitute(value: Json | undefined, saved: Map<string, Json>, generators: boolean): Json | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") {
    const whole = WHOLE_REF.exec(value);
    if (whole) return lookup(saved, whole[1] as string);
    return value.replace(REF, (_, name: string) => asText(lookup(saved, name)));
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, saved, generators) as Json);
  if (isObj(value)) {
    const keys = Object.keys(value);
    if (generators && keys.length === 1 && keys[0] === "$repeat") {
      const spec = value["$repeat"];
      if (
        !Array.isArray(spec) ||
        spec.length !== 2 ||
        typeof spec[0] !== "string" ||
        !Number.isInteger(spec[1])
      ) {
        throw new ScenarioError(`bad $repeat ${JSON.stringify(spec)}`);
      }
      return spec[0].repeat(spec[1] as number);
    }
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, saved, generators) as Json;
    return out;
  }
  return value;
}

/** The canonical JSON view of a task (README section 3). */
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
  if ("result" in task) view["result"] = task.result as Json;
  if (task.error) {
    const err: Obj = { code: task.error.code, message: task.error.message };
    if ("data" in task.error && task.error.data !== undefined) err["data"] = task.error.data;
    view["error"] = err;
  }
  if (task.ttlMs !== undefined) view["ttl_ms"] = Math.floor(task.ttlMs);
  if (task.pollIntervalMs !== undefined) view["poll_interval_ms"] = Math.floor(task.pollIntervalMs);
  if (task.expireTime !== undefined) view["expire_time_ms"] = task.expireTime.getTime();
  return view;
}

function rawTaskView(msg: TaskMessage | undefined): Obj {
  if (!msg) throw new ScenarioError("the response carries no task");
  return taskView(taskFromProto(msg));
}

/** The error view of a failed call (README section 3). */
function errorView(err: TaskStateError): Obj {
  return {
    code: err.code,
    reason: err.reason,
    message: err.message,
    metadata: { ...err.metadata },
  };
}

type Outcome = { ok: boolean; value: Json };

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

function deepEq(a: Maybe, b: Maybe): boolean {
  if (a === ABSENT || b === ABSENT) return false;
  if (typeof a === "number" && typeof b === "number") return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEq(x, b[i] as Json));
  }
  if (isObj(a) && isObj(b)) {
    const ak = Object.keys(a);
    const bk = Object.keys(b);
    if (ak.length !== bk.length || !ak.every((k) => Object.prototype.hasOwnProperty.call(b, k))) {
      return false;
    }
    return ak.every((k) => deepEq(a[k] as Json, b[k] as Json));
  }
  return a === b;
}

function resolvePath(value: Json, path: string): Maybe {
  if (path === "") return value;
  let cur: Maybe = value;
  for (const seg of path.split(".")) {
    if (isObj(cur)) {
      cur = Object.prototype.hasOwnProperty.call(cur, seg) ? (cur[seg] as Json) : ABSENT;
    } else if (Array.isArray(cur) && /^-?\d+$/.test(seg)) {
      const idx = Number(seg);
      if (idx < -cur.length || idx >= cur.length) return ABSENT;
      cur = cur[idx < 0 ? cur.length + idx : idx] as Json;
    } else {
      return ABSENT;
    }
    if (cur === ABSENT) return ABSENT;
  }
  return cur;
}

function show(v: Maybe): string {
  if (v === ABSENT) return "<absent>";
  const text = JSON.stringify(v);
  return text.length <= 600 ? text : `${text.slice(0, 600)}...`;
}

function isNumber(v: Maybe): v is number {
  return typeof v === "number";
}

/** null if `actual` satisfies `matcher`, else why not. */
function mismatch(actual: Maybe, matcher: Json): string | null {
  if (!isMatcher(matcher)) {
    if (actual === ABSENT || !deepEq(actual, matcher)) return `got ${show(actual)}, want ${show(matcher)}`;
    return null;
  }
  for (const [op, arg] of Object.entries(matcher)) {
    const why = check(op, arg as Json, actual);
    if (why) return `${op}: ${why} (got ${show(actual)})`;
  }
  return null;
}

function check(op: string, arg: Json, actual: Maybe): string | null {
  const present = actual !== ABSENT;
  if (op === "$exists") return present === Boolean(arg) ? null : arg ? "absent" : "present";
  if (actual === ABSENT) return "absent";
  switch (op) {
    case "$eq":
      return deepEq(actual, arg) ? null : `not equal to ${show(arg)}`;
    case "$ne":
      return !deepEq(actual, arg) ? null : `equal to ${show(arg)}`;
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte": {
      if (!isNumber(actual) || !isNumber(arg)) return `not numbers (want ${show(arg)})`;
      const ok =
        op === "$gt" ? actual > arg : op === "$gte" ? actual >= arg : op === "$lt" ? actual < arg : actual <= arg;
      return ok ? null : `want ${op} ${arg}`;
    }
    case "$len": {
      let len: number;
      if (typeof actual === "string") len = [...actual].length;
      else if (Array.isArray(actual)) len = actual.length;
      else if (isObj(actual)) len = Object.keys(actual).length;
      else return "has no length";
      return len === arg ? null : `length ${len}, want ${show(arg)}`;
    }
    case "$regex":
      if (typeof actual !== "string") return "not a string";
      return new RegExp(String(arg), "u").test(actual) ? null : `does not match ${JSON.stringify(arg)}`;
  }
  if (!Array.isArray(actual)) return "not an array";
  switch (op) {
    case "$contains":
      return actual.some((x) => deepEq(x, arg)) ? null : `lacks ${show(arg)}`;
    case "$not_contains":
      return !actual.some((x) => deepEq(x, arg)) ? null : `has ${show(arg)}`;
    case "$subsequence": {
      if (!Array.isArray(arg)) return "$subsequence needs an array";
      let i = 0;
      for (const want of arg) {
        while (i < actual.length && !deepEq(actual[i] as Json, want)) i++;
        if (i >= actual.length) return `${show(want)} missing or out of order in ${show(arg)}`;
        i++;
      }
      return null;
    }
    case "$increasing": {
      if (!actual.every(isNumber)) return "not all numbers";
      const ok = actual.every((x, i) => i === 0 || (actual[i - 1] as number) < (x as number));
      return ok === Boolean(arg) ? null : "not strictly increasing";
    }
    case "$unique": {
      const dupes = actual.filter((x, i) => actual.slice(0, i).some((y) => deepEq(x, y)));
      return dupes.length === 0 || !arg ? null : `duplicates ${show(dupes)}`;
    }
    case "$each":
      for (let i = 0; i < actual.length; i++) {
        const why = mismatch(actual[i] as Json, arg);
        if (why) return `element ${i}: ${why}`;
      }
      return null;
  }
  return `unknown matcher ${op}`;
}

function checkExpect(outcome: Outcome, expect: Json | undefined): void {
  if (expect === undefined || (isObj(expect) && "ok" in expect)) {
    if (!outcome.ok) throw new ScenarioError(`want success, got error ${show(outcome.value)}`);
    const ok = expect === undefined ? {} : ((expect as Obj)["ok"] as Obj);
    for (const [path, matcher] of Object.entries(ok)) {
      const why = mismatch(resolvePath(outcome.value, path), matcher as Json);
      if (why) throw new ScenarioError(`${path || "<outcome>"}: ${why}`);
    }
    return;
  }
  const want = (expect as Obj)["error"] as Obj;
  if (outcome.ok) throw new ScenarioError(`want error ${show(want)}, got success ${show(outcome.value)}`);
  const got = outcome.value as Obj;
  if (got["code"] !== want["code"]) throw new ScenarioError(`want code ${String(want["code"])}, got error ${show(got)}`);
  if ("reason" in want && got["reason"] !== want["reason"]) {
    throw new ScenarioError(`want reason ${String(want["reason"])}, got error ${show(got)}`);
  }
  if ("message" in want && got["message"] !== want["message"]) {
    throw new ScenarioError(`want message ${show(want["message"] as Json)}, got ${show(got["message"] as Json)}`);
  }
  const metadata = (got["metadata"] ?? {}) as Obj;
  for (const [key, value] of Object.entries((want["metadata"] ?? {}) as Obj)) {
    if (metadata[key] !== asText(value as Json)) {
      throw new ScenarioError(`want metadata ${key}=${JSON.stringify(asText(value as Json))}, got metadata ${show(metadata)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Execution
// ---------------------------------------------------------------------------------------------

interface Env {
  address: string;
  quotaAddress: string;
  tokens: Record<Owner, string>;
  vectorsDir: string;
}

function envFromProcess(): Env {
  const names = [
    "TASKSTATE_ADDRESS",
    "TASKSTATE_QUOTA_ADDRESS",
    "TASKSTATE_TOKEN_ALICE",
    "TASKSTATE_TOKEN_BOB",
    "TASKSTATE_VECTORS_DIR",
  ];
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length) {
    process.stderr.write(`conformance: missing environment variables ${missing.join(", ")}\n`);
    process.exit(2);
  }
  return {
    address: process.env["TASKSTATE_ADDRESS"] as string,
    quotaAddress: process.env["TASKSTATE_QUOTA_ADDRESS"] as string,
    tokens: {
      alice: process.env["TASKSTATE_TOKEN_ALICE"] as string,
      bob: process.env["TASKSTATE_TOKEN_BOB"] as string,
      nobody: UNKNOWN_TOKEN,
      anonymous: "", // no authorization metadata at all
    },
    vectorsDir: process.env["TASKSTATE_VECTORS_DIR"] as string,
  };
}

/** A WatchTasks stream whose events are pumped into a queue. */
class WatchAll {
  readonly events: Array<Task | Error | null> = [];
  private wake: (() => void) | undefined;

  constructor(readonly stream: TaskStream) {
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for await (const task of this.stream) this.push(task);
    } catch (err) {
      this.push(err instanceof Error ? err : new Error(String(err)));
    }
    this.push(null);
  }

  private push(item: Task | Error | null): void {
    this.events.push(item);
    this.wake?.();
  }

  /** The next item, or undefined once `deadline` passes. */
  async next(deadline: number): Promise<Task | Error | null | undefined> {
    while (this.events.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((ok) => {
        const timer = setTimeout(ok, left);
        this.wake = () => {
          clearTimeout(timer);
          ok();
        };
      });
      this.wake = undefined;
    }
    return this.events.shift();
  }

  close(): void {
    this.stream.close();
  }
}

type Args = Obj;

function str(a: Args, key: string, dflt?: string): string {
  const v = a[key] ?? dflt;
  if (typeof v !== "string") throw new ScenarioError(`${key} must be a string`);
  return v;
}

function optVersion(a: Args, key = "expected_version"): number | undefined {
  const v = a[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new ScenarioError(`${key} must be a non-negative integer`);
  }
  return v;
}

function statuses(a: Args): TaskStatusName[] {
  const v = a["statuses"] ?? [];
  if (!Array.isArray(v)) throw new ScenarioError("statuses must be an array");
  return v.map(statusName);
}

function statusName(v: Json | undefined): TaskStatusName {
  if (typeof v !== "string" || !(TASK_STATUSES as readonly string[]).includes(v)) {
    throw new ScenarioError(`unknown status ${JSON.stringify(v)}`);
  }
  return v as TaskStatusName;
}

function objArg(a: Args, key: string): JsonObject {
  const v = a[key];
  if (!isObj(v)) throw new ScenarioError(`${key} must be an object`);
  return v;
}

class ScenarioRun {
  readonly saved = new Map<string, Json>();
  private readonly clients = new Map<Owner, TaskClient>();
  private readonly background = new Map<string, Promise<Outcome>>();
  private readonly watches = new Map<string, WatchAll>();

  constructor(
    private readonly env: Env,
    private readonly server: string,
  ) {}

  private get address(): string {
    return this.server === "quota" ? this.env.quotaAddress : this.env.address;
  }

  private client(owner: Owner): TaskClient {
    let c = this.clients.get(owner);
    if (!c) {
      const token = this.env.tokens[owner];
      c = createClient({
        address: this.address,
        token: token === "" ? undefined : token,
        defaultTimeoutMs: CALL_TIMEOUT_MS,
      });
      this.clients.set(owner, c);
    }
    return c;
  }

  close(): void {
    for (const w of this.watches.values()) w.close();
    for (const c of this.clients.values()) c.close();
  }

  async runStep(step: Step): Promise<void> {
    const op = step.op;
    const owner = (step.as ?? "alice") as Owner;
    const args = (substitute(step.args ?? {}, this.saved, true) ?? {}) as Args;
    if (step.async !== undefined) {
      const handle = step.async;
      if (this.background.has(handle)) throw new ScenarioError(`handle ${handle} already used`);
      const pending = this.call(op, owner, args);
      pending.catch(() => {}); // surfaced by await; abandoned ops must not crash the runner
      this.background.set(handle, pending);
      return;
    }
    const outcome = await this.call(op, owner, args);
    const expect = substitute(step.expect as Json | undefined, this.saved, false);
    checkExpect(outcome, expect);
    for (const [name, path] of Object.entries(step.save ?? {})) {
      const value = resolvePath(outcome.value, path);
      if (value === ABSENT) throw new ScenarioError(`save ${name}: path ${path} is absent in ${show(outcome.value)}`);
      this.saved.set(name, value);
    }
  }

  /** Runs one op; a TaskStateError from the server is an error outcome, anything else a failure. */
  private async call(op: string, owner: Owner, a: Args): Promise<Outcome> {
    try {
      return { ok: true, value: await this.dispatch(op, owner, a) };
    } catch (err) {
      if (err instanceof Replay) return { ok: false, value: err.view };
      if (err instanceof TaskStateError) return { ok: false, value: serverError(err) };
      throw err;
    }
  }

  private dispatch(op: string, owner: Owner, a: Args): Promise<Json> {
    switch (op) {
      case "create":
        return this.opCreate(owner, a);
      case "get":
        return this.client(owner).get(str(a, "task_id")).then(taskView);
      case "list":
        return this.opList(owner, a);
      case "list_all":
        return this.opListAll(owner, a);
      case "update_status":
        return this.client(owner)
          .updateStatus(str(a, "task_id"), statusName(a["status"]), {
            message: str(a, "message", ""),
            expectedVersion: optVersion(a),
          })
          .then(taskView);
      case "set_variables":
        return this.client(owner)
          .setVariables(str(a, "task_id"), objArg(a, "variables"), { expectedVersion: optVersion(a) })
          .then(taskView);
      case "put_if_version":
        return this.opPutIfVersion(owner, a);
      case "complete":
        return this.opComplete(owner, a);
      case "cancel":
        return this.client(owner)
          .cancel(str(a, "task_id"), { message: str(a, "message", "") })
          .then(taskView);
      case "delete":
        return this.client(owner)
          .delete(str(a, "task_id"))
          .then(() => ({}));
      case "wait":
        return this.client(owner)
          .wait(str(a, "task_id"), { timeout: duration(a["timeout"]), statuses: statuses(a) })
          .then(taskView);
      case "update":
        return this.opUpdate(owner, a);
      case "watch":
        return this.opWatch(owner, a);
      case "watch_all_start":
        return this.opWatchAllStart(owner, a);
      case "watch_all_collect":
        return this.opWatchAllCollect(a);
      case "await":
        return this.opAwait(a);
      default:
        throw new ScenarioError(`unknown op ${op}`);
    }
  }

  private async opCreate(owner: Owner, a: Args): Promise<Json> {
    const task = await this.client(owner).create({
      ...("ttl" in a ? { ttl: duration(a["ttl"]) } : {}),
      ...("poll_interval" in a ? { pollInterval: duration(a["poll_interval"]) } : {}),
      ...("request_method" in a ? { requestMethod: str(a, "request_method") } : {}),
      ...("variables" in a ? { variables: objArg(a, "variables") } : {}),
      ...("request_id" in a ? { requestId: str(a, "request_id") } : {}),
    });
    return taskView(task);
  }

  private async opList(owner: Owner, a: Args): Promise<Json> {
    const page = await this.client(owner).list({
      pageSize: (a["page_size"] as number | undefined) ?? 0,
      pageToken: str(a, "page_token", ""),
      statuses: statuses(a),
    });
    const tasks = page.tasks.map(taskView);
    return { tasks, task_ids: tasks.map((t) => t["task_id"] as Json), next_page_token: page.nextPageToken };
  }

  private async opListAll(owner: Owner, a: Args): Promise<Json> {
    const taskIds: Json[] = [];
    const statusList: Json[] = [];
    const pageLens: Json[] = [];
    let pageToken = "";
    for (let i = 0; i < MAX_PAGES; i++) {
      const page = await this.client(owner).list({
        pageSize: (a["page_size"] as number | undefined) ?? 0,
        pageToken,
        statuses: statuses(a),
      });
      for (const t of page.tasks) {
        taskIds.push(t.taskId);
        statusList.push(t.status);
      }
      pageLens.push(page.tasks.length);
      pageToken = page.nextPageToken;
      if (pageToken === "") return { task_ids: taskIds, statuses: statusList, page_lens: pageLens };
    }
    throw new ScenarioError(`list_all: still a next_page_token after ${MAX_PAGES} pages`);
  }

  private async opPutIfVersion(owner: Owner, a: Args): Promise<Json> {
    const spec = objArg(a, "task");
    const expected = optVersion(a) as number;
    if ("update_mask" in a) {
      // Explicit masks (possibly empty or naming unknown fields) test server validation:
      // the generated stub on the same connection and token.
      const mask = a["update_mask"];
      if (!Array.isArray(mask) || !mask.every((p) => typeof p === "string")) {
        throw new ScenarioError("update_mask must be an array of strings");
      }
      const request = create(PutIfVersionRequestSchema, {
        taskId: str(a, "task_id"),
        expectedVersion: BigInt(expected),
        task: pbTask(spec),
        updateMask: create(FieldMaskSchema, { paths: mask as string[] }),
      });
      const resp = await raw(() => this.client(owner).raw.putIfVersion(request, { timeoutMs: CALL_TIMEOUT_MS }));
      return rawTaskView(resp.task);
    }
    const patch: TaskPatch = {};
    if ("status" in spec) patch.status = statusName(spec["status"]);
    if ("status_message" in spec) patch.statusMessage = str(spec, "status_message");
    if ("variables" in spec) patch.variables = objArg(spec, "variables");
    if ("result" in spec) patch.result = spec["result"] as Json;
    if ("error" in spec) {
      const e = objArg(spec, "error");
      patch.error = {
        code: (e["code"] as number | undefined) ?? 0,
        message: str(e, "message", ""),
        ...("data" in e ? { data: e["data"] as Json } : {}),
      };
    }
    if ("ttl" in spec) patch.ttl = duration(spec["ttl"]);
    if ("poll_interval" in spec) patch.pollInterval = duration(spec["poll_interval"]);
    return taskView(await this.client(owner).putIfVersion(str(a, "task_id"), expected, patch));
  }

  private async opComplete(owner: Owner, a: Args): Promise<Json> {
    const status = str(a, "status", "completed");
    const taskId = str(a, "task_id");
    const common = {
      expectedVersion: optVersion(a),
      message: str(a, "message", ""),
      ...("result" in a ? { result: a["result"] as Json } : {}),
      ...("variables" in a ? { variables: objArg(a, "variables") } : {}),
    };
    const client = this.client(owner);
    if (status === "completed" && !("error" in a)) {
      return taskView(await client.complete(taskId, common));
    }
    if (status === "failed" && "error" in a) {
      const e = objArg(a, "error");
      const error = {
        code: (e["code"] as number | undefined) ?? 0,
        message: str(e, "message", ""),
        ...("data" in e ? { data: e["data"] as Json } : {}),
      };
      return taskView(await client.fail(taskId, error, common));
    }
    // A combination the idiomatic client cannot express (it tests server validation).
    const request = create(CompleteTaskRequestSchema, {
      taskId,
      status: statusToProto(statusName(status)),
      statusMessage: common.message,
      variables: "variables" in a ? jsonToMap(objArg(a, "variables")) : {},
    });
    if ("result" in a) request.result = jsonToValue(a["result"] as Json);
    if ("error" in a) request.error = pbError(objArg(a, "error"));
    if (common.expectedVersion !== undefined) request.expectedVersion = BigInt(common.expectedVersion);
    const resp = await raw(() => client.raw.completeTask(request, { timeoutMs: CALL_TIMEOUT_MS }));
    return rawTaskView(resp.task);
  }

  private async opUpdate(owner: Owner, a: Args): Promise<Json> {
    const fn = updateFn(objArg(a, "fn"));
    const n = (a["parallel"] as number | undefined) ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new ScenarioError("parallel must be an integer >= 1");
    const client = this.client(owner);
    const taskId = str(a, "task_id");
    const settled = await Promise.allSettled(
      Array.from({ length: n }, () => client.update(taskId, fn)),
    );
    const tasks: Task[] = [];
    for (const s of settled) {
      if (s.status === "rejected") throw s.reason; // the first error, in start order
      tasks.push(s.value);
    }
    const best = tasks.reduce((x, y) => (y.version > x.version ? y : x));
    return taskView(best);
  }

  private async opWatch(owner: Owner, a: Args): Promise<Json> {
    const tasks: Obj[] = [];
    const out: Obj = { end: "OK" };
    const guard = AbortSignal.timeout(CALL_TIMEOUT_MS);
    try {
      const it = this.client(owner).watch(str(a, "task_id"), {
        afterVersion: optVersion(a, "after_version") ?? 0,
        signal: guard,
      });
      for await (const task of it) tasks.push(taskView(task));
    } catch (err) {
      if (guard.aborted) throw new ScenarioError(`timeout: watch still open after ${CALL_TIMEOUT_MS} ms`);
      if (!(err instanceof TaskStateError)) throw err;
      const view = serverError(err);
      out["end"] = view["code"] as Json;
      if (view["reason"]) out["end_reason"] = view["reason"] as Json;
    }
    out["versions"] = tasks.map((t) => t["version"] as Json);
    out["statuses"] = tasks.map((t) => t["status"] as Json);
    out["tasks"] = tasks;
    return out;
  }

  private async opWatchAllStart(owner: Owner, a: Args): Promise<Json> {
    const handle = str(a, "handle");
    if (this.watches.has(handle)) throw new ScenarioError(`handle ${handle} already used`);
    const stream = this.client(owner).watchAll({ statuses: statuses(a) });
    const watch = new WatchAll(stream);
    this.watches.set(handle, watch);
    // The contract: return only once the server has sent the response headers.
    await withTimeout(stream.ready, CALL_TIMEOUT_MS, "watch_all_start: no response headers");
    return {};
  }

  private async opWatchAllCollect(a: Args): Promise<Json> {
    const handle = str(a, "handle");
    const watch = this.watches.get(handle);
    if (!watch) throw new ScenarioError(`no watch_all stream ${handle}`);
    const wanted = new Set((a["task_ids"] as Json[]).map(String));
    const until = objArg(a, "until");
    const events: Obj[] = [];
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    try {
      for (;;) {
        const item = await watch.next(deadline);
        if (item === undefined) throw new ScenarioError(`timeout: no event matching ${show(until)} in ${show(events)}`);
        if (item === null) throw new ScenarioError(`stream ended before an event matching ${show(until)}`);
        if (item instanceof Error) throw item;
        const event: Obj = { task_id: item.taskId, version: item.version, status: item.status };
        if (!wanted.has(item.taskId)) continue;
        events.push(event);
        if (Object.entries(until).every(([k, v]) => deepEq(k in event ? (event[k] as Json) : ABSENT, v as Json))) {
          break;
        }
      }
    } finally {
      watch.close();
    }
    return { events };
  }

  private async opAwait(a: Args): Promise<Json> {
    const handle = str(a, "handle");
    const pending = this.background.get(handle);
    if (!pending) throw new ScenarioError(`no async op ${handle}`);
    const outcome = await withTimeout(pending, STEP_TIMEOUT_MS, `timeout: async op ${handle} still running`);
    if (!outcome.ok) throw new Replay(outcome.value as Obj);
    return outcome.value;
  }
}

/** Carries an error view through call() (raw calls, awaited async errors). */
class Replay extends Error {
  constructor(readonly view: Obj) {
    super(String(view["message"] ?? ""));
  }
}

/** The error view of a server status; a client-made error is a scenario failure. */
function serverError(err: TaskStateError): Obj {
  if (!err.fromServer) {
    throw new ScenarioError(`client-side error (no server status): ${err.code} ${err.message}`);
  }
  return errorView(err);
}

async function raw<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Replay(serverError(toTaskStateError(err)));
  }
}

function pbError(spec: Obj): TaskErrorMessage {
  return create(TaskErrorSchema, {
    code: (spec["code"] as number | undefined) ?? 0,
    message: str(spec, "message", ""),
    ...("data" in spec ? { data: jsonToValue(spec["data"] as Json) } : {}),
  });
}

function pbTask(spec: Obj): TaskMessage {
  const task = create(TaskSchema);
  if ("status" in spec) task.status = statusToProto(statusName(spec["status"]));
  if ("status_message" in spec) task.statusMessage = str(spec, "status_message");
  if ("variables" in spec) task.variables = jsonToMap(objArg(spec, "variables"));
  if ("result" in spec) task.result = jsonToValue(spec["result"] as Json);
  if ("error" in spec) task.error = pbError(objArg(spec, "error"));
  if ("ttl" in spec) task.ttl = durationToProto(duration(spec["ttl"]));
  if ("poll_interval" in spec) task.pollInterval = durationToProto(duration(spec["poll_interval"]));
  if (task.status === TaskStatus.UNSPECIFIED && "status" in spec) {
    throw new ScenarioError("unspecified status");
  }
  return task;
}

function updateFn(spec: Obj): (vars: JsonObject) => void {
  if ("increment" in spec) {
    const key = str(spec, "increment");
    const by = (spec["by"] as number | undefined) ?? 1;
    return (vars) => {
      const current = vars[key] ?? 0;
      if (typeof current !== "number") throw new ScenarioError(`increment: ${key} is not a number`);
      vars[key] = current + by;
    };
  }
  const merge = objArg(spec, "merge");
  return (vars) => {
    for (const [key, value] of Object.entries(merge)) {
      if (value === null) delete vars[key];
      else vars[key] = value;
    }
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((ok, fail) => {
    const timer = setTimeout(() => fail(new ScenarioError(what)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        ok(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        fail(e);
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function runScenario(env: Env, doc: Scenario): Promise<void> {
  const run = new ScenarioRun(env, doc.server ?? "main");
  run.saved.set("$unique", randomBytes(8).toString("hex"));
  try {
    for (const [i, step] of doc.steps.entries()) {
      try {
        await run.runStep(step);
      } catch (err) {
        const why = err instanceof ScenarioError ? err.message : describe(err);
        throw new ScenarioError(`step ${i} (${step.op}): ${why}`);
      }
    }
  } finally {
    run.close();
  }
}

function describe(err: unknown): string {
  if (err instanceof TaskStateError) return `${err.name}(${err.code}, ${JSON.stringify(err.message)})`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

function writeLine(line: string): Promise<void> {
  return new Promise((ok) => process.stdout.write(`${line}\n`, () => ok()));
}

async function main(argv: string[]): Promise<number> {
  const env = envFromProcess();
  process.on("unhandledRejection", (reason) => {
    process.stderr.write(`conformance: unhandled rejection: ${describe(reason)}\n`);
  });
  const files = readdirSync(env.vectorsDir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .filter((f) => argv.length === 0 || argv.includes(f) || argv.includes(f.slice(0, -5)));
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    const stem = file.slice(0, -5);
    let name = stem;
    try {
      const doc: unknown = JSON.parse(readFileSync(join(env.vectorsDir, file), "utf8"));
      if (isObj(doc) && typeof doc["name"] === "string") name = doc["name"];
      const problems = validateScenario(doc, stem);
      if (problems.length) throw new ScenarioError(`malformed vector: ${problems.join("; ")}`);
      await runScenario(env, doc as unknown as Scenario);
      passed++;
      await writeLine(`PASS ${name}`);
    } catch (err) {
      failed++;
      const why = (err instanceof ScenarioError ? err.message : describe(err)).split(/\s+/).join(" ");
      await writeLine(`FAIL ${name}: ${why}`);
    }
  }
  await writeLine(`${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`conformance: ${describe(err)}\n`);
    process.exit(2);
  },
);
