import { SideEffect, type ToolDefinition } from '@toolmesh/proto';
import type { Logger } from '@toolmesh/telemetry';
import {
  compareVersions,
  openPublishingPolicy,
  type PublishingPolicy,
  type PublishVerdict,
  pickVersion,
  rolloutWeights,
  schemaIncompatibilities,
} from '../publishing/index.ts';
import {
  type ArgumentValidator,
  compileArgumentValidator,
  type ValidatorCache,
} from './argument-validator.ts';
import { canonicalJson } from './canonical-json.ts';
import { certificateNamesService } from './peer-certificate-names.ts';
import type { ToolEndpoint } from './tool-endpoint.ts';
import type { RegisteredTool, ServedVersion } from './tool-registry.ts';

/** What one endpoint published, and who it is. */
export interface PublishedTools {
  readonly endpoint: ToolEndpoint;
  /** The service it is registered under in discovery; empty or absent: unnamed. */
  readonly service?: string;
  readonly tools?: readonly ToolDefinition[];
  /**
   * With mutual TLS: the names of the certificate the endpoint presented (empty when it
   * could not be read); its service must be among them. Absent: plaintext, not checked.
   */
  readonly certificateNames?: readonly string[];
}

/** A tool (one version of a name) the registry refuses, and why. */
export interface RefusedToolInfo {
  readonly name: string;
  readonly version: string;
  readonly reason: string;
  readonly services: readonly string[];
  readonly addresses: readonly string[];
}

/** The registry's content: each name's served versions, and what was refused. */
export interface MergedTools {
  /** By name: the version a conversation without a pin gets (the largest share), able to re-pin. */
  readonly byName: Map<string, RegisteredTool>;
  readonly refused: RefusedToolInfo[];
}

const sideEffectName = (value: SideEffect) =>
  value === SideEffect.WRITE ? 'write' : value === SideEffect.READ ? 'read' : 'unspecified';

const schemaText = (json: string) => {
  try {
    return canonicalJson(JSON.parse(json));
  } catch {
    return json;
  }
};

// What must be the same on every replica of one version: whether a call needs an approval
// (side effect), who may make it (permission) and what arguments it takes (schema).
const contractOf = (definition: ToolDefinition) => ({
  sideEffect: sideEffectName(definition.metadata?.sideEffect ?? SideEffect.UNSPECIFIED),
  permission: definition.metadata?.permission ?? '',
  schema: schemaText(definition.inputSchemaJson),
});

interface Group {
  name: string;
  version: string;
  definition: ToolDefinition;
  endpoints: ToolEndpoint[];
  services: string[];
  refusedFor?: string;
}

/**
 * The registry's tools from what every endpoint published, under the publishing policy:
 * 1. a tool its publisher may not publish (by the policy) is refused for that endpoint only,
 *    so the rightful publisher's tool of the same name still serves;
 * 2. replicas of one version that disagree on side effect, permission or input schema make
 *    that version refused until they agree: keeping the first-seen one would let discovery
 *    order decide whether a write runs without approval; an error is logged;
 * 3. each version is checked against the previous served one: a removed field or a newly
 *    required one is incompatible and refused unless the policy forces that version;
 * 4. the served versions of a name share conversations by the policy's weights.
 */
