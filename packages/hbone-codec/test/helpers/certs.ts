import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A test CA and leaf certificates (P-256, SPIFFE URI SAN) made with the openssl CLI. */
export interface TestPki {
  readonly ca: string;
  leaf(spiffeId: string): { cert: string; key: string };
}

/** Makes a throwaway CA with openssl; leaves are issued on demand and cached. */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-hbone-pki-'));
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  try {
    run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'ca.key')]);
    run([
      'req',
      '-x509',
      '-new',
      '-key',
      join(dir, 'ca.key'),
      '-subj',
      '/O=amesh test CA',
      '-days',
      '2',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
      '-out',
      join(dir, 'ca.pem'),
    ]);
    const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const cache = new Map<string, { cert: string; key: string }>();
    let n = 0;
    const leaves: Array<{ id: string; cert: string; key: string }> = [];
    const issue = (id: string): { cert: string; key: string } => {
      const base = join(dir, `leaf${n++}`);
      run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${base}.key`]);
      run(['req', '-new', '-key', `${base}.key`, '-subj', '/', '-out', `${base}.csr`]);
      writeFileSync(
        `${base}.ext`,
        `subjectAltName=critical,URI:${id}\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=critical,CA:FALSE\n`,
      );
      run([
        'x509',
        '-req',
        '-in',
        `${base}.csr`,
        '-CA',
        join(dir, 'ca.pem'),
        '-CAkey',
        join(dir, 'ca.key'),
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        `${base}.ext`,
        '-out',
        `${base}.pem`,
      ]);
      return { cert: readFileSync(`${base}.pem`, 'utf8'), key: readFileSync(`${base}.key`, 'utf8') };
    };
    // Issue the common ones now, while the directory exists.
    for (const id of [
      'spiffe://cluster.local/ns/x/sa/y',
      'spiffe://cluster.local/ns/x/sa/server',
      'spiffe://cluster.local/ns/x/sa/client',
    ]) {
      const l = issue(id);
      cache.set(id, l);
      leaves.push({ id, ...l });
    }
    return {
      ca,
      leaf(id: string) {
        const found = cache.get(id);
        if (!found) throw new Error(`no test leaf for ${id}`);
        return found;
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
