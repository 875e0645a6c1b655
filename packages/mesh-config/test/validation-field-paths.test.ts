import { describe, expect, it } from 'vitest';
import { isAmeshError } from '@amesh/errors';
import {
  assertValidResource,
  formatIssue,
  MeshConfigError,
  parseYamlResources,
  validateResource,
} from '../src/index.js';

describe('validateResource reports every error with resource and field path', () => {
  it('accepts a minimal namespace and defaults the namespace of namespaced kinds', () => {
    const ns = validateResource({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } });
    expect(ns.ok).toBe(true);
    const sa = validateResource({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'a' } });
    expect(sa.ok && sa.resource.metadata.namespace).toBe('default');
  });

  it('collects all errors of a Service, not only the first', () => {
    const result = validateResource({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        clusterIP: '10.0.0.300',
        ports: [
          { name: 'http', port: 70000 },
          { name: 'http', port: 80, targetPort: 'Bad_Name' },
        ],
      },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => [i.resource, i.path])).toEqual([
      ['Service shop/web', 'spec.clusterIP'],
      ['Service shop/web', 'spec.ports[0].port'],
      ['Service shop/web', 'spec.ports[1].name'],
      ['Service shop/web', 'spec.ports[1].targetPort'],
    ]);
    expect(result.issues[1]!.message).toMatch(/1\.\.65535/);
  });

  it('rejects unknown kinds and wrong apiVersions', () => {
    const unknown = validateResource({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } });
    expect(!unknown.ok && unknown.issues[0]!.path).toBe('kind');
    const wrong = validateResource({
      apiVersion: 'networking.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'p' },
      spec: {},
    });
    expect(!wrong.ok && wrong.issues.map((i) => i.path)).toEqual(['apiVersion']);
  });

  it('checks AuthorizationPolicy rules deeply', () => {
    const result = validateResource({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'p', namespace: 'ns' },
      spec: {
        selector: { matchLabels: { app: 'a' } },
        targetRefs: [{ kind: 'Gateway', name: 'wp' }],
        action: 'CUSTOM',
        rules: [
          {
            from: [{ source: { principals: ['x', 3], ipBlocks: ['10.0.0.0/33'] } }],
            to: [{ operation: { ports: ['80', 'http'] } }],
            when: [{ key: 'request.headers[x]' }],
          },
        ],
      },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.path)).toEqual([
      'spec.selector',
      'spec.provider',
      'spec.rules[0].from[0].source.principals[1]',
      'spec.rules[0].from[0].source.ipBlocks[0]',
      'spec.rules[0].to[0].operation.ports[1]',
      'spec.rules[0].when[0]',
    ]);
  });

  it('checks Gateway, HTTPRoute, ServiceEntry, WorkloadEntry, PeerAuthentication, RequestAuthentication, DestinationRule', () => {
    const cases: [unknown, string[]][] = [
      [
        {
          apiVersion: 'gateway.networking.k8s.io/v1',
          kind: 'Gateway',
          metadata: { name: 'g' },
          spec: { listeners: [] },
        },
        ['spec.gatewayClassName', 'spec.listeners'],
      ],
      [
        {
          apiVersion: 'gateway.networking.k8s.io/v1',
          kind: 'HTTPRoute',
          metadata: { name: 'r' },
          spec: {
            rules: [
              { matches: [{ path: { type: 'PathPrefix', value: 'api' } }], backendRefs: [{ name: 'svc' }] },
            ],
          },
        },
        ['spec.rules[0].matches[0].path.value', 'spec.rules[0].backendRefs[0].port'],
      ],
      [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'ServiceEntry',
          metadata: { name: 'se' },
          spec: { hosts: [], resolution: 'STATIC', endpoints: [{ address: 'db.example.com' }] },
        },
        ['spec.hosts', 'spec.endpoints[0].address'],
      ],
      [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'WorkloadEntry',
          metadata: { name: 'vm' },
          spec: { ports: { http: 0 } },
        },
        ['spec.address', 'spec.ports["http"]'],
      ],
      [
        {
          apiVersion: 'security.istio.io/v1',
          kind: 'PeerAuthentication',
          metadata: { name: 'pa' },
          spec: { mtls: { mode: 'STRICTER' }, portLevelMtls: { '8080': { mode: 'DISABLE' } } },
        },
        ['spec.mtls.mode', 'spec.portLevelMtls'],
      ],
      [
        {
          apiVersion: 'security.istio.io/v1',
          kind: 'RequestAuthentication',
          metadata: { name: 'ra' },
          spec: { jwtRules: [{ jwksUri: 'ftp://x' }] },
        },
        ['spec.jwtRules[0].issuer', 'spec.jwtRules[0].jwksUri'],
      ],
      [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'DestinationRule',
          metadata: { name: 'dr' },
          spec: { subsets: [{ name: 'v1' }, { name: 'v1' }] },
        },
        ['spec.host', 'spec.subsets[1].name'],
      ],
    ];
    for (const [raw, paths] of cases) {
      const result = validateResource(raw);
      expect(result.ok ? [] : result.issues.map((i) => i.path), JSON.stringify(raw)).toEqual(paths);
    }
  });

  it('accepts real cluster objects with fields amesh does not read', () => {
    const result = validateResource({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'x', uid: 'abc', creationTimestamp: '2024-01-01T00:00:00Z' },
      spec: { containers: [{ name: 'c', image: 'nginx', ports: [{ containerPort: 80 }] }], nodeName: 'n1' },
      status: { phase: 'Running', podIP: 'fd00::1', podIPs: [{ ip: 'fd00::1' }], hostIP: '1.2.3.4' },
    });
    expect(result.ok).toBe(true);
  });
});

