// Child process: the bare grpc-js server of the tool-hop benchmark. Echo answers the
// request's bytes; InvokeTool answers the bytes given as --answer (base64) to any request.
import { parseArgs } from 'node:util';
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { rawEchoService } from './raw-echo-service.ts';
import { reportReady } from './report-ready.ts';

const { values } = parseArgs({ options: { answer: { type: 'string', default: '' } } });
const answer = Buffer.from(values.answer, 'base64');
const server = new Server();
server.addService(rawEchoService, {
  echo: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
    callback(null, call.request),
  invokeTool: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
    callback(null, answer),
});
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  reportReady(port, () => server.forceShutdown());
});
