import { type CompileWhen, componentValidatorGetter } from '../component-schema';
import type { FieldError } from '../errors';
import type { ValidationMessages } from '../validation-messages';

/**
 * A validator for one `EventInput` compiled from the contract itself. Bulk ingest needs it:
 * there the contract only requires `items` to hold objects, and each item is checked on its
 * own so that a bad item fails alone.
 */
export function eventInputValidator(
  specDocument: Record<string, unknown>,
  messages: ValidationMessages,
  when: CompileWhen = 'now',
): (value: unknown, basePath: string) => FieldError[] {
  const validator = componentValidatorGetter(specDocument, 'EventInput', when);
  return (value, basePath) => {
    const validate = validator();
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
