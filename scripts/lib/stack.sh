# Sourced by the scripts that test docker-compose.yml on the prebuilt images
# (IMAGE_TARGET=prebuilt: nothing is pulled). Each run is a compose project
# of its own on free loopback ports, so runs never meet, and
# `stack_cleanup` (on EXIT) takes it down and removes the images it built.
#   source scripts/lib/stack.sh; stack_init test-split

export IMAGE_TARGET=prebuilt

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The split command, as scripts/build-prebuilt compiles it.
split=target/x86_64-unknown-linux-gnu/release/split

# Names the project (COMPOSE_PROJECT_NAME too, for scripts/up), publishes
# ingress (`$ingress`), Envoy's admin (`$admin`), Prometheus (`$prometheus`)
# and the Lambda's Invoke API on free loopback ports, and makes `scratch`, a
# folder for the run's files, removed with the stack.
stack_init() {
  project=greeter-mesh-$1-$$ # $1: test-<name>
  export COMPOSE_PROJECT_NAME=$project
  scratch=$(mktemp -d)
  INGRESS_PORT=$(free_port)
  ENVOY_ADMIN_PORT=$(free_port)
  LAMBDA_PORT=$(free_port)
  PROMETHEUS_PORT=$(free_port)
  export INGRESS_PORT ENVOY_ADMIN_PORT LAMBDA_PORT PROMETHEUS_PORT
  ingress="http://127.0.0.1:$INGRESS_PORT/"
  admin="http://127.0.0.1:$ENVOY_ADMIN_PORT"
  prometheus="http://127.0.0.1:$PROMETHEUS_PORT"
  trap stack_cleanup EXIT
}

compose() { docker compose --project-name "$project" --file docker-compose.yml "$@"; }

# Builds every image, or prints the build's output and fails.
stack_build() {
  local output
  output=$(compose build 2>&1) || { printf '%s\n' "$output"; fail "docker compose build failed"; }
}

# Starts the stack and waits for every health check, or shows why not.
stack_up() {
  compose up --detach --wait --wait-timeout 120 --pull never >/dev/null 2>&1 ||
    { compose ps --all; compose logs --tail 20; fail "the stack did not become healthy within 120 s"; }
}

# Waits up to 60 s for a service started again to pass its health check.
stack_wait_healthy() {
  local deadline=$((SECONDS + 60))
  until [ "$(docker inspect --format '{{.State.Health.Status}}' "$(container "$1")")" = healthy ]; do
    [ $SECONDS -lt $deadline ] || fail "$1 was not healthy 60 s after docker compose start"
    sleep 1
  done
}

# The Lambda's share Envoy holds, in percent, from its runtime.
envoy_share() {
  curl -fsS "$admin/runtime" | python3 -c '
import json, sys
value = json.load(sys.stdin)["entries"].get("greeter.split.greeter-lambda", {}).get("final_value")
print("none" if value is None else "%g" % (int(value) / 100))'
}

# Watches Envoy's share in the background, polling every 5 ms for at most
# $2 seconds: each change, with the moment it was seen (`HH:MM:SS share`),
# a line in $1. Sets `envoy_watcher` to its PID; fails if nothing is seen.
watch_envoy_share() {
  python3 -u -c '
import json, sys, time, urllib.request
last = None
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    entries = json.load(urllib.request.urlopen(sys.argv[1] + "/runtime"))["entries"]
    value = entries.get("greeter.split.greeter-lambda", {}).get("final_value")
    share = "none" if value is None else "%g" % (int(value) / 100)
    if share != last:
        print(time.strftime("%H:%M:%S"), share)
        last = share
    time.sleep(0.005)' "$admin" "$2" > "$1" 2>/dev/null &
  envoy_watcher=$!
  for _ in $(seq 1 250); do [ -s "$1" ] && break; sleep 0.02; done
  [ -s "$1" ] || fail "cannot watch Envoy's runtime"
}

