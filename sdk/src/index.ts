export {
  createTriggersClient,
  type RequestOptions,
  type TriggersClient,
  type TriggersClientOptions,
} from './client.js';
export {
  AuthenticationError,
  ConflictError,
  type ErrorCode,
  IdempotencyError,
  NotFoundError,
  PermissionError,
  RateLimitError,
  ServerError,
  TriggersApiError,
  TriggersConnectionError,
  ValidationError,
} from './errors.js';
export type { components, operations, paths } from './generated/triggers.js';
export { SDK_VERSION } from './generated/version.js';
export type { Event, InboxPage, InboxParams } from './paginate.js';