describe('parseYamlResources', () => {
  it('reads multi-document files and kind: List, skipping empty documents', () => {
    const { resources, issues } = parseYamlResources(
      `---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n`,
      'f.yaml',
    );
    expect(issues).toEqual([]);
    expect(resources.map((r) => r.metadata.name)).toEqual(['a', 'b']);
  });

  it('reports YAML syntax errors with file, document and line', () => {
    const { issues } = parseYamlResources(
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\nkind: [unclosed\n',
      'bad.yaml',
    );
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]).toMatchObject({
      code: 'MESHCFG_ERR_YAML_PARSE',
      origin: { file: 'bad.yaml', document: 1 },
    });
    expect(formatIssue(issues[0]!)).toMatch(/^bad\.yaml#1/);
  });

  it('reports a resource defined twice in one file', () => {
    const doc = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n';
    const { issues } = parseYamlResources(`${doc}---\n${doc}`, 'dup.yaml');
    expect(issues.map((i) => [i.resource, i.message])).toEqual([
      ['Namespace a', 'defined twice in the same file'],
    ]);
  });

  it('gives validation issues the origin of their document', () => {
    const { issues } = parseYamlResources(
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 0}]\n',
      'svc.yaml',
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({
      resource: 'Service default/s',
      path: 'spec.ports[0].port',
      origin: { file: 'svc.yaml', document: 1, line: 5 },
    });
  });
});

describe('assertValidResource', () => {
  it('throws a MeshConfigError with a stable code and every issue', () => {
    let caught: unknown;
    try {
      assertValidResource({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'Bad' },
        spec: { ports: [{ port: 0 }] },
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MeshConfigError);
    expect(isAmeshError(caught, 'MESHCFG_ERR_INVALID_RESOURCE')).toBe(true);
    const e = caught as MeshConfigError;
    expect(e.issues.map((i) => i.path)).toEqual(['metadata.name', 'spec.ports[0].port']);
    expect(e.message).toMatch(/Service default\/Bad: metadata\.name/);
    expect(e.toJSON()).toMatchObject({ name: 'MeshConfigError', code: 'MESHCFG_ERR_INVALID_RESOURCE' });
  });

  it('returns the normalised resource when valid', () => {
    expect(
      assertValidResource({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa' } }).metadata
        .namespace,
    ).toBe('default');
  });
});
