#!/usr/bin/env bash
# Wall time of `x0xctl deploy --parallel 8` of the lean node + runner to N
# hosts on a loopback sshd (separate install roots, supervisor), next to the
# reference's sequential flow for the same N: per node a 15 s rolling gap,
# plus one 30 s post-deploy settle, counting its uploads and checks as zero.
# Runs as root (sshd). Usage: [DEPLOY_ARGS=--strip] [BENCH_LOG_DIR=DIR] [BENCH_COMMAND_SHELL=false] [BENCH_SSHD_EXTRA="sshd_config line"] tests/bench/deploy_bench.sh [build-dir] [N ...]  (default: build 4 8 16)
set -euo pipefail
build="$(cd "${1:-build}" && pwd)"; shift || true
sizes=("${@:-4 8 16}")
work=$(mktemp -d /tmp/x0x-deploy-bench-XXXXXX)
cleanup() {
  for sup in "$work"/*/h*/bin/x0x-supervise; do
    [ -f "$sup" ] && { sh "$sup" stop runner >/dev/null 2>&1 || true; sh "$sup" stop node >/dev/null 2>&1 || true; }
  done
  [ -f "$work/sshd.pid" ] && kill "$(cat "$work/sshd.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p /run/sshd
cat > "$work/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $port
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PasswordAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $work/sshd.pid
Subsystem sftp internal-sftp
MaxStartups 64
MaxSessions 64
${BENCH_SSHD_EXTRA:-}
CFG
/usr/sbin/sshd -f "$work/sshd_config" -E "$work/sshd.log"
for _ in $(seq 100); do [ -s "$work/sshd.pid" ] && break; sleep 0.05; done
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$work/host_key.pub")" > "$work/known_hosts"
printf "%5s %10s %18s %7s  %s\n" hosts deploy reference_min ratio result
for n in ${sizes[@]}; do
  fleet="$work/fleet-$n"; mkdir -p "$fleet"
  ports=($(python3 -c "import socket
ss=[socket.socket() for _ in range(2*$n)]
[s.bind(('127.0.0.1',0)) for s in ss]
print(' '.join(str(s.getsockname()[1]) for s in ss))"))
  {
    printf 'schema_version = 1\nfleet = "bench"\n[defaults]\nssh_port = %s\nssh_identity = "%s"\nknown_hosts = "%s"\nservice_manager = "supervisor"\n%s' \
      "$port" "$work/client_key" "$work/known_hosts" "${BENCH_COMMAND_SHELL:+ssh_command_shell = $BENCH_COMMAND_SHELL
}"
    for i in $(seq 0 $((n - 1))); do
      printf '[[host]]\nname = "h%s"\naddress = "127.0.0.1"\ntransport = "ssh"\napi_addr = "127.0.0.1:%s"\ngossip_addr = "127.0.0.1:%s"\ninstall_root = "%s/h%s"\ntoken_path = "%s/h%s/data/api-token"\n' \
        "$i" "${ports[$((2 * i))]}" "${ports[$((2 * i + 1))]}" "$fleet" "$i" "$fleet" "$i"
      [ "$i" = 0 ] && printf 'roles = ["bootstrap"]\n'
    done
  } > "$fleet/fleet.toml"
  start=$(date +%s.%N)
  if "$build/cli/x0xctl" deploy --fleet "$fleet/fleet.toml" --binary "$build/node/x0x-lean-node" \
       --runner "$build/runners/x0x-test-runner" --parallel 8 --proof-root "$fleet/proofs" --json "$fleet/deploy.json" ${DEPLOY_ARGS:-} \
       > "$fleet/deploy.out" 2>&1; then
    result=healthy; else result="FAILED (see $fleet/deploy.out)"; fi
  end=$(date +%s.%N)
  python3 -c "import sys; n=int(sys.argv[1]); t=float(sys.argv[3])-float(sys.argv[2]); ref=15*n+30; print(f'{n:5d} {t:9.1f}s {ref:17.0f}s {ref/t:6.1f}x  {sys.argv[4]}')" "$n" "$start" "$end" "$result"
  # Where the time went: per wave, the slowest host's phases (the wave's critical path).
  [ -f "$fleet/deploy.json" ] && python3 - "$fleet/deploy.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["deploy"]
waves = {}
for h in d["hosts"]:
    waves.setdefault(h["wave"], []).append(h)
for w in sorted(waves):
    slow = max(waves[w], key=lambda h: h["seconds"])
    print(f"      wave {w} ({len(waves[w])} hosts), slowest {slow['name']} {slow['seconds']:.1f}s: " +
          ", ".join(f"{k} {v:.2f}" for k, v in slow["phases"].items()))
print(f"      artefact uploads: {d['uploads']}")
PY
  # BENCH_LOG_DIR=DIR keeps each run's deploy log (timeline per host) as DIR/deploy-N.log.
  [ -n "${BENCH_LOG_DIR:-}" ] && cat "$fleet"/proofs/*/deploy.log > "$BENCH_LOG_DIR/deploy-$n.log" 2>/dev/null || true
  for sup in "$fleet"/h*/bin/x0x-supervise; do sh "$sup" stop runner >/dev/null 2>&1 || true; sh "$sup" stop node >/dev/null 2>&1 || true; done
done
