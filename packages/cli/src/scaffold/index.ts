export { formatScaffoldResult } from './format-scaffold-result.ts';
export { ScaffoldError } from './scaffold-error.ts';
export {
  defaultToolServicePort,
  type ScaffoldResult,
  type ScaffoldToolServiceOptions,
  scaffoldToolService,
} from './scaffold-tool-service.ts';
export { maxServiceNameLength, type ServiceNames, serviceNames } from './service-name.ts';
