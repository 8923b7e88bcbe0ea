// Two network namespaces of the benchmark's own joined by a veth pair: a "server" side (Redis, the
// API, the load generator) and a "worker" side, as a Pi on a LAN sees its Redis. Addresses exist only inside the two namespaces (10.231.x.0/30). Namespaces are
// named tdyfar-<pid>-{s,w}; ones left by a process that is gone are removed first, and ours are
// removed on close and at exit (also when the benchmark fails or is interrupted).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

const PREFIX = 'tdyfar';

function ip(args: string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`ip ${args.join(' ')}: ${r.error.message} (install iproute2)`);
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Kills what still runs in a namespace, then deletes it. */
function removeNamespace(name: string): void {
  for (const pid of ip(['netns', 'pids', name], true).split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  ip(['netns', 'del', name], true);
}

/** Namespaces of earlier runs whose process is gone. */
export function removeStaleNamespaces(): string[] {
  const stale = ip(['netns', 'list'], true)
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => new RegExp(`^${PREFIX}-(\\d+)-[sw]$`).test(n))
    .filter((n) => !alive(Number(n.split('-')[1])));
  stale.forEach(removeNamespace);
  return stale;
}

export interface FarNet {
  server: { ns: string; ip: string };
  worker: { ns: string; ip: string };
  /** Spawns `cmd` inside a namespace (ip netns exec runs it in place: the child's pid is the command's). */
  spawnIn(ns: string, cmd: string[], env: NodeJS.ProcessEnv, stdin?: 'ignore' | 'pipe'): ChildProcess;
  close(): void;
}

export function needsRoot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (ip netns)';
  if (spawnSync('ip', ['-V']).error) return 'needs iproute2 (ip): apt-get install -y iproute2';
  return undefined;
}

export function createFarNet(): FarNet {
  const why = needsRoot();
  if (why) throw new Error(`far-worker bench ${why}`);
  removeStaleNamespaces();
  const s = `${PREFIX}-${process.pid}-s`;
  const w = `${PREFIX}-${process.pid}-w`;
  const subnet = `10.231.${process.pid % 256}`;
  const server = { ns: s, ip: `${subnet}.1` };
  const worker = { ns: w, ip: `${subnet}.2` };
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    removeNamespace(w);
    removeNamespace(s);
    process.off('exit', close);
  };
  process.once('exit', close);
  try {
    ip(['netns', 'add', s]);
    ip(['netns', 'add', w]);
    ip(['link', 'add', 'name', 'veth0', 'netns', s, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', w]);
    for (const end of [server, worker]) {
      ip(['-n', end.ns, 'addr', 'add', `${end.ip}/30`, 'dev', 'veth0']);
      ip(['-n', end.ns, 'link', 'set', 'veth0', 'up']);
      ip(['-n', end.ns, 'link', 'set', 'lo', 'up']);
    }
  } catch (err) {
    close();
    throw err;
  }
  return {
    server,
    worker,
    spawnIn: (ns, cmd, env, stdin = 'ignore') =>
      spawn('ip', ['netns', 'exec', ns, ...cmd], { env, stdio: [stdin, 'pipe', 'inherit'] }),
    close,
  };
}
