export { formatScaffoldResult } from './format-scaffold-result.ts';
export { ScaffoldError } from './scaffold-error.ts';
export {
  type ScaffoldStandaloneOptions,
  scaffoldStandaloneToolService,
} from './scaffold-standalone-tool-service.ts';
export {
  defaultToolServicePort,
  type ScaffoldResult,
  type ScaffoldToolServiceOptions,
  scaffoldToolService,
} from './scaffold-tool-service.ts';
export { maxServiceNameLength, type ServiceNames, serviceNames } from './service-name.ts';
