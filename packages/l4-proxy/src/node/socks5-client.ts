import net from 'node:net';
import { ProxyError } from '../errors.js';
import { Socks5Reply } from '../socks5.js';

/** Options of {@link connectViaSocks5}. */
export interface Socks5ConnectOptions {
  readonly proxyHost: string;
  readonly proxyPort: number;
  /** Local address to bind the client socket to (how a ztunnel in local mode knows the source workload). */
  readonly localAddress?: string;
  readonly timeoutMs?: number;
}

/**
 * Opens a TCP connection to `destination` through a SOCKS5 proxy (no
 * authentication, CONNECT, domain names resolved by the proxy). Resolves
 * with the connected socket once the proxy answered "succeeded".
 * @throws {ProxyError} `PROXY_ERR_SOCKS_METHOD` / `PROXY_ERR_SOCKS_COMMAND` when the proxy refuses
 */
export function connectViaSocks5(
  destination: { host: string; port: number },
  options: Socks5ConnectOptions,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: options.proxyHost,
      port: options.proxyPort,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    const timer = setTimeout(() => fail(new Error('SOCKS5 connect timed out')), options.timeoutMs ?? 10_000);
    let buffered = Buffer.alloc(0);
    let stage: 'method' | 'reply' = 'method';
    function fail(error: Error): void {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    }
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('SOCKS5 proxy closed the connection')));
    socket.on('connect', () => {
      socket.write(Uint8Array.of(5, 1, 0));
    });
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (stage === 'method') {
        if (buffered.length < 2) return;
        if (buffered[0] !== 5 || buffered[1] !== 0) {
          fail(new ProxyError('PROXY_ERR_SOCKS_METHOD', 'SOCKS5 proxy accepted no method we offer'));
          return;
        }
        buffered = buffered.subarray(2);
        stage = 'reply';
        const host = Buffer.from(destination.host, 'utf8');
        const ipv4 = net.isIPv4(destination.host);
        const address = ipv4
          ? Buffer.from([0x01, ...destination.host.split('.').map(Number)])
          : Buffer.concat([Buffer.from([0x03, host.length]), host]);
        socket.write(
          Buffer.concat([
            Buffer.from([5, 1, 0]),
            address,
            Buffer.from([destination.port >> 8, destination.port & 0xff]),
          ]),
        );
      }
      if (buffered.length < 10) return;
      if (buffered[1] !== Socks5Reply.SUCCEEDED) {
        fail(
          new ProxyError(
            'PROXY_ERR_SOCKS_COMMAND',
            `SOCKS5 proxy refused the connection (reply ${buffered[1]})`,
          ),
        );
        return;
      }
      // Only IPv4 bound addresses are expected from amesh; skip ATYP-specific length otherwise.
      const length = buffered[3] === 0x04 ? 22 : buffered[3] === 0x03 ? 7 + buffered[4]! : 10;
      if (buffered.length < length) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.removeAllListeners('close');
      socket.off('error', fail);
      const rest = buffered.subarray(length);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    socket.on('data', onData);
  });
}
