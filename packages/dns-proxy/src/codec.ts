/**
 * Sans-IO DNS wire codec: RFC 1035 §4 messages, RFC 3596 AAAA, RFC 6891 OPT.
 * Bytes in, plain data out, and back. Strict: what the RFCs forbid is refused
 * with a {@link DnsError}, never guessed at.
 */
import { DnsError } from './errors.js';
import { formatIp, parseIpv4, parseIpv6 } from '@amesh/ip';
import type { DnsFlags, DnsMessage, DnsQuestion, DnsRecord } from './message.js';
import { DnsType, recordType } from './message.js';

/** Largest label, in octets (RFC 1035 §2.3.4). */
export const MAX_LABEL_OCTETS = 63;
/** Largest name on the wire, length octets and root included (RFC 1035 §2.3.4). */
export const MAX_NAME_OCTETS = 255;
/** Size of the fixed header (RFC 1035 §4.1.1). */
export const DNS_HEADER_OCTETS = 12;
/** Largest message a TCP length prefix can carry (RFC 1035 §4.2.2). */
export const MAX_DNS_MESSAGE_OCTETS = 65535;

function malformed(message: string): DnsError {
  return new DnsError('DNS_ERR_MALFORMED', message);
}

// ---------------------------------------------------------------- parse

class Reader {
  offset = DNS_HEADER_OCTETS;
  constructor(readonly bytes: Uint8Array) {}

  need(n: number, what: string): void {
    if (this.offset + n > this.bytes.length) {
      throw malformed(`${what} runs past the end of the message (${this.bytes.length} octets)`);
    }
  }

