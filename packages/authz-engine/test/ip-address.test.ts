import { describe, expect, it } from 'vitest';
import {
  cidrContains,
  cidrFromBytes,
  formatIpAddress,
  ipAddressToBytes,
  parseCidr,
  parseIpAddress,
  tryParseCidr,
  tryParseIpAddress,
} from '../src/index.js';

describe('IP address text (RFC 4291 §2.2, RFC 5952)', () => {
  it.each([
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ])('%s → %s', (text, canonical) => {
    expect(formatIpAddress(parseIpAddress(text))).toBe(canonical);
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '01.2.3.4',
    '1.2.3.4 ',
    'a.b.c.d',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '12345::',
    'fe80::1%eth0',
    '[::1]',
    '1.2.3.4::',
  ])('rejects %j', (text) => {
    expect(tryParseIpAddress(text)).toBeUndefined();
    expect(() => parseIpAddress(text)).toThrow(
      expect.objectContaining({ code: 'AUTHZ_ERR_INVALID_ADDRESS' }),
    );
  });
});

describe('CIDR blocks', () => {
  it('clears host bits and defaults to a full-length prefix', () => {
    expect(parseCidr('10.1.2.3/8').text).toBe('10.0.0.0/8');
    expect(parseCidr('10.1.2.3').text).toBe('10.1.2.3/32');
    expect(parseCidr('2001:db8::1').text).toBe('2001:db8::1/128');
    expect(parseCidr('::ffff:10.0.0.0/104').text).toBe('10.0.0.0/8');
  });

  it.each(['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/08', '::/129', 'x/8'])(
    'rejects %j',
    (text) => {
      expect(tryParseCidr(text)).toBeUndefined();
    },
  );

  it.each([
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['0.0.0.0/0', '1.2.3.4', true],
    ['0.0.0.0/0', '::1', false],
    ['192.168.1.128/25', '192.168.1.200', true],
    ['192.168.1.128/25', '192.168.1.100', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/33', '2001:db8:8000::1', false],
    ['::/0', '2001:db8::1', true],
    ['fd00::1:0/112', 'fd00::1:ffff', true],
    ['fd00::1:0/112', 'fd00::2:0', false],
  ])('%s contains %s: %s', (cidr, ip, inside) => {
    expect(cidrContains(parseCidr(cidr), parseIpAddress(ip))).toBe(inside);
  });

  it('round-trips through wire bytes', () => {
    for (const text of ['10.1.0.0/16', '2001:db8:1::/48', '0.0.0.0/0']) {
      const cidr = parseCidr(text);
      expect(cidrFromBytes(ipAddressToBytes(cidr), cidr.prefixLength).text).toBe(text);
    }
  });

  it('rejects wire addresses of the wrong size or prefix', () => {
    expect(() => cidrFromBytes(new Uint8Array(5), 8)).toThrow(
      expect.objectContaining({ code: 'AUTHZ_ERR_INVALID_ADDRESS' }),
    );
    expect(() => cidrFromBytes(new Uint8Array(4), 33)).toThrow(
      expect.objectContaining({ code: 'AUTHZ_ERR_INVALID_ADDRESS' }),
    );
  });
});
