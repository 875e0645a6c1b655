/**
 * Node glue of `@amesh/mtls-identity`: an OpenSSL-backed ECDSA provider,
 * HBONE TLS 1.3 contexts and peer identity, the Istio CA over gRPC, and
 * Istio's CA directories (`cacerts`) on disk.
 * @packageDocumentation
 */
export { openCaDirectory, writeFileAtomic } from './ca-directory.js';
export { nodeEcdsaP256 } from './ecdsa.js';
export {
  HBONE_ALPN,
  HBONE_CIPHERSUITES,
  acceptHboneTls,
  connectHboneTls,
  hboneClientOptions,
  hboneSecureContextOptions,
  peerIdentity,
  secureContextFor,
  spiffeServerIdentityCheck,
} from './tls.js';
export type {
  AcceptHboneTlsOptions,
  AcceptedHboneTls,
  CertificateSelector,
  ConnectHboneTlsOptions,
  TlsCertificate,
} from './tls.js';
export {
  CaGrpcClient,
  ERROR_CODE_METADATA_KEY,
  addCaService,
  grpcChannelCredentials,
  grpcServerCredentials,
  istioCertificateServiceDefinition,
} from './ca-grpc.js';
export type { CaGrpcClientOptions, ClientCertificateMode, GrpcChannelCredentialsOptions } from './ca-grpc.js';
