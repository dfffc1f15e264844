/**
 * docs/PROTOCOL.md against the code: its error table is exactly RpcCode (node/rpc/errors.ts,
 * the one source of JSON-RPC codes), and it lists every JSON-RPC method the node serves
 * (module views are listed in docs/MODULES.md, checked by test/unit/contracts/docs.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RpcCode } from '../../../node/rpc/errors.js';
import { rpcMethods } from '../../../node/rpc/methods/index.js';
import { moduleViewMethods } from '../../../node/rpc/methods/modules.js';

const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'PROTOCOL.md'), 'utf8');

function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  expect(start, `section "${title}"`).toBeGreaterThan(0);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end === -1 ? undefined : end);
}

describe('docs/PROTOCOL.md', () => {
  it('documents exactly the JSON-RPC error codes of RpcCode, with their numbers', () => {
    const rows = [...section('JSON-RPC errors').matchAll(/^\| (-\d+) \| `([A-Z_]+)` \|/gm)].map((m) => [m[2]!, Number(m[1])] as const);
    expect(Object.fromEntries(rows)).toEqual({ ...RpcCode });
    expect(rows).toHaveLength(Object.keys(RpcCode).length); // no entry twice
  });

  it('lists every JSON-RPC method the node serves', () => {
    const api = section('JSON-RPC API');
    for (const name of Object.keys(rpcMethods)) {
      if (Object.hasOwn(moduleViewMethods, name)) continue;
      expect(api, name).toContain(`\`${name}\``);
    }
  });
});
