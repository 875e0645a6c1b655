import { isAmeshError } from '@amesh/errors';
import { describe, expect, it } from 'vitest';
import { type AuthzError, compileAuthorizationPolicy, validateAuthorizationPolicy } from '../src/index.js';
import { policy } from './helpers.js';

describe('validateAuthorizationPolicy reports every error at once, with paths', () => {
  const bad = policy('foo', 'bad', {
    rules: [
      {
        from: [{ source: { ipBlocks: ['10.0.0.0/33', '10.0.0.1'], principals: ['clu*ster'] } }],
        to: [{ operation: { ports: ['http'] } }],
        when: [
          { key: 'source.unknown', values: ['x'] },
          { key: 'source.ip', values: [] },
          { key: 'destination.ip', values: ['not-an-ip'] },
        ],
      },
      { from: [] },
    ],
  });

  it('finds all problems', () => {
    const result = validateAuthorizationPolicy(bad);
    expect(result.valid).toBe(false);
    expect(result.errors.map((e) => [e.path, e.code])).toEqual([
      ['spec.rules[0].from[0].source.principals[0]', 'AUTHZ_ERR_INVALID_WILDCARD'],
      ['spec.rules[0].from[0].source.ipBlocks[0]', 'AUTHZ_ERR_INVALID_CIDR'],
      ['spec.rules[0].to[0].operation.ports[0]', 'AUTHZ_ERR_INVALID_PORT'],
      ['spec.rules[0].when[0].key', 'AUTHZ_ERR_UNKNOWN_CONDITION_KEY'],
      ['spec.rules[0].when[1]', 'AUTHZ_ERR_EMPTY_VALUES'],
      ['spec.rules[0].when[2].values[0]', 'AUTHZ_ERR_INVALID_CIDR'],
      ['spec.rules[1].from', 'AUTHZ_ERR_EMPTY_FROM'],
    ]);
  });

  it('compiling an invalid policy throws one typed error carrying every issue', () => {
    let thrown: unknown;
    try {
      compileAuthorizationPolicy(bad);
    } catch (error) {
      thrown = error;
    }
    expect(isAmeshError(thrown, 'AUTHZ_ERR_INVALID_POLICY')).toBe(true);
    expect((thrown as AuthzError).issues).toHaveLength(7);
    expect((thrown as AuthzError).message).toContain('spec.rules[0].from[0].source.principals[0]');
  });

  it.each([
    [
      'CUSTOM without provider',
      { action: 'CUSTOM' as const, rules: [{}] },
      'spec.provider.name',
      'AUTHZ_ERR_MISSING_PROVIDER',
    ],
    [
      'provider without CUSTOM',
      { provider: { name: 'opa' } },
      'spec.provider',
      'AUTHZ_ERR_UNEXPECTED_PROVIDER',
    ],
    [
      'selector with targetRefs',
      { selector: { matchLabels: { a: 'b' } }, targetRefs: [{ kind: 'Service', name: 's' }] },
      'spec.selector',
      'AUTHZ_ERR_TARGET_CONFLICT',
    ],
    ['unknown action', { action: 'PERMIT' as never }, 'spec.action', 'AUTHZ_ERR_INVALID_ACTION'],
    [
      'empty source',
      { rules: [{ from: [{ source: {} }] }] },
      'spec.rules[0].from[0].source',
      'AUTHZ_ERR_EMPTY_SOURCE',
    ],
    [
      'empty operation',
      { rules: [{ to: [{ operation: {} }] }] },
      'spec.rules[0].to[0].operation',
      'AUTHZ_ERR_EMPTY_OPERATION',
    ],
    [
      'empty string value',
      { rules: [{ from: [{ source: { namespaces: [''] } }] }] },
      'spec.rules[0].from[0].source.namespaces[0]',
      'AUTHZ_ERR_EMPTY_VALUE',
    ],
    [
      'port out of range',
      { rules: [{ to: [{ operation: { notPorts: ['65536'] } }] }] },
      'spec.rules[0].to[0].operation.notPorts[0]',
      'AUTHZ_ERR_INVALID_PORT',
    ],
    [
      'bad IPv6 block',
      { rules: [{ from: [{ source: { notRemoteIpBlocks: ['2001:db8::/129'] } }] }] },
      'spec.rules[0].from[0].source.notRemoteIpBlocks[0]',
      'AUTHZ_ERR_INVALID_CIDR',
    ],
    [
      'service account without namespace',
      { rules: [{ from: [{ source: { serviceAccounts: ['sa'] } }] }] },
      'spec.rules[0].from[0].source.serviceAccounts[0]',
      'AUTHZ_ERR_INVALID_SERVICE_ACCOUNT',
    ],
    [
      'path template',
      {
        targetRefs: [{ kind: 'Service', name: 's' }],
        rules: [{ to: [{ operation: { paths: ['/a/{*}'] } }] }],
      },
      'spec.rules[0].to[0].operation.paths[0]',
      'AUTHZ_ERR_UNSUPPORTED_PATH_TEMPLATE',
    ],
    [
      'bad port condition',
      { rules: [{ when: [{ key: 'destination.port', notValues: ['-1'] }] }] },
      'spec.rules[0].when[0].notValues[0]',
      'AUTHZ_ERR_INVALID_PORT',
    ],
    [
      'wildcard at both ends',
      { rules: [{ from: [{ source: { namespaces: ['*a*'] } }] }] },
      'spec.rules[0].from[0].source.namespaces[0]',
      'AUTHZ_ERR_INVALID_WILDCARD',
    ],
  ])('%s', (_name, spec, path, code) => {
    const result = validateAuthorizationPolicy(policy('foo', 'p', spec));
    expect(result.errors).toContainEqual(expect.objectContaining({ path, code }));
  });

  it('a bad dry-run annotation is an error', () => {
    const result = validateAuthorizationPolicy(policy('foo', 'p', {}, { 'istio.io/dry-run': 'yes' }));
    expect(result.errors).toContainEqual(expect.objectContaining({ code: 'AUTHZ_ERR_INVALID_DRY_RUN' }));
  });

  it('metadata name and namespace are required', () => {
    const result = validateAuthorizationPolicy({ metadata: { name: '' } });
    expect(result.errors.map((e) => e.path)).toEqual(['metadata.name', 'metadata.namespace']);
  });

  it('valid policies, including every condition key, have no errors', () => {
    const keys = [
      'source.ip',
      'source.namespace',
      'source.principal',
      'destination.ip',
      'destination.port',
      'remote.ip',
      'request.auth.principal',
      'request.auth.audiences',
      'request.auth.presenter',
      'connection.sni',
      'request.headers[x-a]',
      'request.auth.claims[groups]',
      'request.auth.claims[a][b]',
    ];
    const values: Record<string, string> = {
      'source.ip': '10.0.0.0/8',
      'destination.ip': '::1',
      'remote.ip': '1.2.3.4',
      'destination.port': '80',
    };
    const p = policy('foo', 'ok', {
      targetRefs: [{ kind: 'Service', name: 'b' }],
      rules: [{ when: keys.map((key) => ({ key, values: [values[key] ?? 'v'] })) }],
    });
    expect(validateAuthorizationPolicy(p)).toEqual({ valid: true, errors: [], warnings: [] });
  });
});

