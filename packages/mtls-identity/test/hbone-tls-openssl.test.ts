import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestCa, parseCertificate } from '../src/index.js';
import { type AcceptedHboneTls, acceptHboneTls } from '../src/node/index.js';
import { hasOpenssl, scratch } from './helpers.js';

const tmp = scratch();
afterAll(() => tmp.cleanup());

/** Runs `openssl s_client` to completion (stdin closed after `input`), returning its output. */
function sClient(args: readonly string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', reject);
    child.on('close', () => resolve(output));
    child.stdin.end(input);
  });
}

describe.skipIf(!hasOpenssl)('HBONE TLS server against openssl s_client (independent TLS 1.3 client)', () => {
  const td = createTestCa();
  const server = td.issue('default/server');

  async function serve(): Promise<{
    port: number;
    accepted: Promise<AcceptedHboneTls | Error>;
    close(): void;
  }> {
    let resolveAccepted!: (value: AcceptedHboneTls | Error) => void;
    const accepted = new Promise<AcceptedHboneTls | Error>((resolve) => {
      resolveAccepted = resolve;
    });
    const sockets = new Set<net.Socket>();
    const listener = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      const result = acceptHboneTls(socket, {
        trustDomain: 'cluster.local',
        selectCertificate: () => server,
      });
      result.then(
        (ok) => {
          ok.socket.on('error', () => {});
          resolveAccepted(ok);
        },
        (error: Error) => resolveAccepted(error),
      );
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    return {
      port: (listener.address() as net.AddressInfo).port,
      accepted,
      close: () => {
        for (const s of sockets) s.destroy();
        listener.close();
      },
    };
  }

  it('handshakes TLS 1.3 + ALPN h2 with a client certificate; both sides verify', async () => {
    const client = td.issue('default/client');
    const running = await serve();
    try {
      const output = await sClient(
        [
          '-connect',
          `127.0.0.1:${running.port}`,
          '-tls1_3',
          '-alpn',
          'h2',
          '-noservername',
          '-cert',
          tmp.write('c.pem', client.chain[0]!),
          '-key',
          tmp.write('c.key', client.privateKeyPem),
          '-CAfile',
          tmp.write('root.pem', td.roots.join('')),
        ],
        'ping\n',
      );
      expect(output).toMatch(/TLSv1\.3/);
      expect(output).toContain('ALPN protocol: h2');
      expect(output).toContain('Verify return code: 0 (ok)');
      const served = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(output)?.[0];
      expect(parseCertificate(`${served}\n`).identity?.uri).toBe(
        'spiffe://cluster.local/ns/default/sa/server',
      );
      const accepted = await running.accepted;
      if (accepted instanceof Error) throw accepted;
      expect(accepted.peer.uri).toBe('spiffe://cluster.local/ns/default/sa/client');
    } finally {
      running.close();
    }
  });

  it('refuses an openssl client without a certificate', async () => {
    const running = await serve();
    try {
      await sClient(
        [
          '-connect',
          `127.0.0.1:${running.port}`,
          '-tls1_3',
          '-alpn',
          'h2',
          '-noservername',
          '-CAfile',
          tmp.write('root2.pem', td.roots.join('')),
        ],
        'ping\n',
      );
      expect(await running.accepted).toMatchObject({
        code: 'IDENTITY_ERR_PEER_IDENTITY',
        rule: 'unverified',
      });
    } finally {
      running.close();
    }
  });

  it('refuses an openssl client that only offers TLS 1.2', async () => {
    const client = td.issue('default/client');
    const running = await serve();
    try {
      const output = await sClient(
        [
          '-connect',
          `127.0.0.1:${running.port}`,
          '-tls1_2',
          '-alpn',
          'h2',
          '-noservername',
          '-cert',
          tmp.write('c2.pem', client.chain[0]!),
          '-key',
          tmp.write('c2.key', client.privateKeyPem),
          '-CAfile',
          tmp.write('root3.pem', td.roots.join('')),
        ],
        'ping\n',
      );
      expect(output).toMatch(
        /alert protocol version|no protocols available|wrong version|unsupported protocol/i,
      );
      expect(await running.accepted).toBeInstanceOf(Error);
    } finally {
      running.close();
    }
  });
});
