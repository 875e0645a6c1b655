import { delimiter } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { MeshConfigError } from '../errors.js';

/** Options of {@link loadKubeConfig}. */
export interface LoadKubeConfigOptions {
  /** A kubeconfig file (the `--kubeconfig` flag). Wins over everything else. */
  readonly path?: string;
  /** The environment to read `KUBECONFIG` and `KUBERNETES_SERVICE_HOST` from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Loads the `KubeConfig` a {@link KubernetesSource} talks with, in kubectl's
 * order minus the home-directory guess: the given file; else the files of
 * `KUBECONFIG` (merged, the first one's current context); else the
 * in-cluster config (service account token and CA under
 * `/var/run/secrets/kubernetes.io/serviceaccount`, server from
 * `KUBERNETES_SERVICE_HOST`/`_PORT`; the client reads those from `process.env`).
 * @throws {MeshConfigError} `MESHCFG_ERR_SOURCE` when the file does not load, has no current cluster, or nothing is configured
 * @example
 * ```ts
 * const source = new KubernetesSource({ kubeConfig: await loadKubeConfig({ path: '/etc/amesh/kubeconfig' }) });
 * ```
 */
export async function loadKubeConfig(options: LoadKubeConfigOptions = {}): Promise<KubeConfig> {
  const env = options.env ?? process.env;
  // Loaded on demand, like the source: directory-only users never load the Kubernetes client.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const files = options.path
    ? [options.path]
    : (env.KUBECONFIG ?? '').split(delimiter).filter((file) => file !== '');
  const config = new KubeConfig();
  if (files.length > 0) {
    files.forEach((file, i) => {
      const target = i === 0 ? config : new KubeConfig();
      try {
        target.loadFromFile(file);
        if (i > 0) config.mergeConfig(target, true);
      } catch (cause) {
        throw new MeshConfigError(
          'MESHCFG_ERR_SOURCE',
          `kubeconfig ${file} does not load: ${(cause as Error).message}`,
          [],
          { cause },
        );
      }
    });
    if (!config.getCurrentCluster()) {
      throw new MeshConfigError(
        'MESHCFG_ERR_SOURCE',
        `kubeconfig ${files.join(delimiter)} has no current context with a cluster`,
      );
    }
    return config;
  }
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) {
    throw new MeshConfigError(
      'MESHCFG_ERR_SOURCE',
      'no kube config: pass a kubeconfig file, set KUBECONFIG, or run in a pod (KUBERNETES_SERVICE_HOST)',
    );
  }
  config.loadFromCluster();
  return config;
}
