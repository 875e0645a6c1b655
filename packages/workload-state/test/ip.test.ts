import { describe, expect, it } from 'vitest';
import { formatIp, ipKey, parseIp } from '../src/index.js';

describe('IP helpers', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['::1', '::1'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:0db8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['fe80::1%eth0', 'fe80::1'],
    ['[fd00::5]', 'fd00::5'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['64:ff9b::10.1.2.3', '64:ff9b::a01:203'],
  ])('parses %s and formats it canonically as %s', (input, canonical) => {
    expect(formatIp(parseIp(input)!)).toBe(canonical);
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.256',
    '01.2.3.4',
    '1::2::3',
    '12345::',
    'a:b:c:d:e:f:1:2:3',
    'example.com',
    ':1',
    '1:2:3:4:5:6:7',
  ])('rejects %j', (input) => {
    expect(parseIp(input)).toBeUndefined();
  });

  it('keys addresses by network and canonical form', () => {
    expect(ipKey('net1', '::ffff:10.0.0.1')).toBe('net1/10.0.0.1');
    expect(ipKey('', new Uint8Array([10, 0, 0, 1]))).toBe('/10.0.0.1');
    expect(() => formatIp(new Uint8Array(5))).toThrow(RangeError);
  });
});
