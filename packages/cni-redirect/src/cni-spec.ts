/**
 * CNI 1.0 plugin protocol, sans-IO: parse the environment and the network
 * configuration, build results and the spec's error JSON.
 * Spec: https://github.com/containernetworking/cni/blob/spec-v1.0.0/SPEC.md
 */

/** The CNI versions this plugin accepts in `cniVersion` (and reports for VERSION). */
export const SUPPORTED_CNI_VERSIONS: readonly string[] = Object.freeze(['0.3.0', '0.3.1', '0.4.0', '1.0.0']);

/** Well-known CNI error codes (SPEC.md "Error"); 100+ are plugin-specific. */
export const CniErrorCode = Object.freeze({
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  /** amesh: the node agent or ztunnel refused or failed to capture the pod. */
  CaptureFailed: 100,
} as const);

/** The error object a plugin prints on stdout when it fails (SPEC.md "Error"). */
export interface CniErrorResult {
  readonly cniVersion: string;
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}

/** Builds a spec-conformant error result. */
export function cniError(code: number, msg: string, details?: string, cniVersion = '1.0.0'): CniErrorResult {
  return details === undefined ? { cniVersion, code, msg } : { cniVersion, code, msg, details };
}

/** The VERSION command's answer. */
export function cniVersionResult(cniVersion = '1.0.0'): {
  readonly cniVersion: string;
  readonly supportedVersions: readonly string[];
} {
  return { cniVersion, supportedVersions: SUPPORTED_CNI_VERSIONS };
}

/** A CNI operation. */
export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

/** The parsed CNI environment (SPEC.md "Parameters"). */
export interface CniEnvironment {
  readonly command: CniCommand;
  readonly containerId: string;
  /** Absent only for DEL (and VERSION). */
  readonly netns?: string;
  readonly ifname: string;
  /** `CNI_ARGS` as key/value pairs (`K8S_POD_NAMESPACE`, `K8S_POD_NAME`, `K8S_POD_UID`, ...). */
  readonly args: Readonly<Record<string, string>>;
  readonly path: readonly string[];
}

/** A parse outcome: a value, or the CNI error to print. */
export type CniParse<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: CniErrorResult };

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function validIfname(name: string): boolean {
  return name.length > 0 && name.length <= 15 && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}

/**
 * Parses and validates the CNI environment variables for a command.
 * Errors use code 4 (invalid environment variables).
 */
