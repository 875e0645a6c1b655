import { DnsError } from '../src/index.js';

export * from '../src/index.js';

/** True for the codec's typed errors only (never a TypeError/RangeError from a bug). */
export function isDnsErrorLike(error: unknown): boolean {
  return (
    error instanceof DnsError && (error.code === 'DNS_ERR_MALFORMED' || error.code === 'DNS_ERR_INVALID_NAME')
  );
}
