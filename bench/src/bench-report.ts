import type { EndToEndResult } from './measure-end-to-end.ts';
import type { IdleStreamsResult } from './measure-idle-streams.ts';
import type { LongConversationResult } from './measure-long-conversation.ts';
import type { OverloadResult } from './measure-overload.ts';
import type { ProfileResult } from './measure-profile.ts';
import type { ToolHopResult } from './measure-tool-hop.ts';
import type { ToolScalingRow } from './measure-tool-scaling.ts';

/** Everything one `npm run bench` measured, and what failed. */
export interface BenchReport {
  mode: 'quick' | 'full';
  startedAt: string;
  durationSeconds: number;
  node: string;
  cpus: number;
  /** 1-minute load average before the run: other work on the machine. */
  loadAverageAtStart: number;
  toolHop?: ToolHopResult;
  endToEnd: EndToEndResult[];
  toolScaling?: ToolScalingRow[];
  conversation?: LongConversationResult;
  idleStreams: IdleStreamsResult[];
  profile?: ProfileResult;
  overload?: OverloadResult;
  failures: { bench: string; message: string }[];
}
