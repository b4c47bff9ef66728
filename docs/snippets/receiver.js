// Receive Serverless Webhooks deliveries in Node.js (no dependencies).
//
// Verifies `X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>` on the
// raw body, in constant time, accepting any of the signatures sent during a secret rotation and
// refusing timestamps more than five minutes away (replay protection).
//
// Run it as a tiny receiver:
//
//     WEBHOOK_SECRET=whcms_... PORT=9000 node receiver.js
'use strict';

const crypto = require('crypto');
const http = require('http');

const TOLERANCE_SECONDS = 300;

function verifyWebhook(secret, headers, rawBody, toleranceSeconds = TOLERANCE_SECONDS, nowSeconds = Date.now() / 1000) {
  const lowered = {};
  for (const [name, value] of Object.entries(headers || {})) {
    lowered[name.toLowerCase()] = Array.isArray(value) ? value.join(' ') : String(value);
  }
  const timestamp = (lowered['x-webhook-timestamp'] || '').trim();
  if (!/^[0-9]+$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(
    crypto.createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex'),
  );
  let matched = false;
  for (const part of (lowered['x-webhook-signature'] || '').split(' ')) {
    if (!part.startsWith('sha256=')) continue;
    const given = Buffer.from(part.slice('sha256='.length));
    if (given.length === expected.length && crypto.timingSafeEqual(given, expected)) matched = true;
  }
  return matched;
}

function serve(secret, port) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks); // verify the exact bytes, before any JSON parsing
      if (req.method !== 'POST' || !verifyWebhook(secret, req.headers, rawBody)) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid signature' }));
        return;
      }
      const event = JSON.parse(rawBody.toString('utf8'));
      // Deliveries are at-least-once: use event.id to skip one you already handled.
      console.log(`received ${event.type} ${event.id}`);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ received: true }));
    });
  });
  server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
  return server;
}

module.exports = { verifyWebhook, serve };

if (require.main === module) {
  serve(process.env.WEBHOOK_SECRET || '', Number(process.env.PORT || 9000));
}
