import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import type net from 'node:net';
import { dirname } from 'node:path';

/** Listens on a unix socket path: creates the folder, replaces a stale socket, restricts it to its owner. */
export async function listenUnix(server: net.Server, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  try {
    const info = await lstat(path);
    if (info.isSocket()) await unlink(path);
  } catch {
    // nothing there
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
}

/** Closes a server and removes its socket file; never throws. */
export async function closeUnix(server: net.Server, path: string): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await unlink(path).catch(() => {});
}
