/**
 * Where the Triggers API lives, and the shapes this integration shares between its
 * triggers and its action.
 *
 * The API is self-hosted (`npm start`, or the CDK stack in infra/), so there is no single
 * production URL to hard-code. A connection names its own deployment in the `base_url`
 * auth field; when that is left empty, the integration-wide `TRIGGERS_API_URL` environment
 * variable (set with `zapier-platform env:set`) is used, so an integration published for
 * one deployment asks its users for their API key only.
 */

const baseUrl = (z, bundle) => {
  const configured = (bundle.authData?.base_url || process.env.TRIGGERS_API_URL || '').trim();
  if (!configured) {
    throw new z.errors.Error(
      'No API base URL: enter the URL of your Triggers API (such as https://api.example.com) in the connection, or set TRIGGERS_API_URL for the integration.',
      'InvalidData',
      400,
    );
  }
  let url;
  try {
    url = new URL(configured);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    throw new z.errors.Error(
      `The API base URL must be an http(s) URL without a query or fragment, such as https://api.example.com; got "${configured}".`,
      'InvalidData',
      400,
    );
  }
  // A stage path (API Gateway's /prod) is kept; only trailing slashes go.
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
};

/** The full URL of an API path such as `/v1/events`. */
const apiUrl = (z, bundle, path) => `${baseUrl(z, bundle)}${path}`;

/** Zapier deduplicates trigger items by `id`: an event's id is its `event_id`. */
const withId = (event) => ({ ...event, id: event.event_id });

/** Exact types, or prefixes ending in `.*` (`order.*` matches `order.created`), as subscriptions take them. */
const typeMatches = (eventType, pattern) =>
  pattern.endsWith('.*') ? eventType.startsWith(pattern.slice(0, -1)) : eventType === pattern;

/** The same rule the API applies to a subscription: each non-empty list must match. */
const matchesSubscription = (event, { eventTypes, sources }) =>
  (eventTypes.length === 0 || eventTypes.some((pattern) => typeMatches(event.event_type, pattern))) &&
  (sources.length === 0 || sources.includes(event.source));

/** A list input field, as Zapier gives it (an array, a single string or nothing), without blanks. */
const listInput = (value) =>
  (Array.isArray(value) ? value : value === undefined || value === null ? [] : [value])
    .map((item) => String(item).trim())
    .filter((item) => item.length > 0);

/** An optional text input field, trimmed; undefined when blank. */
const textInput = (value) => {
  const text = value === undefined || value === null ? '' : String(value).trim();
  return text.length > 0 ? text : undefined;
};

module.exports = { apiUrl, baseUrl, listInput, matchesSubscription, textInput, typeMatches, withId };
