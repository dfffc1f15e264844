/**
 * Every view a built-in module declares is served as `<module>_<view>` (token_getInfo,
 * nft_getListing, dao_getProposal, ...), with its parameters parsed from its declared types.
 * Adding a view to a module adds the RPC method; nothing here is module-specific.
 */
import { builtinModules } from '../../../contracts/registry.js';
import type { ViewParamType, ViewSpec } from '../../../contracts/types.js';
import { parseAmount, parseU64 } from '../../../protocol/value.js';
import { ProtocolError } from '../../../protocol/errors.js';
import type { PelNode } from '../../node.js';
import { invalidParams } from '../errors.js';
import { addressParam, arity } from '../params.js';
import type { RpcHandler } from '../server.js';

function parseParam(v: unknown, name: string, type: ViewParamType): Uint8Array | bigint | string {
  try {
    switch (type) {
      case 'address':
      case 'id':
        return addressParam(v, name);
      case 'u64':
        return parseU64(v, name);
      case 'u128':
        return parseAmount(v, name);
      case 'string':
        if (typeof v !== 'string') throw invalidParams(`${name} must be a string`);
        return v;
    }
  } catch (e) {
    if (e instanceof ProtocolError) throw invalidParams(e.message);
    throw e;
  }
}

export function viewHandler(name: string, spec: ViewSpec, node: PelNode): RpcHandler {
  const usage = `[${spec.params.map(([n, t]) => `${n}: ${t}`).join(', ')}]`;
  return (params) => {
    arity(params, spec.params.length, spec.params.length, usage);
    const args = spec.params.map(([n, t], i) => parseParam(params[i], n, t));
    // Views answer as of the next block: what a transaction sent now would see.
    return spec.run(node.chain.world, args, { height: node.chain.height + 1n }) ?? null;
  };
}

export function moduleViewMethods(node: PelNode): Record<string, RpcHandler> {
  const out: Record<string, RpcHandler> = {};
  for (const m of builtinModules.values()) {
    for (const [view, spec] of Object.entries(m.views ?? {})) out[`${m.name}_${view}`] = viewHandler(`${m.name}_${view}`, spec, node);
  }
  return out;
}
