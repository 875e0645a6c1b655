import { analyze, formatIssue, type MeshResource, MeshTranslator } from '@amesh/mesh-config';
import { DirectorySource } from '@amesh/mesh-config/node';
import { authorizationConverter, peerAuthenticationConverter } from './run-control-plane.js';

/**
 * Loads a config directory once and returns every finding as a line: file
 * errors, conversion warnings (HTTP rules ztunnel cannot enforce, ...) and
 * analysis warnings (waypoints that resolve to nothing, selectors that match
 * nothing, ...).
 */
export async function analyzeDirectory(directory: string): Promise<string[]> {
  const lines: string[] = [];
  const translator = new MeshTranslator({ authorizationConverter, peerAuthenticationConverter });
  const source = new DirectorySource({ directory, watch: false });
  const resources: MeshResource[] = [];
  await new Promise<void>((resolve, reject) => {
    source
      .start((event) => {
        if (event.type === 'change') translator.apply(event.change);
        else if (event.type === 'issues')
          for (const i of event.issues) lines.push(`error: ${formatIssue(i)}`);
        else if (event.type === 'error') lines.push(`error: ${event.error.message}`);
        else if (event.type === 'synced') resolve();
      })
      .catch(reject);
  });
  await source.close();
  resources.push(...translator.resources().values());
  for (const [policy, warnings] of translator.warnings()) {
    for (const w of warnings) lines.push(`warning: ${policy}${w.path ? ` ${w.path}` : ''}: ${w.message}`);
  }
  for (const w of analyze(resources))
    lines.push(`warning: ${w.code} ${w.resource}${w.path ? ` ${w.path}` : ''}: ${w.message}`);
  return lines;
}
