import { create, type DescFile, type DescService, toBinary } from '@bufbuild/protobuf';
import { nestedTypes } from '@bufbuild/protobuf/reflect';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { reflectionV1, reflectionV1alpha } from '@toolmesh/proto';
import { type ServiceRegistration, serviceRegistration } from './service-registration.ts';

type ReflectionRequest = reflectionV1.ServerReflectionRequest | reflectionV1alpha.ServerReflectionRequest;

// Index of every file reachable from the served services, so grpcurl can
// `list` and `describe` without .proto files.
interface DescriptorIndex {
  serviceNames: string[];
  byFilename: Map<string, DescFile>;
  bySymbol: Map<string, DescFile>;
}

function buildIndex(services: DescService[]): DescriptorIndex {
  const byFilename = new Map<string, DescFile>();
  const bySymbol = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (byFilename.has(file.proto.name)) return;
    byFilename.set(file.proto.name, file);
    for (const type of nestedTypes(file)) {
      bySymbol.set(type.typeName, file);
      if (type.kind === 'service')
        for (const m of type.methods) bySymbol.set(`${type.typeName}.${m.name}`, file);
    }
    for (const dep of file.dependencies) visit(dep);
  };
  for (const service of services) visit(service.file);
  return { serviceNames: services.map((s) => s.typeName), byFilename, bySymbol };
}

// Answers with the requested file first, then its transitive dependencies,
// as grpc-go does; clients skip the files they already have.
function withDependencies(file: DescFile): Uint8Array[] {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    for (const dep of f.dependencies) visit(dep);
    ordered.push(f);
  };
  visit(file);
  return ordered.reverse().map((f) => toBinary(FileDescriptorProtoSchema, f.proto));
}

type Answer =
  | { case: 'fileDescriptorResponse'; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: 'listServicesResponse'; value: { service: { name: string }[] } }
  | { case: 'allExtensionNumbersResponse'; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: 'errorResponse'; value: { errorCode: number; errorMessage: string } };

const NOT_FOUND = 5;

function answer(index: DescriptorIndex, req: ReflectionRequest): Answer {
  const notFound = (what: string): Answer => ({
    case: 'errorResponse',
    value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` },
  });
  const files = (file: DescFile | undefined, what: string): Answer =>
    file
      ? { case: 'fileDescriptorResponse', value: { fileDescriptorProto: withDependencies(file) } }
      : notFound(what);
  const r = req.messageRequest;
  switch (r.case) {
    case 'listServices':
      return {
        case: 'listServicesResponse',
        value: { service: index.serviceNames.map((name) => ({ name })) },
      };
    case 'fileByFilename':
      return files(index.byFilename.get(r.value), `file ${r.value}`);
    case 'fileContainingSymbol':
      return files(index.bySymbol.get(r.value), `symbol ${r.value}`);
    case 'allExtensionNumbersOfType':
      // None of the served files declare extensions.
      return index.bySymbol.has(r.value)
        ? { case: 'allExtensionNumbersResponse', value: { baseTypeName: r.value, extensionNumber: [] } }
        : notFound(`type ${r.value}`);
    case 'fileContainingExtension':
      return notFound(`extension ${r.value.containingType}(${r.value.extensionNumber})`);
    default:
      return { case: 'errorResponse', value: { errorCode: 3, errorMessage: 'empty reflection request' } };
  }
}

/**
 * gRPC server reflection (v1 and v1alpha, since older grpcurl builds ask the
 * latter) over the descriptors of the given services and their dependencies.
 */
export function createReflectionRegistrations(services: DescService[]): ServiceRegistration[] {
  const all = [...services, reflectionV1.ServerReflection, reflectionV1alpha.ServerReflection];
  const index = buildIndex(all);
  return [
    serviceRegistration(reflectionV1.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield create(reflectionV1.ServerReflectionResponseSchema, {
            validHost: req.host,
            originalRequest: req,
            messageResponse: answer(index, req),
          });
        }
      },
    }),
    serviceRegistration(reflectionV1alpha.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield create(reflectionV1alpha.ServerReflectionResponseSchema, {
            validHost: req.host,
            originalRequest: req,
            messageResponse: answer(index, req),
          });
        }
      },
    }),
  ];
}
