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

/** "https://a.example, http://localhost:5173" → origins (scheme://host[:port], no path). */
export function parseOriginList(text: string): string[] | null {
  const out: string[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    if (!part) continue;
    try {
      const url = new URL(part);
      if (!/^https?:$/.test(url.protocol) || url.origin !== part.replace(/\/$/, '')) return null;
      out.push(url.origin);
    } catch {
      return null;
    }
  }
  return out;
}

/**
 * TRUST_PROXY → Express's "trust proxy": false; true means one proxy in front (a hop count of 1:
 * Express's own `true` would believe whatever the client put first in X-Forwarded-For); a hop count;
 * or the proxies' addresses, CIDRs and Express's names (loopback, linklocal, uniquelocal).
 */
export function parseTrustProxy(text: string): boolean | number | string[] | null {
  const t = text.trim();
  if (t === 'false' || t === '0') return false;
  if (t === 'true') return 1;
  if (/^\d+$/.test(t)) return Number(t);
  const parts = t
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const valid = (p: string) =>
    ['loopback', 'linklocal', 'uniquelocal'].includes(p) ||
    ipaddr.isValid(p) ||
    (p.includes('/') && parseCidrList(p) !== null);
  return parts.length > 0 && parts.every(valid) ? parts : null;
}
