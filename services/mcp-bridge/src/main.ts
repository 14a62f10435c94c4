import { readFile } from 'node:fs/promises';
import { systemClock } from '@toolmesh/clock';
import { loadVerificationKeys } from '@toolmesh/rpc';
import { createLogger, startTelemetry } from '@toolmesh/telemetry';
import { serveToolService } from '@toolmesh/tool-sdk';
import { createBridgeMetrics } from './bridge-metrics.ts';
import { loadConfig } from './config.ts';
import { createMcpConnection } from './mcp-connection.ts';
import { parseMcpServersFile } from './mcp-servers-file.ts';
import { createMcpBridgeServer } from './server.ts';

// Composition root of the MCP bridge: config → logger → MCP clients → server.
const config = loadConfig(process.env);
const logger = createLogger({ service: 'mcp-bridge', level: config.logLevel });

try {
  const telemetry = await startTelemetry({
    service: 'mcp-bridge',
    logger,
    host: config.host,
    ...config.telemetry,
  });
  const meshKeys = await loadVerificationKeys(config.meshAuth.jwks);
  const servers = parseMcpServersFile(await readFile(config.serversFile, 'utf8'), process.env);
  const bridgeMetrics = createBridgeMetrics(telemetry.metrics);
  const connections = servers.map((server) =>
    createMcpConnection({
      server,
      logger,
      clock: systemClock,
      maxBackoffMs: config.maxBackoffMs,
      onListed: (reason, tools) => bridgeMetrics.listed(server.name, reason, tools),
    }),
  );
  // Serving starts once every server listed its tools, or after the start timeout: a server that
  // comes up later adds its tools then.
  const signal = AbortSignal.timeout(config.startTimeoutMs);
  await Promise.all(
    connections.map((c) =>
      c.ready(signal).catch(() => {
        logger.error(
          { mcp_server: c.server.name },
          'MCP server did not list its tools in time; serving without them for now',
        );
      }),
    ),
  );
  const server = createMcpBridgeServer({
    connections,
    logger,
    meshKeys,
    tls: config.tls,
    metrics: telemetry.metrics,
  });
  await serveToolService({
    service: 'mcp-bridge',
    server,
    host: config.host,
    port: config.port,
    discovery: config.discovery,
    logger,
    close: async () => {
      await Promise.all(connections.map((c) => c.close()));
      await telemetry.shutdown();
    },
  });
} catch (error) {
  logger.fatal({ err: error }, 'MCP bridge failed to start');
  process.exit(1);
}
