// A TCP proxy that holds every chunk for half a round trip in each direction: network latency
// for the far-worker benchmark where the kernel has no netem qdisc (CONFIG_NET_SCH_NETEM unset, as
// on this machine's). Bytes keep their order; there is no bandwidth limit and no loss.
// Run: tsx bench/lib/delayProxy.ts LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT
// then write the round-trip time in ms as a line on its stdin (0 = no delay) whenever it changes;
// it prints "ready" once listening and "rtt N" once a setting is applied.
import { connect, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

const [listenHost, listenPort, targetHost, targetPort] = process.argv.slice(2);
let oneWayMs = 0;

/** Forwards `from` to `to`, each chunk due oneWayMs after it arrived, never before the one ahead. */
function delayed(from: Socket, to: Socket): void {
  const queue: { due: number; chunk: Buffer }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    // Within half a millisecond is due: timers fire on whole milliseconds.
    while (queue.length && queue[0]!.due <= now + 0.5) to.write(queue.shift()!.chunk);
    if (queue.length) timer = setTimeout(flush, queue[0]!.due - now);
  };
  from.on('data', (chunk: Buffer) => {
    if (oneWayMs <= 0 && queue.length === 0) {
      to.write(chunk);
      return;
    }
    const now = performance.now();
    queue.push({ due: Math.max(now + oneWayMs, queue.at(-1)?.due ?? 0), chunk });
    timer ??= setTimeout(flush, queue[0]!.due - now);
  });
  from.on('end', () => {
    const end = () => (queue.length || timer ? setTimeout(end, oneWayMs + 1) : to.end());
    end();
  });
}

const server = createServer((client) => {
  const upstream = connect(Number(targetPort), targetHost);
  for (const s of [client, upstream]) {
    s.setNoDelay(true);
    s.on('error', () => {
      client.destroy();
      upstream.destroy();
    });
    s.on('close', () => (s === client ? upstream : client).destroy());
  }
  delayed(client, upstream);
  delayed(upstream, client);
});
server.listen(Number(listenPort), listenHost, () => process.stdout.write('ready\n'));
createInterface({ input: process.stdin }).on('line', (line) => {
  oneWayMs = Math.max(0, Number(line) / 2 || 0);
  process.stdout.write(`rtt ${2 * oneWayMs}\n`);
});
process.stdin.on('end', () => process.exit(0));
