import type { CallTarget } from './call-target.ts';
import { createAiSdkAgentTarget } from './create-ai-sdk-agent-target.ts';
import { createGatewayChatTarget } from './create-gateway-chat-target.ts';
import { createMeshCredentialTarget } from './create-mesh-credential-target.ts';
import { createRawUnaryTarget } from './create-raw-unary-target.ts';
import { createToolClientTarget } from './create-tool-client-target.ts';
import { createToolExecutorTarget } from './create-tool-executor-target.ts';
import type { Target } from './load-job.ts';

/** Builds the callable side of a target described by data. */
export async function createTarget(target: Target): Promise<CallTarget> {
  switch (target.kind) {
    case 'raw-unary':
      return createRawUnaryTarget(target.address, target.path, target.payloadBase64, target.credential);
    case 'tool-client':
      return createToolClientTarget(
        target.address,
        target.toolName,
        target.argumentsJson,
        target.signingKeyFile,
      );
    case 'tool-executor':
      return createToolExecutorTarget(
        target.address,
        target.toolName,
        target.argumentsJson,
        target.signingKeyFile,
      );
    case 'mesh-credential':
      return createMeshCredentialTarget(target.op, target.signingKeyFile, target.jwksFile);
    case 'gateway-chat':
      return createGatewayChatTarget(target.address, target.apiKey, target.message, target.expect);
    case 'ai-sdk-agent':
      return createAiSdkAgentTarget(target.baseUrl, target.message, target.expect);
  }
}
