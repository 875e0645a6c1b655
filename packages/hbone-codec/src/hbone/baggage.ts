import { HboneError } from '../errors.js';

/** Baggage members ztunnel sends (Istio ambient): all optional. */
export interface HboneBaggage {
  readonly clusterName?: string;
  readonly namespace?: string;
  /** Workload kind: the `k8s.<kind>.name` key. */
  readonly workloadKind?: 'deployment' | 'pod' | 'job' | 'cronjob';
  readonly workloadName?: string;
  readonly serviceName?: string;
  readonly serviceVersion?: string;
  readonly region?: string;
  readonly zone?: string;
}

const KEY = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// W3C baggage §3.3.1.3: value chars are printable ASCII except space, '"', ',', ';', '\'; others percent-encoded.
const encodeValue = (v: string): string =>
  encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * Builds a W3C `baggage` header (W3C Baggage §3) from key/value members.
 * @throws {HboneError} HBONE_ERR_INVALID_ARGUMENT for a key that is not a token
 * @example buildBaggage([['k8s.namespace.name', 'foo']]) // 'k8s.namespace.name=foo'
 */
export function buildBaggage(members: Iterable<readonly [string, string]>): string {
  const out: string[] = [];
  for (const [key, value] of members) {
    if (!KEY.test(key))
      throw new HboneError('HBONE_ERR_INVALID_ARGUMENT', `baggage key ${JSON.stringify(key)} is not a token`);
    out.push(`${key}=${encodeValue(value)}`);
  }
  return out.join(',');
}

/** Members of ztunnel's baggage, in its key names. */
export function hboneBaggageMembers(b: HboneBaggage): Array<[string, string]> {
  const m: Array<[string, string]> = [];
  if (b.clusterName !== undefined) m.push(['k8s.cluster.name', b.clusterName]);
  if (b.namespace !== undefined) m.push(['k8s.namespace.name', b.namespace]);
  if (b.workloadName !== undefined) m.push([`k8s.${b.workloadKind ?? 'deployment'}.name`, b.workloadName]);
  if (b.serviceName !== undefined) m.push(['service.name', b.serviceName]);
  if (b.serviceVersion !== undefined) m.push(['service.version', b.serviceVersion]);
  if (b.region !== undefined) m.push(['cloud.region', b.region]);
  if (b.zone !== undefined) m.push(['cloud.availability_zone', b.zone]);
  return m;
}

/**
 * Parses a W3C `baggage` header into key → value (percent-decoded), dropping
 * member properties (`;prop`). Later duplicates win.
 * @throws {HboneError} HBONE_ERR_INVALID_HEADER on a malformed member
 */
export function parseBaggage(header: string): Map<string, string> {
  const out = new Map<string, string>();
  if (header.trim() === '') return out;
  for (const raw of header.split(',')) {
    const member = raw.split(';')[0]!.trim();
    const eq = member.indexOf('=');
    const key = eq < 0 ? '' : member.slice(0, eq).trim();
    if (!KEY.test(key))
      throw new HboneError(
        'HBONE_ERR_INVALID_HEADER',
        `baggage member ${JSON.stringify(raw)} has no valid key`,
      );
    const value = member.slice(eq + 1).trim();
    if (/[\s",;\\]/.test(value))
      throw new HboneError('HBONE_ERR_INVALID_HEADER', `baggage value for ${key} has forbidden characters`);
    try {
      out.set(key, decodeURIComponent(value));
    } catch {
      throw new HboneError('HBONE_ERR_INVALID_HEADER', `baggage value for ${key} has a bad percent-encoding`);
    }
  }
  return out;
}

/** Reads ztunnel's members back from a parsed baggage map. */
export function parseHboneBaggage(members: ReadonlyMap<string, string>): HboneBaggage {
  const result: { -readonly [K in keyof HboneBaggage]: HboneBaggage[K] } = {};
  const set = <K extends keyof HboneBaggage>(k: K, v: HboneBaggage[K] | undefined): void => {
    if (v !== undefined) result[k] = v;
  };
  set('clusterName', members.get('k8s.cluster.name'));
  set('namespace', members.get('k8s.namespace.name'));
  for (const kind of ['deployment', 'pod', 'job', 'cronjob'] as const) {
    const name = members.get(`k8s.${kind}.name`);
    if (name !== undefined) {
      result.workloadKind = kind;
      result.workloadName = name;
      break;
    }
  }
  set('serviceName', members.get('service.name'));
  set('serviceVersion', members.get('service.version'));
  set('region', members.get('cloud.region'));
  set('zone', members.get('cloud.availability_zone'));
  return result;
}
