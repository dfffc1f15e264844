/**
 * The node's V8 flags live in three places that cannot import each other: the constant pel
 * passes to the node processes it spawns, the `pel` bin's shebang and `npm start`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_PROCESS_FLAGS } from '../../../node/v8-flags.js';

const ROOT = new URL('../../../', import.meta.url);

describe('node process V8 flags', () => {
  it('the bin shebang and npm start carry exactly NODE_PROCESS_FLAGS', () => {
    const flags = NODE_PROCESS_FLAGS.join(' ');
    expect(flags).toMatch(/^--max-semi-space-size=\d+$/);
    const shebang = readFileSync(new URL('node/cli.ts', ROOT), 'utf8').split('\n')[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${flags}`);
    const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${flags} dist/node/cli.js devnet`);
  });
});
