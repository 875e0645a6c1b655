import net from 'node:net';
import {
  type CniAgentRequest,
  type CniAgentResponse,
  CNI_AGENT_MAX_LINE,
  encodeCniAgentMessage,
  parseCniAgentResponse,
} from '../cni-agent-protocol.js';
import {
  CniErrorCode,
  type CniErrorResult,
  cniError,
  cniVersionResult,
  parseCniConfig,
  parseCniEnvironment,
  passThroughResult,
  resultAddresses,
} from '../cni-spec.js';
import { CniRedirectError } from '../errors.js';

/** What a plugin run produces: what to print on stdout and stderr, and the exit code. */
export interface CniPluginOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Sends one request to the node agent and waits for its answer.
 * @throws {CniRedirectError} `CNI_ERR_AGENT_UNREACHABLE`, `CNI_ERR_TIMEOUT`, `CNI_ERR_PROTOCOL`, `CNI_ERR_CONNECTION_CLOSED`
 */
export function requestNodeAgent(
  socketPath: string,
  request: CniAgentRequest,
  timeoutMs: number,
): Promise<CniAgentResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let buffer = '';
    let settled = false;
    const finish = (error: Error | undefined, response?: CniAgentResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(response!);
    };
    const timer = setTimeout(
      () =>
        finish(new CniRedirectError('CNI_ERR_TIMEOUT', `node agent did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(encodeCniAgentMessage(request)));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline >= 0) {
        try {
          finish(undefined, parseCniAgentResponse(buffer.slice(0, newline)));
        } catch (error) {
          finish(error as Error);
        }
      } else if (buffer.length > CNI_AGENT_MAX_LINE) {
        finish(new CniRedirectError('CNI_ERR_PROTOCOL', 'node agent answer too long'));
      }
    });
    socket.on('error', (cause) =>
      finish(
        new CniRedirectError('CNI_ERR_AGENT_UNREACHABLE', `node agent not reachable on ${socketPath}`, {
          cause,
        }),
      ),
    );
    socket.on('close', () =>
      finish(
        new CniRedirectError(
          'CNI_ERR_CONNECTION_CLOSED',
          'node agent closed the connection without answering',
        ),
      ),
    );
  });
}

const failed = (error: CniErrorResult, stderr = ''): CniPluginOutcome => ({
  exitCode: 1,
  stdout: `${JSON.stringify(error)}\n`,
  stderr,
});
const succeeded = (result: unknown, stderr = ''): CniPluginOutcome => ({
  exitCode: 0,
  stdout: result === undefined ? '' : `${JSON.stringify(result)}\n`,
  stderr,
});

/** The CNI code a failed agent exchange maps to. */
function errorCodeFor(code: string): number {
  return code === 'CNI_ERR_AGENT_UNREACHABLE' ||
    code === 'CNI_ERR_TIMEOUT' ||
    code === 'CNI_ERR_CONNECTION_CLOSED'
    ? CniErrorCode.TryAgainLater
    : CniErrorCode.CaptureFailed;
}

function versionOf(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' && /^\d+\.\d+\.\d+$/.test(v) ? v : '1.0.0';
  } catch {
    return '1.0.0';
  }
}

/**
 * Runs the amesh CNI plugin once (CNI 1.0: ADD, DEL, CHECK, VERSION), as
 * the `amesh-cni` executable does with `process.env` and stdin. Chained
 * after an interface plugin: ADD asks the node agent to capture the pod
 * (the agent answers after ztunnel acked, or fails), then passes
 * `prevResult` through; a pod that is not enrolled is passed through
 * untouched. DEL never fails because of a missing agent or pod (the spec
 * asks DEL to succeed when resources are already gone).
 *
 * @example
 * ```ts
 * const out = await runCniPlugin(process.env, stdinText);
 * process.stdout.write(out.stdout); process.exitCode = out.exitCode;
 * ```
 */
export async function runCniPlugin(
  env: Readonly<Record<string, string | undefined>>,
  stdin: string,
): Promise<CniPluginOutcome> {
  const parsedEnv = parseCniEnvironment(env);
  if (!parsedEnv.ok) return failed({ ...parsedEnv.error, cniVersion: versionOf(stdin) });
  const environment = parsedEnv.value;
  const parsedConfig = parseCniConfig(stdin, environment.command);
  if (!parsedConfig.ok) return failed(parsedConfig.error);
  const config = parsedConfig.value;
  if (environment.command === 'VERSION') return succeeded(cniVersionResult(config.cniVersion));

  const podNamespace = environment.args.K8S_POD_NAMESPACE;
  const podName = environment.args.K8S_POD_NAME;
  if (!podNamespace || !podName) {
    // Not a Kubernetes pod (no K8S_POD_* args): nothing to enrol.
    const note = 'amesh-cni: no K8S_POD_NAMESPACE/K8S_POD_NAME in CNI_ARGS; passing through\n';
    return environment.command === 'ADD'
      ? succeeded(passThroughResult(config), note)
      : succeeded(undefined, note);
  }
  const podUid = environment.args.K8S_POD_UID;
  const request: CniAgentRequest = {
    command: environment.command,
    containerId: environment.containerId,
    ifname: environment.ifname,
    podNamespace,
    podName,
    ips: resultAddresses(config.prevResult),
    ...(environment.netns === undefined ? {} : { netns: environment.netns }),
    ...(podUid ? { podUid } : {}),
  };
  let response: CniAgentResponse;
  try {
    response = await requestNodeAgent(config.agentSocket, request, config.agentTimeoutMs);
  } catch (error) {
    const e = error as CniRedirectError;
    if (environment.command === 'DEL') return succeeded(undefined, `amesh-cni: DEL: ${e.message}\n`);
    return failed(
      cniError(
        errorCodeFor(e.code),
        'amesh node agent unavailable',
        `${e.code}: ${e.message}`,
        config.cniVersion,
      ),
    );
  }
  if (!response.ok) {
    if (environment.command === 'DEL') return succeeded(undefined, `amesh-cni: DEL: ${response.message}\n`);
    return failed(
      cniError(
        errorCodeFor(response.code),
        environment.command === 'ADD' ? 'pod capture failed' : 'pod capture check failed',
        `${response.code}: ${response.message}`,
        config.cniVersion,
      ),
    );
  }
  return environment.command === 'ADD' ? succeeded(passThroughResult(config)) : succeeded(undefined);
}
