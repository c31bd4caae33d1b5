#!/usr/bin/env bash
# Runs the built image the way the chart does (read-only root file system, uid 1000, no capabilities,
# no privilege escalation, a tmpfs /tmp) as two shards against the repository's CPH simulator, then checks:
# the image's own HEALTHCHECK turns healthy, /readyz answers 200 once every target was polled, the two
# shards split the targets between them with no overlap, and cph_build_info carries the revision.
# Usage: image-smoke.sh IMAGE REVISION    (from the repository root, after npm ci)
set -euo pipefail
IMAGE=$1
REVISION=$2
SIM_PORT=18443
WORK=$(mktemp -d)
SIM_PID=""

cleanup() {
  docker rm -f cph-shard-0 cph-shard-1 >/dev/null 2>&1 || true
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "--- version and config check"
docker run --rm "$IMAGE" --version
mkdir -p "$WORK/secrets"
# The simulator's well-known demo keys (src/simulator/demo-credentials.ts); they open nothing else.
printf '%s' DEMOAK0000000000CPHX > "$WORK/secrets/ak"
printf '%s' DEMOSECRETKEYNOTREAL00000000000000000CPH > "$WORK/secrets/sk"
chmod 0444 "$WORK/secrets/ak" "$WORK/secrets/sk"
{
  echo "targets:"
  for project in d0000000000000000000000000000001 d0000000000000000000000000000002; do
    for region in cn-north-4 cn-east-3 ap-southeast-1; do
      printf '  - {project_id: %s, region: %s, endpoint: "http://127.0.0.1:%s"}\n' "$project" "$region" "$SIM_PORT"
    done
  done
  cat <<YAML
credentials:
  access_key_file: /etc/cph-exporter/secrets/ak
  secret_key_file: /etc/cph-exporter/secrets/sk
poll:
  schedule: "*/5 * * * * *"
  timeout: 4s
YAML
} > "$WORK/config.yml"
chmod 0444 "$WORK/config.yml"
RUN_FLAGS=(--read-only --user 1000:1000 --cap-drop ALL --security-opt no-new-privileges --tmpfs /tmp:size=16m
  -v "$WORK/config.yml:/etc/cph-exporter/config.yml:ro" -v "$WORK/secrets:/etc/cph-exporter/secrets:ro")
docker run --rm "${RUN_FLAGS[@]}" "$IMAGE" --config.file=/etc/cph-exporter/config.yml --check-config

echo "--- simulator"
npx tsx src/simulator/main.ts --listen=127.0.0.1:$SIM_PORT > "$WORK/simulator.log" 2>&1 &
SIM_PID=$!

echo "--- two shards: index 0 by flag, index 1 from the host name (as in a StatefulSet)"
docker run -d --name cph-shard-0 --network host "${RUN_FLAGS[@]}" \
  -e CPH_HEALTHCHECK_URL=http://127.0.0.1:19870/healthz --health-interval=2s \
  "$IMAGE" --config.file=/etc/cph-exporter/config.yml --web.listen-address=127.0.0.1:19870 --shard.count=2 --shard.index=0
docker run -d --name cph-shard-1 --network host "${RUN_FLAGS[@]}" -e HOSTNAME=cph-exporter-1 \
  -e CPH_HEALTHCHECK_URL=http://127.0.0.1:19871/healthz --health-interval=2s \
  "$IMAGE" --config.file=/etc/cph-exporter/config.yml --web.listen-address=127.0.0.1:19871 --shard.count=2

wait_for() { # description, command...
  local what=$1 n=0
  shift
  until "$@" >/dev/null 2>&1; do
    n=$((n + 1))
    if [ "$n" -gt 90 ]; then
      echo "timed out waiting for $what"
      docker logs cph-shard-0 || true
      docker logs cph-shard-1 || true
      cat "$WORK/simulator.log"
      exit 1
    fi
    sleep 1
  done
  echo "ok: $what"
}
healthy() { [ "$(docker inspect --format '{{.State.Health.Status}}' "$1")" = healthy ]; }
for i in 0 1; do
  wait_for "shard $i HEALTHCHECK healthy" healthy "cph-shard-$i"
  wait_for "shard $i /readyz 200" curl -fsS "http://127.0.0.1:1987$i/readyz"
done

echo "--- the shards split the targets"
curl -fsS http://127.0.0.1:19870/metrics > "$WORK/m0.txt"
curl -fsS http://127.0.0.1:19871/metrics > "$WORK/m1.txt"
grep -q '^cph_shard_info{shard_index="0",shard_count="2"} 1$' "$WORK/m0.txt"
grep -q '^cph_shard_info{shard_index="1",shard_count="2"} 1$' "$WORK/m1.txt"
grep -q "^cph_build_info{.*revision=\"$REVISION\"" "$WORK/m0.txt"
grep '^cph_up{' "$WORK/m0.txt" | sort > "$WORK/up0.txt"
grep '^cph_up{' "$WORK/m1.txt" | sort > "$WORK/up1.txt"
cat "$WORK/up0.txt" "$WORK/up1.txt"
[ "$(cat "$WORK/up0.txt" "$WORK/up1.txt" | wc -l)" -eq 6 ] || { echo "expected 6 targets over both shards"; exit 1; }
[ -z "$(comm -12 "$WORK/up0.txt" "$WORK/up1.txt")" ] || { echo "a target is polled by both shards"; exit 1; }
if [ ! -s "$WORK/up0.txt" ] || [ ! -s "$WORK/up1.txt" ]; then echo "a shard owns no target"; exit 1; fi
if grep -v ' 1$' "$WORK/up0.txt" "$WORK/up1.txt"; then echo "a target is not up"; exit 1; fi
echo "image smoke test passed"
