import type { RequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types';

/**
 * Validates every request, and every response, against the contract. Bodies are never
 * coerced (`"source": 1` stays a number and fails); query, path and header parameters are.
 * Auth is ours (it runs first, so an anonymous caller learns nothing from validation).
 */
export function openApiValidator(spec: unknown): RequestHandler[] {
  return OpenApiValidator.middleware({
    // The validator annotates a deep copy of it (its own cloneDeep), never the document itself.
    apiSpec: spec as OpenAPIV3.DocumentV3_1,
    validateRequests: {
      allErrors: true,
      allowUnknownQueryParameters: false,
      coerceTypes: false,
      removeAdditional: false,
    },
    validateResponses: { removeAdditional: false },
    validateSecurity: false,
    // The contract takes no multipart body: no multer middleware in every request's path.
    fileUploader: false,
    // The contract is linted (Redocly, Spectral) in npm test; checking it against the OpenAPI
    // meta-schema again at every start would cost ~0.3 s of a Lambda cold start.
    validateApiSpec: false,
    validateFormats: true,
    ignoreUndocumented: false,
  }) as RequestHandler[];
}
