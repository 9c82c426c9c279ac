// Leases against a live server: claim, renew, fenced writes, and the worker helper.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  LeaseHeldError,
  LeaseLostError,
  createWorker,
} from "../src/index.js";
import type { Task, TaskClient } from "../src/index.js";
import { eventually, failure, live, until } from "./server.js";

function leaseOf(task: Task | null): NonNullable<Task["lease"]> {
  assert.ok(task?.lease, "the task has no lease");
  return task.lease;
}

describe("leases (plain calls)", () => {
  const suite = live();
  const client = (): TaskClient => suite.client;

  it("creates with a lease policy; a task without one has no lease fields", async () => {
    const plain = await client().create();
    assert.equal(plain.lease, undefined);
    assert.ok(!("leasePolicy" in plain));
    assert.equal(plain.maxAttempts, 0);
    assert.equal(plain.attempt, 1);
    const t = await client().create({ leasePolicy: "release", maxAttempts: 5 });
    assert.equal(t.leasePolicy, "release");
    assert.equal(t.maxAttempts, 5);
    assert.equal(t.attempt, 1);
    assert.deepEqual(await client().get(t.taskId), t);
  });

  it("claims, renews, and refuses writes naming a stale token with LeaseLostError", async () => {
    const t = await client().create({ leasePolicy: "fail" });
    const claimed = await client().claim({ workerId: "w1", taskId: t.taskId, lease: "1m" });
    const lease = leaseOf(claimed);
    assert.equal(lease.workerId, "w1");
    assert.equal(lease.fencingToken, 1);
    assert.equal(lease.durationMs, 60_000);
    assert.ok(lease.expireTime.getTime() > Date.now());

    // The holder's retry gets its lease back; another worker is refused.
    assert.equal(leaseOf(await client().claim({ workerId: "w1", taskId: t.taskId })).fencingToken, 1);
    const held = await failure(client().claim({ workerId: "w2", taskId: t.taskId }));
    assert.ok(held instanceof LeaseHeldError);
    assert.ok(held.leaseExpireTime);

    const renewed = await client().renewLease(t.taskId, 1, { lease: 120_000, message: "beat" });
    assert.equal(renewed.statusMessage, "beat");
    assert.equal(leaseOf(renewed).durationMs, 120_000);
    assert.ok(leaseOf(renewed).expireTime > lease.expireTime);

    const ok = await client().setVariables(t.taskId, { step: 1 }, { fencingToken: 1 });
    assert.deepEqual(ok.variables, { step: 1 });
    const lost = await failure(client().setVariables(t.taskId, { step: 2 }, { fencingToken: 7 }));
    assert.ok(lost instanceof LeaseLostError);
    assert.equal(lost.reason, "LEASE_LOST");
    assert.equal(lost.fencingToken, 7);
    assert.equal(lost.currentFencingToken, 1);
    await assert.rejects(client().renewLease(t.taskId, 7), LeaseLostError);
    await assert.rejects(
      client().updateStatus(t.taskId, "input_required", { fencingToken: 2 }),
      LeaseLostError,
    );
    await assert.rejects(
      client().putIfVersion(t.taskId, ok.version, { statusMessage: "x" }, { fencingToken: 2 }),
      LeaseLostError,
    );
    const put = await client().putIfVersion(
      t.taskId,
      ok.version,
      { statusMessage: "x" },
      { fencingToken: 1 },
    );
    assert.equal(put.statusMessage, "x");

    const done = await client().complete(t.taskId, { result: 42, fencingToken: 1 });
    assert.equal(done.status, "completed");
    assert.equal(done.lease, undefined);
  });

  it("claims the oldest claimable task of a method, or null; wait gets one created later", async () => {
    const method = `m-${Math.random()}`;
    assert.equal(await client().claim({ workerId: "w", requestMethod: method }), null);
    await client().create({ requestMethod: method }); // no lease policy: never offered
    assert.equal(await client().claim({ workerId: "w", requestMethod: method }), null);
    const waiting = client().claim({ workerId: "w", requestMethod: method, wait: 20_000 });
    const t = await client().create({ requestMethod: method, leasePolicy: "release" });
    const got = await waiting;
    assert.equal(got?.taskId, t.taskId);
    assert.equal(leaseOf(got).workerId, "w");
  });
});

