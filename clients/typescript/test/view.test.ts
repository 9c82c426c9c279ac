// list()/listAll()/watchAll() views, and pages the server cuts by bytes (under 4 MiB).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createClient } from "../src/index.js";
import type { Task, TaskClient } from "../src/index.js";
import { TestServer } from "./server.js";

const BLOB = "x".repeat(900_000); // six of these make a page of ~5.4 MB: over 4 MiB

describe("views and byte-cut pages", () => {
  let server: TestServer;
  let client: TaskClient;
  const ids: string[] = [];

  before(async () => {
    server = await TestServer.start();
    client = createClient({ address: server.address });
    for (let i = 0; i < 6; i++) {
      const t = await client.create({ variables: { i, blob: BLOB } });
      ids.push(t.taskId);
    }
    await client.complete(ids[0] as string, { result: { ok: true } });
    await client.fail(ids[1] as string, { message: "no", data: { why: "test" } });
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  it("list() with the basic view leaves out variables, result and error", async () => {
    const page = await client.list({ pageSize: 50, view: "basic" });
    assert.equal(page.tasks.length, 6);
    assert.equal(page.nextPageToken, "");
    for (const t of page.tasks) {
      assert.deepEqual(t.variables, {});
      assert.ok(!("result" in t) && !("error" in t), t.taskId);
    }
    const statuses = new Map(page.tasks.map((t) => [t.taskId, t.status]));
    assert.equal(statuses.get(ids[0] as string), "completed");
    assert.equal(statuses.get(ids[1] as string), "failed");
  });

  it("list() defaults to the full view, in pages the server keeps under 4 MiB", async () => {
    const first = await client.list({ pageSize: 50 });
    assert.ok(first.tasks.length < 6, `one page of ${first.tasks.length} tasks`);
    assert.notEqual(first.nextPageToken, "", "a short page that is not the last");
    for (const t of first.tasks) assert.equal(t.variables["blob"], BLOB);
    const full = await client.list({ pageSize: 50, view: "full" });
    assert.deepEqual(full.tasks.map((t) => t.taskId), first.tasks.map((t) => t.taskId));
  });

  it("listAll() follows nextPageToken past short pages", async () => {
    const seen: Task[] = [];
    for await (const t of client.listAll({ pageSize: 50 })) seen.push(t);
    assert.deepEqual(seen.map((t) => t.taskId).sort(), [...ids].sort());
    const failed = seen.find((t) => t.taskId === ids[1]);
    assert.deepEqual(failed?.error, { code: -32000, message: "no", data: { why: "test" } });
  });

  it("watchAll() with the basic view sends changes without variables", async () => {
    const basic = client.watchAll({ view: "basic" });
    const full = client.watchAll();
    try {
      await Promise.all([basic.ready, full.ready]);
      await client.setVariables(ids[2] as string, { step: 1 });
      const [b, f] = await Promise.all([first(basic), first(full)]);
      assert.equal(b.taskId, ids[2]);
      assert.deepEqual(b.variables, {});
      assert.equal(f.variables["step"], 1);
      assert.equal(b.version, f.version);
    } finally {
      basic.close();
      full.close();
    }
  });

  it("refuses an unknown view", async () => {
    await assert.rejects(client.list({ view: "short" as never }), /unknown view "short"/);
    assert.throws(() => client.watchAll({ view: "all" as never }), /unknown view "all"/);
  });
});

async function first(stream: AsyncIterable<Task>): Promise<Task> {
  for await (const t of stream) return t;
  throw new Error("the stream ended without a change");
}
