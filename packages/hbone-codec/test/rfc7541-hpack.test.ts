import fc from 'fast-check';
// @ts-expect-error hpack.js ships no types; it is the independent implementation we check against.
import hpackJs from 'hpack.js';
import { describe, expect, it } from 'vitest';
import {
  type HeaderField,
  HpackDecoder,
  HpackEncoder,
  HpackError,
  huffmanDecode,
  huffmanEncodedLength,
  huffmanEncodeInto,
} from '../src/index.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from '../src/hpack/huffman-table.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

interface HpackJsCompressor {
  write(headers: Array<{ name: string; value: string; huffman?: boolean }>): void;
  read(): Buffer | null;
}
interface HpackJsDecompressor {
  write(block: Buffer): void;
  execute(): void;
  read(): { name: string; value: string } | null;
}
const hpack = hpackJs as {
  compressor: { create(o: { table: { size: number } }): HpackJsCompressor };
  decompressor: { create(o: { table: { size: number } }): HpackJsDecompressor };
};

describe('RFC 7541 Appendix C: examples', () => {
  it('C.2.1–C.2.4: literal representations and indexed field', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')).headers).toEqual(
      [['custom-key', 'custom-header']],
    );
    expect(d.tableSize).toBe(55);
    expect(new HpackDecoder().decode(hex('040c 2f73 616d 706c 652f 7061 7468')).headers).toEqual([
      [':path', '/sample/path'],
    ]);
    const never = new HpackDecoder();
    expect(never.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')).headers).toEqual([
      ['password', 'secret'],
    ]);
    expect(never.tableSize).toBe(0);
    expect(new HpackDecoder().decode(hex('82')).headers).toEqual([[':method', 'GET']]);
  });

  const requests: HeaderField[][] = [
    [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ],
    [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ],
    [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ],
  ];

  it('C.3: requests without Huffman, sharing one dynamic table', () => {
    const d = new HpackDecoder();
    const blocks = [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ];
    blocks.forEach((b, i) => {
      expect(d.decode(hex(b)).headers).toEqual(requests[i]);
    });
    expect(d.tableSize).toBe(164);
  });

  it('C.4: requests with Huffman, decoded and re-encoded byte for byte', () => {
    const d = new HpackDecoder();
    const e = new HpackEncoder();
    const blocks = [
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ];
    blocks.forEach((b, i) => {
      expect(d.decode(hex(b)).headers).toEqual(requests[i]);
      expect(e.encode(requests[i]!).toString('hex')).toBe(b.replace(/\s+/g, ''));
    });
    expect(d.tableSize).toBe(164);
  });

  it('C.1: integer representation (10 and 1337 on a 5-bit prefix, 42 on 8 bits)', () => {
    // A literal without indexing with a 4-bit name index of 15 + 26 + 10 × 128 = 1321: outside the tables.
    expect(() => new HpackDecoder().decode(hex('0f 9a 0a'))).toThrowError(/index 1321/);
    // 1337 and 10 on a 5-bit prefix, as dynamic table size updates (C.1.2, C.1.1).
    const d = new HpackDecoder();
    d.decode(new HpackEncoder().encode([['x-a', 'b']]));
    expect(d.decode(hex('3f 9a 0a 2a 82')).headers).toEqual([[':method', 'GET']]);
    expect(d.tableSize).toBe(0);
  });
});

describe('RFC 7541 §5.2: Huffman', () => {
  it('round-trips every byte value', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const out = Buffer.alloc(huffmanEncodedLength(all));
    huffmanEncodeInto(all, out, 0);
    expect(huffmanDecode(out).equals(all)).toBe(true);
  });

  it('rejects padding longer than 7 bits, padding that is not all ones, and EOS', () => {
    // 'a' is 00011 (5 bits): pad with 1s to one byte is valid; a whole extra 0xff byte is 11 bits of padding.
    expect(huffmanDecode(hex('1f')).toString()).toBe('a');
    expect(() => huffmanDecode(hex('1fff'))).toThrow(HpackError);
    expect(() => huffmanDecode(hex('18'))).toThrowError(/EOS prefix/);
    expect(() => huffmanDecode(hex('ffffffff'))).toThrowError(/EOS/);
  });
});

