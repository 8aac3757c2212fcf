#!/usr/bin/env bash
# Configures an existing Keycloak realm for auth-manager with Keycloak's own admin CLI
# (kcadm.sh), as docs/keycloak.md's checklist describes. Safe to run again: every step
# creates what is missing and sets what differs, and nothing else is touched.
#
#   KEYCLOAK_REALM=example \
#   KEYCLOAK_CONSENT_REDIRECT_URI=https://auth-manager.example.com/v1/offline-token/callback \
#   AUTH_MANAGER_BACKCHANNEL_LOGOUT_URL=http://auth-manager.auth.svc/v1/backchannel-logout \
#   AUTH_MANAGER_SERVICE_CLIENTS=orders-worker,billing-worker \
#   KEYCLOAK_ADMIN_PASSWORD=… scripts/keycloak-setup.sh
#
# Steps, each checked afterwards by `auth-manager doctor` (the check is named):
#   1. the service's client KEYCLOAK_CLIENT_ID: confidential, standard flow (the consent
#      redirect URI allowed), service account on, password grant off   [client_credentials]
#   2. its back-channel logout URL, with "session required" on       [backchannel_logout]
#   3. its service account's realm-management roles: view-users, manage-users,
#      query-users, query-clients, view-clients, view-realm    [service_account_roles,
#                                        offline_idle_timeout, refresh_token_rotation]
#   4. the realm role AUTH_MANAGER_SERVICE_ROLE, granted to the service accounts of the
#      clients in AUTH_MANAGER_SERVICE_CLIENTS (which must exist and have service
#      accounts on); set the same list in the service's AUTH_MANAGER_SERVICE_CLIENTS
#   5. reports, without changing them: whether new users get offline_access (offline
#      tokens need it), and refresh-token rotation with max reuse 0 [refresh_token_rotation]
#
# Environment:
#   KEYCLOAK_REALM                       required: the realm (it must exist)
#   KEYCLOAK_CONSENT_REDIRECT_URI        required: this service's /v1/offline-token/callback
#   AUTH_MANAGER_BACKCHANNEL_LOGOUT_URL  required: this service's /v1/backchannel-logout as
#                                        Keycloak reaches it (an in-cluster address is fine)
#   KEYCLOAK_URL                         Keycloak's address (default: KEYCLOAK_ISSUER, or
#                                        http://127.0.0.1:8080), without /realms/…
#   KEYCLOAK_CLIENT_ID                   default auth-manager
#   AUTH_MANAGER_SERVICE_ROLE            default auth-manager-service
#   AUTH_MANAGER_SERVICE_CLIENTS         comma-separated client ids of service callers
#   KEYCLOAK_ADMIN_USER, KEYCLOAK_ADMIN_PASSWORD, KEYCLOAK_ADMIN_REALM
#                                        an administrator (default admin, —, master); the
#                                        password is handed to kcadm.sh in its environment
#   KCADM                                kcadm.sh (default: on PATH, else the local stack's)
#
# The client secret is never printed: read it in the admin console (Clients → the client
# → Credentials) or with `kcadm.sh get clients/ID/client-secret -r REALM`, and put it in
# the service's KEYCLOAK_CLIENT_SECRET.
set -euo pipefail

