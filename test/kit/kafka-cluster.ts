// A throwaway 3-node Kafka cluster (KRaft, every node broker + controller) for tests of what a
// real deployment does to the engine: a rolling restart moves partition leaders, the group
// coordinator and the transaction coordinator. Same pieces as kafka-broker.ts (the jars in
// .cache/kafka-libs/, infra/kafka/server.properties as template), one temp dir per node, all
// formatted with one cluster id; internal topics and test topics replicated 3 times with
// min.insync.replicas=2, so one node down at a time loses nothing acknowledged.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from './engine-process.js';
import { JVM_OPTS, KafkaBrokerError, LIBS, REWRITTEN, TEMPLATE, formatStorage, kafkaLogTail, randomClusterId, spawnKafka } from './kafka-broker.js';

// Three JVMs share 2 cores with the engine: a smaller heap than the single test broker's.
const NODE_JVM_OPTS = [...JVM_OPTS, '-Xms96m', '-Xmx320m'];

interface ClusterNode {
  id: number;
  dir: string;
  port: number;
  controllerPort: number;
  propsPath: string;
  child: ChildProcess | null;
  exited: Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function distinctPorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  return ports;
}

export class KafkaCluster {
  private constructor(private readonly nodes: ClusterNode[]) {}

  /** Number of nodes. */
  get size(): number {
    return this.nodes.length;
  }

  /** "127.0.0.1:<port>,..." of every node, for KAFKA_BROKERS. */
  get brokers(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  /** Node ids (node i has id i + 1). */
  nodeId(i: number): number {
    return this.nodes[i].id;
  }

  running(i: number): boolean {
    return this.nodes[i].child !== null;
  }

  /** Writes every node's config and formats its storage; call startAll() next. */
  static async create(o: { size?: number; props?: Record<string, string> } = {}): Promise<KafkaCluster> {
    if (!existsSync(join(LIBS, '.complete'))) throw new KafkaBrokerError(`no Kafka jars in ${LIBS}: run \`npm run infra:up\` once`);
    const size = o.size ?? 3;
    const ports = await distinctPorts(size * 2);
    const voters = Array.from({ length: size }, (_, i) => `${i + 1}@127.0.0.1:${ports[size + i]}`).join(',');
    const template = readFileSync(TEMPLATE, 'utf8')
      .split('\n')
      .filter((l) => !REWRITTEN.test(l) && !/^node\.id=/.test(l));
    const replicated = Math.min(3, size);
    const clusterId = randomClusterId();
    const nodes: ClusterNode[] = [];
    try {
      for (let i = 0; i < size; i++) {
        const dir = mkdtempSync(join(tmpdir(), `scorestream-kafka-node${i + 1}-`));
        const node: ClusterNode = { id: i + 1, dir, port: ports[i], controllerPort: ports[size + i], propsPath: join(dir, 'server.properties'), child: null, exited: Promise.resolve() };
        nodes.push(node);
        const lines = [
          ...template,
          `node.id=${node.id}`,
          `listeners=PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}`,
          `advertised.listeners=PLAINTEXT://127.0.0.1:${node.port}`,
          'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
          `controller.quorum.voters=${voters}`,
          `log.dirs=${join(dir, 'data')}`,
          // Properties: the last occurrence of a key wins, so these override the template's.
          `offsets.topic.replication.factor=${replicated}`,
          `transaction.state.log.replication.factor=${replicated}`,
          `transaction.state.log.min.isr=${Math.min(2, size)}`,
          `min.insync.replicas=${Math.min(2, size)}`,
          `default.replication.factor=${replicated}`,
          'num.io.threads=2',
          'num.network.threads=2',
          'num.replica.fetchers=1',
        ];
        for (const [k, v] of Object.entries(o.props ?? {})) lines.push(`${k}=${v}`);
        writeFileSync(node.propsPath, lines.join('\n') + '\n');
        formatStorage(clusterId, node.propsPath);
      }
    } catch (err) {
      for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
      throw err;
    }
    return new KafkaCluster(nodes);
  }

  /** Starts every node; resolves once metadata lists all of them. */
  async startAll(timeoutMs = 120_000): Promise<void> {
    // Together: a node's controller waits for a quorum of voters before its broker can register.
    for (let i = 0; i < this.size; i++) this.spawn(i);
    await this.waitRegistered(this.nodes.map((n) => n.id), timeoutMs);
  }

  /** Starts node i again (same ports, same data); resolves once the cluster's metadata lists it. */
  async start(i: number, timeoutMs = 90_000): Promise<void> {
    if (this.nodes[i].child) return;
    this.spawn(i);
    await this.waitRegistered([this.nodes[i].id], timeoutMs);
  }

  /** Graceful stop of node i (SIGTERM: controlled shutdown), SIGKILL after `killAfterMs`. Resolves when its JVM is gone. */
  async stop(i: number, killAfterMs = 30_000): Promise<void> {
    const n = this.nodes[i];
    const child = n.child;
    if (!child) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await n.exited;
    clearTimeout(t);
  }

  /**
   * Waits until every partition of `topics` (those that exist: __transaction_state appears only
   * once a transactional producer ran) has a leader and all `size` replicas in sync: what a
   * rolling restart waits for before it takes the next node down.
   */
  async waitFullIsr(topics: string[], timeoutMs = 90_000): Promise<void> {
    const admin = this.client('scorestream-cluster-isr').admin();
    await admin.connect();
    const deadline = Date.now() + timeoutMs;
    let last = '';
    try {
      for (;;) {
        try {
          const existing = new Set(await admin.listTopics());
          const wanted = topics.filter((t) => existing.has(t));
          const { topics: md } = await admin.fetchTopicMetadata({ topics: wanted });
          const short = md.flatMap((t) => t.partitions.filter((p) => p.leader < 0 || p.isr.length < this.size).map((p) => `${t.name}/${p.partitionId} isr [${p.isr.join(',')}]`));
          if (md.length === wanted.length && short.length === 0) return;
          last = short.slice(0, 5).join('; ');
        } catch (err) {
          last = (err as Error).message;
        }
        if (Date.now() > deadline) throw new KafkaBrokerError(`partitions not fully in sync after ${timeoutMs} ms: ${last}`);
        await sleep(250);
      }
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** Kills every node and deletes their data. */
  async destroy(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        n.child?.kill('SIGKILL');
        await n.exited;
        rmSync(n.dir, { recursive: true, force: true });
      }),
    );
  }