describe('HTTP fields where only L4 is enforced', () => {
  const p = policy('foo', 'l7', {
    rules: [
      {
        from: [{ source: { requestPrincipals: ['*'] } }],
        to: [{ operation: { methods: ['GET'], ports: ['80'] } }],
        when: [
          { key: 'request.headers[x]', values: ['1'] },
          { key: 'source.ip', values: ['10.0.0.0/8'] },
        ],
      },
    ],
  });

  it('are warnings by default, one per field, with paths', () => {
    const result = validateAuthorizationPolicy(p);
    expect(result.valid).toBe(true);
    expect(result.warnings.map((w) => w.path)).toEqual([
      'spec.rules[0].from[0].source.requestPrincipals',
      'spec.rules[0].to[0].operation.methods',
      'spec.rules[0].when[0]',
    ]);
    expect(result.warnings[0]!.message).toContain('ALLOW rule is dropped');
  });

  it('are errors with strictL4', () => {
    const result = validateAuthorizationPolicy(p, { strictL4: true });
    expect(result.valid).toBe(false);
    expect(result.errors.every((e) => e.code === 'AUTHZ_ERR_L7_AT_L4')).toBe(true);
  });

  it('are fine at a waypoint', () => {
    expect(validateAuthorizationPolicy(p, { enforcement: 'waypoint' }).warnings).toEqual([]);
  });
});
