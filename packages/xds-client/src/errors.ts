import { AmeshError } from '@amesh/errors';

/** Stable codes of {@link XdsClientError}. */
export type XdsClientErrorCode =
  | 'XDS_ERR_UNKNOWN_TYPE_URL'
  | 'XDS_ERR_RESOURCE_INVALID'
  | 'XDS_ERR_RESOURCE_TOO_LARGE'
  | 'XDS_ERR_RESOURCE_TYPE_MISMATCH'
  | 'XDS_ERR_GARBAGE_MESSAGE'
  | 'XDS_ERR_CLOSED';

/**
 * Why a resource or a message from the control plane was refused, or why the
 * stream failed. Match on `code`.
 */
export class XdsClientError extends AmeshError<XdsClientErrorCode> {}
