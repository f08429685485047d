// The Helm chart (deploy/helm/scorestream) against the code it deploys: `helm lint` passes, every
// environment variable the rendered Deployment gets is a setting src/config knows and the whole
// set parses, secrets come from the Secret and never from the ConfigMap or flags, probe paths
// exist in the real HttpServer, the grace period outlasts the drain, and KEDA never scales past
// the input topic's partitions. Needs the helm binary (.ci/run installs it); without it this
// fails, it does not skip.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SETTINGS, parseConfig } from '../../src/config/config.js';
import { HttpServer } from '../../src/ops/http-server.js';
import { Metrics } from '../../src/ops/metrics.js';
import { parseYamlDocuments } from '../kit/mini-yaml.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHART = join(ROOT, 'deploy/helm/scorestream');
// helm built with `go install` defaults to Kubernetes 1.20; the chart needs >= 1.23.
const KUBE = ['--kube-version', '1.30.0'];

/** HELM, then PATH, then the cache .ci/run installs into. */
function findHelm(): string {
  if (process.env.HELM) return process.env.HELM;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && existsSync(join(dir, 'helm'))) return join(dir, 'helm');
  const cache = join(homedir(), '.cache/scorestream-helm');
  if (existsSync(cache)) for (const v of readdirSync(cache).sort().reverse()) if (existsSync(join(cache, v, 'helm'))) return join(cache, v, 'helm');
  throw new Error('helm not found (HELM, PATH, ~/.cache/scorestream-helm/<version>/helm). Install it: GOBIN=~/.cache/scorestream-helm/v3.22.0 go install helm.sh/helm/v3/cmd/helm@v3.22.0 (.ci/run does this)');
}
const HELM = findHelm();

