// Issue 11 against a live server: subjects, input requests, cancel requests.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { TaskNotFoundError, outstandingInput } from "../src/index.js";
import { failure, live } from "./server.js";

describe("subjects, input and cancel requests", () => {
  const suite = live();

  it("scopes every call to the client's subject", async () => {
    const alice = suite.client.withSubject("alice");
    const bob = suite.connect({ subject: "bob" });
    const mine = await alice.create();
    assert.equal(mine.subject, "alice");
    assert.equal(alice.subject, "alice");
    assert.ok((await failure(bob.get(mine.taskId))) instanceof TaskNotFoundError);
    assert.equal((await suite.client.get(mine.taskId)).subject, "alice");
    assert.deepEqual((await bob.list()).tasks, []);
    alice.close(); // a view leaves the shared connection open
    assert.equal((await suite.client.get(mine.taskId)).taskId, mine.taskId);
  });

  it("asks for input and records each answer once", async () => {
    const c = suite.client;
    const t = await c.create();
    const asked = await c.updateStatus(t.taskId, "input_required", {
      message: "need input",
      inputRequests: { name: { message: "Name?" }, age: "Age?" },
    });
    assert.deepEqual(outstandingInput(asked), { name: { message: "Name?" }, age: "Age?" });
    const first = await c.provideInput(t.taskId, { age: 42, never_asked: true });
    assert.deepEqual(first.acceptedKeys, ["age"]);
    assert.equal(first.task.status, "input_required");
    assert.equal(first.task.version, asked.version + 1);
    const last = await c.provideInput(t.taskId, { age: 43, name: "Ada" });
    assert.deepEqual(last.acceptedKeys, ["name"]);
    assert.equal(last.task.status, "working");
    assert.deepEqual(last.task.inputResponses, { age: 42, name: "Ada" });
    assert.deepEqual(outstandingInput(last.task), {});
    const none = await c.provideInput(t.taskId, { name: "Bob" });
    assert.deepEqual(none.acceptedKeys, []);
    assert.equal(none.task.version, last.task.version);
    const basic = (await c.list({ view: "basic" })).tasks.find((x) => x.taskId === t.taskId);
    assert.deepEqual(basic?.inputRequests, {});
  });

  it("requests a cancel once", async () => {
    const c = suite.client;
    const t = await c.create();
    const asked = await c.requestCancel(t.taskId);
    assert.equal(asked.cancelRequested, true);
    assert.equal(asked.status, "working");
    assert.equal(asked.version, 2);
    assert.equal((await c.requestCancel(t.taskId)).version, 2);
  });
});
