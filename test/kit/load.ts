// Open-loop load for the fault suite: events are produced on a fixed schedule whether or not the
// engine keeps up (a crashed engine does not slow its input down), in small chunks every 10 ms.
import type { Kafka, Message, Producer } from 'kafkajs';
import { goodEvent } from './events.js';

export interface LoadOptions {
  kafka: Kafka;
  topic: string;
  /** Events per second. */
  rate: number;
  total: number;
  /** Message number i (default goodEvent). */
  message?: (i: number) => Message;
}

export interface Load {
  /** Resolves when all `total` messages were acknowledged by the broker. */
  done: Promise<void>;
  /** Messages acknowledged so far. */
  readonly acked: number;
  /** Failed sends (their messages were sent again). */
  readonly failedSends: number;
  /** Wall time from start to the last scheduled message (the achieved open-loop rate is total / this). */
  readonly scheduleMs: number;
  stop(): Promise<void>;
}

export async function startLoad(o: LoadOptions): Promise<Load> {
  const make = o.message ?? ((i: number) => goodEvent(i));
  const producer: Producer = o.kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } });
  await producer.connect();
  const started = Date.now();
  let scheduled = 0;
  let acked = 0;
  let failedSends = 0;
  let scheduleMs = 0;
  let stopped = false;
  const retry: Message[][] = [];
  const inFlight = new Set<Promise<void>>();
  let resolveDone!: () => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => ((resolveDone = res), (rejectDone = rej)));
  done.catch(() => {});

  const send = (messages: Message[]) => {
    const p = producer
      .send({ topic: o.topic, acks: -1, messages })
      .then(
        () => {
          acked += messages.length;
          if (acked >= o.total) resolveDone();
        },
        () => {
          // Broker away: send these again on a later tick (open loop: new messages keep coming).
          failedSends++;
          retry.push(messages);
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  const timer = setInterval(() => {
    if (stopped) return;
    while (retry.length && inFlight.size < 20) send(retry.shift()!);
    const target = Math.min(o.total, Math.floor(((Date.now() - started) * o.rate) / 1000));
    if (target > scheduled) {
      const msgs: Message[] = [];
      for (let i = scheduled; i < target; i++) msgs.push(make(i));
      scheduled = target;
      if (scheduled === o.total) scheduleMs = Date.now() - started;
      send(msgs);
    }
  }, 10);

  const stop = async () => {
    stopped = true;
    clearInterval(timer);
    await Promise.allSettled([...inFlight]);
    await producer.disconnect().catch(() => {});
  };
  void done.then(() => stop(), () => stop());
  return {
    done,
    get acked() {
      return acked;
    },
    get failedSends() {
      return failedSends;
    },
    get scheduleMs() {
      return scheduleMs;
    },
    stop: async () => {
      rejectDone(new Error('load stopped'));
      await stop();
    },
  };
}
