import { ipFamily as isIP } from './ip.js';
import { MeshConfigError } from './errors.js';
import { type ConfigIssue, type ConfigOrigin, formatIssue } from './issues.js';
import type { MeshResource, ResourceKind } from './resources.js';

/** Result of {@link validateResource}: the normalised resource, or every issue found. */
export type ValidationResult =
  | { readonly ok: true; readonly resource: MeshResource }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

type Json = Record<string, unknown>;

const API_VERSIONS: Readonly<Record<ResourceKind, readonly string[]>> = {
  Namespace: ['v1'],
  Pod: ['v1'],
  Service: ['v1'],
  ServiceAccount: ['v1'],
  WorkloadEntry: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  ServiceEntry: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  DestinationRule: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  AuthorizationPolicy: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  PeerAuthentication: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  RequestAuthentication: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  Gateway: ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1beta1'],
  HTTPRoute: ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1beta1'],
};

// RFC 1123 label (namespaces, services) and subdomain (most other names).
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const HOSTNAME =
  /^(\*\.)?[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*\.?$/;

/** Collects issues for one resource, tracking field paths. */
class Checker {
  readonly issues: ConfigIssue[] = [];
  resource = '<unknown>';
  constructor(readonly origin: ConfigOrigin | undefined) {}

  fail(path: string, message: string): void {
    this.issues.push({
      code: 'MESHCFG_ERR_INVALID_RESOURCE',
      resource: this.resource,
      path,
      message,
      ...(this.origin ? { origin: this.origin } : {}),
    });
  }

  object(value: unknown, path: string, required = false): Json | undefined {
    if (value === undefined || value === null) {
      if (required) this.fail(path, 'is required');
      return undefined;
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path, `must be an object, got ${describe(value)}`);
      return undefined;
    }
    return value as Json;
  }

  array(value: unknown, path: string, required = false): unknown[] | undefined {
    if (value === undefined || value === null) {
      if (required) this.fail(path, 'is required');
      return undefined;
    }
    if (!Array.isArray(value)) {
      this.fail(path, `must be a list, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  string(value: unknown, path: string, required = false): string | undefined {
    if (value === undefined || value === null) {
      if (required) this.fail(path, 'is required');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.fail(path, `must be a string, got ${describe(value)}`);
      return undefined;
    }
    if (required && value === '') this.fail(path, 'must not be empty');
    return value;
  }

  boolean(value: unknown, path: string): void {
    if (value !== undefined && typeof value !== 'boolean')
      this.fail(path, `must be a boolean, got ${describe(value)}`);
  }

  enumeration(
    value: unknown,
    path: string,
    allowed: readonly string[],
    required = false,
  ): string | undefined {
    const s = this.string(value, path, required);
    if (s !== undefined && !allowed.includes(s)) {
      this.fail(path, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(s)}`);
      return undefined;
    }
    return s;
  }

  integer(value: unknown, path: string, min: number, max: number, required = false): number | undefined {
    if (value === undefined || value === null) {
      if (required) this.fail(path, 'is required');
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.fail(path, `must be an integer, got ${describe(value)}`);
      return undefined;
    }
    if (value < min || value > max) {
      this.fail(path, `must be in ${min}..${max}, got ${value}`);
      return undefined;
    }
    return value;
  }

  port(value: unknown, path: string, required = false): number | undefined {
    return this.integer(value, path, 1, 65535, required);
  }

  ip(value: unknown, path: string, required = false): string | undefined {
    const s = this.string(value, path, required);
    if (s !== undefined && s !== '' && isIP(s) === 0)
      this.fail(path, `must be an IP address, got ${JSON.stringify(s)}`);
    return s;
  }

  cidr(value: unknown, path: string): void {
    const s = this.string(value, path);
    if (s === undefined) return;
    const [ip, len, extra] = s.split('/');
    const family = isIP(ip ?? '');
    const max = family === 6 ? 128 : 32;
    if (
      family === 0 ||
      extra !== undefined ||
      (len !== undefined && (!/^\d+$/.test(len) || Number(len) > max))
    ) {
      this.fail(path, `must be an IP address or CIDR, got ${JSON.stringify(s)}`);
    }
  }

  strings(value: unknown, path: string, required = false): string[] | undefined {
    const list = this.array(value, path, required);
    if (list === undefined) return undefined;
    if (required && list.length === 0) this.fail(path, 'must not be empty');
    list.forEach((item, i) => {
      this.string(item, `${path}[${i}]`);
    });
    return list.filter((s): s is string => typeof s === 'string');
  }

  labels(value: unknown, path: string): void {
    const map = this.object(value, path);
    if (!map) return;
    for (const [key, v] of Object.entries(map)) {
      const p = `${path}[${JSON.stringify(key)}]`;
      if (!LABEL_KEY.test(key)) this.fail(p, 'label key is not a valid qualified name');
      if (typeof v !== 'string') this.fail(p, `label value must be a string, got ${describe(v)}`);
      else if (!LABEL_VALUE.test(v) || v.length > 63)
        this.fail(p, `label value ${JSON.stringify(v)} is not valid`);
    }
  }

  annotations(value: unknown, path: string): void {
    const map = this.object(value, path);
    if (!map) return;
    for (const [key, v] of Object.entries(map)) {
      if (typeof v !== 'string')
        this.fail(`${path}[${JSON.stringify(key)}]`, `must be a string, got ${describe(v)}`);
    }
  }

  hostname(value: unknown, path: string, required = false): void {
    const s = this.string(value, path, required);
    if (s && s !== '*' && !HOSTNAME.test(s)) this.fail(path, `must be a DNS name, got ${JSON.stringify(s)}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * Validates one decoded resource (from YAML or the Kubernetes API) and
 * returns a normalised copy (namespaced kinds get `metadata.namespace`,
 * `default` when absent), or every issue found, each with its field path.
 * Unknown fields are kept and ignored, so real cluster objects pass.
 *
 * @example
 * ```ts
 * const result = validateResource({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } });
 * if (!result.ok) console.log(result.issues.map(formatIssue));
 * ```
 */
export function validateResource(raw: unknown, origin?: ConfigOrigin): ValidationResult {
  const c = new Checker(origin);
  const doc = c.object(raw, '', true);
  if (!doc) return { ok: false, issues: c.issues };
  const kind = doc.kind;
  const meta = doc.metadata as Json | undefined;
  const ns = typeof meta?.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default';
  const name = typeof meta?.name === 'string' ? meta.name : '<unnamed>';
  if (typeof kind !== 'string' || !(kind in API_VERSIONS)) {
    c.resource = `${typeof kind === 'string' ? kind : '<no kind>'} ${ns}/${name}`;
    c.fail('kind', `must be one of ${Object.keys(API_VERSIONS).join(', ')}, got ${describe(kind)}`);
    return { ok: false, issues: c.issues };
  }
  const k = kind as ResourceKind;
  const clusterScoped = k === 'Namespace';
  c.resource = clusterScoped ? `${k} ${name}` : `${k} ${ns}/${name}`;
  c.enumeration(doc.apiVersion, 'apiVersion', API_VERSIONS[k], true);
  const m = c.object(doc.metadata, 'metadata', true);
  if (m) {
    const n = c.string(m.name, 'metadata.name', true);
    const nameRule = k === 'Namespace' || k === 'Service' ? DNS_LABEL : DNS_SUBDOMAIN;
    if (n && (!nameRule.test(n) || n.length > (nameRule === DNS_LABEL ? 63 : 253))) {
      c.fail(
        'metadata.name',
        `must be an RFC 1123 ${nameRule === DNS_LABEL ? 'label' : 'subdomain'}, got ${JSON.stringify(n)}`,
      );
    }
    if (!clusterScoped && m.namespace !== undefined) {
      const s = c.string(m.namespace, 'metadata.namespace');
      if (s !== undefined && !DNS_LABEL.test(s))
        c.fail('metadata.namespace', `must be an RFC 1123 label, got ${JSON.stringify(s)}`);
    }
    c.labels(m.labels, 'metadata.labels');
    c.annotations(m.annotations, 'metadata.annotations');
  }
  const specRequired = !(k === 'Namespace' || k === 'ServiceAccount' || k === 'Pod' || k === 'Service');
  const spec =
    k === 'Namespace' || k === 'ServiceAccount' ? undefined : c.object(doc.spec, 'spec', specRequired);
  switch (k) {
    case 'Pod':
      checkPod(c, spec, doc.status);
      break;
    case 'Service':
      checkService(c, spec);
      break;
    case 'WorkloadEntry':
      if (spec) checkWorkloadEntrySpec(c, spec, 'spec', true);
      break;
    case 'ServiceEntry':
      if (spec) checkServiceEntry(c, spec);
      break;
    case 'AuthorizationPolicy':
      if (spec) checkAuthorizationPolicy(c, spec);
      break;
    case 'PeerAuthentication':
      if (spec) checkPeerAuthentication(c, spec);
      break;
    case 'RequestAuthentication':
      if (spec) checkRequestAuthentication(c, spec);
      break;
    case 'Gateway':
      if (spec) checkGateway(c, spec);
      break;
    case 'HTTPRoute':
      if (spec) checkHttpRoute(c, spec);
      break;
    case 'DestinationRule':
      if (spec) checkDestinationRule(c, spec);
      break;
    case 'Namespace':
    case 'ServiceAccount':
      break;
  }
  if (c.issues.length > 0) return { ok: false, issues: c.issues };
  const metadata = clusterScoped ? { ...m } : { ...m, namespace: ns };
  const normalised = { ...doc, metadata } as Json;
  if (
    specRequired === false &&
    k !== 'Namespace' &&
    k !== 'ServiceAccount' &&
    normalised.spec === undefined
  ) {
    normalised.spec = {};
  }
  return { ok: true, resource: normalised as unknown as MeshResource };
}

/**
 * Like {@link validateResource}, but returns the normalised resource or throws.
 * @throws {MeshConfigError} `MESHCFG_ERR_INVALID_RESOURCE` with every issue in `issues`
 * @example
 * ```ts
 * const ns = assertValidResource({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } });
 * ```
 */
export function assertValidResource(raw: unknown, origin?: ConfigOrigin): MeshResource {
  const result = validateResource(raw, origin);
  if (result.ok) return result.resource;
  throw new MeshConfigError(
    'MESHCFG_ERR_INVALID_RESOURCE',
    `invalid resource: ${result.issues.map(formatIssue).join('; ')}`,
    result.issues,
  );
}

function checkSelector(c: Checker, value: unknown, path: string): void {
  const s = c.object(value, path);
  if (!s) return;
  c.labels(s.matchLabels, `${path}.matchLabels`);
}

function checkTargetRefs(c: Checker, spec: Json): boolean {
  const refs: [unknown, string][] = [];
  if (spec.targetRef !== undefined) refs.push([spec.targetRef, 'spec.targetRef']);
  const list = c.array(spec.targetRefs, 'spec.targetRefs');
  list?.forEach((r, i) => {
    refs.push([r, `spec.targetRefs[${i}]`]);
  });
  for (const [ref, path] of refs) {
    const r = c.object(ref, path);
    if (!r) continue;
    c.string(r.group, `${path}.group`);
    c.enumeration(r.kind, `${path}.kind`, ['Gateway', 'Service', 'ServiceEntry', 'GatewayClass'], true);
    c.string(r.name, `${path}.name`, true);
    c.string(r.namespace, `${path}.namespace`);
  }
  if (refs.length > 0 && spec.selector !== undefined) {
    c.fail('spec.selector', 'selector and targetRef(s) are mutually exclusive');
  }
  return refs.length > 0;
}

function checkPod(c: Checker, spec: Json | undefined, statusRaw: unknown): void {
  if (spec) {
    c.string(spec.nodeName, 'spec.nodeName');
    c.string(spec.serviceAccountName, 'spec.serviceAccountName');
    c.boolean(spec.hostNetwork, 'spec.hostNetwork');
    c.array(spec.containers, 'spec.containers')?.forEach((raw, i) => {
      const container = c.object(raw, `spec.containers[${i}]`);
      if (!container) return;
      c.array(container.ports, `spec.containers[${i}].ports`)?.forEach((p, j) => {
        const path = `spec.containers[${i}].ports[${j}]`;
        const port = c.object(p, path);
        if (!port) return;
        c.port(port.containerPort, `${path}.containerPort`, true);
        c.string(port.name, `${path}.name`);
        c.enumeration(port.protocol, `${path}.protocol`, ['TCP', 'UDP', 'SCTP']);
      });
    });
  }
  const status = c.object(statusRaw, 'status');
  if (!status) return;
  c.enumeration(status.phase, 'status.phase', ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']);
  c.ip(status.podIP, 'status.podIP');
  c.array(status.podIPs, 'status.podIPs')?.forEach((p, i) => {
    const o = c.object(p, `status.podIPs[${i}]`);
    if (o) c.ip(o.ip, `status.podIPs[${i}].ip`, true);
  });
  c.array(status.conditions, 'status.conditions')?.forEach((p, i) => {
    const o = c.object(p, `status.conditions[${i}]`);
    if (!o) return;
    c.string(o.type, `status.conditions[${i}].type`, true);
    c.enumeration(o.status, `status.conditions[${i}].status`, ['True', 'False', 'Unknown'], true);
  });
}

function checkService(c: Checker, spec: Json | undefined): void {
  if (!spec) return;
  c.labels(spec.selector, 'spec.selector');
  const clusterIP = c.string(spec.clusterIP, 'spec.clusterIP');
  if (clusterIP && clusterIP !== 'None') c.ip(clusterIP, 'spec.clusterIP');
  c.array(spec.clusterIPs, 'spec.clusterIPs')?.forEach((ip, i) => {
    if (ip !== 'None') c.ip(ip, `spec.clusterIPs[${i}]`, true);
  });
  c.enumeration(spec.type, 'spec.type', ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']);
  const names = new Set<string>();
  const ports = c.array(spec.ports, 'spec.ports');
  ports?.forEach((raw, i) => {
    const path = `spec.ports[${i}]`;
    const p = c.object(raw, path);
    if (!p) return;
    const portNumber = c.port(p.port, `${path}.port`, true);
    const name = c.string(p.name, `${path}.name`);
    if (name !== undefined) {
      if (names.has(name)) c.fail(`${path}.name`, `duplicate port name ${JSON.stringify(name)}`);
      names.add(name);
    } else if (ports.length > 1) {
      c.fail(`${path}.name`, 'is required when a Service has more than one port');
    }
    c.enumeration(p.protocol, `${path}.protocol`, ['TCP', 'UDP', 'SCTP']);
    c.string(p.appProtocol, `${path}.appProtocol`);
    if (typeof p.targetPort === 'string') {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p.targetPort) || p.targetPort.length > 15) {
        c.fail(
          `${path}.targetPort`,
          `must be a port number or an IANA_SVC_NAME, got ${JSON.stringify(p.targetPort)}`,
        );
      }
    } else if (p.targetPort !== undefined) {
      c.port(p.targetPort, `${path}.targetPort`);
    }
    void portNumber;
  });
}

function checkWorkloadEntrySpec(c: Checker, spec: Json, path: string, requireAddress: boolean): void {
  const address = c.string(spec.address, `${path}.address`, requireAddress);
  if (address && isIP(address) === 0 && !address.startsWith('unix://') && !HOSTNAME.test(address)) {
    c.fail(
      `${path}.address`,
      `must be an IP address, a DNS name or unix:// path, got ${JSON.stringify(address)}`,
    );
  }
  const ports = c.object(spec.ports, `${path}.ports`);
  if (ports) {
    for (const [name, v] of Object.entries(ports)) c.port(v, `${path}.ports[${JSON.stringify(name)}]`, true);
  }
  c.labels(spec.labels, `${path}.labels`);
  c.string(spec.network, `${path}.network`);
  c.string(spec.locality, `${path}.locality`);
  c.string(spec.serviceAccount, `${path}.serviceAccount`);
  if (spec.weight !== undefined) c.integer(spec.weight, `${path}.weight`, 0, 2 ** 32 - 1);
}

