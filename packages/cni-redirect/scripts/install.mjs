#!/usr/bin/env node
// Install-time build of the native addon (build/Release/amesh_netns.node).
// It never fails the install: without Linux, a compiler or Python, the
// package still installs and the socket helpers throw
// CNI_ERR_ADDON_UNAVAILABLE at run time. In this repository the `build`
// script rebuilds the addon anyway, so CI never depends on this step.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'build', 'Release', 'amesh_netns.node');

if (process.platform !== 'linux') {
  console.warn('@amesh/cni-redirect: not Linux, skipping the native addon');
  process.exit(0);
}
// npm runs lifecycle scripts with its bundled node-gyp on PATH and in npm_config_node_gyp.
const gypScript = process.env.npm_config_node_gyp;
const [command, args] =
  gypScript && existsSync(gypScript)
    ? [process.execPath, [gypScript, 'rebuild', '--loglevel=warn']]
    : ['node-gyp', ['rebuild', '--loglevel=warn']];
const run = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
if (run.status !== 0 || !existsSync(built)) {
  console.warn(
    '@amesh/cni-redirect: could not build the native addon (needs python3, make and a C compiler); ' +
      'listenInNetns, originalDestination and setMark will throw CNI_ERR_ADDON_UNAVAILABLE',
  );
}
process.exit(0);
