/**
 * Calls and views declared once: a module lists each call's arguments (name and type, in
 * wire order) and its `run` receives them decoded into an object keyed by those names, typed
 * from the declaration. The executor has checked the values against the declared types
 * before `run` (execution/vm.ts checkArgs), and the JSON-RPC layer has parsed a view's params
 * by their declared types, so nothing here re-checks. Events are built by one helper per
 * module, fields in the order written.
 */
import type { Event } from '../protocol/receipt.js';
import type { Value, ValueType } from '../protocol/value.js';
import type { CallContext, CallSpec, StateReaderView, StateView, ViewParamType, ViewSpec } from './types.js';

/** A declared argument: its name and wire type. */
export type ArgDecl = readonly [name: string, type: ValueType];
/** The JavaScript type a wire value of type `T` decodes to. */
export type ValueOf<T extends ValueType> = Extract<Value, { type: T }>['value'];
/** A call's arguments by their declared names. */
export type NamedArgs<D extends readonly ArgDecl[]> = { readonly [E in D[number] as E[0]]: ValueOf<E[1]> };

/** A declared view parameter: its name and JSON-RPC type. */
export type ParamDecl = readonly [name: string, type: ViewParamType];
type ParamValue<T extends ViewParamType> = T extends 'address' | 'id' ? Uint8Array : T extends 'u64' | 'u128' ? bigint : string;
/** A view's parameters by their declared names. */
export type NamedParams<D extends readonly ParamDecl[]> = { readonly [E in D[number] as E[0]]: ParamValue<E[1]> };

function byName<T>(names: readonly string[], values: readonly T[], pick: (x: T) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < names.length; i++) out[names[i]!] = pick(values[i]!);
  return out;
}

const valueOf = (x: Value): unknown => x.value;
const itself = (x: unknown): unknown => x;

/** A call whose `run` takes its arguments by name (see the file comment). */
export function defineCall<const D extends readonly ArgDecl[]>(spec: {
  readonly args: D;
  readonly summary: string;
  run(view: StateView, ctx: CallContext, args: NamedArgs<D>): void;
}): CallSpec {
  const names = spec.args.map(([n]) => n);
  return {
    args: spec.args,
    summary: spec.summary,
    run: (view, ctx, values) => spec.run(view, ctx, byName(names, values, valueOf) as NamedArgs<D>),
  };
}

/** A view whose `run` takes its parameters by name. */
export function defineView<const D extends readonly ParamDecl[]>(spec: {
  readonly params: D;
  readonly summary: string;
  run(state: StateReaderView, params: NamedParams<D>, ctx: { height: bigint }): unknown;
}): ViewSpec {
  const names = spec.params.map(([n]) => n);
  return {
    params: spec.params,
    summary: spec.summary,
    run: (state, values, ctx) => spec.run(state, byName(names, values, itself) as NamedParams<D>, ctx),
  };
}

/** An event with fields in the given (insertion) order. */
export function makeEvent(module: string, name: string, fields: Record<string, Value>): Event {
  return { module, name, fields: Object.entries(fields).map(([n, value]) => ({ name: n, value })) };
}

/** The event builder of one module: `event('transfer', { from: v.address(a), ... })`. */
export function eventsOf(module: string): (name: string, fields: Record<string, Value>) => Event {
  return (name, fields) => makeEvent(module, name, fields);
}
