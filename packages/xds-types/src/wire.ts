/*
 * A small strict protobuf wire reader for the hand-written decoders of the
 * hot-path messages (the Istio resources and the discovery responses). It
 * follows protobufjs' decoding rules (last scalar wins, a repeated embedded
 * message is replaced, unknown fields skipped, packed and unpacked repeated
 * scalars) but checks every bound: a varint, string, bytes or sub-message
 * running past the end of its enclosing message throws a RangeError.
 */

/** Wire types (protobuf encoding spec). */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const SGROUP = 3;
export const EGROUP = 4;
export const I32 = 5;

/** Strings up to this many bytes are interned (see {@link WireReader.string}). */
const INTERN_MAX_LENGTH = 64;
/** Ways per set of the intern table. */
const INTERN_WAYS = 4;
const INTERN_SET_MASK = 2047;
/**
 * A bounded, 4-way set-associative table: at most 8 192 strings of at most
 * 64 characters, with the full hash of each beside it. In a set, a hit moves
 * one place up and a new string goes first, so the strings a full sync
 * repeats thousands of times (namespaces, service accounts, nodes, type URLs)
 * stay while the unique ones (pod names, uids) pass through.
 */
const internTable: Array<string | undefined> = new Array((INTERN_SET_MASK + 1) * INTERN_WAYS).fill(undefined);
const internHashes = new Int32Array((INTERN_SET_MASK + 1) * INTERN_WAYS);

/**
 * Node's Buffer has `latin1Slice` (what `toString('latin1', ...)` ends in,
 * without the encoding lookup); used when present.
 */
const latin1: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as { latin1Slice?: unknown }).latin1Slice === 'function'
    ? (buf, start, end) =>
        (buf as Buffer & { latin1Slice(s: number, e: number): string }).latin1Slice(start, end)
    : (buf, start, end) => buf.toString('latin1', start, end);

/** protobufjs' recursion limit, also applied to nested groups being skipped. */
const MAX_DEPTH = 100;

/** A position in a Node Buffer. */
export class WireReader {
  readonly buf: Buffer;
  pos: number;
  /** Where the message starts in `buf`: error offsets are relative to it. */
  readonly base: number;

