/**
 * Fields of a connection log line, named as ztunnel names them. Absent
 * fields are left out of the line.
 */
export interface ConnectionLogFields {
  readonly 'src.addr'?: string;
  readonly 'src.workload'?: string;
  readonly 'src.namespace'?: string;
  readonly 'src.identity'?: string;
  readonly 'dst.addr'?: string;
  readonly 'dst.hbone_addr'?: string;
  readonly 'dst.service'?: string;
  readonly 'dst.workload'?: string;
  readonly 'dst.namespace'?: string;
  readonly 'dst.identity'?: string;
  readonly direction?: 'inbound' | 'outbound';
  readonly bytes_sent?: number;
  readonly bytes_recv?: number;
  /** Connection duration in milliseconds. */
  readonly duration?: number;
  readonly error?: string;
}

/** The order ztunnel writes the fields in. */
export const CONNECTION_LOG_FIELDS: readonly (keyof ConnectionLogFields)[] = [
  'src.addr',
  'src.workload',
  'src.namespace',
  'src.identity',
  'dst.addr',
  'dst.hbone_addr',
  'dst.service',
  'dst.workload',
  'dst.namespace',
  'dst.identity',
  'direction',
  'bytes_sent',
  'bytes_recv',
  'duration',
  'error',
];

const BARE = new Set<string>(['src.addr', 'dst.addr', 'dst.hbone_addr', 'bytes_sent', 'bytes_recv']);

/**
 * Formats one connection log line the way ztunnel's access log does:
 * `<time> <level> access connection complete key=value ...`, strings quoted,
 * addresses and byte counts bare, duration as `<n>ms`, level `error` when
 * the connection ended with an error.
 *
 * @example
 * ```ts
 * formatConnectionLog({ 'src.addr': '10.0.0.1:40000', direction: 'inbound', bytes_sent: 10 }, new Date(0));
 * // '1970-01-01T00:00:00.000Z info access connection complete src.addr=10.0.0.1:40000 direction="inbound" bytes_sent=10'
 * ```
 */
export function formatConnectionLog(fields: ConnectionLogFields, at: Date): string {
  const parts: string[] = [];
  for (const name of CONNECTION_LOG_FIELDS) {
    const value = fields[name];
    if (value === undefined) continue;
    if (name === 'duration') parts.push(`duration="${value}ms"`);
    else if (BARE.has(name)) parts.push(`${name}=${value}`);
    else parts.push(`${name}=${JSON.stringify(String(value))}`);
  }
  const level = fields.error === undefined ? 'info' : 'error';
  return `${at.toISOString()} ${level} access connection complete ${parts.join(' ')}`;
}
