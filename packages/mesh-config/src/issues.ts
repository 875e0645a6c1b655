/** Where a resource came from: a file (and document index), or a source name. */
export interface ConfigOrigin {
  /** File path, for the YAML directory source. */
  readonly file?: string;
  /** 0-based index of the YAML document inside the file. */
  readonly document?: number;
  /** 1-based line of the document start, when known. */
  readonly line?: number;
  /** Source name, for example `kubernetes`. */
  readonly source?: string;
}

/**
 * One problem found in config: a parse error or a validation error. Every
 * issue names the resource (`Kind namespace/name`, as far as known) and the
 * field path (`spec.ports[0].port`), so a user can find it.
 */
export interface ConfigIssue {
  /** `MESHCFG_ERR_YAML_PARSE` or `MESHCFG_ERR_INVALID_RESOURCE`. */
  readonly code: 'MESHCFG_ERR_YAML_PARSE' | 'MESHCFG_ERR_INVALID_RESOURCE';
  /** `Kind namespace/name`, `Kind name` for cluster-scoped kinds, or `<unknown>`. */
  readonly resource: string;
  /** Dotted field path with `[i]` indexes; empty for the whole document. */
  readonly path: string;
  /** What is wrong, naming the rule. */
  readonly message: string;
  /** Where the resource came from. */
  readonly origin?: ConfigOrigin;
}

/** Renders an issue as one line: `file#doc: Kind ns/name: spec.x: message`. */
export function formatIssue(issue: ConfigIssue): string {
  const o = issue.origin;
  const where = o?.file
    ? `${o.file}${o.document !== undefined ? `#${o.document}` : ''}${o.line !== undefined ? `:${o.line}` : ''}: `
    : o?.source
      ? `${o.source}: `
      : '';
  return `${where}${issue.resource}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}