  constructor(bytes: Uint8Array, start = 0) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.base = start;
  }

  /** An unsigned 32-bit varint (a longer varint keeps its low 32 bits, like protobufjs). */
  uint32(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= end) throw outOfRange(pos - this.base, end - this.base);
    let byte = buf[pos++]!;
    if (byte < 128) {
      this.pos = pos;
      return byte;
    }
    let value = byte & 127;
    for (let shift = 7; shift < 28; shift += 7) {
      if (pos >= end) throw outOfRange(pos - this.base, end - this.base);
      byte = buf[pos++]!;
      value |= (byte & 127) << shift;
      if (byte < 128) {
        this.pos = pos;
        return value >>> 0;
      }
    }
    if (pos >= end) throw outOfRange(pos - this.base, end - this.base);
    byte = buf[pos++]!;
    value = (value | ((byte & 15) << 28)) >>> 0;
    // Bytes 6 to 10 of a 64-bit varint only carry high bits.
    for (let i = 0; byte >= 128; i++) {
      if (i === 5) throw new RangeError(`invalid varint at offset ${pos - this.base}`);
      if (pos >= end) throw outOfRange(pos - this.base, end - this.base);
      byte = buf[pos++]!;
    }
    this.pos = pos;
    return value;
  }

  /** A signed 32-bit varint (enums). */
  int32(end: number): number {
    return this.uint32(end) | 0;
  }

  /** A length prefix; returns the end offset of the field, checked against `end`. */
  length(end: number): number {
    const length = this.uint32(end);
    const stop = this.pos + length;
    if (stop > end) throw outOfRange(stop - this.base, end - this.base);
    return stop;
  }

  /**
   * A UTF-8 string field. Short ASCII strings go through a small intern
   * table: xDS resources repeat the same namespaces, service accounts, nodes,
   * hostnames and type URLs thousands of times, and sharing one string saves
   * the decoding, the allocation and the garbage collector's copying.
   */
  string(end: number): string {
    const stop = this.length(end);
    const start = this.pos;
    this.pos = stop;
    const length = stop - start;
    if (length === 0) return '';
    const buf = this.buf;
    if (length > INTERN_MAX_LENGTH) return buf.toString('utf8', start, stop);
    // FNV-1a over every byte (names differ anywhere: pod-1 and pod-2 at the
    // end, ns-1/svc-1.ns-1.svc.cluster.local in the middle), noting on the
    // way whether every byte is ASCII.
    let hash = 0x811c9dc5 ^ length;
    let high = 0;
    for (let i = start; i < stop; i++) {
      const byte = buf[i]!;
      high |= byte;
      hash = Math.imul(hash ^ byte, 0x01000193);
    }
    if (high >= 128) return buf.toString('utf8', start, stop);
    hash ^= hash >>> 15;
    const set = (hash & INTERN_SET_MASK) * INTERN_WAYS;
    for (let way = 0; way < INTERN_WAYS; way++) {
      const slot = set + way;
      const cached = internTable[slot];
      if (cached === undefined) break;
      if (internHashes[slot] !== hash || cached.length !== length) continue;
      // The table holds ASCII strings only, so equal char codes mean equal bytes and the same UTF-8.
      let i = 0;
      while (i < length && cached.charCodeAt(i) === buf[start + i]) i++;
      if (i < length) continue;
      if (way > 0) {
        internTable[slot] = internTable[slot - 1];
        internHashes[slot] = internHashes[slot - 1]!;
        internTable[slot - 1] = cached;
        internHashes[slot - 1] = hash;
      }
      return cached;
    }
    // ASCII: latin1 decoding gives the same string, faster.
    const value = latin1(buf, start, stop);
    for (let slot = set + INTERN_WAYS - 1; slot > set; slot--) {
      internTable[slot] = internTable[slot - 1];
      internHashes[slot] = internHashes[slot - 1]!;
    }
    internTable[set] = value;
    internHashes[set] = hash;
    return value;
  }

  /**
   * A UTF-8 string field that is most likely `expected` (the type URL of
   * every resource of a response): when its bytes are exactly the ASCII
   * characters of `expected`, `expected` itself, compared once instead of
   * hashed and compared; otherwise the same as {@link WireReader.string}.
   */
  expectedString(end: number, expected: string): string {
    const start = this.pos;
    const stop = this.length(end);
    const from = this.pos;
    if (stop - from === expected.length) {
      const buf = this.buf;
      let i = 0;
      while (i < expected.length && buf[from + i]! < 128 && buf[from + i] === expected.charCodeAt(i)) i++;
      if (i === expected.length) {
        this.pos = stop;
        return expected;
      }
    }
    this.pos = start;
    return this.string(end);
  }

  /**
   * A UTF-8 string field that is unique per resource (a pod's name), decoded
   * without the intern table: interning it would find nothing and only evict
   * the strings that do repeat.
   */
  uniqueString(end: number): string {
    const stop = this.length(end);
    const start = this.pos;
    this.pos = stop;
    return start === stop ? '' : this.buf.toString('utf8', start, stop);
  }

  /** A bytes field: a view into the message (no copy), like protobufjs' Buffer reader. */
  bytes(end: number): Buffer {
    const stop = this.length(end);
    const start = this.pos;
    this.pos = stop;
    return start === stop ? Buffer.alloc(0) : this.buf.subarray(start, stop);
  }

  /** Skips a field of the given wire type (unknown fields). */
  skip(wireType: number, end: number, depth = 0): void {
    switch (wireType) {
      case VARINT:
        this.uint32(end);
        return;
      case I64:
        this.advance(8, end);
        return;
      case LEN:
        this.pos = this.length(end);
        return;
      case SGROUP: {
        if (depth >= MAX_DEPTH) throw new Error('maximum nesting depth exceeded');
        for (;;) {
          const type = this.uint32(end) & 7;
          if (type === EGROUP) return;
          this.skip(type, end, depth + 1);
        }
      }
      case I32:
        this.advance(4, end);
        return;
      default:
        throw new Error(`invalid wire type ${wireType} at offset ${this.pos - this.base}`);
    }
  }

  /** Checks that a sub-message ended exactly at its declared length. */
  finish(end: number): void {
    if (this.pos !== end) throw outOfRange(this.pos - this.base, end - this.base);
  }

  private advance(count: number, end: number): void {
    if (this.pos + count > end) throw outOfRange(this.pos + count - this.base, end - this.base);
    this.pos += count;
  }
}

function outOfRange(at: number, end: number): RangeError {
  return new RangeError(`index out of range: ${at} > ${end}`);
}
