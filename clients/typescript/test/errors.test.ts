// Typed errors carry the gRPC code, the ErrorInfo reason and metadata, and field violations.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import {
  InvalidArgumentError,
  InvalidTransitionError,
  QuotaExceededError,
  TaskNotFoundError,
  TaskTerminalError,
  UnauthenticatedError,
  VariablesTooLargeError,
  VersionMismatchError,
  createClient,
} from "../src/index.js";
import type { TaskClient } from "../src/index.js";
import { TOKENS, TestServer, failure } from "./server.js";

const MISSING_ID = "01a20f85-1d7a-711f-871a-f4e289d29f17";

describe("typed errors", () => {
  let server: TestServer;
  let alice: TaskClient;
  let bob: TaskClient;
  let anonymous: TaskClient;
  let stranger: TaskClient;

  before(async () => {
    server = await TestServer.start({
      auth: true,
      args: ["--max-active-tasks", "3", "--max-variables-bytes", "4096"],
    });
    alice = createClient({ address: server.address, token: TOKENS.alice });
    bob = createClient({ address: server.address, token: TOKENS.bob });
    anonymous = createClient({ address: server.address });
    stranger = createClient({ address: server.address, token: "not-a-token" });
  });
  after(async () => {
    for (const c of [alice, bob, anonymous, stranger]) c?.close();
    await server?.close();
  });

  it("NOT_FOUND / TASK_NOT_FOUND", async () => {
    const err = await failure(alice.get(MISSING_ID));
    assert.ok(err instanceof TaskNotFoundError);
    assert.equal(err.code, "NOT_FOUND");
    assert.equal(err.reason, "TASK_NOT_FOUND");
    assert.equal(err.domain, "taskstate.dev");
    assert.ok(err.isNotFound());
    assert.ok(err.fromServer);
    assert.match(err.message, /not found/);
  });

  it("another owner's task is NOT_FOUND with the same message", async () => {
    const t = await alice.create();
    try {
      const theirs = await failure(bob.get(t.taskId));
      const missing = await failure(bob.get(MISSING_ID));
      assert.ok(theirs instanceof TaskNotFoundError);
      assert.equal(theirs.message.replace(t.taskId, "ID"), missing.message.replace(MISSING_ID, "ID"));
    } finally {
      await alice.delete(t.taskId);
    }
  });

  it("ABORTED / VERSION_MISMATCH with expected_version and actual_version", async () => {
    const t = await alice.create();
    try {
      await alice.setVariables(t.taskId, { a: 1 });
      const err = await failure(alice.setVariables(t.taskId, { a: 2 }, { expectedVersion: 1 }));
      assert.ok(err instanceof VersionMismatchError);
      assert.equal(err.code, "ABORTED");
      assert.equal(err.reason, "VERSION_MISMATCH");
      assert.deepEqual(err.metadata, { expected_version: "1", actual_version: "2" });
      assert.equal(err.expectedVersion, 1);
      assert.equal(err.actualVersion, 2);
      assert.ok(err.isVersionMismatch());
      const err2 = await failure(alice.putIfVersion(t.taskId, 5, { statusMessage: "x" }));
      assert.deepEqual(err2.metadata, { expected_version: "5", actual_version: "2" });
    } finally {
      await alice.delete(t.taskId);
    }
  });

  it("FAILED_PRECONDITION / INVALID_TRANSITION and TASK_TERMINAL", async () => {
    const t = await alice.create();
    try {
      const self = await failure(alice.updateStatus(t.taskId, "working"));
      assert.ok(self instanceof InvalidTransitionError);
      assert.equal(self.code, "FAILED_PRECONDITION");
      assert.equal(self.reason, "INVALID_TRANSITION");
      await alice.complete(t.taskId, { result: 1 });
      const frozen = await failure(alice.setVariables(t.taskId, { a: 1 }));
      assert.ok(frozen instanceof TaskTerminalError);
      assert.equal(frozen.reason, "TASK_TERMINAL");
      assert.ok(frozen.isFailedPrecondition());
    } finally {
      await alice.delete(t.taskId);
    }
  });

  it("INVALID_ARGUMENT with BadRequest field violations", async () => {
    const bad = await failure(alice.get("not-a-uuid"));
    assert.ok(bad instanceof InvalidArgumentError);
    assert.equal(bad.code, "INVALID_ARGUMENT");
    assert.equal(bad.reason, "INVALID_ARGUMENT");
    assert.equal(bad.fieldViolations[0]?.field, "task_id");
    const ttl = await failure(alice.create({ ttl: "0s" }));
    assert.ok(ttl.fieldViolations.some((v) => v.field === "ttl"));
    const tooLong = await failure(alice.create({ ttl: "25h" }));
    assert.equal(tooLong.code, "INVALID_ARGUMENT");
  });

  it("RESOURCE_EXHAUSTED / VARIABLES_TOO_LARGE", async () => {
    const err = await failure(alice.create({ variables: { big: "x".repeat(5000) } }));
    assert.ok(err instanceof VariablesTooLargeError);
    assert.equal(err.code, "RESOURCE_EXHAUSTED");
    assert.equal(err.reason, "VARIABLES_TOO_LARGE");
  });

  it("RESOURCE_EXHAUSTED / TASK_QUOTA_EXCEEDED", async () => {
    const ids: string[] = [];
    try {
      for (let i = 0; i < 3; i++) ids.push((await bob.create()).taskId);
      const err = await failure(bob.create());
      assert.ok(err instanceof QuotaExceededError);
      assert.equal(err.reason, "TASK_QUOTA_EXCEEDED");
      assert.ok(err.isResourceExhausted());
      await bob.cancel(ids[0]!); // terminal tasks do not count
      ids.push((await bob.create()).taskId);
    } finally {
      for (const id of ids) await bob.delete(id);
    }
  });

  it("UNAUTHENTICATED without a token or with an unknown one", async () => {
    for (const c of [anonymous, stranger]) {
      const err = await failure(c.create());
      assert.ok(err instanceof UnauthenticatedError);
      assert.equal(err.code, "UNAUTHENTICATED");
      assert.equal(err.reason, null);
      assert.ok(err.isUnauthenticated());
    }
    const stream = anonymous.watchAll();
    await assert.rejects(stream.ready, (e: unknown) => e instanceof UnauthenticatedError);
  });

  it("UNAVAILABLE when nothing listens", async () => {
    const dead = createClient({ address: "127.0.0.1:1", defaultTimeoutMs: 5_000 });
    try {
      const err = await failure(dead.get(MISSING_ID));
      assert.equal(err.code, "UNAVAILABLE");
      assert.equal(err.fromServer, false);
    } finally {
      dead.close();
    }
  });
});
