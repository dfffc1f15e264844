/**
 * Every view a built-in module declares is served as `<module>_<view>` (token_getInfo,
 * nft_getListing, dao_getProposal, ...), with its parameters declared from the view's types
 * and parsed like every other method's (node/rpc/params.ts). Adding a view to a module adds
 * the RPC method; nothing here is module-specific.
 */
import { builtinModules } from '../../../contracts/registry.js';
import type { ViewParamType, ViewSpec } from '../../../contracts/types.js';
import type { PelNode } from '../../node.js';
import { addressType, methodsOf, param, u128Type, u64Type, viewStringType, type ParamType, type RpcMethod } from '../params.js';

const method = methodsOf<PelNode>();

const VIEW_PARAM_TYPES: Record<ViewParamType, ParamType<Uint8Array | bigint | string>> = {
  address: addressType,
  id: addressType,
  u64: u64Type,
  u128: u128Type,
  string: viewStringType,
};

export function viewMethod(spec: ViewSpec): RpcMethod<PelNode> {
  return method(
    spec.params.map(([name, type]) => param(name, VIEW_PARAM_TYPES[type])),
    // Views answer as of the next block: what a transaction sent now would see.
    (args, node) => spec.run(node.chain.world, args, { height: node.chain.height + 1n }) ?? null,
  );
}

export const moduleViewMethods: Record<string, RpcMethod<PelNode>> = {};
for (const m of builtinModules.values()) {
  for (const [view, spec] of Object.entries(m.views ?? {})) moduleViewMethods[`${m.name}_${view}`] = viewMethod(spec);
}
