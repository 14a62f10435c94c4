/** Values of a template's `{{placeholders}}`. */
export type TemplateValues = Readonly<Record<string, string | number>>;

const placeholder = /\{\{(\w+)\}\}/g;

/** Replaces every `{{key}}`; a key without a value is a bug in the template and throws. */
export function renderTemplate(text: string, values: TemplateValues, source = 'template'): string {
  return text.replace(placeholder, (_match, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`${source}: no value for {{${key}}}`);
    return String(value);
  });
}
