// Plain JSON values <-> google.protobuf.Value / Struct-like maps.

import { create } from "@bufbuild/protobuf";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { ListValueSchema, NullValue, StructSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Value } from "@bufbuild/protobuf/wkt";

import { localInvalidArgument, reasonName } from "./errors.js";
import { ErrorReason } from "./gen/taskstate/v1/taskstate_pb.js";

export type { JsonObject, JsonValue };

/**
 * The largest integer a JSON number (an IEEE double in google.protobuf.Value) carries
 * exactly, and so the limit every taskstate client enforces: Number.MAX_SAFE_INTEGER.
 */
export const MAX_SAFE_JSON_INTEGER = Number.MAX_SAFE_INTEGER;

/**
 * Converts plain JSON to a google.protobuf.Value. `path` names the value in errors
 * (e.g. "result"; nested values get "result.items[2]").
 *
 * Like JSON.stringify: object keys whose value is `undefined` are skipped and
 * `undefined` array elements become null. A bigint inside the safe integer range
 * becomes a number. It throws InvalidArgumentError (code INVALID_ARGUMENT, not
 * from the server) for what the server could not store exactly: reason
 * VALUE_NOT_REPRESENTABLE for NaN, ±Infinity and integers (number or bigint)
 * outside ±(2^53-1); reason INVALID_ARGUMENT for other non-JSON values (functions,
 * symbols, Dates, Maps, class instances, cycles).
 */
export function jsonToValue(json: JsonValue, path = "$"): Value {
  return toValue(json, path, new Set());
}

/** Converts a JSON object to a proto map<string, Value> (keys with `undefined` are skipped). */
export function jsonToMap(obj: JsonObject, path = "$"): { [key: string]: Value } {
  return toMap(obj, path, new Set());
}

function toValue(json: unknown, path: string, open: Set<object>): Value {
  if (json === null) {
    return create(ValueSchema, { kind: { case: "nullValue", value: NullValue.NULL_VALUE } });
  }
  switch (typeof json) {
    case "number":
      checkNumber(json, path);
      return create(ValueSchema, { kind: { case: "numberValue", value: json } });
    case "bigint":
      return create(ValueSchema, { kind: { case: "numberValue", value: bigintToNumber(json, path) } });
    case "string":
      return create(ValueSchema, { kind: { case: "stringValue", value: json } });
    case "boolean":
      return create(ValueSchema, { kind: { case: "boolValue", value: json } });
    case "object": {
      if (!Array.isArray(json)) {
        const fields = toMap(json, path, open);
        return create(ValueSchema, {
          kind: { case: "structValue", value: create(StructSchema, { fields }) },
        });
      }
      const list = json;
      const values = within(list, path, open, () =>
        list.map((item: unknown, i) => toValue(item === undefined ? null : item, `${path}[${i}]`, open)),
      );
      return create(ValueSchema, {
        kind: { case: "listValue", value: create(ListValueSchema, { values }) },
      });
    }
    default:
      throw localInvalidArgument(path, `a ${typeof json} is not a JSON value`);
  }
}

function toMap(obj: unknown, path: string, open: Set<object>): { [key: string]: Value } {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw localInvalidArgument(path, "must be a JSON object");
  }
  if (!isPlainObject(obj)) {
    const name = (obj.constructor as { name?: unknown } | undefined)?.name;
    throw localInvalidArgument(
      path,
      `a ${typeof name === "string" && name !== "" ? name : "non-plain object"} is not a JSON object`,
    );
  }
  return within(obj, path, open, () => {
    const out: { [key: string]: Value } = {};
    for (const [key, val] of Object.entries(obj)) {
      if (val === undefined) continue;
      out[key] = toValue(val, childPath(path, key), open);
    }
    return out;
  });
}

/** Runs `fn` with `obj` marked as being converted, so a reference back to it is a cycle. */
function within<T>(obj: object, path: string, open: Set<object>, fn: () => T): T {
  if (open.has(obj)) throw localInvalidArgument(path, "refers back to itself (a cycle)");
  open.add(obj);
  try {
    return fn();
  } finally {
    open.delete(obj);
  }
}

const NOT_REPRESENTABLE = reasonName(ErrorReason.VALUE_NOT_REPRESENTABLE);

const RANGE_RULE =
  "is outside the integers a JSON number carries exactly " +
  "(±(2^53-1), Number.MAX_SAFE_INTEGER); send it as a string";

/** NaN, ±Infinity and integers beyond ±(2^53-1) would be stored as another number, or not at all. */
function checkNumber(n: number, path: string): void {
  if (!Number.isFinite(n)) {
    throw localInvalidArgument(path, `${n} is not a JSON number`, NOT_REPRESENTABLE);
  }
  // Every double of magnitude >= 2^53 is an integer, so this catches 2^53, 2^53+2, 1e300 ...
  if (Number.isInteger(n) && !Number.isSafeInteger(n)) {
    throw localInvalidArgument(path, `${n} ${RANGE_RULE}`, NOT_REPRESENTABLE);
  }
}

function bigintToNumber(n: bigint, path: string): number {
  if (n > BigInt(MAX_SAFE_JSON_INTEGER) || n < -BigInt(MAX_SAFE_JSON_INTEGER)) {
    throw localInvalidArgument(path, `${n}n ${RANGE_RULE}`, NOT_REPRESENTABLE);
  }
  return Number(n);
}

/** `variables.count`, or `variables["a b"]` for keys that are not identifiers. */
function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** Converts a google.protobuf.Value to plain JSON (an unset kind reads as null). */
export function valueToJson(value: Value): JsonValue {
  const kind = value.kind;
  switch (kind.case) {
    case "nullValue":
    case undefined:
      return null;
    case "numberValue":
    case "stringValue":
    case "boolValue":
      return kind.value;
    case "listValue":
      return kind.value.values.map(valueToJson);
    case "structValue":
      return mapToJson(kind.value.fields);
  }
}

/** Converts a proto map<string, Value> to a plain JSON object. */
export function mapToJson(fields: { [key: string]: Value }): JsonObject {
  const out: JsonObject = {};
  for (const [key, val] of Object.entries(fields)) {
    out[key] = valueToJson(val);
  }
  return out;
}

/** Deep equality of JSON values (object key order does not matter). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  const ak = Object.keys(a).filter((k) => a[k] !== undefined);
  const bk = Object.keys(b).filter((k) => b[k] !== undefined);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual(a[k], b[k]));
}

/** A deep copy of a JSON value. */
export function jsonClone<T extends JsonValue>(value: T): T {
  return structuredClone(value);
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
