import type { ChannelOptions } from '@grpc/grpc-js';
import { sessionMemoryMb } from '../session-memory.ts';

/**
 * The grpc-js channel options of a mesh client. grpc-js's defaults differ from what the mesh
 * relies on (and from connect-node's client before it) in ways that change behaviour, each
 * set back here. `serverName`: the name a TLS server's certificate must carry, when it is not
 * the dialled host (a pod address found by DNS discovery).
 */
export function grpcJsChannelOptions(serverName?: string): ChannelOptions {
  return {
    // Keepalive pings while calls run notice a dead peer instead of waiting for the deadline.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    // Our interceptors and balancer retry, and only calls that never reached a server, within a
    // budget, counted by the breakers. grpc-js's own retries (on by default; also its
    // transparent retry of refused streams) would repeat calls underneath, unseen by either.
    'grpc.enable_retries': 0,
    // By default grpc-js shares one connection among every channel of the process to the same
    // target with the same credentials: closing a channel (a retired TLS generation, a replica
    // the balancer dropped) would not close the connection, and clients meant to be apart (one
    // per replica, per test) would share it. Each channel dials its own here.
    'grpc.use_local_subchannel_pool': 1,
    // No size limit of its own, as before: each server bounds what it accepts (4 MB by
    // default), and a client takes what its server answers. grpc-js would cap answers at 4 MB.
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
    'grpc-node.max_session_memory': sessionMemoryMb,
    // What a client does is what its options say: no proxy from the http(s)_proxy environment,
    // no service config (retry policies, timeouts) from DNS TXT records.
    'grpc.enable_http_proxy': 0,
    'grpc.service_config_disable_resolution': 1,
    // channelz is not served here; it would count and trace every call.
    'grpc.enable_channelz': 0,
    ...(serverName
      ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName }
      : {}),
  };
}
