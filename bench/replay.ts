/**
 * Replay a node's chain from its data dir with the sequential executor: every block from
 * genesis, comparing the state root in each header and every stored receipt. This is the
 * check behind `rootsMatch` in `pel bench rpc` and the e2e replay test.
 */
import { decodeBlock } from '../protocol/block.js';
import { bytesEqual, toHex } from '../protocol/hex.js';
import { decodeFeeParams, FEE_PARAMS_KEY } from '../contracts/fee/params.js';
import { builtinModules } from '../contracts/registry.js';
import { genesisEntries, genesisWriteSet, parseGenesis } from '../consensus/genesis.js';
import { BULK_GENESIS_MIN } from '../consensus/chain.js';
import { decodeGasSchedule, GAS_SCHEDULE_KEY } from '../execution/gas.js';
import { executeBlockSequential } from '../execution/sequential.js';
import { ChainStore } from '../state/store.js';
import { scratchState } from './scratch-state.js';

export interface ReplayResult {
  readonly height: number;
  readonly txs: number;
  readonly rootsMatch: boolean;
  readonly receiptsMatch: boolean;
  /** First height whose state root or receipts differ, or null. */
  readonly firstMismatch: number | null;
  readonly finalStateRoot: string;
}

export async function replayChain(dataDir: string): Promise<ReplayResult> {
  const store = await ChainStore.open({ path: dataDir });
  try {
    const genesisJson = await store.getGenesisJson();
    if (!genesisJson) throw new Error(`${dataDir} holds no chain`);
    const genesis = parseGenesis(JSON.parse(genesisJson));
    const head = (await store.getHeadHeight()) ?? 0n;
    // The replayed state lives in a throwaway LMDB store (removed below), like a node's.
    // A big genesis is bulk-loaded, as the node does (Chain.open).
    const scratch = await scratchState((genesis.indexAccounts?.count ?? 0) >= BULK_GENESIS_MIN ? genesisEntries(genesis) : genesisWriteSet(genesis));
    const world = scratch.world;
    try {
      let txs = 0;
      let rootsMatch = true;
      let receiptsMatch = true;
      let firstMismatch: number | null = null;
      for (let h = 1n; h <= head; h++) {
        const block = decodeBlock((await store.getBlockBytes(h))!);
        const params = { fee: decodeFeeParams(world.get(FEE_PARAMS_KEY)!), gas: decodeGasSchedule(world.get(GAS_SCHEDULE_KEY)!) };
        const ctx = { chainId: genesis.chainId, height: h, timestamp: block.header.timestamp, proposer: block.header.proposer, params };
        const r = executeBlockSequential(ctx, block.txs, world, builtinModules);
        const stored = (await store.getReceipts(h)) ?? [];
        const receiptsOk = r.outcomes.length === stored.length && r.outcomes.every((o, i) => o.kind === 'included' && bytesEqual(o.encoded, stored[i]!));
        const prepared = await scratch.commit(r.writeSet);
        const rootOk = bytesEqual(prepared.root, block.header.stateRoot);
        if (!rootOk) rootsMatch = false;
        if (!receiptsOk) receiptsMatch = false;
        if ((!rootOk || !receiptsOk) && firstMismatch === null) firstMismatch = Number(h);
        txs += block.txs.length;
      }
      return { height: Number(head), txs, rootsMatch, receiptsMatch, firstMismatch, finalStateRoot: toHex(world.root) };
    } finally {
      await scratch.close();
    }
  } finally {
    await store.close();
  }
}
