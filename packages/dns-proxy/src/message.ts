/**
 * The DNS message model (RFC 1035 §4.1) as plain data. Counts are not stored:
 * they are the lengths of the four sections.
 */

/** Record and query types this package knows by name (RFC 1035 §3.2.2, RFC 3596, RFC 6891). */
export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

/** The Internet class (RFC 1035 §3.2.4). */
export const DNS_CLASS_IN = 1;

/** Response codes (RFC 1035 §4.1.1; BADVERS is RFC 6891 §9, an extended code). */
export const DnsRcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

/** Opcodes (RFC 1035 §4.1.1). */
export const DnsOpcode = { QUERY: 0, IQUERY: 1, STATUS: 2 } as const;

/** Header flags of RFC 1035 §4.1.1. `z` holds the 3 bits after RA (Z, AD, CD of RFC 4035). */
export interface DnsFlags {
  /** Query (false) or response (true). */
  readonly qr: boolean;
  /** 4-bit opcode; 0 is a standard query. */
  readonly opcode: number;
  /** Authoritative answer. */
  readonly aa: boolean;
  /** Truncated: the message did not fit the transport. */
  readonly tc: boolean;
  /** Recursion desired. */
  readonly rd: boolean;
  /** Recursion available. */
  readonly ra: boolean;
  /** The 3 bits Z, AD, CD, kept as they came (0..7). */
  readonly z: number;
  /** The low 4 bits of the response code (the upper 8 live in the OPT record). */
  readonly rcode: number;
}

/** One question (RFC 1035 §4.1.2). Names are text without the trailing dot; the root is `''`. */
export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

interface DnsRecordBase {
  /** Owner name, text without the trailing dot (`\.` and `\DDD` escapes for odd octets). */
  readonly name: string;
  readonly class: number;
  /** Time to live in seconds (0..2^31-1 by RFC 2181 §8; up to 2^32-1 is carried). */
  readonly ttl: number;
}

/** An A record (RFC 1035 §3.4.1). */
export interface DnsARecord extends DnsRecordBase {
  readonly kind: 'A';
  /** Dotted-quad IPv4 address. */
  readonly address: string;
}

/** An AAAA record (RFC 3596 §2.2). */
export interface DnsAaaaRecord extends DnsRecordBase {
  readonly kind: 'AAAA';
  /** IPv6 address; parsed records carry the RFC 5952 canonical form. */
  readonly address: string;
}

/** A CNAME record (RFC 1035 §3.3.1). */
export interface DnsCnameRecord extends DnsRecordBase {
  readonly kind: 'CNAME';
  readonly target: string;
}

/**
 * The EDNS(0) OPT pseudo-record (RFC 6891 §6.1). Its owner is the root, its
 * CLASS is the sender's UDP payload size and its TTL carries the extended
 * RCODE, version and DO bit.
 */
export interface DnsOptRecord {
  readonly kind: 'OPT';
  /** Largest UDP payload the sender can reassemble. */
  readonly udpPayloadSize: number;
  /** Upper 8 bits of the 12-bit RCODE. */
  readonly extendedRcode: number;
  /** EDNS version; 0 is the only one defined. */
  readonly version: number;
  /** DNSSEC OK bit (RFC 3225). */
  readonly dnssecOk: boolean;
  /** The other 15 flag bits, carried as they came. */
  readonly z: number;
  /** The option TLVs as raw bytes (RFC 6891 §6.1.2). */
  readonly options: Uint8Array;
}

/**
 * Any other record, with RDATA as raw bytes. RDATA that embeds names (NS, MX,
 * SOA, PTR, SRV) may hold compression pointers into the original message, so
 * re-encoding such a record into another message is not meaningful; the proxy
 * forwards upstream replies as bytes and never does.
 */
export interface DnsRawRecord extends DnsRecordBase {
  readonly kind: 'RAW';
  readonly type: number;
  readonly data: Uint8Array;
}

/** A resource record, tagged by `kind`. */
export type DnsRecord = DnsARecord | DnsAaaaRecord | DnsCnameRecord | DnsOptRecord | DnsRawRecord;

/** A whole DNS message (RFC 1035 §4.1). */
export interface DnsMessage {
  /** 16-bit transaction id. */
  readonly id: number;
  readonly flags: DnsFlags;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  /** Additional records; an OPT record, when present, is here (at most one). */
  readonly additionals: readonly DnsRecord[];
}

/** The RR TYPE code of a record. */
export function recordType(record: DnsRecord): number {
  switch (record.kind) {
    case 'A':
      return DnsType.A;
    case 'AAAA':
      return DnsType.AAAA;
    case 'CNAME':
      return DnsType.CNAME;
    case 'OPT':
      return DnsType.OPT;
    case 'RAW':
      return record.type;
  }
}

/** The OPT record of a message, if it has one. */
export function findOpt(message: DnsMessage): DnsOptRecord | undefined {
  for (const record of message.additionals) if (record.kind === 'OPT') return record;
  return undefined;
}

/** ASCII-only case folding, as DNS name comparison requires (RFC 4343 §3). */
export function foldName(name: string): string {
  let out = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  out = out.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return out;
}
