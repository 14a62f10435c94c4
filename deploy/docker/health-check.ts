// Docker HEALTHCHECK of a toolmesh container, with nothing but Node's own modules (the images
// carry no grpcurl). Default: grpc.health.v1.Health/Check for the whole server ("") on
// 127.0.0.1:$PORT, healthy only when it answers SERVING. `--http <path>`: an HTTP GET answered 2xx
// (the scripted model's /healthz). With mutual TLS on (TOOLMESH_TLS_CERT_FILE, _KEY_FILE, _CA_FILE)
// it dials TLS with the container's own certificate; Kubernetes then runs it as an `exec` probe,
// since native `grpc:` probes speak plaintext only.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:http2';

const env: NodeJS.ProcessEnv = process.env;
const port = Number(env.PORT);
const timeoutMs = 2_000;

function fail(reason: string): never {
  console.error(`unhealthy: ${reason}`);
  process.exit(1);
}

// Healthy only by an explicit exit(0): ending any other way reports unhealthy.
process.exitCode = 1;
if (!Number.isInteger(port) || port <= 0) fail('PORT is not set');
setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs).unref();

const httpFlag = process.argv.indexOf('--http');
if (httpFlag >= 0) {
  const path = process.argv[httpFlag + 1] ?? '/healthz';
  const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
    res.resume();
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) process.exit(0);
    fail(`GET ${path} answered ${status}`);
  });
  req.on('error', (error) => fail(error.message));
  req.end();
} else {
  const { TOOLMESH_TLS_CERT_FILE: cert, TOOLMESH_TLS_KEY_FILE: key, TOOLMESH_TLS_CA_FILE: ca } = env;
  const session =
    cert && key && ca
      ? connect(`https://127.0.0.1:${port}`, {
          cert: readFileSync(cert),
          key: readFileSync(key),
          ca: readFileSync(ca),
          // The CA is checked; the name is not: this is the container asking itself on 127.0.0.1.
          checkServerIdentity: () => undefined,
        })
      : connect(`http://127.0.0.1:${port}`);
  session.on('error', (error) => fail(error.message));
  const stream = session.request({
    ':method': 'POST',
    ':path': '/grpc.health.v1.Health/Check',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  const chunks: Buffer[] = [];
  let grpcStatus: string | undefined;
  stream.on('response', (headers) => {
    // A Trailers-Only answer (an error) carries grpc-status in the headers.
    if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
  });
  stream.on('trailers', (trailers) => {
    grpcStatus = String(trailers['grpc-status']);
  });
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('error', (error) => fail(error.message));
  stream.on('end', () => {
    session.close();
    if (grpcStatus !== '0') fail(`grpc-status ${grpcStatus ?? 'missing'}`);
    // One length-prefixed message: HealthCheckResponse{status = SERVING (1)} is field 1, varint 1.
    const body = Buffer.concat(chunks);
    if (body.length >= 7 && body[5] === 0x08 && body[6] === 0x01) process.exit(0);
    fail('not SERVING');
  });
  // HealthCheckRequest{service: ""}: an uncompressed, empty message.
  stream.end(Buffer.alloc(5));
}
