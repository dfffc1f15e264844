/**
 * Mesh catch-up: when a peer joins one of our topic meshes, we announce to it (IHAVE) the
 * messages of that topic we accepted or published in the last `mcacheGossip` heartbeats (3,
 * about 2.1 s at pel's 700 ms), and it asks (IWANT) for the ones it has not seen.
 *
 * Why. gossipsub (17.x, gossipsub.js) has two ways to hand a peer a message, and a peer that
 * joins the mesh late falls between them:
 *   - forwardMessage → selectPeersToForward: a relayed message goes to the topic's mesh peers
 *     at the moment it is accepted, nobody else (a node's own publish is flooded to every
 *     known subscriber, but that also misses a peer whose subscription has not arrived yet);
 *   - heartbeat → emitGossip: IHAVE goes only to subscribed peers *outside* the mesh, and
 *     graftPeer removes a peer it grafts from that list ("when we add a new mesh peer, we
 *     don't want to gossip messages to it"); handleGraft, for a GRAFT the peer sent, sends
 *     nothing at all.
 * So a message that passes while a subscribed peer is not yet in our mesh is lost for good if
 * the peer enters the mesh before our next heartbeat gossips to it. That window opens on every
 * new connection: the listening side receives the dialer's subscription before it has its own
 * outbound stream to the dialer, so graftOnSubscribe declines, and the dialer enters the
 * listener's mesh only when its GRAFT arrives. A relay that accepts a message in between never
 * forwards it (seen in test/unit/p2p/libp2p.test.ts, the A - B - C line, under CPU load:
 * B got the message with mesh [A], C's GRAFT landed 1 to 20 ms later, C never got it).
 *
 * Announcing on every graft closes it: a message accepted before the peer joined is
 * announced now, one accepted after is forwarded to it as a mesh peer. The peer's seen cache
 * filters what it already has, so the cost is one IHAVE (32 bytes per id) per graft.
 *
 * This reaches into gossipsub internals its public interface does not declare (the message
 * cache and sendRpc); `meshCatchUpInternals` checks they are there when the node is built.
 */
import type { GossipSub, MeshPeer } from '@libp2p/gossipsub';
import type { RPC } from '@libp2p/gossipsub/message';
import type { Logger } from '../protocol/logger.js';
import { MAX_GOSSIP_MESSAGE_BYTES } from './types.js';

/** The gossipsub members mesh catch-up uses (GossipSub 17.x). */
export interface MeshCatchUpInternals {
  getMeshPeers(topic: string): string[];
  sendRpc(peerId: string, rpc: RPC): boolean;
  readonly mcache: {
    /** Ids of validated messages of the last mcacheGossip heartbeats, newest window first. */
    getGossipIDs(topics: Set<string>): Map<string, Uint8Array[]>;
    get(msgId: Uint8Array): { data?: Uint8Array } | undefined;
  };
}

/**
 * The peer answers each IHAVE with one IWANT, and we answer each IWANT with one RPC carrying
 * every message asked for, which must fit one 4 MiB frame: so the ids are split into
 * announcements of at most this many message bytes.
 */
export const CATCH_UP_ANNOUNCEMENT_BYTES = MAX_GOSSIP_MESSAGE_BYTES;
/** Room per message for its envelope in the answering RPC (topic, field tags, lengths). */
const MESSAGE_ENVELOPE_BYTES = 64;
/**
 * A peer heeds at most 10 IHAVEs from us per heartbeat, and answers at most 10 IWANTs; a
 * graft can cover all 3 topics at once, so 3 announcements per topic stay within both.
 */
export const MAX_CATCH_UP_ANNOUNCEMENTS = 3;
/** A peer asks for at most 5000 ids per heartbeat from one peer; 3 topics × 1500 stay below. */
export const MAX_CATCH_UP_IDS = 1_500;

/** Returns gossipsub's internals, or throws saying which are missing (a gossipsub upgrade). */
export function meshCatchUpInternals(pubsub: GossipSub): MeshCatchUpInternals {
  const p = pubsub as unknown as Partial<MeshCatchUpInternals>;
  const missing: string[] = [];
  if (typeof p.getMeshPeers !== 'function') missing.push('getMeshPeers');
  if (typeof p.sendRpc !== 'function') missing.push('sendRpc');
  if (typeof p.mcache?.getGossipIDs !== 'function' || typeof p.mcache?.get !== 'function') missing.push('mcache.getGossipIDs/get');
  if (missing.length > 0) throw new Error(`@libp2p/gossipsub lacks ${missing.join(', ')}, which mesh catch-up needs (written against 17.1)`);
  return p as MeshCatchUpInternals;
}

/**
 * Splits `ids` (newest first) into at most `maxAnnouncements` groups of at most `maxIds` ids
 * in all, each group's messages totalling at most `budget` bytes (a single larger message gets
 * a group of its own). What does not fit is left out, oldest first.
 */
export function catchUpAnnouncements(
  ids: readonly Uint8Array[],
  sizeOf: (id: Uint8Array) => number,
  budget: number = CATCH_UP_ANNOUNCEMENT_BYTES,
  maxAnnouncements: number = MAX_CATCH_UP_ANNOUNCEMENTS,
  maxIds: number = MAX_CATCH_UP_IDS,
): Uint8Array[][] {
  const groups: Uint8Array[][] = [];
  let current: Uint8Array[] = [];
  let bytes = 0;
  for (const id of ids.slice(0, maxIds)) {
    const size = sizeOf(id) + MESSAGE_ENVELOPE_BYTES;
    if (current.length > 0 && bytes + size > budget) {
      groups.push(current);
      if (groups.length === maxAnnouncements) return groups;
      current = [];
      bytes = 0;
    }
    current.push(id);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/**
 * Listens for grafts on `pubsub` and announces recent messages to each peer that joined a
 * mesh. Returns the function that stops it.
 */
export function startMeshCatchUp(pubsub: GossipSub, internals: MeshCatchUpInternals, log: Logger): () => void {
  const onGraft = (evt: CustomEvent<MeshPeer>): void => {
    const { peerId, topic } = evt.detail;
    // A listener that throws would surface as an uncaught exception from inside gossipsub.
    try {
      // The event also fires for a GRAFT we refused (backoff, negative score): no mesh, no catch-up.
      if (!internals.getMeshPeers(topic).includes(peerId)) return;
      const ids = internals.mcache.getGossipIDs(new Set([topic])).get(topic) ?? [];
      if (ids.length === 0) return;
      const announcements = catchUpAnnouncements(ids, (id) => internals.mcache.get(id)?.data?.length ?? 0);
      let sent = 0;
      for (const messageIDs of announcements) {
        const rpc: RPC = { subscriptions: [], messages: [], control: { ihave: [{ topicID: topic, messageIDs }], iwant: [], graft: [], prune: [], idontwant: [] } };
        if (internals.sendRpc(peerId, rpc)) sent += messageIDs.length;
      }
      log.debug('mesh catch-up: announced recent messages to a new mesh peer', { peer: peerId, topic, direction: evt.detail.direction, recent: ids.length, announced: sent });
    } catch (err) {
      log.error('mesh catch-up failed; the peer gets only messages from now on', { peer: peerId, topic, error: err instanceof Error ? err.message : String(err) });
    }
  };
  pubsub.addEventListener('gossipsub:graft', onGraft);
  return () => pubsub.removeEventListener('gossipsub:graft', onGraft);
}
