/**
 * resolv.conf (resolver(5)) parsing and upstream address parsing, for the
 * servers the proxy forwards to.
 */
import { DnsError } from './errors.js';
import { formatIp, parseIpv4, parseIpv6 } from '@amesh/ip';

/** The parts of resolv.conf the proxy uses. */
export interface ResolvConf {
  /** `nameserver` addresses in order (at most 3 are used by glibc; all are kept here). */
  readonly nameservers: readonly string[];
  /** `search` domains (or the `domain` line when there is no `search`). */
  readonly search: readonly string[];
  /** `options ndots:N`, default 1, capped at 15 like glibc. */
  readonly ndots: number;
  /** The nameservers as upstream strings for `DnsProxy` (`10.0.0.10:53`, `[fd00::a]:53`). */
  readonly upstreams: readonly string[];
}

/**
 * Parses resolv.conf text. Unknown lines are ignored; the last `search` or
 * `domain` line wins, as in glibc. A nameserver that is not an IP address is skipped.
 * @example
 * ```ts
 * readResolvConf('nameserver 10.96.0.10\nsearch demo.svc.cluster.local svc.cluster.local\noptions ndots:5\n');
 * ```
 */
export function readResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let search: string[] = [];
  let ndots = 1;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (line === '') continue;
    const [keyword, ...args] = line.split(/\s+/);
    if (keyword === 'nameserver' && args[0] !== undefined) {
      const address = args[0].replace(/%.*$/, '');
      if (parseIpv4(address) || parseIpv6(address)) nameservers.push(address);
    } else if (keyword === 'search' || keyword === 'domain') {
      search = keyword === 'domain' ? args.slice(0, 1) : args;
    } else if (keyword === 'options') {
      for (const option of args) {
        const m = /^ndots:(\d+)$/.exec(option);
        if (m) ndots = Math.min(Number(m[1]), 15);
      }
    }
  }
  const upstreams = nameservers.map((ns) => (ns.includes(':') ? `[${ns}]:53` : `${ns}:53`));
  return { nameservers, search, ndots, upstreams };
}

/** An upstream server address. */
export interface DnsUpstream {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
}

/**
 * Parses an upstream: `10.0.0.10`, `10.0.0.10:53`, `fd00::a`, `[fd00::a]:53` (port 53 by default).
 * @throws {DnsError} `DNS_ERR_INVALID_CONFIG` when it is none of these
 */
export function parseUpstream(text: string): DnsUpstream {
  const bad = () =>
    new DnsError(
      'DNS_ERR_INVALID_CONFIG',
      `upstream ${JSON.stringify(text)} is not ip, ip:port or [ipv6]:port`,
    );
  let host = text;
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const hostPort = /^([^:]+):(\d+)$/.exec(text);
  if (bracket) {
    host = bracket[1] as string;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (hostPort) {
    host = hostPort[1] as string;
    port = Number(hostPort[2]);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad();
  const v4 = parseIpv4(host);
  if (v4) return { family: 4, address: host, port };
  const v6 = parseIpv6(host);
  if (v6) return { family: 6, address: formatIp(v6), port };
  throw bad();
}
