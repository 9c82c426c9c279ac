// watch(): ordered versions, resume after dropped connections and server restarts; watchAll().

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { TaskNotFoundError, createClient } from "../src/index.js";
import type { Task, TaskClient } from "../src/index.js";
import { DropProxy, TestServer, delay, until } from "./server.js";

const FAST_RETRY = { maxAttempts: 60, initialBackoffMs: 20, maxBackoffMs: 250 };

function assertIncreasing(versions: number[]): void {
  for (let i = 1; i < versions.length; i++) {
    assert.ok(versions[i]! > versions[i - 1]!, `versions not increasing: ${versions.join(",")}`);
  }
}

describe("watch()", () => {
  let server: TestServer;
  let client: TaskClient;
  let writer: TaskClient;

  before(async () => {
    server = await TestServer.start();
    client = createClient({ address: server.address, watchRetry: FAST_RETRY });
    writer = createClient({ address: server.address });
  });
  after(async () => {
    client?.close();
    writer?.close();
    await server?.close();
  });

  it("streams every version from creation to the terminal one, then ends", async () => {
    const t = await writer.create();
    const seen: Task[] = [];
    const consumer = (async () => {
      for await (const task of client.watch(t.taskId)) seen.push(task);
    })();
    await until(() => seen.length === 1, 10_000, "the first version");
    await writer.setVariables(t.taskId, { step: 1 });
    await writer.updateStatus(t.taskId, "input_required");
    await writer.updateStatus(t.taskId, "working");
    await writer.complete(t.taskId, { result: "ok" });
    await consumer;
    const versions = seen.map((x) => x.version);
    assertIncreasing(versions);
    assert.equal(versions[0], 1);
    assert.equal(versions.at(-1), 5);
    assert.equal(seen.at(-1)!.status, "completed");
    assert.equal(seen.at(-1)!.result, "ok");
  });

  it("starts after afterVersion; a terminal task ends at once", async () => {
    const t = await writer.create();
    await writer.setVariables(t.taskId, { a: 1 });
    await writer.setVariables(t.taskId, { a: 2 });
    const first = await client.watch(t.taskId, { afterVersion: 2 }).next();
    assert.equal(first.done, false);
    assert.equal((first.value as Task).version, 3);
    const done = await writer.cancel(t.taskId);
    const all: number[] = [];
    for await (const x of client.watch(t.taskId)) all.push(x.version);
    assert.deepEqual(all, [done.version]);
    const none: number[] = [];
    for await (const x of client.watch(t.taskId, { afterVersion: done.version })) none.push(x.version);
    assert.deepEqual(none, []);
  });

  it("throws TaskNotFoundError for a missing task and when the task is deleted", async () => {
    await assert.rejects(async () => {
      for await (const _ of client.watch("01a20f85-1d7a-711f-871a-f4e289d29f17")) {
        // nothing
      }
    }, TaskNotFoundError);
    const t = await writer.create();
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const x of client.watch(t.taskId)) seen.push(x.version);
    })();
    await until(() => seen.length === 1, 10_000, "the first version");
    await writer.delete(t.taskId);
    await assert.rejects(consumer, TaskNotFoundError);
  });

  it("stops when the loop breaks", async () => {
    const t = await writer.create();
    for await (const x of client.watch(t.taskId)) {
      assert.equal(x.version, 1);
      break;
    }
    await writer.cancel(t.taskId); // nobody listening; must not hang or throw
  });

  it("resumes from the last version after the connection drops", async () => {
    const proxy = await DropProxy.start(server.address);
    const watcher = createClient({ address: proxy.address, watchRetry: FAST_RETRY });
    try {
      const t = await writer.create();
      const seen: Task[] = [];
      const consumer = (async () => {
        for await (const x of watcher.watch(t.taskId)) seen.push(x);
      })();
      await until(() => seen.length === 1, 10_000, "the first version");
      const connectionsBefore = proxy.accepted;
      for (let round = 0; round < 3; round++) {
        const { version } = await writer.setVariables(t.taskId, { round });
        await until(() => seen.at(-1)!.version >= version, 10_000, `version ${version}`);
        proxy.dropAll(); // the watch stream dies with its connection
        await writer.setVariables(t.taskId, { round, during: "outage" });
      }
      await writer.complete(t.taskId, { result: { rounds: 3 } });
      await consumer;
      assert.ok(proxy.accepted >= connectionsBefore + 3, "the watch reconnected after each drop");
      const versions = seen.map((x) => x.version);
      assertIncreasing(versions);
      const final = await writer.get(t.taskId);
      assert.equal(versions.at(-1), final.version);
      assert.equal(seen.at(-1)!.status, "completed");
      assert.deepEqual(seen.at(-1)!.result, { rounds: 3 });
    } finally {
      watcher.close();
      await proxy.close();
    }
  });
});

