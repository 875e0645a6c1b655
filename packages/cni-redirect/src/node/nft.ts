import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { CniRedirectError } from '../errors.js';
import {
  type PodRuleOptions,
  RULES_COMMENT,
  renderPodRules,
  renderPodRulesRemoval,
  resolvePodRuleOptions,
} from '../rules.js';

/** Where to find the tools (defaults: `nft` and `nsenter` on PATH). */
export interface NftOptions {
  readonly nftPath?: string;
  readonly nsenterPath?: string;
}

/** Result of {@link inspectPodRules}. */
export type PodRulesState = 'present' | 'absent' | 'foreign';

interface NftRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function spawnNft(
  netnsPath: string | null,
  args: readonly string[],
  input: string,
  options: NftOptions,
): Promise<NftRun> {
  const nft = options.nftPath ?? 'nft';
  const [command, argv] =
    netnsPath === null
      ? [nft, [...args]]
      : [options.nsenterPath ?? 'nsenter', [`--net=${netnsPath}`, '--', nft, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (cause: NodeJS.ErrnoException) => {
      reject(
        cause.code === 'ENOENT'
          ? new CniRedirectError(
              'CNI_ERR_NFT_UNAVAILABLE',
              `${command} not found (install nftables and util-linux)`,
              { cause },
            )
          : new CniRedirectError('CNI_ERR_NFT_FAILED', `cannot run ${command}: ${cause.message}`, { cause }),
      );
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => {
      // the child may exit before reading its input; the exit status tells
    });
    child.stdin.end(input);
  });
}

function failure(run: NftRun, netnsPath: string | null, what: string): CniRedirectError {
  const text = run.stderr.trim();
  if (/Operation not permitted|Permission denied/i.test(text)) {
    return new CniRedirectError(
      'CNI_ERR_PERMISSION',
      `${what} needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN): ${text}`,
    );
  }
  if (/failed to execute|No such file or directory/.test(text) && /nsenter: failed to execute/.test(text)) {
    return new CniRedirectError('CNI_ERR_NFT_UNAVAILABLE', `nft not found: ${text}`);
  }
  if (/nsenter: (cannot open|reassociate)/.test(text)) {
    return new CniRedirectError('CNI_ERR_NETNS_NOT_FOUND', `network namespace ${netnsPath}: ${text}`);
  }
  return new CniRedirectError('CNI_ERR_NFT_FAILED', `${what} failed (exit ${run.code}): ${text}`);
}

async function checkNetns(netnsPath: string | null): Promise<boolean> {
  if (netnsPath === null) return true;
  try {
    await stat(netnsPath);
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs (or atomically replaces) the in-pod redirection rules inside a
 * network namespace with one `nft -f` transaction. Idempotent.
 * `netnsPath` null means the current namespace.
 *
 * @throws {CniRedirectError} `CNI_ERR_NETNS_NOT_FOUND`, `CNI_ERR_NFT_UNAVAILABLE`, `CNI_ERR_PERMISSION`, `CNI_ERR_NFT_FAILED`, `CNI_ERR_INVALID_RULE_OPTIONS`
 * @example
 * ```ts
 * await applyPodRules('/var/run/netns/pod1', { dnsCapture: true });
 * ```
 */
export async function applyPodRules(
  netnsPath: string | null,
  options: PodRuleOptions & NftOptions = {},
): Promise<void> {
  const script = renderPodRules(options);
  if (!(await checkNetns(netnsPath))) {
    throw new CniRedirectError('CNI_ERR_NETNS_NOT_FOUND', `network namespace ${netnsPath} not found`);
  }
  const run = await spawnNft(netnsPath, ['-f', '-'], script, options);
  if (run.code !== 0) throw failure(run, netnsPath, 'applying pod rules');
}

/**
 * Removes the in-pod table. Idempotent: resolves `'removed'` whether or not
 * the table existed, and `'netns-gone'` when the namespace no longer exists
 * (its rules went with it).
 *
 * @throws {CniRedirectError} `CNI_ERR_NFT_UNAVAILABLE`, `CNI_ERR_PERMISSION`, `CNI_ERR_NFT_FAILED`
 */
export async function removePodRules(
  netnsPath: string | null,
  options: Pick<PodRuleOptions, 'table'> & NftOptions = {},
): Promise<'removed' | 'netns-gone'> {
  const script = renderPodRulesRemoval(options);
  if (!(await checkNetns(netnsPath))) return 'netns-gone';
  const run = await spawnNft(netnsPath, ['-f', '-'], script, options);
  if (run.code !== 0) {
    const error = failure(run, netnsPath, 'removing pod rules');
    if (error.code === 'CNI_ERR_NETNS_NOT_FOUND') return 'netns-gone';
    throw error;
  }
  return 'removed';
}

/**
 * Reports whether amesh's table exists in a namespace: `'present'` (with
 * amesh's comment and the capture redirects), `'absent'`, or `'foreign'` (a
 * table of that name that amesh did not write).
 *
 * @throws {CniRedirectError} `CNI_ERR_NETNS_NOT_FOUND`, `CNI_ERR_NFT_UNAVAILABLE`, `CNI_ERR_PERMISSION`, `CNI_ERR_NFT_FAILED`
 */
export async function inspectPodRules(
  netnsPath: string | null,
  options: PodRuleOptions & NftOptions = {},
): Promise<PodRulesState> {
  const o = resolvePodRuleOptions(options);
  if (!(await checkNetns(netnsPath))) {
    throw new CniRedirectError('CNI_ERR_NETNS_NOT_FOUND', `network namespace ${netnsPath} not found`);
  }
  const run = await spawnNft(netnsPath, ['list', 'table', 'inet', o.table], '', options);
  if (run.code !== 0) {
    if (/No such file or directory/.test(run.stderr) && !/nsenter/.test(run.stderr)) return 'absent';
    throw failure(run, netnsPath, 'listing pod rules');
  }
  const ours =
    run.stdout.includes(`comment "${RULES_COMMENT}"`) &&
    run.stdout.includes(`redirect to :${o.ports.outbound}`) &&
    run.stdout.includes(`redirect to :${o.ports.inbound}`);
  return ours ? 'present' : 'foreign';
}
