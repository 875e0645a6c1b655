/**
 * The mesh's DNS name table and the responder that answers from it, like
 * Istio's DNS proxy (pkg/dns, ztunnel's dns module): service hostnames
 * answer with their VIPs (or, for a headless service, the workloads' IPs),
 * everything else is forwarded upstream. Pure: no sockets, no clock.
 */
import { nameToLabels, parseDnsMessage } from './codec.js';
import { DnsError } from './errors.js';
import { formatIp, parseIpv4, parseIpv6 } from '@amesh/ip';
import type { DnsFlags, DnsMessage, DnsOptRecord, DnsQuestion, DnsRecord } from './message.js';
import { DNS_CLASS_IN, DnsOpcode, DnsRcode, DnsType, findOpt, foldName } from './message.js';

/** TTL of table answers, in seconds (Istio's DNS proxy uses 30). */
export const DNS_TABLE_TTL_SECONDS = 30;
/** UDP payload size this responder advertises in its OPT record. */
export const DNS_ADVERTISED_UDP_SIZE = 4096;

/** One service (or headless workload set) the table answers for. */
export interface DnsNameEntry {
  /** Fully qualified hostname, e.g. `echo.demo.svc.cluster.local` (a trailing dot is allowed). */
  readonly hostname: string;
  /** The service's namespace; a client in it may use the bare service name. */
  readonly namespace: string;
  /** IPv4 and IPv6 addresses: the service VIPs, or the workloads' IPs for a headless service. */
  readonly addresses: readonly string[];
}

/** Options of {@link DnsNameTable}. */
export interface DnsNameTableOptions {
  /** Kubernetes cluster domain. Default `cluster.local`. */
  readonly clusterDomain?: string;
  /** TTL of answers in seconds. Default {@link DNS_TABLE_TTL_SECONDS}. */
  readonly ttlSeconds?: number;
}

/** Who asks: the namespace of the client pod, when known. */
export interface DnsClientInfo {
  readonly namespace?: string | undefined;
}

/** What to do with a parsed query: send `response`, or forward it upstream. */
export type DnsAnswerDecision =
  | { readonly kind: 'answer'; readonly response: DnsMessage }
  | { readonly kind: 'forward' };

/**
 * What to do with the bytes of a query:
 * - `answer`: send `response` (from the table, or NOTIMP/FORMERR/BADVERS),
 * - `forward`: send the query upstream (`query` is the parsed form),
 * - `reject`: the bytes did not parse but the header did; send the FORMERR `response` and log `error`,
 * - `drop`: send nothing (no readable header, or a response arriving on the query port); log `error`.
 */
export type DnsQueryDecision =
  | { readonly kind: 'answer'; readonly query: DnsMessage; readonly response: DnsMessage }
  | { readonly kind: 'forward'; readonly query: DnsMessage }
  | { readonly kind: 'reject'; readonly response: DnsMessage; readonly error: DnsError }
  | { readonly kind: 'drop'; readonly error: DnsError };

interface StoredEntry {
  readonly entry: DnsNameEntry;
  readonly key: string;
  readonly v4: readonly string[];
  readonly v6: readonly string[];
  readonly aliases: readonly string[];
  readonly shortName: string | undefined;
}

/**
 * A table of mesh hostnames with Kubernetes search-domain aliases, and the
 * responder that answers A/AAAA queries from it.
 *
 * For `svc.ns.svc.<clusterDomain>` it also answers `svc.ns` and `svc.ns.svc`
 * from any client, and the bare `svc` from clients in namespace `ns` (what a
 * pod's resolv.conf search list produces). Names compare case-insensitively;
 * answers keep the question's case (RFC 4343 §4.1).
 *
 * @example
 * ```ts
 * const table = new DnsNameTable([{ hostname: 'echo.demo.svc.cluster.local', namespace: 'demo', addresses: ['10.96.0.10'] }]);
 * const decision = table.answer(query, { namespace: 'demo' });
 * ```
 */
export class DnsNameTable {
  readonly #byName = new Map<string, StoredEntry>();
  readonly #byAlias = new Map<string, StoredEntry>();
  /** Bare service name -> namespace -> entry. */
  readonly #byShortName = new Map<string, Map<string, StoredEntry>>();
  readonly #clusterSuffix: string;
  readonly #ttl: number;

