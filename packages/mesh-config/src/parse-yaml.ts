import { LineCounter, parseAllDocuments } from 'yaml';
import type { ConfigIssue } from './issues.js';
import { type MeshResource, resourceKey } from './resources.js';
import { validateResource } from './validate.js';

/** Result of {@link parseYamlResources}. */
export interface ParsedYaml {
  /** Resources that parsed and validated, in file order. */
  readonly resources: readonly MeshResource[];
  /** Every parse and validation issue; empty when the whole file is good. */
  readonly issues: readonly ConfigIssue[];
}

/**
 * Parses a multi-document YAML text (documents separated by `---`) into
 * validated resources. Empty documents are skipped; `kind: List` documents
 * contribute their `items`. Pure: no file system access.
 *
 * @param text - the YAML text
 * @param file - a name for the text, used in issues (`origin.file`)
 * @example
 * ```ts
 * const { resources, issues } = parseYamlResources('apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n', 'ns.yaml');
 * ```
 */
export function parseYamlResources(text: string, file: string): ParsedYaml {
  const issues: ConfigIssue[] = [];
  const resources: MeshResource[] = [];
  const seen = new Set<string>();
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(documents) ? documents : [];
  if (!Array.isArray(documents)) {
    // An empty stream gives an EmptyStream object: no resources, no issues.
    return { resources, issues };
  }
  list.forEach((doc, index) => {
    const start = doc.contents?.range?.[0] ?? doc.range?.[0];
    const line = start !== undefined ? lineCounter.linePos(start).line : undefined;
    const origin = { file, document: index, ...(line !== undefined ? { line } : {}) };
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        const pos = error.linePos?.[0];
        issues.push({
          code: 'MESHCFG_ERR_YAML_PARSE',
          resource: '<unknown>',
          path: '',
          message: `${pos ? `line ${pos.line} column ${pos.col}: ` : ''}${error.message.split('\n')[0]}`,
          origin: { file, document: index, ...(pos ? { line: pos.line } : {}) },
        });
      }
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    const items =
      typeof value === 'object' && !Array.isArray(value) && (value as { kind?: unknown }).kind === 'List'
        ? ((value as { items?: unknown }).items ?? [])
        : [value];
    if (!Array.isArray(items)) {
      issues.push({
        code: 'MESHCFG_ERR_INVALID_RESOURCE',
        resource: 'List',
        path: 'items',
        message: 'must be a list',
        origin,
      });
      return;
    }
    for (const item of items) {
      const result = validateResource(item, origin);
      if (!result.ok) {
        issues.push(...result.issues);
        continue;
      }
      const key = resourceKey(result.resource);
      if (seen.has(key)) {
        const ns = result.resource.metadata.namespace;
        issues.push({
          code: 'MESHCFG_ERR_INVALID_RESOURCE',
          resource: `${result.resource.kind} ${ns ? `${ns}/` : ''}${result.resource.metadata.name}`,
          path: 'metadata.name',
          message: 'defined twice in the same file',
          origin,
        });
        continue;
      }
      seen.add(key);
      resources.push(result.resource);
    }
  });
  return { resources, issues };
}
