import type { Struct, StructValue } from './discovery-types.js';

/** A JSON value that fits in a `google.protobuf.Struct`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Converts a JSON object to a `google.protobuf.Struct` (for node metadata). */
export function structFromJson(json: Readonly<Record<string, JsonValue>>): Struct {
  const fields: Record<string, StructValue> = {};
  for (const [key, value] of Object.entries(json)) fields[key] = valueFromJson(value);
  return { fields };
}

/** Converts a `google.protobuf.Struct` back to plain JSON. */
export function structToJson(struct: Struct | null | undefined): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = valueToJson(value);
  return out;
}

function valueFromJson(value: JsonValue): StructValue {
  if (value === null) return { kind: 'nullValue', nullValue: 'NULL_VALUE' };
  if (typeof value === 'boolean') return { kind: 'boolValue', boolValue: value };
  if (typeof value === 'number') return { kind: 'numberValue', numberValue: value };
  if (typeof value === 'string') return { kind: 'stringValue', stringValue: value };
  if (Array.isArray(value)) return { kind: 'listValue', listValue: { values: value.map(valueFromJson) } };
  return { kind: 'structValue', structValue: structFromJson(value) };
}

function valueToJson(value: StructValue): JsonValue {
  switch (value.kind) {
    case 'boolValue':
      return value.boolValue ?? false;
    case 'numberValue':
      return value.numberValue ?? 0;
    case 'stringValue':
      return value.stringValue ?? '';
    case 'listValue':
      return (value.listValue?.values ?? []).map(valueToJson);
    case 'structValue':
      return structToJson(value.structValue);
    default:
      return null;
  }
}
