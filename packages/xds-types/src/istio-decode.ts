/*
 * Hand-written decoders for `istio.workload.Address` and
 * `istio.security.Authorization`, straight from the wire into the documented
 * shape: the same objects protobufjs `decode` + `toObject(DECODE_OPTIONS)`
 * produce (same keys in the same order, defaults filled, enums as names, an
 * unknown enum number kept as a number, bytes as Buffer views, oneof names),
 * without the intermediate message instances. Checked field by field against
 * protobufjs in test/fast-decode.test.ts. They are the per-resource hot path
 * of every client's full sync.
 */
import type {
  Address,
  ApplicationTunnel,
  Authorization,
  AuthorizationAddress,
  AuthorizationClause,
  AuthorizationMatch,
  AuthorizationRule,
  GatewayAddress,
  LoadBalancing,
  Locality,
  NamespacedHostname,
  NetworkAddress,
  Port,
  PortList,
  Service,
  ServiceAccountMatch,
  StringMatch,
  Workload,
} from './istio-types.js';
import { LEN, WireReader } from './wire.js';

// Enum names by number, as in the .proto text (istio.ts).
const TUNNEL_PROTOCOL = ['NONE', 'HBONE'];
const WORKLOAD_STATUS = ['HEALTHY', 'UNHEALTHY'];
const WORKLOAD_TYPE = ['DEPLOYMENT', 'CRONJOB', 'POD', 'JOB'];
const APP_PROTOCOL = ['UNKNOWN', 'HTTP11', 'HTTP2', 'GRPC', 'TCP', 'TLS'];
const IP_FAMILIES = ['AUTOMATIC', 'IPV4_ONLY', 'IPV6_ONLY', 'DUAL'];
const NETWORK_MODE = ['STANDARD', 'HOST_NETWORK'];
const TUNNEL_APP_PROTOCOL = ['NONE', 'PROXY'];
const LB_SCOPE = ['UNSPECIFIED_SCOPE', 'REGION', 'ZONE', 'SUBZONE', 'NODE', 'CLUSTER', 'NETWORK'];
const LB_MODE = ['UNSPECIFIED_MODE', 'STRICT', 'FAILOVER'];
const LB_HEALTH = ['ONLY_HEALTHY', 'ALLOW_ALL'];
const SCOPE = ['GLOBAL', 'NAMESPACE', 'WORKLOAD_SELECTOR'];
const ACTION = ['ALLOW', 'DENY'];

/**
 * Appends to a repeated field. The first element makes an exact one-element
 * array: an empty array grown by `push` reserves room for 17 elements, which
 * for 10 000 resources per client is megabytes of empty slots to allocate and
 * for the garbage collector to copy.
 */
function append<T>(list: T[], value: T): T[] {
  if (list.length === 0) return [value];
  list.push(value);
  return list;
}

/** An enum's name, or the number itself when this schema does not know it (protobufjs `toObject`). */
function enumName<T extends string>(names: readonly string[], value: number): T {
  return (value >= 0 && value < names.length ? names[value] : value) as T;
}

/**
 * Decodes an `istio.workload.Address` (`bytes[start, end)`, all of `bytes` by
 * default) into the documented shape; throws on malformed input.
 */
export function readAddress(bytes: Uint8Array, start = 0, end: number = bytes.length): Address {
  const r = new WireReader(bytes, start);
  let workload: Workload | undefined;
  let service: Service | undefined;
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        workload = readWorkload(r, r.length(end));
        break;
      case 2:
        service = readService(r, r.length(end));
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  // The usual cases as exact-size literals; like toObject, both members may be
  // present, and then `type` names the last one declared.
  if (service === undefined) return workload === undefined ? ({} as Address) : { workload, type: 'workload' };
  if (workload === undefined) return { service, type: 'service' };
  return { workload, type: 'service', service } as unknown as Address;
}

