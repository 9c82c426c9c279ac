// The adapter end to end: a real taskstate server, two MCP replicas (A, B) of the adapter on the
// official TS server SDK, and the official TS client (see harness.ts).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import type { Client } from "@modelcontextprotocol/client";
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import type { McpServer } from "@modelcontextprotocol/server";
import type { TaskClient } from "@taskstate/client";
import * as z from "zod";

import { TASKS_EXTENSION } from "../src/index.js";
import type { TaskstateTasks } from "../src/index.js";
import {
  RawSession,
  mcpClient,
  replica,
  subjectOfAuth,
  taskClient,
  taskstateServer,
} from "./harness.js";

const Detailed = z.looseObject({ taskId: z.string(), status: z.string() });
type Detailed = z.infer<typeof Detailed> & Record<string, unknown>;

let sideEffects = 0;

function tools(mcp: McpServer, tasks: TaskstateTasks): void {
  tasks.registerTaskTool(
    mcp,
    "slow",
    { description: "sleeps ms milliseconds", inputSchema: z.object({ ms: z.number() }) },
    async (args, run) => {
      await sleep(Number(args["ms"]), undefined, { signal: run.signal });
      return { content: [{ type: "text", text: `slept ${String(args["ms"])}` }] };
    },
  );
  tasks.registerTaskTool(mcp, "fails", { description: "a JSON-RPC error" }, async () => {
    throw new ProtocolError(ProtocolErrorCode.InternalError, "API rate limit exceeded");
  });
  tasks.registerTaskTool(mcp, "oops", { description: "a tool error" }, async () => {
    throw new Error("invalid input");
  });
  tasks.registerTaskTool(mcp, "greet", { description: "asks for a name" }, async (_args, run) => {
    sideEffects += 1;
    const answers = await run.ask(
      {
        name: {
          method: "elicitation/create",
          params: {
            mode: "form",
            message: "Please enter your name.",
            requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
          },
        },
      },
      "waiting for a name",
    );
    const name = (answers["name"] as { content?: { name?: string } } | null)?.content?.name ?? "?";
    return { content: [{ type: "text", text: `Hello, ${name}! (side effects: ${sideEffects})` }] };
  });
}

let stopTaskstate: () => void = () => {};
let address = "";
let store: TaskClient;
let A: Awaited<ReturnType<typeof replica>>;
let B: Awaited<ReturnType<typeof replica>>;
let rawA: RawSession;
let clientB: Client;

before(async () => {
  const ts = await taskstateServer();
  stopTaskstate = ts.stop;
  address = ts.address;
  store = taskClient(ts.address);
  A = await replica(store, tools);
  B = await replica(store, tools);
  rawA = new RawSession(A.url);
  await rawA.start();
  clientB = await mcpClient(B.url, true);
});

after(async () => {
  await clientB?.close();
  await rawA?.close();
  await A?.close();
  await B?.close();
  store?.close();
  stopTaskstate();
});

/** tools/call through replica A with the extension: the CreateTaskResult. */
async function callAsTask(name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const resp = await rawA.request("tools/call", { name, arguments: args });
  assert.equal(resp["error"], undefined, JSON.stringify(resp["error"]));
  const result = resp["result"] as Record<string, unknown>;
  assert.equal(result["resultType"], "task", JSON.stringify(result));
  return result;
}

async function getTask(client: Client, taskId: string): Promise<Detailed> {
  return (await client.request({ method: "tasks/get", params: { taskId } }, Detailed)) as Detailed;
}

/** Polls tasks/get through `client` at the task's pollIntervalMs until `done`. */
async function pollUntil(client: Client, taskId: string, done: (t: Detailed) => boolean): Promise<Detailed> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const task = await getTask(client, taskId);
    if (done(task)) return task;
    assert.ok(Date.now() < deadline, `task ${taskId} still ${task.status}`);
    await sleep(Number(task["pollIntervalMs"] ?? 100));
  }
}

/** A result without its _meta (the SDK stamps io.modelcontextprotocol/serverInfo there). */
function withoutMeta(result: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(result).filter(([k]) => k !== "_meta"));
}

const terminal = (t: Detailed): boolean => ["completed", "failed", "cancelled"].includes(t.status);

describe("server/discover", () => {
  test("advertises the tasks extension", () => {
    assert.deepEqual(clientB.getServerCapabilities()?.extensions?.[TASKS_EXTENSION], {});
  });
});