export function mergePublished(
  published: readonly PublishedTools[],
  logger: Logger,
  policy: PublishingPolicy = openPublishingPolicy,
  /** Reuses validators across rebuilds (the registry's); without it every schema is compiled. */
  validators?: ValidatorCache,
): MergedTools {
  const refused = new Map<string, RefusedToolInfo & { services: string[]; addresses: string[] }>();
  const refuse = (name: string, version: string, reason: string, services: string[], addresses: string[]) => {
    const key = `${name}\u0000${version}\u0000${reason}`;
    const known = refused.get(key);
    if (!known) {
      refused.set(key, { name, version, reason, services: [...services], addresses: [...addresses] });
      return;
    }
    for (const s of services) if (!known.services.includes(s)) known.services.push(s);
    for (const a of addresses) if (!known.addresses.includes(a)) known.addresses.push(a);
  };

  const groups = new Map<string, Group>();
  for (const { endpoint, service = '', tools, certificateNames } of published) {
    // With mTLS the service's name in discovery must be vouched for by the endpoint's certificate:
    // whoever can write to discovery cannot claim another service's names without its key.
    const impostor =
      certificateNames && service && !certificateNamesService(certificateNames, service)
        ? `the certificate of the endpoint (${certificateNames.join(', ') || 'unreadable'}) does not name service "${service}"`
        : undefined;
    for (const definition of tools ?? []) {
      const { name, version } = definition;
      const verdict: PublishVerdict = impostor
        ? { allowed: false, reason: impostor }
        : policy.mayPublish(service, name);
      if (!verdict.allowed) {
        logger.error(
          { tool: name, version, service, address: endpoint.address },
          `tool refused: ${verdict.reason}`,
        );
        refuse(name, version, verdict.reason, service ? [service] : [], [endpoint.address]);
        continue;
      }
      const key = `${name}\u0000${version}`;
      const group = groups.get(key);
      if (!group) {
        groups.set(key, {
          name,
          version,
          definition,
          endpoints: [endpoint],
          services: service ? [service] : [],
        });
        continue;
      }
      if (service && !group.services.includes(service)) group.services.push(service);
      if (group.refusedFor) {
        group.endpoints.push(endpoint);
        continue;
      }
      const first = contractOf(group.definition);
      const other = contractOf(definition);
      const differs = (['sideEffect', 'permission', 'schema'] as const).filter((k) => first[k] !== other[k]);
      if (differs.length) {
        const what = differs.map((k) =>
          k === 'sideEffect' ? 'side effect' : k === 'schema' ? 'input schema' : k,
        );
        logger.error(
          {
            tool: name,
            version,
            addresses: [...group.endpoints.map((e) => e.address), endpoint.address],
            side_effects: [first.sideEffect, other.sideEffect],
            permissions: [first.permission, other.permission],
          },
          `replicas of a tool disagree on ${what.join(', ')}; tool refused until they agree`,
        );
        // Side effect and permission are short enough to quote; a schema is not.
        const detail = {
          sideEffect: `side effect (${first.sideEffect} / ${other.sideEffect})`,
          permission: `permission (${first.permission || 'none'} / ${other.permission || 'none'})`,
          schema: 'input schema',
        };
        group.refusedFor = `replicas disagree on ${differs.map((k) => detail[k]).join(', ')}`;
      }
      group.endpoints.push(endpoint);
    }
  }

  // Each name's versions, oldest first, each checked against the previous one served.
  const byVersionOfName = new Map<string, Group[]>();
  for (const group of groups.values()) {
    if (group.refusedFor) {
      refuse(
        group.name,
        group.version,
        group.refusedFor,
        group.services,
        group.endpoints.map((e) => e.address),
      );
      continue;
    }
    const list = byVersionOfName.get(group.name) ?? [];
    list.push(group);
    byVersionOfName.set(group.name, list);
  }

  const byName = new Map<string, RegisteredTool>();
  for (const [name, list] of byVersionOfName) {
    list.sort((a, b) => compareVersions(a.version, b.version));
    const served: { group: Group; parameters: Record<string, unknown>; validate: ArgumentValidator }[] = [];
    for (const group of list) {
      const addresses = group.endpoints.map((e) => e.address);
      let parameters: Record<string, unknown>;
      let validate: ArgumentValidator;
      try {
        const json = group.definition.inputSchemaJson;
        parameters = JSON.parse(json) as Record<string, unknown>;
        if (!parameters || typeof parameters !== 'object') throw new Error('not an object');
        // A schema the validator cannot compile refuses this version only, not the whole registry.
        validate = validators
          ? validators.validatorFor(json, parameters)
          : compileArgumentValidator(parameters);
      } catch {
        logger.warn(
          { tool: name, version: group.version, addresses },
          'tool with an invalid JSON Schema ignored',
        );
        refuse(name, group.version, 'invalid JSON Schema', group.services, addresses);
        continue;
      }
      const previous = served.at(-1);
      if (previous) {
        const problems = schemaIncompatibilities(previous.parameters, parameters);
        if (problems.length && !policy.forced(name, group.version)) {
          const reason =
            `version ${group.version || '(unversioned)'} is incompatible with version ` +
            `${previous.group.version || '(unversioned)'}: ${problems.join(', ')}; ` +
            'the publishing policy may force it';
          logger.error({ tool: name, version: group.version, addresses }, `tool version refused: ${reason}`);
          refuse(name, group.version, reason, group.services, addresses);
          continue;
        }
      }
      served.push({ group, parameters, validate });
    }
    if (!served.length) continue;

    const weights = rolloutWeights(
      served.map((s) => s.group.version),
      policy.weights(name),
    );
    const rollout: ServedVersion[] = [];
    // Most tools serve one version: they get no `forConversation`, so no hash on every model call.
    const pin =
      served.length > 1
        ? (conversationId: string): RegisteredTool => {
            const version = pickVersion(conversationId, name, weights);
            return (rollout.find((v) => v.version === version) ?? rollout[0])?.tool as RegisteredTool;
          }
        : undefined;
    for (const { group, parameters, validate } of served) {
      const weight = weights.find((w) => w.version === group.version)?.weight ?? 0;
      const tool: RegisteredTool = {
        definition: group.definition,
        parameters,
        validate,
        endpoints: group.endpoints,
        version: group.version,
        services: group.services,
        rollout,
        ...(pin ? { forConversation: pin } : {}),
      };
      rollout.push({ version: group.version, weight, tool });
    }
    // A caller that names no conversation gets the version with the largest share.
    const main = [...rollout].sort((a, b) => b.weight - a.weight)[0];
    if (main) byName.set(name, main.tool);
  }
  return { byName, refused: [...refused.values()] };
}
