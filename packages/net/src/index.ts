export { serve, Server, type ServeOptions } from './server.js';
export { client, ClientStore, type ClientOptions } from './client.js';
export { PROTOCOL_VERSION, DEFAULT_MAX_MESSAGE_BYTES, encodeFrame, decodeFrame, FrameReader, parseAddress, formatAddress, isLoopback, type Header, type Message, type Address } from './protocol.js';
export type { ServedOp, Request as ServedRequest, Reply as ServedReply } from './dispatch.js';
