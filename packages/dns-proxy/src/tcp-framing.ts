/** DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766 §8): a 2-octet length before each message. */
import { DnsError } from './errors.js';

/**
 * Incremental decoder of length-prefixed DNS messages from a TCP byte stream.
 * Pure: `push(chunk)` returns the whole messages completed so far. Returned
 * arrays are copies the caller owns.
 */
export class DnsTcpFrameDecoder {
  #buffer: Uint8Array = new Uint8Array(0);

  /** Octets received but not yet part of a whole message. */
  get pending(): number {
    return this.#buffer.length;
  }

  /** Feeds bytes; returns every message completed by them, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    let buf: Uint8Array = this.#buffer;
    if (buf.length === 0) buf = chunk;
    else {
      const joined = new Uint8Array(buf.length + chunk.length);
      joined.set(buf);
      joined.set(chunk, buf.length);
      buf = joined;
    }
    const out: Uint8Array[] = [];
    let offset = 0;
    while (buf.length - offset >= 2) {
      const length = ((buf[offset] as number) << 8) | (buf[offset + 1] as number);
      if (buf.length - offset - 2 < length) break;
      out.push(buf.slice(offset + 2, offset + 2 + length));
      offset += 2 + length;
    }
    this.#buffer = buf.slice(offset);
    return out;
  }
}

/**
 * Prefixes a message with its 2-octet length.
 * @throws {DnsError} `DNS_ERR_ENCODE` when the message is over 65535 octets
 */
export function frameDnsTcpMessage(message: Uint8Array): Uint8Array {
  if (message.length > 0xffff)
    throw new DnsError('DNS_ERR_ENCODE', `message of ${message.length} octets exceeds 65535`);
  const out = new Uint8Array(message.length + 2);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}
