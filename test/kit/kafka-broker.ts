// A throwaway single-node Kafka broker (KRaft) for tests that must stop and restart the broker.
// Never the shared one on 9092: it runs on free ports with its own log dir in a temp directory,
// from the jars scripts/infra.sh fetched into .cache/kafka-libs/ and a copy of
// infra/kafka/server.properties with ports, log dir and listeners rewritten (no SASL listener).
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { killOnExit } from './children.js';
import { freePort } from './engine-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const LIBS = join(ROOT, '.cache', 'kafka-libs');
export const TEMPLATE = join(ROOT, 'infra', 'kafka', 'server.properties');
export const LOG4J = join(ROOT, 'infra', 'kafka', 'log4j.properties');

/** Settings of the template that this broker replaces or drops. */
export const REWRITTEN = /^(listeners|advertised\.listeners|listener\.security\.protocol\.map|controller\.quorum\.voters|log\.dirs|sasl\.|listener\.name\.sasl_plaintext\.)/;

// Small heap and C1-only JIT: the broker starts in a few seconds and leaves the cores to the engine.
export const JVM_OPTS = ['-Xms128m', '-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true'];

export class KafkaBrokerError extends Error {}

export interface KafkaBrokerOptions {
  /**
   * Also two TLS listeners (besides PLAINTEXT, which the test's own clients use): SSL (server
   * certificate only) and MTLS (ssl.client.auth=required: mutual TLS). PEM files of the broker's
   * key + certificate chain (one file, key first, PKCS#8 unencrypted) and of the CA it trusts for
   * client certificates.
   */
  ssl?: { keystorePem: string; truststorePem: string };
  /** Broker settings appended last (e.g. auto.create.topics.enable=false). */
  props?: Record<string, string>;
  /** Address of the PLAINTEXT listener (default 127.0.0.1), e.g. a veth address a network namespace reaches. */
  host?: string;
  /**
   * Also a VIA_PROXY listener that advertises another port (proxyPort): clients bootstrapped
   * there reach the broker only through whatever the test runs on proxyPort (e.g. a DelayProxy
   * forwarding to viaProxyPort), while the test's own clients use PLAINTEXT directly.
   */
  viaProxy?: boolean;
}


/**
 * A KRaft cluster id is the base64url form of 16 random bytes (what `StorageTool random-uuid`
 * prints); like Kafka's Uuid.randomUuid, never one starting with '-' (the CLI reads it as a flag).
 */
export function randomClusterId(): string {
  let id = randomBytes(16).toString('base64url');
  while (id.startsWith('-')) id = randomBytes(16).toString('base64url');
  return id;
}

