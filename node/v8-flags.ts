/**
 * V8 flags for a node process. Heap sizing is read when the process starts
 * (`v8.setFlagsFromString` afterwards does not resize the main isolate's young generation),
 * so they go on the command line: the `pel` bin's shebang and `npm start` carry them
 * (test/unit/node/v8-flags.test.ts keeps the three in step), and pel passes them to every
 * node process it spawns itself (`bench rpc`'s devnet, `devnet --validators N`).
 *
 * --max-semi-space-size=64 (MB; V8's default on 64-bit is 16): a transaction lives from
 * its JSON-RPC batch to its block's write, ~100-300 ms at 10k+ tx/s. With 16 MB semi-spaces
 * a scavenge came every ~100 ms, so most txs survived two and were promoted, died in the
 * old generation and were collected by mark-compact: RSS went up and down by ~100 MB and
 * drifted. With 64 MB they die young. Measured over 1,000,000 transfers
 * (`bench rpc --txs 1000000 --senders 200`, interleaved): RSS growth from the 100k mark to
 * the end +7.2% / +4.5% with the flag against +48.3% / +27.3% without; 12,918 / 13,106
 * against 12,653 / 12,376 tx/s; end RSS ~550 against ~460-520 MB.
 */
export const NODE_PROCESS_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
