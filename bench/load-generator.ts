import '../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Kafka, Partitioners, logLevel, type Message, type PartitionMetadata } from 'kafkajs';
import { mulberry32, zipfRank } from '../src/source/generator-source.js';
import { nowUs } from './clock.js';
import { startThread } from './thread.js';
import { encodeHistogram, newLatencyHistogram } from './histogram.js';

/**
 * Open-loop load: events are scheduled at fixed intervals (1/rate) on the generator's own clock
 * and sent when due, never waiting for replies, so a stalled engine cannot slow the schedule and
 * hide its stall (no coordinated omission). Runs on its own thread. For every send it tells the
 * latency reader each event's scheduled time by (partition, offset), which the engine's output
 * carries back in its value's source.partition / source.offset.
 */

export interface GeneratorInit {
  role: 'generator';
  brokers: string[];
  topic: string;
  partitions: number;
  /** Distinct users; activity is Zipf-skewed (s = 1.2). */
  users: number;
  seed: number;
  /** Port to the latency reader. */
  readerPort: MessagePort;
}

export interface StepRequest {
  t: 'step';
  step: number;
  rate: number;
  warmupMs: number;
  durationMs: number;
}

export interface StepSent {
  t: 'sent';
  step: number;
  /** Events scheduled in the measured window and sent (however late); failed sends excluded. */
  measured: number;
  sent: number;
  sendErrors: number;
  /** Time from an event's scheduled instant to its hand-over to the Kafka client (measured window). */
  sendLagHistogram: string;
}

/** Generator → reader. */
export type ReaderFeed =
  | { t: 'window'; step: number; startUs: number; endUs: number }
  | { t: 'map'; partition: number; baseOffset: number; sched: Float64Array };


const CATEGORIES = ['electronics', 'books', 'fashion', 'home', 'sports', 'beauty', 'toys', 'grocery'];
/** Sends running at once; events due meanwhile wait and go in the next (bigger) send. */
const MAX_SENDS_IN_FLIGHT = 4;
const MAX_SEND = 4000;

