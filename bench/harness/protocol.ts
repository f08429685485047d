/** Messages between the bench and its load harness process (over the child-process IPC channel). */

export interface HarnessInit {
  brokers: string[];
  inputTopic: string;
  /** Topic the reader reads: the target's output (or the input itself for a calibration run). */
  readTopic: string;
  groupId: string;
  partitions: number;
  users: number;
  seed: number;
  /** Shortest time between two wake-ups of the generator (each sends one produce request). */
  tickMs: number;
  /** The reader's fetch max wait (min bytes is 1: a fetch returns as soon as data arrives). */
  fetchWaitMs: number;
  /** false: produce only (backlogs for drain measurements), no reader. */
  read: boolean;
  /** Kafka client of the harness. */
  client: 'wire' | 'platformatic' | 'kafkajs';
}

export type ToHarness =
  | { t: 'step'; step: number; rate: number; warmupMs: number; durationMs: number }
  | { t: 'backlog'; count: number }
  | { t: 'stats' }
  | { t: 'finish'; step: number }
  | { t: 'close' };

export interface StepSent {
  t: 'sent';
  step: number;
  /** Events scheduled in the measured window and sent (however late); failed sends excluded. */
  measured: number;
  sent: number;
  sendErrors: number;
  /** Produce requests made for the step (one per tick at most). */
  requests: number;
  /** Time from an event's scheduled instant to its hand-over to the Kafka client (measured window). */
  sendLagHistogram: string;
}

export interface HarnessStats {
  t: 'stats';
  /** Outputs read (first copies). */
  read: number;
  duplicates: number;
  /** Events produced and acknowledged. */
  acked: number;
  /** Per open step: events of its measured window read back so far. */
  completed: Record<number, number>;
}

export interface StepLatency {
  t: 'result';
  step: number;
  /** Latency histogram (µs) of the window's events, unfinished ones included at the cut-off. */
  histogram: string;
  completed: number;
  /** Events of the window not read back by the cut-off (recorded at cut-off − scheduled time). */
  unfinished: number;
  /** Outputs (of any event) read during the window: the achieved throughput. */
  readInWindow: number;
  fallbacks: number;
}

export interface BacklogDone {
  t: 'backlog-done';
  sent: number;
  sendErrors: number;
  ms: number;
}

/** The measured window of a step opens or closes now (the bench reads CPU counters at these instants). */
export interface WindowEdge {
  t: 'edge';
  step: number;
  edge: 'start' | 'end';
}

export type FromHarness = WindowEdge | { t: 'ready' } | { t: 'error'; message: string } | StepSent | HarnessStats | StepLatency | BacklogDone;
