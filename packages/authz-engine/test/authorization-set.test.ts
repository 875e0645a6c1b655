import { isAmeshError } from '@amesh/errors';
import { describe, expect, it } from 'vitest';
import {
  AuthorizationSet,
  type AuthzError,
  explain,
  parseIpAddress,
  peerAuthenticationToWire,
  type WireAuthorization,
  type WireMatch,
} from '../src/index.js';
import { plaintext, request, summary } from './helpers.js';

function wire(name: string, match: WireMatch, extra: Partial<WireAuthorization> = {}): WireAuthorization {
  return {
    name,
    namespace: 'foo',
    scope: 'NAMESPACE',
    action: 'ALLOW',
    rules: [{ clauses: [{ matches: [match] }] }],
    ...extra,
  };
}

function decide(policies: WireAuthorization[], req = request()) {
  const set = new AuthorizationSet();
  for (const p of policies) set.upsert(p);
  return summary(set.evaluate(req));
}

const allowedBy = (name: string) => ({
  result: 'allow',
  reason: 'allow-policy-matched',
  policy: `foo/${name}`,
  rule: 0,
});
const denied = { result: 'deny', reason: 'no-allow-policy-matched' };

describe('wire form (istio.security.Authorization) evaluation', () => {
  it.each([
    ['exact', { exact: 'foo' }, true],
    ['prefix', { prefix: 'fo' }, true],
    ['suffix', { suffix: 'oo' }, true],
    ['presence', { presence: {} }, true],
    ['exact miss', { exact: 'fo' }, false],
  ])('StringMatch %s on namespaces', (_name, match, allowed) => {
    expect(decide([wire('p', { namespaces: [match as never] })])).toEqual(allowed ? allowedBy('p') : denied);
  });

  it('ServiceAccountMatch', () => {
    expect(decide([wire('p', { serviceAccounts: [{ namespace: 'foo', serviceAccount: 'a' }] })])).toEqual(
      allowedBy('p'),
    );
    expect(decide([wire('p', { notServiceAccounts: [{ namespace: 'foo', serviceAccount: 'a' }] })])).toEqual(
      denied,
    );
  });

  it('IPv6 Address bytes with a prefix length', () => {
    const address = new Uint8Array(16);
    address.set([0xfd, 0x00, 0, 0, 0, 0, 0, 0x01]);
    const p = wire('p', { sourceIps: [{ address, length: 64 }] });
    expect(decide([p], request({ sourceIp: 'fd00:0:0:1::99', destinationIp: 'fd00::1' }))).toEqual(
      allowedBy('p'),
    );
    expect(decide([p], request({ sourceIp: 'fd00:0:0:2::99', destinationIp: 'fd00::1' }))).toEqual(denied);
  });

  it('an Address without length (proto3 default 0) is 0.0.0.0/0', () => {
    const p = wire('p', { notDestinationIps: [{ address: new Uint8Array(4) }] });
    expect(decide([p])).toEqual(denied);
  });

  it('scope and action default to GLOBAL and ALLOW (proto3 zero values)', () => {
    const set = new AuthorizationSet({ rootNamespace: 'mesh-root' });
    set.upsert({ name: 'deny-all-default', namespace: 'mesh-root' });
    expect(summary(set.evaluate(request()))).toEqual(denied);
  });

  it('a GLOBAL policy outside the root namespace applies to its own namespace only', () => {
    const set = new AuthorizationSet();
    set.upsert({ name: 'g', namespace: 'bar', scope: 'GLOBAL', action: 'DENY', rules: [{}] });
    expect(set.evaluate(request()).result).toBe('allow');
    expect(set.evaluate(request({ destination: { namespace: 'bar' } })).result).toBe('deny');
  });

  it('WORKLOAD_SELECTOR policies apply only when the workload lists them', () => {
    const set = new AuthorizationSet();
    set.upsert({ name: 'sel', namespace: 'foo', scope: 'WORKLOAD_SELECTOR', action: 'DENY', rules: [{}] });
    expect(set.evaluate(request()).result).toBe('allow');
    expect(set.evaluate(request({ destination: { namespace: 'foo', policies: ['foo/sel'] } })).result).toBe(
      'deny',
    );
    expect(
      set.evaluate(request({ destination: { namespace: 'foo', policies: ['foo/unknown'] } })).result,
    ).toBe('allow');
  });

  it('appliesTo answers exactly as evaluate selects, for every scope and destination', () => {
    const policies: WireAuthorization[] = [
      { name: 'mesh', namespace: 'istio-system', scope: 'GLOBAL' },
      { name: 'g', namespace: 'bar', scope: 'GLOBAL' },
      { name: 'g0', namespace: 'bar' },
      { name: 'ns', namespace: 'foo', scope: 'NAMESPACE' },
      { name: 'sel', namespace: 'foo', scope: 'WORKLOAD_SELECTOR' },
    ].map((p) => ({ ...p, action: 'DENY', rules: [{}] }) as WireAuthorization);
    const destinations = [
      { namespace: 'foo' },
      { namespace: 'bar' },
      { namespace: 'istio-system' },
      { namespace: 'foo', policies: ['foo/sel'] },
      { namespace: 'bar', policies: ['foo/sel', 'bar/g'] },
      { namespace: 'foo', policies: ['bar/sel'] },
    ];
    let applied = 0;
    for (const policy of policies) {
      const set = new AuthorizationSet();
      set.upsert(policy);
      for (const destination of destinations) {
        const denies = set.evaluate(request({ destination })).result === 'deny';
        expect(
          set.appliesTo(policy, destination),
          `${policy.namespace}/${policy.name} at ${JSON.stringify(destination)}`,
        ).toBe(denies);
        if (denies) applied++;
      }
    }
    expect(applied).toBeGreaterThan(5);
    // A scope this version does not know: applies (re-check rather than miss a denial).
    const future = { name: 'f', namespace: 'foo', scope: 'MESH_WIDE' } as unknown as WireAuthorization;
    expect(new AuthorizationSet().appliesTo(future, { namespace: 'baz' })).toBe(true);
  });

  it('a rule without clauses matches; a clause without matches matches', () => {
    expect(decide([{ name: 'r', namespace: 'foo', scope: 'NAMESPACE', rules: [{ clauses: [{}] }] }])).toEqual(
      allowedBy('r'),
    );
  });

  it('a PeerAuthentication STRICT conversion rejects plaintext only', () => {
    const result = peerAuthenticationToWire({
      metadata: { name: 'default', namespace: 'foo' },
      spec: { mtls: { mode: 'STRICT' } },
    });
    if (result.status !== 'converted') throw new Error(result.status);
    const set = new AuthorizationSet();
    set.upsert(result.authorization);
    expect(set.evaluate(plaintext()).result).toBe('deny');
    expect(set.evaluate(request()).result).toBe('allow');
    expect(explain(set.evaluate(plaintext()))).toBe(
      "denied by DENY policy foo/converted_peer_authentication_default rule 0: source principal (absent) is not in notPrincipals ['*']",
    );
  });

  it('rejects a malformed policy with every issue and keeps the previous version', () => {
    const set = new AuthorizationSet();
    set.upsert(wire('p', { namespaces: [{ exact: 'foo' }] }));
    let thrown: unknown;
    try {
      set.upsert({
        name: 'p',
        namespace: 'foo',
        scope: 'CLUSTER' as never,
        rules: [
          {
            clauses: [
              {
                matches: [
                  {
                    namespaces: [{} as never, { exact: 'a', prefix: 'b' } as never],
                    sourceIps: [
                      { address: new Uint8Array(5), length: 8 },
                      { address: new Uint8Array(4), length: 33 },
                    ],
                    destinationPorts: [70000],
                    serviceAccounts: [{ namespace: '', serviceAccount: 'x' }],
                  },
                ],
              },
            ],
          },
        ],
      });
    } catch (error) {
      thrown = error;
    }
    expect(isAmeshError(thrown, 'AUTHZ_ERR_INVALID_POLICY')).toBe(true);
    expect((thrown as AuthzError).issues.map((i) => i.path)).toEqual([
      'scope',
      'rules[0].clauses[0].matches[0].namespaces[0]',
      'rules[0].clauses[0].matches[0].namespaces[1]',
      'rules[0].clauses[0].matches[0].sourceIps[0]',
      'rules[0].clauses[0].matches[0].sourceIps[1]',
      'rules[0].clauses[0].matches[0].destinationPorts[0]',
      'rules[0].clauses[0].matches[0].serviceAccounts[0]',
    ]);
    expect(summary(set.evaluate(request()))).toEqual(allowedBy('p'));
  });

  it('rejects a bad request with a typed error', () => {
    const set = new AuthorizationSet();
    expect(() => set.evaluate(request({ sourceIp: '10.0.0.256' }))).toThrow(
      expect.objectContaining({ code: 'AUTHZ_ERR_INVALID_REQUEST' }),
    );
    expect(() => set.evaluate(request({ destinationPort: 70000 }))).toThrow(
      expect.objectContaining({ code: 'AUTHZ_ERR_INVALID_REQUEST' }),
    );
  });

  it('accepts pre-parsed addresses', () => {
    const p = wire('p', { sourceIps: [{ address: new Uint8Array([10, 0, 0, 0]), length: 8 }] });
    expect(decide([p], request({ sourceIp: parseIpAddress('10.2.3.4') }))).toEqual(allowedBy('p'));
  });
});