  u8(): number {
    return this.bytes[this.offset++] as number;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = ((this.bytes[this.offset] as number) << 8) | (this.bytes[this.offset + 1] as number);
    this.offset += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const b = this.bytes;
    const o = this.offset;
    this.offset += 4;
    return (
      (b[o] as number) * 0x1000000 +
      (((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number))
    );
  }
}

/** Text of one label: printable ASCII as is, `.` and `\` escaped, other octets as `\DDD` (RFC 1035 §5.1). */
function labelText(bytes: Uint8Array, start: number, length: number): string {
  let out = '';
  for (let i = start; i < start + length; i++) {
    const c = bytes[i] as number;
    if (c === 0x2e || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else if (c > 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += `\\${c.toString().padStart(3, '0')}`;
  }
  return out;
}

/**
 * Reads a possibly compressed name (RFC 1035 §4.1.4). A pointer must point
 * strictly before the label that holds it, which rules out loops and forward
 * pointers; the expanded name must stay within 255 octets.
 */
function readName(reader: Reader, what: string): string {
  const bytes = reader.bytes;
  const labels: string[] = [];
  let pos = reader.offset;
  let wireLength = 1; // the root octet
  let jumped = false;
  // Every pointer goes strictly backwards, so the walk ends; the bound is a second guard.
  for (let hops = 0; ; hops++) {
    if (pos >= bytes.length) throw malformed(`${what}: name runs past the end of the message`);
    const len = bytes[pos] as number;
    const tag = len & 0xc0;
    if (tag === 0xc0) {
      if (pos + 1 >= bytes.length) throw malformed(`${what}: compression pointer cut short`);
      const target = ((len & 0x3f) << 8) | (bytes[pos + 1] as number);
      if (target >= pos)
        throw malformed(`${what}: compression pointer ${target} does not point backwards (loop)`);
      if (target < DNS_HEADER_OCTETS)
        throw malformed(`${what}: compression pointer ${target} points into the header`);
      if (!jumped) reader.offset = pos + 2;
      jumped = true;
      pos = target;
      if (hops > MAX_NAME_OCTETS) throw malformed(`${what}: too many compression pointers`);
      continue;
    }
    if (tag !== 0) {
      throw malformed(
        `${what}: label type 0x${tag.toString(16)} is not supported (RFC 6891 §5 deprecates extended labels)`,
      );
    }
    if (len === 0) {
      if (!jumped) reader.offset = pos + 1;
      return labels.join('.');
    }
    if (pos + 1 + len > bytes.length) throw malformed(`${what}: label runs past the end of the message`);
    wireLength += len + 1;
    if (wireLength > MAX_NAME_OCTETS) {
      throw new DnsError('DNS_ERR_INVALID_NAME', `${what}: name longer than ${MAX_NAME_OCTETS} octets`);
    }
    labels.push(labelText(bytes, pos + 1, len));
    pos += 1 + len;
  }
}

function parseFlags(hi: number, lo: number): DnsFlags {
  return {
    qr: (hi & 0x80) !== 0,
    opcode: (hi >> 3) & 0x0f,
    aa: (hi & 0x04) !== 0,
    tc: (hi & 0x02) !== 0,
    rd: (hi & 0x01) !== 0,
    ra: (lo & 0x80) !== 0,
    z: (lo >> 4) & 0x07,
    rcode: lo & 0x0f,
  };
}

function readQuestion(reader: Reader, index: number): DnsQuestion {
  const what = `question ${index}`;
  const name = readName(reader, what);
  const type = reader.u16(`${what} QTYPE`);
  const qclass = reader.u16(`${what} QCLASS`);
  return { name, type, class: qclass };
}

function readRecord(reader: Reader, section: string, index: number): DnsRecord {
  const what = `${section} record ${index}`;
  const name = readName(reader, what);
  const type = reader.u16(`${what} TYPE`);
  const rclass = reader.u16(`${what} CLASS`);
  const ttl = reader.u32(`${what} TTL`);
  const rdlength = reader.u16(`${what} RDLENGTH`);
  reader.need(rdlength, `${what} RDATA`);
  const start = reader.offset;
  const end = start + rdlength;
  const bytes = reader.bytes;
  switch (type) {
    case DnsType.A:
      if (rdlength !== 4) throw malformed(`${what}: A RDLENGTH must be 4, got ${rdlength}`);
      reader.offset = end;
      return { kind: 'A', name, class: rclass, ttl, address: formatIp(bytes.subarray(start, end)) };
    case DnsType.AAAA:
      if (rdlength !== 16) throw malformed(`${what}: AAAA RDLENGTH must be 16, got ${rdlength}`);
      reader.offset = end;
      return { kind: 'AAAA', name, class: rclass, ttl, address: formatIp(bytes.subarray(start, end)) };
    case DnsType.CNAME: {
      const target = readName(reader, `${what} CNAME`);
      if (reader.offset !== end) throw malformed(`${what}: CNAME RDATA does not fill RDLENGTH ${rdlength}`);
      return { kind: 'CNAME', name, class: rclass, ttl, target };
    }
    case DnsType.OPT: {
      if (section !== 'additional') throw malformed(`${what}: OPT is only allowed in the additional section`);
      if (name !== '') throw malformed(`${what}: OPT owner must be the root (RFC 6891 §6.1.2)`);
      reader.offset = end;
      return {
        kind: 'OPT',
        udpPayloadSize: rclass,
        extendedRcode: ttl >>> 24,
        version: (ttl >>> 16) & 0xff,
        dnssecOk: (ttl & 0x8000) !== 0,
        z: ttl & 0x7fff,
        options: bytes.slice(start, end),
      };
    }
    default:
      reader.offset = end;
      return { kind: 'RAW', name, type, class: rclass, ttl, data: bytes.slice(start, end) };
  }
}

/**
 * Parses one DNS message.
 *
 * Name compression pointers are followed (backwards only). Octets after the
 * last record the counts announce are refused: a UDP datagram or a TCP frame
 * holds exactly one message. More than one OPT record is refused (RFC 6891
 * §6.1.1).
 *
 * @throws {DnsError} `DNS_ERR_MALFORMED` for any framing error, `DNS_ERR_INVALID_NAME` for a name over 255 octets
 * @example
 * ```ts
 * const msg = parseDnsMessage(datagram);
 * console.log(msg.questions[0]?.name);
 * ```
 */
export function parseDnsMessage(bytes: Uint8Array): DnsMessage {
  if (bytes.length < DNS_HEADER_OCTETS) {
    throw malformed(`message of ${bytes.length} octets is shorter than the 12-octet header`);
  }
  if (bytes.length > MAX_DNS_MESSAGE_OCTETS)
    throw malformed(`message of ${bytes.length} octets exceeds 65535`);
  const id = ((bytes[0] as number) << 8) | (bytes[1] as number);
  const flags = parseFlags(bytes[2] as number, bytes[3] as number);
  const count = (i: number) => ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  const [qd, an, ns, ar] = [count(4), count(6), count(8), count(10)];
  // Every question takes at least 5 octets and every record 11: refuse impossible counts before looping.
  if (DNS_HEADER_OCTETS + qd * 5 + (an + ns + ar) * 11 > bytes.length) {
    throw malformed(`counts (${qd}/${an}/${ns}/${ar}) exceed the ${bytes.length}-octet message`);
  }
  const reader = new Reader(bytes);
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qd; i++) questions.push(readQuestion(reader, i));
  const answers: DnsRecord[] = [];
  for (let i = 0; i < an; i++) answers.push(readRecord(reader, 'answer', i));
  const authorities: DnsRecord[] = [];
  for (let i = 0; i < ns; i++) authorities.push(readRecord(reader, 'authority', i));
  const additionals: DnsRecord[] = [];
  let opts = 0;
  for (let i = 0; i < ar; i++) {
    const record = readRecord(reader, 'additional', i);
    if (record.kind === 'OPT' && ++opts > 1) throw malformed('more than one OPT record (RFC 6891 §6.1.1)');
    additionals.push(record);
  }
  if (reader.offset !== bytes.length) {
    throw malformed(`${bytes.length - reader.offset} octets after the last record`);
  }
  return { id, flags, questions, answers, authorities, additionals };
}

/**
 * Reads only the header id, flags and first question, for matching an
 * upstream reply to its query even when the rest is truncated.
 * @internal
 */
export function peekDnsQuestion(
  bytes: Uint8Array,
): { id: number; flags: DnsFlags; question: DnsQuestion | undefined } | undefined {
  if (bytes.length < DNS_HEADER_OCTETS) return undefined;
  const id = ((bytes[0] as number) << 8) | (bytes[1] as number);
  const flags = parseFlags(bytes[2] as number, bytes[3] as number);
  const qd = ((bytes[4] as number) << 8) | (bytes[5] as number);
  if (qd === 0) return { id, flags, question: undefined };
  try {
    return { id, flags, question: readQuestion(new Reader(bytes), 0) };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- encode

class Writer {
  buf = new Uint8Array(2048);
  length = 0;
  compress = true;
  /** Suffix text -> offset, for compression. */
  readonly names = new Map<string, number>();

  reset(compress: boolean): void {
    this.length = 0;
    this.compress = compress;
    this.names.clear();
  }

  ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf[this.length++] = v >> 8;
    this.buf[this.length++] = v & 0xff;
  }

  u32(v: number): void {
    this.u16(Math.floor(v / 0x10000));
    this.u16(v % 0x10000);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
}

const WRITER = new Writer();

/**
 * Splits presentation text into wire labels, undoing `\.`, `\\` and `\DDD`
 * escapes (RFC 1035 §5.1). `''` and `'.'` are the root; one trailing dot is allowed.
 * @throws {DnsError} `DNS_ERR_INVALID_NAME` for an empty label, a label over 63 or a name over 255 octets
 */
export function nameToLabels(name: string): Uint8Array[] {
  if (name === '' || name === '.') return [];
  const labels: Uint8Array[] = [];
  let current: number[] = [];
  let total = 1;
  const finish = () => {
    if (current.length === 0)
      throw new DnsError('DNS_ERR_INVALID_NAME', `empty label in ${JSON.stringify(name)}`);
    if (current.length > MAX_LABEL_OCTETS) {
      throw new DnsError(
        'DNS_ERR_INVALID_NAME',
        `label of ${current.length} octets exceeds ${MAX_LABEL_OCTETS}`,
      );
    }
    total += current.length + 1;
    labels.push(Uint8Array.from(current));
    current = [];
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) {
      const digits = /^[0-9]{3}/.exec(name.slice(i + 1, i + 4));
      if (digits) {
        const value = Number(digits[0]);
        if (value > 255) throw new DnsError('DNS_ERR_INVALID_NAME', `escape \\${digits[0]} is over 255`);
        current.push(value);
        i += 3;
      } else if (i + 1 < name.length) {
        current.push(name.charCodeAt(++i));
      } else {
        throw new DnsError('DNS_ERR_INVALID_NAME', `dangling backslash in ${JSON.stringify(name)}`);
      }
    } else if (c === 0x2e) {
      finish();
      if (i === name.length - 1) break; // one trailing dot: fully qualified form
    } else {
      if (c > 0xff)
        throw new DnsError('DNS_ERR_INVALID_NAME', `non-octet character in ${JSON.stringify(name)}`);
      current.push(c);
    }
    if (i === name.length - 1 && current.length > 0) finish();
  }
  if (current.length > 0) finish();
  if (total > MAX_NAME_OCTETS) {
    throw new DnsError('DNS_ERR_INVALID_NAME', `name of ${total} octets exceeds ${MAX_NAME_OCTETS}`);
  }
  return labels;
}

/**
 * Writes a name. Names without escapes (nearly all) take a fast path over the
 * string itself; the rest go through {@link nameToLabels}.
 */
function writeName(w: Writer, name: string): void {
  if (!name.includes('\\')) {
    writePlainName(w, name);
    return;
  }
  writeEscapedName(w, name);
}

function writePlainName(w: Writer, name: string): void {
  const end = name.endsWith('.') ? name.length - 1 : name.length;
  if (end > MAX_NAME_OCTETS) {
    throw new DnsError('DNS_ERR_INVALID_NAME', `name of more than ${MAX_NAME_OCTETS} octets`);
  }
  if (end <= 0) {
    if (name.length > 1) throw new DnsError('DNS_ERR_INVALID_NAME', `empty label in ${JSON.stringify(name)}`);
    w.u8(0);
    return;
  }
  // Label lengths first; a bad name throws and the whole encode is abandoned.
  for (let start = 0; start <= end; ) {
    let dot = name.indexOf('.', start);
    if (dot < 0 || dot > end) dot = end;
    const length = dot - start;
    if (length === 0) throw new DnsError('DNS_ERR_INVALID_NAME', `empty label in ${JSON.stringify(name)}`);
    if (length > MAX_LABEL_OCTETS) {
      throw new DnsError('DNS_ERR_INVALID_NAME', `label of ${length} octets exceeds ${MAX_LABEL_OCTETS}`);
    }
    start = dot + 1;
  }
  // Wire length is the text length + 2 (first length octet and root); text ≤ 253 keeps it ≤ 255.
  if (end + 2 > MAX_NAME_OCTETS) {
    throw new DnsError('DNS_ERR_INVALID_NAME', `name of ${end + 2} octets exceeds ${MAX_NAME_OCTETS}`);
  }
  // Simple compression: a name written before in full (the question's name, repeated by every
  // answer) becomes a pointer; suffixes of plain names are not shared, which keeps encoding cheap.
  if (w.compress) {
    const at = w.names.get(name);
    if (at !== undefined) {
      w.u16(0xc000 | at);
      return;
    }
    if (w.length < 0x4000) w.names.set(name, w.length);
  }
  w.ensure(end + 2);
  const buf = w.buf;
  let pos = w.length;
  for (let start = 0; start < end; ) {
    let dot = name.indexOf('.', start);
    if (dot < 0 || dot > end) dot = end;
    buf[pos++] = dot - start;
    for (let i = start; i < dot; i++) {
      const c = name.charCodeAt(i);
      if (c > 0xff)
        throw new DnsError('DNS_ERR_INVALID_NAME', `non-octet character in ${JSON.stringify(name)}`);
      buf[pos++] = c;
    }
    start = dot + 1;
  }
  buf[pos++] = 0;
  w.length = pos;
}

function writeEscapedName(w: Writer, name: string): void {
  const labels = nameToLabels(name);
  const texts = labels.map((l) => labelText(l, 0, l.length));
  for (let i = 0; i < labels.length; i++) {
    const suffix = texts.slice(i).join('.');
    if (w.compress) {
      const at = w.names.get(suffix);
      if (at !== undefined) {
        w.u16(0xc000 | at);
        return;
      }
      if (w.length < 0x4000) w.names.set(suffix, w.length);
    }
    const label = labels[i] as Uint8Array;
    w.u8(label.length);
    w.bytes(label);
  }
  w.u8(0);
}

/** Recently written addresses: a table answers the same VIPs over and over. Bounded; cleared when full. */
const ADDRESS_CACHE = new Map<string, Uint8Array | undefined>();
const ADDRESS_CACHE_SIZE = 4096;

function addressBytes(text: string, parse: (text: string) => Uint8Array | undefined): Uint8Array | undefined {
  const key = parse === parseIpv4 ? `4${text}` : `6${text}`;
  if (ADDRESS_CACHE.has(key)) return ADDRESS_CACHE.get(key);
  const bytes = parse(text);
  if (ADDRESS_CACHE.size >= ADDRESS_CACHE_SIZE) ADDRESS_CACHE.clear();
  ADDRESS_CACHE.set(key, bytes);
  return bytes;
}

function checkRange(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new DnsError('DNS_ERR_ENCODE', `${what} must be an integer in 0..${max}, got ${value}`);
  }
  return value;
}

function writeRecord(w: Writer, record: DnsRecord): void {
  if (record.kind === 'OPT') {
    w.u8(0);
    w.u16(DnsType.OPT);
    w.u16(checkRange(record.udpPayloadSize, 0xffff, 'OPT UDP payload size'));
    w.u8(checkRange(record.extendedRcode, 0xff, 'OPT extended RCODE'));
    w.u8(checkRange(record.version, 0xff, 'OPT version'));
    w.u16((record.dnssecOk ? 0x8000 : 0) | checkRange(record.z, 0x7fff, 'OPT Z'));
    w.u16(checkRange(record.options.length, 0xffff, 'OPT RDLENGTH'));
    w.bytes(record.options);
    return;
  }
  writeName(w, record.name);
  w.u16(checkRange(recordType(record), 0xffff, 'TYPE'));
  w.u16(checkRange(record.class, 0xffff, 'CLASS'));
  w.u32(checkRange(record.ttl, 0xffffffff, 'TTL'));
  switch (record.kind) {
    case 'A': {
      const ip = addressBytes(record.address, parseIpv4);
      if (!ip)
        throw new DnsError(
          'DNS_ERR_ENCODE',
          `A record address ${JSON.stringify(record.address)} is not IPv4`,
        );
      w.u16(4);
      w.bytes(ip);
      return;
    }
    case 'AAAA': {
      const ip = addressBytes(record.address, parseIpv6);
      if (!ip)
        throw new DnsError(
          'DNS_ERR_ENCODE',
          `AAAA record address ${JSON.stringify(record.address)} is not IPv6`,
        );
      w.u16(16);
      w.bytes(ip);
      return;
    }
    case 'CNAME': {
      const lengthAt = w.length;
      w.u16(0);
      writeName(w, record.target);
      const rdlength = w.length - lengthAt - 2;
      w.buf[lengthAt] = rdlength >> 8;
      w.buf[lengthAt + 1] = rdlength & 0xff;
      return;
    }
    case 'RAW':
      w.u16(checkRange(record.data.length, 0xffff, 'RDLENGTH'));
      w.bytes(record.data);
      return;
  }
}

/** Options of {@link encodeDnsMessage}. */
export interface EncodeDnsOptions {
  /** Write a name seen earlier in the message (same text) as a pointer (RFC 1035 §4.1.4). Default true. */
  readonly compress?: boolean;
}

/**
 * Writes a DNS message. Counts come from the section lengths; names are
 * written with simple compression unless `compress: false`: a name written
 * before in full (as every answer repeats the question's) becomes a pointer;
 * suffixes are not shared, except between names with `\` escapes.
 *
 * @throws {DnsError} `DNS_ERR_INVALID_NAME` for a bad name, `DNS_ERR_ENCODE` for a field out of range
 *   or a message over 65535 octets
 * @example
 * ```ts
 * const bytes = encodeDnsMessage({
 *   id: 1, flags: { qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, z: 0, rcode: 0 },
 *   questions: [{ name: 'example.com', type: DnsType.A, class: DNS_CLASS_IN }],
 *   answers: [], authorities: [], additionals: [],
 * });
 * ```
 */
export function encodeDnsMessage(message: DnsMessage, options: EncodeDnsOptions = {}): Uint8Array {
  // One writer reused by every call: encoding is synchronous and never re-entered.
  const w = WRITER;
  w.reset(options.compress ?? true);
  const f = message.flags;
  w.u16(checkRange(message.id, 0xffff, 'id'));
  w.u8(
    (f.qr ? 0x80 : 0) |
      (checkRange(f.opcode, 15, 'opcode') << 3) |
      (f.aa ? 0x04 : 0) |
      (f.tc ? 0x02 : 0) |
      (f.rd ? 0x01 : 0),
  );
  w.u8((f.ra ? 0x80 : 0) | (checkRange(f.z, 7, 'z') << 4) | checkRange(f.rcode, 15, 'rcode'));
  w.u16(checkRange(message.questions.length, 0xffff, 'QDCOUNT'));
  w.u16(checkRange(message.answers.length, 0xffff, 'ANCOUNT'));
  w.u16(checkRange(message.authorities.length, 0xffff, 'NSCOUNT'));
  w.u16(checkRange(message.additionals.length, 0xffff, 'ARCOUNT'));
  for (const q of message.questions) {
    writeName(w, q.name);
    w.u16(checkRange(q.type, 0xffff, 'QTYPE'));
    w.u16(checkRange(q.class, 0xffff, 'QCLASS'));
  }
  for (const r of message.answers) writeRecord(w, r);
  for (const r of message.authorities) writeRecord(w, r);
  for (const r of message.additionals) writeRecord(w, r);
  if (w.length > MAX_DNS_MESSAGE_OCTETS) {
    throw new DnsError('DNS_ERR_ENCODE', `message of ${w.length} octets exceeds 65535`);
  }
  return w.buf.slice(0, w.length);
}

/**
 * Encodes a response so it fits `maxOctets` (the UDP limit of RFC 1035
 * §4.2.1 or the client's EDNS(0) size): when it does not, the answer,
 * authority and non-OPT additional records are dropped and TC is set, so the
 * client retries over TCP (RFC 2181 §9).
 * @throws {DnsError} as {@link encodeDnsMessage}
 */
export function encodeDnsMessageWithin(message: DnsMessage, maxOctets: number): Uint8Array {
  const full = encodeDnsMessage(message);
  if (full.length <= maxOctets) return full;
  return encodeDnsMessage({
    ...message,
    flags: { ...message.flags, tc: true },
    answers: [],
    authorities: [],
    additionals: message.additionals.filter((r) => r.kind === 'OPT'),
  });
}
