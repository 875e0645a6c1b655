import { AmeshError } from '@amesh/errors';

/** Stable codes of {@link XdsCodecError}. */
export type XdsCodecErrorCode = 'XDS_ERR_DECODE' | 'XDS_ERR_ENCODE' | 'XDS_ERR_UNKNOWN_TYPE';

/**
 * A message could not be encoded or decoded: bytes that are not valid
 * protobuf for the type, an object that does not fit the schema, or a type
 * this package does not know. Match on `code`.
 */
export class XdsCodecError extends AmeshError<XdsCodecErrorCode> {}
