// JSON numbers (README "JSON numbers"): google.protobuf.Value holds IEEE doubles, so the
// client refuses, locally and before any call, what it would store as another number.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { Interceptor } from "@connectrpc/connect";

import { InvalidArgumentError, createClient, jsonToMap, jsonToValue, valueToJson } from "../src/index.js";
import type { JsonValue, TaskClient } from "../src/index.js";
import { TestServer } from "./server.js";

const MAX = 2 ** 53 - 1;

/** Runs `fn`, expecting the client's own INVALID_ARGUMENT about `field`; returns it. */
async function refused(
  fn: () => unknown,
  field: string,
  reason = "VALUE_NOT_REPRESENTABLE",
): Promise<InvalidArgumentError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError, `not an InvalidArgumentError: ${String(err)}`);
    assert.equal(err.code, "INVALID_ARGUMENT");
    assert.equal(err.reason, reason);
    assert.equal(err.fromServer, false);
    assert.equal(err.fieldViolations[0]?.field, field);
    assert.equal(err.metadata["path"], field);
    assert.ok(err.message.startsWith(`${field}: `), err.message);
    return err;
  }
  assert.fail(`${field}: accepted`);
}

describe("JSON numbers", () => {
  it("carries every integer up to ±(2^53-1) exactly", () => {
    for (const n of [MAX, -MAX, 0, -0, 1.5, -2.25, 1e-300, Number.MIN_VALUE, 2 ** 52 + 0.5]) {
      assert.equal(valueToJson(jsonToValue(n)), n);
    }
  });

  it("refuses integers beyond ±(2^53-1), NaN and ±Infinity", async () => {
    // 2^53 + 1 has no double: the literal is already 2^53, which is refused.
    for (const n of [2 ** 53, 9007199254740993, -(2 ** 53), 2 ** 64, 1e300, -Number.MAX_VALUE]) {
      const err = await refused(() => jsonToValue(n, "value"), "value");
      assert.match(err.message, /2\^53-1/);
    }
    for (const n of [Number.NaN, Infinity, -Infinity]) {
      const err = await refused(() => jsonToValue(n, "value"), "value");
      assert.match(err.message, /is not a JSON number/);
    }
  });

  it("converts a bigint within ±(2^53-1) to a number and refuses any other", async () => {
    const cases: [bigint, number][] = [[0n, 0], [BigInt(MAX), MAX], [-BigInt(MAX), -MAX], [42n, 42]];
    for (const [b, n] of cases) {
      assert.equal(valueToJson(jsonToValue(b as unknown as JsonValue)), n);
    }
    for (const b of [2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, 2n ** 64n]) {
      await refused(() => jsonToValue(b as unknown as JsonValue, "value"), "value");
    }
  });

  it("names the path of the bad value", async () => {
    await refused(() => jsonToMap({ items: [1, 2, Number.NaN] }, "result"), "result.items[2]");
    await refused(() => jsonToMap({ a: { "b c": { d: 2 ** 60 } } }, "variables"), 'variables.a["b c"].d');
  });

  it("refuses other non-JSON values as INVALID_ARGUMENT", async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    const bad: [unknown, string][] = [
      [{ f: () => 1 }, "v.f"],
      [{ s: Symbol("x") }, "v.s"],
      [{ d: new Date(0) }, "v.d"],
      [{ m: new Map() }, "v.m"],
      [cyclic, "v.self"],
    ];
    for (const [value, field] of bad) {
      await refused(() => jsonToMap(value as never, "v"), field, "INVALID_ARGUMENT");
    }
    await refused(() => jsonToMap([] as never, "variables"), "variables", "INVALID_ARGUMENT");
  });
});

describe("JSON numbers against a live server", () => {
  let server: TestServer;
  let client: TaskClient;
  let calls = 0;
  const count: Interceptor = (next) => (req) => {
    calls++;
    return next(req);
  };

  before(async () => {
    server = await TestServer.start();
    client = createClient({ address: server.address, interceptors: [count] });
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  it("round-trips ±(2^53-1) and safe bigints exactly", async () => {
    const big = 9_007_199_254_740_991n;
    const variables = { max: MAX, min: -MAX, big: big as unknown as JsonValue, half: 0.5 };
    const task = await client.create({ variables });
    assert.deepEqual((await client.get(task.taskId)).variables, { max: MAX, min: -MAX, big: MAX, half: 0.5 });
  });

  it("refuses before any call, with the path of the value", async () => {
    const task = await client.create();
    const id = task.taskId;
    const huge = (2n ** 64n) as unknown as JsonValue;
    const start = calls;
    await refused(() => client.create({ variables: { count: 2 ** 53 } }), "variables.count");
    await refused(() => client.setVariables(id, { id: huge }), "variables.id");
    await refused(() => client.complete(id, { result: { items: [1, 2, Number.NaN] } }), "result.items[2]");
    await refused(() => client.fail(id, { message: "x", data: { n: Infinity } }), "error.data.n");
    await refused(() => client.putIfVersion(id, 1, { result: -(2 ** 53) }), "result");
    await refused(() => client.update(id, (v) => ({ ...v, n: 2 ** 53 })), "variables.n");
    assert.equal(calls - start, 1, "only update()'s read went to the server");
    assert.equal((await client.get(task.taskId)).version, 1);
  });

  it("refuses a bad version locally too", async () => {
    const task = await client.create();
    const nan = { expectedVersion: Number.NaN };
    await refused(() => client.setVariables(task.taskId, {}, nan), "expected_version", "INVALID_ARGUMENT");
    await refused(() => client.putIfVersion(task.taskId, 1.5, {}), "expected_version", "INVALID_ARGUMENT");
  });
});
