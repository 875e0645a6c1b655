import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stop, waitForPort } from './processes.js';

/** Where Debian's haproxy lives (`apt-get install haproxy`). */
export const HAPROXY = '/usr/sbin/haproxy';

/** A running HAProxy TLS-to-TLS chain: entry (plain) → TLS 1.3 → exit → sink. */
export interface HaproxyChain {
  readonly entryPort: number;
  readonly pid: number | undefined;
  close(): Promise<void>;
}

/** Where one hop of the chain listens or dials; `namespace` places the socket in a named netns. */
export interface HaproxyEndpoint {
  readonly host: string;
  readonly port: number;
  readonly namespace?: string;
}

/**
 * The chain's configuration: plain entry → TLS 1.3 (AES-128-GCM, certificate
 * for `amesh-bench` verified against `dir/ca.pem`) → exit (`dir/combined.pem`)
 * → sink. The entry dials the exit from its own namespace, the exit dials the
 * sink from its own. One thread, like one ztunnel per node on one core.
 */
export function haproxyChainConfig(
  dir: string,
  hops: { readonly entry: HaproxyEndpoint; readonly exit: HaproxyEndpoint; readonly sink: HaproxyEndpoint },
): string {
  const ns = (namespace: string | undefined): string => (namespace ? ` namespace ${namespace}` : '');
  const { entry, exit, sink } = hops;
  return [
    'global',
    '  nbthread 1',
    '  ssl-default-bind-options ssl-min-ver TLSv1.3',
    '  ssl-default-server-options ssl-min-ver TLSv1.3',
    '  ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256',
    '  ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    'frontend entry',
    `  bind ${entry.host}:${entry.port}${ns(entry.namespace)}`,
    '  default_backend exit',
    'backend exit',
    `  server exit ${exit.host}:${exit.port}${ns(entry.namespace)} ssl verify required ca-file ${join(dir, 'ca.pem')} verifyhost amesh-bench sni str(amesh-bench)`,
    'frontend tls',
    `  bind ${exit.host}:${exit.port}${ns(exit.namespace)} ssl crt ${join(dir, 'combined.pem')}`,
    '  default_backend sink',
    'backend sink',
    `  server sink ${sink.host}:${sink.port}${ns(exit.namespace)}`,
    '',
  ].join('\n');
}

/**
 * The peer a user would pick for an mTLS tunnel: two HAProxy frontends in
 * one single-threaded process (like one ztunnel per node on one core),
 * TLS 1.3 with AES-128-GCM between them, server certificate verified.
 * `cert`/`key` must be for the name `amesh-bench`.
 */
export async function startHaproxyChain(options: {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly sinkHost: string;
  readonly sinkPort: number;
}): Promise<HaproxyChain> {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-bench-haproxy-'));
  writeFileSync(join(dir, 'combined.pem'), Buffer.concat([options.cert, options.key]));
  writeFileSync(join(dir, 'ca.pem'), options.cert);
  const [entryPort, exitPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'haproxy.cfg'),
    haproxyChainConfig(dir, {
      entry: { host: '127.0.0.1', port: entryPort },
      exit: { host: '127.0.0.1', port: exitPort },
      sink: { host: options.sinkHost, port: options.sinkPort },
    }),
  );
  const child = spawn(HAPROXY, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
  const close = async (): Promise<void> => {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  };
  await waitForPort(entryPort, child).catch(async (error: unknown) => {
    await close();
    throw error;
  });
  return { entryPort, pid: child.pid, close };
}
