/**
 * SPIFFE workload identity for amesh: IDs, ECDSA P-256 keys, CSRs, an
 * X.509-SVID CA, a rotating certificate manager, and Istio's CA protocol.
 * Everything here is sans-IO; Node glue (TLS, gRPC) is in `./node`.
 * @packageDocumentation
 */
export { IdentityError, DEFAULT_MAX_INPUT_BYTES } from './errors.js';
export type { IdentityErrorCode } from './errors.js';
export { parseSpiffeId, spiffeId, formatSpiffeId, isSpiffeId, validateTrustDomain } from './spiffe-id.js';
export type { SpiffeId } from './spiffe-id.js';
export { decodePem, decodePemBlocks, encodePem, splitPemChain } from './pem.js';
export type { PemBlock } from './pem.js';
export {
  nobleEcdsaP256,
  generateKey,
  keyFromSecret,
  exportPrivateKeyDer,
  exportPrivateKeyPem,
  importPrivateKey,
  exportPublicKeyDer,
  exportPublicKeyPem,
  importPublicKey,
  keyIdentifier,
} from './keys.js';
export type { EcdsaP256, P256Key } from './keys.js';
export { buildCsr, parseCsr, verifyCsr } from './csr.js';
export type { BuildCsrOptions, Csr, ParsedCsr } from './csr.js';
export { parseCertificate, parseCertificateChain, verifyCertificateChain } from './certificate.js';
export type { CertificateInfo, VerifyChainOptions } from './certificate.js';
export {
  CertificateAuthority,
  DEFAULT_TTL_SECONDS,
  DEFAULT_MAX_TTL_SECONDS,
  DEFAULT_BACKDATE_SECONDS,
} from './ca.js';
export type {
  CertificateAuthorityCommonOptions,
  IssueRequest,
  IssuedCertificate,
  PluggedCaOptions,
  SelfSignedCaOptions,
} from './ca.js';
export { CA_DIRECTORY_FILES, caFromDirectoryFiles } from './ca-directory.js';
export type {
  CaDirectoryContents,
  CaDirectoryFiles,
  CaDirectoryOptions,
  CaDirectoryProblem,
  OpenedCa,
} from './ca-directory.js';
export { systemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { CertificateManager } from './certificate-manager.js';
export type {
  CaClient,
  CaClientRequest,
  CertificateManagerEvents,
  CertificateManagerOptions,
  CertificateState,
  FetchPriority,
  WorkloadCertificate,
} from './certificate-manager.js';
export {
  CREATE_CERTIFICATE_PATH,
  IMPERSONATED_IDENTITY_KEY,
  encodeCertificateRequest,
  decodeCertificateRequest,
  encodeCertificateResponse,
  decodeCertificateResponse,
} from './ca-proto.js';
export type { IstioCertificateRequest, IstioCertificateResponse, StructValue } from './ca-proto.js';
export {
  CaService,
  GrpcStatus,
  bearerTokenAuthenticator,
  grpcStatusOf,
  mtlsAuthenticator,
} from './ca-service.js';
export type {
  BearerTokenAuthenticatorOptions,
  CallContext,
  Caller,
  CallerAuthenticator,
  CaServiceOptions,
  MtlsAuthenticatorOptions,
  NodeLocator,
} from './ca-service.js';
export { createTestCa, inProcessCaClient } from './test-ca.js';
export type { TestCa } from './test-ca.js';
