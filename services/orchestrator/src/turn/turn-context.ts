import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ChatStreamResponseSchema } from '@toolmesh/proto';

/** A streamed event of a turn (the oneof of ChatStreamResponse). */
export type ChatEvent = NonNullable<MessageInitShape<typeof ChatStreamResponseSchema>['event']>;

/** Where a turn reports progress; Chat ignores it, ChatStream forwards it. */
export type EmitEvent = (event: ChatEvent) => void;