describe("tools/call", () => {
  test("a client without the extension gets the plain tool result", async () => {
    const plain = await mcpClient(A.url, false);
    try {
      const result = await plain.callTool({ name: "slow", arguments: { ms: 1 } });
      assert.deepEqual(result.content, [{ type: "text", text: "slept 1" }]);
    } finally {
      await plain.close();
    }
  });

  test("through A returns a task that tasks/get through B follows to the exact result", async () => {
    const created = await callAsTask("slow", { ms: 200 });
    assert.equal(typeof created["taskId"], "string");
    assert.equal(created["status"], "working");
    // Server._wrapHandler gives every tools/call result a content array (tsmcp-findings.md (b)).
    assert.deepEqual(created["content"], []);
    assert.equal(created["ttlMs"], 3_600_000);
    assert.equal(created["pollIntervalMs"], 100);
    assert.ok(!Number.isNaN(Date.parse(String(created["createdAt"]))));
    const first = await getTask(clientB, String(created["taskId"]));
    assert.equal(first.taskId, created["taskId"]);
    const done = await pollUntil(clientB, String(created["taskId"]), terminal);
    assert.equal(done.status, "completed");
    assert.deepEqual(done["result"], { content: [{ type: "text", text: "slept 200" }] });
  });

  test("a thrown JSON-RPC error fails the task with that error", async () => {
    const created = await callAsTask("fails");
    const done = await pollUntil(clientB, String(created["taskId"]), terminal);
    assert.equal(done.status, "failed");
    assert.deepEqual(done["error"], { code: -32603, message: "API rate limit exceeded" });
  });

  test("a thrown tool error completes the task with an isError result", async () => {
    const created = await callAsTask("oops");
    const done = await pollUntil(clientB, String(created["taskId"]), terminal);
    assert.equal(done.status, "completed");
    assert.deepEqual(done["result"], { content: [{ type: "text", text: "invalid input" }], isError: true });
  });
});

describe("latency", () => {
  test("CreateTaskResult (create + claim in taskstate), warm", async (t) => {
    await callAsTask("slow", { ms: 1 });
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      await callAsTask("slow", { ms: 1 });
      times.push(performance.now() - started);
    }
    times.sort((x, y) => x - y);
    t.diagnostic(`CreateTaskResult: median ${times[10]?.toFixed(1)} ms, max ${times[19]?.toFixed(1)} ms`);
    assert.ok((times[10] ?? Infinity) < 500);
  });
});

describe("tasks/get", () => {
  test("an unknown task is -32602", async () => {
    await assert.rejects(getTask(clientB, "no-such-task"), (err: unknown) => {
      assert.equal((err as { code?: number }).code, -32602);
      return true;
    });
  });

  test("a client without the extension gets -32021", async () => {
    const created = await callAsTask("slow", { ms: 1 });
    const resp = await rawA.request("tasks/get", { taskId: created["taskId"] }, false);
    assert.equal((resp["error"] as { code: number }).code, -32021);
  });
});

describe("subscriptions/listen", () => {
  test("asking for taskIds without the extension is -32021", async () => {
    const created = await callAsTask("slow", { ms: 1 });
    const resp = await rawA.request("subscriptions/listen", { notifications: { taskIds: [created["taskId"]] } }, false);
    assert.equal((resp["error"] as { code: number }).code, -32021);
  });

  test("notifications/tasks delivers the terminal task", async (t) => {
    const created = await callAsTask("slow", { ms: 300 });
    const taskId = String(created["taskId"]);
    const listener = new RawSession(B.url);
    await listener.start();
    try {
      const listening = listener.request("subscriptions/listen", { notifications: { taskIds: [taskId, "no-such-task"] } });
      const ack = await listener.notification((m) => m["method"] === "notifications/subscriptions/acknowledged");
      assert.deepEqual((ack["params"] as { notifications: unknown }).notifications, { taskIds: [taskId] });
      const last = await listener.notification(
        (m) => m["method"] === "notifications/tasks" && (m["params"] as Detailed).status === "completed",
      );
      const params = last["params"] as Detailed;
      const deliveryMs = Date.now() - Date.parse(String(params["lastUpdatedAt"]));
      t.diagnostic(`commit -> notifications/tasks: ${deliveryMs} ms`);
      assert.ok(deliveryMs < 1000, `delivered ${deliveryMs} ms after the commit`);
      assert.equal(params.taskId, taskId);
      assert.deepEqual(params["result"], { content: [{ type: "text", text: "slept 300" }] });
      const end = await listening;
      assert.equal((end["result"] as { resultType: string }).resultType, "complete");
    } finally {
      await listener.close();
    }
  });
});