export function parseCniEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): CniParse<CniEnvironment> {
  const fail = (msg: string, details?: string): CniParse<CniEnvironment> => ({
    ok: false,
    error: cniError(CniErrorCode.InvalidEnvironment, msg, details),
  });
  const command = env.CNI_COMMAND;
  if (command !== 'ADD' && command !== 'DEL' && command !== 'CHECK' && command !== 'VERSION') {
    return fail(
      'invalid CNI_COMMAND',
      `CNI_COMMAND must be ADD, DEL, CHECK or VERSION, got ${JSON.stringify(command ?? null)}`,
    );
  }
  const args: Record<string, string> = {};
  for (const pair of (env.CNI_ARGS ?? '').split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0)
      return fail(
        'invalid CNI_ARGS',
        `expected KEY=VALUE pairs separated by ";", got ${JSON.stringify(pair)}`,
      );
    args[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const path = (env.CNI_PATH ?? '').split(':').filter((p) => p !== '');
  if (command === 'VERSION') return { ok: true, value: { command, containerId: '', ifname: '', args, path } };
  const containerId = env.CNI_CONTAINERID ?? '';
  if (!CONTAINER_ID.test(containerId)) {
    return fail(
      'invalid CNI_CONTAINERID',
      'CNI_CONTAINERID must be non-empty, alphanumeric plus "_", "." and "-"',
    );
  }
  const ifname = env.CNI_IFNAME ?? '';
  if (!validIfname(ifname)) {
    return fail('invalid CNI_IFNAME', 'CNI_IFNAME must be 1..15 characters without "/", ":" or whitespace');
  }
  const netns = env.CNI_NETNS ?? '';
  if (netns === '' && command !== 'DEL')
    return fail('missing CNI_NETNS', `CNI_NETNS is required for ${command}`);
  return {
    ok: true,
    value: { command, containerId, ifname, args, path, ...(netns === '' ? {} : { netns }) },
  };
}

/** An interface or IP in a CNI result (only what amesh reads). */
export interface CniIpConfig {
  readonly address: string;
  readonly gateway?: string;
  readonly interface?: number;
}

/** The amesh plugin's network configuration (after validation). */
export interface AmeshCniConfig {
  readonly cniVersion: string;
  readonly name: string;
  readonly type: string;
  /** Unix socket of the node agent; default `/run/amesh/cni.sock`. */
  readonly agentSocket: string;
  /** How long ADD waits for the agent (which waits for ztunnel's ack); default 5000 ms. */
  readonly agentTimeoutMs: number;
  /** The previous plugin's result (required for ADD and CHECK: amesh is always chained). */
  readonly prevResult?: Readonly<Record<string, unknown>>;
  /** The full configuration object as received. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** Default node agent socket. */
export const DEFAULT_AGENT_SOCKET = '/run/amesh/cni.sock';
/** Default ADD timeout. */
export const DEFAULT_AGENT_TIMEOUT_MS = 5000;

function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/**
 * Parses the network configuration from stdin for `command`: JSON (code 6
 * when it is not), `cniVersion` supported (code 1), `name`/`type` present and
 * valid, plugin fields typed, and `prevResult` present for ADD and CHECK
 * (code 7). For VERSION only `cniVersion` is read.
 */
export function parseCniConfig(stdin: string, command: CniCommand): CniParse<AmeshCniConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdin);
  } catch (error) {
    return {
      ok: false,
      error: cniError(CniErrorCode.DecodeFailure, 'failed to decode network configuration', String(error)),
    };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return {
      ok: false,
      error: cniError(
        CniErrorCode.DecodeFailure,
        'failed to decode network configuration',
        'not a JSON object',
      ),
    };
  }
  const raw = parsed as Record<string, unknown>;
  const cniVersion = raw.cniVersion;
  const version = typeof cniVersion === 'string' ? cniVersion : '1.0.0';
  const fail = (code: number, msg: string, details?: string): CniParse<AmeshCniConfig> => ({
    ok: false,
    error: cniError(code, msg, details, SUPPORTED_CNI_VERSIONS.includes(version) ? version : '1.0.0'),
  });
  if (typeof cniVersion !== 'string' || cniVersion === '') {
    return fail(
      CniErrorCode.InvalidConfig,
      'invalid network configuration',
      'cniVersion is required (a string)',
    );
  }
  if (!SUPPORTED_CNI_VERSIONS.includes(cniVersion)) {
    return fail(
      CniErrorCode.IncompatibleVersion,
      'incompatible CNI version',
      `cniVersion ${cniVersion} is not one of ${SUPPORTED_CNI_VERSIONS.join(', ')}`,
    );
  }
  if (command === 'CHECK' && !versionAtLeast(cniVersion, '0.4.0')) {
    return fail(
      CniErrorCode.IncompatibleVersion,
      'incompatible CNI version',
      'CHECK needs cniVersion 0.4.0 or later',
    );
  }
  const name = raw.name;
  const type = raw.type;
  if (command !== 'VERSION') {
    if (typeof name !== 'string' || !NETWORK_NAME.test(name)) {
      return fail(
        CniErrorCode.InvalidConfig,
        'invalid network configuration',
        'name is required: alphanumeric plus "_", "." and "-"',
      );
    }
    if (typeof type !== 'string' || type === '') {
      return fail(CniErrorCode.InvalidConfig, 'invalid network configuration', 'type is required (a string)');
    }
  }
  const agentSocket = raw.agentSocket ?? DEFAULT_AGENT_SOCKET;
  if (typeof agentSocket !== 'string' || !agentSocket.startsWith('/')) {
    return fail(
      CniErrorCode.InvalidConfig,
      'invalid network configuration',
      'agentSocket must be an absolute path',
    );
  }
  const agentTimeoutMs = raw.agentTimeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
  if (typeof agentTimeoutMs !== 'number' || !Number.isInteger(agentTimeoutMs) || agentTimeoutMs < 1) {
    return fail(
      CniErrorCode.InvalidConfig,
      'invalid network configuration',
      'agentTimeoutMs must be a positive integer',
    );
  }
  const prevResult = raw.prevResult;
  if (
    prevResult !== undefined &&
    (typeof prevResult !== 'object' || prevResult === null || Array.isArray(prevResult))
  ) {
    return fail(CniErrorCode.InvalidConfig, 'invalid network configuration', 'prevResult must be an object');
  }
  if ((command === 'ADD' || command === 'CHECK') && prevResult === undefined) {
    return fail(
      CniErrorCode.InvalidConfig,
      'invalid network configuration',
      'prevResult is missing: amesh-cni must be chained after an interface plugin (for example bridge)',
    );
  }
  return {
    ok: true,
    value: {
      cniVersion,
      name: typeof name === 'string' ? name : '',
      type: typeof type === 'string' ? type : '',
      agentSocket,
      agentTimeoutMs,
      raw,
      ...(prevResult === undefined ? {} : { prevResult: prevResult as Record<string, unknown> }),
    },
  };
}

/**
 * The IP addresses (without prefix length) of a CNI result, for the agent
 * to know the pod's addresses. Tolerates 0.3/0.4/1.0 result shapes.
 */
export function resultAddresses(result: Readonly<Record<string, unknown>> | undefined): string[] {
  const ips = result?.ips;
  if (!Array.isArray(ips)) return [];
  const out: string[] = [];
  for (const ip of ips) {
    const address = (ip as { address?: unknown } | null)?.address;
    if (typeof address === 'string') out.push(address.split('/')[0]!);
  }
  return out;
}

/**
 * What a chained plugin prints after a successful ADD: the previous result,
 * converted to this invocation's `cniVersion` by relabelling (amesh adds no
 * interface or address).
 */
export function passThroughResult(config: AmeshCniConfig): Record<string, unknown> {
  return { ...config.prevResult, cniVersion: config.cniVersion };
}
