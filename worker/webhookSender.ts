// One webhook attempt over plain node:http(s): no redirects followed, a hard time bound, and the
// SSRF guard applied to the address actually connected to.
import http from 'node:http';
import https from 'node:https';
import { checkLiteralHost, guardedLookup, type AddressPolicy } from '../shared/callbackPolicy.js';

export interface SendResult {
  status: number;
}

/** POSTs body to url; resolves with the status of any answer (3xx included), rejects on no answer. */
export function postWebhook(
  url: URL,
  body: string,
  headers: Record<string, string>,
  opts: { timeoutMs: number; policy: AddressPolicy; userAgent: string },
): Promise<SendResult> {
  checkLiteralHost(url, opts.policy);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': opts.userAgent,
        },
        lookup: guardedLookup(opts.policy),
        // A fresh connection per attempt: the address check must run every time.
        agent: false,
        signal: AbortSignal.timeout(opts.timeoutMs),
      },
      (res) => {
        // The receiver's answer body is not used; read (and drop) it so the socket closes cleanly.
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', reject);
      },
    );
    req.on('error', (err) =>
      reject(err.name === 'AbortError' ? new Error(`no answer within ${opts.timeoutMs} ms`) : err),
    );
    req.end(body);
  });
}
