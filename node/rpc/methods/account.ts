import { toHex } from '../../../protocol/hex.js';
import { getBalance, getNonce } from '../../../contracts/coin/state.js';
import type { PelNode } from '../../node.js';
import { addressParam, arity } from '../params.js';
import type { RpcHandler } from '../server.js';

export function accountMethods(node: PelNode): Record<string, RpcHandler> {
  return {
    /** [address] -> {address, balance, nonce} from committed state. */
    account_get: (params) => {
      arity(params, 1, 1, '[address]');
      const address = addressParam(params[0], 'address');
      return {
        address: toHex(address),
        balance: getBalance(node.chain.world, address).toString(),
        nonce: getNonce(node.chain.world, address).toString(),
      };
    },
  };
}
