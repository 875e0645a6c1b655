/**
 * Node glue of `@amesh/mesh-config`: the watched YAML directory source and
 * the Kubernetes source (informers through `@kubernetes/client-node`).
 * @packageDocumentation
 */
export { DirectorySource } from './directory-source.js';
export type { DirectorySourceOptions, Timers } from './directory-source.js';
export { KUBERNETES_KINDS, KubernetesSource } from './kubernetes-source.js';
export type { KubernetesKindInfo, KubernetesSourceOptions } from './kubernetes-source.js';
export { loadKubeConfig } from './kube-config.js';
export type { LoadKubeConfigOptions } from './kube-config.js';
