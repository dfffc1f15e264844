/** JSON-RPC to the node that served this page: POST / and a WebSocket on the same host and port. */

export class RpcFailure extends Error {
  constructor(readonly code: number, message: string, readonly data: { code?: string; [k: string]: unknown } | undefined) {
    super(message);
  }
  get reason(): string | undefined {
    return this.data?.code;
  }
}

let nextId = 1;

interface Answer {
  id: number;
  result?: unknown;
  error?: { code: number; message: string; data?: { code?: string } };
}

export async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }) });
  const a = (await res.json()) as Answer;
  if (a.error) throw new RpcFailure(a.error.code, a.error.message, a.error.data);
  return a.result as T;
}

/** Many calls in one request; each answer is its result or an RpcFailure. */
export async function batch<T>(calls: readonly { method: string; params?: unknown[] }[]): Promise<(T | RpcFailure)[]> {
  if (calls.length === 0) return [];
  const first = nextId;
  nextId += calls.length;
  const body = calls.map((c, i) => ({ jsonrpc: '2.0', id: first + i, method: c.method, params: c.params ?? [] }));
  const res = await fetch('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answers = (await res.json()) as Answer[];
  const byId = new Map(answers.map((a) => [a.id, a]));
  return calls.map((_, i) => {
    const a = byId.get(first + i);
    if (!a) return new RpcFailure(-32603, 'no answer', undefined);
    if (a.error) return new RpcFailure(a.error.code, a.error.message, a.error.data);
    return a.result as T;
  });
}

/**
 * newBlocks over a WebSocket to this node, reconnecting after a drop (1 s, then up to 10 s).
 * Returns a function that closes it.
 */
export function followBlocks(onBlock: (b: BlockJson) => void, onState: (live: boolean) => void): () => void {
  let ws: WebSocket | null = null;
  let closed = false;
  let delay = 1000;
  const open = (): void => {
    if (closed) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
    ws = new WebSocket(url);
    ws.onopen = () => {
      delay = 1000;
      ws!.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_subscribe', params: ['newBlocks'] }));
      onState(true);
    };
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as { method?: string; params?: { result: BlockJson } };
      if (msg.method === 'chain_subscription' && msg.params) onBlock(msg.params.result);
    };
    ws.onclose = () => {
      onState(false);
      if (closed) return;
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  open();
  return () => {
    closed = true;
    ws?.close();
  };
}

export interface HeaderJson {
  chainId: number;
  height: number;
  parentHash: string;
  timestamp: number;
  proposer: string;
  txRoot: string;
  receiptsRoot: string;
  stateRoot: string;
  txCount: number;
  gasUsed: string;
}

export interface JsonValue {
  type: string;
  value: string | boolean;
}

export interface TxJson {
  hash: string;
  sender: string;
  nonce: string;
  gasLimit: string;
  gasPrice: string;
  expiry: string;
  module: string;
  call: string;
  args: JsonValue[];
}

export interface EventJson {
  module: string;
  name: string;
  fields: Record<string, JsonValue>;
}

export interface ReceiptJson {
  txHash: string;
  blockHeight: number;
  blockHash: string;
  index: number;
  status: 'success' | 'failed';
  errorCode: string;
  gasUsed: string;
  fee: string;
  events: EventJson[];
}

export interface BlockJson {
  hash: string;
  header: HeaderJson;
  txs?: (string | TxJson)[];
  receipts?: ReceiptJson[];
}

export interface EventHit extends EventJson {
  blockHeight: number;
  blockHash: string;
  txHash: string;
  txIndex: number;
  eventIndex: number;
}

export interface BlockExecution {
  height: number;
  hash: string;
  txs: number;
  discarded: number;
  executor: string;
  path: string;
  fallback: string | null;
  sequentialFrom: number | null;
  durationMs: number;
  executeMs: number;
  stateRootMs: number;
  incarnations: number;
  reexecutions: number;
  validations: number;
  dependencyWaits: number;
  conflictKeys: { key: string; count: number }[];
  timings: Record<string, number>;
  txRows: 'all' | 'contended';
  perTx: { index: number; hash: string | null; incarnations: number; reexecutions: number; dependencyWaits: number; sequential: boolean }[];
}