function readWorkload(r: WireReader, end: number): Workload {
  // Fields go to locals and the object is built once at the end, every
  // field in its final place (no empty arrays replaced, no per-field stores).
  let addresses: Uint8Array[] | undefined;
  let authorizationPolicies: string[] | undefined;
  const services: Record<string, PortList> = {};
  let name = '';
  let namespace = '';
  let network = '';
  let tunnelProtocol: Workload['tunnelProtocol'] = 'NONE';
  let trustDomain = '';
  let serviceAccount = '';
  let waypoint: GatewayAddress | null = null;
  let node = '';
  let canonicalName = '';
  let canonicalRevision = '';
  let workloadType: Workload['workloadType'] = 'DEPLOYMENT';
  let workloadName = '';
  let nativeTunnel = false;
  let status: Workload['status'] = 'HEALTHY';
  let clusterId = '';
  let networkGateway: GatewayAddress | null = null;
  let uid = '';
  let hostname = '';
  let applicationTunnel: ApplicationTunnel | null = null;
  let locality: Locality | null = null;
  let networkMode: Workload['networkMode'] = 'STANDARD';
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 20:
        uid = r.string(end);
        break;
      case 1:
        // A pod's name: unique, not worth interning.
        name = r.uniqueString(end);
        break;
      case 2:
        namespace = r.string(end);
        break;
      case 3: {
        const ip = r.bytes(end);
        if (addresses === undefined) addresses = [ip];
        else addresses.push(ip);
        break;
      }
      case 21:
        hostname = r.string(end);
        break;
      case 4:
        network = r.string(end);
        break;
      case 5:
        tunnelProtocol = enumName(TUNNEL_PROTOCOL, r.int32(end));
        break;
      case 6:
        trustDomain = r.string(end);
        break;
      case 7:
        serviceAccount = r.string(end);
        break;
      case 8:
        waypoint = readGatewayAddress(r, r.length(end));
        break;
      case 19:
        networkGateway = readGatewayAddress(r, r.length(end));
        break;
      case 9:
        node = r.string(end);
        break;
      case 10:
        canonicalName = r.string(end);
        break;
      case 11:
        canonicalRevision = r.string(end);
        break;
      case 12:
        workloadType = enumName(WORKLOAD_TYPE, r.int32(end));
        break;
      case 13:
        workloadName = r.string(end);
        break;
      case 14:
        nativeTunnel = r.uint32(end) !== 0;
        break;
      case 22:
        readServicesEntry(r, r.length(end), services);
        break;
      case 16: {
        const policy = r.string(end);
        if (authorizationPolicies === undefined) authorizationPolicies = [policy];
        else authorizationPolicies.push(policy);
        break;
      }
      case 17:
        status = enumName(WORKLOAD_STATUS, r.int32(end));
        break;
      case 18:
        clusterId = r.string(end);
        break;
      case 23:
        applicationTunnel = readApplicationTunnel(r, r.length(end));
        break;
      case 24:
        locality = readLocality(r, r.length(end));
        break;
      case 25:
        networkMode = enumName(NETWORK_MODE, r.int32(end));
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return {
    addresses: addresses ?? [],
    authorizationPolicies: authorizationPolicies ?? [],
    services,
    name,
    namespace,
    network,
    tunnelProtocol,
    trustDomain,
    serviceAccount,
    waypoint,
    node,
    canonicalName,
    canonicalRevision,
    workloadType,
    workloadName,
    nativeTunnel,
    status,
    clusterId,
    networkGateway,
    uid,
    hostname,
    applicationTunnel,
    locality,
    networkMode,
  };
}

/** One `map<string, PortList> services` entry; the last entry for a key wins. */
function readServicesEntry(r: WireReader, end: number, services: Record<string, PortList>): void {
  let key = '';
  let value: PortList | null = null;
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        key = r.string(end);
        break;
      case 2:
        value = readPortList(r, r.length(end));
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  // protobufjs' toObject fails on an entry without a value; so does this.
  if (value === null) throw new TypeError(`services entry ${JSON.stringify(key)} has no value`);
  if (key === '__proto__') {
    Object.defineProperty(services, key, { value, writable: true, enumerable: true, configurable: true });
  } else services[key] = value;
}

function readPortList(r: WireReader, end: number): PortList {
  let ports: Port[] | undefined;
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag >>> 3 === 1) {
      const port = readPort(r, r.length(end));
      if (ports === undefined) ports = [port];
      else ports.push(port);
    } else r.skip(tag & 7, end);
  }
  r.finish(end);
  return { ports: ports ?? [] };
}

function readPort(r: WireReader, end: number): Port {
  let servicePort = 0;
  let targetPort = 0;
  let appProtocol: Port['appProtocol'] = 'UNKNOWN';
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        servicePort = r.uint32(end);
        break;
      case 2:
        targetPort = r.uint32(end);
        break;
      case 3:
        appProtocol = enumName(APP_PROTOCOL, r.int32(end));
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return { servicePort, targetPort, appProtocol };
}