  /** A kafkajs client bootstrapped from every node (silent, retries through a node being away). */
  client(clientId = 'scorestream-fault-test'): Kafka {
    return new Kafka({ clientId, brokers: this.brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 2000 } });
  }

  /** The end of node i's log, for failure messages. */
  logTail(i: number, chars = 3000): string {
    return kafkaLogTail(this.nodes[i].dir, chars);
  }

  private spawn(i: number): void {
    const n = this.nodes[i];
    let exited!: () => void;
    n.exited = new Promise<void>((resolve) => (exited = resolve));
    const child = spawnKafka(n.dir, n.propsPath, NODE_JVM_OPTS, () => {
      if (n.child === child) n.child = null;
      exited();
    });
    n.child = child;
  }

  /** Until the metadata of a running node lists every node in `ids` as a (registered, unfenced) broker. */
  private async waitRegistered(ids: number[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const gone = ids.map((id) => this.nodes[id - 1]).find((n) => n.child === null);
      if (gone) throw new KafkaBrokerError(`cluster node ${gone.id} exited during start; log: ${this.logTail(gone.id - 1)}`);
      // Bootstrapped from the awaited nodes only: each answered, and its own metadata lists it.
      const admin = new Kafka({ brokers: ids.map((id) => `127.0.0.1:${this.nodes[id - 1].port}`), logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 0 } }).admin();
      try {
        await admin.connect();
        const { brokers } = await admin.describeCluster();
        const listed = new Set(brokers.map((b) => b.nodeId));
        if (ids.every((id) => listed.has(id))) return;
        last = `metadata lists nodes ${[...listed].join(',')}`;
      } catch (err) {
        last = (err as Error).message;
      } finally {
        await admin.disconnect().catch(() => {});
      }
      await sleep(250);
    }
    throw new KafkaBrokerError(`cluster nodes ${ids.join(',')} not registered after ${timeoutMs} ms (${last}); log of node ${ids[0]}: ${this.logTail(ids[0] - 1)}`);
  }
}
