import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync, existsSync, openSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { isAmeshError } from '@amesh/errors';
import { describe, expect, it } from 'vitest';
import {
  bindDgramInNetns,
  bindUdpInNetns,
  connectSocketInNetns,
  createSocketInNetns,
  getMark,
  isAddonAvailable,
  listenInNetns,
  listenServerInNetns,
  originalDestination,
  setMark,
} from '../src/node/index.js';
import { NetnsSet, sh, uniqueSuffix } from './helpers/netns.js';
import { addonSkipReason } from './helpers/privileges.js';

const addonMissing = !isAddonAvailable();

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isAmeshError(error) ? error.code : `not amesh: ${String(error)}`;
  }
  return undefined;
}

describe.skipIf(addonMissing)(
  `native addon on loopback ${addonMissing ? '(skipped: addon not built)' : ''}`,
  () => {
    it('falls back to the local address when a connection was not redirected', async () => {
      const server = net.createServer();
      await listenServerInNetns(server, null, { port: 0, host: '127.0.0.1' });
      const port = (server.address() as net.AddressInfo).port;
      const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
      const client = createSocketInNetns(null, { family: 4 });
      client.connect({ host: '127.0.0.1', port });
      const socket = await accepted;
      expect(originalDestination(socket)).toEqual({
        address: '127.0.0.1',
        port,
        family: 4,
        redirected: false,
      });
      client.destroy();
      socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('reports v4-mapped connections on a dual-stack listener as IPv4', async () => {
      const server = net.createServer();
      await listenServerInNetns(server, null, { port: 0, host: '::', ipv6Only: false });
      const port = (server.address() as net.AddressInfo).port;
      const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
      const client = net.connect({ host: '127.0.0.1', port });
      const socket = await accepted;
      expect(originalDestination(socket)).toMatchObject({ address: '127.0.0.1', port, family: 4 });
      client.destroy();
      socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('binds a UDP socket (current namespace) that dgram adopts and serves', async () => {
      const server = dgram.createSocket('udp4');
      const client = dgram.createSocket('udp4');
      try {
        await bindDgramInNetns(server, null, { port: 0, host: '127.0.0.1' });
        const port = server.address().port;
        const got = new Promise<string>((resolve) => server.once('message', (m) => resolve(m.toString())));
        client.send('ping', port, '127.0.0.1');
        expect(await got).toBe('ping');
      } finally {
        server.close();
        client.close();
      }
    });

    it('validates arguments before touching the kernel', () => {
      expect(() => listenInNetns(null, { port: 70000 })).toThrow(RangeError);
      expect(() => listenInNetns(null, { port: 1, host: 'localhost' })).toThrow(RangeError);
      expect(() => connectSocketInNetns(null, { family: 5 as 4 })).toThrow(RangeError);
      expect(() => connectSocketInNetns(null, { family: 4, mark: -2 })).toThrow(RangeError);
      expect(() => bindUdpInNetns(null, { port: 65536 })).toThrow(RangeError);
      expect(() => bindUdpInNetns(null, { port: 53, host: 'localhost' })).toThrow(RangeError);
    });

    it('maps kernel errors to typed errors (EADDRINUSE → CNI_ERR_SOCKET, bad fd, not a netns)', () => {
      const fd = listenInNetns(null, { port: 0, host: '127.0.0.1' });
      const server = net.createServer().listen({ fd });
      const port = (server.address() as net.AddressInfo).port;
      expect(codeOf(() => listenInNetns(null, { port, host: '127.0.0.1' }))).toBe('CNI_ERR_SOCKET');
      server.close();
      expect(codeOf(() => originalDestination(1_000_000))).toBe('CNI_ERR_SOCKET');
      expect(codeOf(() => originalDestination(new net.Socket()))).toBe('CNI_ERR_SOCKET');
      expect(codeOf(() => connectSocketInNetns('/etc/hostname', { family: 4 }))).toMatch(
        /CNI_ERR_NETNS_NOT_FOUND|CNI_ERR_PERMISSION/,
      );
      expect(codeOf(() => connectSocketInNetns('/nonexistent/netns', { family: 6 }))).toBe(
        'CNI_ERR_NETNS_NOT_FOUND',
      );
    });

    it.skipIf(addonSkipReason !== undefined)('sets and reads SO_MARK (needs CAP_NET_ADMIN)', () => {
      const socket = createSocketInNetns(null, { family: 6 });
      expect(getMark(socket)).toBe(0);
      setMark(socket, 0x539);
      expect(getMark(socket)).toBe(0x539);
      expect(() => setMark(socket, 2 ** 32)).toThrow(RangeError);
      socket.destroy();
    });
  },
);

describe.skipIf(addonSkipReason !== undefined)(
  `a held netns fd (/proc/self/fd/<n>) ${addonSkipReason ? `(skipped: ${addonSkipReason})` : ''}`,
  () => {
    it('creates sockets in the namespace the fd holds, and fails typed on a closed or non-netns fd', async () => {
      const namespaces = new NetnsSet();
      const fds: number[] = [];
      const server = net.createServer();
      try {
        const name = `amna${uniqueSuffix()}`;
        const fd = openSync(namespaces.add(name), 'r');
        fds.push(fd);
        const held = `/proc/self/fd/${fd}`;
        await listenServerInNetns(server, held, { port: 0, host: '127.0.0.1' });
        const port = (server.address() as net.AddressInfo).port;
        const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
        // Inside the namespace the listener answers on its loopback ...
        const inside = createSocketInNetns(held, { family: 4 });
        inside.connect({ host: '127.0.0.1', port });
        (await accepted).destroy();
        inside.destroy();
        // ... and the host namespace's loopback has no such listener.
        const outside = await new Promise<string>((resolve) => {
          const probe = net.connect({ host: '127.0.0.1', port });
          probe.once('connect', () => resolve('connected'));
          probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        });
        expect(outside).toBe('ECONNREFUSED');

        // A UDP socket bound inside the namespace (a DNS proxy's 15053) talks to one also made there.
        const udp = dgram.createSocket('udp4');
        const udpClient = dgram.createSocket('udp4');
        try {
          await bindDgramInNetns(udp, held, { port: 0, host: '127.0.0.1' });
          await bindDgramInNetns(udpClient, held, { port: 0, host: '127.0.0.1' });
          const udpPort = udp.address().port;
          const got = new Promise<string>((resolve) => udp.once('message', (m) => resolve(m.toString())));
          udpClient.send('ping', udpPort, '127.0.0.1');
          expect(await got).toBe('ping');
          expect(sh('ip', ['netns', 'exec', name, 'ss', '-Hlun'])).toContain(`127.0.0.1:${udpPort}`);
        } finally {
          udp.close();
          udpClient.close();
        }

        const file = openSync('/etc/hostname', 'r');
        fds.push(file);
        expect(codeOf(() => connectSocketInNetns(`/proc/self/fd/${file}`, { family: 4 }))).toBe(
          'CNI_ERR_NETNS_NOT_FOUND',
        );
        expect(codeOf(() => connectSocketInNetns('/proc/self/fd/999999', { family: 4 }))).toBe(
          'CNI_ERR_NETNS_NOT_FOUND',
        );
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        for (const fd of fds) closeSync(fd);
        namespaces.cleanup();
      }
    });
  },
);

const DIST = fileURLToPath(new URL('../dist/node/index.js', import.meta.url));

describe('without the addon', () => {
  it.skipIf(!existsSync(DIST))(
    'throws CNI_ERR_ADDON_UNAVAILABLE with how to build it (built package, addon path missing)',
    () => {
      const script = `
      import { connectSocketInNetns, isAddonAvailable } from ${JSON.stringify(DIST)};
      let code;
      try { connectSocketInNetns(null, { family: 4 }); } catch (e) { code = e.code + ' ' + e.message; }
      console.log(JSON.stringify({ available: isAddonAvailable(), code }));`;
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, AMESH_CNI_ADDON_PATH: '/nonexistent/amesh_netns.node' },
        encoding: 'utf8',
      });
      const out = JSON.parse(run.stdout) as { available: boolean; code: string };
      expect(out.available).toBe(false);
      expect(out.code).toMatch(/^CNI_ERR_ADDON_UNAVAILABLE native addon not built .*npm run build/);
    },
  );
  it('reports availability as a boolean', () => {
    expect(typeof isAddonAvailable()).toBe('boolean');
  });
});
