import * as grpc from '@grpc/grpc-js';
import {
  CREATE_CERTIFICATE_PATH,
  decodeCertificateRequest,
  decodeCertificateResponse,
  encodeCertificateRequest,
  encodeCertificateResponse,
  IMPERSONATED_IDENTITY_KEY,
  type IstioCertificateRequest,
  type IstioCertificateResponse,
} from '../ca-proto.js';
import { type CallContext, type CaService, grpcStatusOf } from '../ca-service.js';
import type { CaClient, CaClientRequest } from '../certificate-manager.js';
import { IdentityError, type IdentityErrorCode } from '../errors.js';
import type { SpiffeId } from '../spiffe-id.js';
import { spiffeServerIdentityCheck, type TlsCertificate } from './tls.js';

/** Trailing metadata key carrying the amesh error code of a failed call. */
export const ERROR_CODE_METADATA_KEY = 'amesh-error-code';

const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * The grpc-js service definition of `istio.v1.auth.IstioCertificateService`
 * (wire-compatible with Istio's `ca.proto`).
 */
export const istioCertificateServiceDefinition: grpc.ServiceDefinition = {
  CreateCertificate: {
    path: CREATE_CERTIFICATE_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: IstioCertificateRequest) => toBuffer(encodeCertificateRequest(value)),
    requestDeserialize: (bytes: Buffer) => decodeCertificateRequest(bytes),
    responseSerialize: (value: IstioCertificateResponse) => toBuffer(encodeCertificateResponse(value)),
    responseDeserialize: (bytes: Buffer) => decodeCertificateResponse(bytes),
  },
};

function callContext(
  call: grpc.ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>,
): CallContext {
  const metadata: Record<string, string[]> = {};
  for (const [key, values] of Object.entries(call.metadata.toJSON())) {
    if (key.endsWith('-bin')) continue;
    metadata[key] = values.map(String);
  }
  const peer = call.getAuthContext?.()?.sslPeerCertificate;
  const peerCertificates: Uint8Array[] = [];
  let current: typeof peer | undefined = peer;
  // Walk the presented chain (Node links issuers; the root links to itself).
  for (let i = 0; current?.raw && i < 8; i++) {
    peerCertificates.push(new Uint8Array(current.raw));
    const next = (current as { issuerCertificate?: typeof peer }).issuerCertificate;
    if (!next || next === current) break;
    current = next;
  }
  return peerCertificates.length > 0 ? { metadata, peerCertificates } : { metadata };
}

/**
 * Registers a {@link CaService} on a grpc-js server as Istio's
 * `IstioCertificateService/CreateCertificate`. Errors become gRPC statuses
 * ({@link grpcStatusOf}) with the amesh code in trailing metadata
 * (`amesh-error-code`).
 * @example
 * ```ts
 * const server = new grpc.Server();
 * addCaService(server, new CaService({ ca, authenticators: [mtlsAuthenticator({ trustDomain })] }));
 * ```
 */
export function addCaService(server: grpc.Server, service: CaService): void {
  server.addService(istioCertificateServiceDefinition, {
    CreateCertificate: (
      call: grpc.ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>,
      callback: grpc.sendUnaryData<IstioCertificateResponse>,
    ) => {
      let context: CallContext;
      try {
        context = callContext(call);
      } catch (error) {
        callback({ code: grpc.status.INTERNAL, details: String(error) });
        return;
      }
      service.createCertificate(call.request, context).then(
        (response) => callback(null, response),
        (error: unknown) => {
          const trailer = new grpc.Metadata();
          const code = error instanceof IdentityError ? error.code : 'IDENTITY_ERR_CA_UNAVAILABLE';
          trailer.set(ERROR_CODE_METADATA_KEY, code);
          callback({
            code: grpcStatusOf(error),
            details: error instanceof Error ? error.message : String(error),
            metadata: trailer,
          });
        },
      );
    },
  });
}

/** Options of {@link CaGrpcClient}. */
export interface CaGrpcClientOptions {
  /** `host:port` of the CA (Istio: 15012). */
  readonly address: string;
  readonly credentials: grpc.ChannelCredentials;
  /** Sent as `authorization: Bearer <token>`; a function is called per request (tokens rotate). */
  readonly token?: string | (() => string | Promise<string>);
  /** Sent as `clusterid`. */
  readonly clusterId?: string;
  /**
   * When set, requests for any identity other than this one carry
   * `ImpersonatedIdentity` metadata (a node agent asking for its pods).
   */
  readonly ownIdentity?: SpiffeId;
  /** Per-call deadline. Default 10 s. */
  readonly timeoutMs?: number;
  readonly channelOptions?: grpc.ChannelOptions;
}

const KNOWN_CODES = new Set<string>([
  'IDENTITY_ERR_SPIFFE_ID_INVALID',
  'IDENTITY_ERR_PEM_INVALID',
  'IDENTITY_ERR_DER_INVALID',
  'IDENTITY_ERR_INPUT_TOO_LARGE',
  'IDENTITY_ERR_KEY_INVALID',
  'IDENTITY_ERR_UNSUPPORTED_ALGORITHM',
  'IDENTITY_ERR_CSR_INVALID',
  'IDENTITY_ERR_CSR_SIGNATURE',
  'IDENTITY_ERR_CERT_INVALID',
  'IDENTITY_ERR_TTL_EXCEEDED',
  'IDENTITY_ERR_CA_CONFIG',
  'IDENTITY_ERR_UNAUTHENTICATED',
  'IDENTITY_ERR_PERMISSION_DENIED',
]);

