// update(): compare-and-swap retries from many connections at once lose no increment.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createClient } from "../src/index.js";
import type { Task, TaskClient } from "../src/index.js";
import { TestServer } from "./server.js";

const CLIENTS = 10;
const INCREMENTS = 6;

describe("update() under contention", () => {
  let server: TestServer;
  let clients: TaskClient[] = [];

  before(async () => {
    server = await TestServer.start();
    // Separate instances: each has its own HTTP/2 connection.
    clients = Array.from({ length: CLIENTS }, () =>
      createClient({ address: server.address, updateRetry: { maxAttempts: 100 } }),
    );
  });
  after(async () => {
    for (const c of clients) c.close();
    await server?.close();
  });

  it(`${CLIENTS} clients x ${INCREMENTS} increments: the count is exact`, async () => {
    const task = await clients[0]!.create({ variables: { count: 0, untouched: "yes" } });
    let fnCalls = 0;
    const results: Task[] = [];
    await Promise.all(
      clients.map(async (client) => {
        for (let i = 0; i < INCREMENTS; i++) {
          const t = await client.update(task.taskId, (vars) => {
            fnCalls++;
            vars["count"] = (vars["count"] as number) + 1;
          });
          results.push(t);
        }
      }),
    );
    const final = await clients[0]!.get(task.taskId);
    assert.equal(final.variables["count"], CLIENTS * INCREMENTS);
    assert.equal(final.variables["untouched"], "yes");
    assert.equal(final.version, 1 + CLIENTS * INCREMENTS); // exactly one write per increment
    // Every returned task is the version that update() wrote; no two share a version.
    const versions = results.map((t) => t.version);
    assert.equal(new Set(versions).size, versions.length);
    assert.ok(fnCalls >= CLIENTS * INCREMENTS);
  });

  it("fn returning a new object replaces the variables; no change writes nothing", async () => {
    const client = clients[0]!;
    const task = await client.create({ variables: { a: 1 } });
    const same = await client.update(task.taskId, () => {});
    assert.equal(same.version, 1);
    const replaced = await client.update(task.taskId, (vars, t) => {
      assert.equal(t.version, 1);
      return { b: (vars["a"] as number) + 1 };
    });
    assert.deepEqual(replaced.variables, { b: 2 });
    assert.equal(replaced.version, 2);
  });

  it("updateTask() writes any fields at the version read", async () => {
    const client = clients[1]!;
    const task = await client.create();
    // Two racers try to claim the task; exactly one moves it to input_required.
    const claims = await Promise.allSettled(
      [clients[2]!, clients[3]!].map((c, i) =>
        c.updateTask(task.taskId, (t) =>
          t.status === "working"
            ? { status: "input_required", statusMessage: `claimed by ${i}` }
            : null,
        ),
      ),
    );
    const final = await client.get(task.taskId);
    assert.equal(final.status, "input_required");
    assert.equal(final.version, 2);
    assert.ok(claims.every((c) => c.status === "fulfilled"));
  });

  it("gives up with VersionMismatchError when the budget runs out", async () => {
    const client = createClient({
      address: server.address,
      updateRetry: { maxAttempts: 2, initialBackoffMs: 1 },
    });
    try {
      const task = await client.create({ variables: { n: 0 } });
      let calls = 0;
      await assert.rejects(
        client.update(task.taskId, async (vars) => {
          calls++;
          // Another writer sneaks in between every read and write.
          await client.setVariables(task.taskId, { other: calls });
          vars["n"] = 1;
        }),
        (e: unknown) => (e as { reason?: string }).reason === "VERSION_MISMATCH",
      );
      assert.equal(calls, 2);
    } finally {
      client.close();
    }
  });
});