function readGatewayAddress(r: WireReader, end: number): GatewayAddress {
  let hostname: NamespacedHostname | undefined;
  let address: NetworkAddress | undefined;
  let port = 0;
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        hostname = readNamespacedHostname(r, r.length(end));
        break;
      case 2:
        address = readNetworkAddress(r, r.length(end));
        break;
      case 3:
        port = r.uint32(end);
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  const d: GatewayAddress = { hboneMtlsPort: port };
  if (hostname !== undefined) {
    d.hostname = hostname;
    d.destination = 'hostname';
  }
  if (address !== undefined) {
    d.address = address;
    d.destination = 'address';
  }
  return d;
}

function readNamespacedHostname(r: WireReader, end: number): NamespacedHostname {
  const d: NamespacedHostname = { namespace: '', hostname: '' };
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        d.namespace = r.string(end);
        break;
      case 2:
        d.hostname = r.string(end);
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return d;
}

function readNetworkAddress(r: WireReader, end: number): NetworkAddress {
  let network = '';
  let address: Uint8Array | undefined;
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        network = r.string(end);
        break;
      case 2:
        address = r.bytes(end);
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return { network, address: address ?? Buffer.alloc(0) };
}

function readApplicationTunnel(r: WireReader, end: number): ApplicationTunnel {
  const d: ApplicationTunnel = { protocol: 'NONE', port: 0 };
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        d.protocol = enumName(TUNNEL_APP_PROTOCOL, r.int32(end));
        break;
      case 2:
        d.port = r.uint32(end);
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return d;
}

function readLocality(r: WireReader, end: number): Locality {
  const d: Locality = { region: '', zone: '', subzone: '' };
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        d.region = r.string(end);
        break;
      case 2:
        d.zone = r.string(end);
        break;
      case 3:
        d.subzone = r.string(end);
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return d;
}

function readService(r: WireReader, end: number): Service {
  const d: Service = {
    addresses: [],
    ports: [],
    subjectAltNames: [],
    name: '',
    namespace: '',
    hostname: '',
    waypoint: null,
    loadBalancing: null,
    ipFamilies: 'AUTOMATIC',
  };
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        d.name = r.string(end);
        break;
      case 2:
        d.namespace = r.string(end);
        break;
      case 3:
        d.hostname = r.string(end);
        break;
      case 4:
        d.addresses = append(d.addresses, readNetworkAddress(r, r.length(end)));
        break;
      case 5:
        d.ports = append(d.ports, readPort(r, r.length(end)));
        break;
      case 6:
        d.subjectAltNames = append(d.subjectAltNames, r.string(end));
        break;
      case 7:
        d.waypoint = readGatewayAddress(r, r.length(end));
        break;
      case 8:
        d.loadBalancing = readLoadBalancing(r, r.length(end));
        break;
      case 9:
        d.ipFamilies = enumName(IP_FAMILIES, r.int32(end));
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return d;
}

function readLoadBalancing(r: WireReader, end: number): LoadBalancing {
  const d: LoadBalancing = { routingPreference: [], mode: 'UNSPECIFIED_MODE', healthPolicy: 'ONLY_HEALTHY' };
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        if ((tag & 7) === LEN) {
          const stop = r.length(end);
          while (r.pos < stop)
            d.routingPreference = append(d.routingPreference, enumName(LB_SCOPE, r.int32(stop)));
          r.finish(stop);
        } else d.routingPreference = append(d.routingPreference, enumName(LB_SCOPE, r.int32(end)));
        break;
      case 2:
        d.mode = enumName(LB_MODE, r.int32(end));
        break;
      case 3:
        d.healthPolicy = enumName(LB_HEALTH, r.int32(end));
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return d;
}

/**
 * Decodes an `istio.security.Authorization` (`bytes[start, end)`, all of
 * `bytes` by default) into the documented shape; throws on malformed input.
 */
export function readAuthorization(bytes: Uint8Array, start = 0, end: number = bytes.length): Authorization {
  const r = new WireReader(bytes, start);
  const d: Authorization = {
    rules: [],
    name: '',
    namespace: '',
    scope: 'GLOBAL',
    action: 'ALLOW',
    dryRun: false,
  };
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        d.name = r.string(end);
        break;
      case 2:
        d.namespace = r.string(end);
        break;
      case 3:
        d.scope = enumName(SCOPE, r.int32(end));
        break;
      case 4:
        d.action = enumName(ACTION, r.int32(end));
        break;
      case 5:
        d.rules = append(d.rules, readRule(r, r.length(end)));
        break;
      case 6:
        d.dryRun = r.uint32(end) !== 0;
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  return d;
}

function readRule(r: WireReader, end: number): AuthorizationRule {
  const d: AuthorizationRule = { clauses: [] };
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag >>> 3 === 1) d.clauses = append(d.clauses, readClause(r, r.length(end)));
    else r.skip(tag & 7, end);
  }
  r.finish(end);
  return d;
}