log() { printf '[keycloak-setup] %s\n' "$*" >&2; }
die() { printf '[keycloak-setup] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
  exit 0
fi
[[ $# -eq 0 ]] || die "no arguments expected (configuration is read from the environment; see --help)"

REALM=${KEYCLOAK_REALM:?KEYCLOAK_REALM is required (see --help)}
REDIRECT_URI=${KEYCLOAK_CONSENT_REDIRECT_URI:-${KEYCLOAK_REDIRECT_URI:-}}
[[ -n $REDIRECT_URI ]] || die "KEYCLOAK_CONSENT_REDIRECT_URI is required (see --help)"
LOGOUT_URL=${AUTH_MANAGER_BACKCHANNEL_LOGOUT_URL:?AUTH_MANAGER_BACKCHANNEL_LOGOUT_URL is required (see --help)}
[[ $LOGOUT_URL == http*://*/v1/backchannel-logout ]] ||
  die "AUTH_MANAGER_BACKCHANNEL_LOGOUT_URL must end in /v1/backchannel-logout (got $LOGOUT_URL)"
SERVER=${KEYCLOAK_URL:-${KEYCLOAK_ISSUER:-http://127.0.0.1:8080}}
SERVER=${SERVER%/}
SERVER=${SERVER%/realms/*}
CLIENT_ID=${KEYCLOAK_CLIENT_ID:-auth-manager}
SERVICE_ROLE=${AUTH_MANAGER_SERVICE_ROLE:-auth-manager-service}
IFS=, read -r -a SERVICE_CLIENTS <<<"${AUTH_MANAGER_SERVICE_CLIENTS:-}"
MANAGEMENT_ROLES=(view-users manage-users query-users query-clients view-clients view-realm)

KCADM=${KCADM:-$(command -v kcadm.sh || true)}
if [[ -z $KCADM ]]; then
  KCADM=$(find "${AUTH_MANAGER_CACHE:-$HOME/.cache/auth-manager}" -maxdepth 3 -path '*/bin/kcadm.sh' 2>/dev/null | sort | tail -1)
fi
[[ -x $KCADM ]] || die "kcadm.sh not found: set KCADM to Keycloak's bin/kcadm.sh"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
kc() { "$KCADM" "$@" --config "$WORK/kcadm.config"; }

log "logging in to $SERVER as ${KEYCLOAK_ADMIN_USER:-admin} (realm ${KEYCLOAK_ADMIN_REALM:-master})"
KC_CLI_PASSWORD=${KEYCLOAK_ADMIN_PASSWORD:?KEYCLOAK_ADMIN_PASSWORD is required (see --help)} \
  kc config credentials --server "$SERVER" --realm "${KEYCLOAK_ADMIN_REALM:-master}" \
  --user "${KEYCLOAK_ADMIN_USER:-admin}" >/dev/null || die "login to $SERVER failed"
kc get "realms/$REALM" --fields realm >/dev/null 2>&1 || die "realm $REALM does not exist at $SERVER"

# client_uuid CLIENT-ID: the client's internal id, or nothing.
client_uuid() {
  kc get clients -r "$REALM" -q "clientId=$1" --fields id --format csv --noquotes | head -1
}

# 1, 2. The service's client.
settings=(
  -s publicClient=false -s clientAuthenticatorType=client-secret -s enabled=true
  -s standardFlowEnabled=true -s implicitFlowEnabled=false -s directAccessGrantsEnabled=false
  -s serviceAccountsEnabled=true -s frontchannelLogout=false
  -s "attributes.\"backchannel.logout.url\"=$LOGOUT_URL"
  -s 'attributes."backchannel.logout.session.required"=true'
)
id=$(client_uuid "$CLIENT_ID")
if [[ -z $id ]]; then
  kc create clients -r "$REALM" -s "clientId=$CLIENT_ID" -s "redirectUris=[\"$REDIRECT_URI\"]" "${settings[@]}" >/dev/null
  id=$(client_uuid "$CLIENT_ID")
  [[ -n $id ]] || die "creating client $CLIENT_ID failed"
  log "1. client $CLIENT_ID created (confidential, standard flow, service account)"
else
  kc update "clients/$id" -r "$REALM" "${settings[@]}"
  if ! kc get "clients/$id" -r "$REALM" --fields redirectUris --format csv --noquotes | tr ',' '\n' | grep -qxF "$REDIRECT_URI"; then
    uris=$(kc get "clients/$id" -r "$REALM" --fields redirectUris | tr -d '\n')
    uris=$(printf '%s' "$uris" | sed -E 's/.*"redirectUris" *: *\[(.*)\].*/\1/')
    kc update "clients/$id" -r "$REALM" -s "redirectUris=[${uris:+$uris,}\"$REDIRECT_URI\"]"
    log "1. client $CLIENT_ID: redirect URI $REDIRECT_URI added"
  fi
  log "1. client $CLIENT_ID updated (confidential, standard flow, service account)"
fi
log "2. back-channel logout: $LOGOUT_URL, session required"

# 3. The service account's realm-management roles.
role_args=()
for r in "${MANAGEMENT_ROLES[@]}"; do role_args+=(--rolename "$r"); done
kc add-roles -r "$REALM" --uusername "service-account-$CLIENT_ID" --cclientid realm-management "${role_args[@]}"
log "3. service-account-$CLIENT_ID has realm-management ${MANAGEMENT_ROLES[*]}"

# 4. The service role and the service callers.
if ! kc get "roles/$SERVICE_ROLE" -r "$REALM" --fields name >/dev/null 2>&1; then
  kc create roles -r "$REALM" -s "name=$SERVICE_ROLE" \
    -s 'description=Makes a client (listed in auth-manager'"'"'s AUTH_MANAGER_SERVICE_CLIENTS) a service caller of auth-manager' >/dev/null
  log "4. realm role $SERVICE_ROLE created"
fi
for c in "${SERVICE_CLIENTS[@]}"; do
  c=${c// /}
  [[ -n $c ]] || continue
  [[ -n $(client_uuid "$c") ]] || die "service caller client $c does not exist in realm $REALM"
  kc add-roles -r "$REALM" --uusername "service-account-$c" --rolename "$SERVICE_ROLE" ||
    die "granting $SERVICE_ROLE to client $c failed: does it have Service accounts enabled?"
  log "4. service caller $c has $SERVICE_ROLE"
done
((${#SERVICE_CLIENTS[@]})) || log "4. no service callers (AUTH_MANAGER_SERVICE_CLIENTS is empty)"

# 5. Reports only.
realm=$(kc get "realms/$REALM" --fields revokeRefreshToken,refreshTokenMaxReuse)
if kc get "roles/default-roles-$REALM/composites" -r "$REALM" --fields name --format csv --noquotes 2>/dev/null |
  grep -qx offline_access; then
  log "5. new users get offline_access (default roles)"
else
  log "5. NOTE: offline_access is not a default role: grant it to the users who may give offline consent"
fi
if grep -q '"revokeRefreshToken" *: *true' <<<"$realm" && grep -q '"refreshTokenMaxReuse" *: *0' <<<"$realm"; then
  log "5. NOTE: the realm rotates refresh tokens with max reuse 0: set Refresh token max reuse to 1 (Realm settings → Tokens)"
fi

cat <<EOF
Realm $REALM is set up for auth-manager. Set in the service's environment:
  KEYCLOAK_REALM=$REALM
  KEYCLOAK_CLIENT_ID=$CLIENT_ID
  KEYCLOAK_CLIENT_SECRET=<Clients → $CLIENT_ID → Credentials>
  KEYCLOAK_CONSENT_REDIRECT_URI=$REDIRECT_URI
  AUTH_MANAGER_SERVICE_ROLE=$SERVICE_ROLE
  AUTH_MANAGER_SERVICE_CLIENTS=$(IFS=,; echo "${SERVICE_CLIENTS[*]}")
then run: auth-manager doctor
EOF
