// wait(): long-running-operation semantics of WaitTask.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createClient } from "../src/index.js";
import type { TaskClient } from "../src/index.js";
import { TestServer, delay } from "./server.js";

describe("wait()", () => {
  let server: TestServer;
  let client: TaskClient;
  let worker: TaskClient;

  before(async () => {
    server = await TestServer.start();
    client = createClient({ address: server.address });
    worker = createClient({ address: server.address });
  });
  after(async () => {
    client?.close();
    worker?.close();
    await server?.close();
  });

  it("returns as soon as the task is terminal", async () => {
    const t = await client.create();
    const started = Date.now();
    const [done] = await Promise.all([
      client.wait(t.taskId, { timeout: "20s" }),
      delay(200).then(() => worker.complete(t.taskId, { result: { answer: 42 } })),
    ]);
    assert.equal(done.status, "completed");
    assert.deepEqual(done.result, { answer: 42 });
    assert.ok(Date.now() - started < 10_000);
  });

  it("returns on a requested status", async () => {
    const t = await client.create();
    const [got] = await Promise.all([
      client.wait(t.taskId, { statuses: ["input_required"] }),
      delay(100).then(() => worker.updateStatus(t.taskId, "input_required")),
    ]);
    assert.equal(got.status, "input_required");
    assert.equal(got.version, 2);
  });

  it("returns the current task when the timeout passes", async () => {
    const t = await client.create();
    const started = Date.now();
    const got = await client.wait(t.taskId, { timeout: 300 });
    const took = Date.now() - started;
    assert.equal(got.status, "working");
    assert.ok(took >= 250 && took < 5_000, `took ${took} ms`);
    const now = await client.wait(t.taskId, { timeout: "0s" });
    assert.equal(now.version, 1);
  });

  it("a terminal task returns at once whatever the statuses", async () => {
    const t = await client.create();
    await worker.cancel(t.taskId);
    const got = await client.wait(t.taskId, { statuses: ["input_required"], timeout: "10s" });
    assert.equal(got.status, "cancelled");
  });

  it("throws NOT_FOUND for a missing task", async () => {
    await assert.rejects(
      client.wait("01a20f85-1d7a-711f-871a-f4e289d29f17", { timeout: "1s" }),
      (e: unknown) => (e as { code?: string }).code === "NOT_FOUND",
    );
  });
});
