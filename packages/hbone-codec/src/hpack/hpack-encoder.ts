import { DynamicTable } from './dynamic-table.js';
import type { HeaderField } from './hpack-decoder.js';
import { huffmanEncodedLength, huffmanEncodeInto } from './huffman.js';
import { STATIC_TABLE } from './static-table.js';

const STATIC_EXACT = new Map<string, number>();
const STATIC_NAME = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  STATIC_EXACT.set(`${name}\0${value}`, i + 1);
  if (!STATIC_NAME.has(name)) STATIC_NAME.set(name, i + 1);
});

// Fields whose values are secrets or too unique to be worth a table slot (RFC 7541 §7.1.3).
const NEVER_INDEXED = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
const NOT_INDEXED = new Set([
  ':path',
  'content-length',
  'traceparent',
  'forwarded',
  'date',
  'etag',
  'if-none-match',
]);

/** Options of {@link HpackEncoder}. */
export interface HpackEncoderOptions {
  /** Table size to use (capped by the peer's SETTINGS_HEADER_TABLE_SIZE); default 4096. */
  readonly maxTableSize?: number;
  /** Use Huffman strings when shorter (default true). */
  readonly huffman?: boolean;
}

/**
 * HPACK encoder (RFC 7541): static and dynamic table indexing, Huffman
 * strings when they are shorter, never-indexed literals for credentials.
 *
 * @example
 * ```ts
 * const block = new HpackEncoder().encode([[':method', 'CONNECT'], [':authority', '10.0.0.1:80']]);
 * ```
 */
export class HpackEncoder {
  readonly #table: DynamicTable;
  readonly #huffman: boolean;
  #preferredMax: number;
  #pendingUpdates: number[] = [];

  constructor(options: HpackEncoderOptions = {}) {
    this.#preferredMax = options.maxTableSize ?? 4096;
    this.#table = new DynamicTable(this.#preferredMax);
    this.#huffman = options.huffman ?? true;
  }

  /**
   * Applies the peer's SETTINGS_HEADER_TABLE_SIZE: the next block starts
   * with the size updates the decoder must see (RFC 7541 §4.2).
   */
  setPeerMaxTableSize(size: number): void {
    const next = Math.min(size, this.#preferredMax);
    if (next === this.#table.maxSize && this.#pendingUpdates.length === 0) return;
    // A shrink then grow must signal the smallest size first (RFC 7541 §4.2).
    const last = this.#pendingUpdates.at(-1);
    if (last === undefined || next < last) this.#pendingUpdates.push(next);
    else this.#pendingUpdates = [...this.#pendingUpdates.filter((v) => v < next), next];
    this.#table.setMaxSize(next);
  }

  /** Encodes one header block. Names must already be lowercase (RFC 9113 §8.2). */
  encode(headers: readonly HeaderField[]): Buffer {
    const parts: Buffer[] = [];
    for (const size of this.#pendingUpdates) parts.push(integer(size, 5, 0x20));
    this.#pendingUpdates = [];
    for (const [name, value] of headers) {
      const exact = STATIC_EXACT.get(`${name}\0${value}`);
      if (exact !== undefined) {
        parts.push(integer(exact, 7, 0x80));
        continue;
      }
      const dynamic = this.#table.find(name, value);
      if (dynamic?.exact) {
        parts.push(integer(dynamic.index, 7, 0x80));
        continue;
      }
      const nameIndex = STATIC_NAME.get(name) ?? dynamic?.index ?? 0;
      if (NEVER_INDEXED.has(name)) {
        parts.push(this.#literal(nameIndex, 4, 0x10, name, value));
      } else if (NOT_INDEXED.has(name)) {
        parts.push(this.#literal(nameIndex, 4, 0x00, name, value));
      } else {
        parts.push(this.#literal(nameIndex, 6, 0x40, name, value));
        this.#table.add(name, value);
      }
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  #literal(nameIndex: number, prefix: number, pattern: number, name: string, value: string): Buffer {
    const head = integer(nameIndex, prefix, pattern);
    return nameIndex === 0
      ? Buffer.concat([head, this.#string(name), this.#string(value)])
      : Buffer.concat([head, this.#string(value)]);
  }

  #string(text: string): Buffer {
    const raw = Buffer.from(text, 'latin1');
    if (this.#huffman) {
      const length = huffmanEncodedLength(raw);
      if (length < raw.length) {
        const head = integer(length, 7, 0x80);
        const out = Buffer.allocUnsafe(head.length + length);
        head.copy(out, 0);
        huffmanEncodeInto(raw, out, head.length);
        return out;
      }
    }
    return Buffer.concat([integer(raw.length, 7, 0), raw]);
  }
}

/** Encodes an HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
export function integer(value: number, prefixBits: number, pattern: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([pattern | value]);
  const bytes = [pattern | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
