// Which webhook destinations are allowed (SSRF guard). Checked when a callback_url is submitted and
// again on the address each delivery actually connects to, so DNS rebinding cannot slip past.
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Cidr } from './configFormats.js';

export interface AddressPolicy {
  /** Private, loopback, link-local, CGNAT and unique-local addresses are allowed. */
  allowPrivate: boolean;
  /** These ranges are allowed whatever else is refused (cloud metadata included). */
  allowCidrs: Cidr[];
}

/** Refusals a receiver cannot fix by retrying: bad URL, forbidden address, unknown host. */
export class CallbackRefused extends Error {
  override name = 'CallbackRefused';
}

/** Ranges that are "private" in the sense of the guard: reachable only from inside a network. */
const PRIVATE_RANGES = new Set(['private', 'loopback', 'linkLocal', 'carrierGradeNat', 'uniqueLocal']);
/** Cloud instance-metadata endpoints: refused even with allowPrivate, unless listed in allowCidrs. */
const METADATA = ['169.254.169.254', '169.254.170.2', '100.100.100.200', 'fd00:ec2::254'].map((a) =>
  ipaddr.parse(a).toString(),
);

const inCidrs = (addr: ipaddr.IPv4 | ipaddr.IPv6, cidrs: Cidr[]) =>
  cidrs.some(([range, bits]) => addr.kind() === range.kind() && addr.match(range, bits));

/** null when the address may be called, else why not. */
export function refusedBecause(ip: string, policy: AddressPolicy): string | null {
  if (!ipaddr.isValid(ip)) return `"${ip}" is not an IP address`;
  let addr = ipaddr.parse(ip);
  // ::ffff:a.b.c.d is the IPv4 address a.b.c.d to the kernel.
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  }
  if (inCidrs(addr, policy.allowCidrs)) return null;
  const range = addr.range();
  if (METADATA.includes(addr.toString())) return `${addr.toString()} is a cloud metadata address`;
  if (range === 'unicast') return null;
  if (policy.allowPrivate && PRIVATE_RANGES.has(range)) return null;
  return `${addr.toString()} is a ${range} address`;
}

const lookupAll = (host: string) =>
  new Promise<dns.LookupAddress[]>((resolve, reject) =>
    dns.lookup(host, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );

/** Brackets off an IPv6 literal host ("[::1]" → "::1"). */
const bare = (hostname: string) => hostname.replace(/^\[(.*)\]$/, '$1');

/** Parses and vets a callback URL, resolving its host; throws CallbackRefused with the reason. */
export async function checkCallbackUrl(raw: string, policy: AddressPolicy): Promise<URL> {
  if (raw.length > 2048) throw new CallbackRefused('is longer than 2048 characters');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CallbackRefused('is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CallbackRefused(`must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  }
  checkLiteralHost(url, policy);
  const host = bare(url.hostname);
  if (ipaddr.isValid(host)) return url;
  let addresses: dns.LookupAddress[];
  try {
    addresses = await lookupAll(host);
  } catch {
    throw new CallbackRefused(`host "${host}" does not resolve`);
  }
  const refused = refusedHost(host, addresses, policy);
  if (refused) throw refused;
  return url;
}

/** The refusal for a host name if any address it resolves to may not be called, else null. */
function refusedHost(host: string, addresses: dns.LookupAddress[], policy: AddressPolicy) {
  for (const { address } of addresses) {
    const why = refusedBecause(address, policy);
    if (why) return new CallbackRefused(`host "${host}" resolves to ${why}`);
  }
  return null;
}

/** A DNS lookup for http.request that refuses forbidden addresses at connect time. */
export function guardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = addresses as dns.LookupAddress[];
      const refused = refusedHost(hostname, list, policy);
      if (refused) return callback(refused, '', 4);
      if ((options as { all?: boolean }).all) {
        (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      } else {
        const first = list[0];
        if (!first) return callback(new CallbackRefused(`host "${hostname}" has no address`), '', 4);
        callback(null, first.address, first.family);
      }
    });
  };
}

/** The connect-time check for a URL whose host is an IP literal (no lookup happens for those). */
export function checkLiteralHost(url: URL, policy: AddressPolicy): void {
  const host = bare(url.hostname);
  if (!ipaddr.isValid(host)) return;
  const why = refusedBecause(host, policy);
  if (why) throw new CallbackRefused(`points at ${why}`);
}

export const policyFromConfig = (c: {
  WEBHOOK_ALLOW_PRIVATE: boolean;
  WEBHOOK_ALLOW_CIDRS: Cidr[];
}): AddressPolicy => ({ allowPrivate: c.WEBHOOK_ALLOW_PRIVATE, allowCidrs: c.WEBHOOK_ALLOW_CIDRS });
