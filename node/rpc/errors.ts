/**
 * Every JSON-RPC error code pel returns, in one place (docs/PROTOCOL.md, "JSON-RPC errors").
 * Standard codes come from the JSON-RPC 2.0 spec; -32000..-32099 are pel's. Each error also
 * carries `data.code`, a stable string a client can switch on.
 */
export const RpcCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,

  INVALID_TX_ENCODING: -32001,
  BAD_SIGNATURE: -32002,
  WRONG_CHAIN_ID: -32003,
  NONCE_TOO_LOW: -32004,
  INSUFFICIENT_BALANCE_FOR_FEE: -32005,
  TX_EXPIRED: -32006,
  MEMPOOL_FULL: -32007,
  SENDER_LIMIT_REACHED: -32008,
  REPLACEMENT_UNDERPRICED: -32009,
  GAS_LIMIT_TOO_LOW: -32010,
  GAS_PRICE_TOO_LOW: -32011,
  NONCE_TOO_HIGH: -32012,
  GAS_LIMIT_TOO_HIGH: -32013,
  TX_REPLACED: -32014,
  TX_DROPPED: -32015,
  TX_WAIT_TIMEOUT: -32020,
  SUBSCRIPTION_LIMIT: -32030,
  REQUEST_TOO_LARGE: -32031,
  BATCH_TOO_LARGE: -32032,
  CONNECTION_LIMIT: -32033,
  REQUEST_TIMEOUT: -32034,
  NOT_AVAILABLE: -32040,
  STATS_NOT_RETAINED: -32041,
} as const;

export type RpcCodeName = keyof typeof RpcCode;

export class RpcError extends Error {
  readonly code: number;
  readonly data: { code: string; [k: string]: unknown };
  constructor(name: RpcCodeName | string, code: number, message: string, extra?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RpcError';
    this.code = code;
    this.data = { code: name, ...extra };
  }

  static of(name: RpcCodeName, message: string, extra?: Record<string, unknown>, options?: { cause?: unknown }): RpcError {
    return new RpcError(name, RpcCode[name], message, extra, options);
  }

  toJSON(): { code: number; message: string; data: unknown } {
    return { code: this.code, message: this.message, data: this.data };
  }
}

/** The RpcError for a stable string code, falling back to `fallback` for codes without a number. */
export function rpcErrorFor(code: string, message: string, extra?: Record<string, unknown>, fallback: RpcCodeName = 'TX_DROPPED'): RpcError {
  const known = (RpcCode as Record<string, number>)[code];
  return known !== undefined ? new RpcError(code, known, message, extra) : new RpcError(code, RpcCode[fallback], message, extra);
}

export function invalidParams(message: string, extra?: Record<string, unknown>): RpcError {
  return RpcError.of('INVALID_PARAMS', message, extra);
}
