import {
  type AuthorizationPolicy,
  AuthorizationPolicySet,
  AuthorizationSet,
  type AuthzRequest,
  type Decision,
  ipAddressToBytes,
  parseCidr,
  parseIpAddress,
  type ReferenceDecision,
  referenceEvaluatePolicies,
  referenceEvaluateWire,
  type WireAuthorization,
} from '@amesh/authz-engine';
import type { Contender, ContenderInstance, Sample, Scenario } from '../runner.js';

/** Milliseconds of decisions per measured size and round. */
const BUDGET_MS = Number(process.env.AMESH_BENCH_AUTHZ_MS ?? 300);
/** Requests in the fixed sample every contender must decide identically. */
const SAMPLE = 400;
const POLICIES_PER_NAMESPACE = 10;
const ROOT = 'istio-system';

/** Deterministic PRNG (mulberry32), so every contender sees the same policies and requests. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PORTS = [80, 443, 8080, 9090, 5432, 6379];

interface Workload {
  readonly namespace: string;
  readonly policies: string[];
}

interface Fixture {
  readonly wire: WireAuthorization[];
  readonly resources: AuthorizationPolicy[];
  readonly requests: AuthzRequest[];
  /** Requests to the workloads of every tenth namespace only: what one node's ztunnel sees. */
  readonly localRequests: AuthzRequest[];
  readonly httpRequests: AuthzRequest[];
}

function address(text: string) {
  const cidr = parseCidr(text);
  return { address: ipAddressToBytes(cidr), length: cidr.prefixLength };
}

/**
 * A mesh with `count` policies: 10 per namespace, a few mesh-wide, a third
 * of them workload-selector policies; rules on principals, namespaces,
 * ports and IP blocks. Requests come from random identities (a tenth
 * plaintext) to random workloads.
 */
function fixture(count: number, seed: number): Fixture {
  const next = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const namespaces = Array.from(
    { length: Math.max(1, Math.ceil(count / POLICIES_PER_NAMESPACE)) },
    (_, i) => `ns-${i}`,
  );
  const wire: WireAuthorization[] = [];
  const resources: AuthorizationPolicy[] = [];
  const workloads: Workload[] = namespaces.map((namespace) => ({ namespace, policies: [] }));
  for (let i = 0; i < count; i++) {
    // A handful of mesh-wide policies, as in a real mesh; the rest belong to namespaces.
    const global = i % Math.max(10, Math.floor(count / 5)) === 9;
    const namespace = global ? ROOT : namespaces[Math.floor(i / POLICIES_PER_NAMESPACE) % namespaces.length]!;
    const selector = !global && next() < 0.33;
    const deny = next() < 0.3;
    const peerNs = pick(namespaces);
    const port = pick(PORTS);
    const name = `policy-${i}`;
    const kind = Math.floor(next() * 4);
    const rules: WireAuthorization['rules'] =
      kind === 0
        ? [
            {
              clauses: [
                { matches: [{ namespaces: [{ exact: peerNs }] }] },
                { matches: [{ destinationPorts: [port] }] },
              ],
            },
          ]
        : kind === 1
          ? [
              {
                clauses: [
                  {
                    matches: [
                      {
                        principals: [
                          { exact: `cluster.local/ns/${peerNs}/sa/sa-${i % 3}` },
                          { prefix: `cluster.local/ns/${pick(namespaces)}/` },
                        ],
                      },
                    ],
                  },
                ],
              },
            ]
          : kind === 2
            ? [
                {
                  clauses: [
                    { matches: [{ sourceIps: [address(`10.${i % 200}.0.0/16`)], destinationPorts: [port] }] },
                  ],
                },
              ]
            : [{ clauses: [{ matches: [{ notPrincipals: [{ presence: {} }], destinationPorts: [port] }] }] }];
    wire.push({
      name,
      namespace,
      scope: global ? 'GLOBAL' : selector ? 'WORKLOAD_SELECTOR' : 'NAMESPACE',
      action: deny ? 'DENY' : 'ALLOW',
      rules,
    });
    resources.push(resourceOf(name, namespace, deny, rules, selector ? i : undefined, port));
    if (selector) workloads.find((w) => w.namespace === namespace)!.policies.push(`${namespace}/${name}`);
  }
  const requests: AuthzRequest[] = [];
  const httpRequests: AuthzRequest[] = [];
  for (let i = 0; i < SAMPLE; i++) {
    const workload = pick(workloads);
    const selected = workload.policies.filter(() => next() < 0.5);
    const plaintext = next() < 0.1;
    const request: AuthzRequest = {
      ...(plaintext
        ? {}
        : { sourcePrincipal: `cluster.local/ns/${pick(namespaces)}/sa/sa-${Math.floor(next() * 3)}` }),
      sourceIp: parseIpAddress(
        `10.${Math.floor(next() * 200)}.${Math.floor(next() * 250)}.${1 + Math.floor(next() * 250)}`,
      ),
      destinationIp: parseIpAddress(`10.250.${Math.floor(next() * 250)}.${1 + Math.floor(next() * 250)}`),
      destinationPort: pick(PORTS),
      destination: {
        namespace: workload.namespace,
        policies: selected,
        labels: Object.fromEntries(selected.map((k) => [`p-${k.split('-').pop()}`, 'y'])),
      },
    };
    requests.push(request);
    httpRequests.push({
      ...request,
      destination: {
        ...request.destination,
        targetRefs: [{ kind: 'Service', namespace: workload.namespace, name: 'svc' }],
      },
      http: {
        method: pick(['GET', 'POST']),
        path: pick(['/api/v1/items', '/admin', '/']),
        host: 'svc.example',
      },
    });
  }
  const local = new Set(namespaces.filter((_, i) => i % 10 === 0));
  const localRequests = requests.filter((r) => local.has(r.destination.namespace));
  return { wire, resources, requests, localRequests, httpRequests };
}