describe('source-namespace index keeps exact semantics', () => {
  it.each([
    [
      'a prefix ending inside the namespace',
      { principals: [{ prefix: 'cluster.local/ns/foo' }] },
      'cluster.local/ns/foobar/sa/a',
      true,
    ],
    [
      'a prefix spanning the namespace',
      { principals: [{ prefix: 'cluster.local/ns/foo/' }] },
      'cluster.local/ns/foobar/sa/a',
      false,
    ],
    [
      'an exact principal with extra path parts',
      { principals: [{ exact: 'cluster.local/ns/foo/x/sa/a' }] },
      'cluster.local/ns/foo/x/sa/a',
      true,
    ],
    [
      'a namespace against a malformed identity',
      { namespaces: [{ exact: 'foo' }] },
      'cluster.local/ns/foo/x/sa/a',
      false,
    ],
    [
      'a namespace of another trust domain',
      { namespaces: [{ exact: 'foo' }] },
      'example.org/ns/foo/sa/a',
      true,
    ],
    [
      'a service account',
      { serviceAccounts: [{ namespace: 'foo', serviceAccount: 'a' }] },
      'td/ns/foo/sa/a',
      true,
    ],
  ])('%s', (_name, match, principal, allowed) => {
    const set = new AuthorizationSet();
    set.upsert(wire('p', match as WireMatch));
    set.upsert(wire('q', { namespaces: [{ exact: 'other' }] }));
    expect(set.evaluate(request({ sourcePrincipal: principal })).result).toBe(allowed ? 'allow' : 'deny');
  });
});

