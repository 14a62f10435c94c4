import { createHash } from 'node:crypto';
import { readYamlFile, type YamlFileIssue } from '@toolmesh/config';
import { z } from 'zod';
import { nameMatches, type PublishingPolicy } from './publishing-policy.ts';

/** A publishing policy file that cannot be used; the message names each problem's line and key. */
export class PublishingPolicyError extends Error {
  readonly issues: readonly YamlFileIssue[];
  constructor(issues: readonly YamlFileIssue[], file?: string) {
    const text = [...issues]
      .sort((a, b) => a.line - b.line)
      .map((i) => [i.line > 0 ? `line ${i.line}` : '', i.path, i.message].filter(Boolean).join(': '))
      .join('\n');
    super(file ? `${file}: ${text}` : text);
    this.name = 'PublishingPolicyError';
    this.issues = issues;
  }
}

const toolName = /^[a-zA-Z0-9_-]{1,64}$/;
const pattern = z
  .string()
  .refine(
    (p) => toolName.test(p.endsWith('*') ? p.slice(0, -1) || 'x' : p),
    'expected a tool name or a prefix ending in *',
  );
const serviceName = z.string().regex(/^[a-zA-Z0-9_.-]{1,128}$/, 'expected a service name');
const versionName = z.string().regex(/^[a-zA-Z0-9_.-]{0,32}$/, 'expected a version such as "2"');

const fileSchema = z
  .object({
    /** Names no service claims: "allow" (any service, the default) or "refuse". */
    unclaimed: z.enum(['allow', 'refuse']).default('allow'),
    services: z.record(serviceName, z.object({ tools: z.array(pattern).min(1) }).strict()).default({}),
    versions: z
      .record(
        pattern.refine((p) => !p.endsWith('*'), 'expected a tool name'),
        z
          .object({
            weights: z.record(versionName, z.number().int().min(0).max(100)).optional(),
            force: z.array(versionName).default([]),
          })
          .strict(),
      )
      .default({}),
  })
  .strict();

/** The version of a policy file's text: a short sha256. */
export function publishingPolicyVersion(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/**
 * Parses a publishing policy file (YAML; see config/publishing-policy.yaml and
 * docs/tool-publishing.md). A name claimed by some service may be published only by the
 * services claiming it; a name no one claims by any service when `unclaimed: allow`, by none
 * when `unclaimed: refuse`; an endpoint discovery could not name publishes unclaimed names only.
 */
export function parsePublishingPolicy(text: string, source: string): PublishingPolicy {
  const file = readYamlFile(text);
  const data = file.validate(fileSchema);
  if (!data || file.issues.length) throw new PublishingPolicyError(file.issues, source);
  for (const [tool, entry] of Object.entries(data.versions)) {
    const weights = Object.values(entry.weights ?? {});
    if (weights.length && weights.every((w) => w === 0)) {
      // Kept legal (it means "the lowest served version"), but almost surely a slip.
      file.at(['versions', tool, 'weights'], 'every weight is 0: give at least one version a weight');
    }
  }
  if (file.issues.length) throw new PublishingPolicyError(file.issues, source);

  const claims = Object.entries(data.services).map(([service, { tools }]) => ({ service, tools }));
  const owners = (tool: string) =>
    claims.filter((c) => c.tools.some((p) => nameMatches(p, tool))).map((c) => c.service);
  return {
    source,
    version: publishingPolicyVersion(text),
    mayPublish(service, tool) {
      const allowed = owners(tool);
      if (allowed.length === 0) {
        return data.unclaimed === 'allow'
          ? { allowed: true }
          : {
              allowed: false,
              reason: `no service may publish ${tool}: the publishing policy claims it for none`,
            };
      }
      if (service && allowed.includes(service)) return { allowed: true };
      const who = service ? `service "${service}"` : 'an endpoint without a service name';
      return {
        allowed: false,
        reason: `${who} may not publish ${tool}; the publishing policy gives it to ${allowed.join(', ')}`,
      };
    },
    forced: (tool, version) => data.versions[tool]?.force.includes(version) ?? false,
    weights(tool) {
      const weights = data.versions[tool]?.weights;
      return weights ? new Map(Object.entries(weights)) : undefined;
    },
  };
}
