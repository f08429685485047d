// Fetch sizing that follows the arrival rate (the policy: fetch-sizing.ts). kafkajs takes
// minBytes/maxWaitTime once, at consumer construction, and sends the same pair with every fetch.
//
// kafkajs has no API for this; its ConsumerGroup reads this.minBytes / this.maxWaitTime on every
// fetch (consumerGroup.js, fetch(nodeId)), so the patch sets them before each fetch. It patches
// the class prototype (works whenever loaded) and acts only for group ids registered here: other
// kafkajs consumers in the process (test audits, the bench) keep their own settings.
import './kafkajs-read-committed.js'; // its patches must be in place before kafkajs's consumer modules load (below)
import { createRequire } from 'node:module';
import { FetchSizing, type FetchPolicy } from './fetch-sizing.js';

export type AdaptiveFetch = FetchPolicy;

interface BatchLike {
  isEmpty(): boolean;
  messages: { value: Buffer | null }[];
}
interface ConsumerGroupLike {
  groupId: string;
  minBytes: number;
  maxWaitTime: number;
  fetch(nodeId: number): Promise<BatchLike[]>;
  [SIZING]?: FetchSizing;
}

const SIZING = Symbol('scorestream.adaptiveFetch.sizing');
const PATCHED = Symbol.for('scorestream.kafkajs.adaptiveFetch');
const policies = new Map<string, AdaptiveFetch>();
/** Sources per group id (in-process tests run several members of one group). */
const users = new Map<string, number>();

export function registerAdaptiveFetch(groupId: string, policy: AdaptiveFetch): void {
  policies.set(groupId, policy);
  users.set(groupId, (users.get(groupId) ?? 0) + 1);
}

export function unregisterAdaptiveFetch(groupId: string): void {
  const n = (users.get(groupId) ?? 1) - 1;
  if (n > 0) return void users.set(groupId, n);
  users.delete(groupId);
  policies.delete(groupId);
}

const require = createRequire(import.meta.url);
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as { prototype: ConsumerGroupLike & Record<symbol, unknown> };
const proto = ConsumerGroup.prototype;

if (!proto[PATCHED]) {
  const original = proto.fetch;
  proto[PATCHED] = true;
  proto.fetch = async function fetch(this: ConsumerGroupLike, nodeId: number): Promise<BatchLike[]> {
    const policy = policies.size ? policies.get(this.groupId) : undefined;
    if (!policy) return original.call(this, nodeId);
    const sizing = (this[SIZING] ??= new FetchSizing(policy, performance.now()));
    const { minBytes, maxWaitMs } = sizing.next();
    this.minBytes = minBytes;
    // With no fetchable partition kafkajs sleeps maxWaitTime instead of fetching; that stays the
    // busy wait (idle is entered only after the broker itself returned nothing).
    this.maxWaitTime = maxWaitMs;
    const batches = await original.call(this, nodeId);
    // An empty array: no request was made (all paused, or an error recovered): keep the mode.
    if (batches.length > 0) {
      let records = 0;
      let bytes = 0;
      for (const b of batches) {
        if (b.isEmpty()) continue;
        const ms = b.messages;
        records += ms.length;
        for (let i = 0; i < ms.length; i++) bytes += ms[i].value?.length ?? 0;
      }
      sizing.fetched(records, bytes, performance.now());
    }
    return batches;
  };
}