describe("input and cancel", () => {
  test("the input tool asks, tasks/update through B answers, and it continues without re-running", async () => {
    sideEffects = 0;
    const created = await callAsTask("greet");
    const taskId = String(created["taskId"]);
    const waiting = await pollUntil(clientB, taskId, (t) => t.status === "input_required" || terminal(t));
    assert.equal(waiting.status, "input_required");
    assert.deepEqual(Object.keys(waiting["inputRequests"] as object), ["name"]);
    const ack = await clientB.request(
      { method: "tasks/update", params: { taskId, inputResponses: { name: { action: "accept", content: { name: "Luca" } } } } },
      z.looseObject({}),
    );
    assert.deepEqual(withoutMeta(ack), {});
    const done = await pollUntil(clientB, taskId, terminal);
    assert.equal(done.status, "completed");
    assert.deepEqual(done["result"], { content: [{ type: "text", text: "Hello, Luca! (side effects: 1)" }] });
    // Answers to keys already answered (or never asked) are acknowledged and ignored.
    const again = await rawA.request("tasks/update", { taskId, inputResponses: { name: { action: "decline" }, other: { action: "accept" } } });
    assert.equal(again["error"], undefined);
    assert.deepEqual((await getTask(clientB, taskId))["result"], done["result"]);
  });

  test("tasks/cancel during the slow tool ends it cancelled", async () => {
    const created = await callAsTask("slow", { ms: 10_000 });
    const taskId = String(created["taskId"]);
    const ack = await clientB.request({ method: "tasks/cancel", params: { taskId } }, z.looseObject({}));
    assert.deepEqual(withoutMeta(ack), {});
    const done = await pollUntil(clientB, taskId, terminal);
    assert.equal(done.status, "cancelled");
  });
});

describe("end users", () => {
  test("two end users cannot see each other's tasks (-32602) nor listen to them", async () => {
    const users = await replica(store, tools, { subject: subjectOfAuth });
    const alice = new RawSession(users.url, "alice");
    const bob = new RawSession(users.url, "bob");
    const bobClient = await mcpClient(users.url, true, "bob");
    try {
      await alice.start();
      await bob.start();
      const created = await alice.request("tools/call", { name: "slow", arguments: { ms: 1 } });
      const taskId = String((created["result"] as Record<string, unknown>)["taskId"]);
      const own = await alice.request("tasks/get", { taskId });
      assert.equal((own["result"] as Detailed).taskId, taskId);
      await assert.rejects(getTask(bobClient, taskId), (err: unknown) => (err as { code?: number }).code === -32602);
      const update = await bob.request("tasks/update", { taskId, inputResponses: {} });
      assert.equal((update["error"] as { code: number }).code, -32602);
      const cancel = await bob.request("tasks/cancel", { taskId });
      assert.equal((cancel["error"] as { code: number }).code, -32602);
      assert.equal((await store.get(taskId)).subject, "alice");
      void bob.request("subscriptions/listen", { notifications: { taskIds: [taskId] } });
      const ack = await bob.notification((m) => m["method"] === "notifications/subscriptions/acknowledged");
      assert.deepEqual((ack["params"] as { notifications: unknown }).notifications, { taskIds: [] });
    } finally {
      await bobClient.close();
      await alice.close();
      await bob.close();
      await users.close();
    }
  });
});

describe("worker death", () => {
  test("kill -9 of the replica running a tool: the task fails within its lease, B keeps serving", async () => {
    const leaseMs = 1000;
    const script = fileURLToPath(new URL("./replica-main.js", import.meta.url));
    const child = spawn(process.execPath, [script, address, String(leaseMs)], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      const url = await new Promise<URL>((resolve, reject) => {
        child.stdout.once("data", (chunk: Buffer) => resolve(new URL(chunk.toString().trim())));
        child.once("exit", (code) => reject(new Error(`replica exited (${code})`)));
      });
      const doomed = new RawSession(url);
      await doomed.start();
      const created = await doomed.request("tools/call", { name: "hang", arguments: {} });
      await doomed.close();
      const taskId = String((created["result"] as Record<string, unknown>)["taskId"]);
      assert.equal((await getTask(clientB, taskId)).status, "working");
      const killed = Date.now();
      child.kill("SIGKILL");
      const done = await pollUntil(clientB, taskId, terminal);
      assert.equal(done.status, "failed");
      assert.ok(Date.now() - killed < leaseMs + 5000, `failed after ${Date.now() - killed} ms`);
      const error = done["error"] as { code: number; message: string };
      assert.equal(error.code, -32603);
      assert.match(error.message, /LEASE_EXPIRED/);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
