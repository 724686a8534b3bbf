import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/** When a schema is compiled: at once, or when it is first needed (Config.compileValidatorsAtStart). */
export type CompileWhen = 'now' | 'on first use';

/**
 * What gives the validator of one of the contract's component schemas, on an Ajv of its own,
 * for the checks the request validator does not make: each item of a batch on its own, a
 * CloudEvent before the validator. Compiled `now`, or on the getter's first call: a Lambda
 * container made on demand does not make its first request wait for a schema that only some
 * operations read.
 */
export function componentValidatorGetter(
  specDocument: Record<string, unknown>,
  name: string,
  when: CompileWhen,
  configure: (ajv: Ajv2020) => void = () => undefined,
): () => ValidateFunction {
  const compile = () => {
    // No meta-schema check: the contract is linted in npm test, and it would double the cost of start-up.
    const ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: false });
    addFormats(ajv);
    configure(ajv);
    ajv.addSchema({ $id: 'triggers.v1', components: specDocument.components });
    const validate = ajv.getSchema(`triggers.v1#/components/schemas/${name}`);
    if (!validate) throw new Error(`the contract has no components.schemas.${name}`);
    return validate;
  };
  let validate = when === 'now' ? compile() : undefined;
  return () => {
    validate ??= compile();
    return validate;
  };
}