function helm(...args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(HELM, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

type Doc = { kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

function render(...set: string[]): Doc[] {
  const r = helm('template', 'ss', CHART, ...KUBE, ...set.flatMap((s) => ['--set', s]));
  assert.equal(r.status, 0, r.err);
  return parseYamlDocuments(r.out) as Doc[];
}
const one = (docs: Doc[], kind: string) => {
  const found = docs.filter((d) => d.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0];
};

const KNOWN = new Set(Object.values(SETTINGS).map((s) => s.env));
const SECRET = new Set(Object.values(SETTINGS).filter((s) => 'secret' in s && s.secret).map((s) => s.env));

test('helm lint --strict passes', () => {
  const r = helm('lint', '--strict', CHART, ...KUBE);
  assert.equal(r.status, 0, r.out + r.err);
});

for (const [what, set] of [
  ['defaults', []],
  ['SASL, exactly-once, a password', ['config.KAFKA_SASL_MECHANISM=scram-sha-512', 'config.KAFKA_SASL_USERNAME=scorestream', 'secrets.values.KAFKA_SASL_PASSWORD=pw', 'config.GUARANTEE=exactly-once']],
] as [string, string[]][]) {
  test(`rendered chart (${what}): every env var is a known setting, secrets only from the Secret, and the set parses`, () => {
    const docs = render(...set);
    const cm = one(docs, 'ConfigMap');
    const deploy = one(docs, 'Deployment');
    const c = deploy.spec.template.spec.containers[0];
    assert.equal(c.args, undefined, 'no flags: settings come from the environment');
    assert.equal(c.command, undefined);
    const data = cm.data as Record<string, string>;
    for (const k of Object.keys(data)) {
      assert.ok(KNOWN.has(k), `ConfigMap key ${k} is not a scorestream setting`);
      assert.ok(!SECRET.has(k), `secret ${k} in the ConfigMap`);
    }
    assert.deepEqual(c.envFrom, [{ configMapRef: { name: cm.metadata.name } }], 'only the ConfigMap as envFrom');
    const secretEnv = (c.env as { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]) ?? [];
    for (const e of secretEnv) {
      assert.ok(KNOWN.has(e.name), `env ${e.name} is not a scorestream setting`);
      assert.ok(SECRET.has(e.name) && e.valueFrom?.secretKeyRef, `env ${e.name}: only secrets are set directly, from a secretKeyRef`);
    }
    assert.deepEqual(new Set(secretEnv.map((e) => e.name)), SECRET, 'the chart offers every secret setting');
    const secretName = secretEnv[0].valueFrom!.secretKeyRef!.name;
    for (const e of secretEnv) assert.equal(e.valueFrom!.secretKeyRef!.name, secretName, 'one Secret');
    const secret = docs.find((d) => d.kind === 'Secret' && d.metadata.name === secretName);
    assert.ok(secret, `Secret ${secretName} is rendered`);

    // What the pod would see parses as a configuration (values of secrets from the Secret).
    const env: Record<string, string> = { ...data, ...((secret.stringData ?? {}) as Record<string, string>) };
    const { config } = parseConfig([], env);
    assert.equal(config.metricsHost, '0.0.0.0', 'metrics reachable on the pod IP');
    const port = c.ports.find((p: { name: string }) => p.name === 'metrics').containerPort;
    assert.equal(config.metricsPort, port, 'container port = METRICS_PORT');

    // The kubelet waits longer than the engine's drain before SIGKILL.
    assert.ok(deploy.spec.template.spec.terminationGracePeriodSeconds * 1000 > config.shutdownTimeoutMs, 'grace period > SHUTDOWN_TIMEOUT_MS');

    // KEDA reads the lag of the group and topic the engine consumes.
    const so = one(docs, 'ScaledObject');
    const trigger = so.spec.triggers[0];
    assert.equal(trigger.type, 'kafka');
    assert.equal(trigger.metadata.bootstrapServers, config.kafkaBrokers);
    assert.equal(trigger.metadata.consumerGroup, config.groupId);
    assert.equal(trigger.metadata.topic, config.inputTopic);
    assert.equal(so.spec.scaleTargetRef.name, deploy.metadata.name);
    assert.equal(deploy.spec.replicas, undefined, 'KEDA owns the replica count');
    if (config.kafkaSaslMechanism !== 'none') {
      const ta = one(docs, 'TriggerAuthentication');
      assert.equal(trigger.authenticationRef.name, ta.metadata.name);
      const pw = ta.spec.secretTargetRef.find((r: { parameter: string }) => r.parameter === 'password');
      assert.deepEqual({ name: pw.name, key: pw.key }, { name: secret.metadata.name, key: 'KAFKA_SASL_PASSWORD' });
    }
  });
}

test('probe paths exist in the real HTTP server; metrics Service, ServiceMonitor and PodDisruptionBudget select the pods', async () => {
  const docs = render();
  const deploy = one(docs, 'Deployment');
  const c = deploy.spec.template.spec.containers[0];
  const paths = new Set<string>([c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path, c.startupProbe.httpGet.path]);
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  const sm = one(docs, 'ServiceMonitor');
  for (const e of sm.spec.endpoints) paths.add(e.path);
  // The Dockerfile's HEALTHCHECK too.
  const hc = /HEALTHCHECK[\s\S]*?https?:\/\/[^'"/]+'?[^'"]*?['"]?(\/[a-z]+)/.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  assert.ok(hc, 'Dockerfile HEALTHCHECK URL');
  paths.add(hc[1]);

  const server = new HttpServer(new Metrics(), { notReady: async () => [] });
  const port = await server.listen(0, '127.0.0.1');
  try {
    for (const p of paths) {
      const r = await fetch(`http://127.0.0.1:${port}${p}`);
      await r.text();
      assert.equal(r.status, 200, `${p} answers 200 on a healthy engine`);
    }
    const missing = await fetch(`http://127.0.0.1:${port}/no-such-path`);
    await missing.text();
    assert.equal(missing.status, 404, 'unknown paths are 404, so the checks above mean something');
  } finally {
    await server.close();
  }

  const labels = deploy.spec.template.metadata.labels as Record<string, string>;
  const selects = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);
  const svc = docs.find((d) => d.kind === 'Service')!;
  assert.ok(selects(svc.spec.selector), 'metrics Service selects the pods');
  assert.equal(svc.spec.ports[0].targetPort, 'metrics');
  const svcLabels = svc.metadata.labels as Record<string, string>;
  assert.ok(Object.entries(sm.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => svcLabels[k] === v), 'ServiceMonitor selects the metrics Service');
  assert.equal(sm.spec.endpoints[0].port, svc.spec.ports[0].name);
  const pdb = one(docs, 'PodDisruptionBudget');
  assert.ok(selects(pdb.spec.selector.matchLabels), 'PDB selects the pods');
});

test('KEDA never scales past the input topic partitions: max <= inputTopicPartitions renders, max > partitions fails', () => {
  const ok = one(render('inputTopicPartitions=6', 'autoscaling.maxReplicaCount=6'), 'ScaledObject');
  assert.equal(ok.spec.maxReplicaCount, 6);
  for (const bad of [
    ['inputTopicPartitions=6', 'autoscaling.maxReplicaCount=7'],
    ['autoscaling.enabled=false', 'inputTopicPartitions=4', 'replicaCount=5'],
  ]) {
    const r = helm('template', 'ss', CHART, ...KUBE, ...bad.flatMap((s) => ['--set', s]));
    assert.notEqual(r.status, 0, `rendered with ${bad.join(' ')}`);
    assert.match(r.err, /exceeds inputTopicPartitions/);
  }
  const grace = helm('template', 'ss', CHART, ...KUBE, '--set', 'terminationGracePeriodSeconds=10', '--set', 'config.SHUTDOWN_TIMEOUT_MS=10000');
  assert.notEqual(grace.status, 0);
  assert.match(grace.err, /must exceed SHUTDOWN_TIMEOUT_MS/);
  const leak = helm('template', 'ss', CHART, ...KUBE, '--set', 'config.REDIS_PASSWORD=oops');
  assert.notEqual(leak.status, 0);
  assert.match(leak.err, /is a secret/);
});
