/**
 * The one GoBGP v3 API call its CLI cannot make: `apipb.GobgpApi/AddPeer` with a TCP-MD5 password and graceful
 * restart (`gobgp neighbor add` sets neither). Transport is @grpc/grpc-js, encoding is protobufjs; the message types
 * are declared below as the subset of gobgp v3.10.0 `api/gobgp.proto` (Apache-2.0, github.com/osrg/gobgp) this call
 * needs — protobuf ignores fields a side does not know, so a subset with the original names and field numbers is
 * wire-compatible. No .proto file is needed at run time.
 */
import { credentials, Client, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * Subset of gobgp v3.10.0 `api/gobgp.proto` (package `apipb`): AddPeerRequest{peer=1};
 * Peer{conf=2, timers=6, graceful_restart=9, afi_safis=10}; PeerConf{auth_password=1, neighbor_address=4,
 * peer_asn=5}; Timers{config=1}; TimersConfig{connect_retry=1, hold_time=2, keepalive_interval=3};
 * GracefulRestart{enabled=1, restart_time=2, deferral_time=4, local_restarting=10};
 * AfiSafi{mp_graceful_restart=1, config=2}; MpGracefulRestart{config=1}; MpGracefulRestartConfig{enabled=1};
 * AfiSafiConfig{family=1, enabled=2}; Family{afi=1 (AFI_IP=1, AFI_IP6=2), safi=2 (SAFI_UNICAST=1)}.
 */
const root = protobuf.Root.fromJSON({
  nested: {
    apipb: {
      nested: {
        AddPeerRequest: { fields: { peer: { type: 'Peer', id: 1 } } },
        Peer: {
          fields: {
            conf: { type: 'PeerConf', id: 2 },
            timers: { type: 'Timers', id: 6 },
            gracefulRestart: { type: 'GracefulRestart', id: 9 },
            afiSafis: { rule: 'repeated', type: 'AfiSafi', id: 10 },
          },
        },
        PeerConf: {
          fields: {
            authPassword: { type: 'string', id: 1 },
            neighborAddress: { type: 'string', id: 4 },
            peerAsn: { type: 'uint32', id: 5 },
          },
        },
        Timers: { fields: { config: { type: 'TimersConfig', id: 1 } } },
        TimersConfig: {
          fields: {
            connectRetry: { type: 'uint64', id: 1 },
            holdTime: { type: 'uint64', id: 2 },
            keepaliveInterval: { type: 'uint64', id: 3 },
          },
        },
        GracefulRestart: {
          fields: {
            enabled: { type: 'bool', id: 1 },
            restartTime: { type: 'uint32', id: 2 },
            deferralTime: { type: 'uint32', id: 4 },
            localRestarting: { type: 'bool', id: 10 },
          },
        },
        AfiSafi: {
          fields: {
            mpGracefulRestart: { type: 'MpGracefulRestart', id: 1 },
            config: { type: 'AfiSafiConfig', id: 2 },
          },
        },
        MpGracefulRestart: { fields: { config: { type: 'MpGracefulRestartConfig', id: 1 } } },
        MpGracefulRestartConfig: { fields: { enabled: { type: 'bool', id: 1 } } },
        AfiSafiConfig: { fields: { family: { type: 'Family', id: 1 }, enabled: { type: 'bool', id: 2 } } },
        Family: { fields: { afi: { type: 'int32', id: 1 }, safi: { type: 'int32', id: 2 } } },
      },
    },
  },
});
const AddPeerRequest = root.lookupType('apipb.AddPeerRequest');

/** The BGP peer GoBGP should have (SPEC §7.7). */
export interface GrpcPeer {
  address: string;
  asn: number;
  password?: string;
  /** Graceful restart time, s. */
  restartTime: number;
  /** Hold time, s (0 = GoBGP default 90). */
  holdTime?: number;
  /** Connect retry, s (0 = GoBGP default). */
  connectRetry?: number;
}

/**
 * Encoded AddPeerRequest for `p`: both unicast families (AFI_IP, AFI_IP6 × SAFI_UNICAST) with MP graceful restart,
 * graceful restart enabled with `restartTime`, deferral 1 s, localRestarting (SPEC §7.7).
 */
export function addPeerRequest(p: GrpcPeer): Uint8Array {
  const family = (afi: number): object => ({
    mpGracefulRestart: { config: { enabled: true } },
    config: { family: { afi, safi: 1 }, enabled: true },
  });
  const timers: Record<string, number> = {};
  if (p.connectRetry) timers.connectRetry = p.connectRetry;
  if (p.holdTime) {
    timers.holdTime = p.holdTime;
    timers.keepaliveInterval = Math.max(1, Math.floor(p.holdTime / 3));
  }
  const peer = {
    conf: { authPassword: p.password ?? '', neighborAddress: p.address, peerAsn: p.asn },
    ...(Object.keys(timers).length ? { timers: { config: timers } } : {}),
    gracefulRestart: { enabled: true, restartTime: p.restartTime, deferralTime: 1, localRestarting: true },
    afiSafis: [family(1), family(2)],
  };
  return AddPeerRequest.encode(AddPeerRequest.fromObject({ peer })).finish();
}

/** Error of a gRPC call: the gRPC status code (grpc-js `status`) and its message. */
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
 * Unary gRPC call `method` (e.g. `/apipb.GobgpApi/AddPeer`) on `target` (`host:port`, plaintext — GoBGP's API has no
 * TLS by default) with an already encoded request; resolves with the raw response message.
 * @throws GrpcError with the gRPC status code (`UNAVAILABLE` when nothing listens, `DEADLINE_EXCEEDED` after
 *   `timeoutMs`, or the server's code).
 */
export function grpcUnary(target: string, method: string, request: Uint8Array, timeoutMs = 5000): Promise<Buffer> {
  const client = new Client(target, credentials.createInsecure());
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest<Uint8Array, Buffer>(
      method,
      (m) => Buffer.from(m),
      (b) => b,
      request,
      new Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err: ServiceError | null, res?: Buffer) => {
        client.close();
        if (err)
          reject(new GrpcError(err.code, `gRPC ${method} on ${target}: ${GrpcStatus[err.code]}: ${err.details}`));
        else resolve(res ?? Buffer.alloc(0));
      },
    );
  });
}
