import { describe, expect, it } from 'vitest';
import { AuthorizationPolicySet, AuthorizationSet, explain } from '../src/index.js';
import { from, plaintext, policy, request } from './helpers.js';

function workloadSet(...policies: Parameters<AuthorizationPolicySet['upsert']>[0][]) {
  const set = new AuthorizationPolicySet({ mode: 'workload' });
  for (const p of policies) set.upsert(p);
  return set;
}

describe('explain says why, in words', () => {
  it('a DENY match names the policy, the rule, the value and the pattern', () => {
    const set = new AuthorizationSet();
    set.upsert({
      name: 'deny-ns',
      namespace: 'foo',
      scope: 'NAMESPACE',
      action: 'DENY',
      rules: [{ clauses: [{ matches: [{ namespaces: [{ exact: 'bar' }] }] }] }],
    });
    expect(explain(set.evaluate(from('cluster.local/ns/bar/sa/x')))).toBe(
      "denied by DENY policy foo/deny-ns rule 0: source namespace bar matched namespaces[0] 'bar'",
    );
  });

  it('an ALLOW match lists every part of the rule that matched', () => {
    const set = workloadSet(
      policy('foo', 'allow-a', {
        rules: [
          { from: [{ source: { namespaces: ['bar'] } }] },
          {
            from: [
              { source: { namespaces: ['bar'] } },
              { source: { principals: ['*/sa/a'], notIpBlocks: ['192.168.0.0/16'] } },
            ],
            to: [{ operation: { ports: ['8080'] } }],
            when: [{ key: 'destination.ip', values: ['10.0.1.0/24'] }],
          },
        ],
      }),
    );
    expect(explain(set.evaluate(request()))).toBe(
      'allowed by ALLOW policy foo/allow-a rule 1: ' +
        "source IP 10.0.0.1 is not in notIpBlocks ['192.168.0.0/16'], source principal cluster.local/ns/foo/sa/a matched principals[0] '*/sa/a'; " +
        "destination port 8080 matched ports[0] '8080'; destination.ip 10.0.1.1 matched when[0].values[0] '10.0.1.0/24'",
    );
  });

  it('no ALLOW matched: the set lists why each applicable ALLOW policy missed', () => {
    const set = workloadSet(
      policy('foo', 'a-ns', { rules: [{ from: [{ source: { namespaces: ['bar', 'baz'] } }] }] }),
      policy('foo', 'b-none', {}),
      policy('foo', 'c-ports', {
        rules: [{ to: [{ operation: { ports: ['80'] } }] }, { from: [{ source: { principals: ['*'] } }] }],
      }),
    );
    const decision = set.evaluate(plaintext());
    expect(set.explain(decision)).toBe(
      [
        'denied: 3 ALLOW policies apply to the destination and none matched',
        "  ALLOW policy foo/a-ns did not match: rule 0: source namespace (absent) matched none of namespaces ['bar', 'baz']",
        '  ALLOW policy foo/b-none has no rules and never matches',
        "  ALLOW policy foo/c-ports did not match: rule 0: destination port 8080 matched none of ports ['80']; rule 1: source principal (absent) matched none of principals ['*']",
      ].join('\n'),
    );
    expect(explain(decision)).toBe('denied: 3 ALLOW policies apply to the destination and none matched');
  });

  it('no ALLOW policy at all', () => {
    expect(explain(workloadSet().evaluate(request()))).toBe(
      'allowed: no DENY policy matched and no ALLOW policy applies to the destination (namespace foo)',
    );
  });

  it('audit, dry-run and custom lines follow the result', () => {
    const set = new AuthorizationPolicySet({ mode: 'waypoint' });
    const refs = [{ kind: 'Service', name: 'b' }];
    set.upsert(policy('foo', 'audit', { targetRefs: refs, action: 'AUDIT', rules: [{}] }));
    set.upsert(
      policy('foo', 'dry', { targetRefs: refs, action: 'DENY', rules: [{}] }, { 'istio.io/dry-run': 'true' }),
    );
    set.upsert(
      policy('foo', 'ext', { targetRefs: refs, action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] }),
    );
    const req = request({
      destination: { namespace: 'foo', targetRefs: [{ kind: 'Service', namespace: 'foo', name: 'b' }] },
    });
    expect(explain(set.evaluate(req))).toBe(
      [
        "pending: external authorizer 'opa' must decide, asked because of CUSTOM policy foo/ext rule 0: the rule is empty and matches every request",
        'audited by AUDIT policy foo/audit rule 0: the rule is empty and matches every request',
        'dry-run: would be denied by dry-run DENY policy foo/dry rule 0: the rule is empty and matches every request',
      ].join('\n'),
    );
    expect(explain(set.evaluate(req, { custom: { opa: 'allow' } }))).toBe(
      [
        'allowed: no DENY policy matched and no ALLOW policy applies to the destination (namespace foo)',
        "external authorizer 'opa' allowed (CUSTOM policy foo/ext)",
        'audited by AUDIT policy foo/audit rule 0: the rule is empty and matches every request',
        'dry-run: would be denied by dry-run DENY policy foo/dry rule 0: the rule is empty and matches every request',
      ].join('\n'),
    );
  });
});
