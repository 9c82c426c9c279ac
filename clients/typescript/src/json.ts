// Plain JSON values <-> google.protobuf.Value / Struct-like maps.

import { create } from "@bufbuild/protobuf";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { ListValueSchema, NullValue, StructSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Value } from "@bufbuild/protobuf/wkt";

export type { JsonObject, JsonValue };

/**
 * Converts plain JSON to a google.protobuf.Value.
 *
 * Like JSON.stringify: object keys whose value is `undefined` are skipped and
 * `undefined` array elements become null. Non-finite numbers, bigints and
 * other non-JSON values throw a TypeError (the server could not store them).
 */
export function jsonToValue(json: JsonValue, path = "$"): Value {
  if (json === null) {
    return create(ValueSchema, { kind: { case: "nullValue", value: NullValue.NULL_VALUE } });
  }
  switch (typeof json) {
    case "number":
      if (!Number.isFinite(json)) {
        throw new TypeError(`${path}: ${json} is not a JSON number`);
      }
      return create(ValueSchema, { kind: { case: "numberValue", value: json } });
    case "string":
      return create(ValueSchema, { kind: { case: "stringValue", value: json } });
    case "boolean":
      return create(ValueSchema, { kind: { case: "boolValue", value: json } });
    case "object": {
      if (Array.isArray(json)) {
        const values = json.map((item, i) =>
          jsonToValue(item === undefined ? null : item, `${path}[${i}]`),
        );
        return create(ValueSchema, {
          kind: { case: "listValue", value: create(ListValueSchema, { values }) },
        });
      }
      if (!isPlainObject(json)) {
        throw new TypeError(`${path}: not a plain JSON object`);
      }
      return create(ValueSchema, {
        kind: { case: "structValue", value: create(StructSchema, { fields: jsonToMap(json, path) }) },
      });
    }
    default:
      throw new TypeError(`${path}: a ${typeof json} is not a JSON value`);
  }
}

/** Converts a JSON object to a proto map<string, Value> (keys with `undefined` are skipped). */
export function jsonToMap(obj: JsonObject, path = "$"): { [key: string]: Value } {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new TypeError(`${path}: variables must be a JSON object`);
  }
  const out: { [key: string]: Value } = {};
  for (const [key, val] of Object.entries(obj)) {
    if (val === undefined) continue;
    out[key] = jsonToValue(val, `${path}.${key}`);
  }
  return out;
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

function isPlainObject(v: object): v is JsonObject {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
