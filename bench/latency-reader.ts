import '../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Kafka, logLevel } from 'kafkajs';
import type { Histogram } from 'hdr-histogram-js';
import { nowUs } from './clock.js';
import { startThread } from './thread.js';
import { encodeHistogram, newLatencyHistogram } from './histogram.js';
import type { ReaderFeed } from './load-generator.js';

/**
 * Reads the output topic on its own thread and records, per step, latency = time the output is
 * read back − the event's scheduled send time (from the generator's feed, by source partition
 * and offset), in microseconds in an HDR histogram. Each input offset counts once: duplicates
 * (possible at-least-once) are counted, not recorded again.
 */

export interface ReaderInit {
  role: 'reader';
  brokers: string[];
  topic: string;
  groupId: string;
  feedPort: MessagePort;
}

export interface ReaderStats {
  t: 'stats';
  /** Outputs read (first copies). */
  read: number;
  duplicates: number;
  /** Events whose scheduled time the generator has reported. */
  mapped: number;
  /** Per open step: events of its measured window read back so far. */
  completed: Record<number, number>;
}

export interface StepLatency {
  t: 'result';
  step: number;
  /** Latency histogram (µs) of the window's events, unfinished ones included at the cut-off. */
  histogram: string;
  /** Events of the window read back. */
  completed: number;
  /** Events of the window not read back by the cut-off (recorded at cut-off − scheduled time). */
  unfinished: number;
  /** Outputs (of any event) read during the window: the achieved throughput. */
  readInWindow: number;
  fallbacks: number;
}

type ReaderMsg = ReaderStats | StepLatency | { t: 'ready' } | { t: 'error'; message: string };

