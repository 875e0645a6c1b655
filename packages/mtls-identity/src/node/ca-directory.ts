import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CertificateAuthority } from '../ca.js';
import {
  CA_DIRECTORY_FILES as F,
  type CaDirectoryOptions,
  caFromDirectoryFiles,
  failCaDirectory as fail,
  type OpenedCa,
} from '../ca-directory.js';
import { exportPrivateKeyPem, nobleEcdsaP256, type P256Key } from '../keys.js';

/**
 * Opens a CA directory (`--ca-dir`): a plug-in CA or a persisted
 * self-signed root as {@link caFromDirectoryFiles} reads them; when the
 * directory holds none, creates a self-signed root and writes `ca-key.pem`
 * (mode 0600) and `ca-cert.pem` there, each atomically (temporary file,
 * fsync, rename), so the next start signs with the same root.
 * @throws {IdentityError} `IDENTITY_ERR_CA_CONFIG` whose `rule` says why (`unreadable`, `write-failed`, or a rule of `caFromDirectoryFiles`)
 *
 * @example
 * ```ts
 * const { ca } = await openCaDirectory('/etc/cacerts', { trustDomain: 'cluster.local', ecdsa: nodeEcdsaP256 });
 * ```
 */
export async function openCaDirectory(
  directory: string,
  options: CaDirectoryOptions & { readonly log?: (line: string) => void },
): Promise<OpenedCa> {
  const files = {
    caCert: await readIfExists(join(directory, F.caCert)),
    caKey: await readIfExists(join(directory, F.caKey)),
    rootCert: await readIfExists(join(directory, F.rootCert)),
    certChain: await readIfExists(join(directory, F.certChain)),
  };
  const contents = caFromDirectoryFiles(files, options);
  if (contents.kind !== 'empty') {
    const mode = (await stat(join(directory, F.caKey))).mode;
    if ((mode & 0o077) !== 0) {
      options.log?.(
        `warning: ${join(directory, F.caKey)} is readable by others (mode ${(mode & 0o777).toString(8)})`,
      );
    }
    return contents.kind === 'plug-in' ? contents : { ...contents, created: false };
  }
  const ecdsa = options.ecdsa;
  const key: P256Key = (ecdsa ?? nobleEcdsaP256).generateKey();
  const ca = CertificateAuthority.createRoot({
    trustDomain: options.trustDomain,
    key,
    ...(ecdsa ? { ecdsa } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  try {
    await mkdir(directory, { recursive: true, mode: 0o700 });
    // Key first: a crash between the two renames leaves `incomplete`, which is refused, never a cert without its key in use.
    await writeFileAtomic(join(directory, F.caKey), exportPrivateKeyPem(key), 0o600);
    await writeFileAtomic(join(directory, F.caCert), ca.chain[0]!.pem, 0o644);
  } catch (cause) {
    fail('write-failed', `cannot write the new root to ${directory}: ${(cause as Error).message}`, cause);
  }
  return { kind: 'self-signed', ca, created: true };
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return fail('unreadable', `cannot read ${path}: ${(error as Error).message}`, error);
  }
}

/**
 * Writes a file so that a reader sees the old content or the new, never a
 * part (what the CA directory's key and certificate need, and any state file
 * next to them): a temporary file in the same directory created with `mode`,
 * fsync, rename, fsync of the directory.
 *
 * @example
 * ```ts
 * await writeFileAtomic('/var/lib/amesh/state.json', JSON.stringify(state), 0o600);
 * ```
 */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const file = await open(tmp, 'wx', mode);
  try {
    await file.writeFile(data);
    await file.sync();
    await file.close();
    await rename(tmp, path);
  } catch (error) {
    await file.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw error;
  }
  const dir = await open(dirname(path), 'r');
  await dir.sync().finally(() => dir.close());
}
