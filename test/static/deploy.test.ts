// Deployment files, checked without a Docker engine or a cluster: every compose file validated by
// `docker-compose config` (Debian's docker-compose package; .ci/run installs it) with the very commands
// docs/deploy.md gives, the Dockerfiles' key properties, and the Kubernetes manifests parsed (and
// rendered by `kubectl kustomize` where kubectl is installed).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { verifyApiKey } from '../../shared/apiKeys.js';
import { configSchema } from '../../shared/config.js';
import { QUEUE_NAME, redisKeys } from '../../shared/keys.js';
import { createRedis, waitReady } from '../../shared/redis.js';
import { assertBuilt } from '../helpers/build.js';
import { repoRoot } from '../helpers/fixtures.js';
import { startTestRedis } from '../helpers/redis.js';

const read = (p: string) => readFileSync(join(repoRoot, p), 'utf8');
const configKeys = new Set(Object.keys(configSchema.shape));
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const hasCompose = has('docker-compose', ['version']);
const hasKubectl = has('kubectl', ['version', '--client']);
const composeSkip = hasCompose
  ? false
  : process.env.CI
    ? false // CI installs it: fail loudly there
    : 'docker-compose is not installed (apt-get install docker-compose)';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** A Redis memory setting in bytes: 1gb = 1024³, 1g = 1000³ (redis.conf's units). */
function redisBytes(v: string): number {
  const m = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(v.trim());
  assert.ok(m, `a Redis memory size: ${v}`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const scale: Record<string, number> = {
    b: 1,
    k: 1e3,
    kb: 2 ** 10,
    m: 1e6,
    mb: 2 ** 20,
    g: 1e9,
    gb: 2 ** 30,
  };
  return Number(m[1]) * scale[unit]!;
}

/** A Kubernetes quantity in bytes (Ki, Mi, Gi, K, M, G). */
function k8sBytes(v: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(v.trim());
  assert.ok(m, `a Kubernetes memory quantity: ${v}`);
  const scale: Record<string, number> = {
    '': 1,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    K: 1e3,
    M: 1e6,
    G: 1e9,
  };
  return Number(m[1]) * scale[m[2] ?? '']!;
}

/** A published port in either of the forms docker-compose prints: "ip:host:target/tcp" or long syntax. */
function published(p: unknown): { host: string; target: string } {
  if (typeof p === 'string') {
    const parts = p.replace(/\/\w+$/, '').split(':');
    return { host: parts.at(-2) ?? '', target: parts.at(-1) ?? '' };
  }
  return { host: String(obj(p).published), target: String(obj(p).target) };
}

const scratch = mkdtempSync(join(tmpdir(), 'turdify-compose-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs docker-compose with only the given variables (never the developer's .env). */
function compose(args: string[], vars: Record<string, string> = {}) {
  const envFile = join(scratch, `env-${Math.random().toString(36).slice(2)}`);
  writeFileSync(
    envFile,
    Object.entries(vars)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
  );
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...vars };
  return spawnSync('docker-compose', ['--env-file', envFile, ...args], {
    cwd: repoRoot,
    env,
    encoding: 'utf8',
  });
}

/** The `docker compose …` lines of docs/deploy.md, with their VAR=value prefixes. */
function documentedComposeCommands(): { line: string; vars: Record<string, string>; args: string[] }[] {
  const out = [];
  for (const raw of read('docs/deploy.md').split('\n')) {
    const line = raw.trim();
    const m = /^((?:[A-Z_]+=\S+\s+)*)docker compose\s+(.*)$/.exec(line);
    if (!m) continue;
    const vars = Object.fromEntries(
      m[1]!
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    out.push({ line, vars, args: m[2]!.replace(/\s+#.*$/, '').split(/\s+/) });
  }
  return out;
}

describe('compose files', { skip: composeSkip }, () => {
  it('every `docker compose` command in docs/deploy.md validates as written', () => {
    const commands = documentedComposeCommands();
    const files = new Set(commands.flatMap((c) => c.args.filter((_, i) => c.args[i - 1] === '-f')));
    for (const f of ['docker-compose.yml', 'docker-compose.lan.yml', 'docker-compose.worker.yml'])
      assert.ok(files.has(f), `docs/deploy.md shows a command with -f ${f}`);
    for (const c of commands) {
      const files = c.args.flatMap((a, i) => (c.args[i - 1] === '-f' ? ['-f', a] : []));
      // The docs set REDIS_PASSWORD in .env for the LAN setup: stand in for it.
      const vars = { REDIS_PASSWORD: 'abc123', ...c.vars };
      const r = compose([...(files.length ? files : ['-f', 'docker-compose.yml']), 'config', '-q'], vars);
      assert.equal(r.status, 0, `${c.line}\n${r.stderr}`);
    }
  });

  it('docker-compose.yml: Redis with AOF on a volume and noeviction, API after a healthy Redis, workers from .env', () => {
    const r = compose(['-f', 'docker-compose.yml', 'config'], {
      WORKER_CONCURRENCY: '3',
      WORKER_REPLICAS: '4',
      API_PORT: '8080',
    });
    assert.equal(r.status, 0, r.stderr);
    const c = obj(parse(r.stdout));
    const svc = obj(c.services);
    const redis = obj(svc.redis);
    const cmd = arr(redis.command).map(String);
    const after = (flag: string) => cmd[cmd.indexOf(flag) + 1];
    assert.equal(after('--appendonly'), 'yes');
    assert.equal(after('--appendfsync'), 'always');
    assert.equal(after('--maxmemory-policy'), 'noeviction');
    // A memory limit the API's admission reads (a Redis without one grows until the machine is out).
    assert.equal(after('--maxmemory'), '1gb');
    assert.equal(redisBytes(after('--maxmemory')!), 2 ** 30);
    assert.ok(arr(redis.volumes).some((v) => String(obj(v).target ?? v).includes('/data')));
    assert.ok(obj(redis.healthcheck).test, 'redis healthcheck');
    assert.equal(redis.ports, undefined, 'Redis is not published without docker-compose.lan.yml');

    const api = obj(svc.api);
    assert.equal(obj(obj(api.depends_on).redis).condition, 'service_healthy');
    assert.ok(arr(api.ports).some((p) => published(p).host === '8080' && published(p).target === '3000'));
    // Exposed by default: clients need an API key.
    assert.equal(obj(api.environment).REQUIRE_API_KEY, 'true');
    assert.ok(!('REQUIRE_API_KEY' in obj(obj(svc.worker).environment)));

    const worker = obj(svc.worker);
    assert.equal(obj(obj(worker.depends_on).redis).condition, 'service_healthy');
    assert.equal(obj(worker.environment).WORKER_CONCURRENCY, '3');
    assert.equal(Number(obj(worker.deploy).replicas), 4);
    assert.ok(worker.stop_grace_period, 'workers get time to finish their job on stop');
  });

  it("REDIS_MAXMEMORY sets Redis's maxmemory, and MAX_QUEUED_BYTES reaches the API", () => {
    const r = compose(['-f', 'docker-compose.yml', 'config'], {
      REDIS_MAXMEMORY: '256mb',
      MAX_QUEUED_BYTES: '100000000',
    });
    assert.equal(r.status, 0, r.stderr);
    const svc = obj(obj(parse(r.stdout)).services);
    const cmd = arr(obj(svc.redis).command).map(String);
    assert.equal(cmd[cmd.indexOf('--maxmemory') + 1], '256mb');
    assert.equal(cmd[cmd.indexOf('--maxmemory-policy') + 1], 'noeviction');
    assert.equal(obj(obj(svc.api).environment).MAX_QUEUED_BYTES, '100000000');
  });

  it('publishing Redis on the LAN requires a password, which Redis, the API and workers all use', () => {
    const denied = compose(['-f', 'docker-compose.yml', '-f', 'docker-compose.lan.yml', 'config', '-q']);
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /set REDIS_PASSWORD/);
    const r = compose(['-f', 'docker-compose.yml', '-f', 'docker-compose.lan.yml', 'config'], {
      REDIS_PASSWORD: 's3cret',
    });
    assert.equal(r.status, 0, r.stderr);
    const svc = obj(obj(parse(r.stdout)).services);
    const cmd = arr(obj(svc.redis).command).map(String);
    assert.equal(cmd[cmd.indexOf('--requirepass') + 1], 's3cret');
    assert.ok(arr(obj(svc.redis).ports).some((p) => published(p).target === '6379'));
    for (const s of ['api', 'worker'])
      assert.equal(obj(obj(svc[s]).environment).REDIS_URL, 'redis://:s3cret@redis:6379');
  });

  it('docker-compose.worker.yml needs REDIS_URL and passes it through', () => {
    const denied = compose(['-f', 'docker-compose.worker.yml', 'config', '-q']);
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /REDIS_URL/);
    const url = 'redis://:pw@main-host:6379';
    const r = compose(['-f', 'docker-compose.worker.yml', 'config'], { REDIS_URL: url });
    assert.equal(r.status, 0, r.stderr);
    const worker = obj(obj(obj(parse(r.stdout)).services).worker);
    assert.equal(obj(worker.environment).REDIS_URL, url);
    assert.deepEqual(Object.keys(obj(obj(parse(r.stdout)).services)), ['worker']);
  });

  it('.env.example validates and documents every variable the compose files read', () => {
    const r = compose(['-f', 'docker-compose.yml', 'config', '-q'], {});
    assert.equal(r.status, 0, r.stderr);
    const example = read('.env.example');
    const exampleVars = new Set([...example.matchAll(/^#?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
    const withExample = spawnSync(
      'docker-compose',
      ['--env-file', join(repoRoot, '.env.example'), '-f', 'docker-compose.yml', 'config', '-q'],
      { cwd: repoRoot, env: { PATH: process.env.PATH }, encoding: 'utf8' },
    );
    assert.equal(withExample.status, 0, withExample.stderr);
    for (const f of ['docker-compose.yml', 'docker-compose.lan.yml', 'docker-compose.worker.yml']) {
      for (const m of read(f).matchAll(/\$\{([A-Z][A-Z0-9_]*)/g))
        assert.ok(exampleVars.has(m[1]!), `${f} reads ${m[1]}, which .env.example does not mention`);
    }
  });
});

describe('compose files and the service configuration agree', () => {
  it('every variable handed to a Turdify container is one the service reads', () => {
    for (const f of ['docker-compose.yml', 'docker-compose.worker.yml']) {
      const doc = obj(parse(read(f)));
      const envs = [
        ...Object.entries(doc)
          .filter(([k]) => k.startsWith('x-'))
          .map(([, v]) => v),
        ...Object.entries(obj(doc.services))
          .filter(([name]) => name !== 'redis')
          .map(([, s]) => obj(s).environment),
      ];
      for (const env of envs)
        for (const key of Object.keys(obj(env)).filter((k) => k !== '<<'))
          assert.ok(configKeys.has(key), `${f}: ${key} is not a setting of shared/config.ts`);
    }
  });
});

/** Stages of a Dockerfile: FROM line and the instructions that follow it. */
function stages(path: string): { from: string; lines: string[] }[] {
  const text = read(path).replace(/\\\n/g, ' ');
  const out: { from: string; lines: string[] }[] = [];
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!line || line.startsWith('#')) continue;
    if (/^FROM\s/i.test(line)) out.push({ from: line, lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

describe('Dockerfiles', () => {
  for (const path of ['api/Dockerfile', 'worker/Dockerfile']) {
    it(`${path}: multi-stage, LTS slim multi-arch base, non-root, healthcheck, production dependencies`, () => {
      const text = read(path);
      const st = stages(path);
      assert.ok(st.length >= 2, 'multi-stage');
      const version = /^ARG NODE_VERSION=(\d+)$/m.exec(text)?.[1];
      assert.ok(version && Number(version) % 2 === 0, 'an even (LTS) Node major');
      for (const s of st) {
        // The official node image is multi-arch; only the compile stage may pin the build platform.
        assert.match(
          s.from,
          /^FROM (--platform=\$BUILDPLATFORM )?node:\$\{NODE_VERSION\}-bookworm-slim( AS \w+)?$/,
        );
        assert.doesNotMatch(s.from, /linux\/(amd64|arm64)|@sha256/);
      }
      const final = st.at(-1)!;
      assert.doesNotMatch(final.from, /BUILDPLATFORM/, 'the runtime stage is for the target platform');
      const user = final.lines.find((l) => l.startsWith('USER '));
      assert.ok(user && !/^USER (root|0)\b/.test(user), 'runs as a non-root user');
      assert.ok(
        final.lines.some((l) => l.startsWith('HEALTHCHECK ') && l.includes('CMD')),
        'HEALTHCHECK',
      );
      assert.ok(final.lines.some((l) => l.startsWith('CMD ')));
      assert.ok(!final.lines.some((l) => /npm (ci|install)/.test(l)), 'no install in the runtime stage');
      const deps = st.find((s) => / AS deps$/.test(s.from));
      assert.ok(
        deps?.lines.some((l) => /npm ci --omit=dev/.test(l)),
        'production dependencies only',
      );
      assert.match(text, /docker buildx build --platform linux\/amd64,linux\/arm64 -f /);
      for (const l of st
        .flatMap((s) => s.lines)
        .filter((l) => l.startsWith('COPY ') && !l.includes('--from'))) {
        for (const src of l.split(/\s+/).slice(1, -1))
          assert.ok(existsSync(join(repoRoot, src)), `${path}: COPY source ${src} exists`);
      }
    });
  }

  it('the worker image may load tfjs-node; the API image drops TensorFlow, which api/ and shared/ never import', () => {
    assert.match(read('worker/Dockerfile'), /npm ci --omit=dev --no-audit/);
    assert.doesNotMatch(read('worker/Dockerfile'), /npm ci --omit=dev[^\n]*--ignore-scripts/);
    assert.match(read('api/Dockerfile'), /rm -rf node_modules\/@tensorflow node_modules\/@vladmandic/);
    const sources = (dir: string): string[] =>
      readdirSync(join(repoRoot, dir), { withFileTypes: true, recursive: true })
        .filter((e) => e.isFile() && e.name.endsWith('.ts'))
        .map((e) => join(e.parentPath, e.name));
    for (const file of [...sources('api'), ...sources('shared')]) {
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, /from ['"](@tensorflow|@vladmandic)|\.\.\/worker\//, file);
    }
  });

  it('the API image can make API keys: `npm run keys -- create NAME` with only the files it copies', async () => {
    assertBuilt();
    // The runtime stage's files, laid out as in the image (node_modules linked, not copied).
    const app = mkdtempSync(join(tmpdir(), 'turdify-api-image-'));
    const redisServer = await startTestRedis();
    const redis = createRedis(redisServer.url, 'client');
    try {
      for (const line of stages('api/Dockerfile')
        .at(-1)!
        .lines.filter((l) => l.startsWith('COPY '))) {
        const [src, dest] = line.replace(/^COPY (--from=\S+ )?/, '').split(/\s+/) as [string, string];
        const from = join(repoRoot, src.replace(/^\/app\//, ''));
        const to = join(app, dest === './' ? basename(src) : dest);
        mkdirSync(dirname(to), { recursive: true });
        if (src.endsWith('node_modules')) symlinkSync(from, to);
        else cpSync(from, to, { recursive: true });
      }
      const env = { PATH: process.env.PATH, HOME: app, REDIS_URL: redisServer.url };
      const created = spawnSync('npm', ['run', 'keys', '--', 'create', 'from-the-image'], {
        cwd: app,
        env,
        encoding: 'utf8',
      });
      assert.equal(created.status, 0, created.stderr);
      const key = created.stdout.trimEnd().split('\n').at(-1)!;
      assert.match(key, /^tdy_[A-Za-z0-9_-]{43}$/, 'the key alone on the last line');
      await waitReady(redis, 5000);
      assert.equal((await verifyApiKey(redis, redisKeys('turdify'), key))?.name, 'from-the-image');
      // Kubernetes runs it without npm (read-only root filesystem): node dist/scripts/keys.js.
      const listed = spawnSync(process.execPath, ['dist/scripts/keys.js', 'list'], {
        cwd: app,
        env,
        encoding: 'utf8',
      });
      assert.equal(listed.status, 0, listed.stderr);
      assert.match(listed.stdout, /^from-the-image\t/m);
    } finally {
      redis.disconnect();
      await redisServer.close();
      rmSync(app, { recursive: true, force: true });
    }
    assert.match(read('docs/deploy.md'), /docker compose exec api npm run keys -- create /);
    assert.match(read('docs/deploy.md'), /exec deploy\/api -- node dist\/scripts\/keys\.js create /);
  });

  it('.dockerignore keeps dependencies, build output and secrets out of the context', () => {
    const lines = read('.dockerignore').split('\n');
    for (const p of ['node_modules', 'dist', '.env', '.git']) assert.ok(lines.includes(p), p);
  });
});

describe('Kubernetes manifests (kustomize)', () => {
  const docsOf = (dir: string): Obj[] => {
    const k = obj(parse(read(`k8s/${dir}/kustomization.yaml`)));
    return arr(k.resources)
      .map(String)
      .filter((r) => r.endsWith('.yaml'))
      .flatMap((r) => parseAllDocuments(read(`k8s/${dir}/${r}`)).map((d) => obj(d.toJS())));
  };
  const find = (docs: Obj[], kind: string, name: string) =>
    docs.find((d) => d.kind === kind && obj(d.metadata).name === name);

  it('base: Redis StatefulSet with a volume, API Deployment + Service, worker Deployment', () => {
    const docs = docsOf('base');
    const redis = obj(find(docs, 'StatefulSet', 'redis'));
    assert.equal(arr(obj(redis.spec).volumeClaimTemplates).length, 1);
    const args = arr(obj(arr(obj(obj(obj(redis.spec).template).spec).containers)[0]).args).map(String);
    assert.equal(args[args.indexOf('--maxmemory-policy') + 1], 'noeviction');
    assert.equal(args[args.indexOf('--appendonly') + 1], 'yes');
    // maxmemory set, and well under the container's limit (the AOF rewrite forks; clients buffer).
    assert.ok(args.includes('--maxmemory'), 'Redis has a maxmemory');
    const maxmemory = redisBytes(args[args.indexOf('--maxmemory') + 1]!);
    const container = obj(arr(obj(obj(obj(redis.spec).template).spec).containers)[0]);
    const limit = k8sBytes(String(obj(obj(container.resources).limits).memory));
    assert.ok(maxmemory <= 0.75 * limit, `maxmemory ${maxmemory} ≤ 75% of the ${limit}-byte limit`);
    assert.ok(maxmemory >= 0.4 * limit, 'and not so low that the limit is wasted');
    assert.ok(find(docs, 'Service', 'redis'));
    assert.ok(find(docs, 'Service', 'api'));
    for (const name of ['api', 'worker']) {
      const d = obj(find(docs, 'Deployment', name));
      const spec = obj(d.spec);
      const tpl = obj(spec.template);
      assert.deepEqual(obj(spec.selector).matchLabels, obj(tpl.metadata).labels, `${name} selector`);
      const pod = obj(tpl.spec);
      assert.equal(obj(pod.securityContext).runAsNonRoot, true);
      const c = obj(arr(pod.containers)[0]);
      assert.equal(c.image, `turdify-${name}`);
      const env = arr(c.env).map(obj);
      assert.ok(env.some((e) => e.name === 'REDIS_URL' && String(e.value).includes('$(REDIS_PASSWORD)')));
      const secret = obj(obj(obj(env.find((e) => e.name === 'REDIS_PASSWORD')).valueFrom).secretKeyRef);
      assert.equal(secret.name, 'turdify-redis');
    }
    const workerPod = obj(obj(obj(obj(find(docs, 'Deployment', 'worker')).spec).template).spec);
    assert.ok(Number(workerPod.terminationGracePeriodSeconds) > 120, 'longer than JOB_TIMEOUT_SECONDS');
    const k = obj(parse(read('k8s/base/kustomization.yaml')));
    const pairs = arr(obj(arr(k.configMapGenerator)[0]).literals).map((l) => String(l).split('='));
    for (const [key] of pairs) assert.ok(configKeys.has(key!), `configMap key ${key} is a setting`);
    assert.deepEqual(
      pairs.find(([key]) => key === 'REQUIRE_API_KEY'),
      ['REQUIRE_API_KEY', 'true'],
      'clients need an API key',
    );
    assert.match(read('docs/deploy.md'), /create secret generic turdify-redis/);
  });

  it('keda: a ScaledObject scales the worker Deployment on the BullMQ wait list', () => {
    const docs = docsOf('keda');
    const so = obj(find(docs, 'ScaledObject', 'worker'));
    assert.equal(obj(obj(so.spec).scaleTargetRef).name, 'worker');
    const trigger = obj(arr(obj(so.spec).triggers)[0]);
    assert.equal(trigger.type, 'redis');
    const prefix = configSchema.shape.KEY_PREFIX.parse(undefined);
    assert.equal(obj(trigger.metadata).listName, `${prefix}:${QUEUE_NAME}:wait`);
    const auth = obj(trigger.authenticationRef).name;
    assert.ok(find(docs, 'TriggerAuthentication', String(auth)));
    assert.deepEqual(obj(parse(read('k8s/keda/kustomization.yaml'))).resources, [
      '../base',
      'scaledobject.yaml',
    ]);
  });

  it('renders with kubectl kustomize', { skip: !hasKubectl && 'kubectl is not installed' }, () => {
    for (const dir of ['k8s/base', 'k8s/keda']) {
      const r = spawnSync('kubectl', ['kustomize', dir], { cwd: repoRoot, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const kinds = parseAllDocuments(r.stdout).map((d) => obj(d.toJS()).kind);
      assert.ok(kinds.includes('StatefulSet') && kinds.includes('Deployment'), dir);
      if (dir.endsWith('keda')) assert.ok(kinds.includes('ScaledObject'));
    }
  });
});
