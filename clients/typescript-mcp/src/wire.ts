// The tasks extension's wire shapes (io.modelcontextprotocol/tasks, 2026-07-28), built from
// taskstate tasks. Spec: ext-tasks specification/draft/tasks.md; schema: @modelcontextprotocol/ext-tasks
// core/v2 (DetailedTask, CreateTaskResult, TaskStatusNotificationParams).

import { outstandingInput } from "@taskstate/client";
import type { JsonObject, Task } from "@taskstate/client";

/** The extension's identifier (capabilities, per-request opt-in). */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** The Task fields every variant carries. */
export interface WireTask {
  taskId: string;
  status: Task["status"];
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttlMs: number | null;
  pollIntervalMs?: number;
}

/** tasks/get's answer and notifications/tasks' params: the Task plus its status's payload. */
export type DetailedTask = WireTask & {
  inputRequests?: JsonObject;
  result?: JsonObject;
  error?: JsonObject;
};

/** A taskstate task in the extension's base shape. */
export function wireTask(task: Task): WireTask {
  const out: WireTask = {
    taskId: task.taskId,
    status: task.status,
    createdAt: task.createTime.toISOString(),
    lastUpdatedAt: task.updateTime.toISOString(),
    ttlMs: task.ttlMs ?? null,
  };
  if (task.statusMessage !== "") out.statusMessage = task.statusMessage;
  if (task.pollIntervalMs !== undefined) out.pollIntervalMs = task.pollIntervalMs;
  return out;
}

/** A task as the DetailedTask tasks/get returns (spec "Response" rules 1-5). */
export function detailedTask(task: Task): DetailedTask {
  const out: DetailedTask = wireTask(task);
  if (task.status === "input_required") out.inputRequests = outstandingInput(task);
  if (task.status === "completed") out.result = asObject(task.result);
  if (task.status === "failed") {
    // A failure the store recorded itself (e.g. LEASE_EXPIRED, code 13) carries a gRPC code, not
    // a JSON-RPC one: the requester sees it as an internal error (JSON-RPC codes are negative).
    const code = task.error?.code ?? -32603;
    const error: JsonObject = { code: code < 0 ? code : -32603, message: task.error?.message ?? "" };
    if (task.error?.data !== undefined) error["data"] = task.error.data;
    out.error = error;
  }
  return out;
}

function asObject(value: unknown): JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as JsonObject)
    : { content: [] };
}
