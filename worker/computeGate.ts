// How many jobs compute at once in a worker that holds more jobs than that (WORKER_PREFETCH): the
// others have their Redis work (fetch, upload read, result write, completion) done meanwhile.

export interface ComputeGate {
  /** Runs `work` once fewer than `limit` others are running; in arrival order. */
  run<T>(work: () => Promise<T>): Promise<T>;
}

export function createComputeGate(limit: number): ComputeGate {
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return {
    async run(work) {
      if (running < limit) running++;
      else await new Promise<void>((resolve) => waiting.push(resolve)); // the slot is handed over
      try {
        return await work();
      } finally {
        release();
      }
    },
  };
}
