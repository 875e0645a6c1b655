import { HpackError } from './hpack-error.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffman-table.js';

// A binary decoding tree built once from RFC 7541 Appendix B: node i has children
// at CHILD[2i] (bit 0) and CHILD[2i+1] (bit 1); a negative child is -(symbol+1).
// DEPTH[i] is how many bits lead from the root to node i, ONES[i] whether all of them are 1:
// what the padding check needs (after the last symbol, the walk rests on such a node).
const CHILD = new Int32Array(2 * 512);
const DEPTH = new Uint8Array(512);
const ONES = new Uint8Array(512);
let NODES = 1;
(() => {
  ONES[0] = 1;
  for (let symbol = 0; symbol < 257; symbol++) {
    const code = HUFFMAN_CODES[symbol]!;
    const length = HUFFMAN_LENGTHS[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const b = (code >>> bit) & 1;
      const slot = 2 * node + b;
      if (bit === 0) {
        CHILD[slot] = -(symbol + 1);
      } else {
        if (CHILD[slot] === 0) {
          const child = NODES++;
          CHILD[slot] = child;
          DEPTH[child] = DEPTH[node]! + 1;
          ONES[child] = ONES[node]! & b;
        }
        node = CHILD[slot]!;
      }
    }
  }
})();

// The same tree walked four bits at a time: from node s on nibble n the walk ends on
// NEXT[16s+n] and emits EMIT[16s+n] (-1: nothing; codes are ≥ 5 bits, so at most one symbol).
const NEXT = new Uint16Array(16 * NODES);
const EMIT = new Int16Array(16 * NODES);
for (let state = 0; state < NODES; state++) {
  for (let nibble = 0; nibble < 16; nibble++) {
    let node = state;
    let emit = -1;
    for (let bit = 3; bit >= 0; bit--) {
      const next = CHILD[2 * node + ((nibble >>> bit) & 1)]!;
      if (next < 0) {
        emit = -next - 1;
        node = 0;
      } else {
        node = next;
      }
    }
    NEXT[16 * state + nibble] = node;
    EMIT[16 * state + nibble] = emit;
  }
}

/** Length in bytes of the Huffman encoding of `input` (RFC 7541 §5.2). */
export function huffmanEncodedLength(input: Buffer): number {
  return huffmanEncodedLengthOf(input.toString('latin1'));
}

/** Huffman-encodes `input` into `out` at `offset`, padding with EOS bits; returns the new offset. */
export function huffmanEncodeInto(input: Buffer, out: Buffer, offset: number): number {
  return huffmanEncodeStringInto(input.toString('latin1'), out, offset);
}

/**
 * Decodes a Huffman string (RFC 7541 §5.2). Rejects an EOS symbol, padding
 * longer than 7 bits, and padding that is not the EOS prefix (all ones).
 * @throws {HpackError} COMPRESSION_ERROR on any of those
 */
export function huffmanDecode(input: Buffer): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / 5));
  let o = 0;
  let node = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    let t = 16 * node + (byte >>> 4);
    let symbol = EMIT[t]!;
    if (symbol >= 0) {
      if (symbol === 256) throw new HpackError('Huffman string contains EOS (RFC 7541 §5.2)');
      out[o++] = symbol;
    }
    t = 16 * NEXT[t]! + (byte & 0x0f);
    symbol = EMIT[t]!;
    if (symbol >= 0) {
      if (symbol === 256) throw new HpackError('Huffman string contains EOS (RFC 7541 §5.2)');
      out[o++] = symbol;
    }
    node = NEXT[t]!;
  }
  if (DEPTH[node]! > 7) throw new HpackError('Huffman padding longer than 7 bits (RFC 7541 §5.2)');
  if (ONES[node] !== 1) throw new HpackError('Huffman padding is not the EOS prefix (RFC 7541 §5.2)');
  return out.subarray(0, o);
}

/** Length in bytes of the Huffman encoding of a string's latin1 bytes, without making them. */
export function huffmanEncodedLengthOf(text: string): number {
  let bits = 0;
  for (let i = 0; i < text.length; i++) bits += HUFFMAN_LENGTHS[text.charCodeAt(i) & 0xff]!;
  return (bits + 7) >>> 3;
}

/** Huffman-encodes a string's latin1 bytes (without making them) into `out` at `offset`; returns the new offset. The HPACK encoder's path. */
export function huffmanEncodeStringInto(text: string, out: Buffer, offset: number): number {
  let acc = 0;
  let bits = 0;
  let o = offset;
  for (let i = 0; i < text.length; i++) {
    const symbol = text.charCodeAt(i) & 0xff;
    let remaining = HUFFMAN_LENGTHS[symbol]!;
    let code = HUFFMAN_CODES[symbol]!;
    while (remaining > 0) {
      const take = Math.min(remaining, 16);
      remaining -= take;
      acc = ((acc << take) | ((code >>> remaining) & ((1 << take) - 1))) >>> 0;
      bits += take;
      while (bits >= 8) {
        bits -= 8;
        out[o++] = (acc >>> bits) & 0xff;
      }
      acc &= (1 << bits) - 1;
      code &= (1 << remaining) - 1;
    }
  }
  if (bits > 0) out[o++] = ((acc << (8 - bits)) | (0xff >>> bits)) & 0xff;
  return o;
}