describe('incremental updates (xDS deltas)', () => {
  it('upsert replaces by namespace/name, remove deletes, other policies are untouched', () => {
    const set = new AuthorizationSet();
    set.upsert(wire('a', { namespaces: [{ exact: 'bar' }] }));
    set.upsert(wire('b', { destinationPorts: [8080] }));
    expect(set.size).toBe(2);
    expect(summary(set.evaluate(request()))).toEqual(allowedBy('b'));
    set.upsert(wire('b', { destinationPorts: [9090] }));
    expect(set.size).toBe(2);
    expect(summary(set.evaluate(request()))).toEqual(denied);
    expect(summary(set.evaluate(request({ destinationPort: 9090 })))).toEqual(allowedBy('b'));
    set.upsert(wire('a', { namespaces: [{ exact: 'foo' }] }, { action: 'DENY' }));
    expect(summary(set.evaluate(request()))).toEqual({
      result: 'deny',
      reason: 'deny-policy-matched',
      policy: 'foo/a',
      rule: 0,
    });
    expect(set.remove('foo/a')).toBe(true);
    expect(set.remove('foo/a')).toBe(false);
    expect(set.has('foo/b')).toBe(true);
    expect(set.remove('foo/b')).toBe(true);
    expect(set.size).toBe(0);
    expect(summary(set.evaluate(request()))).toEqual({ result: 'allow', reason: 'no-allow-policy' });
  });

  it('a policy moving between scopes is re-indexed', () => {
    const set = new AuthorizationSet();
    set.upsert({ name: 'x', namespace: 'foo', scope: 'NAMESPACE', action: 'DENY', rules: [{}] });
    expect(set.evaluate(request()).result).toBe('deny');
    set.upsert({ name: 'x', namespace: 'foo', scope: 'WORKLOAD_SELECTOR', action: 'DENY', rules: [{}] });
    expect(set.evaluate(request()).result).toBe('allow');
    expect(set.policies().map((p) => p.key)).toEqual(['foo/x']);
  });
});
