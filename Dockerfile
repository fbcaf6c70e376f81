# syntax=docker/dockerfile:1
# The Hybridnet image: one program (`hybridnet manager|webhook|daemon|install-cni`) on Node.js 20, plus the datapath
# tools the daemon runs. Build: docker build -t <registry>/hybridnet/hybridnet:<tag> .
# Webhook certificates are never part of the image (D8): the chart generates them or cert-manager issues them.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY tools/build-cni.ts ./tools/build-cni.ts
COPY deploy/image ./deploy/image
RUN sh deploy/image/build.sh /out

FROM node:20-bookworm-slim
# iproute2 (ip, bridge), iptables (legacy + nft; entrypoint.sh picks the host's), ipset, conntrack, iputils-ping
# (the daemon's connectivity check), arping (gratuitous ARP for underlay pods), ipv6toolkit (na6: unsolicited NA for IPv6 underlay pods), ndisc6 (IPv6 gateway check of underlay pods), gobgpd (gobgpd + gobgp CLI), containernetworking-plugins (loopback, bandwidth
# copied to the host by install-cni), util-linux (nsenter), kmod (modprobe for iptables modules).
RUN apt-get update \
  && apt-get install -y --no-install-recommends \
    iproute2 iptables ipset conntrack iputils-ping arping ipv6toolkit ndisc6 gobgpd containernetworking-plugins util-linux kmod ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && groupadd --gid 65532 nonroot \
  && useradd --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin nonroot
COPY --from=build /out /opt/hybridnet
RUN ln -s /opt/hybridnet/image/entrypoint.sh /usr/local/bin/hybridnet
ENV NODE_ENV=production
# Manager, webhook and the init Job run as this user (the chart sets runAsNonRoot); the daemon and install-cni run
# as root (runAsUser: 0 in the chart).
USER 65532:65532
ENTRYPOINT ["/opt/hybridnet/image/entrypoint.sh"]
CMD ["--help"]
