/**
 * The CNI plugin ↔ node agent messages: one JSON object per line, one
 * request and one response per connection over the agent's unix socket.
 */
import { CniRedirectError } from './errors.js';

/** What the plugin asks the agent. */
export interface CniAgentRequest {
  readonly command: 'ADD' | 'DEL' | 'CHECK';
  readonly containerId: string;
  /** Absent only for DEL. */
  readonly netns?: string;
  readonly ifname: string;
  readonly podNamespace: string;
  readonly podName: string;
  readonly podUid?: string;
  /** Pod addresses from `prevResult`. */
  readonly ips: readonly string[];
}

/** The agent's answer. */
export type CniAgentResponse =
  | { readonly ok: true; readonly outcome: 'captured' | 'not-enrolled' | 'released' | 'checked' }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Longest line either side accepts. */
export const CNI_AGENT_MAX_LINE = 64 * 1024;

/** Serialises a message as one line. */
export function encodeCniAgentMessage(message: CniAgentRequest | CniAgentResponse): string {
  return `${JSON.stringify(message)}\n`;
}

function invalid(what: string): never {
  throw new CniRedirectError('CNI_ERR_PROTOCOL', `invalid CNI agent message: ${what}`);
}

function parseObject(line: string): Record<string, unknown> {
  if (line.length > CNI_AGENT_MAX_LINE) invalid(`line over ${CNI_AGENT_MAX_LINE} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return invalid('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid('not an object');
  return value as Record<string, unknown>;
}

const str = (o: Record<string, unknown>, key: string, required: boolean): string | undefined => {
  const v = o[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || (required && v === '')) invalid(`${key} must be a non-empty string`);
  return v;
};

/**
 * Parses and validates a request line.
 * @throws {CniRedirectError} `CNI_ERR_PROTOCOL`
 */
export function parseCniAgentRequest(line: string): CniAgentRequest {
  const o = parseObject(line);
  const command = o.command;
  if (command !== 'ADD' && command !== 'DEL' && command !== 'CHECK')
    invalid('command must be ADD, DEL or CHECK');
  const ips = o.ips ?? [];
  if (!Array.isArray(ips) || ips.some((ip) => typeof ip !== 'string'))
    invalid('ips must be an array of strings');
  const netns = str(o, 'netns', command !== 'DEL');
  const podUid = str(o, 'podUid', false);
  return {
    command,
    containerId: str(o, 'containerId', true)!,
    ifname: str(o, 'ifname', true)!,
    podNamespace: str(o, 'podNamespace', true)!,
    podName: str(o, 'podName', true)!,
    ips: ips as string[],
    ...(netns === undefined || netns === '' ? {} : { netns }),
    ...(podUid === undefined || podUid === '' ? {} : { podUid }),
  };
}

/**
 * Parses and validates a response line.
 * @throws {CniRedirectError} `CNI_ERR_PROTOCOL`
 */
export function parseCniAgentResponse(line: string): CniAgentResponse {
  const o = parseObject(line);
  if (o.ok === true) {
    const outcome = o.outcome;
    if (
      outcome !== 'captured' &&
      outcome !== 'not-enrolled' &&
      outcome !== 'released' &&
      outcome !== 'checked'
    ) {
      invalid('unknown outcome');
    }
    return { ok: true, outcome };
  }
  if (o.ok === false) {
    return { ok: false, code: str(o, 'code', true)!, message: str(o, 'message', false) ?? '' };
  }
  return invalid('ok must be a boolean');
}
