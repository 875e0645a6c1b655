import { spawnSync } from 'node:child_process';
import { isAddonAvailable } from '../../src/node/addon.js';

function has(command: string, args: string[]): boolean {
  const run = spawnSync(command, args, { stdio: 'ignore' });
  return run.status === 0;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const isLinux = process.platform === 'linux';

/** Why privileged netns tests cannot run here, or undefined when they can. */
export const netnsSkipReason: string | undefined = !isLinux
  ? 'needs Linux'
  : !isRoot
    ? 'needs root (network namespaces, nftables)'
    : !has('ip', ['-V'])
      ? 'needs iproute2 (ip)'
      : !has('nft', ['--version'])
        ? 'needs nftables (nft)'
        : !has('nsenter', ['--version'])
          ? 'needs util-linux (nsenter)'
          : undefined;

/** Why tests that also need the native addon cannot run, or undefined. */
export const addonSkipReason: string | undefined =
  netnsSkipReason ?? (isAddonAvailable() ? undefined : 'needs the native addon (npm run build)');

const CNI_DIR = '/usr/lib/cni';
/** Why tests that run the CNI reference plugins cannot run, or undefined. */
export const cniSkipReason: string | undefined =
  addonSkipReason ??
  (['bridge', 'host-local', 'loopback'].every((p) => has('test', ['-x', `${CNI_DIR}/${p}`]))
    ? undefined
    : `needs containernetworking-plugins in ${CNI_DIR}`);

export { CNI_DIR };
