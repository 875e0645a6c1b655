import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isAmeshError } from '@amesh/errors';
import { renderPodRules, renderPodRulesRemoval, resolvePodRuleOptions } from '../src/index.js';

const golden = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('in-pod nftables rules (protocol-facts "Redirection (in-pod mode)")', () => {
  it('renders the default ruleset (IPv4 + IPv6 in one inet table, no DNS capture)', () => {
    expect(renderPodRules()).toBe(golden('pod-rules-default.nft'));
  });

  it('renders DNS capture: UDP 53 not on lo and TCP 53 not to loopback go to 15053', () => {
    expect(renderPodRules({ dnsCapture: true })).toBe(golden('pod-rules-dns.nft'));
  });

  it('renders custom ports, mark, probe sources and table name', () => {
    expect(
      renderPodRules({
        table: 'mesh2',
        ports: { outbound: 25001, inbound: 25006, hbone: 25008, dns: 25053 },
        mark: 0x42,
        markMask: 0xff,
        probeSourceIPv4: '169.254.1.1',
        probeSourceIPv6: 'fd00::1',
        dnsCapture: true,
      }),
    ).toBe(golden('pod-rules-custom.nft'));
  });

  it('starts with create-then-delete so applying twice is idempotent and atomic', () => {
    const lines = renderPodRules().split('\n');
    expect(lines.slice(1, 3)).toEqual(['table inet amesh', 'delete table inet amesh']);
    expect(renderPodRulesRemoval()).toBe('table inet amesh\ndelete table inet amesh\n');
  });

  it('never redirects marked packets: the mark check is the first rule of both chains', () => {
    const text = renderPodRules({ dnsCapture: true });
    for (const chain of ['prerouting', 'output']) {
      const body = text
        .split(`chain ${chain} {`)[1]!
        .split('\n')
        .map((l) => l.trim());
      expect(body[2]).toBe('meta mark & 0x00000fff == 0x00000539 return');
    }
  });

  it('lets HBONE (15008) and probe sources in before the inbound redirect', () => {
    const prerouting = renderPodRules().split('chain output')[0]!;
    const hbone = prerouting.indexOf('tcp dport 15008 return');
    const probe = prerouting.indexOf('ip saddr 169.254.7.127 return');
    const redirect = prerouting.indexOf('redirect to :15006');
    expect(hbone).toBeGreaterThan(0);
    expect(probe).toBeGreaterThan(0);
    expect(redirect).toBeGreaterThan(Math.max(hbone, probe));
  });

  it('resolves Istio defaults', () => {
    expect(resolvePodRuleOptions()).toEqual({
      table: 'amesh',
      dnsCapture: false,
      ports: { outbound: 15001, inbound: 15006, hbone: 15008, dns: 15053 },
      mark: 0x539,
      markMask: 0xfff,
      probeSourceIPv4: '169.254.7.127',
      probeSourceIPv6: 'fd16:9254:7127:1337:ffff:ffff:ffff:ffff',
    });
  });

  it.each([
    [{ table: 'bad name' }, /table name/],
    [{ table: '1abc' }, /table name/],
    [{ ports: { outbound: 0 } }, /port outbound/],
    [{ ports: { inbound: 65536 } }, /port inbound/],
    [{ ports: { inbound: 15001 } }, /four different ports/],
    [{ mark: 0 }, /mark must be/],
    [{ mark: 0x1539 }, /outside markMask/],
    [{ markMask: 2 ** 32 }, /markMask must be/],
    [{ probeSourceIPv4: '169.254.7.256' }, /not IPv4/],
    [{ probeSourceIPv4: '::1' }, /not IPv4/],
    [{ probeSourceIPv6: '1.2.3.4' }, /not IPv6/],
    [{ probeSourceIPv6: '1::2::3' }, /not IPv6/],
    [{ probeSourceIPv6: 'fd00:1:2:3:4:5:6:7:8' }, /not IPv6/],
  ])('rejects invalid options %j with CNI_ERR_INVALID_RULE_OPTIONS', (options, message) => {
    let caught: unknown;
    try {
      renderPodRules(options);
    } catch (error) {
      caught = error;
    }
    expect(isAmeshError(caught, 'CNI_ERR_INVALID_RULE_OPTIONS')).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });

  it('never lets an option inject nft syntax', () => {
    expect(() => renderPodRulesRemoval({ table: 'x; flush ruleset' })).toThrow(/table name/);
    expect(() => renderPodRules({ probeSourceIPv4: '1.2.3.4 accept' })).toThrow(/not IPv4/);
  });
});