  /**
   * @param entries - initial entries, as by {@link DnsNameTable.upsert}
   * @throws {DnsError} `DNS_ERR_INVALID_ENTRY` for a bad entry or option
   */
  constructor(entries: Iterable<DnsNameEntry> = [], options: DnsNameTableOptions = {}) {
    const domain = foldName(options.clusterDomain ?? 'cluster.local');
    try {
      if (domain === '') throw new Error('empty');
      nameToLabels(domain);
    } catch (cause) {
      throw new DnsError(
        'DNS_ERR_INVALID_ENTRY',
        `cluster domain ${JSON.stringify(options.clusterDomain)} is not a name`,
        {
          cause,
        },
      );
    }
    this.#clusterSuffix = `.svc.${domain}`;
    const ttl = options.ttlSeconds ?? DNS_TABLE_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fffffff) {
      throw new DnsError('DNS_ERR_INVALID_ENTRY', `ttlSeconds must be an integer in 0..2^31-1, got ${ttl}`);
    }
    this.#ttl = ttl;
    for (const entry of entries) this.upsert(entry);
  }

  /** Number of hostnames in the table. */
  get size(): number {
    return this.#byName.size;
  }

  /**
   * Adds or replaces the entry for `entry.hostname` (called on xDS updates).
   * @throws {DnsError} `DNS_ERR_INVALID_ENTRY` for a bad hostname, namespace or address; the table is unchanged
   */
  upsert(entry: DnsNameEntry): void {
    const stored = this.#validate(entry);
    this.remove(entry.hostname);
    this.#byName.set(stored.key, stored);
    for (const alias of stored.aliases) this.#byAlias.set(alias, stored);
    if (stored.shortName !== undefined) {
      let byNamespace = this.#byShortName.get(stored.shortName);
      if (!byNamespace) {
        byNamespace = new Map();
        this.#byShortName.set(stored.shortName, byNamespace);
      }
      byNamespace.set(entry.namespace, stored);
    }
  }

  /** Removes a hostname and its aliases; true when it was present. */
  remove(hostname: string): boolean {
    const stored = this.#byName.get(foldName(hostname));
    if (!stored) return false;
    this.#byName.delete(stored.key);
    for (const alias of stored.aliases) if (this.#byAlias.get(alias) === stored) this.#byAlias.delete(alias);
    if (stored.shortName !== undefined) {
      const byNamespace = this.#byShortName.get(stored.shortName);
      if (byNamespace?.get(stored.entry.namespace) === stored) byNamespace.delete(stored.entry.namespace);
      if (byNamespace?.size === 0) this.#byShortName.delete(stored.shortName);
    }
    return true;
  }

  /** The entry a query name resolves to for `client` (exact name first, then aliases), if any. */
  lookup(name: string, client: DnsClientInfo = {}): DnsNameEntry | undefined {
    return this.#find(name, client)?.entry;
  }

  /**
   * Answers a parsed query from the table, or says to forward it.
   *
   * - not a standard QUERY: NOTIMP; not exactly one question (or a response): FORMERR;
   *   EDNS version above 0: BADVERS (RFC 6891 §6.1.3);
   * - class IN, a known name: A/AAAA records (AA and RA set, RD and id copied,
   *   question echoed); another type, or no address of that family: NOERROR with no answers;
   * - anything else: `forward`.
   */
  answer(query: DnsMessage, client: DnsClientInfo = {}): DnsAnswerDecision {
    const opt = findOpt(query);
    if (query.flags.qr) return { kind: 'answer', response: errorResponse(query, DnsRcode.FORMERR, [], opt) };
    if (query.flags.opcode !== DnsOpcode.QUERY) {
      return {
        kind: 'answer',
        response: errorResponse(query, DnsRcode.NOTIMP, query.questions.slice(0, 1), opt),
      };
    }
    const question = query.questions[0];
    if (query.questions.length !== 1 || question === undefined) {
      return { kind: 'answer', response: errorResponse(query, DnsRcode.FORMERR, [], opt) };
    }
    if (opt && opt.version > 0)
      return { kind: 'answer', response: errorResponse(query, DnsRcode.BADVERS, [question], opt) };
    if (question.class !== DNS_CLASS_IN) return { kind: 'forward' };
    const stored = this.#find(question.name, client);
    if (!stored) return { kind: 'forward' };
    const answers: DnsRecord[] = [];
    const base = { name: question.name, class: DNS_CLASS_IN, ttl: this.#ttl };
    if (question.type === DnsType.A)
      for (const address of stored.v4) answers.push({ kind: 'A', ...base, address });
    if (question.type === DnsType.AAAA)
      for (const address of stored.v6) answers.push({ kind: 'AAAA', ...base, address });
    return {
      kind: 'answer',
      response: {
        id: query.id,
        flags: responseFlags(query.flags, DnsRcode.NOERROR, true),
        questions: [question],
        answers,
        authorities: [],
        additionals: opt ? [responseOpt(DnsRcode.NOERROR)] : [],
      },
    };
  }

  #find(name: string, client: DnsClientInfo): StoredEntry | undefined {
    const key = foldName(name);
    const exact = this.#byName.get(key) ?? this.#byAlias.get(key);
    if (exact) return exact;
    if (client.namespace !== undefined && !key.includes('.'))
      return this.#byShortName.get(key)?.get(client.namespace);
    return undefined;
  }

  #validate(entry: DnsNameEntry): StoredEntry {
    const key = foldName(entry.hostname);
    try {
      if (key === '') throw new Error('empty hostname');
      nameToLabels(key);
    } catch (cause) {
      throw new DnsError(
        'DNS_ERR_INVALID_ENTRY',
        `hostname ${JSON.stringify(entry.hostname)} is not a DNS name`,
        {
          cause,
        },
      );
    }
    if (typeof entry.namespace !== 'string' || entry.namespace === '' || entry.namespace.includes('.')) {
      throw new DnsError(
        'DNS_ERR_INVALID_ENTRY',
        `namespace ${JSON.stringify(entry.namespace)} of ${key} is not valid`,
      );
    }
    const v4: string[] = [];
    const v6: string[] = [];
    for (const address of entry.addresses) {
      const a4 = parseIpv4(address);
      if (a4) {
        v4.push(formatIp(a4));
        continue;
      }
      const a6 = parseIpv6(address);
      if (!a6)
        throw new DnsError(
          'DNS_ERR_INVALID_ENTRY',
          `address ${JSON.stringify(address)} of ${key} is not an IP`,
        );
      v6.push(formatIp(a6));
    }
    const aliases: string[] = [];
    let shortName: string | undefined;
    if (key.endsWith(this.#clusterSuffix)) {
      const parts = key.slice(0, -this.#clusterSuffix.length).split('.');
      if (parts.length === 2) {
        const [svc, ns] = parts as [string, string];
        aliases.push(`${svc}.${ns}`, `${svc}.${ns}.svc`);
        shortName = svc;
      }
    }
    return { entry, key, v4, v6, aliases, shortName };
  }
}

function responseFlags(query: DnsFlags, rcode: number, aa: boolean): DnsFlags {
  return { qr: true, opcode: query.opcode, aa, tc: false, rd: query.rd, ra: true, z: 0, rcode: rcode & 0x0f };
}

function responseOpt(rcode: number): DnsOptRecord {
  return {
    kind: 'OPT',
    udpPayloadSize: DNS_ADVERTISED_UDP_SIZE,
    extendedRcode: rcode >> 4,
    version: 0,
    dnssecOk: false,
    z: 0,
    options: new Uint8Array(0),
  };
}

function errorResponse(
  query: DnsMessage,
  rcode: number,
  questions: readonly DnsQuestion[],
  opt: DnsOptRecord | undefined,
): DnsMessage {
  return {
    id: query.id,
    flags: responseFlags(query.flags, rcode, false),
    questions,
    answers: [],
    authorities: [],
    // BADVERS needs the OPT to carry its upper bits (RFC 6891 §6.1.3).
    additionals: opt || rcode > 15 ? [responseOpt(rcode)] : [],
  };
}

/**
 * A response with `rcode` (SERVFAIL, REFUSED, ...) for a parsed query: id, RD
 * and the question copied, RA set, OPT included when the query had one.
 */
export function dnsErrorResponse(query: DnsMessage, rcode: number): DnsMessage {
  return errorResponse(query, rcode, query.questions.slice(0, 1), findOpt(query));
}

/**
 * Decides what to do with the bytes of one query: parse, answer from the
 * table, forward, or refuse. Never throws for bad input: a message that does
 * not parse gives `reject` (FORMERR, when the header is readable and is a
 * query) or `drop`, with the typed error for the caller to log.
 */
export function respondToDnsQuery(
  table: DnsNameTable,
  bytes: Uint8Array,
  client: DnsClientInfo = {},
): DnsQueryDecision {
  let query: DnsMessage;
  try {
    query = parseDnsMessage(bytes);
  } catch (cause) {
    const error =
      cause instanceof DnsError ? cause : new DnsError('DNS_ERR_MALFORMED', 'query did not parse', { cause });
    // A response (QR=1) never gets a reply, so two proxies cannot ping-pong garbage.
    if (bytes.length < 12 || ((bytes[2] as number) & 0x80) !== 0) return { kind: 'drop', error };
    const flags: DnsFlags = {
      qr: true,
      opcode: ((bytes[2] as number) >> 3) & 0x0f,
      aa: false,
      tc: false,
      rd: ((bytes[2] as number) & 0x01) !== 0,
      ra: true,
      z: 0,
      rcode: DnsRcode.FORMERR,
    };
    const id = ((bytes[0] as number) << 8) | (bytes[1] as number);
    return {
      kind: 'reject',
      error,
      response: { id, flags, questions: [], answers: [], authorities: [], additionals: [] },
    };
  }
  if (query.flags.qr)
    return { kind: 'drop', error: new DnsError('DNS_ERR_MALFORMED', 'a response arrived as a query') };
  const decision = table.answer(query, client);
  return decision.kind === 'answer'
    ? { kind: 'answer', query, response: decision.response }
    : { kind: 'forward', query };
}

/**
 * Largest UDP response a client accepts: 512 octets (RFC 1035 §4.2.1), or
 * its EDNS(0) payload size (RFC 6891 §6.2.3) capped at 4096.
 */
export function udpResponseLimit(query: DnsMessage): number {
  const opt = findOpt(query);
  if (!opt) return 512;
  return Math.min(Math.max(opt.udpPayloadSize, 512), DNS_ADVERTISED_UDP_SIZE);
}
