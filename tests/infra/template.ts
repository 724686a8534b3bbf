import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { createTriggersStack } from '../../infra/src/triggers-stack';

/**
 * Helpers of the stack's template tests. Offline: bundling is skipped
 * (`aws:cdk:bundling-stacks: []`) unless asked for. Context values are given as strings, the
 * way `cdk -c key=value` passes them.
 */

/** An app whose output goes under `workDir`, bundling skipped unless `bundle`. */
export function newApp(
  workDir: string,
  context: Record<string, unknown>,
  options: { bundle?: boolean } = {},
): App {
  return new App({
    outdir: mkdtempSync(path.join(workDir, 'cdk.out-')),
    context: options.bundle ? context : { 'aws:cdk:bundling-stacks': [], ...context },
  });
}

export function synthStack(workDir: string, context: Record<string, unknown>): Template {
  return Template.fromStack(createTriggersStack(newApp(workDir, context)));
}

/** A template resource: untyped JSON, as `Template.findResources` returns it. */
export type Resource = ReturnType<Template['findResources']>[string];

export function only(
  template: Template,
  type: string,
  properties: Record<string, unknown> = {},
): [string, Resource] {
  const found = Object.entries(template.findResources(type, { Properties: properties }));
  expect(found).toHaveLength(1);
  return found[0] as [string, Resource];
}

export const getAtt = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

/** The function named `name` (the API's is `triggers-api-{stage}`). */
export function functionNamed(template: Template, name: string): [string, Resource] {
  return only(template, 'AWS::Lambda::Function', { FunctionName: name });
}

/** The role a function runs as. */
export function roleOf(template: Template, fn: Resource): [string, Resource] {
  const id = fn.Properties.Role['Fn::GetAtt'][0] as string;
  return [id, template.toJSON().Resources[id] as Resource];
}

/** A CloudFormation value as one string, references written `<Id>`, to compare ARNs whole. */
export function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const object = value as Record<string, unknown>;
  if ('Ref' in object) return `<${object.Ref}>`;
  if ('Fn::GetAtt' in object) return `<${(object['Fn::GetAtt'] as string[]).join('.')}>`;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map(flatten).join(separator);
  }
  throw new Error(`unexpected CloudFormation value ${JSON.stringify(value)}`);
}

export const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** The statements of a role's inline policies. */
export function statementsOf(role: Resource): Statement[] {
  return role.Properties.Policies.flatMap(
    (policy: { PolicyDocument: { Statement: Statement[] } }) => policy.PolicyDocument.Statement,
  );
}

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}
