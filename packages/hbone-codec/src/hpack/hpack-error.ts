import { Http2Error, Http2ErrorCode } from '../errors.js';

/**
 * An HPACK decoding error (RFC 7541 §2.3.3, §4.2, §5): always a connection
 * error of type COMPRESSION_ERROR (RFC 9113 §4.3), code `HBONE_ERR_COMPRESSION`.
 */
export class HpackError extends Http2Error {
  /** @param message - the HPACK rule that was broken */
  constructor(message: string) {
    super(Http2ErrorCode.COMPRESSION_ERROR, 'connection', message);
  }
}
