import { type FSWatcher, watch as fsWatch } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { DirectoryState } from '../directory-state.js';
import { MeshConfigError } from '../errors.js';
import type { ConfigIssue } from '../issues.js';
import type { ConfigSource, ConfigSourceListener } from '../source.js';

/** Timer functions, injectable so tests control debouncing. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of {@link DirectorySource}. */
export interface DirectorySourceOptions {
  /** The directory holding `*.yaml` / `*.yml` files (searched recursively). */
  readonly directory: string;
  /** Quiet time after the last file event before rescanning. Default 100 ms. */
  readonly debounceMs?: number;
  /** Set `false` to load once and never watch. Default `true`. */
  readonly watch?: boolean;
  /** Timers for the debounce. Default: the global ones. */
  readonly timers?: Timers;
}

const YAML_FILE = /\.ya?ml$/i;

/**
 * A directory of multi-document YAML files as a {@link ConfigSource} (the
 * embedded default: no cluster needed). Watches every directory with `fs.watch`,
 * debounces bursts of events, then rescans: only files whose text changed
 * are re-parsed, each file's resources are replaced as a unit, and a bad
 * file reports `issues` and keeps its last good resources.
 *
 * @example
 * ```ts
 * const source = new DirectorySource({ directory: './mesh' });
 * await source.start((event) => { if (event.type === 'change') translator.apply(event.change); });
 * ```
 */
export class DirectorySource implements ConfigSource {
  readonly name: string;
  private readonly directory: string;
  private readonly debounceMs: number;
  private readonly shouldWatch: boolean;
  private readonly timers: Timers;
  private readonly state = new DirectoryState();
  private readonly texts = new Map<string, string>();
  /** One non-recursive watcher per directory: Node 20's recursive `fs.watch` on Linux misses repeated rename-over writes. */
  private readonly watchers = new Map<string, FSWatcher>();
  private timer: unknown;
  private listener: ConfigSourceListener | undefined;
  private scanning: Promise<void> = Promise.resolve();
  private closed = false;

  /** @param options - the directory and watch settings */
  constructor(options: DirectorySourceOptions) {
    this.directory = options.directory;
    this.name = `directory:${options.directory}`;
    this.debounceMs = options.debounceMs ?? 100;
    this.shouldWatch = options.watch ?? true;
    this.timers = options.timers ?? {
      setTimeout: (cb, ms) => setTimeout(cb, ms),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    };
  }

  /**
   * Loads every file, emits one `change` (and `issues` for bad files), then
   * `synced`, and starts watching.
   * @throws {MeshConfigError} `MESHCFG_ERR_SOURCE` when the directory cannot be read
   */
  async start(listener: ConfigSourceListener): Promise<void> {
    if (this.listener) throw new MeshConfigError('MESHCFG_ERR_SOURCE', `${this.name} already started`);
    try {
      if (!(await stat(this.directory)).isDirectory()) throw new Error('not a directory');
    } catch (cause) {
      throw new MeshConfigError('MESHCFG_ERR_SOURCE', `${this.name}: cannot read the directory`, [], {
        cause,
      });
    }
    this.listener = listener;
    if (this.shouldWatch) {
      // Watch before the first scan so no edit between the two is lost; the scan adds subdirectories.
      this.watchDirectories([this.directory]);
    }
    await this.rescan(true);
    listener({ type: 'synced' });
  }

  /**
   * Rescans now (also what the watcher does after the debounce). Resolves
   * when the resulting events have been emitted.
   */
  rescan(initial = false): Promise<void> {
    this.scanning = this.scanning
      .then(() => this.scan(initial))
      .catch((error: unknown) => {
        this.emitError(error);
      });
    return this.scanning;
  }

  /** Current issues by file (empty map when every file is good). */
  issues(): ReadonlyMap<string, readonly ConfigIssue[]> {
    return this.state.issues();
  }

  /** Stops watching. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    await this.scanning;
  }

  /** Keeps exactly one watcher per directory of the tree (new subdirectories in, removed ones out). */
  private watchDirectories(directories: readonly string[]): void {
    if (this.closed) return;
    const wanted = new Set(directories);
    for (const [dir, watcher] of this.watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (this.watchers.has(dir)) continue;
      try {
        const watcher = fsWatch(dir, () => this.schedule());
        watcher.on('error', (error) => {
          // A watched subdirectory that disappears errors; the next scan drops it.
          if (dir === this.directory) this.emitError(error);
          else this.schedule();
        });
        this.watchers.set(dir, watcher);
      } catch (error) {
        if (dir === this.directory) this.emitError(error);
      }
    }
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.rescan();
    }, this.debounceMs);
  }

  private emitError(error: unknown): void {
    if (this.closed) return;
    const e = error instanceof Error ? error : new Error(String(error));
    this.listener?.({
      type: 'error',
      error: new MeshConfigError('MESHCFG_ERR_SOURCE', `${this.name}: ${e.message}`, [], { cause: e }),
    });
  }

  private async scan(initial: boolean): Promise<void> {
    if (this.closed) return;
    const { files, directories } = await listYamlFiles(this.directory);
    if (this.shouldWatch) this.watchDirectories(directories);
    const updates = new Map<string, string | null>();
    for (const path of files) {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        continue; // vanished between readdir and read: treated as deleted below
      }
      const file = relative(this.directory, path);
      if (this.texts.get(file) !== text) updates.set(file, text);
      this.texts.set(file, text);
    }
    const present = new Set(files.map((p) => relative(this.directory, p)));
    for (const file of [...this.texts.keys()]) {
      if (!present.has(file)) {
        updates.set(file, null);
        this.texts.delete(file);
      }
    }
    if (updates.size === 0 && !initial) return;
    const hadIssues = new Set(this.state.issues().keys());
    const result = this.state.applyFiles(updates);
    if (this.closed) return;
    if (initial || result.change.upserted.length > 0 || result.change.removed.length > 0) {
      this.listener?.({ type: 'change', change: result.change });
    }
    for (const [file, issues] of result.issues) {
      if (issues.length > 0 || hadIssues.has(file)) this.listener?.({ type: 'issues', scope: file, issues });
    }
  }
}

async function listYamlFiles(dir: string): Promise<{ files: string[]; directories: string[] }> {
  const out: string[] = [];
  const directories: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    directories.push(d);
    for (const e of entries) {
      if (e.name.startsWith('.')) continue; // editor swap files, ..data symlinks of ConfigMaps
      const path = join(d, e.name);
      if (e.isDirectory()) await walk(path);
      else if ((e.isFile() || e.isSymbolicLink()) && YAML_FILE.test(e.name)) out.push(path);
    }
  };
  await walk(dir);
  return { files: out.sort(), directories };
}
