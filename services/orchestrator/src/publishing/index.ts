// Who may publish which tool names, versions and their rollout: the publishing policy file.
export {
  createPublishingPolicySource,
  type PublishingPolicySource,
  type PublishingPolicySourceOptions,
} from './create-publishing-policy-source.ts';
export { PublishingPolicyError, parsePublishingPolicy } from './parse-publishing-policy.ts';
export { compareVersions, pickVersion, rolloutWeights, type WeightedVersion } from './pick-version.ts';
export {
  nameMatches,
  openPublishingPolicy,
  type PublishingPolicy,
  type PublishVerdict,
} from './publishing-policy.ts';
export { schemaIncompatibilities } from './schema-compatibility.ts';
