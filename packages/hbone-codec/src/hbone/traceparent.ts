import { HboneError } from '../errors.js';

/** A W3C `traceparent` (Trace Context §3.2). */
export interface TraceParent {
  readonly version: string;
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  readonly parentId: string;
  readonly flags: number;
}

const FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Builds `00-<trace id>-<parent id>-<flags>`; ztunnel sends random ids and
 * flags 00 per connection. `random` is injectable for reproducible tests.
 * @example buildTraceParent() // '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00'
 */
export function buildTraceParent(
  options: { traceId?: string; parentId?: string; flags?: number; random?: (bytes: number) => Buffer } = {},
): string {
  const random = options.random ?? ((n: number) => globalThis.crypto.getRandomValues(Buffer.alloc(n)));
  const hex = (n: number): string => {
    for (;;) {
      const s = random(n).toString('hex');
      if (!/^0+$/.test(s)) return s;
    }
  };
  const traceId = options.traceId ?? hex(16);
  const parentId = options.parentId ?? hex(8);
  const flags = (options.flags ?? 0).toString(16).padStart(2, '0');
  const header = `00-${traceId}-${parentId}-${flags}`;
  // Random ids are well-formed by construction; check what the caller supplied.
  const generated =
    options.traceId === undefined &&
    options.parentId === undefined &&
    options.flags === undefined &&
    traceId.length === 32 &&
    parentId.length === 16;
  if (!generated) parseTraceParent(header);
  return header;
}

/**
 * Parses a `traceparent` header (W3C Trace Context §3.2.2).
 * @throws {HboneError} HBONE_ERR_INVALID_HEADER when malformed, version ff, or an all-zero id
 */
export function parseTraceParent(header: string): TraceParent {
  const m = FORMAT.exec(header.trim());
  const bad = (why: string): HboneError => new HboneError('HBONE_ERR_INVALID_HEADER', `traceparent: ${why}`);
  if (!m) throw bad('not version-traceid-parentid-flags in lowercase hex');
  const [, version, traceId, parentId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  if (version === 'ff') throw bad('version ff is invalid');
  if (version === '00' && rest !== undefined) throw bad('version 00 has exactly four fields');
  if (/^0+$/.test(traceId)) throw bad('trace id is all zeros');
  if (/^0+$/.test(parentId)) throw bad('parent id is all zeros');
  return { version, traceId, parentId, flags: Number.parseInt(flags, 16) };
}
