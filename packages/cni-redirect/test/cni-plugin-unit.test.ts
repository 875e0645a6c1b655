import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CniAgentRequest, parseCniAgentRequest } from '../src/index.js';
import { runCniPlugin } from '../src/node/index.js';

const prevResult = { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.4.0.9/24' }] };
const env = (command: string, args = 'K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart-1;K8S_POD_UID=u-1') => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: 'c1',
  CNI_NETNS: '/var/run/netns/c1',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: args,
});

describe('runCniPlugin against a scripted node agent (no root needed)', () => {
  let dir: string;
  let socketPath: string;
  let server: net.Server | undefined;
  const received: CniAgentRequest[] = [];

  /** An agent that answers every request with `answer` (raw line). */
  async function agentAnswering(answer: string): Promise<void> {
    server = net.createServer((socket) => {
      let buffer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        if (buffer.includes('\n')) {
          received.push(parseCniAgentRequest(buffer.slice(0, buffer.indexOf('\n'))));
          socket.end(answer);
        }
      });
    });
    await new Promise<void>((resolve) => server!.listen(socketPath, resolve));
  }

  const config = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      cniVersion: '0.4.0',
      name: 'net',
      type: 'amesh-cni',
      agentSocket: socketPath,
      prevResult,
      ...extra,
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'amesh-cni-unit-'));
    socketPath = join(dir, 'agent.sock');
    received.length = 0;
  });
  afterEach(async () => {
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('ADD sends the pod identity, netns and prevResult addresses, then passes prevResult through', async () => {
    await agentAnswering('{"ok":true,"outcome":"captured"}\n');
    const out = await runCniPlugin(env('ADD'), config());
    expect(out).toEqual({ exitCode: 0, stdout: `${JSON.stringify(prevResult)}\n`, stderr: '' });
    expect(received).toEqual([
      {
        command: 'ADD',
        containerId: 'c1',
        netns: '/var/run/netns/c1',
        ifname: 'eth0',
        podNamespace: 'shop',
        podName: 'cart-1',
        podUid: 'u-1',
        ips: ['10.4.0.9'],
      },
    ]);
  });

  it('maps agent failures to CNI codes: timeout/unreachable → 11, refusal → 100, garbage → 100', async () => {
    await agentAnswering('{"ok":false,"code":"CNI_ERR_TIMEOUT","message":"ztunnel slow"}\n');
    const timeout = await runCniPlugin(env('ADD'), config());
    expect(timeout.exitCode).toBe(1);
    expect(JSON.parse(timeout.stdout)).toEqual({
      cniVersion: '0.4.0',
      code: 11,
      msg: 'pod capture failed',
      details: 'CNI_ERR_TIMEOUT: ztunnel slow',
    });
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    await agentAnswering('{"ok":false,"code":"CNI_ERR_CAPTURE_FAILED","message":"refused"}\n');
    expect(JSON.parse((await runCniPlugin(env('ADD'), config())).stdout).code).toBe(100);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    await agentAnswering('not json\n');
    const garbage = await runCniPlugin(env('ADD'), config());
    expect(JSON.parse(garbage.stdout)).toMatchObject({ code: 100, msg: 'amesh node agent unavailable' });
  });

  it('times out a silent agent after agentTimeoutMs with code 11', async () => {
    server = net.createServer(() => {});
    await new Promise<void>((resolve) => server!.listen(socketPath, resolve));
    const out = await runCniPlugin(env('ADD'), config({ agentTimeoutMs: 100 }));
    expect(JSON.parse(out.stdout)).toMatchObject({
      code: 11,
      details: expect.stringMatching(/CNI_ERR_TIMEOUT/),
    });
    // Close the half-open connection the silent agent holds.
    server.close();
    server = undefined;
  });

  it('passes through pods without Kubernetes identity, and DEL never fails', async () => {
    const add = await runCniPlugin(env('ADD', 'IgnoreUnknown=1'), config());
    expect(add.exitCode).toBe(0);
    expect(JSON.parse(add.stdout)).toEqual(prevResult);
    expect(add.stderr).toMatch(/passing through/);
    const del = await runCniPlugin(env('DEL'), config());
    expect(del).toMatchObject({ exitCode: 0, stdout: '' });
    expect(del.stderr).toMatch(/not reachable/);
  });

  it('answers VERSION with the config’s version and rejects CHECK for a pre-0.4.0 config', async () => {
    const version = await runCniPlugin({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.3.1"}');
    expect(JSON.parse(version.stdout)).toEqual({
      cniVersion: '0.3.1',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'],
    });
    const check = await runCniPlugin(env('CHECK'), config({ cniVersion: '0.3.1' }));
    expect(JSON.parse(check.stdout)).toMatchObject({ cniVersion: '0.3.1', code: 1 });
  });
});