describe("createWorker()", () => {
  const suite = live();
  const owner = (): TaskClient => suite.client;

  it("claimNext() with wait: a lease whose writes carry the token, then null", async () => {
    const method = `job-${Math.random()}`;
    const worker = createWorker(owner(), { lease: 30_000, workerId: "worker-1" });
    assert.equal(worker.workerId, "worker-1");
    const next = worker.claimNext({ requestMethod: method, wait: 20_000 });
    const t = await owner().create({ requestMethod: method, leasePolicy: "fail" });
    const lease = await next;
    assert.ok(lease !== null);
    try {
      assert.equal(lease.taskId, t.taskId);
      assert.equal(lease.fencingToken, 1);
      assert.equal(leaseOf(lease.task).workerId, "worker-1");
      await lease.setVariables({ progress: 0.25 });
      await lease.update((vars) => {
        vars["progress"] = (vars["progress"] as number) * 2;
      });
      const done = await lease.complete({ result: { ok: true } });
      assert.equal(done.status, "completed");
      assert.deepEqual(done.result, { ok: true });
      assert.deepEqual(done.variables, { progress: 0.5 });
      assert.equal(lease.signal.aborted, false);
    } finally {
      await lease.close();
    }
    assert.equal(await worker.claimNext({ requestMethod: method }), null);
  });

  it("heartbeats keep a short lease alive past its duration", async () => {
    const t = await owner().create({ leasePolicy: "fail" });
    const worker = createWorker(owner(), { lease: 600 });
    await using lease = await worker.claim(t.taskId);
    const first = leaseOf(lease.task).expireTime.getTime();
    // Two renewals later the lease reaches past where the claim's would have ended + 1 lease.
    await until(() => leaseOf(lease.task).expireTime.getTime() >= first + 600, 10_000, "renewals");
    assert.equal(lease.signal.aborted, false);
    const done = await lease.fail({ message: "gave up", code: -32001 });
    assert.equal(done.status, "failed");
    assert.equal(done.error?.code, -32001);
  });

  it("a stalled network past the deadline aborts lease.signal; the server then refuses the token", async () => {
    const t = await owner().create({ leasePolicy: "release", maxAttempts: 3 });
    const viaProxy = suite.connectViaProxy({ defaultTimeoutMs: 5_000 });
    const worker = createWorker(viaProxy, { lease: 900, workerId: "stalled" });
    const lease = await worker.claim(t.taskId);
    try {
      const aborted = new Promise<unknown>((ok) =>
        lease.signal.addEventListener("abort", () => ok(lease.signal.reason), { once: true }),
      );
      suite.proxy.pause(); // renewals hang: the local deadline (from the claim's send time) passes
      const reason = await aborted;
      assert.ok(reason instanceof LeaseLostError);
      assert.equal(reason.fromServer, false);
      assert.equal(reason.fencingToken, 1);
      assert.equal(lease.lost, reason);
      // Drop what the stall held back (a late renewal must not reach the server), reconnect.
      suite.proxy.dropAll();
      suite.proxy.resume();
      // The server expires the lease (release: back to working, attempt 2) and fences the write.
      const expired = async (): Promise<boolean> => (await owner().get(t.taskId)).attempt === 2;
      await eventually(expired, 10_000, "the server-side expiry");
      const refused = await failure(lease.setVariables({ late: true }));
      assert.ok(refused instanceof LeaseLostError);
      assert.equal(refused.fromServer, true);
      const current = await owner().get(t.taskId);
      assert.equal(current.lease, undefined);
      assert.equal(current.status, "working");
      assert.deepEqual(current.variables, {});
    } finally {
      suite.proxy.resume();
      await lease.close();
    }
  });

  it("a renewal answered LEASE_LOST aborts the signal with the server's error", async () => {
    const t = await owner().create({ leasePolicy: "release" });
    const worker = createWorker(owner(), { lease: 900 });
    const lease = await worker.claim(t.taskId);
    try {
      // A write leaving working (here the owner's, unfenced) ends the lease on the server.
      await owner().updateStatus(t.taskId, "input_required");
      await until(() => lease.signal.aborted, 10_000, "the lease's loss");
      const reason = lease.lost;
      assert.ok(reason instanceof LeaseLostError);
      assert.equal(reason.fromServer, true);
      assert.equal(reason.currentFencingToken, 0);
      await assert.rejects(lease.complete(), LeaseLostError);
    } finally {
      await lease.close();
    }
  });
});
