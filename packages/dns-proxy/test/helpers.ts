import type { DnsFlags, DnsMessage, DnsQuestion } from '../src/index.js';
import { DNS_CLASS_IN } from '../src/index.js';

export const QUERY_FLAGS: DnsFlags = {
  qr: false,
  opcode: 0,
  aa: false,
  tc: false,
  rd: true,
  ra: false,
  z: 0,
  rcode: 0,
};

/** A standard query with one question. */
export function query(name: string, type: number, extra: Partial<DnsMessage> = {}): DnsMessage {
  const question: DnsQuestion = { name, type, class: DNS_CLASS_IN };
  return {
    id: 0x1234,
    flags: QUERY_FLAGS,
    questions: [question],
    answers: [],
    authorities: [],
    additionals: [],
    ...extra,
  };
}

/** Bytes from a hex string with spaces. */
export function hex(text: string): Uint8Array {
  return Uint8Array.from(text.replace(/\s+/g, '').match(/../g) ?? [], (h) => Number.parseInt(h, 16));
}

/** Wire form of a name, uncompressed. */
export function wireName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split('.').filter((l) => l !== '')) {
    out.push(label.length, ...Buffer.from(label, 'latin1'));
  }
  out.push(0);
  return out;
}
