import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import {
  type AuthorizationPolicy,
  type ConversionResult,
  type PeerAuthentication,
  peerAuthenticationToWire,
  toWireAuthorization,
} from '@amesh/authz-engine';
import {
  analyze,
  type AuthorizationConverter,
  type ConfigChange,
  type ConfigSource,
  type ConversionWarning,
  formatIssue,
  MeshTranslator,
  type PeerAuthenticationConverter,
} from '@amesh/mesh-config';
import { DirectorySource } from '@amesh/mesh-config/node';
import {
  bearerTokenAuthenticator,
  buildCsr,
  type CaDirectoryProblem,
  CaService,
  CertificateAuthority,
  exportPrivateKeyPem,
  IdentityError,
  parseSpiffeId,
} from '@amesh/mtls-identity';
import {
  addCaService,
  grpcServerCredentials,
  nodeEcdsaP256,
  openCaDirectory,
} from '@amesh/mtls-identity/node';
import { MetricsRegistry } from '@amesh/telemetry';
import { metricsRequestListener } from '@amesh/telemetry/node';
import { encodeAddress, encodeAuthorization, TypeUrl } from '@amesh/xds-types';
import type { Address, Authorization, DeepPartial } from '@amesh/xds-types';
import { XdsServer } from '@amesh/xds-server/node';
import { ControlPlaneError } from './errors.js';
import { REDIRECTION_STATE_FILE, RedirectionStateFile } from './redirection-state-file.js';
import {
  handleRedirectionRequest,
  overlayRecorder,
  type PodAnnotationWriter,
  podAnnotationRecorder,
  RedirectionOverlay,
} from './redirection-status.js';

/** How the control plane runs (the CLI flags in `main.ts`). */
export interface ControlPlaneConfig {
  /** Directory of YAML files (the default config source), watched. Required unless {@link ControlPlaneConfig.source} is given. */
  readonly configDir?: string;
  /**
   * Another config source instead of the YAML directory, e.g. a
   * `KubernetesSource` (`--source kubernetes`). The control plane starts and
   * closes it.
   */
  readonly source?: ConfigSource;
  /**
   * The CA directory (`--ca-dir`): Istio's plug-in layout (`ca-cert.pem`,
   * `ca-key.pem`, `root-cert.pem`, `cert-chain.pem`) to sign with an
   * operator's intermediate, or a self-signed root kept there (`ca-cert.pem`
   * + `ca-key.pem`, created on first start). Default `<stateDir>/ca` when
   * {@link ControlPlaneConfig.stateDir} is set; without either, a fresh root
   * at every start.
   */
  readonly caDir?: string;
  /**
   * Where the control plane keeps state across restarts (`--state-dir`): the
   * redirection statuses node agents reported (`redirection-status.json`)
   * and, unless {@link ControlPlaneConfig.caDir} says otherwise, the CA (`ca/`).
   */
  readonly stateDir?: string;
  /**
   * Where node agents' redirection reports go. Absent: an overlay on the
   * config's Pods, kept in {@link ControlPlaneConfig.stateDir} (the YAML
   * directory mode). Given (the `KubernetesSource`): the
   * `ambient.istio.io/redirection` annotation patched on the Pod object, as
   * Istio's CNI agent does; the API server keeps it, so no state file.
   */
  readonly podAnnotations?: PodAnnotationWriter;
  /** gRPC address for xDS and the CA (plaintext), e.g. `127.0.0.1:15010`. */
  readonly grpcAddress: string;
  /**
   * gRPC address for xDS and the CA over TLS, e.g. `127.0.0.1:15012`. The
   * server certificate is issued by the mesh CA for
   * `spiffe://<td>/ns/istio-system/sa/istiod`; clients verify it with the
   * root bundle (see {@link ControlPlaneConfig.rootCertOut}).
   */
  readonly tlsGrpcAddress?: string;
  /** Where to write the CA's root bundle (PEM) for clients of the TLS port. */
  readonly rootCertOut?: string;
  /** HTTP address for readiness, metrics and the admin dump, e.g. `127.0.0.1:15014`. */
  readonly httpHost: string;
  readonly httpPort: number;
  readonly trustDomain?: string;
  readonly clusterId?: string;
  /**
   * Bearer tokens of node agents (ztunnels): token → node name. A ztunnel
   * presenting a token may get certificates for pods on that node only.
   */
  readonly nodeTokens: Readonly<Record<string, string>>;
  /** Push debounce in milliseconds (default 100). */
  readonly debounceMs?: number;
  readonly log?: (line: string) => void;
}