// ---------------------------------------------------------------- main-thread side

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export class LoadGenerator {
  private readonly worker: import('node:worker_threads').Worker;
  private readonly waiting = new Map<number, (r: StepSent) => void>();
  private failure: Error | null = null;
  /** Resolves once the producer is connected. */
  readonly ready: Promise<void>;

  constructor(init: Omit<GeneratorInit, 'role'>) {
    this.worker = startThread(new URL(`./load-generator${ext}`, import.meta.url), { ...init, role: 'generator' }, [init.readerPort]);
    let readyResolve!: () => void;
    let readyReject!: (err: Error) => void;
    this.ready = new Promise((res, rej) => ((readyResolve = res), (readyReject = rej)));
    this.ready.catch(() => {});
    this.worker.on('message', (m: StepSent | { t: 'ready' } | { t: 'error'; message: string }) => {
      if (m.t === 'sent') this.waiting.get(m.step)?.(m);
      else if (m.t === 'ready') readyResolve();
      else if (m.t === 'error') {
        this.failure = new Error(`load generator: ${m.message}`);
        readyReject(this.failure);
      }
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      readyReject(err);
    });
  }

  get error(): Error | null {
    return this.failure;
  }

  /** Runs one step; resolves once every event of it has been handed to Kafka and acknowledged. */
  run(req: Omit<StepRequest, 't'>): Promise<StepSent> {
    return new Promise((resolve) => {
      this.waiting.set(req.step, (r) => {
        this.waiting.delete(req.step);
        resolve(r);
      });
      this.worker.postMessage({ t: 'step', ...req } satisfies StepRequest);
    });
  }

  async close(): Promise<void> {
    this.worker.postMessage({ t: 'close' });
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => void this.worker.terminate().then(() => resolve()), 5000);
      this.worker.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

// ---------------------------------------------------------------- generator thread

async function runThread(init: GeneratorInit): Promise<void> {
  const port = parentPort!;
  const reader = init.readerPort;
  const kafka = new Kafka({ clientId: 'bench-generator', brokers: init.brokers, logLevel: logLevel.NOTHING });
  // Plain (non-idempotent) producer as a client application would have; several sends in flight.
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();

  // Key → partition exactly as kafkajs's default (Java-compatible murmur2) partitioner does it.
  const partitioner = Partitioners.DefaultPartitioner();
  const meta = Array.from({ length: init.partitions }, (_, i) => ({ partitionId: i, leader: 0 }) as PartitionMetadata);
  const userIds: string[] = new Array(init.users);
  const userPartition = new Int32Array(init.users).fill(-1);
  const rand = mulberry32(init.seed);
  const epochOffsetMs = Date.now() - nowUs() / 1000;

  const partitionOf = (rank: number): number => {
    if (userPartition[rank] < 0) {
      userIds[rank] = `u${rank}`;
      userPartition[rank] = partitioner({ topic: init.topic, partitionMetadata: meta, message: { key: userIds[rank], value: null } });
    }
    return userPartition[rank];
  };

  async function runStep(req: StepRequest): Promise<void> {
    const intervalUs = 1e6 / req.rate;
    const t0 = nowUs() + 20_000;
    const startUs = t0 + req.warmupMs * 1000;
    const endUs = startUs + req.durationMs * 1000;
    const total = Math.floor(((endUs - t0) * req.rate) / 1e6);
    reader.postMessage({ t: 'window', step: req.step, startUs, endUs } satisfies ReaderFeed);
    const lag = newLatencyHistogram();
    let next = 0;
    let inFlight = 0;
    let sendErrors = 0;
    let measured = 0;
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));

    const send = (from: number, to: number): void => {
      const now = nowUs();
      const msgs: Message[] = new Array(to - from);
      const schedByPart: number[][] = Array.from({ length: init.partitions }, () => []);
      let measuredHere = 0;
      for (let i = from; i < to; i++) {
        const sched = t0 + i * intervalUs;
        const rank = zipfRank(rand(), init.users);
        const partition = partitionOf(rank);
        const r = rand();
        const type = r < 0.85 ? 'view' : r < 0.97 ? 'add_to_cart' : 'purchase';
        const user = userIds[rank];
        msgs[i - from] = {
          key: user,
          partition,
          value: `{"user_id":"${user}","product_id":"p_${Math.floor(rand() * 5000)}","category":"${CATEGORIES[Math.floor(rand() * 8)]}","event_type":"${type}","timestamp_ms":${Math.floor(epochOffsetMs + sched / 1000)}}`,
        };
        schedByPart[partition].push(sched);
        if (sched >= startUs && sched < endUs) {
          measuredHere++;
          lag.recordValue(Math.max(1, Math.round(now - sched)));
        }
      }
      measured += measuredHere;
      inFlight++;
      producer
        .send({ topic: init.topic, messages: msgs, acks: -1 })
        .then(
          (res) => {
            for (const r of res) {
              const sched = Float64Array.from(schedByPart[r.partition]);
              reader.postMessage({ t: 'map', partition: r.partition, baseOffset: Number(r.baseOffset), sched } satisfies ReaderFeed, [sched.buffer]);
            }
          },
          () => {
            // Never sent: neither expected back nor counted as the engine's loss.
            sendErrors += to - from;
            measured -= measuredHere;
          },
        )
        .finally(() => {
          inFlight--;
          if (next >= total && inFlight === 0) finish();
          else if (waitingForSlot) {
            waitingForSlot = false;
            tick();
          }
        });
    };

    // Blocked on MAX_SENDS_IN_FLIGHT: the next send completion resumes the schedule.
    let waitingForSlot = false;
    const tick = (): void => {
      const due = Math.min(total, Math.floor((nowUs() - t0) / intervalUs) + 1);
      while (next < due && inFlight < MAX_SENDS_IN_FLIGHT) {
        const to = Math.min(due, next + MAX_SEND);
        const from = next;
        next = to;
        send(from, to);
      }
      if (next >= total) {
        if (inFlight === 0) finish();
        return;
      }
      if (next < due) {
        waitingForSlot = true;
        return;
      }
      // Sleep until the next event is due. Timers have ~1 ms granularity: an event may leave up
      // to about a millisecond late, which its latency includes (sending early would hide it).
      // Spinning on setImmediate instead would burn a core the engine needs.
      const waitMs = (t0 + next * intervalUs - nowUs()) / 1000;
      setTimeout(tick, Math.min(Math.max(waitMs, 1), 20));
    };
    const startIn = Math.max(0, (t0 - nowUs()) / 1000);
    setTimeout(tick, startIn);
    await done;
    port.postMessage({ t: 'sent', step: req.step, measured, sent: total, sendErrors, sendLagHistogram: encodeHistogram(lag) } satisfies StepSent);
  }

  let queue = Promise.resolve();
  port.on('message', (m: StepRequest | { t: 'close' }) => {
    if (m.t === 'step') {
      queue = queue.then(() => runStep(m)).catch((err: Error) => port.postMessage({ t: 'error', message: err.message }));
    } else if (m.t === 'close') {
      void queue.then(async () => {
        await producer.disconnect().catch(() => {});
        reader.close();
        process.exit(0);
      });
    }
  });
  port.postMessage({ t: 'ready' });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === 'generator') {
  runThread(workerData as GeneratorInit).catch((err: Error) => {
    parentPort!.postMessage({ t: 'error', message: err.message });
  });
}
