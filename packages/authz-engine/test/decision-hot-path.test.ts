/**
 * The decision hot path: policies flattened into match programs (long value
 * lists looked up in sets, IPv6 and IPv4-mapped blocks inlined), working
 * memory reused from one decision to the next, shared rule hits. Each case
 * is checked against the plain reference evaluator, which reads the
 * policies as written.
 */
import { describe, expect, it } from 'vitest';
import {
  AuthorizationPolicySet,
  AuthorizationSet,
  type AuthzRequest,
  type Decision,
  explain,
  ipAddressToBytes,
  parseCidr,
  parseIpAddress,
  referenceEvaluatePolicies,
  referenceEvaluateWire,
  type WireAuthorization,
  type WireMatch,
} from '../src/index.js';
import { policy, request, ROOT } from './helpers.js';

const address = (text: string) => {
  const cidr = parseCidr(text);
  return { address: ipAddressToBytes(cidr), length: cidr.prefixLength };
};

function wire(name: string, action: 'ALLOW' | 'DENY', ...matches: WireMatch[]): WireAuthorization {
  return { name, namespace: 'foo', scope: 'NAMESPACE', action, rules: [{ clauses: [{ matches }] }] };
}

function agrees(policies: WireAuthorization[], requests: AuthzRequest[]): void {
  const set = new AuthorizationSet();
  for (const p of policies) set.upsert(p);
  for (const r of requests) {
    const decision = set.evaluate(r);
    const reference = referenceEvaluateWire(policies, r);
    expect({ result: decision.result, reason: decision.reason }).toEqual({
      result: reference.result,
      reason: reference.reason,
    });
    expect('hit' in decision ? decision.hit.policy.key : undefined).toBe(reference.policy);
  }
}

