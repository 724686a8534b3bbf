/** Sends the connection's API key on every request, as the API expects it. */
const includeApiKey = (request, _z, bundle) => {
  if (bundle.authData?.api_key) {
    request.headers = request.headers || {};
    request.headers['X-API-Key'] = bundle.authData.api_key;
  }
  return request;
};

/** The API's error envelope, `{error: {code, message, details, request_id}}`, or undefined. */
const envelopeOf = (response) => {
  const error = response.data && typeof response.data === 'object' ? response.data.error : undefined;
  return error && typeof error === 'object' && typeof error.message === 'string' ? error : undefined;
};

/**
 * The API's message, then the failing fields of a VALIDATION_ERROR that it does not already
 * name (its message says the first in words), then what to do, then the request id to quote
 * to the API's operators.
 */
const describe = (response, error, advice) => {
  const tail = advice ? ` ${advice}` : '';
  if (!error) return `The Triggers API answered HTTP ${response.status}.${tail}`;
  const fields = Array.isArray(error.details?.errors)
    ? error.details.errors
        .slice(1)
        .filter((item) => item && typeof item.message === 'string')
        .map((item) => (item.path ? `${item.path} ${item.message}` : item.message))
    : [];
  const requestId = error.request_id ? ` (request ${error.request_id})` : '';
  const others = fields.length > 0 ? ` ${fields.join('; ')}.` : '';
  return `${error.message}${others}${tail}${requestId}`;
};

/**
 * Turns every error answer into a z.errors.Error carrying the API's own message, so a Zap
 * shows "Invalid API key." rather than a raw response dump (Zapier cuts what it shows at 250
 * characters, so the message comes first and the request id last). A 401 is an
 * AuthenticationError, as in Zapier's own custom-auth template: an API key cannot be
 * refreshed, so RefreshAuthError (OAuth and session auth) would be wrong. A 429 never gets
 * here: the platform turns it into a ThrottledError (honouring Retry-After) before the
 * integration's afterResponse runs. A request made with skipThrowForStatus handles its own
 * status (unsubscribing treats a 404 as done).
 */
const handleErrorEnvelope = (response, z) => {
  if (response.status < 400 || response.skipThrowForStatus) return response;
  throw apiError(response, z);
};

/** The z.errors.Error for an error answer of the API. */
const apiError = (response, z) => {
  const error = envelopeOf(response);
  if (response.status === 401) {
    const message = describe(response, error, 'Reconnect with a valid API key.');
    return new z.errors.Error(message, 'AuthenticationError', response.status);
  }
  return new z.errors.Error(
    describe(response, error),
    error?.code ? error.code : 'ApiError',
    response.status,
  );
};

module.exports = { apiError, befores: [includeApiKey], afters: [handleErrorEnvelope] };
