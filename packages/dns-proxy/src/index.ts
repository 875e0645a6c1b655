/**
 * ztunnel's DNS proxy core: a sans-IO DNS codec (RFC 1035, RFC 3596, RFC 6891),
 * the mesh name table that answers service hostnames, and resolv.conf parsing.
 * The UDP/TCP server lives in `@amesh/dns-proxy/node`.
 * @packageDocumentation
 */
export {
  DNS_HEADER_OCTETS,
  encodeDnsMessage,
  encodeDnsMessageWithin,
  MAX_DNS_MESSAGE_OCTETS,
  MAX_LABEL_OCTETS,
  MAX_NAME_OCTETS,
  nameToLabels,
  parseDnsMessage,
} from './codec.js';
export type { EncodeDnsOptions } from './codec.js';
export { DnsError } from './errors.js';
export type { DnsErrorCode } from './errors.js';
export { DNS_CLASS_IN, DnsOpcode, DnsRcode, DnsType, findOpt, foldName, recordType } from './message.js';
export type {
  DnsAaaaRecord,
  DnsARecord,
  DnsCnameRecord,
  DnsFlags,
  DnsMessage,
  DnsOptRecord,
  DnsQuestion,
  DnsRawRecord,
  DnsRecord,
} from './message.js';
export {
  DNS_ADVERTISED_UDP_SIZE,
  DNS_TABLE_TTL_SECONDS,
  DnsNameTable,
  dnsErrorResponse,
  respondToDnsQuery,
  udpResponseLimit,
} from './name-table.js';
export type {
  DnsAnswerDecision,
  DnsClientInfo,
  DnsNameEntry,
  DnsNameTableOptions,
  DnsQueryDecision,
} from './name-table.js';
export { parseUpstream, readResolvConf } from './resolv-conf.js';
export type { DnsUpstream, ResolvConf } from './resolv-conf.js';
export { DnsTcpFrameDecoder, frameDnsTcpMessage } from './tcp-framing.js';
