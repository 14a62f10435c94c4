export {
  type BalancedTransportOptions,
  type BalanceKey,
  conversationKey,
  createBalancedTransport,
} from './create-balanced-transport.ts';
export {
  type BalancedEndpoint,
  createEndpointBalancer,
  type EndpointBalancer,
  type EndpointBalancerOptions,
  type EndpointSource,
} from './create-endpoint-balancer.ts';
export { rendezvousRank } from './rendezvous-rank.ts';
