import type { PelNode } from '../../node.js';
import { blockEvents, eventMatcher, EVENTS_MAX_LIMIT, queryEvents } from '../../events.js';
import { RpcError } from '../errors.js';
import { heightType, intType, methodsOf, optional, optionsType, stringType, type RpcMethod } from '../params.js';

const method = methodsOf<PelNode>();

/** What selects an event (docs/EVENTS.md): all given fields must hold. */
const filterFields = { module: stringType(32), name: stringType(64), field: stringType(64), value: stringType(256) };
const queryType = optionsType({ ...filterFields, fromHeight: heightType, toHeight: heightType, limit: intType(1, EVENTS_MAX_LIMIT), cursor: stringType(64) });
const filterType = optionsType(filterFields);

export const eventMethods: Record<string, RpcMethod<PelNode>> = {
  /**
   * [filter?] -> {events, cursor, fromHeight, toHeight, scannedTo}: committed events in chain
   * order, at most `limit` (default 100, at most 1000); `cursor` non-null means more may follow.
   */
  events_query: method([optional('filter', queryType)], ([q = {}], node) => queryEvents(node, q)),

  /**
   * WebSocket only. [filter?] -> subscription id; pushes {blockHeight, blockHash, events} for
   * every committed block with at least one matching event.
   */
  events_subscribe: method(
    [optional('filter', filterType)],
    ([f = {}], node, ctx) => {
      if (!ctx.subscribe) throw RpcError.of('NOT_AVAILABLE', 'subscriptions need a WebSocket connection (ws://host:port)');
      const match = eventMatcher(f);
      return ctx.subscribe((push) =>
        node.onBlock((b) => {
          const events = blockEvents(b, match);
          if (events.length > 0) push({ blockHeight: Number(b.block.header.height), blockHash: events[0]!.blockHash, events });
        }),
      );
    },
    { transport: 'ws' },
  ),
};