function fromGrpcError(error: grpc.ServiceError): IdentityError {
  const reported = error.metadata?.get(ERROR_CODE_METADATA_KEY)[0];
  let code: IdentityErrorCode = 'IDENTITY_ERR_CA_UNAVAILABLE';
  if (typeof reported === 'string' && KNOWN_CODES.has(reported)) code = reported as IdentityErrorCode;
  else if (error.code === grpc.status.UNAUTHENTICATED) code = 'IDENTITY_ERR_UNAUTHENTICATED';
  else if (error.code === grpc.status.PERMISSION_DENIED) code = 'IDENTITY_ERR_PERMISSION_DENIED';
  return new IdentityError(code, `CA refused CreateCertificate (gRPC ${error.code}): ${error.details}`, {
    cause: error,
  });
}

/**
 * A {@link CaClient} speaking Istio's CA gRPC API. Works against amesh's
 * {@link addCaService} and against istiod.
 */
export class CaGrpcClient implements CaClient {
  readonly #client: grpc.Client;
  readonly #options: CaGrpcClientOptions;

  constructor(options: CaGrpcClientOptions) {
    this.#options = options;
    this.#client = new grpc.Client(options.address, options.credentials, options.channelOptions ?? {});
  }

  /**
   * Sends one `CreateCertificate`.
   * @throws {IdentityError} the server's code when it sent one, else `IDENTITY_ERR_UNAUTHENTICATED` / `IDENTITY_ERR_PERMISSION_DENIED` / `IDENTITY_ERR_CA_UNAVAILABLE`
   */
  async createCertificate(request: CaClientRequest): Promise<readonly string[]> {
    const metadata = new grpc.Metadata();
    const token =
      typeof this.#options.token === 'function' ? await this.#options.token() : this.#options.token;
    if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
    if (this.#options.clusterId !== undefined) metadata.set('clusterid', this.#options.clusterId);
    const own = this.#options.ownIdentity;
    const impersonate = own !== undefined && own.uri !== request.identity.uri;
    const message: IstioCertificateRequest = {
      csr: request.csrPem,
      validityDuration: request.ttlSeconds,
      metadata: impersonate ? { [IMPERSONATED_IDENTITY_KEY]: request.identity.uri } : {},
    };
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest<IstioCertificateRequest, IstioCertificateResponse>(
        CREATE_CERTIFICATE_PATH,
        (value) => toBuffer(encodeCertificateRequest(value)),
        (bytes) => decodeCertificateResponse(bytes),
        message,
        metadata,
        { deadline: Date.now() + (this.#options.timeoutMs ?? 10_000) },
        (error, response) => {
          if (error) reject(fromGrpcError(error));
          else if (!response || response.certChain.length === 0) {
            reject(
              new IdentityError('IDENTITY_ERR_CERT_INVALID', 'CA answered with an empty chain', {
                rule: 'empty',
              }),
            );
          } else resolve(response.certChain);
        },
      );
    });
  }

  /** Closes the channel. */
  close(): void {
    this.#client.close();
  }
}

/** Options of {@link grpcChannelCredentials}. */
export interface GrpcChannelCredentialsOptions {
  /** Accept the server only with one of these SPIFFE IDs; otherwise any identity chaining to the roots. */
  readonly expectedIdentities?: readonly (SpiffeId | string)[];
}

/**
 * gRPC channel credentials for mTLS with a workload certificate: the roots
 * verify the server, the certificate authenticates the client, and the
 * server's URI SAN is checked instead of a DNS name.
 */
export function grpcChannelCredentials(
  certificate: TlsCertificate,
  options: GrpcChannelCredentialsOptions = {},
): grpc.ChannelCredentials {
  const check = options.expectedIdentities
    ? spiffeServerIdentityCheck(options.expectedIdentities)
    : () => undefined;
  return grpc.credentials.createSsl(
    Buffer.from(certificate.roots.join('')),
    Buffer.from(certificate.privateKeyPem),
    Buffer.from(certificate.chain.join('')),
    { checkServerIdentity: check },
  );
}

/** Whether a gRPC server asks clients for certificates. */
export type ClientCertificateMode = 'required' | 'optional' | 'none';

function staticProvider(ca: Buffer | null, identity: { certificate: Buffer; privateKey: Buffer } | null) {
  return {
    addCaCertificateListener(listener: (update: { caCertificate: Buffer } | null) => void) {
      if (ca) listener({ caCertificate: ca });
    },
    removeCaCertificateListener() {},
    addIdentityCertificateListener(
      listener: (update: { certificate: Buffer; privateKey: Buffer } | null) => void,
    ) {
      if (identity) listener(identity);
    },
    removeIdentityCertificateListener() {},
  };
}

/**
 * gRPC server credentials from a certificate (for the CA on 15012 or an xDS
 * server). `optional` asks for a client certificate without requiring it, so
 * node agents may authenticate with a bearer token instead.
 */
export function grpcServerCredentials(
  certificate: TlsCertificate,
  clientCertificate: ClientCertificateMode = 'optional',
): grpc.ServerCredentials {
  const roots = Buffer.from(certificate.roots.join(''));
  const key = Buffer.from(certificate.privateKeyPem);
  const chain = Buffer.from(certificate.chain.join(''));
  if (clientCertificate === 'optional') {
    // grpc-js's implementation takes (identity, ca, require) whatever its typings name them.
    const credentials = grpc.experimental.createCertificateProviderServerCredentials(
      staticProvider(null, { certificate: chain, privateKey: key }),
      staticProvider(roots, null),
      false,
    );
    // The server reads the context options at bind time, before it watches the
    // providers; a permanent no-op watcher makes the static certificates current now.
    credentials._addWatcher(() => {});
    return credentials;
  }
  return grpc.ServerCredentials.createSsl(
    roots,
    [{ private_key: key, cert_chain: chain }],
    clientCertificate === 'required',
  );
}
