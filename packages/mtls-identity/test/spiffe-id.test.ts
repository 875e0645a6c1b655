import { describe, expect, it } from 'vitest';
import { formatSpiffeId, IdentityError, isSpiffeId, parseSpiffeId, spiffeId } from '../src/index.js';

function ruleOf(input: string): string | undefined {
  try {
    parseSpiffeId(input);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(IdentityError);
    expect((error as IdentityError).code).toBe('IDENTITY_ERR_SPIFFE_ID_INVALID');
    return (error as IdentityError).rule;
  }
}

describe('SPIFFE ID (SPIFFE ID spec §2, Istio ns/sa shape)', () => {
  it('parses the Istio form into parts', () => {
    const id = parseSpiffeId('spiffe://cluster.local/ns/default/sa/web-1_x.y');
    expect(id).toEqual({
      trustDomain: 'cluster.local',
      namespace: 'default',
      serviceAccount: 'web-1_x.y',
      uri: 'spiffe://cluster.local/ns/default/sa/web-1_x.y',
    });
    expect(formatSpiffeId(id)).toBe(id.uri);
    expect(spiffeId('td', 'ns1', 'sa1').uri).toBe('spiffe://td/ns/ns1/sa/sa1');
    expect(isSpiffeId(id.uri)).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['SPIFFE://cluster.local/ns/a/sa/b', 'scheme'],
    ['https://cluster.local/ns/a/sa/b', 'scheme'],
    ['spiffe:/cluster.local/ns/a/sa/b', 'scheme'],
    ['spiffe://Cluster.local/ns/a/sa/b', 'trust-domain-chars'],
    ['spiffe://clu$ter/ns/a/sa/b', 'trust-domain-chars'],
    ['spiffe:///ns/a/sa/b', 'trust-domain-empty'],
    [`spiffe://${'a'.repeat(256)}/ns/a/sa/b`, 'trust-domain-too-long'],
    ['spiffe://cluster.local:8080/ns/a/sa/b', 'port'],
    ['spiffe://user@cluster.local/ns/a/sa/b', 'userinfo'],
    ['spiffe://cluster.local/ns/a/sa/b?x=1', 'query'],
    ['spiffe://cluster.local/ns/a/sa/b#frag', 'fragment'],
    ['spiffe://cluster.local/ns//sa/b', 'path-empty-segment'],
    ['spiffe://cluster.local/ns/./sa/b', 'path-dot-segment'],
    ['spiffe://cluster.local/ns/../sa/b', 'path-dot-segment'],
    ['spiffe://cluster.local/ns/a%20b/sa/b', 'path-chars'],
    ['spiffe://cluster.local/ns/a/sa/b/', 'trailing-slash'],
    ['spiffe://cluster.local/', 'trailing-slash'],
    ['spiffe://cluster.local', 'istio-shape'],
    ['spiffe://cluster.local/ns/a/sa', 'istio-shape'],
    ['spiffe://cluster.local/ns/a/sa/b/c', 'istio-shape'],
    ['spiffe://cluster.local/namespace/a/sa/b', 'istio-shape'],
    [`spiffe://td/ns/${'a'.repeat(2040)}/sa/b`, 'too-long'],
  ])('rejects %j with rule %s', (input, rule) => {
    expect(ruleOf(input)).toBe(rule);
  });

  it('validates parts given separately', () => {
    expect(() => spiffeId('cluster.local', 'a/b', 'c')).toThrow(/may only hold/);
    expect(() => spiffeId('UPPER', 'a', 'b')).toThrow(IdentityError);
    expect(isSpiffeId('nope')).toBe(false);
  });
});
