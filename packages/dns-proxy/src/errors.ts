import { AmeshError } from '@amesh/errors';

/**
 * Stable codes of {@link DnsError}.
 *
 * - `DNS_ERR_MALFORMED`: a message that breaks RFC 1035/3596/6891 framing
 *   (short header, counts past the data, bad pointer, bad RDLENGTH, trailing bytes).
 * - `DNS_ERR_INVALID_NAME`: a name over the limits of RFC 1035 §2.3.4
 *   (label > 63 octets, name > 255 octets) or an empty label, on parse or encode.
 * - `DNS_ERR_ENCODE`: a {@link DnsMessage} that cannot be written (a field out of range,
 *   a bad address, more than 65535 records).
 * - `DNS_ERR_INVALID_ENTRY`: a name table entry with a bad hostname or address.
 * - `DNS_ERR_INVALID_CONFIG`: a bad upstream address or proxy option.
 */
export type DnsErrorCode =
  | 'DNS_ERR_MALFORMED'
  | 'DNS_ERR_INVALID_NAME'
  | 'DNS_ERR_ENCODE'
  | 'DNS_ERR_INVALID_ENTRY'
  | 'DNS_ERR_INVALID_CONFIG';

/** The one error class of `@amesh/dns-proxy`; match on {@link DnsError.code}. */
export class DnsError extends AmeshError<DnsErrorCode> {}
