import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { FieldError } from '../errors';

/**
 * A validator for one `EventInput` compiled from the contract itself. Bulk ingest needs it:
 * there the contract only requires `items` to hold objects, and each item is checked on its
 * own so that a bad item fails alone.
 */
export function compileEventInputValidator(
  specDocument: Record<string, unknown>,
): (value: unknown, basePath: string) => FieldError[] {
  // No meta-schema check: the contract is linted in npm test, and it would double the cost of start-up.
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: false });
  addFormats(ajv);
  ajv.addSchema({ $id: 'triggers.v1', components: specDocument.components });
  const validate = ajv.getSchema('triggers.v1#/components/schemas/EventInput');
  if (!validate) throw new Error('the contract has no components.schemas.EventInput');
  return (value, basePath) => {
    if (validate(value)) return [];
    return (validate.errors ?? []).map((error) => {
      const extra =
        error.keyword === 'additionalProperties'
          ? `/${(error.params as { additionalProperty: string }).additionalProperty}`
          : '';
      return { path: `${basePath}${error.instancePath}${extra}`, message: error.message ?? 'is invalid' };
    });
  };
}
