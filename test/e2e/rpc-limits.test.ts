/**
 * The JSON-RPC limits as a user sets them: flags of a real `pel devnet` process reach its
 * server (each limit answering its documented code over real sockets), the effective config
 * printed at start lists them, and a bad value, from a flag or from config.json of
 * `pel node --home`, is refused with a message naming where it came from.
 * (Each limit's behaviour in detail: test/unit/node/rpc-limits.test.ts.)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { makeTempDir, runCli, startNode, useE2eCleanup, waitFor, WsClient } from './harness.js';

vi.setConfig({ testTimeout: 90_000, hookTimeout: 60_000 });
useE2eCleanup();

/** A raw TCP connection to 127.0.0.1 and everything it receives. */
async function rawConnect(port: number): Promise<{ socket: Socket; text: () => string; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (text += d));
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, text: () => text, closed };
}

function bodyOf(response: string): { status: number; json: any } {
  const end = response.indexOf('\r\n\r\n');
  return { status: Number(response.split(' ')[1]), json: JSON.parse(response.slice(end + 4)) };
}

describe('JSON-RPC limits on a real node', () => {
  it('take their values from the flags, show in the effective config, and answer their codes', async () => {
    const node = await startNode({
      args: ['--warmup', '0', '--rpc-max-connections-per-ip', '3', '--rpc-max-ws-per-ip', '2', '--rpc-max-subscriptions-total', '3', '--rpc-header-timeout', '300', '--rpc-request-timeout', '600'],
    });
    const effective = /effective config (\{.*\})/.exec(node.stderr());
    expect(effective, node.stderr()).not.toBeNull();
    expect(JSON.parse(effective![1]!)).toMatchObject({ rpcMaxConnectionsPerIp: 3, rpcMaxWsConnectionsPerIp: 2, rpcMaxSubscriptionsTotal: 3, rpcHeaderTimeoutMs: 300, rpcRequestTimeoutMs: 600, rpcWsBufferBytes: 4 * 1024 * 1024, rpcWsBufferTotalBytes: 64 * 1024 * 1024 });

    // Headers that never end: 408 REQUEST_TIMEOUT, then closed.
    const slow = await rawConnect(node.port);
    slow.socket.write('POST / HTTP/1.1\r\nHost: x\r\n');
    await slow.closed;
    expect(bodyOf(slow.text())).toMatchObject({ status: 408, json: { error: { code: -32034, data: { code: 'REQUEST_TIMEOUT', headersTimeoutMs: 300 } } } });

    // Subscriptions in all: 3, over two WebSockets.
    const a = await WsClient.connect(node.wsUrl);
    const b = await WsClient.connect(node.wsUrl);
    for (const c of [a, a, b]) expect((await c.call('chain_subscribe', ['newBlocks'])).result).toMatch(/^0x/);
    expect((await b.call('chain_subscribe', ['newBlocks'])).error).toMatchObject({ code: -32030, data: { code: 'SUBSCRIPTION_LIMIT', scope: 'node', limit: 3 } });

    // WebSockets per IP: 2.
    const third = new WebSocket(node.wsUrl);
    const refusal = await new Promise<string>((resolve) => {
      third.once('open', () => resolve('opened'));
      third.once('error', (e) => resolve(e.message));
    });
    expect(refusal).toContain('503');
    await Promise.all([a.close(), b.close()]);

    // HTTP connections per IP: 3. Hold connections open until one is refused.
    const held: Awaited<ReturnType<typeof rawConnect>>[] = [];
    let refused: { status: number; json: any } | null = null;
    for (let i = 0; i < 10 && refused === null; i++) {
      const c = await rawConnect(node.port);
      held.push(c);
      const body = '{"jsonrpc":"2.0","id":1,"method":"chain_getInfo"}';
      c.socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      await waitFor(() => c.text().includes('\r\n\r\n') && c.text().endsWith('}'), { what: `answer on connection ${i + 1}` });
      if (c.text().startsWith('HTTP/1.1 503')) refused = bodyOf(c.text());
    }
    expect(refused, 'a connection past 3 from 127.0.0.1 was refused').not.toBeNull();
    expect(held.length).toBeLessThanOrEqual(4);
    expect(refused!.json).toMatchObject({ error: { code: -32033, data: { code: 'CONNECTION_LIMIT', scope: 'ip', limit: 3, transport: 'http' } } });
    for (const c of held) c.socket.destroy();
    expect(await node.stop('SIGINT')).toBe(0);
  });
});

describe('a bad limit value names its source', () => {
  it('from a flag', async () => {
    const r = await runCli(['devnet', '--rpc-max-ws', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('pel: --rpc-max-ws must be an integer between 1 and 1000000, got 0\n');
    const t = await runCli(['devnet', '--rpc-header-timeout', '40000']);
    expect(t.code).toBe(2);
    expect(t.stderr).toContain('--rpc-header-timeout (40000) must not exceed --rpc-request-timeout (30000)');
  });

  it('from config.json of pel node --home, and a flag overrides it', async () => {
    const out = await makeTempDir('limits-home');
    const init = await runCli(['testnet', 'init', '--validators', '1', '--out', out]);
    expect(init.code, init.stderr).toBe(0);
    const file = join(out, 'node0', 'config.json');
    const cfg = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...cfg, rpcMaxWsConnections: 'many' }));
    const r = await runCli(['node', '--home', join(out, 'node0')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`pel: ${file}: rpcMaxWsConnections must be an integer between 1 and 1000000, got "many"\n`);
    const flag = await runCli(['node', '--home', join(out, 'node0'), '--rpc-max-ws', '0']);
    expect(flag.stderr).toBe('pel: --rpc-max-ws must be an integer between 1 and 1000000, got 0\n');
    await writeFile(file, JSON.stringify({ ...cfg, rpcMaxWS: 5 }));
    const unknown = await runCli(['node', '--home', join(out, 'node0')]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`${file}: unknown key rpcMaxWS`);
  });
});
