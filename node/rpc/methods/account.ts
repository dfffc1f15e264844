import { toHex } from '../../../protocol/hex.js';
import { getBalance, getNonce } from '../../../contracts/coin/state.js';
import type { PelNode } from '../../node.js';
import { addressType, methodsOf, param, type RpcMethod } from '../params.js';

const method = methodsOf<PelNode>();

export const accountMethods: Record<string, RpcMethod<PelNode>> = {
  /** [address] -> {address, balance, nonce} from committed state. */
  account_get: method([param('address', addressType)], ([address], node) => ({
    address: toHex(address),
    balance: getBalance(node.chain.world, address).toString(),
    nonce: getNonce(node.chain.world, address).toString(),
  })),
};