// ---------------------------------------------------------------- main-thread side

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export class LatencyReader {
  private readonly worker: import('node:worker_threads').Worker;
  private readonly pending: ((m: ReaderMsg) => void)[] = [];
  private failure: Error | null = null;
  readonly ready: Promise<void>;

  constructor(init: Omit<ReaderInit, 'role'>) {
    this.worker = startThread(new URL(`./latency-reader${ext}`, import.meta.url), { ...init, role: 'reader' }, [init.feedPort]);
    let readyResolve!: () => void;
    let readyReject!: (err: Error) => void;
    this.ready = new Promise((res, rej) => ((readyResolve = res), (readyReject = rej)));
    this.ready.catch(() => {});
    this.worker.on('message', (m: ReaderMsg) => {
      if (m.t === 'ready') readyResolve();
      else if (m.t === 'error') {
        this.failure = new Error(`latency reader: ${m.message}`);
        readyReject(this.failure);
      } else this.pending.shift()?.(m);
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      readyReject(err);
    });
  }

  get error(): Error | null {
    return this.failure;
  }

  private ask<T extends ReaderMsg>(msg: unknown): Promise<T> {
    return new Promise((resolve) => {
      this.pending.push((m) => resolve(m as T));
      this.worker.postMessage(msg);
    });
  }

  stats(): Promise<ReaderStats> {
    return this.ask<ReaderStats>({ t: 'stats' });
  }

  /** Closes a step's window: whatever of it is still missing is recorded at `cutoffUs`. */
  finish(step: number, cutoffUs: number): Promise<StepLatency> {
    return this.ask<StepLatency>({ t: 'finish', step, cutoffUs });
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

// ---------------------------------------------------------------- reader thread

interface Window {
  step: number;
  startUs: number;
  endUs: number;
  hist: Histogram;
  completed: number;
  readInWindow: number;
  fallbacks: number;
}

/** Per input partition: scheduled time and seen flag by offset (fresh topics start at 0). */
class PartitionLog {
  sched = new Float64Array(1024).fill(NaN);
  seen = new Uint8Array(1024);
  fallback = new Uint8Array(1024);
  readAt = new Float64Array(1024);
  high = -1;

  ensure(offset: number): void {
    if (offset < this.sched.length) return;
    let n = this.sched.length;
    while (n <= offset) n *= 2;
    const s = new Float64Array(n).fill(NaN);
    s.set(this.sched);
    this.sched = s;
    const seen = new Uint8Array(n);
    seen.set(this.seen);
    this.seen = seen;
    const fb = new Uint8Array(n);
    fb.set(this.fallback);
    this.fallback = fb;
    const ra = new Float64Array(n);
    ra.set(this.readAt);
    this.readAt = ra;
  }
}

async function runThread(init: ReaderInit): Promise<void> {
  const port = parentPort!;
  const logs: PartitionLog[] = [];
  const logOf = (p: number): PartitionLog => (logs[p] ??= new PartitionLog());
  const windows: Window[] = [];
  let read = 0;
  let duplicates = 0;
  let mapped = 0;

  const record = (sched: number, readUs: number, fallback: boolean): void => {
    for (const w of windows) {
      if (sched >= w.startUs && sched < w.endUs) {
        w.hist.recordValue(Math.max(1, Math.round(readUs - sched)));
        w.completed++;
        if (fallback) w.fallbacks++;
      }
    }
  };

  init.feedPort.on('message', (m: ReaderFeed) => {
    if (m.t === 'window') {
      windows.push({ step: m.step, startUs: m.startUs, endUs: m.endUs, hist: newLatencyHistogram(), completed: 0, readInWindow: 0, fallbacks: 0 });
      return;
    }
    const log = logOf(m.partition);
    const last = m.baseOffset + m.sched.length - 1;
    log.ensure(last);
    for (let i = 0; i < m.sched.length; i++) {
      const o = m.baseOffset + i;
      log.sched[o] = m.sched[i];
      // Read back before its mapping arrived: record it now.
      if (log.seen[o]) record(m.sched[i], log.readAt[o], log.fallback[o] === 1);
    }
    if (last > log.high) log.high = last;
    mapped += m.sched.length;
  });

  const kafka = new Kafka({ clientId: 'bench-reader', brokers: init.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: init.groupId, maxWaitTimeInMs: 100, sessionTimeout: 30000, heartbeatInterval: 3000 });
  const FALLBACK = Buffer.from('"fallback":true');
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    if (!joined) port.postMessage({ t: 'ready' });
    joined = true;
  });
  port.on('message', (m: { t: 'stats' } | { t: 'finish'; step: number; cutoffUs: number } | { t: 'close' }) => {
    if (m.t === 'stats') {
      const completed: Record<number, number> = {};
      for (const w of windows) completed[w.step] = w.completed;
      port.postMessage({ t: 'stats', read, duplicates, mapped, completed } satisfies ReaderStats);
    } else if (m.t === 'finish') {
      const i = windows.findIndex((w) => w.step === m.step);
      const w = windows[i];
      if (!w) {
        port.postMessage({ t: 'result', step: m.step, histogram: encodeHistogram(newLatencyHistogram()), completed: 0, unfinished: 0, readInWindow: 0, fallbacks: 0 } satisfies StepLatency);
        return;
      }
      windows.splice(i, 1);
      let unfinished = 0;
      for (const log of logs) {
        if (!log) continue;
        for (let o = 0; o <= log.high; o++) {
          const s = log.sched[o];
          if (!log.seen[o] && s >= w.startUs && s < w.endUs) {
            w.hist.recordValue(Math.max(1, Math.round(m.cutoffUs - s)));
            unfinished++;
          }
        }
      }
      port.postMessage({ t: 'result', step: w.step, histogram: encodeHistogram(w.hist), completed: w.completed, unfinished, readInWindow: w.readInWindow, fallbacks: w.fallbacks } satisfies StepLatency);
    } else if (m.t === 'close') {
      void consumer.disconnect().finally(() => process.exit(0));
    }
  });

  await consumer.connect();
  await consumer.subscribe({ topic: init.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: true,
    partitionsConsumedConcurrently: 4,
    eachBatch: async ({ batch }) => {
      const readUs = nowUs();
      let inWindow: Window | undefined;
      for (const w of windows) if (readUs >= w.startUs && readUs < w.endUs) inWindow = w;
      for (const msg of batch.messages) {
        // The input's position, from the output's value.source (this thread has the CPU to parse it).
        let src: { partition?: unknown; offset?: unknown } | undefined;
        try {
          src = JSON.parse(msg.value?.toString() ?? 'null')?.source;
        } catch {
          src = undefined;
        }
        if (src?.partition === undefined || src?.offset === undefined) continue;
        const p = Number(src.partition);
        const o = Number(src.offset);
        const log = logOf(p);
        log.ensure(o);
        if (log.seen[o]) {
          duplicates++;
          continue;
        }
        log.seen[o] = 1;
        read++;
        if (inWindow) inWindow.readInWindow++;
        const fallback = msg.value !== null && msg.value.includes(FALLBACK);
        const sched = log.sched[o];
        if (Number.isNaN(sched)) {
          log.readAt[o] = readUs;
          log.fallback[o] = fallback ? 1 : 0;
        } else record(sched, readUs, fallback);
      }
    },
  });


}

if (!isMainThread && (workerData as { role?: string } | null)?.role === 'reader') {
  runThread(workerData as ReaderInit).catch((err: Error) => parentPort!.postMessage({ t: 'error', message: err.message }));
}
