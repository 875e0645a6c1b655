/**
 * The index key of a peer identity's namespace: the path segment after the
 * first `/ns/` of the principal (`cluster.local/ns/foo/sa/a` → `foo`).
 */
export function namespaceKey(principal: string): string | undefined {
  const at = principal.indexOf('/ns/');
  if (at < 0) return undefined;
  const end = principal.indexOf('/', at + 4);
  return end < 0 ? principal.slice(at + 4) : principal.slice(at + 4, end);
}
