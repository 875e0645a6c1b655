import { CniRedirectError } from './errors.js';

/** The ports ztunnel listens on inside each captured pod's netns (same numbers as Istio). */
export interface CapturePorts {
  /** Outbound capture (Istio 15001). */
  readonly outbound: number;
  /** Inbound plaintext capture (Istio 15006). */
  readonly inbound: number;
  /** HBONE, never redirected (Istio 15008). */
  readonly hbone: number;
  /** DNS proxy (Istio 15053). */
  readonly dns: number;
}

/** Options of {@link renderPodRules}; every field has Istio's default. */
export interface PodRuleOptions {
  /** nftables table name (family `inet`); default `amesh`. */
  readonly table?: string;
  /** Redirect DNS (UDP 53 not on lo, TCP 53 not to loopback) to {@link CapturePorts.dns}; default false. */
  readonly dnsCapture?: boolean;
  /** Capture ports; default 15001 / 15006 / 15008 / 15053. */
  readonly ports?: Partial<CapturePorts>;
  /** Packets whose `mark & markMask == mark` come from ztunnel and are never redirected; default 0x539. */
  readonly mark?: number;
  /** Mask of {@link PodRuleOptions.mark}; default 0xfff. */
  readonly markMask?: number;
  /** Source address of kubelet probes (SNAT-ed on the host), passed untouched; default 169.254.7.127. */
  readonly probeSourceIPv4?: string;
  /** IPv6 probe source, passed untouched; default fd16:9254:7127:1337:ffff:ffff:ffff:ffff (Istio's). */
  readonly probeSourceIPv6?: string;
}

/** The defaults of {@link PodRuleOptions}, resolved. */
export interface ResolvedPodRuleOptions {
  readonly table: string;
  readonly dnsCapture: boolean;
  readonly ports: CapturePorts;
  readonly mark: number;
  readonly markMask: number;
  readonly probeSourceIPv4: string;
  readonly probeSourceIPv6: string;
}

/** Istio's capture ports. */
export const DEFAULT_CAPTURE_PORTS: CapturePorts = Object.freeze({
  outbound: 15001,
  inbound: 15006,
  hbone: 15008,
  dns: 15053,
});

/** The mark ztunnel sets on its own sockets (Istio: 0x539, "1337"). */
export const ZTUNNEL_MARK = 0x539;
/** The mask applied before comparing {@link ZTUNNEL_MARK}. */
export const ZTUNNEL_MARK_MASK = 0xfff;
/** Source address kubelet probes are SNAT-ed to on the host (Istio). */
export const PROBE_SOURCE_IPV4 = '169.254.7.127';
/** IPv6 probe source address (Istio). */
export const PROBE_SOURCE_IPV6 = 'fd16:9254:7127:1337:ffff:ffff:ffff:ffff';
/** Default nftables table name (family `inet`, one table per pod netns for IPv4 and IPv6). */
export const DEFAULT_TABLE = 'amesh';

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function isIPv6(value: string): boolean {
  if (!/^[0-9A-Fa-f:]+$/.test(value) || !value.includes(':')) return false;
  const halves = value.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  if (groups.some((g) => g.length === 0 || g.length > 4)) return false;
  return halves.length === 2 ? groups.length < 8 : groups.length === 8;
}

/**
 * Fills in Istio's defaults and validates every option.
 * @throws {CniRedirectError} `CNI_ERR_INVALID_RULE_OPTIONS` naming the first invalid option
 */
export function resolvePodRuleOptions(options: PodRuleOptions = {}): ResolvedPodRuleOptions {
  const invalid = (what: string): never => {
    throw new CniRedirectError('CNI_ERR_INVALID_RULE_OPTIONS', what);
  };
  const table = options.table ?? DEFAULT_TABLE;
  if (!TABLE_NAME.test(table)) invalid(`table name ${JSON.stringify(table)} must match ${TABLE_NAME}`);
  const ports: CapturePorts = { ...DEFAULT_CAPTURE_PORTS, ...options.ports };
  for (const [name, port] of Object.entries(ports)) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      invalid(`port ${name} must be an integer in 1..65535, got ${port}`);
    }
  }
  if (new Set([ports.outbound, ports.inbound, ports.hbone, ports.dns]).size !== 4) {
    invalid('capture ports must be four different ports');
  }
  const mark = options.mark ?? ZTUNNEL_MARK;
  const markMask = options.markMask ?? ZTUNNEL_MARK_MASK;
  for (const [name, value] of [
    ['mark', mark],
    ['markMask', markMask],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 0xffffffff) {
      invalid(`${name} must be an integer in 1..0xffffffff, got ${value}`);
    }
  }
  if ((mark & markMask) >>> 0 !== mark) invalid('mark has bits outside markMask, so it could never match');
  const probeSourceIPv4 = options.probeSourceIPv4 ?? PROBE_SOURCE_IPV4;
  if (!IPV4.test(probeSourceIPv4)) invalid(`probeSourceIPv4 ${JSON.stringify(probeSourceIPv4)} is not IPv4`);
  const probeSourceIPv6 = options.probeSourceIPv6 ?? PROBE_SOURCE_IPV6;
  if (!isIPv6(probeSourceIPv6)) invalid(`probeSourceIPv6 ${JSON.stringify(probeSourceIPv6)} is not IPv6`);
  return {
    table,
    dnsCapture: options.dnsCapture ?? false,
    ports,
    mark,
    markMask,
    probeSourceIPv4,
    probeSourceIPv6,
  };
}

