import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { FieldError } from '../errors';
import type { ValidationMessages } from '../validation-messages';

/**
 * A validator for one `EventInput` compiled from the contract itself. Bulk ingest needs it:
 * there the contract only requires `items` to hold objects, and each item is checked on its
 * own so that a bad item fails alone. Compiled `now`, or on its first use: a Lambda container
 * made on demand does not make its first request wait for a schema that only bulk ingest
 * reads (Config.compileValidatorsAtStart).
 */
export function compileEventInputValidator(
  specDocument: Record<string, unknown>,
  messages: ValidationMessages,
  when: 'now' | 'on first use' = 'now',
): (value: unknown, basePath: string) => FieldError[] {
  const compile = () => {
    // No meta-schema check: the contract is linted in npm test, and it would double the cost of start-up.
    const ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: false });
    addFormats(ajv);
    ajv.addSchema({ $id: 'triggers.v1', components: specDocument.components });
    const validate = ajv.getSchema('triggers.v1#/components/schemas/EventInput');
    if (!validate) throw new Error('the contract has no components.schemas.EventInput');
    return validate;
  };
  let validate = when === 'now' ? compile() : undefined;
  return (value, basePath) => {
    validate ??= compile();
    if (validate(value)) return [];
    // Named as the request validator names them: the path ends at the unknown or missing field.
    const errors = (validate.errors ?? []).map((error) => {
      const params = error.params as { additionalProperty?: string; missingProperty?: string };
      const field = params.additionalProperty ?? params.missingProperty;
      return { path: `${basePath}${error.instancePath}${field ? `/${field}` : ''}`, message: error.message };
    });
    return messages.fieldErrors(errors);
  };
}
