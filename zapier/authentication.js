const { apiUrl } = require('./lib/api');

/** GET /v1/me answers the key's tenant, key id and scopes: any valid key may call it. */
const test = async (z, bundle) => {
  const response = await z.request({ url: apiUrl(z, bundle, '/v1/me') });
  return response.data;
};

/** What the connection is called in Zapier: the key's tenant. */
const connectionLabel = (_z, bundle) => bundle.inputData.tenant_id;

module.exports = {
  type: 'custom',
  fields: [
    {
      key: 'api_key',
      label: 'API Key',
      type: 'password',
      required: true,
      helpText:
        'An API key of your Triggers API. It needs the `events:read` and `events:write` scopes, and `subscriptions:manage` for instant triggers.',
    },
    {
      key: 'base_url',
      label: 'API Base URL',
      type: 'string',
      required: false,
      helpText:
        'Where your Triggers API is deployed, such as `https://abc123.execute-api.eu-west-1.amazonaws.com/prod`. Leave empty to use the default this integration was published with.',
    },
  ],
  test,
  connectionLabel,
};