/** A running control plane. */
export interface RunningControlPlane {
  readonly translator: MeshTranslator;
  readonly xds: XdsServer;
  readonly ca: CertificateAuthority;
  /** Where the CA came from: an operator's plug-in CA, a persisted or new self-signed root, or an ephemeral root. */
  readonly caKind: 'plug-in' | 'self-signed-loaded' | 'self-signed-created' | 'ephemeral';
  /** The redirection statuses node agents reported (persisted with a state dir). */
  readonly redirection: RedirectionOverlay;
  /** The port the gRPC server bound (useful with port 0). */
  readonly grpcPort: number;
  /** The TLS port bound, when {@link ControlPlaneConfig.tlsGrpcAddress} was given. */
  readonly tlsGrpcPort: number | undefined;
  /** The port the HTTP server bound (useful with port 0). */
  readonly httpPort: number;
  ready(): boolean;
  close(): Promise<void>;
}

/** A conversion result of `@amesh/authz-engine`, in the translator's terms (warnings with paths). */
function translated(result: ConversionResult): ReturnType<AuthorizationConverter> {
  const warningsOf = (issues: readonly { path: string; message: string }[]): ConversionWarning[] =>
    issues.map((i) => ({ path: i.path, message: i.message }));
  switch (result.status) {
    case 'converted':
      return { authorizations: [result.authorization as never], warnings: warningsOf(result.warnings) };
    case 'skipped':
      return { authorizations: [], warnings: warningsOf(result.warnings) };
    case 'invalid':
      // Invalid resources are rejected by validation before they get here; nothing is enforced from them.
      return { authorizations: [], warnings: warningsOf(result.errors) };
  }
}

/** `@amesh/authz-engine`'s conversion, plugged into the translator. */
export const authorizationConverter: AuthorizationConverter = (policy, context) =>
  translated(
    toWireAuthorization(policy as unknown as AuthorizationPolicy, { rootNamespace: context.rootNamespace }),
  );

/** PeerAuthentication → DENY policies, as Istio converts them for ztunnel. */
export const peerAuthenticationConverter: PeerAuthenticationConverter = (policy, context) =>
  translated(
    peerAuthenticationToWire(policy as unknown as PeerAuthentication, {
      rootNamespace: context.rootNamespace,
    }),
  );

/**
 * Starts the control plane: open the CA, watch config, translate, serve xDS
 * and the CA, and the HTTP endpoints.
 * @throws {ControlPlaneError} `CONTROL_PLANE_ERR_CA_DIR` for an unusable CA directory, `CONTROL_PLANE_ERR_STATE` for an unreadable state file, `CONTROL_PLANE_ERR_CONFIG` without a config source
 */