const hex = (value: number): string => `0x${value.toString(16).padStart(8, '0')}`;

/**
 * Renders the nftables script that installs (or atomically replaces) the
 * in-pod redirection rules, for `nft -f` inside the pod's network namespace.
 *
 * One `inet` table covers IPv4 and IPv6. Each connection's first packet is
 * evaluated (nat chains); in order:
 *
 * - prerouting (inbound): ztunnel-marked packets, the probe sources, packets
 *   arriving on `lo`, and TCP to the HBONE port pass; other TCP → inbound port.
 * - output (outbound): ztunnel-marked packets pass; with DNS capture, UDP 53
 *   not on `lo` → DNS port; loopback destinations pass; with DNS capture, TCP
 *   53 → DNS port; anything leaving on `lo` (the pod's own addresses) passes;
 *   other TCP → outbound port.
 *
 * The script starts with `table …` + `delete table …` so applying it is
 * idempotent and atomic (one nft transaction: old rules or new, never none).
 *
 * @throws {CniRedirectError} `CNI_ERR_INVALID_RULE_OPTIONS`
 * @example
 * ```ts
 * const script = renderPodRules({ dnsCapture: true });
 * // feed to: nsenter --net=/var/run/netns/pod1 nft -f -
 * ```
 */
export function renderPodRules(options: PodRuleOptions = {}): string {
  const o = resolvePodRuleOptions(options);
  const markReturn = `meta mark & ${hex(o.markMask)} == ${hex(o.mark)} return`;
  const lines = [
    '# amesh in-pod redirection rules (generated by @amesh/cni-redirect; do not edit)',
    `table inet ${o.table}`,
    `delete table inet ${o.table}`,
    `table inet ${o.table} {`,
    `\tcomment "${RULES_COMMENT}"`,
    '\tchain prerouting {',
    '\t\ttype nat hook prerouting priority -100; policy accept;',
    `\t\t${markReturn}`,
    `\t\tip saddr ${o.probeSourceIPv4} return`,
    `\t\tip6 saddr ${o.probeSourceIPv6} return`,
    '\t\tiifname "lo" return',
    `\t\ttcp dport ${o.ports.hbone} return`,
    `\t\tmeta l4proto tcp redirect to :${o.ports.inbound}`,
    '\t}',
    '\tchain output {',
    '\t\ttype nat hook output priority -100; policy accept;',
    `\t\t${markReturn}`,
    ...(o.dnsCapture ? [`\t\toifname != "lo" udp dport 53 redirect to :${o.ports.dns}`] : []),
    '\t\tip daddr 127.0.0.0/8 return',
    '\t\tip6 daddr ::1 return',
    ...(o.dnsCapture ? [`\t\ttcp dport 53 redirect to :${o.ports.dns}`] : []),
    '\t\toifname "lo" return',
    `\t\tmeta l4proto tcp redirect to :${o.ports.outbound}`,
    '\t}',
    '}',
    '',
  ];
  return lines.join('\n');
}

/** The comment set on every table amesh creates; how amesh recognises its own tables. */
export const RULES_COMMENT = 'amesh in-pod redirection';

/**
 * Renders the nftables script that removes the in-pod table. Idempotent:
 * succeeds whether or not the table exists (create-then-delete in one
 * transaction; `destroy` needs nft ≥ 1.0.8).
 * @throws {CniRedirectError} `CNI_ERR_INVALID_RULE_OPTIONS` for an invalid table name
 */
export function renderPodRulesRemoval(options: Pick<PodRuleOptions, 'table'> = {}): string {
  const table = options.table ?? DEFAULT_TABLE;
  if (!TABLE_NAME.test(table)) {
    throw new CniRedirectError(
      'CNI_ERR_INVALID_RULE_OPTIONS',
      `table name ${JSON.stringify(table)} is invalid`,
    );
  }
  return `table inet ${table}\ndelete table inet ${table}\n`;
}
