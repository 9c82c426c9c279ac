// Pure conversions: no server needed.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Code, ConnectError } from "@connectrpc/connect";
import {
  TaskNotFoundError,
  VersionMismatchError,
  durationFromProto,
  durationToMs,
  durationToProto,
  jsonEqual,
  jsonToValue,
  outstandingInput,
  statusFromProto,
  statusToProto,
  TASK_STATUSES,
  TERMINAL_STATUSES,
  taskFromProto,
  toTaskStateError,
  valueToJson,
} from "../src/index.js";
import type { JsonValue } from "../src/index.js";
import { ErrorInfoSchema } from "../src/gen/google/rpc/error_details_pb.js";
import { TaskSchema, TaskStatus } from "../src/gen/taskstate/v1/taskstate_pb.js";
import { create, toBinary } from "@bufbuild/protobuf";

describe("durations", () => {
  it("parses numbers and strings", () => {
    assert.equal(durationToMs(250), 250);
    assert.equal(durationToMs("500ms"), 500);
    assert.equal(durationToMs("90s"), 90_000);
    assert.equal(durationToMs("1.5s"), 1_500);
    assert.equal(durationToMs("5m"), 300_000);
    assert.equal(durationToMs("1h30m"), 5_400_000);
    assert.equal(durationToMs("0s"), 0);
    for (const bad of ["", "5", "1d", "s", "1 h", "abc"]) {
      assert.throws(() => durationToMs(bad), TypeError, bad);
    }
  });

  it("converts to and from google.protobuf.Duration exactly", () => {
    const d = durationToProto("1.5s");
    assert.equal(d.seconds, 1n);
    assert.equal(d.nanos, 500_000_000);
    assert.equal(durationFromProto(d), 1_500);
    assert.equal(durationFromProto(durationToProto(3_600_000)), 3_600_000);
  });
});

describe("JSON values", () => {
  it("round-trips through google.protobuf.Value", () => {
    const samples: JsonValue[] = [null, true, 0, -1.5, "x", [], {}, [1, "a", null, { b: [true] }], { a: { b: { c: null } } }];
    for (const s of samples) {
      assert.deepEqual(valueToJson(jsonToValue(s)), s);
    }
  });

  it("compares deeply, ignoring key order", () => {
    assert.ok(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }));
    assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: null }));
    assert.ok(!jsonEqual([1, 2], [2, 1]));
  });
});

describe("statuses", () => {
  it("maps names both ways", () => {
    for (const name of ["working", "input_required", "completed", "failed", "cancelled"] as const) {
      assert.equal(statusFromProto(statusToProto(name)), name);
    }
    assert.throws(() => statusToProto("done" as never), TypeError);
  });

  it("reads every generated status as its MCP name, on every surface", () => {
    const names: [TaskStatus, string][] = [
      [TaskStatus.WORKING, "working"],
      [TaskStatus.INPUT_REQUIRED, "input_required"],
      [TaskStatus.COMPLETED, "completed"],
      [TaskStatus.FAILED, "failed"],
      [TaskStatus.CANCELLED, "cancelled"],
    ];
    for (const [status, name] of names) {
      const task = taskFromProto(create(TaskSchema, { taskId: "t", status, version: 1n }));
      assert.equal(task.status, name);
      assert.equal(String(task.status), name);
      assert.equal(`${task.status}`, name);
      assert.equal((JSON.parse(JSON.stringify(task)) as { status: string }).status, name);
      assert.equal(task.terminal, TERMINAL_STATUSES.includes(task.status));
      assert.doesNotMatch(JSON.stringify(task), /TASK_STATUS_|"status":\d/);
    }
    assert.deepEqual([...TASK_STATUSES], names.map(([, name]) => name));
  });
});

describe("errors", () => {
  it("picks the subclass from ErrorInfo", () => {
    const ce = new ConnectError("expected version 3, but the task is at version 4", Code.Aborted, {
      "grpc-status": "10",
    }, [
      {
        desc: ErrorInfoSchema,
        value: {
          reason: "VERSION_MISMATCH",
          domain: "taskstate.dev",
          metadata: { expected_version: "3", actual_version: "4" },
        },
      },
    ]);
    // Outgoing details are not decodable by findDetails; round-trip through the wire form.
    const incoming = new ConnectError(ce.rawMessage, ce.code, ce.metadata);
    incoming.details = ce.details.map((d) =>
      "desc" in d
        ? { type: d.desc.typeName, value: encodeErrorInfo(d.value as never) }
        : d,
    );
    const err = toTaskStateError(incoming);
    assert.ok(err instanceof VersionMismatchError);
    assert.equal(err.code, "ABORTED");
    assert.equal(err.connectCode, Code.Aborted);
    assert.equal(err.reason, "VERSION_MISMATCH");
    assert.equal(err.expectedVersion, 3);
    assert.equal(err.actualVersion, 4);
    assert.ok(err.isVersionMismatch());
    assert.ok(err.fromServer);
  });

  it("falls back to the code without details", () => {
    const err = toTaskStateError(new ConnectError("gone", Code.NotFound, { "grpc-status": "5" }));
    assert.ok(err instanceof TaskNotFoundError);
    assert.equal(err.reason, null);
    assert.deepEqual(err.metadata, {});
    assert.equal(err.message, "gone");
  });
});

function encodeErrorInfo(value: {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}): Uint8Array {
  return toBinary(ErrorInfoSchema, create(ErrorInfoSchema, value));
}

describe("outstandingInput", () => {
  it("is the requests without a response", () => {
    const task = { inputRequests: { a: "A?", b: { q: "B?" } }, inputResponses: { a: null } };
    assert.deepEqual(outstandingInput(task), { b: { q: "B?" } });
    assert.deepEqual(outstandingInput({ inputRequests: {}, inputResponses: {} }), {});
  });
});
