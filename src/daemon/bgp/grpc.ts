/**
 * A minimal gRPC client for the one GoBGP v3 call its CLI cannot make: `GobgpApi/AddPeer` with a TCP-MD5 password and
 * graceful restart (the `gobgp neighbor add` CLI sets neither). Unary gRPC over Node's own HTTP/2 (gRPC over HTTP/2
 * spec: `POST /<package>.<Service>/<Method>`, `content-type: application/grpc`, length-prefixed message, status in the
 * `grpc-status` trailer) with a hand-written protobuf encoder for the handful of fields we send — no npm dependency,
 * no .proto file at run time. Field numbers are those of gobgp v3.10.0 `api/gobgp.proto` (Apache-2.0,
 * github.com/osrg/gobgp): Peer{conf=2, timers=6, transport=7, graceful_restart=9, afi_safis=10},
 * PeerConf{auth_password=1, neighbor_address=4, peer_asn=5}, GracefulRestart{enabled=1, restart_time=2,
 * deferral_time=4, local_restarting=10}, AfiSafi{mp_graceful_restart=1, config=2}, AfiSafiConfig{family=1, enabled=2},
 * Family{afi=1, safi=2}, MpGracefulRestart{config=1}, MpGracefulRestartConfig{enabled=1}, TimersConfig{connect_retry=1,
 * hold_time=2, keepalive_interval=3}, Timers{config=1}.
 */
import http2 from 'node:http2';

/** One protobuf field value: a varint, a string, or an embedded message (list of fields). */
export type PbValue = number | boolean | string | PbField[];
/** A protobuf field: number + value (repeated fields are simply listed several times). */
export type PbField = [number, PbValue];

function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

/** Encodes fields in protobuf wire format (varint = wire type 0, string / message = wire type 2). Zero values skipped. */
export function encodePb(fields: PbField[]): Buffer {
  const parts: Buffer[] = [];
  for (const [no, v] of fields) {
    if (typeof v === 'number' || typeof v === 'boolean') {
      const n = Number(v);
      if (n === 0) continue;
      parts.push(Buffer.from([...varint(no << 3), ...varint(n)]));
    } else {
      const body = typeof v === 'string' ? Buffer.from(v, 'utf8') : encodePb(v);
      parts.push(Buffer.from([...varint((no << 3) | 2), ...varint(body.length)]), body);
    }
  }
  return Buffer.concat(parts);
}

/** The BGP peer GoBGP should have (SPEC §7.7). */
export interface GrpcPeer {
  address: string;
  asn: number;
  password?: string;
  /** Graceful restart time, s. */
  restartTime: number;
  /** Hold time, s (0 = GoBGP default 90). */
  holdTime?: number;
  connectRetry?: number;
}

/** AddPeerRequest for `p`: both unicast families with MP graceful restart, localRestarting (SPEC §7.7). */
export function addPeerRequest(p: GrpcPeer): Buffer {
  const family = (afi: number): PbField[] => [
    [1, [[1, [[1, true]]]]], // mp_graceful_restart.config.enabled
    [
      2,
      [
        [
          1,
          [
            [1, afi],
            [2, 1],
          ],
        ], // family {afi, safi unicast}
        [2, true],
      ],
    ],
  ];
  const timers: PbField[] = [];
  if (p.connectRetry) timers.push([1, p.connectRetry]);
  if (p.holdTime) timers.push([2, p.holdTime], [3, Math.max(1, Math.floor(p.holdTime / 3))]);
  const peer: PbField[] = [
    [
      2,
      [
        [1, p.password ?? ''],
        [4, p.address],
        [5, p.asn],
      ],
    ],
    ...(timers.length ? ([[6, [[1, timers]]]] as PbField[]) : []),
    [
      9,
      [
        [1, true],
        [2, p.restartTime],
        [4, 1],
        [10, true],
      ],
    ],
    [10, family(1)],
    [10, family(2)],
  ];
  return encodePb([[1, peer]]);
}

/** Error of a gRPC call: the `grpc-status` code and message. */
export class GrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcError';
  }
}

/**
 * Unary gRPC call `method` (e.g. `/apipb.GobgpApi/AddPeer`) on `host:port` with an encoded request; resolves with the
 * raw response message. Throws {@link GrpcError} on a non-zero `grpc-status`, Error on transport failure/timeout.
 */
export function grpcUnary(target: string, method: string, request: Buffer, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${target}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`gRPC ${method} on ${target}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    session.on('error', (err: Error) => {
      clearTimeout(timer);
      reject(new Error(`gRPC ${method} on ${target}: ${err.message}`));
    });
    const frame = Buffer.alloc(5 + request.length);
    frame.writeUInt8(0, 0);
    frame.writeUInt32BE(request.length, 1);
    request.copy(frame, 5);
    const req = session.request({
      ':method': 'POST',
      ':path': method,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let message = '';
    const takeStatus = (h: http2.IncomingHttpHeaders): void => {
      if (h['grpc-status'] !== undefined) {
        status = Number(h['grpc-status']);
        message = decodeURIComponent(String(h['grpc-message'] ?? ''));
      }
    };
    req.on('response', takeStatus);
    req.on('trailers', takeStatus);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err: Error) => {
      clearTimeout(timer);
      session.close();
      reject(new Error(`gRPC ${method} on ${target}: ${err.message}`));
    });
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      if (status === undefined) return reject(new Error(`gRPC ${method} on ${target}: no grpc-status`));
      if (status !== 0) return reject(new GrpcError(status, `gRPC ${method}: ${message} (status ${status})`));
      const body = Buffer.concat(chunks);
      resolve(body.length >= 5 ? body.subarray(5, 5 + body.readUInt32BE(1)) : Buffer.alloc(0));
    });
    req.end(frame);
  });
}
