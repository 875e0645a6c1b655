import http from 'node:http';
import net from 'node:net';

/** A running sample app. */
export interface App {
  readonly name: string;
  readonly address: string;
  close(): Promise<void>;
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

function closer(server: net.Server): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      (server as http.Server).closeAllConnections?.();
    });
}

/** An HTTP server that answers with who it is and what it saw. */
export async function httpEcho(name: string, host: string, port: number): Promise<App> {
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({
      pod: name,
      method: req.method,
      path: req.url,
      peer: req.socket.remoteAddress,
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await listen(server, host, port);
  return { name, address: `${host}:${port}`, close: closer(server) };
}

/** A server-speaks-first TCP service: greets on connect, then echoes each line upper-cased. */
export async function tcpGreeter(name: string, host: string, port: number): Promise<App> {
  const server = net.createServer((socket) => {
    socket.write(`HELLO from ${name}\n`);
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => socket.write(text.toUpperCase()));
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  });
  await listen(server, host, port);
  return { name, address: `${host}:${port}`, close: closer(server) };
}
