// The official TS client against the PYTHON adapter's example server (two replicas on one
// Redis): run by tests/mcp/test_mcp_typescript.py, which starts them and passes their URLs in
// MCP_INTEROP_A and MCP_INTEROP_B. Not part of `npm test` (it needs that cluster).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import type { Client } from "@modelcontextprotocol/client";
import * as z from "zod";

import { TASKS_EXTENSION } from "../src/index.js";
import { RawSession, mcpClient } from "./harness.js";

const Detailed = z.looseObject({ taskId: z.string(), status: z.string() });
type Detailed = z.infer<typeof Detailed> & Record<string, unknown>;

function url(name: string): URL {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run tests/mcp/test_mcp_typescript.py`);
  return new URL(value);
}

const ALICE = "user-alice"; // --demo-auth: "Bearer user-<name>" acts for <name>
let rawA: RawSession;
let clientB: Client;

before(async () => {
  rawA = new RawSession(url("MCP_INTEROP_A"), ALICE);
  await rawA.start();
  clientB = await mcpClient(url("MCP_INTEROP_B"), true, ALICE);
});

after(async () => {
  await clientB?.close();
  await rawA?.close();
});

async function callAsTask(name: string, args: Record<string, unknown>): Promise<string> {
  const resp = await rawA.request("tools/call", { name, arguments: args });
  const result = resp["result"] as Record<string, unknown> | undefined;
  assert.equal(result?.["resultType"], "task", JSON.stringify(resp));
  return String(result["taskId"]);
}

async function pollUntil(taskId: string, done: (t: Detailed) => boolean): Promise<Detailed> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const task = (await clientB.request({ method: "tasks/get", params: { taskId } }, Detailed)) as Detailed;
    if (done(task)) return task;
    assert.ok(Date.now() < deadline, `task ${taskId} still ${task.status}`);
    await sleep(Number(task["pollIntervalMs"] ?? 100));
  }
}

const terminal = (t: Detailed): boolean => ["completed", "failed", "cancelled"].includes(t.status);

test("server/discover advertises the extension", () => {
  assert.deepEqual(clientB.getServerCapabilities()?.extensions?.[TASKS_EXTENSION], {});
});

test("tools/call through A, tasks/get through B to the exact result", async () => {
  const taskId = await callAsTask("slow", { seconds: 0.2 });
  const done = await pollUntil(taskId, terminal);
  assert.equal(done.status, "completed");
  assert.deepEqual((done["result"] as { content: unknown }).content, [{ type: "text", text: "slept 0.2s" }]);
});

test("input_required, tasks/update through B, completes with one side effect", async () => {
  const taskId = await callAsTask("ask_name", {});
  const waiting = await pollUntil(taskId, (t) => t.status === "input_required" || terminal(t));
  assert.equal(waiting.status, "input_required");
  assert.deepEqual(Object.keys(waiting["inputRequests"] as object), ["name"]);
  await clientB.request(
    { method: "tasks/update", params: { taskId, inputResponses: { name: { action: "accept", content: { name: "Luca" } } } } },
    z.looseObject({}),
  );
  const done = await pollUntil(taskId, terminal);
  assert.equal(done.status, "completed");
  assert.deepEqual((done["result"] as { content: unknown }).content, [
    { type: "text", text: "Hello, Luca! (side effects: 1)" },
  ]);
});

test("tasks/cancel during the slow tool ends cancelled (or completed if it raced)", async () => {
  const taskId = await callAsTask("slow", { seconds: 30 });
  await clientB.request({ method: "tasks/cancel", params: { taskId } }, z.looseObject({}));
  const done = await pollUntil(taskId, terminal);
  assert.ok(["cancelled", "completed"].includes(done.status), done.status);
});

test("a 1 MiB image block round-trips byte for byte", async () => {
  const taskId = await callAsTask("image", { size: 1 << 20, seed: 7 });
  const done = await pollUntil(taskId, terminal);
  assert.equal(done.status, "completed");
  const [image, digest] = (done["result"] as { content: Array<Record<string, string>> }).content;
  const bytes = Buffer.from(String(image?.["data"]), "base64");
  assert.equal(bytes.length, 1 << 20);
  assert.match(String(digest?.["text"]), new RegExp(createHash("sha256").update(bytes).digest("hex")));
});

test("notifications/tasks on B delivers the terminal task", async () => {
  const taskId = await callAsTask("slow", { seconds: 0.3 });
  const listener = new RawSession(url("MCP_INTEROP_B"), ALICE);
  await listener.start();
  try {
    void listener.request("subscriptions/listen", { notifications: { taskIds: [taskId] } });
    const last = await listener.notification(
      (m) => m["method"] === "notifications/tasks" && terminal(m["params"] as Detailed),
    );
    assert.equal((last["params"] as Detailed).status, "completed");
  } finally {
    await listener.close();
  }
});

test("another end user gets -32602 for alice's task", async () => {
  const taskId = await callAsTask("slow", { seconds: 0.01 });
  const bob = await mcpClient(url("MCP_INTEROP_B"), true, "user-bob");
  try {
    await assert.rejects(
      bob.request({ method: "tasks/get", params: { taskId } }, Detailed),
      (err: unknown) => (err as { code?: number }).code === -32602,
    );
  } finally {
    await bob.close();
  }
});
