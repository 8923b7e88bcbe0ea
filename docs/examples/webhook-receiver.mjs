// A Turdify webhook receiver that verifies every event's signature (Standard Webhooks) and
// de-duplicates by webhook-id (delivery is at-least-once).
// Run: WEBHOOK_SECRET=whsec_... PORT=4000 node docs/examples/webhook-receiver.mjs
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const wh = new Webhook(process.env.WEBHOOK_SECRET);
const seen = new Set();

http
  .createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      let event;
      try {
        // Checks the HMAC over id, timestamp and the exact body, and that the timestamp is recent.
        event = wh.verify(body, req.headers);
      } catch {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(204).end(); // any 2xx: delivered; 410: stop sending; anything else: retried
      if (seen.has(req.headers['webhook-id'])) return;
      seen.add(req.headers['webhook-id']);
      const { id, faces, result_url, error } = event.data;
      console.log(`verified ${event.type} ${id} faces=${faces.count} ${result_url ?? error.code}`);
    });
  })
  .listen(Number(process.env.PORT ?? 4000), '127.0.0.1', () => console.log('listening'));
