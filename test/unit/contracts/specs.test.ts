import { describe, expect, it } from 'vitest';
import { builtinModules } from '../../../contracts/registry.js';
import { BUILTIN_SPECS } from '../../../contracts/specs.js';

describe('contracts/specs.ts', () => {
  it('declares exactly the built-in modules, their calls and views, with the arguments the executor checks', () => {
    expect(BUILTIN_SPECS.map((s) => s.name)).toEqual([...builtinModules.keys()]);
    for (const spec of BUILTIN_SPECS) {
      const m = builtinModules.get(spec.name)!;
      expect(Object.keys(m.calls), spec.name).toEqual(Object.keys(spec.calls));
      for (const [name, call] of Object.entries(m.calls)) {
        expect(call.args, `${spec.name}.${name}`).toEqual(spec.calls[name]!.args);
        expect(call.summary).toBe(spec.calls[name]!.summary);
      }
      expect(Object.keys(m.views ?? {}), spec.name).toEqual(Object.keys(spec.views));
      for (const [name, view] of Object.entries(m.views ?? {})) {
        expect(view.params, `${spec.name}_${name}`).toEqual(spec.views[name]!.params);
        expect(view.summary).toBe(spec.views[name]!.summary);
      }
    }
  });
});
