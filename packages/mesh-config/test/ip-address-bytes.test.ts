import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIp } from '../src/index.js';

describe('parseIp: textual IP to network-order bytes (xDS `bytes address`)', () => {
  it('parses IPv4 and IPv6 forms', () => {
    expect(parseIp('10.1.2.3')).toEqual(Uint8Array.from([10, 1, 2, 3]));
    expect(parseIp('::')).toEqual(new Uint8Array(16));
    expect(parseIp('::1')).toEqual(Uint8Array.from([...new Array(15).fill(0), 1]));
    expect(parseIp('fd00:1::2')).toEqual(Uint8Array.from([0xfd, 0, 0, 1, ...new Array(11).fill(0), 2]));
    expect(parseIp('::ffff:192.0.2.1')).toEqual(
      Uint8Array.from([...new Array(10).fill(0), 0xff, 0xff, 192, 0, 2, 1]),
    );
  });

  it('rejects what is not an address', () => {
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.0.0.1',
      '01.2.3.4',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      'fe80::1%eth0',
      'g::1',
      '1.2.3.4/32',
    ]) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });

  it('agrees with node:net isIP on random IPv4 and IPv6 text (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 })), (text) => {
        const bytes = parseIp(text);
        const family = isIP(text);
        expect(bytes === undefined ? 0 : bytes.length === 4 ? 4 : 6).toBe(family);
      }),
      { numRuns: 2000, interruptAfterTimeLimit: 5_000 },
    );
  });
});
