/**
 * Conformance of L4 authorization to Istio's documented semantics
 * (istio.io AuthorizationPolicy reference; protocol-facts.md "Authorization
 * semantics"). Every row is evaluated twice: at ztunnel (converted to the
 * wire form, AuthorizationSet) and at a workload (user-facing form,
 * AuthorizationPolicySet): with L4-only policies both must agree.
 */
import { describe, expect, it } from 'vitest';
import type { AuthorizationPolicy, AuthzRequest } from '../src/index.js';
import { atWorkload, atZtunnel, from, plaintext, policy, request, type Summary, summary } from './helpers.js';

interface Row {
  name: string;
  policies: AuthorizationPolicy[];
  request: AuthzRequest;
  expect: Summary;
}

const BAR = 'cluster.local/ns/bar/sa/x';
const allowAll = policy('foo', 'allow-all', { rules: [{}] });

const rows: Row[] = [
  // --- empty rules and empty matches ---
  {
    name: 'no policy: allowed',
    policies: [],
    request: request(),
    expect: { result: 'allow', reason: 'no-allow-policy' },
  },
  {
    name: 'ALLOW without rules never matches: denies everything it selects',
    policies: [policy('foo', 'deny-all', {})],
    request: request(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'ALLOW with one empty rule matches everything',
    policies: [allowAll],
    request: plaintext(),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/allow-all', rule: 0 },
  },
  {
    name: 'DENY with one empty rule denies everything',
    policies: [policy('foo', 'deny-everything', { action: 'DENY', rules: [{}] })],
    request: request(),
    expect: { result: 'deny', reason: 'deny-policy-matched', policy: 'foo/deny-everything', rule: 0 },
  },
  {
    name: 'DENY without rules never matches',
    policies: [policy('foo', 'deny-nothing', { action: 'DENY' })],
    request: request(),
    expect: { result: 'allow', reason: 'no-allow-policy' },
  },
  {
    name: 'DENY wins over a matching ALLOW',
    policies: [
      allowAll,
      policy('foo', 'deny-bar', { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['bar'] } }] }] }),
    ],
    request: from(BAR),
    expect: { result: 'deny', reason: 'deny-policy-matched', policy: 'foo/deny-bar', rule: 0 },
  },
  {
    name: 'a DENY that does not match leaves the ALLOW in charge',
    policies: [
      allowAll,
      policy('foo', 'deny-bar', { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['bar'] } }] }] }),
    ],
    request: request(),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/allow-all', rule: 0 },
  },
  // --- string matching: exact, prefix, suffix, presence ---
  ...(
    [
      ['exact principal', 'cluster.local/ns/foo/sa/a', true],
      ['exact principal written with spiffe://', 'spiffe://cluster.local/ns/foo/sa/a', true],
      ['exact principal of another account', 'cluster.local/ns/foo/sa/z', false],
      ['prefix principal', 'cluster.local/ns/foo/*', true],
      ['prefix principal of another namespace', 'cluster.local/ns/bar/*', false],
      ['suffix principal', '*/sa/a', true],
      ['suffix principal of another account', '*/sa/b', false],
      ['presence principal', '*', true],
    ] as const
  ).map(
    ([name, value, allowed]): Row => ({
      name: `ALLOW ${name} (${value})`,
      policies: [policy('foo', 'p', { rules: [{ from: [{ source: { principals: [value] } }] }] })],
      request: request(),
      expect: allowed
        ? { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/p', rule: 0 }
        : { result: 'deny', reason: 'no-allow-policy-matched' },
    }),
  ),
  {
    name: 'presence principal does not match plaintext',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { principals: ['*'] } }] }] })],
    request: plaintext(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'namespace prefix and suffix',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { namespaces: ['prod-*', '*-team'] } }] }] })],
    request: from('cluster.local/ns/blue-team/sa/x'),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/p', rule: 0 },
  },
  // --- every not field ---
  {
    name: 'notPrincipals: ["*"] in a DENY rejects plaintext (the STRICT equivalent)',
    policies: [
      policy('foo', 'require-mtls', {
        action: 'DENY',
        rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }],
      }),
    ],
    request: plaintext(),
    expect: { result: 'deny', reason: 'deny-policy-matched', policy: 'foo/require-mtls', rule: 0 },
  },
  {
    name: 'notPrincipals: ["*"] in a DENY lets mTLS through',
    policies: [
      policy('foo', 'require-mtls', {
        action: 'DENY',
        rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }],
      }),
    ],
    request: request(),
    expect: { result: 'allow', reason: 'no-allow-policy' },
  },
  {
    name: 'notNamespaces: a listed namespace does not match',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { notNamespaces: ['bar'] } }] }] })],
    request: from(BAR),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'notNamespaces: plaintext has no namespace, so it is not excluded',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { notNamespaces: ['bar'] } }] }] })],
    request: plaintext(),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/p', rule: 0 },
  },
  {
    name: 'notIpBlocks excludes a block',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { notIpBlocks: ['10.0.0.0/24'] } }] }] })],
    request: request(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'notPorts excludes a port',
    policies: [policy('foo', 'p', { rules: [{ to: [{ operation: { notPorts: ['8080'] } }] }] })],
    request: request(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'notServiceAccounts excludes an account',
    policies: [
      policy('foo', 'p', {
        action: 'DENY',
        rules: [{ from: [{ source: { notServiceAccounts: ['foo/a'] } }] }],
      }),
    ],
    request: from('cluster.local/ns/foo/sa/b'),
    expect: { result: 'deny', reason: 'deny-policy-matched', policy: 'foo/p', rule: 0 },
  },
  {
    name: 'serviceAccounts matches <namespace>/<account>',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { serviceAccounts: ['foo/a'] } }] }] })],
    request: request(),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/p', rule: 0 },
  },
  {
    name: 'when notValues on source.namespace',
    policies: [policy('foo', 'p', { rules: [{ when: [{ key: 'source.namespace', notValues: ['foo'] }] }] })],
    request: request(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'when notValues on destination.ip',
    policies: [
      policy('foo', 'p', {
        action: 'DENY',
        rules: [{ when: [{ key: 'destination.ip', notValues: ['10.0.1.0/24'] }] }],
      }),
    ],
    request: request({ destinationIp: '10.0.2.1' }),
    expect: { result: 'deny', reason: 'deny-policy-matched', policy: 'foo/p', rule: 0 },
  },
  // --- IP blocks, IPv4 and IPv6 ---
  {
    name: 'ipBlocks CIDR contains the source',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/24'] } }] }] })],
    request: request(),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/p', rule: 0 },
  },
  {
    name: 'ipBlocks single address (a /32)',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { ipBlocks: ['10.0.0.2'] } }] }] })],
    request: request(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'IPv6 block contains an IPv6 source',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { ipBlocks: ['2001:db8:a::/48'] } }] }] })],
    request: request({ sourceIp: '2001:db8:a:1::7', destinationIp: '2001:db8:b::1' }),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/p', rule: 0 },
  },
  {
    name: 'IPv6 block does not contain a neighbour',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { ipBlocks: ['2001:db8:a::/48'] } }] }] })],
    request: request({ sourceIp: '2001:db8:b::7', destinationIp: '2001:db8:b::1' }),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'IPv6 block never contains an IPv4 source',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { ipBlocks: ['::/0'] } }] }] })],
    request: request(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'an IPv4-mapped IPv6 source matches its IPv4 block',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/8'] } }] }] })],
    request: request({ sourceIp: '::ffff:10.0.0.1' }),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/p', rule: 0 },
  },
  {
    name: 'when destination.ip with an IPv6 block in a DENY',
    policies: [
      policy('foo', 'p', {
        action: 'DENY',
        rules: [{ when: [{ key: 'destination.ip', values: ['fd00::/8'] }] }],
      }),
    ],
    request: request({ sourceIp: 'fd00::1', destinationIp: 'fd00::2' }),
    expect: { result: 'deny', reason: 'deny-policy-matched', policy: 'foo/p', rule: 0 },
  },
  // --- ports ---
  {
    name: 'ports: the port listed',
    policies: [policy('foo', 'p', { rules: [{ to: [{ operation: { ports: ['80', '8080'] } }] }] })],
    request: request(),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/p', rule: 0 },
  },
  {
    name: 'ports: another port is not allowed, yet the ALLOW policy applies',
    policies: [policy('foo', 'p', { rules: [{ to: [{ operation: { ports: ['80'] } }] }] })],
    request: request(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'when destination.port',
    policies: [
      policy('foo', 'p', {
        action: 'DENY',
        rules: [{ when: [{ key: 'destination.port', values: ['8080'] }] }],
      }),
    ],
    request: request(),
    expect: { result: 'deny', reason: 'deny-policy-matched', policy: 'foo/p', rule: 0 },
  },
  // --- combining ---
  {
    name: 'rules are OR-ed: the second rule decides',
    policies: [
      policy('foo', 'p', {
        rules: [
          { from: [{ source: { namespaces: ['bar'] } }] },
          { from: [{ source: { namespaces: ['foo'] } }] },
        ],
      }),
    ],
    request: request(),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/p', rule: 1 },
  },
  {
    name: 'fields of one source are AND-ed',
    policies: [
      policy('foo', 'p', {
        rules: [{ from: [{ source: { namespaces: ['foo'], ipBlocks: ['192.168.0.0/16'] } }] }],
      }),
    ],
    request: request(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'sources of one rule are OR-ed',
    policies: [
      policy('foo', 'p', {
        rules: [{ from: [{ source: { namespaces: ['bar'] } }, { source: { ipBlocks: ['10.0.0.0/8'] } }] }],
      }),
    ],
    request: request(),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/p', rule: 0 },
  },
  {
    name: 'from, to and when of one rule are AND-ed',
    policies: [
      policy('foo', 'p', {
        rules: [
          {
            from: [{ source: { namespaces: ['foo'] } }],
            to: [{ operation: { ports: ['8080'] } }],
            when: [{ key: 'source.ip', values: ['10.9.0.0/16'] }],
          },
        ],
      }),
    ],
    request: request(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'several when conditions are AND-ed and each passes',
    policies: [
      policy('foo', 'p', {
        rules: [
          {
            when: [
              { key: 'source.principal', values: ['cluster.local/ns/foo/*'] },
              { key: 'source.ip', values: ['10.0.0.0/16'] },
            ],
          },
        ],
      }),
    ],
    request: request(),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/p', rule: 0 },
  },
  // --- several policies of each action ---
  {
    name: 'several ALLOW policies: one matching is enough',
    policies: [
      policy('foo', 'a-bar', { rules: [{ from: [{ source: { namespaces: ['bar'] } }] }] }),
      policy('foo', 'b-foo', { rules: [{ from: [{ source: { namespaces: ['foo'] } }] }] }),
    ],
    request: request(),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/b-foo', rule: 0 },
  },
  {
    name: 'several ALLOW policies, none matching: denied',
    policies: [
      policy('foo', 'a-bar', { rules: [{ from: [{ source: { namespaces: ['bar'] } }] }] }),
      policy('foo', 'b-baz', { rules: [{ from: [{ source: { namespaces: ['baz'] } }] }] }),
    ],
    request: request(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'several matching DENY policies: the first by namespace/name is reported',
    policies: [
      policy('foo', 'z-deny', { action: 'DENY', rules: [{}] }),
      policy('foo', 'a-deny', { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['foo'] } }] }] }),
      policy('istio-system', 'mesh-deny', {
        action: 'DENY',
        rules: [{ to: [{ operation: { ports: ['8080'] } }] }],
      }),
    ],
    request: request(),
    expect: { result: 'deny', reason: 'deny-policy-matched', policy: 'foo/a-deny', rule: 0 },
  },
  // --- scope: selector, namespace, mesh-wide ---
  {
    name: 'a selector policy applies to a workload with the labels',
    policies: [policy('foo', 'only-b', { selector: { matchLabels: { app: 'b' } } })],
    request: request(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'a selector policy does not apply to a workload without the labels',
    policies: [policy('foo', 'only-c', { selector: { matchLabels: { app: 'c' } } })],
    request: request(),
    expect: { result: 'allow', reason: 'no-allow-policy' },
  },
  {
    name: 'a namespace policy does not apply to another namespace',
    policies: [policy('bar', 'deny-all', {})],
    request: request(),
    expect: { result: 'allow', reason: 'no-allow-policy' },
  },
  {
    name: 'a root-namespace policy applies mesh-wide',
    policies: [
      policy('istio-system', 'mesh-deny-bar', {
        action: 'DENY',
        rules: [{ from: [{ source: { namespaces: ['bar'] } }] }],
      }),
    ],
    request: from(BAR),
    expect: { result: 'deny', reason: 'deny-policy-matched', policy: 'istio-system/mesh-deny-bar', rule: 0 },
  },
  {
    name: 'a root-namespace selector policy applies to matching workloads of every namespace',
    policies: [
      policy('istio-system', 'all-b', {
        selector: { matchLabels: { app: 'b' } },
        action: 'DENY',
        rules: [{}],
      }),
    ],
    request: request(),
    expect: { result: 'deny', reason: 'deny-policy-matched', policy: 'istio-system/all-b', rule: 0 },
  },
  {
    name: 'mesh-wide ALLOW and a namespace DENY combine',
    policies: [
      policy('istio-system', 'mesh-allow-foo', { rules: [{ from: [{ source: { namespaces: ['foo'] } }] }] }),
      policy('foo', 'deny-port', { action: 'DENY', rules: [{ to: [{ operation: { ports: ['9090'] } }] }] }),
    ],
    request: request(),
    expect: {
      result: 'allow',
      reason: 'allow-policy-matched',
      policy: 'istio-system/mesh-allow-foo',
      rule: 0,
    },
  },
  // --- plaintext ---
  {
    name: 'plaintext: a namespace ALLOW cannot match',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { namespaces: ['foo'] } }] }] })],
    request: plaintext(),
    expect: { result: 'deny', reason: 'no-allow-policy-matched' },
  },
  {
    name: 'plaintext: an IP-based ALLOW still matches',
    policies: [policy('foo', 'p', { rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/8'] } }] }] })],
    request: plaintext(),
    expect: { result: 'allow', reason: 'allow-policy-matched', policy: 'foo/p', rule: 0 },
  },
  // --- dry-run ---
  {
    name: 'a dry-run DENY is not enforced',
    policies: [policy('foo', 'dry-deny', { action: 'DENY', rules: [{}] }, { 'istio.io/dry-run': 'true' })],
    request: request(),
    expect: { result: 'allow', reason: 'no-allow-policy' },
  },
  {
    name: 'a dry-run ALLOW does not make the workload deny-by-default',
    policies: [
      policy(
        'foo',
        'dry-allow',
        { rules: [{ from: [{ source: { namespaces: ['bar'] } }] }] },
        { 'istio.io/dry-run': 'true' },
      ),
    ],
    request: request(),
    expect: { result: 'allow', reason: 'no-allow-policy' },
  },
  {
    name: 'dry-run "false" is enforced',
    policies: [policy('foo', 'deny', { action: 'DENY', rules: [{}] }, { 'istio.io/dry-run': 'false' })],
    request: request(),
    expect: { result: 'deny', reason: 'deny-policy-matched', policy: 'foo/deny', rule: 0 },
  },
];

describe('L4 authorization conformance (Istio semantics)', () => {
  for (const row of rows) {
    it(`ztunnel: ${row.name}`, () => {
      expect(summary(atZtunnel(row.policies, row.request))).toEqual(row.expect);
    });
    it(`workload: ${row.name}`, () => {
      expect(summary(atWorkload(row.policies, row.request))).toEqual(row.expect);
    });
  }

  it('dry-run results are reported beside the enforced result', () => {
    const policies = [
      policy(
        'foo',
        'dry-deny',
        { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['foo'] } }] }] },
        { 'istio.io/dry-run': 'true' },
      ),
      policy(
        'foo',
        'dry-allow',
        { rules: [{ from: [{ source: { namespaces: ['bar'] } }] }] },
        { 'istio.io/dry-run': 'true' },
      ),
    ];
    for (const decision of [atZtunnel(policies, request()), atWorkload(policies, request())]) {
      expect(decision.result).toBe('allow');
      expect(decision.dryRun?.deny?.result).toBe('denied');
      expect(decision.dryRun?.deny?.hit?.policy.key).toBe('foo/dry-deny');
      expect(decision.dryRun?.allow).toEqual({ result: 'denied' });
    }
  });

  it('no dry-run result when no dry-run policy applies', () => {
    expect(atZtunnel([allowAll], request()).dryRun).toBeUndefined();
  });
});
