#!/bin/sh
# Re-captures the ping samples in this directory. Run as root on a scratch Linux machine with iproute2,
# iputils-ping and busybox installed. It creates its own network namespace and veth pair and only ever pings
# addresses inside it (10.213.9.1/30 on the host side, 10.213.9.2/30 in the namespace, ::1 in the namespace);
# it deletes them at the end. Outage bounds are written to <sample>.outage as wall-clock unix times (date +%s.%N)
# taken immediately before and after the commands that start and end the outage.
set -eu
NS=vmm-probe-test
H=vmmp-h
N=vmmp-n
OUT=$(dirname "$0")
HTTP_PROBE="$OUT/../../src/probe/http_probe.sh"
nsx() { ip netns exec "$NS" "$@"; }
now() { date +%s.%N; }

setup() {
  ip netns add "$NS"
  ip link add "$H" type veth peer name "$N"
  ip link set "$N" netns "$NS"
  ip addr add 10.213.9.1/30 dev "$H"
  ip link set "$H" up
  nsx ip addr add 10.213.9.2/30 dev "$N"
  nsx ip link set "$N" up
  nsx ip link set lo up
  ping -c 1 -n -W 2 10.213.9.2 >/dev/null
}
cleanup() {
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$H" 2>/dev/null || true
}
trap cleanup EXIT

# blackhole <sample> <delay s> <length s> <ping argv...>: runs ping in the background; after <delay> adds a blackhole
# route for the prober's address inside the namespace (echo requests still arrive, the replies are dropped, as when a
# VM is paused), removes it <length> later.
blackhole() {
  name=$1 delay=$2 len=$3
  shift 3
  "$@" >"$OUT/$name.txt" 2>&1 &
  pid=$!
  sleep "$delay"
  a0=$(now); nsx ip route add blackhole 10.213.9.1/32; a1=$(now)
  sleep "$len"
  d0=$(now); nsx ip route del blackhole 10.213.9.1/32; d1=$(now)
  wait "$pid" || true
  printf 'add_start=%s\nadd_end=%s\ndel_start=%s\ndel_end=%s\n' "$a0" "$a1" "$d0" "$d1" >"$OUT/$name.outage"
}

cleanup
setup

# iputils, no outage.
ping -D -O -n -i 0.02 -W 1 -w 2 10.213.9.2 >"$OUT/iputils-normal.txt" 2>&1 || true
# iputils, replies blackholed for about 0.18 s, 0.73 s and 2.5 s.
blackhole iputils-blackhole-180ms 1 0.18 ping -D -O -n -i 0.02 -W 1 -w 3 10.213.9.2
blackhole iputils-blackhole-730ms 1.5 0.73 ping -D -O -n -i 0.02 -W 1 -w 4 10.213.9.2
blackhole iputils-blackhole-2500ms 1 2.5 ping -D -O -n -i 0.1 -W 1 -w 5 10.213.9.2
# iputils, target link down and its neighbour entry gone: ARP fails, the kernel reports Destination Host Unreachable.
nsx ip link set "$N" down
ip neigh flush dev "$H"
ping -D -O -n -i 0.2 -W 1 -w 4 10.213.9.2 >"$OUT/iputils-host-unreachable.txt" 2>&1 || true
nsx ip link set "$N" up
sleep 1
# iputils, the prober's own link goes down mid-run (the prober runs inside the namespace here, which has no default
# route, so no packet can leave through any other interface). The kernel keeps the connected route (flag linkdown):
# sendmsg succeeds, the requests are silently dropped, ping keeps running and prints "no answer yet" lines.
nsx ping -D -O -n -i 0.02 -W 1 -w 4 10.213.9.1 >"$OUT/iputils-prober-link-down.txt" 2>&1 &
pid=$!
sleep 1
nsx ip link set "$N" down
wait "$pid" || true
nsx ip link set "$N" up
sleep 2
# iputils, IPv6 loopback inside the namespace.
nsx ping -D -O -n -i 0.2 -W 1 -w 1 ::1 >"$OUT/iputils-ipv6-loopback.txt" 2>&1 || true
# iputils, a non-root user below the 2 ms minimum interval.
su nobody -s /bin/sh -c 'ping -D -O -n -i 0.001 -W 1 -w 1 10.213.9.2' >"$OUT/iputils-nonroot-interval.txt" 2>&1 || true

# BusyBox (FEATURE_FANCY_PING), no outage and a 0.73 s blackhole.
busybox ping -i 0.02 -W 1 -w 2 10.213.9.2 >"$OUT/busybox-normal.txt" 2>&1 || true
# The plugin stamps BusyBox lines on receipt; the same is done here by prefixing each line with `date +%s.%N` as it
# arrives through a pipe (BusyBox flushes every line).
blackhole busybox-blackhole-730ms-stamped 1.5 0.73 sh -c \
  'busybox ping -i 0.02 -W 1 -w 4 10.213.9.2 2>&1 | while read -r l; do echo "$(date +%s.%N) $l"; done'
# BusyBox, target unreachable (link down, no neighbour).
nsx ip link set "$N" down
ip neigh flush dev "$H"
busybox ping -i 0.2 -W 1 -w 3 10.213.9.2 >"$OUT/busybox-host-unreachable.txt" 2>&1 || true
nsx ip link set "$N" up
# BusyBox as a user without raw-socket rights.
su nobody -s /bin/sh -c 'busybox ping -i 0.2 -w 1 10.213.9.2' >"$OUT/busybox-nonroot.txt" 2>&1 || true
# BusyBox, IPv6 loopback inside the namespace.
nsx busybox ping -i 0.2 -w 1 ::1 >"$OUT/busybox-ipv6-loopback.txt" 2>&1 || true

# HTTP probe (the plugin's own script, src/probe/http_probe.sh) against a Python HTTP server inside the namespace,
# replies blackholed for about 0.73 s.
ip netns exec "$NS" python3 -m http.server 8080 --bind 10.213.9.2 --directory "$OUT" >/dev/null 2>&1 &
srv=$!
sleep 1
blackhole http-blackhole-730ms 1.5 0.73 sh -c "$(cat "$HTTP_PROBE")" sh http://10.213.9.2:8080/README.md 0.05 4 0.5
# HTTP probe, nothing listening on the port.
sh -c "$(cat "$HTTP_PROBE")" sh http://10.213.9.2:8081/ 0.2 1 0.5 >"$OUT/http-refused.txt" 2>&1 || true
kill "$srv"
wait "$srv" 2>/dev/null || true
