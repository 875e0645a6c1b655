import { HpackError } from './hpack-error.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffman-table.js';

// A binary decoding tree built once from RFC 7541 Appendix B: node i has children
// at CHILD[2i] (bit 0) and CHILD[2i+1] (bit 1); a negative child is -(symbol+1).
const CHILD = new Int32Array(2 * 512);
(() => {
  let nodes = 1;
  for (let symbol = 0; symbol < 257; symbol++) {
    const code = HUFFMAN_CODES[symbol]!;
    const length = HUFFMAN_LENGTHS[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const slot = 2 * node + ((code >>> bit) & 1);
      if (bit === 0) {
        CHILD[slot] = -(symbol + 1);
      } else {
        if (CHILD[slot] === 0) CHILD[slot] = nodes++;
        node = CHILD[slot]!;
      }
    }
  }
})();

/** Length in bytes of the Huffman encoding of `input` (RFC 7541 §5.2). */
export function huffmanEncodedLength(input: Buffer): number {
  let bits = 0;
  for (let i = 0; i < input.length; i++) bits += HUFFMAN_LENGTHS[input[i]!]!;
  return (bits + 7) >>> 3;
}

/** Huffman-encodes `input` into `out` at `offset`, padding with EOS bits; returns the new offset. */
export function huffmanEncodeInto(input: Buffer, out: Buffer, offset: number): number {
  let acc = 0;
  let bits = 0;
  let o = offset;
  for (let i = 0; i < input.length; i++) {
    const symbol = input[i]!;
    const length = HUFFMAN_LENGTHS[symbol]!;
    let code = HUFFMAN_CODES[symbol]!;
    // Codes are up to 30 bits: push them in two halves so `acc` stays within 31 bits.
    let remaining = length;
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

/**
 * Decodes a Huffman string (RFC 7541 §5.2). Rejects an EOS symbol, padding
 * longer than 7 bits, and padding that is not the EOS prefix (all ones).
 * @throws {HpackError} COMPRESSION_ERROR on any of those
 */
export function huffmanDecode(input: Buffer): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / 5));
  let o = 0;
  let node = 0;
  let depth = 0;
  let allOnes = true;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >>> bit) & 1;
      const next = CHILD[2 * node + b]!;
      depth++;
      if (b === 0) allOnes = false;
      if (next < 0) {
        const symbol = -next - 1;
        if (symbol === 256) throw new HpackError('Huffman string contains EOS (RFC 7541 §5.2)');
        out[o++] = symbol;
        node = 0;
        depth = 0;
        allOnes = true;
      } else {
        node = next;
      }
    }
  }
  if (depth > 7) throw new HpackError('Huffman padding longer than 7 bits (RFC 7541 §5.2)');
  if (!allOnes) throw new HpackError('Huffman padding is not the EOS prefix (RFC 7541 §5.2)');
  return out.subarray(0, o);
}
