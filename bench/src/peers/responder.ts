import net from 'node:net';
import { MESH } from './ztunnel-pair.js';

/** Size of one request and of one response. */
export const SIZE = 1024;

/**
 * A server that answers every 1 KiB message with 1 KiB (request/response on
 * one connection). With `closeAfterReply` it ends the connection after the
 * first answer, so the server side closes first and keeps the TIME_WAIT (a
 * client that binds its pod IP would otherwise run out of ports).
 */
export async function responder(
  options: { readonly closeAfterReply?: boolean; readonly host?: string } = {},
): Promise<{ port: number; close(): Promise<void> }> {
  const reply = Buffer.alloc(SIZE, 0x62);
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.setNoDelay(true);
    let pending = 0;
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.length;
      while (pending >= SIZE) {
        pending -= SIZE;
        socket.write(reply);
        if (options.closeAfterReply) socket.end();
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, options.host ?? MESH.server, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
