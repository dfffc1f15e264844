/**
 * Ingestion before the mempool: raw signed txs in, decoded and signature-checked txs out.
 * `PelNode.submit` (JSON-RPC and gossip) and `pel bench ingest` both run exactly this.
 *
 * With the worker pool the main thread neither decodes nor verifies: the workers run
 * decodeTx (the full canonical check), hash and verify (ParallelExecutor.ingestBatch), and
 * this thread copies each accepted tx's bytes and hash into one private allocation and reads
 * its fixed-width head (checkedTx, ~1 us a tx instead of ~2.5 us for decodeTx plus its
 * garbage). Without a pool (a node on the sequential executor) both happen here.
 */
import { VERIFY, INGEST_STRIDE } from '../execution/parallel/outputs.js';
import type { ParallelExecutor } from '../execution/parallel/executor.js';
import { ProtocolError } from '../protocol/errors.js';
import { checkedTx, decodeTx, txSignatureValid, type SignedTx } from '../protocol/tx.js';
import type { SignatureVerifier } from '../protocol/verify.js';

export type Ingested =
  | { readonly ok: true; readonly tx: SignedTx }
  /** The bytes are not a canonical tx; `message` says why (decodeTx's error). */
  | { readonly ok: false; readonly code: 'INVALID_TX_ENCODING'; readonly message: string }
  /** A well-formed tx whose signature does not verify. */
  | { readonly ok: false; readonly code: 'BAD_SIGNATURE'; readonly hash: Uint8Array };

/**
 * One outcome per raw tx, in order. `pool` null, or a pool that has lost a worker (see
 * `ParallelExecutor.poolAvailable`): decode and verify on this thread.
 */
export async function ingestRaws(raws: readonly Uint8Array[], pool: ParallelExecutor | null, verifier: SignatureVerifier): Promise<Ingested[]> {
  if (pool === null || !pool.poolAvailable) return raws.map((raw) => ingestHere(raw, verifier));
  let out: Uint8Array;
  try {
    out = await pool.ingestBatch(raws);
  } catch (e) {
    // The pool was lost while this batch was on it: the batch is done here instead.
    if (!pool.poolAvailable) return raws.map((raw) => ingestHere(raw, verifier));
    throw e;
  }
  const results: Ingested[] = new Array(raws.length);
  for (let i = 0; i < raws.length; i++) {
    const at = i * INGEST_STRIDE;
    const code = out[at];
    if (code === VERIFY.OK) results[i] = { ok: true, tx: checkedTx(raws[i]!, out.subarray(at + 1, at + INGEST_STRIDE)) };
    else if (code === VERIFY.BAD_SIGNATURE) results[i] = { ok: false, code: 'BAD_SIGNATURE', hash: out.slice(at + 1, at + INGEST_STRIDE) };
    else results[i] = undecodable(raws[i]!);
  }
  return results;
}

function ingestHere(raw: Uint8Array, verifier: SignatureVerifier): Ingested {
  let tx: SignedTx;
  try {
    tx = decodeTx(raw);
  } catch (e) {
    return { ok: false, code: 'INVALID_TX_ENCODING', message: reason(e) };
  }
  return txSignatureValid(verifier, tx) ? { ok: true, tx } : { ok: false, code: 'BAD_SIGNATURE', hash: tx.hash };
}

/**
 * A tx a worker could not decode. Decoding it again here gives the client decodeTx's exact
 * message; bad input is the rare path, and costs no more than decoding every tx here did.
 */
function undecodable(raw: Uint8Array): Ingested {
  try {
    decodeTx(raw);
  } catch (e) {
    return { ok: false, code: 'INVALID_TX_ENCODING', message: reason(e) };
  }
  // The worker ran the same decodeTx on the same bytes: disagreement is a bug, not bad input.
  throw new Error('ingestion: a worker rejected a tx that decodes on the main thread');
}

const reason = (e: unknown): string => (e instanceof ProtocolError ? e.message : String(e));
