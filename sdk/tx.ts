/** Building and signing transactions (no network). */
import type { KeyPair } from '../protocol/keys.js';
import { signTx, type SignedTx } from '../protocol/tx.js';
import { v, type Value } from '../protocol/value.js';

export const DEFAULT_GAS_LIMIT = 50_000n;
export const DEFAULT_GAS_PRICE = 1n;
/** Default validity window of client-built txs, in blocks past the current height. */
export const DEFAULT_EXPIRY_BLOCKS = 100_000n;

export interface CallParams {
  readonly chainId: number;
  readonly key: KeyPair;
  readonly nonce: bigint;
  readonly module: string;
  readonly call: string;
  readonly args: readonly Value[];
  readonly expiry: bigint;
  readonly gasLimit?: bigint;
  readonly gasPrice?: bigint;
}

export function buildCall(p: CallParams): SignedTx {
  return signTx(
    {
      chainId: p.chainId,
      senderPublicKey: p.key.publicKey,
      nonce: p.nonce,
      gasLimit: p.gasLimit ?? DEFAULT_GAS_LIMIT,
      gasPrice: p.gasPrice ?? DEFAULT_GAS_PRICE,
      expiry: p.expiry,
      module: p.module,
      call: p.call,
      args: p.args,
    },
    p.key.privateKey,
  );
}

export function buildTransfer(p: Omit<CallParams, 'module' | 'call' | 'args'> & { to: Uint8Array; amount: bigint }): SignedTx {
  return buildCall({ ...p, module: 'coin', call: 'transfer', args: [v.address(p.to), v.u128(p.amount)] });
}