/** The same policy as a waypoint resource (targetRefs), with an HTTP method added to every rule. */
function resourceOf(
  name: string,
  namespace: string,
  deny: boolean,
  rules: WireAuthorization['rules'],
  selectorIndex: number | undefined,
  port: number,
): AuthorizationPolicy {
  const m = rules![0]!.clauses![0]!.matches![0]!;
  const source = {
    ...(m.namespaces ? { namespaces: m.namespaces.map((s) => ('exact' in s ? s.exact : '*')) } : {}),
    ...(m.principals
      ? {
          principals: m.principals.map((s) =>
            'exact' in s ? s.exact : 'prefix' in s ? `${s.prefix}*` : '*',
          ),
        }
      : {}),
    ...(m.notPrincipals ? { notPrincipals: ['*'] } : {}),
    ...(m.sourceIps ? { ipBlocks: [`10.${m.sourceIps[0]!.address[1]}.0.0/16`] } : {}),
  };
  return {
    metadata: { name, namespace },
    spec: {
      action: deny ? 'DENY' : 'ALLOW',
      targetRefs: [{ kind: 'Service', name: selectorIndex === undefined ? 'svc' : `svc-${selectorIndex}` }],
      rules: [
        {
          ...(Object.keys(source).length > 0 ? { from: [{ source }] } : {}),
          to: [
            {
              operation: { ports: [String(port)], methods: [deny ? 'POST' : 'GET'], paths: ['/api/*', '/'] },
            },
          ],
        },
      ],
    },
  };
}

function key(decision: Decision | ReferenceDecision): string {
  const policy = 'hit' in decision ? decision.hit.policy.key : 'policy' in decision ? decision.policy : '-';
  return `${decision.result}:${policy ?? '-'}`;
}

/** Decides the sample once (the fingerprint), then as many decisions as fit in the budget. */
function measure(
  decideOne: (request: AuthzRequest) => Decision | ReferenceDecision,
  requests: readonly AuthzRequest[],
) {
  let fingerprint = 0;
  for (const request of requests) {
    const text = key(decideOne(request));
    for (let i = 0; i < text.length; i++)
      fingerprint = (Math.imul(fingerprint, 31) + text.charCodeAt(i)) >>> 0;
  }
  let decisions = 0;
  const cpu = process.cpuUsage();
  const deadline = performance.now() + BUDGET_MS;
  while (performance.now() < deadline) {
    for (const request of requests) decideOne(request);
    decisions += requests.length;
  }
  const used = process.cpuUsage(cpu);
  return { rate: decisions / ((used.user + used.system) / 1e6), fingerprint: fingerprint.toString(16) };
}