function readClause(r: WireReader, end: number): AuthorizationClause {
  const d: AuthorizationClause = { matches: [] };
  while (r.pos < end) {
    const tag = r.uint32(end);
    if (tag >>> 3 === 2) d.matches = append(d.matches, readMatch(r, r.length(end)));
    else r.skip(tag & 7, end);
  }
  r.finish(end);
  return d;
}

function readMatch(r: WireReader, end: number): AuthorizationMatch {
  const d: AuthorizationMatch = {
    namespaces: [],
    notNamespaces: [],
    principals: [],
    notPrincipals: [],
    sourceIps: [],
    notSourceIps: [],
    destinationIps: [],
    notDestinationIps: [],
    destinationPorts: [],
    notDestinationPorts: [],
    serviceAccounts: [],
    notServiceAccounts: [],
  };
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        d.namespaces = append(d.namespaces, readStringMatch(r, r.length(end)));
        break;
      case 2:
        d.notNamespaces = append(d.notNamespaces, readStringMatch(r, r.length(end)));
        break;
      case 3:
        d.principals = append(d.principals, readStringMatch(r, r.length(end)));
        break;
      case 4:
        d.notPrincipals = append(d.notPrincipals, readStringMatch(r, r.length(end)));
        break;
      case 5:
        d.sourceIps = append(d.sourceIps, readCidr(r, r.length(end)));
        break;
      case 6:
        d.notSourceIps = append(d.notSourceIps, readCidr(r, r.length(end)));
        break;
      case 7:
        d.destinationIps = append(d.destinationIps, readCidr(r, r.length(end)));
        break;
      case 8:
        d.notDestinationIps = append(d.notDestinationIps, readCidr(r, r.length(end)));
        break;
      case 9:
        d.destinationPorts = readPorts(r, tag, end, d.destinationPorts);
        break;
      case 10:
        d.notDestinationPorts = readPorts(r, tag, end, d.notDestinationPorts);
        break;
      case 11:
        d.serviceAccounts = append(d.serviceAccounts, readServiceAccountMatch(r, r.length(end)));
        break;
      case 12:
        d.notServiceAccounts = append(d.notServiceAccounts, readServiceAccountMatch(r, r.length(end)));
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return d;
}

/** `repeated uint32`, packed or not (a parser must accept both). */
function readPorts(r: WireReader, tag: number, end: number, into: number[]): number[] {
  let list = into;
  if ((tag & 7) === LEN) {
    const stop = r.length(end);
    while (r.pos < stop) list = append(list, r.uint32(stop));
    r.finish(stop);
  } else list = append(list, r.uint32(end));
  return list;
}

function readStringMatch(r: WireReader, end: number): StringMatch {
  let exact: string | undefined;
  let prefix: string | undefined;
  let suffix: string | undefined;
  let presence: Record<string, never> | undefined;
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        exact = r.string(end);
        break;
      case 2:
        prefix = r.string(end);
        break;
      case 3:
        suffix = r.string(end);
        break;
      case 4: {
        // google.protobuf.Empty: no fields, unknown ones skipped.
        const stop = r.length(end);
        while (r.pos < stop) r.skip(r.uint32(stop) & 7, stop);
        r.finish(stop);
        presence = {};
        break;
      }
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  const d: Record<string, unknown> = {};
  if (exact !== undefined) {
    d.exact = exact;
    d.matchType = 'exact';
  }
  if (prefix !== undefined) {
    d.prefix = prefix;
    d.matchType = 'prefix';
  }
  if (suffix !== undefined) {
    d.suffix = suffix;
    d.matchType = 'suffix';
  }
  if (presence !== undefined) {
    d.presence = presence;
    d.matchType = 'presence';
  }
  return d as unknown as StringMatch;
}

function readCidr(r: WireReader, end: number): AuthorizationAddress {
  let address: Uint8Array | undefined;
  let length = 0;
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        address = r.bytes(end);
        break;
      case 2:
        length = r.uint32(end);
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return { address: address ?? Buffer.alloc(0), length };
}

function readServiceAccountMatch(r: WireReader, end: number): ServiceAccountMatch {
  const d: ServiceAccountMatch = { namespace: '', serviceAccount: '' };
  while (r.pos < end) {
    const tag = r.uint32(end);
    switch (tag >>> 3) {
      case 1:
        d.namespace = r.string(end);
        break;
      case 2:
        d.serviceAccount = r.string(end);
        break;
      default:
        r.skip(tag & 7, end);
    }
  }
  r.finish(end);
  return d;
}
