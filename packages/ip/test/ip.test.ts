import { describe, expect, it } from 'vitest';
import { formatIp, parseIpv4, parseIpv6 } from '../src/index.js';

const hex = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : Buffer.from(bytes).toString('hex');

describe('parseIpv4', () => {
  it('reads dotted quads and refuses everything else', () => {
    expect([...parseIpv4('10.0.0.1')!]).toEqual([10, 0, 0, 1]);
    expect([...parseIpv4('255.255.255.255')!]).toEqual([255, 255, 255, 255]);
    for (const bad of [
      '256.0.0.1',
      '10.0.0',
      '10.0.0.1.2',
      '10.0.0.01',
      '10.0.0.-1',
      '10.0.0.1 ',
      '',
      'a.b.c.d',
    ])
      expect(parseIpv4(bad), bad).toBeUndefined();
  });
});

describe('parseIpv6 (RFC 4291 §2.2 text forms)', () => {
  it('reads full, compressed and dotted-quad forms', () => {
    expect(hex(parseIpv6('2001:db8:0:0:1:0:0:1'))).toBe('20010db8000000000001000000000001');
    expect(hex(parseIpv6('2001:DB8::1'))).toBe('20010db8000000000000000000000001');
    expect(hex(parseIpv6('::'))).toBe('0'.repeat(32));
    expect(hex(parseIpv6('::1'))).toBe(`${'0'.repeat(31)}1`);
    expect(hex(parseIpv6('fe80::'))).toBe(`fe80${'0'.repeat(28)}`);
    expect(hex(parseIpv6('::ffff:10.0.0.1'))).toBe('00000000000000000000ffff0a000001');
    expect(hex(parseIpv6('1:2:3:4:5:6:10.0.0.1'))).toBe('0001000200030004000500060a000001');
  });

  it('refuses malformed text, zones and brackets', () => {
    for (const bad of [
      '',
      ':',
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7::8',
      '12345::',
      '::g',
      '1.2.3.4::',
      '::1.2.3',
      'fe80::1%eth0',
      '[::1]',
      '10.0.0.1',
    ])
      expect(parseIpv6(bad), bad).toBeUndefined();
  });
});

describe('formatIp (RFC 5952)', () => {
  it('writes the canonical form', () => {
    const v6 = (text: string) => formatIp(parseIpv6(text)!);
    expect(formatIp(new Uint8Array([192, 0, 2, 7]))).toBe('192.0.2.7');
    expect(v6('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(v6('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1'); // §4.2.3: the first of equal runs
    expect(v6('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1'); // §4.2.2: one zero group stays
    expect(v6('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1'); // §4.2.3: the longest run
    expect(v6('::')).toBe('::');
    expect(v6('::1')).toBe('::1');
    expect(v6('1::')).toBe('1::');
  });

  it('round-trips every parsed address and refuses other lengths', () => {
    for (const text of ['::ffff:10.0.0.1', 'fd00::a', '1:2:3:4:5:6:7:8', '0:0:1::'])
      expect(hex(parseIpv6(formatIp(parseIpv6(text)!)))).toBe(hex(parseIpv6(text)));
    expect(() => formatIp(new Uint8Array(5))).toThrow(RangeError);
  });
});