const SIZES = [10, 1_000, 10_000] as const;

/**
 * Decisions per CPU second of the compiled, indexed engine against the
 * plain reference evaluator (a linear scan over every policy), at 10,
 * 1 000 and 10 000 policies, L4 (ztunnel, wire form) and L7 (waypoint).
 */
export default function authz(): Scenario {
  const fixtures = new Map(SIZES.map((n) => [n, fixture(n, n)]));
  const metrics = [
    ...SIZES.map((n) => ({ name: `l4-${n}`, unit: 'decisions/s', better: 'higher' as const })),
    { name: 'l4-1000-node-local', unit: 'decisions/s', better: 'higher' as const },
    { name: 'l7-1000', unit: 'decisions/s', better: 'higher' as const },
  ];

  const compiled: Contender = {
    name: 'amesh-compiled',
    async start(): Promise<ContenderInstance> {
      const sets = new Map(
        SIZES.map((n) => {
          const set = new AuthorizationSet({ rootNamespace: ROOT });
          for (const p of fixtures.get(n)!.wire) set.upsert(p);
          return [n, set];
        }),
      );
      const waypoint = new AuthorizationPolicySet({ mode: 'waypoint', rootNamespace: ROOT });
      for (const p of fixtures.get(1_000)!.resources) waypoint.upsert(p);
      return {
        async round(): Promise<Sample> {
          const values: Record<string, number> = {};
          const prints: string[] = [];
          for (const n of SIZES) {
            const set = sets.get(n)!;
            const r = measure((q) => set.evaluate(q), fixtures.get(n)!.requests);
            values[`l4-${n}`] = r.rate;
            prints.push(r.fingerprint);
          }
          const set = sets.get(1_000)!;
          const local = measure((q) => set.evaluate(q), fixtures.get(1_000)!.localRequests);
          values['l4-1000-node-local'] = local.rate;
          prints.push(local.fingerprint);
          const r = measure((q) => waypoint.evaluate(q), fixtures.get(1_000)!.httpRequests);
          values['l7-1000'] = r.rate;
          prints.push(r.fingerprint);
          return { values, fingerprint: prints.join('/') };
        },
        async close() {},
      };
    },
  };

  const reference: Contender = {
    name: 'reference-linear',
    async start(): Promise<ContenderInstance> {
      return {
        async round(): Promise<Sample> {
          const values: Record<string, number> = {};
          const prints: string[] = [];
          for (const n of SIZES) {
            const { wire, requests } = fixtures.get(n)!;
            const r = measure((q) => referenceEvaluateWire(wire, q, { rootNamespace: ROOT }), requests);
            values[`l4-${n}`] = r.rate;
            prints.push(r.fingerprint);
          }
          const { wire, localRequests, resources, httpRequests } = fixtures.get(1_000)!;
          const local = measure(
            (q) => referenceEvaluateWire(wire, q, { rootNamespace: ROOT }),
            localRequests,
          );
          values['l4-1000-node-local'] = local.rate;
          prints.push(local.fingerprint);
          const r = measure(
            (q) => referenceEvaluatePolicies(resources, q, { mode: 'waypoint', rootNamespace: ROOT }),
            httpRequests,
          );
          values['l7-1000'] = r.rate;
          prints.push(r.fingerprint);
          return { values, fingerprint: prints.join('/') };
        },
        async close() {},
      };
    },
  };

  return {
    name: 'authz',
    description: `authorization decisions per CPU second at ${SIZES.join(' / ')} policies (L4, ztunnel wire form) and 1000 (L7, waypoint); compiled engine vs a linear reference evaluator`,
    metrics,
    contenders: [compiled, reference],
    defaultRounds: 5,
  };
}
