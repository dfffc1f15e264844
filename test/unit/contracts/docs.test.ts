/**
 * docs/MODULES.md must document every call, view and error code of every built-in module:
 * the docs are checked against the code, so they cannot silently drift.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinModules } from '../../../contracts/registry.js';
import { DEFAULT_GAS_SCHEDULE } from '../../../execution/gas.js';

const root = join(import.meta.dirname, '..', '..', '..');
const doc = readFileSync(join(root, 'docs', 'MODULES.md'), 'utf8');

describe('docs/MODULES.md', () => {
  for (const m of builtinModules.values()) {
    it(`documents every call, gas figure, view and error code of ${m.name}`, () => {
      for (const call of Object.keys(m.calls)) {
        expect(doc, `${m.name}.${call}`).toContain(`\`${m.name}.${call}\``);
        const gas = DEFAULT_GAS_SCHEDULE.calls[`${m.name}.${call}`];
        expect(gas, `gas for ${m.name}.${call} in the default schedule`).not.toBeUndefined();
      }
      for (const view of Object.keys(m.views ?? {})) expect(doc, `${m.name}_${view}`).toContain(`${m.name}_${view}`);
      const dir = join(root, 'contracts', m.name);
      const codes = new Set<string>();
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
        for (const match of readFileSync(join(dir, f), 'utf8').matchAll(/ExecutionFailure\('([A-Z_]+)'/g)) codes.add(match[1]!);
      }
      for (const code of codes) expect(doc, `error code ${code} of ${m.name}`).toContain(code);
    });
  }
});
