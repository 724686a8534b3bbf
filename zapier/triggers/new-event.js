const { apiUrl, textInput, withId } = require('../lib/api');
const { eventOutputFields, eventSample } = require('../lib/samples');

/**
 * Polls GET /v1/events newest first. Zapier keeps the ids it has seen and triggers on the
 * new ones, so one page of 100 is enough as long as fewer than 100 matching events arrive
 * between two polls (1 to 15 minutes); the instant trigger has no such limit.
 */
const perform = async (z, bundle) => {
  const params = { order: 'desc', limit: 100 };
  const source = textInput(bundle.inputData.source);
  const eventType = textInput(bundle.inputData.event_type);
  if (source) params.source = source;
  if (eventType) params.event_type = eventType;
  const response = await z.request({ url: apiUrl(z, bundle, '/v1/events'), params });
  return response.data.events.map(withId);
};

module.exports = {
  key: 'new_event',
  noun: 'Event',
  display: {
    label: 'New Event',
    description: 'Triggers when an event is sent to the Triggers API (checked on a schedule).',
  },
  operation: {
    inputFields: [
      {
        key: 'source',
        label: 'Source',
        type: 'string',
        required: false,
        helpText: 'Only events from this source, such as `billing`. Leave empty for every source.',
      },
      {
        key: 'event_type',
        label: 'Event Type',
        type: 'string',
        required: false,
        helpText: 'Only events of this exact type, such as `order.created`. Leave empty for every type.',
      },
    ],
    perform,
    sample: eventSample,
    outputFields: eventOutputFields,
  },
};
