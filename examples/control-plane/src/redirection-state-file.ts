import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '@amesh/mtls-identity/node';
import { ControlPlaneError } from './errors.js';
import type { PersistedRedirection, ReportedRedirection } from './redirection-status.js';

/** File name of the redirection statuses inside `--state-dir`. */
export const REDIRECTION_STATE_FILE = 'redirection-status.json';

const FORMAT = 'amesh.redirection-status/v1';
const STATUSES: readonly ReportedRedirection[] = ['enabled', 'pending', 'none'];

/** The file's JSON form: `{ "format": "amesh.redirection-status/v1", "pods": [...] }`. */
export function encodeRedirectionState(entries: readonly PersistedRedirection[]): string {
  const pods = [...entries].sort((a, b) =>
    `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
  );
  return `${JSON.stringify({ format: FORMAT, pods }, null, 2)}\n`;
}

/**
 * Reads the file's JSON form back, strictly: an unknown format, a missing
 * field or an unknown status rejects the whole file.
 * @throws {ControlPlaneError} `CONTROL_PLANE_ERR_STATE`
 */
export function decodeRedirectionState(text: string): PersistedRedirection[] {
  const bad = (why: string): never => {
    throw new ControlPlaneError('CONTROL_PLANE_ERR_STATE', `redirection state: ${why}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new ControlPlaneError('CONTROL_PLANE_ERR_STATE', 'redirection state: not JSON', { cause });
  }
  if (typeof doc !== 'object' || doc === null) return bad('not an object');
  const { format, pods } = doc as { format?: unknown; pods?: unknown };
  if (format !== FORMAT) return bad(`format must be ${FORMAT}, got ${JSON.stringify(format)}`);
  if (!Array.isArray(pods)) return bad('pods must be a list');
  return pods.map((pod: unknown, i) => {
    if (typeof pod !== 'object' || pod === null) return bad(`pods[${i}] is not an object`);
    const { namespace, name, uid, status } = pod as Record<string, unknown>;
    if (typeof namespace !== 'string' || namespace === '') return bad(`pods[${i}].namespace is missing`);
    if (typeof name !== 'string' || name === '') return bad(`pods[${i}].name is missing`);
    if (uid !== undefined && typeof uid !== 'string') return bad(`pods[${i}].uid must be a string`);
    if (!STATUSES.includes(status as ReportedRedirection)) {
      return bad(`pods[${i}].status must be one of ${STATUSES.join(', ')}`);
    }
    return {
      namespace,
      name,
      ...(uid === undefined ? {} : { uid }),
      status: status as ReportedRedirection,
    };
  });
}

/**
 * The redirection statuses reported by node agents, kept in one JSON file
 * so a restarted control plane serves the pods that were captured before
 * without waiting for the agents to report again. Saves are atomic
 * (temporary file + rename) and coalesced: while one write is running, the
 * latest state waits and is written next; older ones are skipped.
 */
export class RedirectionStateFile {
  readonly path: string;
  readonly #log: (line: string) => void;
  #pending: readonly PersistedRedirection[] | undefined;
  #writing: Promise<void> | undefined;

  /**
   * @param path - the JSON file (`<state-dir>/redirection-status.json`)
   * @param log - where write failures are reported
   */
  constructor(path: string, log: (line: string) => void) {
    this.path = path;
    this.#log = log;
  }

  /**
   * The saved statuses; none when the file does not exist. A file that does
   * not decode is reported through `log` and ignored (agents report again),
   * and is replaced on the next save.
   * @throws {ControlPlaneError} `CONTROL_PLANE_ERR_STATE` when the file exists but cannot be read
   */
  async load(): Promise<PersistedRedirection[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new ControlPlaneError(
        'CONTROL_PLANE_ERR_STATE',
        `cannot read ${this.path}: ${(cause as Error).message}`,
        { cause },
      );
    }
    try {
      return decodeRedirectionState(text);
    } catch (error) {
      this.#log(`state: ignoring ${this.path}: ${(error as Error).message}`);
      return [];
    }
  }

  /** Schedules a save of these statuses. */
  save(entries: readonly PersistedRedirection[]): void {
    this.#pending = entries;
    this.#writing ??= this.#drain();
  }

  /** Resolves when every scheduled save is on disk (or failed and was logged). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #drain(): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      while (this.#pending) {
        const entries = this.#pending;
        this.#pending = undefined;
        try {
          await writeFileAtomic(this.path, encodeRedirectionState(entries), 0o600);
        } catch (error) {
          this.#log(`state: cannot save ${this.path}: ${(error as Error).message}`);
        }
      }
    } catch (error) {
      this.#log(`state: cannot create ${dirname(this.path)}: ${(error as Error).message}`);
    } finally {
      this.#writing = undefined;
    }
  }
}
