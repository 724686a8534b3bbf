const { apiUrl, listInput, matchesSubscription, withId } = require('../lib/api');
const { apiError } = require('../middleware');
const { eventOutputFields, eventSample } = require('../lib/samples');
const { verifyWebhook } = require('../lib/webhook-signature');

const filtersOf = (bundle) => ({
  eventTypes: listInput(bundle.inputData.event_types),
  sources: listInput(bundle.inputData.sources),
});

/**
 * Turning the Zap on subscribes its unique URL (bundle.targetUrl). The answer, with its
 * `subscription_id` and signing `secret`, becomes bundle.subscribeData.
 */
const performSubscribe = async (z, bundle) => {
  const { eventTypes, sources } = filtersOf(bundle);
  const body = { target_url: bundle.targetUrl, description: 'Zapier: New Event (Instant)' };
  if (eventTypes.length > 0) body.event_types = eventTypes;
  if (sources.length > 0) body.sources = sources;
  const response = await z.request({ url: apiUrl(z, bundle, '/v1/subscriptions'), method: 'POST', body });
  return response.data;
};

/** Turning the Zap off deletes the subscription; one already gone (404) is as good as deleted. */
const performUnsubscribe = async (z, bundle) => {
  const id = encodeURIComponent(bundle.subscribeData.subscription_id);
  const response = await z.request({
    url: apiUrl(z, bundle, `/v1/subscriptions/${id}`),
    method: 'DELETE',
    skipThrowForStatus: true,
  });
  if (response.status >= 400 && response.status !== 404) throw apiError(response, z);
  return {};
};

/**
 * Each webhook the API pushes runs the Zap once: its body is the event. When Zapier hands
 * over the raw request and the subscription's secret, the Standard Webhooks signature is
 * checked first, so nothing but the API can trigger the Zap.
 */
const perform = (z, bundle) => {
  verifyWebhook(z, bundle);
  return [withId(bundle.cleanedRequest)];
};

/** Samples for the Zap editor: recent events that this subscription would have pushed. */
const performList = async (z, bundle) => {
  const filters = filtersOf(bundle);
  const params = { order: 'desc', limit: 100 };
  // The list filters are exact: pass one when it is a single exact value, filter the rest here.
  if (filters.sources.length === 1) params.source = filters.sources[0];
  if (filters.eventTypes.length === 1 && !filters.eventTypes[0].endsWith('.*')) {
    params.event_type = filters.eventTypes[0];
  }
  const response = await z.request({ url: apiUrl(z, bundle, '/v1/events'), params });
  return response.data.events
    .filter((event) => matchesSubscription(event, filters))
    .slice(0, 10)
    .map(withId);
};

module.exports = {
  key: 'new_event_instant',
  noun: 'Event',
  display: {
    label: 'New Event (Instant)',
    description: 'Triggers the moment an event is sent to the Triggers API (a webhook subscription).',
  },
  operation: {
    type: 'hook',
    inputFields: [
      {
        key: 'event_types',
        label: 'Event Types',
        type: 'string',
        list: true,
        required: false,
        helpText:
          'Only events of these types: exact (`order.created`) or a prefix ending in `.*` (`order.*`). Up to 20. Leave empty for every type.',
      },
      {
        key: 'sources',
        label: 'Sources',
        type: 'string',
        list: true,
        required: false,
        helpText:
          'Only events from these sources, such as `billing`. Up to 20. Leave empty for every source.',
      },
    ],
    performSubscribe,
    performUnsubscribe,
    perform,
    performList,
    sample: eventSample,
    outputFields: eventOutputFields,
  },
};
