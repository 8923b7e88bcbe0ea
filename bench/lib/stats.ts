// Small statistics for benchmark samples.
export const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** Nearest-rank percentile (p in 0..100) of the samples. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const median = (xs: number[]) => percentile(xs, 50);
export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
export const round = (x: number, digits = 1) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : NaN);