function checkServiceEntry(c: Checker, spec: Json): void {
  c.strings(spec.hosts, 'spec.hosts', true)?.forEach((h, i) => {
    c.hostname(h, `spec.hosts[${i}]`);
  });
  c.array(spec.addresses, 'spec.addresses')?.forEach((a, i) => {
    c.cidr(a, `spec.addresses[${i}]`);
  });
  const names = new Set<string>();
  c.array(spec.ports, 'spec.ports')?.forEach((raw, i) => {
    const path = `spec.ports[${i}]`;
    const p = c.object(raw, path);
    if (!p) return;
    c.port(p.number, `${path}.number`, true);
    const name = c.string(p.name, `${path}.name`);
    if (name) {
      if (names.has(name)) c.fail(`${path}.name`, `duplicate port name ${JSON.stringify(name)}`);
      names.add(name);
    }
    c.enumeration(p.protocol, `${path}.protocol`, [
      'HTTP',
      'HTTPS',
      'GRPC',
      'HTTP2',
      'MONGO',
      'TCP',
      'TLS',
      'UDP',
    ]);
    if (p.targetPort !== undefined) c.port(p.targetPort, `${path}.targetPort`);
  });
  c.enumeration(spec.location, 'spec.location', ['MESH_EXTERNAL', 'MESH_INTERNAL']);
  const resolution = c.enumeration(spec.resolution, 'spec.resolution', [
    'NONE',
    'STATIC',
    'DNS',
    'DNS_ROUND_ROBIN',
  ]);
  const endpoints = c.array(spec.endpoints, 'spec.endpoints');
  endpoints?.forEach((raw, i) => {
    const e = c.object(raw, `spec.endpoints[${i}]`);
    if (!e) return;
    checkWorkloadEntrySpec(c, e, `spec.endpoints[${i}]`, true);
    if (
      resolution === 'STATIC' &&
      typeof e.address === 'string' &&
      isIP(e.address) === 0 &&
      !e.address.startsWith('unix://')
    ) {
      c.fail(`spec.endpoints[${i}].address`, 'must be an IP address when resolution is STATIC');
    }
  });
  const selector = c.object(spec.workloadSelector, 'spec.workloadSelector');
  if (selector) {
    c.labels(selector.labels, 'spec.workloadSelector.labels');
    if (endpoints && endpoints.length > 0)
      c.fail('spec.workloadSelector', 'workloadSelector and endpoints are mutually exclusive');
  }
  c.strings(spec.exportTo, 'spec.exportTo');
  c.strings(spec.subjectAltNames, 'spec.subjectAltNames');
}