/** StorageTool format of the log dirs a server.properties names, for KRaft cluster `clusterId`. */
export function formatStorage(clusterId: string, propsPath: string): void {
  const r = spawnSync('java', [...JVM_OPTS, `-Dlog4j.configuration=file:${LOG4J}`, '-cp', `${LIBS}/*`, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsPath], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new KafkaBrokerError(`formatting a test broker's storage failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
}

/**
 * Starts a Kafka JVM on `propsPath` whose output goes to `<dir>/kafka.log`; killed when the test
 * process exits. `onExit` runs once it is gone.
 */
export function spawnKafka(dir: string, propsPath: string, jvmOpts: readonly string[], onExit: () => void): ChildProcess {
  const log = createWriteStream(join(dir, 'kafka.log'), { flags: 'a' });
  const child = spawn('java', [...jvmOpts, `-Dlog4j.configuration=file:${LOG4J}`, `-Dkafka.logs.dir=${dir}`, '-cp', `${LIBS}/*`, 'kafka.Kafka', propsPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  killOnExit(child);
  child.once('exit', onExit);
  return child;
}

/** The end of the Kafka log in `dir`, for failure messages. */
export function kafkaLogTail(dir: string, chars = 3000): string {
  try {
    return readFileSync(join(dir, 'kafka.log'), 'utf8').slice(-chars);
  } catch {
    return '(no log)';
  }
}

export class KafkaBroker {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly controllerPort: number,
    private readonly propsPath: string,
    /** Ports of the SSL and MTLS listeners (0: none). */
    readonly sslPort = 0,
    readonly mtlsPort = 0,
    readonly host = '127.0.0.1',
    /** The VIA_PROXY listener's own port and the port it advertises (0: none). */
    readonly viaProxyPort = 0,
    readonly proxyPort = 0,
  ) {}

  /** "<host>:<proxyPort>": KAFKA_BROKERS for a client that goes through the proxy. */
  get proxiedBrokers(): string {
    if (!this.proxyPort) throw new KafkaBrokerError('this broker has no VIA_PROXY listener');
    return `${this.host}:${this.proxyPort}`;
  }

  /** "<host>:<port>" for KAFKA_BROKERS. */
  get brokers(): string {
    return `${this.host}:${this.port}`;
  }

  /** "127.0.0.1:<sslPort>" for KAFKA_BROKERS over TLS. */
  get sslBrokers(): string {
    if (!this.sslPort) throw new KafkaBrokerError('this broker has no SSL listener');
    return `127.0.0.1:${this.sslPort}`;
  }

  /** "127.0.0.1:<mtlsPort>": the listener that requires a client certificate. */
  get mtlsBrokers(): string {
    if (!this.mtlsPort) throw new KafkaBrokerError('this broker has no MTLS listener');
    return `127.0.0.1:${this.mtlsPort}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Writes the config and formats the storage; call start() next. */
  static async create(opts: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
    if (!existsSync(join(LIBS, '.complete'))) throw new KafkaBrokerError(`no Kafka jars in ${LIBS}: run \`npm run infra:up\` once`);
    const dir = mkdtempSync(join(tmpdir(), 'scorestream-kafka-'));
    const port = await freePort();
    let controllerPort = await freePort();
    while (controllerPort === port) controllerPort = await freePort();
    let sslPort = 0;
    let mtlsPort = 0;
    if (opts.ssl) {
      while (sslPort === 0 || [port, controllerPort].includes(sslPort)) sslPort = await freePort();
      while (mtlsPort === 0 || [port, controllerPort, sslPort].includes(mtlsPort)) mtlsPort = await freePort();
    }
    const lines = readFileSync(TEMPLATE, 'utf8')
      .split('\n')
      .filter((l) => !REWRITTEN.test(l));
    const host = opts.host ?? '127.0.0.1';
    const taken = [port, controllerPort, sslPort, mtlsPort];
    let viaProxyPort = 0;
    let proxyPort = 0;
    if (opts.viaProxy) {
      while (viaProxyPort === 0 || taken.includes(viaProxyPort)) viaProxyPort = await freePort();
      while (proxyPort === 0 || [...taken, viaProxyPort].includes(proxyPort)) proxyPort = await freePort();
    }
    const via = opts.viaProxy ? `,VIA_PROXY://${host}:${viaProxyPort}` : '';
    const viaAdvertised = opts.viaProxy ? `,VIA_PROXY://${host}:${proxyPort}` : '';
    const ssl = opts.ssl ? `,SSL://127.0.0.1:${sslPort},MTLS://127.0.0.1:${mtlsPort}` : '';
    lines.push(
      `listeners=PLAINTEXT://${host}:${port},CONTROLLER://127.0.0.1:${controllerPort}${ssl}${via}`,
      `advertised.listeners=PLAINTEXT://${host}:${port}${ssl}${viaAdvertised}`,
      `listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${opts.ssl ? ',SSL:SSL,MTLS:SSL' : ''}${opts.viaProxy ? ',VIA_PROXY:PLAINTEXT' : ''}`,
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `log.dirs=${join(dir, 'data')}`,
    );
    if (opts.ssl) {
      // Kafka 3.x reads PEM key stores directly: no keytool/JKS step needed.
      lines.push(
        'ssl.keystore.type=PEM',
        `ssl.keystore.location=${opts.ssl.keystorePem}`,
        'ssl.truststore.type=PEM',
        `ssl.truststore.location=${opts.ssl.truststorePem}`,
        'ssl.client.auth=none',
        'listener.name.mtls.ssl.client.auth=required',
      );
    }
    for (const [k, v] of Object.entries(opts.props ?? {})) lines.push(`${k}=${v}`);
    const propsPath = join(dir, 'server.properties');
    writeFileSync(propsPath, lines.join('\n') + '\n');
    try {
      formatStorage(randomClusterId(), propsPath);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return new KafkaBroker(dir, port, controllerPort, propsPath, sslPort, mtlsPort, host, viaProxyPort, proxyPort);
  }

  /** Starts the broker (same ports, same data) and resolves once it answers a metadata request. */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.child) return;
    let gone = false;
    let exited!: () => void;
    this.exited = new Promise<void>((resolve) => (exited = resolve));
    const child = spawnKafka(this.dir, this.propsPath, JVM_OPTS, () => {
      gone = true;
      if (this.child === child) this.child = null;
      exited();
    });
    this.child = child;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (gone) throw new KafkaBrokerError(`test broker exited during start; log: ${this.logTail()}`);
      if (await this.answers()) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new KafkaBrokerError(`test broker not ready after ${timeoutMs} ms; log: ${this.logTail()}`);
  }

  /** Graceful stop (SIGTERM: controlled shutdown), SIGKILL after `killAfterMs`. Resolves when the JVM is gone. */
  async stop(killAfterMs = 30_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await this.exited;
    clearTimeout(t);
  }

  /** Crash stop. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** Stops the broker and deletes its data. */
  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A kafkajs client for this broker (silent). */
  client(clientId = 'scorestream-fault-test'): Kafka {
    return new Kafka({ clientId, brokers: [this.brokers], logLevel: logLevel.NOTHING });
  }

  logTail(chars = 3000): string {
    return kafkaLogTail(this.dir, chars);
  }

  private async answers(): Promise<boolean> {
    const admin = new Kafka({ brokers: [this.brokers], logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 0 } }).admin();
    try {
      await admin.connect();
      const { brokers } = await admin.describeCluster();
      return brokers.length > 0;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
}
