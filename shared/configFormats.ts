// Parsers for the list-valued settings; null means "malformed" so the schema can say which.
import ipaddr from 'ipaddr.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "5s,5m,2h" → [5000, 300000, 7200000] (milliseconds). */
export function parseDurationList(text: string): number[] | null {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const out: number[] = [];
  for (const part of parts) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(part);
    if (!m) return null;
    out.push(Math.round(Number(m[1]) * UNITS[m[2]!]!));
  }
  return out;
}

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** "10.0.0.0/8, fd00::/8" → parsed ranges. */
export function parseCidrList(text: string): Cidr[] | null {
  const out: Cidr[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    if (!part) continue;
    try {
      out.push(ipaddr.parseCIDR(part));
    } catch {
      return null;
    }
  }
  return out;
}
