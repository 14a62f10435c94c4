/**
 * HTTP/2 session memory cap in MB, for servers and clients alike. Node's default
 * (10 MB) is sized for browsers; a mesh hop multiplexes thousands of concurrent
 * streams over one connection (every open ChatStream is a stream from the gateway
 * to the orchestrator), and past the default nghttp2 answers ENHANCE_YOUR_CALM and
 * kills the whole session. It is a limit, not an allocation.
 */
export const sessionMemoryMb = 512;
