/** An event as the API answers it (GET /v1/events, and the webhook body), with the `id` Zapier needs. */
const eventSample = {
  id: '01936f7e-5a3b-7c41-9d2e-3f4a5b6c7d8e',
  event_id: '01936f7e-5a3b-7c41-9d2e-3f4a5b6c7d8e',
  created_at: '2026-11-27T15:30:00.000Z',
  source: 'billing',
  event_type: 'order.created',
  payload: { order_id: 'ord_1001', amount: 49.95 },
  status: 'pending',
  metadata: { priority: 'normal' },
  acknowledged_at: null,
  expires_at: '2026-12-04T15:30:00.000Z',
  delivery_count: 0,
  leased_until: null,
};

/** Labels for the fields of an event, in the order a Zap editor should show them. */
const eventOutputFields = [
  { key: 'event_id', label: 'Event ID', type: 'string' },
  { key: 'source', label: 'Source', type: 'string' },
  { key: 'event_type', label: 'Event Type', type: 'string' },
  { key: 'created_at', label: 'Created At', type: 'datetime' },
  { key: 'status', label: 'Status', type: 'string' },
  { key: 'metadata__priority', label: 'Priority', type: 'string' },
  { key: 'expires_at', label: 'Expires At', type: 'datetime' },
];

module.exports = { eventOutputFields, eventSample };
