import { AmeshError } from '@amesh/errors';

/** Stable codes of {@link XdsServerError}. */
export type XdsServerErrorCode = 'XDS_ERR_STREAM_CLOSED';

/** A misuse of the server API (a request on a closed stream). Match on `code`. */
export class XdsServerError extends AmeshError<XdsServerErrorCode> {}
