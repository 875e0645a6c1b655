import type { Duplex } from 'node:stream';
import { ProxyError } from '../errors.js';
import {
  encodeMethodSelection,
  encodeReply,
  type Parse,
  parseConnectRequest,
  parseGreeting,
  Socks5Reply,
  type Socks5Destination,
  type Socks5ReplyCode,
} from '../socks5.js';

/** A SOCKS5 CONNECT request read from a client, waiting for the proxy's answer. */
export interface Socks5Request {
  readonly destination: Socks5Destination;
  /** Bytes the client sent after the request (early data); forward them upstream first. */
  readonly head: Buffer;
  /** Sends the reply; after `SUCCEEDED` the socket carries the tunnelled bytes, otherwise it is ended. */
  reply(code: Socks5ReplyCode): void;
}

/** Most bytes a greeting plus a request can take (2+255 and 4+1+255+2). */
const MAX_HANDSHAKE = 2 + 255 + 4 + 1 + 255 + 2;

/**
 * Runs the server side of a SOCKS5 handshake on an accepted socket.
 * Rejects (and ends the socket with the right reply) on a bad handshake, a
 * client that offers no "no authentication" method, or a timeout.
 */
export function acceptSocks5(socket: Duplex, options: { timeoutMs?: number } = {}): Promise<Socks5Request> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    let stage: 'greeting' | 'request' = 'greeting';
    const timer = setTimeout(
      () => fail(new Error('SOCKS5 handshake timed out')),
      options.timeoutMs ?? 10_000,
    );
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      socket.off('end', onEnd);
    };
    function fail(error: Error, reply?: Socks5ReplyCode): void {
      cleanup();
      if (reply !== undefined) socket.end(encodeReply(reply));
      else socket.destroy();
      reject(error);
    }
    const onEnd = (): void =>
      fail(
        new ProxyError(
          'PROXY_ERR_SOCKS_TRUNCATED',
          'client closed the connection during the SOCKS5 handshake',
        ),
      );
    function step<T>(parse: (b: Uint8Array) => Parse<T>): T | undefined {
      const result = parse(buffered);
      if (result.kind === 'incomplete') return undefined;
      buffered = buffered.subarray(result.consumed);
      return result.value;
    }
    function onData(chunk: Buffer): void {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      try {
        if (stage === 'greeting') {
          const greeting = step(parseGreeting);
          if (!greeting) {
            checkSize();
            return;
          }
          if (!greeting.noAuthOffered) {
            cleanup();
            socket.end(encodeMethodSelection(false));
            reject(
              new ProxyError('PROXY_ERR_SOCKS_METHOD', 'SOCKS5 client offers no "no authentication" method'),
            );
            return;
          }
          socket.write(encodeMethodSelection(true));
          stage = 'request';
        }
        const destination = step(parseConnectRequest);
        if (!destination) {
          checkSize();
          return;
        }
        cleanup();
        socket.pause();
        const head = Buffer.from(buffered);
        resolve({
          destination,
          head,
          reply(code) {
            if (code === Socks5Reply.SUCCEEDED) {
              socket.write(encodeReply(code));
              socket.resume();
            } else {
              socket.end(encodeReply(code));
            }
          },
        });
      } catch (error) {
        const code =
          error instanceof ProxyError && error.code === 'PROXY_ERR_SOCKS_COMMAND'
            ? Socks5Reply.COMMAND_NOT_SUPPORTED
            : error instanceof ProxyError && error.code === 'PROXY_ERR_SOCKS_ADDRESS'
              ? Socks5Reply.ADDRESS_TYPE_NOT_SUPPORTED
              : undefined;
        fail(error as Error, stage === 'request' ? code : undefined);
      }
    }
    function checkSize(): void {
      if (buffered.length > MAX_HANDSHAKE) {
        fail(
          new ProxyError('PROXY_ERR_SOCKS_TRUNCATED', 'SOCKS5 handshake is longer than the protocol allows'),
        );
      }
    }
    socket.on('data', onData);
    socket.on('error', fail);
    socket.on('end', onEnd);
  });
}