/** A bit-at-a-time reference decoder straight from the Appendix B code table. */
function referenceHuffmanDecode(input: Buffer): string {
  const codes = new Map<string, number>();
  for (let s = 0; s < 257; s++)
    codes.set(HUFFMAN_CODES[s]!.toString(2).padStart(HUFFMAN_LENGTHS[s]!, '0'), s);
  let out = '';
  let bits = '';
  for (const byte of input) {
    for (const bit of byte.toString(2).padStart(8, '0')) {
      bits += bit;
      const symbol = codes.get(bits);
      if (symbol === undefined) continue;
      if (symbol === 256) throw new Error('EOS');
      out += String.fromCharCode(symbol);
      bits = '';
    }
  }
  if (bits.length > 7) throw new Error('padding longer than 7 bits');
  if (bits.includes('0')) throw new Error('padding is not the EOS prefix');
  return out;
}

describe('RFC 7541 §5.2: Huffman decoding four bits at a time', () => {
  it('agrees with a bit-at-a-time decoder on valid strings and on arbitrary bytes', () => {
    const outcome = (f: () => string): string => {
      try {
        return `ok:${f()}`;
      } catch (error) {
        const m = (error as Error).message;
        return `error:${/EOS prefix/.test(m) ? 'prefix' : /longer than 7/.test(m) ? 'long' : /EOS/.test(m) ? 'eos' : m}`;
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const raw = Buffer.from(bytes);
        const encoded = Buffer.alloc(huffmanEncodedLength(raw));
        huffmanEncodeInto(raw, encoded, 0);
        expect(huffmanDecode(encoded).equals(raw)).toBe(true);
        expect(outcome(() => huffmanDecode(raw).toString('latin1'))).toBe(
          outcome(() => referenceHuffmanDecode(raw)),
        );
      }),
      { numRuns: 2000 },
    );
  });
});

describe('HPACK encoder output buffers', () => {
  it('returns independent blocks, including ones larger than its scratch space', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder({ maxHeaderListSize: 1 << 20 });
    const big = 'x'.repeat(100_000);
    const first = encoder.encode([
      [':method', 'CONNECT'],
      [':authority', '10.0.0.2:8080'],
      ['x-big', big],
    ]);
    const copy = Buffer.from(first);
    const second = encoder.encode([
      [':method', 'CONNECT'],
      ['traceparent', '00-'.padEnd(55, 'a')],
    ]);
    expect(first.equals(copy)).toBe(true);
    expect(decoder.decode(first).headers).toEqual([
      [':method', 'CONNECT'],
      [':authority', '10.0.0.2:8080'],
      ['x-big', big],
    ]);
    expect(decoder.decode(second).headers).toEqual([
      [':method', 'CONNECT'],
      ['traceparent', '00-'.padEnd(55, 'a')],
    ]);
  });
});

describe('RFC 7541 §2.3.3, §4.2, §5: malformed blocks are COMPRESSION_ERROR', () => {
  const cases: Array<[string, string]> = [
    ['index 0', '80'],
    ['index past the tables', 'be'],
    ['truncated integer', '7f'],
    ['integer over 2^31', '7f ff ff ff ff 0f'],
    ['string longer than the block', '40 05 61'],
    ['missing string', '40'],
    ['table size update above the setting', '3f e2 1f'],
    ['table size update after a field', '82 20'],
  ];
  for (const [name, bytes] of cases) {
    it(`rejects ${name}`, () => {
      const d = new HpackDecoder();
      expect(() => d.decode(hex(bytes))).toThrowError(
        expect.objectContaining({ code: 'HBONE_ERR_COMPRESSION', scope: 'connection' }),
      );
      // An error is terminal: the table may be out of sync.
      expect(() => d.decode(hex('82'))).toThrow(HpackError);
    });
  }
});