const SOURCE_FIELDS = [
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
  'namespaces',
  'notNamespaces',
  'serviceAccounts',
  'notServiceAccounts',
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
];
const OPERATION_FIELDS = [
  'hosts',
  'notHosts',
  'ports',
  'notPorts',
  'methods',
  'notMethods',
  'paths',
  'notPaths',
];

function checkAuthorizationPolicy(c: Checker, spec: Json): void {
  checkSelector(c, spec.selector, 'spec.selector');
  checkTargetRefs(c, spec);
  const action = c.enumeration(spec.action, 'spec.action', ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']);
  const provider = c.object(spec.provider, 'spec.provider');
  if (provider) c.string(provider.name, 'spec.provider.name', true);
  if (action === 'CUSTOM' && !provider) c.fail('spec.provider', 'is required when action is CUSTOM');
  if (action !== 'CUSTOM' && provider) c.fail('spec.provider', 'is only allowed when action is CUSTOM');
  c.array(spec.rules, 'spec.rules')?.forEach((raw, i) => {
    const path = `spec.rules[${i}]`;
    const rule = c.object(raw, path);
    if (!rule) return;
    c.array(rule.from, `${path}.from`)?.forEach((f, j) => {
      const from = c.object(f, `${path}.from[${j}]`);
      const source = from && c.object(from.source, `${path}.from[${j}].source`, true);
      if (!source) return;
      for (const field of SOURCE_FIELDS) {
        const p = `${path}.from[${j}].source.${field}`;
        const values = c.strings(source[field], p);
        if (field.toLowerCase().includes('ipblocks'))
          values?.forEach((v, k) => {
            c.cidr(v, `${p}[${k}]`);
          });
        if (field === 'serviceAccounts' || field === 'notServiceAccounts') {
          values?.forEach((v, k) => {
            if (v.split('/').length > 2 || v === '')
              c.fail(`${p}[${k}]`, `must be "name" or "namespace/name", got ${JSON.stringify(v)}`);
          });
        }
      }
    });
    c.array(rule.to, `${path}.to`)?.forEach((t, j) => {
      const to = c.object(t, `${path}.to[${j}]`);
      const operation = to && c.object(to.operation, `${path}.to[${j}].operation`, true);
      if (!operation) return;
      for (const field of OPERATION_FIELDS) {
        const p = `${path}.to[${j}].operation.${field}`;
        const values = c.strings(operation[field], p);
        if (field === 'ports' || field === 'notPorts') {
          values?.forEach((v, k) => {
            if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) {
              c.fail(`${p}[${k}]`, `must be a port number 1..65535 as a string, got ${JSON.stringify(v)}`);
            }
          });
        }
      }
    });
    c.array(rule.when, `${path}.when`)?.forEach((w, j) => {
      const p = `${path}.when[${j}]`;
      const when = c.object(w, p);
      if (!when) return;
      c.string(when.key, `${p}.key`, true);
      const values = c.strings(when.values, `${p}.values`);
      const notValues = c.strings(when.notValues, `${p}.notValues`);
      if (!values?.length && !notValues?.length) c.fail(p, 'needs values or notValues');
    });
  });
}