# Restarts the Lambda failing: its function's NAME_URL points nowhere, so
# every invocation is a function error (200 with X-Amz-Function-Error).
lambda_failing() {
  cat > "$scratch/failing-lambda.yml" <<'YAML'
services:
  lambda:
    environment:
      NAME_URL: http://name:1
YAML
  compose --file "$scratch/failing-lambda.yml" \
    up --detach --no-deps --wait --wait-timeout 60 --pull never lambda >/dev/null 2>&1 || fail "cannot restart the Lambda failing"
}

# An instant query to the stack's Prometheus: each series of the answer as
# its labels (JSON) and value, one a line; fails on an error answer.
promql() {
  curl -fsS --max-time 10 -G --data-urlencode "query=$1" "$prometheus/api/v1/query" | python3 -c '
import json, sys
answer = json.load(sys.stdin)
if answer["status"] != "success":
    sys.exit(f"query failed: {answer}")
for series in answer["data"]["result"]:
    print(json.dumps(series["metric"], sort_keys=True), series["value"][1])'
}

# One of Envoy's counters by its exact name; 0 while Envoy has none yet.
envoy_stat() {
  curl -fsS -G --data-urlencode "filter=^$1\$" "$admin/stats" | awk -F': ' '{ print $2 } END { if (NR == 0) print 0 }'
}

# Docker sets each container's HOSTNAME to its id's first 12 characters,
# which every answer prints.
container() { compose ps --all --quiet "$1"; }
host() { local id; id=$(container "$1"); printf '%s' "${id:0:12}"; }
# Every running container of the stack with its id and start time, to tell
# whether any was restarted or recreated.
snapshot() { compose ps --quiet | xargs docker inspect --format '{{.Name}} {{.Id}} {{.State.StartedAt}}' | sort; }

# One of service-core/src/words.rs's lists (NAMES, GREETINGS) as a regex
# alternation, checked for its length.
words() {
  local list count
  list=$(awk -v list="$1" '
    $0 ~ "pub const " list ":" { on = 1 }
    on { while (match($0, /"[^"]+"/)) { print substr($0, RSTART + 1, RLENGTH - 2); $0 = substr($0, RSTART + RLENGTH) } }
    on && /\];/ { exit }' service-core/src/words.rs)
  count=$(wc -l <<<"$list")
  [ "$count" -eq "$2" ] || fail "read $count words of $1 in service-core/src/words.rs, not $2"
  paste -sd'|' <<<"$list"
}

# Removes the images by the tags compose gave them (`<project>-<service>`),
# never by id: an id can be shared with another tag, which is then kept.
# The classic builder's untagged intermediate images go with the last tag,
# but for the stages it walked that no image was built on (classic-builder;
# prebuilt, walked on the way to lambda-prebuilt): those, left dangling, are
# pruned by their labels.
stack_cleanup() {
  local status=$? tags err
  jobs -p | xargs -r kill 2>/dev/null || true # load or watchers left running
  rm -rf "$scratch"
  compose unpause >/dev/null 2>&1 || true # a paused container would not stop
  compose down --volumes --timeout 20 >/dev/null 2>&1 || true
  tags=$(compose config --images 2>/dev/null | while read -r tag; do
    docker image inspect "$tag" >/dev/null 2>&1 && echo "$tag"
  done)
  if [ -n "$tags" ]; then
    # shellcheck disable=SC2086 # one tag per word
    err=$(docker image rm $tags 2>&1 >/dev/null) ||
      printf '%s: could not remove the images it built (%s): %s\n' "$project" "$(paste -sd' ' <<<"$tags")" "$err" >&2
  fi
  for label in greeter-mesh.image-target org.opencontainers.image.source=https://github.com/example/greeter-mesh-rs; do
    docker image prune --force --filter "label=$label" >/dev/null 2>&1 || true
  done
  return "$status"
}
