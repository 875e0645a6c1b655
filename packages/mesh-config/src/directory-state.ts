import { deepEqual } from './deep-equal.js';
import type { ConfigIssue } from './issues.js';
import { parseYamlResources } from './parse-yaml.js';
import {
  type ConfigChange,
  type MeshResource,
  type ResourceRef,
  resourceKey,
  resourceRef,
} from './resources.js';

/** Result of {@link DirectoryState.applyFiles}. */
export interface FilesUpdate {
  /** Only the resources whose effective value changed. */
  readonly change: ConfigChange;
  /** The issues now, for every file of the batch (empty list: the file is good). */
  readonly issues: ReadonlyMap<string, readonly ConfigIssue[]>;
  /** Files rejected as a whole (their last good resources were kept). */
  readonly rejected: readonly string[];
}

/**
 * The sans-IO core of the YAML directory source: resources per file, each
 * file replaced as a unit. A file with any parse or validation issue is
 * rejected as a whole and its last good resources stay in place. When two
 * files define the same resource, the file whose path sorts first wins and
 * the other gets an issue.
 *
 * @example
 * ```ts
 * const state = new DirectoryState();
 * const { change, issues } = state.updateFile('mesh/ns.yaml', text);
 * ```
 */
export class DirectoryState {
  private readonly files = new Map<string, ReadonlyMap<string, MeshResource>>();
  private readonly definers = new Map<string, Set<string>>();
  private readonly fileIssues = new Map<string, readonly ConfigIssue[]>();

  /**
   * Applies new contents for several files at once (`null`: the file is
   * gone) and returns the net change, so a resource moved between files in
   * one batch is not reported as removed.
   */
  applyFiles(updates: ReadonlyMap<string, string | null>): FilesUpdate {
    const parsedFiles = new Map<string, Map<string, MeshResource>>();
    const issues = new Map<string, readonly ConfigIssue[]>();
    const rejected: string[] = [];
    for (const [file, text] of updates) {
      if (text === null) {
        parsedFiles.set(file, new Map());
        continue;
      }
      const parsed = parseYamlResources(text, file);
      if (parsed.issues.length > 0) {
        issues.set(file, parsed.issues);
        this.fileIssues.set(file, parsed.issues);
        rejected.push(file);
        continue;
      }
      const next = new Map<string, MeshResource>();
      for (const r of parsed.resources) next.set(resourceKey(r), r);
      parsedFiles.set(file, next);
    }
    const change = this.replace(parsedFiles);
    for (const file of parsedFiles.keys()) {
      const dup = updates.get(file) === null ? [] : this.duplicateIssues(file);
      issues.set(file, dup);
      if (dup.length > 0) this.fileIssues.set(file, dup);
      else this.fileIssues.delete(file);
    }
    return { change, issues, rejected };
  }

  /** Parses `text` as the new content of `file` and returns what changed. */
  updateFile(file: string, text: string): FilesUpdate {
    return this.applyFiles(new Map([[file, text]]));
  }

  /** Forgets `file` (deleted or renamed away) and returns what changed. */
  removeFile(file: string): FilesUpdate {
    return this.applyFiles(new Map([[file, null]]));
  }

  /** The files currently known (with or without resources). */
  knownFiles(): string[] {
    return [...new Set([...this.files.keys(), ...this.fileIssues.keys()])].sort();
  }

  /** The effective resources, one per key. */
  resources(): MeshResource[] {
    const out: MeshResource[] = [];
    for (const key of this.definers.keys()) {
      const r = this.effective(key);
      if (r) out.push(r);
    }
    return out;
  }

  /** Current issues by file. */
  issues(): ReadonlyMap<string, readonly ConfigIssue[]> {
    return this.fileIssues;
  }

  private effective(key: string): MeshResource | undefined {
    const files = this.definers.get(key);
    if (!files || files.size === 0) return undefined;
    const winner = [...files].sort()[0]!;
    return this.files.get(winner)?.get(key);
  }

  private replace(batch: ReadonlyMap<string, ReadonlyMap<string, MeshResource>>): ConfigChange {
    const before = new Map<string, MeshResource | undefined>();
    for (const [file, next] of batch) {
      for (const key of [...(this.files.get(file)?.keys() ?? []), ...next.keys()]) {
        if (!before.has(key)) before.set(key, this.effective(key));
      }
    }
    for (const [file, next] of batch) {
      for (const key of this.files.get(file)?.keys() ?? []) {
        if (next.has(key)) continue;
        const set = this.definers.get(key);
        set?.delete(file);
        if (set?.size === 0) this.definers.delete(key);
      }
      for (const key of next.keys()) {
        let set = this.definers.get(key);
        if (!set) {
          set = new Set();
          this.definers.set(key, set);
        }
        set.add(file);
      }
      if (next.size > 0) this.files.set(file, next);
      else this.files.delete(file);
    }
    const upserted: MeshResource[] = [];
    const removed: ResourceRef[] = [];
    for (const [key, old] of before) {
      const now = this.effective(key);
      if (now === undefined) {
        if (old !== undefined) removed.push(resourceRef(old));
      } else if (old === undefined || !deepEqual(old, now)) {
        upserted.push(now);
      }
    }
    return { upserted, removed };
  }

  private duplicateIssues(file: string): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    for (const [key, r] of this.files.get(file) ?? []) {
      const files = [...(this.definers.get(key) ?? [])].sort();
      if (files.length > 1 && files[0] !== file) {
        issues.push({
          code: 'MESHCFG_ERR_INVALID_RESOURCE',
          resource: `${r.kind} ${r.metadata.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata.name}`,
          path: 'metadata.name',
          message: `also defined in ${files[0]}, which wins; this definition is ignored`,
          origin: { file },
        });
      }
    }
    return issues;
  }
}
