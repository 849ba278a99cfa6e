#!/usr/bin/env bash
# Deploy codestream to Azure in one command: infrastructure (infra/main.bicep), the Function
# App's code, the Socket.IO hub's event handler, and the static site. See docs/DEPLOY.md.
#
# Safe to run again: every step converges to the same state. It never prints a key or a
# secret: the Function App's socketio_extension key is read inside a Bicep deployment
# (infra/modules/socketio-hub.bicep), the server secret goes to Azure through a private
# temporary parameters file, and the Static Web App's deployment token reaches the SWA CLI
# through its environment only.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

MAIN_TEMPLATE="$REPO_ROOT/infra/main.bicep"
HUB_TEMPLATE="$REPO_ROOT/infra/modules/socketio-hub.bicep"
MAIN_DEPLOYMENT=codestream-main
HUB_DEPLOYMENT=codestream-hub
# What the Function App runs: its entry point, host settings, dependencies, the Azure adapter
# and the core (the same set .funcignore leaves in for `func` and azd).
API_FILES=(function_app.py host.json requirements.txt azure_adapter shared)
SITE_DIR="$REPO_ROOT/static_site"
SWA_CLI_PACKAGE=@azure/static-web-apps-cli@2.0.10
# Output names of infra/main.bicep that later steps use.
OUTPUT_NAMES=(FUNCTION_APP_NAME API_BASE_URL STATIC_WEB_APP_NAME STATIC_SITE_URL WEB_PUBSUB_NAME CODESTREAM_HUB)

RESOURCE_GROUP=${AZURE_RESOURCE_GROUP:-rg-codestream}
LOCATION=${AZURE_LOCATION:-westeurope}
SWA_LOCATION=${STATIC_WEB_APP_LOCATION:-westeurope}
HUB=${CODESTREAM_HUB:-codestream}
SKU=${WEB_PUBSUB_SKU:-Free_F1}
CAPACITY=${WEB_PUBSUB_CAPACITY:-1}
ENV_NAME=${AZURE_ENV_NAME:-codestream}
EXTRA_ORIGINS=${CODESTREAM_EXTRA_ORIGINS:-}
KEY_WAIT_SECONDS=${CODESTREAM_KEY_WAIT_SECONDS:-600}
WHAT_IF=false
STEPS=()
declare -A OUT=()