export async function startControlPlane(config: ControlPlaneConfig): Promise<RunningControlPlane> {
  if (!config.source && !config.configDir) {
    throw new ControlPlaneError(
      'CONTROL_PLANE_ERR_CONFIG',
      'a config directory or a config source is required',
    );
  }
  const log = config.log ?? ((line: string) => console.log(line));
  const trustDomain = config.trustDomain ?? 'cluster.local';
  const translator = new MeshTranslator({
    trustDomain,
    clusterId: config.clusterId ?? 'Kubernetes',
    authorizationConverter,
    peerAuthenticationConverter,
  });
  const xds = new XdsServer({
    debounceMs: config.debounceMs ?? 100,
    log: (record) => {
      if (record.level !== 'debug')
        log(`xds ${record.level}: ${record.msg}${record.clientId ? ` (${record.clientId})` : ''}`);
    },
  });
  xds.setResources(TypeUrl.address, new Map());
  xds.setResources(TypeUrl.authorization, new Map());

  // --- metrics ------------------------------------------------------------------------------
  const metrics = new MetricsRegistry();
  const configEvents = metrics.counter({
    name: 'amesh_config_events_total',
    help: 'Config source events by kind.',
    labels: ['kind'],
  });
  const pushes = metrics.counter({
    name: 'amesh_xds_resource_updates_total',
    help: 'xDS resources upserted or removed, by type.',
    labels: ['type', 'op'],
  });
  const issued = metrics.counter({
    name: 'amesh_ca_certificates_issued_total',
    help: 'Certificates issued by the CA.',
    labels: [],
  });
  const refused = metrics.counter({
    name: 'amesh_ca_requests_refused_total',
    help: 'CA requests refused.',
    labels: [],
  });

  // --- CA (first: a bad CA directory must stop the start before anything is listening) ------
  const caDir = config.caDir ?? (config.stateDir ? join(config.stateDir, 'ca') : undefined);
  let ca: CertificateAuthority;
  let caKind: RunningControlPlane['caKind'];
  if (caDir) {
    const opened = await openCaDirectory(caDir, { trustDomain, ecdsa: nodeEcdsaP256, log }).catch(
      (cause: unknown) => {
        if (!(cause instanceof IdentityError) || cause.code !== 'IDENTITY_ERR_CA_CONFIG') throw cause;
        throw new ControlPlaneError('CONTROL_PLANE_ERR_CA_DIR', cause.message, {
          reason: cause.rule as CaDirectoryProblem,
          cause,
        });
      },
    );
    ca = opened.ca;
    caKind =
      opened.kind === 'plug-in' ? 'plug-in' : opened.created ? 'self-signed-created' : 'self-signed-loaded';
    log(`ca: ${caKind} from ${caDir}, signing as ${ca.chain.length > 1 ? 'an intermediate' : 'the root'}`);
  } else {
    ca = CertificateAuthority.createRoot({ trustDomain, ecdsa: nodeEcdsaP256 });
    caKind = 'ephemeral';
    log('ca: fresh self-signed root (not persisted; use --ca-dir or --state-dir to keep it across restarts)');
  }

  // --- config → xDS -------------------------------------------------------------------------
  let synced = false;
  const version = (): string => `${Date.now().toString(36)}-${(++versionCounter).toString(36)}`;
  let versionCounter = 0;
  const stateFile =
    config.stateDir && !config.podAnnotations
      ? new RedirectionStateFile(join(config.stateDir, REDIRECTION_STATE_FILE), log)
      : undefined;
  const restored = (await stateFile?.load()) ?? [];
  if (stateFile) log(`state: ${restored.length} redirection statuses restored from ${stateFile.path}`);
  const redirection = new RedirectionOverlay({
    initial: restored,
    ...(stateFile ? { onChange: (entries) => stateFile.save(entries) } : {}),
  });
  const record = config.podAnnotations
    ? podAnnotationRecorder(config.podAnnotations)
    : overlayRecorder(redirection, (change) => applyChange(change));
  /** Translates a change and pushes the resulting delta. */
  const applyChange = (change: ConfigChange): void => {
    const delta = translator.apply(change);
    const addresses = new Map<string, { version: string; resource: Uint8Array } | null>();
    for (const [name, address] of delta.addresses.upserted) {
      addresses.set(name, {
        version: version(),
        resource: encodeAddress(address as DeepPartial<Address>),
      });
      pushes.inc({ type: 'Address', op: 'upsert' });
    }
    for (const name of delta.addresses.removed) {
      addresses.set(name, null);
      pushes.inc({ type: 'Address', op: 'remove' });
    }
    const policies = new Map<string, { version: string; resource: Uint8Array } | null>();
    for (const [name, policy] of delta.authorizations.upserted) {
      policies.set(name, {
        version: version(),
        resource: encodeAuthorization(policy as unknown as DeepPartial<Authorization>),
      });
      pushes.inc({ type: 'Authorization', op: 'upsert' });
    }
    for (const name of delta.authorizations.removed) {
      policies.set(name, null);
      pushes.inc({ type: 'Authorization', op: 'remove' });
    }
    if (addresses.size > 0) xds.update(TypeUrl.address, addresses);
    if (policies.size > 0) xds.update(TypeUrl.authorization, policies);
    log(
      `config: ${delta.addresses.upserted.size + delta.authorizations.upserted.size} resources updated, ${delta.addresses.removed.size + delta.authorizations.removed.size} removed`,
    );
    for (const [policy, warnings] of translator.warnings()) {
      for (const w of warnings) log(`warning: ${policy}${w.path ? ` ${w.path}` : ''}: ${w.message}`);
    }
  };
  const source: ConfigSource = config.source ?? new DirectorySource({ directory: config.configDir ?? '' });
  await source.start((event) => {
    configEvents.inc({ kind: event.type });
    switch (event.type) {
      case 'change': {
        applyChange(redirection.overlay(event.change));
        return;
      }
      case 'issues':
        for (const issue of event.issues) log(`config error (last good config kept): ${formatIssue(issue)}`);
        return;
      case 'error':
        log(`config source error: ${event.error.message}`);
        return;
      case 'synced':
        synced = true;
        // Pods deleted while the control plane was down: their saved statuses go.
        for (const key of redirection.retainKnown((ns, name) =>
          translator.resources().has(`Pod/${ns}/${name}`),
        ))
          log(`state: dropped the redirection status of ${key}, no longer in the config`);
        for (const w of analyze(translator.resources().values()))
          log(`analyze ${w.code}: ${w.resource} ${w.path ?? ''}: ${w.message}`);
        return;
    }
  });

  const ztunnelIdentity = parseSpiffeId(`spiffe://${trustDomain}/ns/istio-system/sa/ztunnel`);
  const caService = new (class extends CaService {
    override async createCertificate(...args: Parameters<CaService['createCertificate']>) {
      try {
        const response = await super.createCertificate(...args);
        issued.inc({});
        return response;
      } catch (error) {
        refused.inc({});
        log(`ca: refused: ${(error as Error).message}`);
        throw error;
      }
    }
  })({
    ca,
    authenticators: [
      bearerTokenAuthenticator({
        verify: (token) => {
          const node = config.nodeTokens[token];
          return node ? { identity: ztunnelIdentity, node } : undefined;
        },
      }),
    ],
    nodeLocator: {
      hasLivePod: (node, identity) =>
        translator.hasLivePod({
          namespace: identity.namespace,
          serviceAccount: identity.serviceAccount,
          node,
        }),
    },
  });

  // --- gRPC ---------------------------------------------------------------------------------
  const grpcServer = new grpc.Server();
  xds.addToGrpcServer(grpcServer);
  addCaService(grpcServer, caService);
  const bind = (address: string, credentials: grpc.ServerCredentials) =>
    new Promise<number>((resolve, reject) => {
      grpcServer.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port)));
    });
  const grpcPort = await bind(config.grpcAddress, grpc.ServerCredentials.createInsecure());
  let tlsGrpcPort: number | undefined;
  if (config.tlsGrpcAddress) {
    // The control plane's own serving certificate, from its own CA (Istio: istiod's serving cert).
    const key = nodeEcdsaP256.generateKey();
    const csr = buildCsr({
      identity: `spiffe://${trustDomain}/ns/istio-system/sa/istiod`,
      key,
      ecdsa: nodeEcdsaP256,
    });
    const issued = ca.issue({ csr: csr.der, ttlSeconds: 30 * 24 * 3600 });
    const serving = { privateKeyPem: exportPrivateKeyPem(key), chain: issued.chain, roots: ca.trustBundle() };
    tlsGrpcPort = await bind(config.tlsGrpcAddress, grpcServerCredentials(serving, 'optional'));
  }
  if (config.rootCertOut) await writeFile(config.rootCertOut, ca.trustBundle().join(''));

  // --- HTTP: readiness, metrics, admin ------------------------------------------------------
  const metricsListener = metricsRequestListener(metrics);
  const http: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/ready') {
      res
        .writeHead(synced ? 200 : 503, { 'content-type': 'text/plain' })
        .end(synced ? 'ready\n' : 'not ready\n');
    } else if (path === '/debug/clients') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(`${JSON.stringify(xds.clients(), null, 2)}\n`);
    } else if (path === '/debug/config') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(
          `${JSON.stringify({ resources: [...translator.resources().keys()], warnings: Object.fromEntries(translator.warnings()) }, null, 2)}\n`,
        );
    } else if (
      !handleRedirectionRequest(req, res, {
        nodeTokens: config.nodeTokens,
        resources: () => translator.resources(),
        record,
        log,
      })
    ) {
      metricsListener(req, res);
    }
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.httpPort, config.httpHost, () => resolve());
  });
  const httpPort = (http.address() as AddressInfo).port;
  log(
    `control plane: xDS and CA on ${config.grpcAddress.replace(/:0$/, `:${grpcPort}`)}, HTTP on ${config.httpHost}:${httpPort}, config from ${source.name}`,
  );

  return {
    translator,
    xds,
    ca,
    caKind,
    redirection,
    grpcPort,
    tlsGrpcPort,
    httpPort,
    ready: () => synced,
    async close() {
      await source.close();
      // xDS streams never end on their own: cut them (clients keep their last good state and reconnect).
      grpcServer.forceShutdown();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await stateFile?.flush();
    },
  };
}