function checkPeerAuthentication(c: Checker, spec: Json): void {
  checkSelector(c, spec.selector, 'spec.selector');
  const modes = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'];
  const mtls = c.object(spec.mtls, 'spec.mtls');
  if (mtls) c.enumeration(mtls.mode, 'spec.mtls.mode', modes);
  const portLevel = c.object(spec.portLevelMtls, 'spec.portLevelMtls');
  if (portLevel) {
    if (!spec.selector)
      c.fail(
        'spec.portLevelMtls',
        'requires a selector (Istio applies port-level mTLS to selected workloads only)',
      );
    for (const [port, v] of Object.entries(portLevel)) {
      const p = `spec.portLevelMtls[${JSON.stringify(port)}]`;
      if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535)
        c.fail(p, 'key must be a port number 1..65535');
      const o = c.object(v, p, true);
      if (o) c.enumeration(o.mode, `${p}.mode`, modes);
    }
  }
}

function checkRequestAuthentication(c: Checker, spec: Json): void {
  checkSelector(c, spec.selector, 'spec.selector');
  checkTargetRefs(c, spec);
  c.array(spec.jwtRules, 'spec.jwtRules')?.forEach((raw, i) => {
    const path = `spec.jwtRules[${i}]`;
    const r = c.object(raw, path);
    if (!r) return;
    c.string(r.issuer, `${path}.issuer`, true);
    c.strings(r.audiences, `${path}.audiences`);
    const uri = c.string(r.jwksUri, `${path}.jwksUri`);
    if (uri !== undefined && !/^https?:\/\//.test(uri)) c.fail(`${path}.jwksUri`, 'must be an http(s) URL');
    c.string(r.jwks, `${path}.jwks`);
    if (uri !== undefined && r.jwks !== undefined)
      c.fail(`${path}.jwks`, 'jwks and jwksUri are mutually exclusive');
    c.array(r.fromHeaders, `${path}.fromHeaders`)?.forEach((h, j) => {
      const o = c.object(h, `${path}.fromHeaders[${j}]`);
      if (o) {
        c.string(o.name, `${path}.fromHeaders[${j}].name`, true);
        c.string(o.prefix, `${path}.fromHeaders[${j}].prefix`);
      }
    });
    c.strings(r.fromParams, `${path}.fromParams`);
    c.string(r.outputPayloadToHeader, `${path}.outputPayloadToHeader`);
    c.boolean(r.forwardOriginalToken, `${path}.forwardOriginalToken`);
  });
}

function checkGateway(c: Checker, spec: Json): void {
  c.string(spec.gatewayClassName, 'spec.gatewayClassName', true);
  const names = new Set<string>();
  const listeners = c.array(spec.listeners, 'spec.listeners', true);
  if (listeners && listeners.length === 0) c.fail('spec.listeners', 'must not be empty');
  listeners?.forEach((raw, i) => {
    const path = `spec.listeners[${i}]`;
    const l = c.object(raw, path);
    if (!l) return;
    const name = c.string(l.name, `${path}.name`, true);
    if (name) {
      if (names.has(name)) c.fail(`${path}.name`, `duplicate listener name ${JSON.stringify(name)}`);
      names.add(name);
    }
    c.port(l.port, `${path}.port`, true);
    c.string(l.protocol, `${path}.protocol`, true);
    c.hostname(l.hostname, `${path}.hostname`);
  });
  c.array(spec.addresses, 'spec.addresses')?.forEach((raw, i) => {
    const a = c.object(raw, `spec.addresses[${i}]`);
    if (a) c.string(a.value, `spec.addresses[${i}].value`, true);
  });
}

function checkHttpRoute(c: Checker, spec: Json): void {
  c.array(spec.parentRefs, 'spec.parentRefs')?.forEach((raw, i) => {
    const path = `spec.parentRefs[${i}]`;
    const r = c.object(raw, path);
    if (!r) return;
    c.string(r.name, `${path}.name`, true);
    c.string(r.namespace, `${path}.namespace`);
    c.string(r.kind, `${path}.kind`);
    c.string(r.group, `${path}.group`);
    c.string(r.sectionName, `${path}.sectionName`);
    if (r.port !== undefined) c.port(r.port, `${path}.port`);
  });
  c.strings(spec.hostnames, 'spec.hostnames')?.forEach((h, i) => {
    c.hostname(h, `spec.hostnames[${i}]`);
  });
  c.array(spec.rules, 'spec.rules')?.forEach((raw, i) => {
    const path = `spec.rules[${i}]`;
    const rule = c.object(raw, path);
    if (!rule) return;
    c.array(rule.matches, `${path}.matches`)?.forEach((m, j) => {
      const mp = `${path}.matches[${j}]`;
      const match = c.object(m, mp);
      if (!match) return;
      const pathMatch = c.object(match.path, `${mp}.path`);
      if (pathMatch) {
        const type = c.enumeration(pathMatch.type, `${mp}.path.type`, [
          'Exact',
          'PathPrefix',
          'RegularExpression',
        ]);
        const value = c.string(pathMatch.value, `${mp}.path.value`);
        if (value !== undefined && type !== 'RegularExpression' && !value.startsWith('/')) {
          c.fail(`${mp}.path.value`, 'must start with "/"');
        }
        if (value !== undefined && type === 'RegularExpression') {
          try {
            new RegExp(value);
          } catch {
            c.fail(`${mp}.path.value`, 'is not a valid regular expression');
          }
        }
      }
      for (const field of ['headers', 'queryParams'] as const) {
        c.array(match[field], `${mp}.${field}`)?.forEach((h, k) => {
          const hp = `${mp}.${field}[${k}]`;
          const o = c.object(h, hp);
          if (!o) return;
          c.enumeration(o.type, `${hp}.type`, ['Exact', 'RegularExpression']);
          c.string(o.name, `${hp}.name`, true);
          c.string(o.value, `${hp}.value`, true);
        });
      }
      c.enumeration(match.method, `${mp}.method`, [
        'GET',
        'HEAD',
        'POST',
        'PUT',
        'DELETE',
        'CONNECT',
        'OPTIONS',
        'TRACE',
        'PATCH',
      ]);
    });
    c.array(rule.filters, `${path}.filters`);
    c.array(rule.backendRefs, `${path}.backendRefs`)?.forEach((b, j) => {
      const bp = `${path}.backendRefs[${j}]`;
      const o = c.object(b, bp);
      if (!o) return;
      c.string(o.name, `${bp}.name`, true);
      c.string(o.namespace, `${bp}.namespace`);
      c.string(o.kind, `${bp}.kind`);
      c.string(o.group, `${bp}.group`);
      if (o.port !== undefined) c.port(o.port, `${bp}.port`);
      else if ((o.kind ?? 'Service') === 'Service') c.fail(`${bp}.port`, 'is required for a Service backend');
      if (o.weight !== undefined) c.integer(o.weight, `${bp}.weight`, 0, 1_000_000);
    });
    const timeouts = c.object(rule.timeouts, `${path}.timeouts`);
    if (timeouts) {
      for (const field of ['request', 'backendRequest']) {
        const t = c.string(timeouts[field], `${path}.timeouts.${field}`);
        if (t !== undefined && !/^(\d+(h|m|s|ms))+$/.test(t))
          c.fail(
            `${path}.timeouts.${field}`,
            `must be a Gateway API duration like 10s, got ${JSON.stringify(t)}`,
          );
      }
    }
  });
}

function checkDestinationRule(c: Checker, spec: Json): void {
  c.hostname(spec.host, 'spec.host', true);
  c.object(spec.trafficPolicy, 'spec.trafficPolicy');
  const names = new Set<string>();
  c.array(spec.subsets, 'spec.subsets')?.forEach((raw, i) => {
    const path = `spec.subsets[${i}]`;
    const s = c.object(raw, path);
    if (!s) return;
    const name = c.string(s.name, `${path}.name`, true);
    if (name) {
      if (names.has(name)) c.fail(`${path}.name`, `duplicate subset name ${JSON.stringify(name)}`);
      names.add(name);
    }
    c.labels(s.labels, `${path}.labels`);
    c.object(s.trafficPolicy, `${path}.trafficPolicy`);
  });
  c.strings(spec.exportTo, 'spec.exportTo');
}
