/**
 * pel's block explorer: one page app served by the node on GET / (node/explorer.ts), talking
 * JSON-RPC to that same node. Routes live in the URL hash (#/block/12, #/tx/0x…, #/account/0x…)
 * so the server serves one file for every page. Preact for the views, uPlot for the charts.
 */
import { render, type ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { batch, followBlocks, rpc, RpcFailure, type BlockExecution, type BlockJson, type EventHit, type EventJson, type JsonValue, type ReceiptJson, type TxJson } from './rpc.js';

/** Blocks the home page keeps for its charts and lists. */
const WINDOW = 120;

// ---------------------------------------------------------------------------------------------
// Routing and small helpers
// ---------------------------------------------------------------------------------------------

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = (): void => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

const HEX_ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const HEX_HASH = /^0x[0-9a-fA-F]{64}$/;

function short(h: string, n = 10): string {
  return h.length > 2 * n + 2 ? `${h.slice(0, n + 2)}…${h.slice(-6)}` : h;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

function fmt(n: number, digits = 1): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

const A = ({ to, children, title }: { to: string; children: ComponentChildren; title?: string }) => (
  <a href={`#${to}`} title={title}>
    {children}
  </a>
);

const Addr = ({ a, full }: { a: string; full?: boolean }) => (
  <A to={`/account/${a.toLowerCase()}`} title={a}>
    <code>{full ? a : short(a)}</code>
  </A>
);
const TxLink = ({ h, full }: { h: string; full?: boolean }) => (
  <A to={`/tx/${h}`} title={h}>
    <code>{full ? h : short(h)}</code>
  </A>
);
const BlockLink = ({ n }: { n: number }) => <A to={`/block/${n}`}>#{n}</A>;

function Value({ v }: { v: JsonValue }) {
  if (v.type === 'address' && typeof v.value === 'string') return <Addr a={v.value} />;
  if (v.type === 'bytes' && typeof v.value === 'string' && HEX_HASH.test(v.value)) return <TxLink h={v.value} />;
  return <code>{String(v.value)}</code>;
}

/** Any JSON as a definition list; addresses and hashes become links. */
function Json({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span class="muted">none</span>;
  if (typeof value === 'string') {
    if (HEX_ADDRESS.test(value)) return <Addr a={value} />;
    return <code>{value}</code>;
  }
  if (typeof value !== 'object') return <code>{String(value)}</code>;
  if (Array.isArray(value)) {
    if (value.length === 0) return <span class="muted">[]</span>;
    return (
      <ol class="json">
        {value.map((x, i) => (
          <li key={i}>
            <Json value={x} />
          </li>
        ))}
      </ol>
    );
  }
  return (
    <dl class="kv">
      {Object.entries(value as Record<string, unknown>).map(([k, v]) => [<dt key={`k${k}`}>{k}</dt>, <dd key={`v${k}`}><Json value={v} /></dd>])}
    </dl>
  );
}

function Events({ events, withTx }: { events: (EventJson | EventHit)[]; withTx?: boolean }) {
  if (events.length === 0) return <p class="muted">No events.</p>;
  return (
    <table>
      <thead>
        <tr>
          {withTx && <th>Block</th>}
          {withTx && <th>Tx</th>}
          <th>Event</th>
          <th>Fields</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e, i) => (
          <tr key={i}>
            {withTx && 'txHash' in e && (
              <td>
                <BlockLink n={e.blockHeight} />
              </td>
            )}
            {withTx && 'txHash' in e && (
              <td>
                <TxLink h={e.txHash} />
              </td>
            )}
            <td>
              <span class="tag">{e.module}</span> {e.name}
            </td>
            <td class="fields">
              {Object.entries(e.fields).map(([k, v]) => (
                <span key={k} class="field">
                  {k}=<Value v={v} />
                </span>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function useAsync<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: Error | undefined; loading: boolean } {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  useEffect(() => {
    let live = true;
    setState({ data: undefined, error: undefined, loading: true });
    load().then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error: unknown) => live && setState({ data: undefined, error: error instanceof Error ? error : new Error(String(error)), loading: false }),
    );
    return () => {
      live = false;
    };
  }, deps);
  return state;
}

function Problem({ error }: { error: Error }) {
  const code = error instanceof RpcFailure ? error.reason : undefined;
  return (
    <p class="error">
      {code ? <code>{code}</code> : null} {error.message}
    </p>
  );
}

// ---------------------------------------------------------------------------------------------
// Charts
// ---------------------------------------------------------------------------------------------

function Chart({ title, data, xTime, unit }: { title: string; data: [number[], number[]]; xTime: boolean; unit: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current!;
    const width = (): number => Math.max(260, el.clientWidth - 4);
    plot.current = new uPlot(
      {
        width: width(),
        height: 170,
        scales: { x: { time: xTime } },
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        axes: [{ stroke: '#667' }, { stroke: '#667', size: 70 }],
        series: [{}, { label: unit, stroke: '#2f6fde', width: 2, fill: 'rgba(47,111,222,0.12)', points: { show: false } }],
      },
      data,
      el,
    );
    const onResize = (): void => plot.current?.setSize({ width: width(), height: 170 });
    addEventListener('resize', onResize);
    return () => {
      removeEventListener('resize', onResize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return (
    <section class="card chart">
      <h3>{title}</h3>
      <div ref={box} class="plot" data-points={data[0].length} />
    </section>
  );
}

/** Txs per second over the blocks' timestamps: one bucket per second from the first to the last block. */
function txRate(all: BlockJson[]): [number[], number[]] {
  const blocks = all.filter((b) => b.header.height > 0);
  if (blocks.length === 0) return [[], []];
  const first = Math.floor(blocks[0]!.header.timestamp / 1000);
  const last = Math.floor(blocks[blocks.length - 1]!.header.timestamp / 1000);
  const start = Math.max(first, last - 299);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let s = start; s <= last; s++) {
    xs.push(s);
    ys.push(0);
  }
  for (const b of blocks) {
    const s = Math.floor(b.header.timestamp / 1000);
    if (s >= start) ys[s - start]! += b.header.txCount;
  }
  return [xs, ys];
}

function blockTimes(blocks: BlockJson[]): [number[], number[]] {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 1; i < blocks.length; i++) {
    const b = blocks[i]!;
    const p = blocks[i - 1]!;
    // Genesis carries the genesis file's timestamp, not a production time.
    if (p.header.height !== b.header.height - 1 || p.header.height === 0) continue;
    xs.push(b.header.height);
    ys.push(b.header.timestamp - p.header.timestamp);
  }
  return [xs, ys];
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

interface ChainInfo {
  chainId: number;
  height: number;
  executor: string;
  executorStatus: string;
  consensus: string;
  validators: number;
}

function Home() {
  const [info, setInfo] = useState<ChainInfo | null>(null);
  const [blocks, setBlocks] = useState<BlockJson[]>([]);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [txs, setTxs] = useState<(TxJson & { blockHeight: number })[]>([]);

  useEffect(() => {
    let stop = (): void => undefined;
    let cancelled = false;
    (async () => {
      const i = await rpc<ChainInfo>('chain_getInfo');
      if (cancelled) return;
      setInfo(i);
      const from = Math.max(0, i.height - WINDOW + 1);
      const got = await batch<BlockJson | null>(Array.from({ length: i.height - from + 1 }, (_, k) => ({ method: 'block_get', params: [from + k] })));
      if (cancelled) return;
      setBlocks(got.filter((b): b is BlockJson => b !== null && !(b instanceof RpcFailure)));
      stop = followBlocks(
        (b) => {
          setBlocks((bs) => (bs.length > 0 && bs[bs.length - 1]!.header.height >= b.header.height ? bs : [...bs, b].slice(-WINDOW)));
          setInfo((x) => (x ? { ...x, height: Math.max(x.height, b.header.height) } : x));
        },
        setLive,
      );
    })().catch((e: unknown) => setError(e instanceof Error ? e : new Error(String(e))));
    return () => {
      cancelled = true;
      stop();
    };
  }, []);

  // The latest txs: full bodies of the newest blocks that hold any, at most 15 txs.
  const newestWithTxs = useMemo(() => blocks.filter((b) => b.header.txCount > 0).slice(-15).reverse(), [blocks]);
  const key = newestWithTxs.map((b) => b.hash).join();
  useEffect(() => {
    let live = true;
    const wanted: { hash: string; height: number }[] = [];
    for (const b of newestWithTxs) {
      for (const h of [...(b.txs ?? [])].reverse()) if (wanted.length < 15 && typeof h === 'string') wanted.push({ hash: h, height: b.header.height });
    }
    batch<(TxJson & { status: string }) | null>(wanted.map((w) => ({ method: 'tx_get', params: [w.hash] }))).then((rs) => {
      if (!live) return;
      setTxs(rs.flatMap((r, i) => (r && !(r instanceof RpcFailure) ? [{ ...r, blockHeight: wanted[i]!.height }] : [])));
    }, () => undefined);
    return () => {
      live = false;
    };
  }, [key]);

  const rate = useMemo(() => txRate(blocks), [blocks]);
  const times = useMemo(() => blockTimes(blocks), [blocks]);
  if (error) return <Problem error={error} />;
  if (!info) return <p class="muted">Connecting to the node…</p>;
  const recent = blocks.slice(-20);
  const produced = recent.filter((b) => b.header.height > 0);
  const span = produced.length > 1 ? (produced[produced.length - 1]!.header.timestamp - produced[0]!.header.timestamp) / 1000 : 0;
  const recentTxs = produced.slice(1).reduce((a, b) => a + b.header.txCount, 0);
  return (
    <div>
      <section class="stats">
        <div class="card stat">
          <span>Height</span>
          <b id="head-height">{info.height}</b>
        </div>
        <div class="card stat">
          <span>Tx/s (last {produced.length} blocks)</span>
          <b>{span > 0 ? fmt(recentTxs / span) : '–'}</b>
        </div>
        <div class="card stat">
          <span>Chain id</span>
          <b>{info.chainId}</b>
        </div>
        <div class="card stat">
          <span>Executor</span>
          <b>{info.executorStatus}</b>
        </div>
        <div class="card stat">
          <span>Consensus</span>
          <b>
            {info.consensus} · {info.validators} validator{info.validators === 1 ? '' : 's'}
          </b>
        </div>
        <div class="card stat">
          <span>Updates</span>
          <b class={live ? 'ok' : 'warn'}>{live ? 'live' : 'reconnecting'}</b>
        </div>
      </section>
      <div class="charts">
        <Chart title="Transactions per second" data={rate} xTime unit="tx/s" />
        <Chart title="Block time (ms)" data={times} xTime={false} unit="ms" />
      </div>
      <div class="columns">
        <section class="card">
          <h3>Latest blocks</h3>
          <table id="latest-blocks">
            <thead>
              <tr>
                <th>Block</th>
                <th>Hash</th>
                <th class="num">Txs</th>
                <th class="num">Gas</th>
                <th>Time</th>
              </tr>
            </thead>
            <tbody>
              {[...recent].reverse().map((b) => (
                <tr key={b.hash}>
                  <td>
                    <BlockLink n={b.header.height} />
                  </td>
                  <td>
                    <code>{short(b.hash)}</code>
                  </td>
                  <td class="num">{b.header.txCount}</td>
                  <td class="num">{b.header.gasUsed}</td>
                  <td>{ago(b.header.timestamp)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section class="card">
          <h3>Latest transactions</h3>
          {txs.length === 0 ? (
            <p class="muted">No transactions yet. Try `npx pel transfer --from 0 --to 0x… --amount 1`.</p>
          ) : (
            <table id="latest-txs">
              <thead>
                <tr>
                  <th>Tx</th>
                  <th>Call</th>
                  <th>From</th>
                  <th>Block</th>
                </tr>
              </thead>
              <tbody>
                {txs.map((t) => (
                  <tr key={t.hash}>
                    <td>
                      <TxLink h={t.hash} />
                    </td>
                    <td>
                      {t.module}.{t.call}
                    </td>
                    <td>
                      <Addr a={t.sender} />
                    </td>
                    <td>
                      <BlockLink n={t.blockHeight} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </div>
  );
}

function StmPanel({ height }: { height: number }) {
  const { data, error, loading } = useAsync(() => rpc<BlockExecution | null>('debug_blockExecution', [height]), [height]);
  const [showAll, setShowAll] = useState(false);
  if (loading) return <section class="card"><h3>Block-STM</h3><p class="muted">Loading…</p></section>;
  if (error) {
    const notKept = error instanceof RpcFailure && error.reason === 'STATS_NOT_RETAINED';
    return (
      <section class="card" id="stm-panel">
        <h3>Block-STM</h3>
        {notKept ? <p class="muted">This node keeps execution stats only for the last 256 blocks it executed since it started; this block is not one of them.</p> : <Problem error={error} />}
      </section>
    );
  }
  if (!data) return null;
  const contended = data.perTx.filter((t) => t.reexecutions > 0 || t.dependencyWaits > 0);
  const rows = showAll ? data.perTx : contended.slice(0, 50);
  return (
    <section class="card" id="stm-panel">
      <h3>Block-STM</h3>
      <div class="badges">
        <span class={`badge path-${data.path.replace(/\+.*/, '')}`} id="stm-path">{data.path}</span>
        {data.fallback && <span class="badge warn">{data.fallback}</span>}
      </div>
      <dl class="kv inline">
        <dt>Txs</dt>
        <dd>{data.txs}</dd>
        <dt>Incarnations</dt>
        <dd>{data.incarnations}</dd>
        <dt>Re-executions</dt>
        <dd id="stm-reexecutions">{data.reexecutions}</dd>
        <dt>Validations</dt>
        <dd>{data.validations}</dd>
        <dt>Dependency waits</dt>
        <dd>{data.dependencyWaits}</dd>
        <dt>Executed in</dt>
        <dd>{fmt(data.durationMs, 2)} ms</dd>
        <dt>State root</dt>
        <dd>{fmt(data.stateRootMs, 2)} ms</dd>
      </dl>
      {data.perTx.length > 0 && (
        <div class="grid" title="one square per tx: green ran once, amber re-executed once, red more; outlined: waited on another tx">
          {data.perTx.map((t) => (
            <a
              key={t.index}
              href={t.hash ? `#/tx/${t.hash}` : undefined}
              class={`cell r${Math.min(t.reexecutions, 2)}${t.dependencyWaits > 0 ? ' waited' : ''}${t.sequential ? ' seq' : ''}`}
              title={`tx ${t.index}: ${t.incarnations} incarnation(s), ${t.dependencyWaits} wait(s)${t.sequential ? ', sequential' : ''}`}
            />
          ))}
        </div>
      )}
      {data.conflictKeys.length > 0 && (
        <>
          <h4>Keys behind the re-executions</h4>
          <table>
            <thead>
              <tr>
                <th>Key</th>
                <th class="num">Re-executions</th>
              </tr>
            </thead>
            <tbody>
              {data.conflictKeys.map((k) => (
                <tr key={k.key}>
                  <td>
                    <code>{k.key}</code>
                  </td>
                  <td class="num">{k.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h4>
        Per transaction{' '}
        <label class="muted small">
          <input type="checkbox" checked={showAll} onChange={(e) => setShowAll((e.target as HTMLInputElement).checked)} /> show all {data.perTx.length}
          {data.txRows === 'contended' ? ' contended' : ''}
        </label>
      </h4>
      {rows.length === 0 ? (
        <p class="muted">Every transaction ran once, without waiting.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th class="num">#</th>
              <th>Tx</th>
              <th class="num">Incarnations</th>
              <th class="num">Waits</th>
              <th>Path</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <tr key={t.index}>
                <td class="num">{t.index}</td>
                <td>{t.hash ? <TxLink h={t.hash} /> : '–'}</td>
                <td class="num">{t.incarnations}</td>
                <td class="num">{t.dependencyWaits}</td>
                <td>{t.sequential ? 'sequential' : 'parallel'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function BlockPage({ id }: { id: string }) {
  const { data, error, loading } = useAsync(async () => {
    const param = /^\d+$/.test(id) ? Number(id) : id;
    return rpc<BlockJson | null>('block_get', [param, { txs: 'full', receipts: true }]);
  }, [id]);
  if (loading) return <p class="muted">Loading block…</p>;
  if (error) return <Problem error={error} />;
  if (!data) return <p class="error">No block {id} on this chain (yet).</p>;
  const h = data.header;
  const txs = (data.txs ?? []) as TxJson[];
  return (
    <div>
      <h2>
        Block #{h.height}{' '}
        <span class="nav">
          {h.height > 0 && <A to={`/block/${h.height - 1}`}>← previous</A>} <A to={`/block/${h.height + 1}`}>next →</A>
        </span>
      </h2>
      <section class="card">
        <dl class="kv">
          <dt>Hash</dt>
          <dd>
            <code id="block-hash">{data.hash}</code>
          </dd>
          <dt>Time</dt>
          <dd>
            {new Date(h.timestamp).toISOString()} ({ago(h.timestamp)})
          </dd>
          <dt>Transactions</dt>
          <dd>{h.txCount}</dd>
          <dt>Gas used</dt>
          <dd>{h.gasUsed}</dd>
          <dt>Proposer</dt>
          <dd>
            <Addr a={h.proposer} full />
          </dd>
          <dt>Parent</dt>
          <dd>{h.height > 0 ? <A to={`/block/${data.header.parentHash}`}><code>{h.parentHash}</code></A> : <code>{h.parentHash}</code>}</dd>
          <dt>State root</dt>
          <dd>
            <code>{h.stateRoot}</code>
          </dd>
          <dt>Tx root</dt>
          <dd>
            <code>{h.txRoot}</code>
          </dd>
          <dt>Receipts root</dt>
          <dd>
            <code>{h.receiptsRoot}</code>
          </dd>
        </dl>
      </section>
      {h.height > 0 && <StmPanel height={h.height} />}
      <section class="card">
        <h3>Transactions</h3>
        {txs.length === 0 ? (
          <p class="muted">An empty block.</p>
        ) : (
          <table id="block-txs">
            <thead>
              <tr>
                <th class="num">#</th>
                <th>Tx</th>
                <th>Call</th>
                <th>From</th>
                <th>Status</th>
                <th class="num">Gas</th>
              </tr>
            </thead>
            <tbody>
              {txs.slice(0, 1000).map((t, i) => {
                const r = data.receipts?.[i];
                return (
                  <tr key={t.hash}>
                    <td class="num">{i}</td>
                    <td>
                      <TxLink h={t.hash} />
                    </td>
                    <td>
                      {t.module}.{t.call}
                    </td>
                    <td>
                      <Addr a={t.sender} />
                    </td>
                    <td class={r?.status === 'success' ? 'ok' : 'bad'}>{r ? (r.status === 'success' ? 'success' : `failed: ${r.errorCode}`) : ''}</td>
                    <td class="num">{r?.gasUsed}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        {txs.length > 1000 && <p class="muted">The first 1,000 of {txs.length} transactions.</p>}
      </section>
    </div>
  );
}

function TxPage({ hash }: { hash: string }) {
  const { data, error, loading } = useAsync(async () => {
    const [tx, receipt] = await batch<Record<string, unknown> | null>([
      { method: 'tx_get', params: [hash] },
      { method: 'tx_getReceipt', params: [hash] },
    ]);
    if (tx instanceof RpcFailure) throw tx;
    return { tx: tx as (TxJson & { status: string; blockHeight?: number; index?: number; reason?: { code: string; message: string } }) | null, receipt: receipt instanceof RpcFailure ? null : (receipt as ReceiptJson | null) };
  }, [hash]);
  if (loading) return <p class="muted">Loading transaction…</p>;
  if (error) return <Problem error={error} />;
  if (!data?.tx) return <p class="error">This node does not know transaction {hash}.</p>;
  const { tx, receipt } = data;
  return (
    <div>
      <h2>Transaction</h2>
      <section class="card">
        <dl class="kv">
          <dt>Hash</dt>
          <dd>
            <code id="tx-hash">{tx.hash}</code>
          </dd>
          <dt>Status</dt>
          <dd id="tx-status" class={receipt ? (receipt.status === 'success' ? 'ok' : 'bad') : 'warn'}>
            {receipt ? (receipt.status === 'success' ? 'success' : `failed: ${receipt.errorCode}`) : tx.status}
            {tx.reason ? ` (${tx.reason.code}: ${tx.reason.message})` : ''}
          </dd>
          {tx.blockHeight !== undefined && (
            <>
              <dt>Block</dt>
              <dd>
                <BlockLink n={tx.blockHeight} /> · index {tx.index}
              </dd>
            </>
          )}
          <dt>From</dt>
          <dd id="tx-from">
            <Addr a={tx.sender} full />
          </dd>
          <dt>Call</dt>
          <dd>
            <code>
              {tx.module}.{tx.call}
            </code>
          </dd>
          <dt>Arguments</dt>
          <dd class="fields">
            {tx.args.map((a, i) => (
              <span key={i} class="field">
                <span class="muted">{a.type}</span> <Value v={a} />
              </span>
            ))}
          </dd>
          <dt>Nonce</dt>
          <dd>{tx.nonce}</dd>
          <dt>Gas</dt>
          <dd>
            {receipt ? `${receipt.gasUsed} used of ` : ''}
            {tx.gasLimit} at price {tx.gasPrice}
            {receipt ? ` · fee ${receipt.fee}` : ''}
          </dd>
          <dt>Expiry</dt>
          <dd>block {tx.expiry}</dd>
        </dl>
      </section>
      {receipt && (
        <section class="card">
          <h3>Events</h3>
          <Events events={receipt.events} />
        </section>
      )}
    </div>
  );
}

interface Holdings {
  account: { address: string; balance: string; nonce: string };
  events: EventHit[];
  truncated: boolean;
  tokens: { id: string; info: unknown; balance: unknown }[];
  nfts: { collection: string; tokenId: string; token: unknown }[];
  daos: { id: string; dao: unknown }[];
  proposals: { dao: string; id: string; proposal: unknown }[];
  pools: { id: string; pool: unknown; position: unknown }[];
}

function fieldOf(e: EventJson, name: string): string | undefined {
  const f = e.fields[name];
  return f && typeof f.value === 'string' ? f.value.toLowerCase() : undefined;
}

async function loadHoldings(address: string): Promise<Holdings> {
  const addr = address.toLowerCase();
  const [account] = await Promise.all([rpc<Holdings['account']>('account_get', [addr])]);
  // Every event that names the address, oldest first: at most 10 pages of 1,000.
  const events: EventHit[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: { events: EventHit[]; cursor: string | null } = await rpc('events_query', [{ value: addr, limit: 1000, ...(cursor ? { cursor } : {}) }]);
    events.push(...page.events);
    cursor = page.cursor;
  } while (cursor !== null && ++pages < 10);
  const tokens = new Set<string>();
  const nfts = new Set<string>();
  const daos = new Set<string>();
  const proposals = new Set<string>();
  const pools = new Set<string>();
  for (const e of events) {
    if (e.module === 'token' && fieldOf(e, 'token')) tokens.add(fieldOf(e, 'token')!);
    if (e.module === 'nft' && fieldOf(e, 'collection') && e.fields.token_id) nfts.add(`${fieldOf(e, 'collection')}/${String(e.fields.token_id.value)}`);
    if (e.module === 'dao' && fieldOf(e, 'dao')) daos.add(fieldOf(e, 'dao')!);
    if (e.module === 'dao' && fieldOf(e, 'dao') && fieldOf(e, 'proposal')) proposals.add(`${fieldOf(e, 'dao')}/${fieldOf(e, 'proposal')}`);
    if (e.module === 'amm' && fieldOf(e, 'pool')) pools.add(fieldOf(e, 'pool')!);
  }
  const tokenIds = [...tokens].slice(0, 100);
  const nftIds = [...nfts].slice(0, 200).map((s) => s.split('/') as [string, string]);
  const daoIds = [...daos].slice(0, 50);
  const proposalIds = [...proposals].slice(0, 100).map((s) => s.split('/') as [string, string]);
  const poolIds = [...pools].slice(0, 50);
  const calls = [
    ...tokenIds.flatMap((t) => [{ method: 'token_getInfo', params: [t] }, { method: 'token_getBalance', params: [t, addr] }]),
    ...nftIds.map(([c, id]) => ({ method: 'nft_getToken', params: [c, id] })),
    ...daoIds.map((d) => ({ method: 'dao_get', params: [d] })),
    ...proposalIds.map(([d, p]) => ({ method: 'dao_getProposal', params: [d, p] })),
    ...poolIds.flatMap((p) => [{ method: 'amm_getPool', params: [p] }, { method: 'amm_getPosition', params: [p, addr] }]),
  ];
  const rs = (await batch<unknown>(calls)).map((r) => (r instanceof RpcFailure ? null : r));
  let k = 0;
  const out: Holdings = { account, events, truncated: cursor !== null, tokens: [], nfts: [], daos: [], proposals: [], pools: [] };
  for (const id of tokenIds) out.tokens.push({ id, info: rs[k++], balance: rs[k++] });
  for (const [collection, tokenId] of nftIds) {
    const token = rs[k++] as { owner?: string } | null;
    if (token && typeof token.owner === 'string' && token.owner.toLowerCase() === addr) out.nfts.push({ collection, tokenId, token });
  }
  for (const id of daoIds) out.daos.push({ id, dao: rs[k++] });
  for (const [dao, id] of proposalIds) out.proposals.push({ dao, id, proposal: rs[k++] });
  for (const id of poolIds) out.pools.push({ id, pool: rs[k++], position: rs[k++] });
  return out;
}

function balanceOf(b: unknown): string {
  if (typeof b === 'string') return b;
  if (b && typeof b === 'object' && 'balance' in b) return String((b as { balance: unknown }).balance);
  return JSON.stringify(b);
}

function AccountPage({ address }: { address: string }) {
  const { data, error, loading } = useAsync(() => loadHoldings(address), [address]);
  if (loading) return <p class="muted">Loading account…</p>;
  if (error) return <Problem error={error} />;
  if (!data) return null;
  const { account } = data;
  const recent = [...data.events].reverse().slice(0, 50);
  return (
    <div>
      <h2>Account</h2>
      <section class="card">
        <dl class="kv">
          <dt>Address</dt>
          <dd>
            <code id="account-address">{account.address}</code>
          </dd>
          <dt>Balance</dt>
          <dd id="account-balance">{account.balance}</dd>
          <dt>Nonce</dt>
          <dd>{account.nonce}</dd>
        </dl>
      </section>
      <section class="card">
        <h3>Tokens</h3>
        {data.tokens.length === 0 ? (
          <p class="muted">None.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Token</th>
                <th>Symbol</th>
                <th class="num">Balance</th>
              </tr>
            </thead>
            <tbody>
              {data.tokens.map((t) => (
                <tr key={t.id}>
                  <td>
                    <code title={t.id}>{short(t.id)}</code>
                  </td>
                  <td>{String((t.info as { symbol?: string } | null)?.symbol ?? '')}</td>
                  <td class="num">{balanceOf(t.balance)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="card">
        <h3>NFTs</h3>
        {data.nfts.length === 0 ? (
          <p class="muted">None.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Collection</th>
                <th>Token id</th>
                <th>Details</th>
              </tr>
            </thead>
            <tbody>
              {data.nfts.map((n) => (
                <tr key={`${n.collection}/${n.tokenId}`}>
                  <td>
                    <code title={n.collection}>{short(n.collection)}</code>
                  </td>
                  <td>{n.tokenId}</td>
                  <td>
                    <Json value={n.token} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {(data.daos.length > 0 || data.proposals.length > 0) && (
        <section class="card">
          <h3>DAOs and proposals</h3>
          {data.daos.map((d) => (
            <details key={d.id}>
              <summary>
                DAO <code>{short(d.id)}</code> {String((d.dao as { name?: string } | null)?.name ?? '')}
              </summary>
              <Json value={d.dao} />
            </details>
          ))}
          {data.proposals.map((p) => (
            <details key={p.id}>
              <summary>
                Proposal <code>{short(p.id)}</code> in DAO <code>{short(p.dao)}</code> {String((p.proposal as { status?: string } | null)?.status ?? '')}
              </summary>
              <Json value={p.proposal} />
            </details>
          ))}
        </section>
      )}
      {data.pools.length > 0 && (
        <section class="card">
          <h3>Pools</h3>
          {data.pools.map((p) => (
            <details key={p.id}>
              <summary>
                Pool <code>{short(p.id)}</code>
              </summary>
              <h4>Pool</h4>
              <Json value={p.pool} />
              <h4>This account's position</h4>
              <Json value={p.position} />
            </details>
          ))}
        </section>
      )}
      <section class="card">
        <h3>Activity</h3>
        {data.truncated && <p class="muted">The first 10,000 events naming this account were read; later ones are not shown.</p>}
        <Events events={recent} withTx />
      </section>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Search and shell
// ---------------------------------------------------------------------------------------------

function Search() {
  const [q, setQ] = useState('');
  const [msg, setMsg] = useState('');
  const go = async (e: Event): Promise<void> => {
    e.preventDefault();
    const s = q.trim();
    setMsg('');
    if (/^\d+$/.test(s)) location.hash = `#/block/${s}`;
    else if (HEX_ADDRESS.test(s)) location.hash = `#/account/${s.toLowerCase()}`;
    else if (HEX_HASH.test(s)) {
      const [tx, block] = await batch<{ hash: string } | BlockJson | null>([
        { method: 'tx_get', params: [s] },
        { method: 'block_get', params: [s, { txs: 'none' }] },
      ]);
      if (tx && !(tx instanceof RpcFailure)) location.hash = `#/tx/${s.toLowerCase()}`;
      else if (block && !(block instanceof RpcFailure)) location.hash = `#/block/${(block as BlockJson).header.height}`;
      else setMsg('No transaction or block with that hash.');
    } else setMsg('Type a block height, a 0x… address (40 hex digits) or a 0x… tx or block hash (64).');
  };
  return (
    <form class="search" onSubmit={go}>
      <input id="search" type="search" placeholder="Block height, address, tx or block hash" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} spellcheck={false} />
      <button type="submit">Search</button>
      {msg && <span class="search-msg">{msg}</span>}
    </form>
  );
}

function App() {
  const hash = useHash();
  const [, page, arg] = /^#\/(block|tx|account)\/([^/]+)$/.exec(hash) ?? [];
  let body;
  if (page === 'block') body = <BlockPage key={arg} id={arg!} />;
  else if (page === 'tx' && HEX_HASH.test(arg!)) body = <TxPage key={arg} hash={arg!.toLowerCase()} />;
  else if (page === 'account' && HEX_ADDRESS.test(arg!)) body = <AccountPage key={arg} address={arg!} />;
  else if (hash === '' || hash === '#' || hash === '#/') body = <Home />;
  else body = <p class="error">No such page. <A to="/">Back to the start</A>.</p>;
  return (
    <>
      <header>
        <A to="/">
          <span class="logo">pel</span> explorer
        </A>
        <Search />
      </header>
      <main>{body}</main>
      <footer class="muted">
        Served by this node · JSON-RPC on this port (<code>POST /</code>, <code>rpc_methods</code> lists every method)
      </footer>
    </>
  );
}

const root = document.getElementById('app')!;
root.textContent = '';
render(<App />, root);
