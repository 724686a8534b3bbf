const crypto = require('node:crypto');

/**
 * A header of bundle.rawRequest. Zapier renames the headers of a hook request: all but
 * Content-Type and Content-Length get an `Http-` prefix, in Camel-Case
 * (`webhook-id` arrives as `Http-Webhook-Id`). Both spellings are accepted.
 */
const headerOf = (headers, name) => {
  const wanted = [name, `http-${name}`];
  const key = Object.keys(headers || {}).find((candidate) => wanted.includes(candidate.toLowerCase()));
  return key === undefined ? undefined : String(headers[key]);
};

/** The Standard Webhooks signature: base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed by the secret. */
const sign = (secret, id, timestamp, body) =>
  crypto
    .createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
    .update(`${id}.${timestamp}.${body}`)
    .digest('base64');

const sameSignature = (expected, candidate) => {
  const a = Buffer.from(expected);
  const b = Buffer.from(candidate);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
};

/**
 * Checks a pushed webhook against the subscription's secret, when Zapier provides both the
 * raw request and the secret (bundle.subscribeData is what performSubscribe returned); a
 * request that fails is halted, so it never runs the Zap. The timestamp is not held to the
 * usual 5 minutes: Zapier may run a hook's perform later than it arrived (a replayed run),
 * and the request reached a URL only Zapier and the API know.
 */
const verifyWebhook = (z, bundle) => {
  const secret = bundle.subscribeData?.secret;
  const raw = bundle.rawRequest;
  if (typeof secret !== 'string' || !raw || typeof raw.content !== 'string') return;
  const id = headerOf(raw.headers, 'webhook-id');
  const timestamp = headerOf(raw.headers, 'webhook-timestamp');
  const signatures = headerOf(raw.headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) {
    throw new z.errors.HaltedError('The webhook has no Standard Webhooks signature headers.');
  }
  const expected = `v1,${sign(secret, id, timestamp, raw.content)}`;
  if (!signatures.split(' ').some((candidate) => sameSignature(expected, candidate))) {
    throw new z.errors.HaltedError("The webhook's signature does not match its subscription's secret.");
  }
};

module.exports = { sign, verifyWebhook };
