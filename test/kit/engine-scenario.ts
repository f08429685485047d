// One engine process against a fresh scenario, as the integration tests run it: the audit reader
// and the engine started together, the drain-and-report and graceful-stop steps every such test
// takes, and the file's hooks (services checked before; whatever is still running stopped after).
import { after, before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Audit, summarize, type AuditReport, type InputRanges } from './audit.js';
import { startEngine, type EngineProcess } from './engine-process.js';
import type { Scenario } from './scenario.js';
import { assertServicesReachable } from './services.js';

type Step = () => Promise<unknown> | unknown;

export interface EngineScenarioHooks {
  /** Also before the file's tests, after the services check (load a model, say). */
  setup?: Step;
  /** First after the file, before the engine is killed (a load producer, say). */
  stopFirst?: Step;
  /** Last after the file (a model session, a Redis client or server). */
  releaseLast?: Step;
}

export class EngineScenario {
  /** The running test's reader and engine; null once stopped. */
  reader: Audit | null = null;
  engine: EngineProcess | null = null;

  /** Starts the audit reader, then an engine with the scenario's env plus `env`; waits until it is ready unless `ready` is false. */
  async start(sc: Scenario, env: Record<string, string> = {}, ready = true): Promise<{ reader: Audit; engine: EngineProcess }> {
    const reader = (this.reader = await Audit.start(sc.auditOptions));
    const engine = (this.engine = await startEngine({ ...sc.env, ...env }));
    if (ready) await engine.waitReady();
    return { reader, engine };
  }

  /** Once every input offset below `ends` has an output (within `timeoutMs`): finish(). */
  async drain(t: TestContext, ends: Map<number, number>, timeoutMs: number): Promise<AuditReport> {
    await this.reader!.waitForCoverage(ends, timeoutMs);
    return this.finish(t, ends);
  }

  /** Reads the output to its end and reports on the input offsets below `ends` (the summary as a diagnostic). */
  async finish(t: TestContext, ends: InputRanges): Promise<AuditReport> {
    await this.reader!.catchUp();
    const r = this.reader!.report(ends);
    t.diagnostic(summarize(r));
    return r;
  }

  /** SIGTERM: the engine drains and exits 0. */
  async stop(): Promise<void> {
    const engine = this.engine!;
    this.engine = null;
    assert.deepEqual(await engine.stop('SIGTERM'), { code: 0, signal: null }, `engine exit (stderr tail: ${engine.stderr().slice(-2000)})`);
  }
}

/** Registers the file's hooks and returns the scenario runner its tests share. */
export function withEngineScenario(hooks: EngineScenarioHooks = {}): EngineScenario {
  const s = new EngineScenario();
  before(async () => {
    await assertServicesReachable();
    await hooks.setup?.();
  });
  after(async () => {
    await hooks.stopFirst?.();
    await s.engine?.kill9();
    await s.reader?.stop();
    await hooks.releaseLast?.();
  });
  return s;
}

/** Each input offset below `ends` has exactly one output, in per-user input order, and there are `count` predictions. */
export function assertOncePerOffset(r: AuditReport, count: number): void {
  assert.equal(r.lost.length, 0, 'no input offset without an output');
  assert.equal(r.duplicates.length, 0, 'no input offset with two outputs');
  assert.equal(r.outOfOrder.length, 0, `outputs of a user in input order (first: ${JSON.stringify(r.outOfOrder[0])})`);
  assert.equal(r.predictions, count);
}