describe('header list size limit (RFC 9113 §6.5.2) and HPACK bombs', () => {
  it('accepts a list of exactly the limit and flags one byte more', () => {
    const value = 'v'.repeat(100);
    const size = 'x-a'.length + value.length + 32;
    const block = new HpackEncoder({ huffman: false }).encode([['x-a', value]]);
    expect(new HpackDecoder({ maxHeaderListSize: size }).decode(block).oversize).toBe(false);
    const over = new HpackDecoder({ maxHeaderListSize: size - 1 }).decode(block);
    expect(over).toEqual({ headers: [], oversize: true });
  });

  it('keeps the table in sync and holds nothing when a small block expands past the limit', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder({ maxHeaderListSize: 16 * 1024 });
    // One 4000-byte entry, then a block of 2000 one-byte references to it: 8 MB decoded from 2 KB.
    const first = encoder.encode([['x-bomb', 'b'.repeat(4000)]]);
    expect(decoder.decode(first).oversize).toBe(false);
    const bomb = Buffer.alloc(2000, 0xbe);
    expect(decoder.decode(bomb)).toEqual({ headers: [], oversize: true });
    // Still in sync: the next block decodes with the same table.
    expect(
      decoder.decode(
        encoder.encode([
          ['x-bomb', 'b'.repeat(4000)],
          ['a', 'b'],
        ]),
      ).headers,
    ).toHaveLength(2);
  });
});

describe('interoperability with hpack.js (an independent implementation)', () => {
  const field = fc.tuple(
    fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
    fc.string({ maxLength: 60 }).map((s) => Buffer.from(s, 'utf8').toString('latin1')),
  );
  const lists = fc.array(fc.array(field, { maxLength: 12 }), { minLength: 1, maxLength: 8 });

  it('our encoder → hpack.js decoder, sharing dynamic table state across blocks', () => {
    fc.assert(
      fc.property(lists, (blocks) => {
        const ours = new HpackEncoder();
        const theirs = hpack.decompressor.create({ table: { size: 4096 } });
        for (const headers of blocks) {
          theirs.write(ours.encode(headers));
          theirs.execute();
          const got: HeaderField[] = [];
          for (let h = theirs.read(); h; h = theirs.read()) got.push([h.name, h.value]);
          expect(got).toEqual(headers);
        }
      }),
      { interruptAfterTimeLimit: 3000, numRuns: 300 },
    );
  });

  it('hpack.js encoder → our decoder', () => {
    fc.assert(
      fc.property(lists, (blocks) => {
        const theirs = hpack.compressor.create({ table: { size: 4096 } });
        const ours = new HpackDecoder();
        for (const headers of blocks) {
          theirs.write(headers.map(([name, value]) => ({ name, value })));
          const chunks: Buffer[] = [];
          for (let c = theirs.read(); c; c = theirs.read()) chunks.push(c);
          expect(ours.decode(Buffer.concat(chunks)).headers).toEqual(headers);
        }
      }),
      { interruptAfterTimeLimit: 3000, numRuns: 300 },
    );
  });

  it('signals a smaller peer table size at the start of the next block (§4.2)', () => {
    const e = new HpackEncoder();
    e.encode([['x-a', 'one']]);
    e.setPeerMaxTableSize(0);
    const block = e.encode([['x-a', 'one']]);
    expect(block[0]).toBe(0x20);
    const d = new HpackDecoder();
    d.decode(new HpackEncoder().encode([['x-a', 'one']]));
    expect(d.decode(block).headers).toEqual([['x-a', 'one']]);
    expect(d.tableSize).toBe(0);
  });

  it('never throws anything but HpackError on random blocks (fuzz, time-boxed)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          new HpackDecoder().decode(Buffer.from(bytes));
        } catch (error) {
          if (!(error instanceof HpackError)) throw error;
        }
      }),
      { interruptAfterTimeLimit: 3000, numRuns: 20_000 },
    );
  });
});
