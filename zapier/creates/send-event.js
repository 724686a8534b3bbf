const { apiUrl, textInput } = require('../lib/api');

/**
 * The payload: a JSON object typed as text (keeps numbers, booleans and nesting), and/or
 * key-value pairs (Zapier sends their values as text), the pairs winning on a shared key.
 */
const payloadOf = (z, inputData) => {
  let payload = {};
  const json = textInput(inputData.payload_json);
  if (json) {
    try {
      payload = JSON.parse(json);
    } catch {
      payload = undefined;
    }
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
      throw new z.errors.Error(
        'Payload (JSON) must be a JSON object, such as {"order_id": "ord_1001"}.',
        'InvalidData',
        400,
      );
    }
  }
  const pairs = inputData.payload && typeof inputData.payload === 'object' ? inputData.payload : {};
  return { ...payload, ...pairs };
};

/**
 * POST /v1/events. The answer (event_id, created_at, status, expires_at) is merged with what
 * was sent, so later steps can use the whole event without a second call (which would need
 * the events:read scope too).
 */
const perform = async (z, bundle) => {
  const body = {
    source: bundle.inputData.source,
    event_type: bundle.inputData.event_type,
    payload: payloadOf(z, bundle.inputData),
  };
  const metadata = {};
  const priority = textInput(bundle.inputData.priority);
  const correlationId = textInput(bundle.inputData.correlation_id);
  if (priority) metadata.priority = priority;
  if (correlationId) metadata.correlation_id = correlationId;
  if (Object.keys(metadata).length > 0) body.metadata = metadata;

  const headers = {};
  const idempotencyKey = textInput(bundle.inputData.idempotency_key);
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;

  const response = await z.request({ url: apiUrl(z, bundle, '/v1/events'), method: 'POST', headers, body });
  const { request_id: _requestId, ...created } = response.data;
  return {
    id: created.event_id,
    ...created,
    source: body.source,
    event_type: body.event_type,
    payload: body.payload,
    replayed: response.headers.get('idempotent-replayed') === 'true',
  };
};

module.exports = {
  key: 'send_event',
  noun: 'Event',
  display: {
    label: 'Send Event',
    description: 'Sends an event into the Triggers API.',
  },
  operation: {
    inputFields: [
      {
        key: 'source',
        label: 'Source',
        type: 'string',
        required: true,
        helpText: 'The system the event comes from, such as `billing`.',
      },
      {
        key: 'event_type',
        label: 'Event Type',
        type: 'string',
        required: true,
        helpText: 'What happened, such as `order.created`.',
      },
      {
        key: 'payload',
        label: 'Payload',
        dict: true,
        required: false,
        helpText: 'The event data as key-value pairs (values are sent as text).',
      },
      {
        key: 'payload_json',
        label: 'Payload (JSON)',
        type: 'text',
        required: false,
        helpText:
          'The event data as a JSON object, such as `{"order_id": "ord_1001", "amount": 49.95}`. Key-value pairs above are added to it.',
      },
      {
        key: 'priority',
        label: 'Priority',
        type: 'string',
        required: false,
        choices: { low: 'Low', normal: 'Normal', high: 'High' },
        helpText: 'Defaults to normal.',
      },
      {
        key: 'correlation_id',
        label: 'Correlation ID',
        type: 'string',
        required: false,
        helpText: 'An id that ties this event to others, stored in its metadata.',
      },
      {
        key: 'idempotency_key',
        label: 'Idempotency Key',
        type: 'string',
        required: false,
        helpText:
          'Makes re-sending safe for 24 hours: the same key and data create one event. A good choice is an id from the trigger step.',
      },
    ],
    perform,
    sample: {
      id: '01936f7e-5a3b-7c41-9d2e-3f4a5b6c7d8e',
      event_id: '01936f7e-5a3b-7c41-9d2e-3f4a5b6c7d8e',
      created_at: '2026-11-27T15:30:00.000Z',
      status: 'pending',
      expires_at: '2026-12-04T15:30:00.000Z',
      source: 'billing',
      event_type: 'order.created',
      payload: { order_id: 'ord_1001', amount: 49.95 },
      replayed: false,
    },
    outputFields: [
      { key: 'event_id', label: 'Event ID', type: 'string' },
      { key: 'created_at', label: 'Created At', type: 'datetime' },
      { key: 'status', label: 'Status', type: 'string' },
      { key: 'expires_at', label: 'Expires At', type: 'datetime' },
      { key: 'replayed', label: 'Replayed (Idempotency Key Seen Before)', type: 'boolean' },
    ],
  },
};
