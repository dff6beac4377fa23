// A validator for the subset of JSON Schema 2020-12 the trace schema uses: $ref into $defs, oneOf,
// const, enum, type, properties, required, additionalProperties: false, items, pattern, minimum,
// maximum. Any other keyword is an error, so the schema cannot quietly grow past what is checked.
type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', '$defs']);
const KEYWORDS = new Set(['$ref', 'oneOf', 'const', 'enum', 'type', 'properties', 'required', 'additionalProperties', 'items', 'pattern', 'minimum', 'maximum']);

/** The problems with `value` against `schema` (empty when it is valid). */
export function validate(root: Schema, value: unknown): string[] {
  const errors: string[] = [];
  check(root, root, value, '$', errors);
  return errors;
}

function check(root: Schema, schema: Schema, value: unknown, path: string, errors: string[]): void {
  for (const key of Object.keys(schema)) {
    if (!ANNOTATIONS.has(key) && !KEYWORDS.has(key)) throw new Error(`unsupported schema keyword '${key}' at ${path}`);
  }
  if (typeof schema.$ref === 'string') {
    const match = /^#\/\$defs\/(\w+)$/.exec(schema.$ref);
    const target = match ? (root.$defs as Record<string, Schema> | undefined)?.[match[1]] : undefined;
    if (!target) throw new Error(`unresolvable $ref '${schema.$ref}'`);
    check(root, target, value, path, errors);
  }
  if (Array.isArray(schema.oneOf)) {
    const passing = schema.oneOf.filter((sub: Schema) => {
      const inner: string[] = [];
      check(root, sub, value, path, inner);
      return inner.length === 0;
    }).length;
    if (passing !== 1) errors.push(`${path}: matches ${passing} of the oneOf schemas, not exactly 1`);
  }
  if ('const' in schema && value !== schema.const) errors.push(`${path}: is not ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${path}: is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof schema.type === 'string' && !hasType(value, schema.type)) {
    errors.push(`${path}: is not of type ${schema.type}`);
    return;
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${path}: is below ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${path}: is above ${schema.maximum}`);
  }
  if (typeof value === 'string' && typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
    errors.push(`${path}: does not match ${schema.pattern}`);
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => check(root, schema.items as Schema, item, `${path}[${i}]`, errors));
  }
  if (isObject(value)) {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required ?? []) as string[]) {
      if (!(name in value)) errors.push(`${path}: lacks required '${name}'`);
    }
    for (const [name, item] of Object.entries(value)) {
      if (properties[name]) check(root, properties[name], item, `${path}.${name}`, errors);
      else if (schema.additionalProperties === false) errors.push(`${path}: has unexpected '${name}'`);
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    default:
      throw new Error(`unsupported type '${type}'`);
  }
}