describe("watch() across a server restart", () => {
  let server: TestServer;

  before(async () => {
    // A durable store, so the restarted process serves the same tasks.
    server = await TestServer.start({ sqlite: true });
  });
  after(async () => {
    await server?.close();
  });

  it("survives SIGTERM (UNAVAILABLE) and reconnects to the new process", async () => {
    let watchCalls = 0;
    const watcher = createClient({
      address: server.address,
      watchRetry: { maxAttempts: 200, initialBackoffMs: 50, maxBackoffMs: 200 },
      interceptors: [
        (next) => (req) => {
          if (req.method.name === "WatchTask") watchCalls++;
          return next(req);
        },
      ],
    });
    try {
      let writer = createClient({ address: server.address });
      const t = await writer.create();
      await writer.setVariables(t.taskId, { phase: "before" });
      const seen: Task[] = [];
      const consumer = (async () => {
        for await (const x of watcher.watch(t.taskId)) seen.push(x);
      })();
      await until(() => seen.at(-1)?.version === 2, 10_000, "version 2");
      writer.close();
      await server.restart();
      writer = createClient({ address: server.address });
      await writer.setVariables(t.taskId, { phase: "after" });
      await writer.complete(t.taskId, { result: "survived" });
      await consumer;
      writer.close();
      const versions = seen.map((x) => x.version);
      assertIncreasing(versions);
      assert.equal(versions[0], 2);
      assert.equal(versions.at(-1), 4);
      assert.ok(watchCalls >= 2, "the watch reopened its stream");
      assert.equal(seen.at(-1)!.result, "survived");
    } finally {
      watcher.close();
    }
  });
});

describe("watchAll()", () => {
  let server: TestServer;
  let client: TaskClient;
  let writer: TaskClient;

  before(async () => {
    server = await TestServer.start();
    client = createClient({ address: server.address });
    writer = createClient({ address: server.address });
  });
  after(async () => {
    client?.close();
    writer?.close();
    await server?.close();
  });

  it("sees every change once ready, creates included", async () => {
    const stream = client.watchAll();
    await stream.ready;
    const t = await writer.create();
    await writer.setVariables(t.taskId, { a: 1 });
    await writer.complete(t.taskId);
    const events: Array<[number, string]> = [];
    const timer = setTimeout(() => stream.close(), 10_000);
    for await (const x of stream) {
      if (x.taskId !== t.taskId) continue;
      events.push([x.version, x.status]);
      if (x.terminal) stream.close();
    }
    clearTimeout(timer);
    assert.deepEqual(events, [
      [1, "working"],
      [2, "working"],
      [3, "completed"],
    ]);
  });

  it("filters by status and ends quietly on close()", async () => {
    const stream = client.watchAll({ statuses: ["cancelled"] });
    await stream.ready;
    const a = await writer.create();
    const b = await writer.create();
    await writer.complete(a.taskId);
    await writer.cancel(b.taskId);
    const got: string[] = [];
    const timer = setTimeout(() => stream.close(), 10_000);
    for await (const x of stream) {
      got.push(`${x.taskId === b.taskId ? "b" : x.taskId === a.taskId ? "a" : "?"}:${x.status}`);
      if (x.taskId === b.taskId) stream.close();
    }
    clearTimeout(timer);
    assert.ok(got.includes("b:cancelled"));
    assert.ok(!got.some((g) => g.startsWith("a:")));
    await delay(10);
  });
});
