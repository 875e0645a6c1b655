// Minimal protobuf wire-format helpers for the few small messages of the
// agent ↔ ztunnel protocol (proto3: varint, length-delimited; unknown
// fields of any wire type are skipped, as protobuf requires).
import { CniRedirectError } from './errors.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Appends protobuf fields to a growing buffer. */
export class ProtoWriter {
  private readonly parts: number[] = [];

  private varint(value: number): void {
    let v = value;
    while (v > 0x7f) {
      this.parts.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.parts.push(v);
  }

  /** A varint field (enum, uint32); proto3 omits zero. */
  uint(field: number, value: number): this {
    if (value === 0) return this;
    this.varint(field * 8);
    this.varint(value);
    return this;
  }

  /** A length-delimited field. `always` writes it even when empty (a set oneof member). */
  bytes(field: number, value: Uint8Array, always = false): this {
    if (value.length === 0 && !always) return this;
    this.varint(field * 8 + 2);
    this.varint(value.length);
    for (const b of value) this.parts.push(b);
    return this;
  }

  /** A string field; proto3 omits the empty string. */
  string(field: number, value: string): this {
    return this.bytes(field, encoder.encode(value));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** One decoded field. */
export type ProtoField =
  | { readonly field: number; readonly wire: 0; readonly value: number }
  | { readonly field: number; readonly wire: 2; readonly value: Uint8Array }
  | { readonly field: number; readonly wire: 1 | 5 };

function malformed(what: string): never {
  throw new CniRedirectError('CNI_ERR_PROTOCOL', `malformed protobuf: ${what}`);
}

/**
 * Splits a message into its fields.
 * @throws {CniRedirectError} `CNI_ERR_PROTOCOL` on truncation, overlong varints or bad wire types
 */
export function readFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let offset = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (offset >= bytes.length) malformed('truncated varint');
      const b = bytes[offset++]!;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) malformed('varint too large');
        return result;
      }
      scale *= 128;
    }
    return malformed('varint longer than 10 bytes');
  };
  while (offset < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) malformed('field number 0');
    if (wire === 0) {
      fields.push({ field, wire, value: varint() });
    } else if (wire === 2) {
      const length = varint();
      if (offset + length > bytes.length) malformed('length-delimited field runs past the end');
      fields.push({ field, wire, value: bytes.subarray(offset, offset + length) });
      offset += length;
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (offset + size > bytes.length) malformed('truncated fixed-size field');
      offset += size;
      fields.push({ field, wire });
    } else {
      malformed(`unsupported wire type ${wire}`);
    }
  }
  return fields;
}

/** Decodes a UTF-8 string field. */
export function readString(value: Uint8Array): string {
  try {
    return decoder.decode(value);
  } catch {
    return malformed('string field is not valid UTF-8');
  }
}
