import { DynamicTable } from './dynamic-table.js';
import type { HeaderField } from './hpack-decoder.js';
import { huffmanEncodedLengthOf, huffmanEncodeStringInto } from './huffman.js';
import { STATIC_TABLE } from './static-table.js';

// Static entries by name, then value: a lookup hashes the (usually constant) name and only
// hashes the value for the few names the static table lists with values.
const STATIC_EXACT = new Map<string, Map<string, number>>();
const STATIC_NAME = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  let values = STATIC_EXACT.get(name);
  if (!values) {
    values = new Map();
    STATIC_EXACT.set(name, values);
  }
  if (!values.has(value)) values.set(value, i + 1);
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

  /**
   * Encodes one header block. Names must already be lowercase (RFC 9113 §8.2).
   * The block is assembled in a scratch buffer shared by all encoders (encoding
   * is synchronous) and copied out once: no small buffer per field.
   */
  encode(headers: readonly HeaderField[]): Buffer {
    pos = 0;
    for (const size of this.#pendingUpdates) writeInteger(size, 5, 0x20);
    this.#pendingUpdates = [];
    for (let i = 0; i < headers.length; i++) {
      const [name, value] = headers[i]!;
      const exact = STATIC_EXACT.get(name)?.get(value);
      if (exact !== undefined) {
        writeInteger(exact, 7, 0x80);
        continue;
      }
      const dynamic = this.#table.find(name, value);
      if (dynamic?.exact) {
        writeInteger(dynamic.index, 7, 0x80);
        continue;
      }
      const nameIndex = STATIC_NAME.get(name) ?? dynamic?.index ?? 0;
      if (NEVER_INDEXED.has(name)) {
        this.#literal(nameIndex, 4, 0x10, name, value);
      } else if (NOT_INDEXED.has(name)) {
        this.#literal(nameIndex, 4, 0x00, name, value);
      } else {
        this.#literal(nameIndex, 6, 0x40, name, value);
        this.#table.add(name, value);
      }
    }
    const block = Buffer.allocUnsafe(pos);
    scratch.copy(block, 0, 0, pos);
    // A rare huge block must not pin a huge scratch buffer for the life of the process.
    if (scratch.length > MAX_KEPT_SCRATCH) scratch = Buffer.allocUnsafe(INITIAL_SCRATCH);
    return block;
  }

  #literal(nameIndex: number, prefix: number, pattern: number, name: string, value: string): void {
    writeInteger(nameIndex, prefix, pattern);
    if (nameIndex === 0) this.#string(name);
    this.#string(value);
  }

  #string(text: string): void {
    // An integer takes at most 6 bytes here (lengths < 2^32); a Huffman string is never longer than raw.
    reserve(6 + text.length);
    if (this.#huffman) {
      const length = huffmanEncodedLengthOf(text);
      if (length < text.length) {
        writeInteger(length, 7, 0x80);
        pos = huffmanEncodeStringInto(text, scratch, pos);
        return;
      }
    }
    writeInteger(text.length, 7, 0);
    pos += scratch.write(text, pos, 'latin1');
  }
}

const INITIAL_SCRATCH = 4096;
const MAX_KEPT_SCRATCH = 64 * 1024;
/** The block being encoded, and how far it is filled. */
let scratch = Buffer.allocUnsafe(INITIAL_SCRATCH);
let pos = 0;

function reserve(bytes: number): void {
  if (pos + bytes <= scratch.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, pos + bytes));
  scratch.copy(bigger, 0, 0, pos);
  scratch = bigger;
}

/** Writes an HPACK integer with an N-bit prefix (RFC 7541 §5.1) into the scratch block. */
function writeInteger(value: number, prefixBits: number, pattern: number): void {
  reserve(6);
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    scratch[pos++] = pattern | value;
    return;
  }
  scratch[pos++] = pattern | max;
  let rest = value - max;
  while (rest >= 128) {
    scratch[pos++] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  scratch[pos++] = rest;
}
