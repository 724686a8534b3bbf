export {
  type AckOptions,
  type CreatedEvent,
  createTriggersClient,
  type DeliveryAttempt,
  type ExtendOptions,
  type LeasedEvent,
  type LeaseParams,
  type LeaseRequestOptions,
  type NackOptions,
  type RequestOptions,
  type Subscription,
  type SubscriptionInput,
  type TriggersClient,
  type TriggersClientOptions,
} from './client.js';
export {
  type ConsumeContext,
  type ConsumeErrorContext,
  type ConsumeHandler,
  type ConsumeOperation,
  type ConsumeOptions,
  consume,
  defaultNackDelay,
} from './consume.js';
export {
  AuthenticationError,
  ConflictError,
  type ConflictErrorDetails,
  type ErrorCode,
  type FieldError,
  IdempotencyError,
  NotFoundError,
  PayloadTooLargeError,
  PermissionError,
  RateLimitError,
  ServerError,
  TriggersApiError,
  TriggersConnectionError,
  ValidationError,
  type ValidationErrorDetails,
} from './errors.js';
export type { components, operations, paths, webhooks } from './generated/triggers.js';
export { SDK_VERSION } from './generated/version.js';
export type {
  DeliveryListParams,
  DeliveryPage,
  Event,
  EventListParams,
  EventPage,
  InboxPage,
  InboxParams,
  SubscriptionListParams,
  SubscriptionPage,
} from './paginate.js';
export {
  verifyWebhook,
  type WebhookEvent,
  type WebhookHeaders,
  WebhookVerificationError,
} from './webhooks.js';