describe('match programs decide as the policies are written', () => {
  it('long port lists (looked up in a set) and short ones (scanned), positive and negated', () => {
    const many = Array.from({ length: 20 }, (_, i) => 9000 + i);
    agrees(
      [
        wire('many', 'ALLOW', { destinationPorts: many }),
        wire('few', 'ALLOW', { destinationPorts: [80, 81] }),
        wire('not-many', 'DENY', { notDestinationPorts: many, principals: [{ exact: 'x/ns/foo/sa/z' }] }),
      ],
      [80, 81, 82, 9000, 9019, 9020, 0, 65535].flatMap((port) => [
        request({ destinationPort: port }),
        request({ destinationPort: port, sourcePrincipal: 'x/ns/foo/sa/z' }),
      ]),
    );
  });

  it('long lists of exact principals (looked up in a set) mixed with prefixes, suffixes and presence', () => {
    const exact = Array.from({ length: 12 }, (_, i) => ({ exact: `cluster.local/ns/foo/sa/s${i}` }));
    agrees(
      [
        wire('exact', 'ALLOW', { principals: [...exact, { prefix: 'cluster.local/ns/bar/' }] }),
        wire('suffix', 'ALLOW', { principals: [{ suffix: '/sa/admin' }] }),
        wire('deny-not', 'DENY', { notPrincipals: [...exact, { presence: {} }], destinationPorts: [81] }),
        wire('ns', 'ALLOW', { namespaces: [...exact.map((_, i) => ({ exact: `n${i}` })), { suffix: 'z' }] }),
      ],
      [
        'cluster.local/ns/foo/sa/s0',
        'cluster.local/ns/foo/sa/s11',
        'cluster.local/ns/foo/sa/s12',
        'spiffe://cluster.local/ns/foo/sa/s3',
        'cluster.local/ns/bar/sa/x',
        'other/ns/x/sa/admin',
        'cluster.local/ns/n7/sa/a',
        'cluster.local/ns/quiz/sa/a',
        'cluster.local/ns/n7/sa/a/b',
        undefined,
      ].flatMap((principal) =>
        [80, 81].map((port) => {
          const { sourcePrincipal: _, ...rest } = request({ destinationPort: port });
          return principal === undefined ? rest : { ...rest, sourcePrincipal: principal };
        }),
      ),
    );
  });

  it('IPv4, IPv6 and IPv4-mapped blocks, source and destination, over several rules and clauses', () => {
    const policies: WireAuthorization[] = [
      {
        name: 'ips',
        namespace: 'foo',
        scope: 'NAMESPACE',
        action: 'ALLOW',
        rules: [
          { clauses: [{ matches: [{ sourceIps: [address('fd00::/16'), address('10.1.0.0/16')] }] }] },
          {
            clauses: [
              { matches: [{ destinationIps: [address('::ffff:192.168.0.0/112')] }] },
              { matches: [{ notSourceIps: [address('2001:db8::1')] }, { destinationPorts: [443] }] },
            ],
          },
        ],
      },
    ];
    const ips = [
      '10.1.2.3',
      '10.2.0.1',
      'fd00::5',
      'fd01::5',
      '::ffff:10.1.0.9',
      '2001:db8::1',
      '192.168.4.4',
    ];
    agrees(
      policies,
      ips.flatMap((source) =>
        ['192.168.1.1', '::ffff:192.168.9.9', '10.0.0.1', 'fd00::1'].flatMap((destination) =>
          [80, 443].map((port) =>
            request({ sourceIp: source, destinationIp: destination, destinationPort: port }),
          ),
        ),
      ),
    );
  });

  it('odd identities: the namespace and service account are only what a five-part SPIFFE path holds', () => {
    const identities = [
      'cluster.local/ns/foo/sa/a',
      'cluster.local/ns//sa/a',
      'cluster.local/ns/foo/sa/',
      'cluster.local/ns/foo/sa/a/b',
      'cluster.local/ns/foo/x/sa/a',
      'a/b/ns/foo/sa/a',
      '/ns/foo/sa/a',
      'ns/foo/sa/a',
      'cluster.local/ns/foo',
      'spiffe://cluster.local/ns/foo/sa/a',
    ];
    agrees(
      [
        wire('by-namespace', 'ALLOW', { namespaces: [{ exact: 'foo' }], destinationPorts: [80] }),
        wire('by-account', 'ALLOW', { serviceAccounts: [{ namespace: 'foo', serviceAccount: 'a' }] }),
        wire('deny-not-ns', 'DENY', { notNamespaces: [{ exact: 'foo' }], destinationPorts: [82] }),
      ],
      identities.flatMap((principal) =>
        [80, 81, 82].map((port) => request({ sourcePrincipal: principal, destinationPort: port })),
      ),
    );
  });

  it('pre-parsed addresses decide as their text does', () => {
    const set = new AuthorizationSet();
    set.upsert(wire('ips', 'ALLOW', { sourceIps: [address('10.1.0.0/16')] }));
    const expected = {
      '10.1.2.3': 'allow-policy-matched',
      '10.2.0.1': 'no-allow-policy-matched',
      '::ffff:10.1.0.1': 'allow-policy-matched',
    };
    for (const [ip, reason] of Object.entries(expected)) {
      const text = set.evaluate(request({ sourceIp: ip }));
      const parsed = set.evaluate(request({ sourceIp: parseIpAddress(ip) }));
      expect(text.reason).toBe(reason);
      expect(parsed.reason).toBe(text.reason);
    }
  });

  it('waypoint policies with long lists decide as the reference', () => {
    const methods = ['GET', 'PUT', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE'];
    const policies = [
      policy('foo', 'a', {
        targetRefs: [{ kind: 'Service', name: 'b' }],
        rules: [
          {
            from: [{ source: { principals: methods.map((m) => `cluster.local/ns/foo/sa/${m}`) } }],
            to: [{ operation: { methods, ports: Array.from({ length: 12 }, (_, i) => String(8070 + i)) } }],
          },
        ],
      }),
    ];
    const set = new AuthorizationPolicySet({ mode: 'waypoint', rootNamespace: ROOT });
    for (const p of policies) set.upsert(p);
    for (const sa of ['GET', 'POST', 'TRACE']) {
      for (const port of [8070, 8081, 8082]) {
        for (const method of ['GET', 'POST']) {
          const r = request({
            sourcePrincipal: `cluster.local/ns/foo/sa/${sa}`,
            destinationPort: port,
            destination: { namespace: 'foo', targetRefs: [{ kind: 'Service', namespace: 'foo', name: 'b' }] },
            http: { method, path: '/' },
          });
          const reference = referenceEvaluatePolicies(policies, r, { mode: 'waypoint', rootNamespace: ROOT });
          expect(set.evaluate(r).reason).toBe(reference.reason);
        }
      }
    }
  });
});

describe('working memory reused between decisions', () => {
  it('a decision keeps its own request and result after later decisions', () => {
    const set = new AuthorizationSet();
    set.upsert(wire('deny-bar', 'DENY', { namespaces: [{ exact: 'bar' }] }));
    const first = set.evaluate(request({ sourcePrincipal: 'cluster.local/ns/bar/sa/a' }));
    const firstRequest = first.request;
    const second = set.evaluate(request());
    expect(first.result).toBe('deny');
    expect(first.request).toBe(firstRequest);
    expect(first.request.sourcePrincipal).toBe('cluster.local/ns/bar/sa/a');
    expect(second.result).toBe('allow');
    expect(explain(first)).toContain('deny-bar');
  });

  it('an invalid request throws and the next decision is unaffected', () => {
    const set = new AuthorizationSet();
    set.upsert(wire('allow-foo', 'ALLOW', { namespaces: [{ exact: 'foo' }] }));
    expect(() => set.evaluate(request({ sourceIp: 'not-an-ip' }))).toThrow(/sourceIp/);
    expect(() => set.evaluate(request({ destinationPort: 70000 }))).toThrow(/destinationPort/);
    expect(set.evaluate(request()).reason).toBe('allow-policy-matched');
    expect(set.evaluate(request({ sourcePrincipal: 'cluster.local/ns/bar/sa/a' })).reason).toBe(
      'no-allow-policy-matched',
    );
  });

  it('a request whose getter evaluates again (re-entry) gets correct decisions from both', () => {
    const set = new AuthorizationSet();
    set.upsert(wire('allow-foo', 'ALLOW', { namespaces: [{ exact: 'foo' }] }));
    let inner: Decision | undefined;
    const outer = {
      ...request(),
      get sourcePrincipal() {
        inner ??= set.evaluate(request({ sourcePrincipal: 'cluster.local/ns/bar/sa/a' }));
        return 'cluster.local/ns/foo/sa/a';
      },
    } as AuthzRequest;
    const decision = set.evaluate(outer);
    expect(decision.reason).toBe('allow-policy-matched');
    expect(inner?.reason).toBe('no-allow-policy-matched');
    expect(inner?.request.sourcePrincipal).toBe('cluster.local/ns/bar/sa/a');
  });

  it('hits are shared per rule, frozen, and a decision serialises to JSON', () => {
    const set = new AuthorizationSet();
    set.upsert(wire('allow-foo', 'ALLOW', { namespaces: [{ exact: 'foo' }] }));
    const a = set.evaluate(request());
    const b = set.evaluate(request({ destinationPort: 81 }));
    if (a.reason !== 'allow-policy-matched' || b.reason !== 'allow-policy-matched') {
      throw new Error('expected ALLOW matches');
    }
    expect(a.hit).toBe(b.hit);
    expect(Object.isFrozen(a.hit)).toBe(true);
    const json = JSON.parse(JSON.stringify(a));
    expect(json.hit).toEqual({
      policy: expect.objectContaining({ key: 'foo/allow-foo', action: 'ALLOW' }),
      ruleIndex: 0,
    });
  });

  it('a removed selector policy no longer applies, a re-added one does', () => {
    const set = new AuthorizationSet();
    const selector: WireAuthorization = {
      ...wire('sel', 'DENY', { destinationPorts: [8080] }),
      scope: 'WORKLOAD_SELECTOR',
    };
    set.upsert(selector);
    const r = request({ destination: { namespace: 'foo', policies: ['foo/sel'] } });
    expect(set.evaluate(r).reason).toBe('deny-policy-matched');
    set.remove('foo/sel');
    expect(set.evaluate(r).reason).toBe('no-allow-policy');
    set.upsert({ ...selector, scope: 'NAMESPACE' });
    // Now a namespace policy: it applies through the namespace, not the workload's list.
    expect(set.evaluate(request({ destination: { namespace: 'bar', policies: ['foo/sel'] } })).reason).toBe(
      'no-allow-policy',
    );
    set.upsert(selector);
    expect(set.evaluate(r).reason).toBe('deny-policy-matched');
  });
});
