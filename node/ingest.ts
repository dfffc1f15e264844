/**
 * Ingestion before the mempool: raw signed txs in, decoded and signature-checked txs out.
 * `PelNode.submit` (JSON-RPC and gossip) and `pel bench ingest` both run exactly this.
 *
 * With the worker pool the main thread neither decodes nor verifies: the workers run
 * decodeTx (the full canonical check), hash and verify (ParallelExecutor.ingestBatch), and
 * this thread copies each accepted tx's bytes and hash into one private allocation and reads
 * its fixed-width head (checkedTx, ~1 us a tx instead of ~2.7 us for decodeTx plus its
 * garbage). Without a pool (a node on the sequential executor, or one whose pool was lost)
 * both happen here.
 *
 * Bytes whose length alone rules a tx out (under MIN_TX_BYTES or over MAX_TX_BYTES) never go
 * to the pool: they are rejected here, where decodeTx refuses them from their length without
 * reading them. Nothing a client or a peer sends reaches a worker in a shape it cannot take.
 */
import { INGEST_STRIDE, VERIFY } from '../execution/parallel/outputs.js';
import type { ParallelExecutor } from '../execution/parallel/executor.js';
import { WorkerPoolError } from '../execution/parallel/pool.js';
import { ProtocolError, type ProtocolErrorCode } from '../protocol/errors.js';
import { checkedTx, decodeTx, MAX_TX_BYTES, MIN_TX_BYTES, txSignatureValid, type SignedTx } from '../protocol/tx.js';
import type { SignatureVerifier } from '../protocol/verify.js';

export type Ingested =
  | { readonly ok: true; readonly tx: SignedTx }
  /** The bytes are not a canonical tx; `message` says why (decodeTx's error) and `reason` is its code (TX_TOO_LARGE, DECODE_ERROR, ...). */
  | { readonly ok: false; readonly code: 'INVALID_TX_ENCODING'; readonly reason: ProtocolErrorCode; readonly message: string }
  /** A well-formed tx whose signature does not verify. */
  | { readonly ok: false; readonly code: 'BAD_SIGNATURE'; readonly hash: Uint8Array };

/**
 * `job` on the worker pool, or `here` on this thread: when there is no pool, when it is out
 * of service (see `ParallelExecutor.poolAvailable`), or when the pool fails the job (a worker
 * exited while it had the job or answered it with an error; the pool logs why and replaces
 * a dead worker). Only that job moves here: the pool stays in service.
 */
export async function onPoolOrHere<T>(pool: ParallelExecutor | null, job: (pool: ParallelExecutor) => Promise<T>, here: () => T | Promise<T>): Promise<T> {
  if (pool === null || !pool.poolAvailable) return here();
  try {
    return await job(pool);
  } catch (e) {
    if (WorkerPoolError.is(e) || !pool.poolAvailable) return here();
    throw e;
  }
}

/** Whether a tx can have this many bytes: anything else is rejected before the pool sees it. */
export function txLengthPossible(length: number): boolean {
  return length >= MIN_TX_BYTES && length <= MAX_TX_BYTES;
}

/** True when every raw's length is possible (the usual case: then the batch goes as it is). */
const allPossible = (raws: readonly Uint8Array[]): boolean => raws.every((r) => txLengthPossible(r.length));

/** One outcome per raw tx, in order; on the pool when there is one (see onPoolOrHere). */
export async function ingestRaws(raws: readonly Uint8Array[], pool: ParallelExecutor | null, verifier: SignatureVerifier): Promise<Ingested[]> {
  const ingest = (batch: readonly Uint8Array[]): Promise<Ingested[]> =>
    onPoolOrHere(pool, async (p) => fromPool(batch, await p.ingestBatch(batch)), () => batch.map((raw) => ingestHere(raw, verifier)));
  if (allPossible(raws)) return ingest(raws);
  const fit = raws.filter((r) => txLengthPossible(r.length));
  const pooled = fit.length > 0 ? await ingest(fit) : [];
  let k = 0;
  return raws.map((r) => (txLengthPossible(r.length) ? pooled[k++]! : ingestHere(r, verifier)));
}

/**
 * Signature checks of a block's raw txs (from another validator or sync): one VERIFY code
 * per tx, in order, on the pool when there is one, else with `here`.
 */
export async function verifyRaws(raws: readonly Uint8Array[], pool: ParallelExecutor | null, here: (raws: readonly Uint8Array[]) => Promise<Uint8Array>): Promise<Uint8Array> {
  const verify = (batch: readonly Uint8Array[]): Promise<Uint8Array> => onPoolOrHere(pool, (p) => p.verifyBatch(batch), () => here(batch));
  if (allPossible(raws)) return verify(raws);
  const fit = raws.filter((r) => txLengthPossible(r.length));
  const pooled = fit.length > 0 ? await verify(fit) : new Uint8Array(0);
  const codes = new Uint8Array(raws.length);
  let k = 0;
  raws.forEach((r, i) => (codes[i] = txLengthPossible(r.length) ? pooled[k++]! : VERIFY.UNDECODABLE));
  return codes;
}

/** The txs and rejections from an ingestion batch's result (INGEST_STRIDE bytes a tx). */
function fromPool(raws: readonly Uint8Array[], out: Uint8Array): Ingested[] {
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
    return encodingError(e);
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
    return encodingError(e);
  }
  // The worker ran the same decodeTx on the same bytes: disagreement is a bug, not bad input.
  throw new Error('ingestion: a worker rejected a tx that decodes on the main thread');
}

function encodingError(e: unknown): Ingested {
  if (e instanceof ProtocolError) return { ok: false, code: 'INVALID_TX_ENCODING', reason: e.code, message: e.message };
  return { ok: false, code: 'INVALID_TX_ENCODING', reason: 'DECODE_ERROR', message: String(e) };
}
