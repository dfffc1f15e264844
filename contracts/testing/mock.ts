/**
 * `mock`: property-test module (never registered on a real chain). `run(program)`
 * interprets a byte program over a small key universe, so generated blocks can have reads
 * and writes that depend on the values read (and so differ per incarnation), deltas with
 * bound failures, deletes, events, failures, thrown errors and gas exhaustion.
 *
 * ops: 1 READ k | 2 WRITE k | 3 WRITE_IF_ODD k | 4 DELTA k sign u32 | 5 DELETE k
 *      6 FAIL_IF_ODD | 7 THROW_IF k==acc%8 | 8 BURN n (n reads) | 9 EMIT | 10 READ_COUNTER k
 */
import { decodeU128, encodeU128 } from '../../protocol/codec.js';
import { sha256 } from '../../protocol/hash.js';
import { v } from '../../protocol/value.js';
import { defineCall } from '../args.js';
import { ExecutionFailure, type Module } from '../types.js';

export const mockKey = (k: number): string => `mock/k${k}`;
export const mockCounter = (k: number): string => `mock/c${k}`;

export const mockModule: Module = {
  name: 'mock',
  calls: {
    run: defineCall({
      args: [['program', 'bytes']],
      summary: 'Property tests: interpret a program of reads, writes, deltas and failures.',
      run(view, ctx, { program: p }) {
        let acc = ctx.sender[0]!;
        let i = 0;
        const next = (): number => {
          if (i >= p.length) throw new ExecutionFailure('BAD_PROGRAM', 'program truncated');
          return p[i++]!;
        };
        while (i < p.length) {
          const op = next();
          switch (op) {
            case 1: {
              const val = view.get(mockKey(next()));
              acc = (acc * 31 + (val ? val[0]! + val.length : 7)) >>> 0;
              break;
            }
            case 2:
              view.set(mockKey(next()), sha256(new Uint8Array([acc & 0xff, (acc >>> 8) & 0xff, ctx.txHash[0]!])).subarray(0, 1 + (acc % 5)));
              break;
            case 3: {
              const k = next();
              if (acc % 2 === 1) view.set(mockKey(k), new Uint8Array([acc & 0xff]));
              break;
            }
            case 4: {
              const k = next();
              const neg = next() === 1;
              const amount = BigInt(next() | (next() << 8) | (next() << 16)) + BigInt(next()) * 16777216n;
              view.addDelta(mockCounter(k), neg ? -amount : amount, 'MOCK_UNDERFLOW');
              break;
            }
            case 5:
              view.set(mockKey(next()), null);
              break;
            case 6:
              if (acc % 2 === 1) throw new ExecutionFailure('MOCK_FAILED', 'odd accumulator');
              break;
            case 7: {
              const k = next();
              if (k === acc % 8) throw new TypeError('mock module bug');
              break;
            }
            case 8: {
              const n = next();
              for (let r = 0; r < n * 8; r++) view.get(mockKey(r % 16));
              break;
            }
            case 9:
              view.emit({ module: 'mock', name: 'tick', fields: [{ name: 'acc', value: v.u64(BigInt(acc)) }] });
              break;
            case 10: {
              const c = decodeU128(view.get(mockCounter(next())));
              acc = (acc + Number(c % 1000n)) >>> 0;
              break;
            }
            default:
              throw new ExecutionFailure('BAD_PROGRAM', `unknown op ${op}`);
          }
        }
        view.set('mock/acc', encodeU128(BigInt(acc)));
      },
    }),
  },
};