usage() {
  cat <<'EOF'
Usage: infra/deploy.sh [options] [step ...]

Provision and deploy codestream to Azure. Steps, in order (default: all):
  infra   create the resource group and deploy infra/main.bicep: Web PubSub for Socket.IO,
          the Function App (Flex Consumption), storage, monitoring, the Static Web App
  api     zip-deploy the Function App code (function_app.py, host.json, requirements.txt,
          azure_adapter/, shared/) with a remote build
  hub     wait for the Function App's socketio_extension system key, then deploy the hub's
          event handler (infra/modules/socketio-hub.bicep); the key never leaves Azure
  site    build static_site (npm ci && npm run build), set the API base URL in
          dist/config.json, and publish dist/ to the Static Web App
  all     infra, api, hub, site

Options:
  -g, --resource-group NAME  resource group (env AZURE_RESOURCE_GROUP; default rg-codestream)
  -l, --location REGION      region of the group and the resources (env AZURE_LOCATION;
                             default westeurope); it must offer Flex Consumption
      --swa-location REGION  Static Web App region: westus2, centralus, eastus2, westeurope
                             or eastasia (env STATIC_WEB_APP_LOCATION; default westeurope)
      --hub NAME             Socket.IO hub (env CODESTREAM_HUB; default codestream)
      --sku SKU              Web PubSub tier: Free_F1, Standard_S1 or Premium_P1
                             (env WEB_PUBSUB_SKU; default Free_F1)
      --units N              Web PubSub units for Standard_S1/Premium_P1: 1, 2, 5, 10, 20, 50
                             or 100 (env WEB_PUBSUB_CAPACITY; default 1)
      --env-name NAME        environment name hashed into resource names (env AZURE_ENV_NAME;
                             default codestream)
      --what-if              show what the infra step would change, and stop
  -h, --help                 show this help

Environment:
  CODESTREAM_SECRET            the server secret that signs writer keys (32+ characters).
                               If unset, the Function App's current one is kept; on a first
                               deployment a random one is generated. It is never printed.
  CODESTREAM_EXTRA_ORIGINS     more browser origins allowed to call the API, comma-separated
                               (e.g. https://code.example.com); the Static Web App's is always in
  CODESTREAM_KEY_WAIT_SECONDS  how long the hub step waits for the key (default 600)

Needs: bash, the Azure CLI signed in (az login), Python 3, curl; Node.js and npm for `site`.
Later steps read the infra step's outputs from the resource group's deployment
"codestream-main" (or from the azd environment when run as an azd hook).
EOF
}

log() { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() {
  printf 'deploy.sh: error: %s\n' "$*" >&2
  exit 1
}

need_value() {
  # $1: option, $2: number of arguments left including the option
  [[ $2 -ge 2 ]] || die "$1 needs a value (see --help)"
}

require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required but not installed (see docs/DEPLOY.md)"
  done
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case $1 in
      -h | --help)
        usage
        exit 0
        ;;
      -g | --resource-group)
        need_value "$1" $#
        RESOURCE_GROUP=$2
        shift 2
        ;;
      -l | --location)
        need_value "$1" $#
        LOCATION=$2
        shift 2
        ;;
      --swa-location)
        need_value "$1" $#
        SWA_LOCATION=$2
        shift 2
        ;;
      --hub)
        need_value "$1" $#
        HUB=$2
        shift 2
        ;;
      --sku)
        need_value "$1" $#
        SKU=$2
        shift 2
        ;;
      --units)
        need_value "$1" $#
        CAPACITY=$2
        shift 2
        ;;
      --env-name)
        need_value "$1" $#
        ENV_NAME=$2
        shift 2
        ;;
      --what-if)
        WHAT_IF=true
        shift
        ;;
      all | infra | api | hub | site)
        STEPS+=("$1")
        shift
        ;;
      *)
        die "unknown argument '$1' (see --help)"
        ;;
    esac
  done
  if [[ ${#STEPS[@]} -eq 0 ]]; then
    STEPS=(all)
  fi
}

WORK_DIR=""
cleanup() {
  if [[ -n $WORK_DIR && -d $WORK_DIR ]]; then
    rm -rf -- "$WORK_DIR"
  fi
}

# Fill OUT from a JSON object of deployment outputs ({"NAME": {"type": ..., "value": ...}}).
read_outputs_file() {
  local name value
  python3 -c '
import json, sys
outputs = json.load(open(sys.argv[1])) or {}
for name, item in outputs.items():
    print(name + "\t" + str(item.get("value", "")))
' "$1" >"$WORK_DIR/outputs.tsv"
  while IFS=$'\t' read -r name value; do
    OUT[$name]=$value
  done <"$WORK_DIR/outputs.tsv"
}

# Make the infra step's outputs available to the later steps.
ensure_outputs() {
  if [[ ${#OUT[@]} -gt 0 ]]; then
    return
  fi
  local name from_env=true
  for name in "${OUTPUT_NAMES[@]}"; do
    [[ -n ${!name:-} ]] || from_env=false
  done
  if $from_env; then
    # Run as an azd hook: azd exports the template's outputs as environment variables.
    for name in "${OUTPUT_NAMES[@]}"; do
      OUT[$name]=${!name}
    done
    return
  fi
  log "Reading the outputs of deployment '$MAIN_DEPLOYMENT' in '$RESOURCE_GROUP'"
  az deployment group show --resource-group "$RESOURCE_GROUP" --name "$MAIN_DEPLOYMENT" \
    --query properties.outputs --output json --only-show-errors >"$WORK_DIR/outputs.json" ||
    die "no deployment '$MAIN_DEPLOYMENT' in '$RESOURCE_GROUP': run the infra step first"
  read_outputs_file "$WORK_DIR/outputs.json"
}

out() {
  [[ -n ${OUT[$1]:-} ]] || die "the infra deployment has no output '$1'"
  printf '%s' "${OUT[$1]}"
}

# Keep the server secret stable across runs: changing it invalidates every writer key.
resolve_secret() {
  if [[ -n ${CODESTREAM_SECRET:-} ]]; then
    info "CODESTREAM_SECRET: taken from the environment"
  else
    local app
    app=$(az resource list --resource-group "$RESOURCE_GROUP" --tag codestream-role=api \
      --query '[0].name' --output tsv --only-show-errors 2>/dev/null || true)
    if [[ -n $app ]]; then
      CODESTREAM_SECRET=$(az functionapp config appsettings list --resource-group "$RESOURCE_GROUP" \
        --name "$app" --query "[?name=='CODESTREAM_SECRET'].value | [0]" --output tsv \
        --only-show-errors 2>/dev/null || true)
    fi
    if [[ -n ${CODESTREAM_SECRET:-} && ${#CODESTREAM_SECRET} -ge 32 ]]; then
      info "CODESTREAM_SECRET: keeping the one the Function App already has"
    else
      CODESTREAM_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
      info "CODESTREAM_SECRET: generated a new random one (stored only in the Function App's settings)"
    fi
  fi
  [[ ${#CODESTREAM_SECRET} -ge 32 ]] || die "CODESTREAM_SECRET must be at least 32 characters long"
}

# The secret goes to Azure in a parameters file only this user can read, never on a command
# line; the other typed values (origins, units) ride along as JSON.
write_parameters_file() {
  (
    umask 077
    CODESTREAM_SECRET=$CODESTREAM_SECRET python3 -c '
import json, os, sys
origins = [o.strip() for o in sys.argv[2].split(",") if o.strip()]
if sys.argv[3] not in ("1", "2", "5", "10", "20", "50", "100"):
    sys.exit(f"deploy.sh: error: Web PubSub units must be 1, 2, 5, 10, 20, 50 or 100, not {sys.argv[3]!r}")
for origin in origins:
    if not origin.startswith(("https://", "http://")) or origin.count("/") != 2:
        sys.exit(f"deploy.sh: error: CODESTREAM_EXTRA_ORIGINS: {origin!r} is not an origin like https://example.com")
document = {
    "contentVersion": "1.0.0.0",
    "parameters": {
        "codestreamSecret": {"value": os.environ["CODESTREAM_SECRET"]},
        "extraAllowedOrigins": {"value": origins},
        "webPubSubCapacity": {"value": int(sys.argv[3])},
    },
}
with open(sys.argv[1], "w") as handle:
    json.dump(document, handle)
' "$WORK_DIR/main.parameters.json" "$EXTRA_ORIGINS" "$CAPACITY"
  )
}

step_infra() {
  if [[ $(az group exists --name "$RESOURCE_GROUP" --only-show-errors) == true ]]; then
    log "Resource group '$RESOURCE_GROUP' exists"
  elif $WHAT_IF; then
    die "resource group '$RESOURCE_GROUP' does not exist yet: what-if needs it (run without --what-if)"
  else
    log "Creating resource group '$RESOURCE_GROUP' in $LOCATION"
    az group create --name "$RESOURCE_GROUP" --location "$LOCATION" --tags app=codestream \
      --only-show-errors --output none
  fi
  resolve_secret
  write_parameters_file
  local args=(
    --resource-group "$RESOURCE_GROUP"
    --name "$MAIN_DEPLOYMENT"
    --template-file "$MAIN_TEMPLATE"
    --parameters "@$WORK_DIR/main.parameters.json"
    --parameters environmentName="$ENV_NAME" location="$LOCATION"
    staticWebAppLocation="$SWA_LOCATION" hubName="$HUB" webPubSubSku="$SKU"
    --only-show-errors
  )
  if $WHAT_IF; then
    log "What-if of infra/main.bicep in '$RESOURCE_GROUP'"
    az deployment group what-if "${args[@]}"
    exit 0
  fi
  log "Deploying infra/main.bicep to '$RESOURCE_GROUP' (several minutes the first time)"
  az deployment group create "${args[@]}" --query properties.outputs --output json \
    >"$WORK_DIR/outputs.json"
  read_outputs_file "$WORK_DIR/outputs.json"
  info "Function App:   $(out FUNCTION_APP_NAME) ($(out API_BASE_URL))"
  info "Web PubSub:     $(out WEB_PUBSUB_NAME), hub '$(out CODESTREAM_HUB)'"
  info "Static Web App: $(out STATIC_WEB_APP_NAME) ($(out STATIC_SITE_URL))"
}

step_api() {
  local app item
  for item in "${API_FILES[@]}"; do
    [[ -e $REPO_ROOT/$item ]] || die "$item is missing: the Function App code is not in this checkout"
  done
  ensure_outputs
  app=$(out FUNCTION_APP_NAME)
  log "Packaging the Function App (${API_FILES[*]})"
  (cd "$REPO_ROOT" && python3 -c '
import os, sys, zipfile
target, items = sys.argv[1], sys.argv[2:]
with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
    for item in items:
        if os.path.isfile(item):
            archive.write(item)
            continue
        for folder, subfolders, files in os.walk(item):
            subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
            for name in sorted(files):
                if not name.endswith((".pyc", ".pyo")):
                    archive.write(os.path.join(folder, name))
' "$WORK_DIR/api.zip" "${API_FILES[@]}")
  log "Deploying the code to '$app' (remote build of requirements.txt; a few minutes)"
  az functionapp deployment source config-zip --resource-group "$RESOURCE_GROUP" --name "$app" \
    --src "$WORK_DIR/api.zip" --build-remote true --timeout 900 --only-show-errors --output none
}

step_hub() {
  ensure_outputs
  local app hub wps api_url has_key deadline
  app=$(out FUNCTION_APP_NAME)
  hub=$(out CODESTREAM_HUB)
  wps=$(out WEB_PUBSUB_NAME)
  api_url=$(out API_BASE_URL)
  log "Waiting for the socketio_extension system key of '$app' (made when the host starts the Socket.IO extension)"
  deadline=$((SECONDS + KEY_WAIT_SECONDS))
  while true; do
    # A request wakes a scaled-to-zero host; the answer itself does not matter.
    curl --silent --output /dev/null --max-time 30 "$api_url/" || true
    # Ask only whether the key exists: its value is never read here.
    has_key=$(az functionapp keys list --resource-group "$RESOURCE_GROUP" --name "$app" \
      --query 'systemKeys.socketio_extension != null' --output tsv --only-show-errors 2>/dev/null || true)
    if [[ ${has_key,,} == true ]]; then
      break
    fi
    if [[ $SECONDS -ge $deadline ]]; then
      die "no socketio_extension key after ${KEY_WAIT_SECONDS}s: did the api step succeed, and does host.json use the Preview extension bundle?"
    fi
    info "not there yet; checking again in 15 s"
    sleep 15
  done
  log "Wiring hub '$hub' of '$wps' to $api_url/runtime/webhooks/socketio"
  az deployment group create --resource-group "$RESOURCE_GROUP" --name "$HUB_DEPLOYMENT" \
    --template-file "$HUB_TEMPLATE" \
    --parameters webPubSubName="$wps" functionAppName="$app" hubName="$hub" \
    --only-show-errors --output none
}

step_site() {
  require node npm npx
  local swa api_url token
  [[ -f $SITE_DIR/package.json ]] || die "static_site/package.json is missing: the site is not in this checkout"
  ensure_outputs
  swa=$(out STATIC_WEB_APP_NAME)
  api_url=$(out API_BASE_URL)
  log "Building static_site (npm ci && npm run build)"
  (cd "$SITE_DIR" && npm ci --no-audit --no-fund && npm run build)
  [[ -d $SITE_DIR/dist ]] || die "the build did not produce static_site/dist"
  log "Setting apiBaseUrl in static_site/dist/config.json to $api_url"
  python3 -c '
import json, os, sys
path, url = sys.argv[1], sys.argv[2]
config = {}
if os.path.exists(path):
    with open(path) as handle:
        config = json.load(handle)  # the build copies public/config.json: keep its other settings
config["apiBaseUrl"] = url
with open(path, "w") as handle:
    json.dump(config, handle, indent=2)
    handle.write("\n")
' "$SITE_DIR/dist/config.json" "$api_url"
  token=$(az staticwebapp secrets list --resource-group "$RESOURCE_GROUP" --name "$swa" \
    --query properties.apiKey --output tsv --only-show-errors)
  [[ -n $token ]] || die "could not read the deployment token of '$swa'"
  log "Publishing static_site/dist to '$swa'"
  (cd "$SITE_DIR" && SWA_CLI_DEPLOYMENT_TOKEN=$token npx --yes "$SWA_CLI_PACKAGE" deploy ./dist --env production)
  token=""
}

main() {
  parse_args "$@"
  require az python3 curl
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/codestream-deploy.XXXXXX")
  chmod 700 "$WORK_DIR"
  trap cleanup EXIT
  az account show --output none --only-show-errors 2>/dev/null || die "not signed in to Azure: run 'az login' first"

  local step
  for step in "${STEPS[@]}"; do
    case $step in
      all)
        # One per line: `set -e` does not apply inside functions run as part of `&&` lists.
        step_infra
        step_api
        step_hub
        step_site
        ;;
      infra) step_infra ;;
      api) step_api ;;
      hub) step_hub ;;
      site) step_site ;;
    esac
  done
  if [[ ${#OUT[@]} -gt 0 ]]; then
    log "Done. Open $(out STATIC_SITE_URL) to start a room; the API is $(out API_BASE_URL)."
  fi
}

main "$@"
