/**
 * Errors raised while decoding or validating protocol objects. `code` is stable and
 * documented in docs/PROTOCOL.md; messages say what was wrong and where.
 */
export type ProtocolErrorCode =
  | 'DECODE_ERROR'
  | 'TRAILING_BYTES'
  | 'INVALID_HEX'
  | 'INVALID_ADDRESS'
  | 'INVALID_VALUE'
  | 'INVALID_NAME'
  | 'TX_TOO_LARGE'
  | 'UNSUPPORTED_VERSION'
  | 'INVALID_KEY';

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProtocolError';
    this.code = code;
  }
}
