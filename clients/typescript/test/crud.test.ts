// Every RPC against a real server: create, get, list, status, variables, CAS, complete/fail/cancel, delete.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createClient } from "../src/index.js";
import type { TaskClient } from "../src/index.js";
import { TestServer } from "./server.js";

describe("CRUD against a live server", () => {
  let server: TestServer;
  let client: TaskClient;

  before(async () => {
    server = await TestServer.start();
    client = createClient({ address: server.address });
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  it("creates with defaults and reads it back", async () => {
    const t = await client.create();
    assert.match(t.taskId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(t.status, "working");
    assert.equal(t.version, 1);
    assert.equal(t.terminal, false);
    assert.equal(t.ttlMs, 3_600_000); // server default 1h
    assert.equal(t.pollIntervalMs, 1_000);
    assert.ok(t.expireTime instanceof Date);
    assert.deepEqual(t.variables, {});
    assert.ok(!("result" in t));
    assert.ok(!("error" in t));
    const got = await client.get(t.taskId);
    assert.deepEqual(got, t);
  });

  it("creates with every field; durations as strings or ms", async () => {
    const t = await client.create({
      ttl: "90s",
      pollInterval: 250,
      requestMethod: "tools/call",
      variables: { a: 1, nested: { list: [1, "two", null, true] }, gone: null },
    });
    assert.equal(t.ttlMs, 90_000);
    assert.equal(t.pollIntervalMs, 250);
    assert.equal(t.requestMethod, "tools/call");
    assert.deepEqual(t.variables, { a: 1, nested: { list: [1, "two", null, true] } });
    assert.equal(t.expireTime!.getTime() - t.createTime.getTime(), 90_000);
  });

  it("is idempotent with a requestId", async () => {
    const requestId = `req-${Math.random()}`;
    const a = await client.create({ requestId, variables: { n: 1 } });
    const b = await client.create({ requestId, variables: { n: 2 } });
    assert.equal(b.taskId, a.taskId);
    assert.deepEqual(b.variables, { n: 1 });
  });

  it("moves through statuses and merges variables", async () => {
    const t = await client.create();
    const t2 = await client.updateStatus(t.taskId, "input_required", { message: "need a file" });
    assert.equal(t2.status, "input_required");
    assert.equal(t2.statusMessage, "need a file");
    assert.equal(t2.version, 2);
    const t3 = await client.updateStatus(t.taskId, "working", { expectedVersion: 2 });
    assert.equal(t3.statusMessage, "");
    const t4 = await client.setVariables(t.taskId, { a: 1, b: { c: [1, 2] } });
    const t5 = await client.setVariables(t.taskId, { a: null, d: "x" }, { expectedVersion: t4.version });
    assert.deepEqual(t5.variables, { b: { c: [1, 2] }, d: "x" });
    assert.equal(t5.version, 5);
  });

  it("putIfVersion writes exactly the masked fields", async () => {
    const t = await client.create({ variables: { keep: false, old: 1 } });
    const t2 = await client.putIfVersion(t.taskId, 1, {
      variables: { fresh: true },
      statusMessage: "half way",
      ttl: "2h",
    });
    assert.deepEqual(t2.variables, { fresh: true }); // replaced, not merged
    assert.equal(t2.statusMessage, "half way");
    assert.equal(t2.ttlMs, 7_200_000);
    assert.equal(t2.status, "working");
    const t3 = await client.putIfVersion(t.taskId, 2, { status: "completed", result: { ok: 1 } });
    assert.equal(t3.status, "completed");
    assert.deepEqual(t3.result, { ok: 1 });
    assert.ok(t3.terminal);
  });

  it("completes with a result (JSON null is a result)", async () => {
    const t = await client.create();
    const done = await client.complete(t.taskId, {
      result: null,
      message: "done",
      variables: { out: "file.txt" },
    });
    assert.equal(done.status, "completed");
    assert.ok("result" in done);
    assert.equal(done.result, null);
    assert.equal(done.statusMessage, "done");
    assert.deepEqual(done.variables, { out: "file.txt" });
  });

  it("fails with a JSON-RPC error", async () => {
    const t = await client.create();
    const failed = await client.fail(t.taskId, { message: "boom", data: { line: 3 } });
    assert.equal(failed.status, "failed");
    assert.deepEqual(failed.error, { code: -32000, message: "boom", data: { line: 3 } });
    assert.equal(failed.statusMessage, "boom");
    const t2 = await client.create();
    const failed2 = await client.fail(t2.taskId, { code: 7, message: "bad" }, { message: "" });
    assert.deepEqual(failed2.error, { code: 7, message: "bad" });
    assert.equal(failed2.statusMessage, "");
  });

  it("cancels and deletes", async () => {
    const t = await client.create();
    const c = await client.cancel(t.taskId, { message: "user said stop" });
    assert.equal(c.status, "cancelled");
    assert.equal(c.statusMessage, "user said stop");
    await client.delete(t.taskId);
    await assert.rejects(client.get(t.taskId), (e: unknown) => {
      return e instanceof Error && (e as { code?: string }).code === "NOT_FOUND";
    });
  });

  it("lists newest first with pagination and a status filter", async () => {
    const own = createClient({ address: server.address }); // same (anonymous) owner
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await own.create({ requestMethod: `list-${i}` })).taskId);
      await own.complete(ids[1]!);
      const seen: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await own.list({ pageSize: 2, pageToken });
        assert.ok(page.tasks.length <= 2);
        seen.push(...page.tasks.map((t) => t.taskId));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== "" && pages < 1000);
      const mine = seen.filter((id) => ids.includes(id));
      assert.deepEqual(mine, [...ids].reverse());
      assert.equal(new Set(seen).size, seen.length);
      const all: string[] = [];
      for await (const t of own.listAll({ pageSize: 3 })) all.push(t.taskId);
      assert.deepEqual(all, seen);
      const completed = await own.list({ statuses: ["completed"], pageSize: 1000 });
      assert.ok(completed.tasks.every((t) => t.status === "completed"));
      assert.ok(completed.tasks.some((t) => t.taskId === ids[1]));
    } finally {
      own.close();
    }
  });
});
