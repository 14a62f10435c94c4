import { ScaffoldError } from './scaffold-error.ts';

/** The spellings of a service name the generated files use. */
export interface ServiceNames {
  /** kebab-case, as given: folder, Kubernetes objects, etcd registration, log `service`. */
  name: string;
  /** snake_case: tool names. */
  snake: string;
  /** PascalCase: `create<Pascal>Server`, `<Pascal>Config`. */
  pascal: string;
  /** The workspace package, `@toolmesh/<name>-service` like the demo services. */
  packageName: string;
  /** The example tool. */
  toolName: string;
}

/** Longest accepted name: keeps tool names (≤ 64) and Kubernetes names (≤ 63) valid with room to spare. */
export const maxServiceNameLength = 40;

const kebabCase = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

// Processes of the mesh and of docker-compose.yml that are not folders under services/.
const reservedNames = new Set([
  'cli',
  'embedded-db',
  'etcd',
  'grafana',
  'jaeger',
  'model',
  'otel-collector',
  'postgres',
  'prometheus',
  'redis',
  'toolmesh',
]);

/** Checks a new service's name (kebab-case, 2–40 characters, not reserved) and derives its spellings. */
export function serviceNames(name: string): ServiceNames {
  if (!kebabCase.test(name)) {
    throw new ScaffoldError(
      `invalid service name "${name}": use kebab-case (lower-case letters, digits and single dashes, ` +
        'starting with a letter), e.g. "loyalty-points"',
    );
  }
  if (name.length < 2 || name.length > maxServiceNameLength) {
    throw new ScaffoldError(`invalid service name "${name}": 2 to ${maxServiceNameLength} characters`);
  }
  if (reservedNames.has(name)) throw new ScaffoldError(`"${name}" is reserved in the toolmesh mesh`);
  const snake = name.replaceAll('-', '_');
  return {
    name,
    snake,
    pascal: name
      .split('-')
      .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
      .join(''),
    packageName: `@toolmesh/${name}-service`,
    toolName: `get_${snake}_item`,
  };
}
