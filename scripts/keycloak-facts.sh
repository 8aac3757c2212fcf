#!/usr/bin/env bash
# Prints what the local dev Keycloak (scripts/stack.sh up) really answers for the calls
# auth-manager depends on: token claims, introspection, rotation errors, admin API.
# A living check of the facts in shared KEYCLOAK.md notes; read its output, it asserts little.
#
#   scripts/keycloak-facts.sh            (needs curl and jq; Keycloak on KEYCLOAK_PORT, default 8080)
# shellcheck disable=SC2001 # sed with regexes reads better here than ${var//}
set -euo pipefail

readonly KC=http://127.0.0.1:${KEYCLOAK_PORT:-8080}
readonly REALM=auth-manager
readonly ROT_REALM=auth-manager-rotation
readonly SECRET=auth-manager-dev-secret

command -v jq >/dev/null || { echo "needs jq (apt-get install -y jq)" >&2; exit 1; }

oidc() { echo "$KC/realms/$1/protocol/openid-connect"; }

section() { printf '\n=== %s\n' "$*"; }

# Payload of a JWT (base64url, unpadded) as JSON.
jwt_payload() {
  local p
  p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
  case $((${#p} % 4)) in 2) p+="==" ;; 3) p+="=" ;; esac
  base64 -d <<<"$p"
}

# Drops the " HTTP nnn" suffix that the -w of refresh() adds.
body() { sed 's/ HTTP [0-9]*$//' <<<"$1"; }

# Token endpoint JSON (with an optional " HTTP nnn" suffix) with the tokens removed.
redact() { sed 's/"[a-z_]*_token":"[^"]*",\{0,1\}//g' <<<"$1"; }

# token REALM CLIENT SECRET [curl -d args...] -> raw token endpoint JSON
token() {
  local realm=$1 client=$2 secret=$3
  shift 3
  curl -sS "$(oidc "$realm")/token" -d client_id="$client" -d client_secret="$secret" "$@"
}

password_grant() { token "$1" auth-manager "$SECRET" -d grant_type=password -d username="$2" -d password="$2-password" "${@:3}"; }

refresh() { token "$1" auth-manager "$SECRET" -d grant_type=refresh_token -d refresh_token="$2" -w ' HTTP %{http_code}'; }

introspect() {
  curl -sS "$(oidc "$REALM")/token/introspect" -u "auth-manager:$SECRET" -d token="$1" "${@:2}"
}

without_tokens() { jq -c 'del(.access_token, .refresh_token, .id_token)'; }

section "password grant, alice, client auth-manager (no scope parameter)"
R=$(password_grant "$REALM" alice)
echo "token endpoint: $(without_tokens <<<"$R")"
ALICE_AT=$(jq -r .access_token <<<"$R")
ALICE_RT=$(jq -r .refresh_token <<<"$R")
echo "access token:  $(jwt_payload "$ALICE_AT" | jq -c .)"
echo "refresh token: $(jwt_payload "$ALICE_RT" | jq -c .)"

section "password grant, alice, scope=openid"
R=$(password_grant "$REALM" alice -d scope=openid)
echo "token endpoint: $(without_tokens <<<"$R")"
echo "access token scope/aud: $(jwt_payload "$(jq -r .access_token <<<"$R")" | jq -c '{scope, aud, azp, sid}')"
echo "id token: $(jwt_payload "$(jq -r .id_token <<<"$R")" | jq -c .)"

section "client_credentials, auth-manager-service-caller"
R=$(token "$REALM" auth-manager-service-caller service-caller-secret -d grant_type=client_credentials)
echo "token endpoint: $(without_tokens <<<"$R")"
SVC_AT=$(jq -r .access_token <<<"$R")
echo "access token: $(jwt_payload "$SVC_AT" | jq -c .)"

section "client_credentials, auth-manager-plain-caller"
R=$(token "$REALM" auth-manager-plain-caller plain-caller-secret -d grant_type=client_credentials)
echo "token endpoint: $(without_tokens <<<"$R")"
echo "access token: $(jwt_payload "$(jq -r .access_token <<<"$R")" | jq -c .)"

section "introspection (client auth-manager)"
echo "alice access token:        $(introspect "$ALICE_AT")"
echo "alice refresh token (hint): $(introspect "$ALICE_RT" -d token_type_hint=refresh_token)"
echo "alice refresh token (no hint): $(introspect "$ALICE_RT")"
echo "service-caller token:      $(introspect "$SVC_AT")"
echo "garbage:                   $(introspect garbage -w ' HTTP %{http_code}')"
echo "garbage JWT-shaped:        $(introspect 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' -w ' HTTP %{http_code}')"
echo "JWT with alg none:         $(introspect 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln' -w ' HTTP %{http_code}')"
ROT_AT=$(password_grant "$ROT_REALM" alice | jq -r .access_token)
echo "rotation-realm token:      $(introspect "$ROT_AT" -w ' HTTP %{http_code}')"
echo "no client auth:            $(curl -sS "$(oidc "$REALM")/token/introspect" -d token="$ALICE_AT" -w ' HTTP %{http_code}')"

section "auth-manager-short: 2-second access tokens"
R=$(token "$REALM" auth-manager-short short-secret -d grant_type=password -d username=bob -d password=bob-password)
echo "token endpoint: $(without_tokens <<<"$R")"
SHORT_AT=$(jq -r .access_token <<<"$R")
echo "exp - iat = $(jwt_payload "$SHORT_AT" | jq '.exp - .iat')"
echo "introspect now:   $(introspect "$SHORT_AT" | jq -c '{active, exp, iat}')"
sleep 3
echo "introspect at +3s: $(introspect "$SHORT_AT")"

section "offline_access (password grant, scope=openid offline_access)"
R=$(password_grant "$REALM" alice -d 'scope=openid offline_access')
echo "token endpoint: $(without_tokens <<<"$R")"
OFF_RT=$(jq -r .refresh_token <<<"$R")
echo "refresh token: $(jwt_payload "$OFF_RT" | jq -c .)"
R2=$(refresh "$REALM" "$OFF_RT")
echo "refreshing it: $(body "$R2" | without_tokens) $(grep -o 'HTTP [0-9]*' <<<"$R2")"
echo "new refresh token typ: $(jwt_payload "$(body "$R2" | jq -r .refresh_token)" | jq -c '{typ, sid, exp}')"
echo "introspect offline token (hint refresh_token): $(introspect "$OFF_RT" -d token_type_hint=refresh_token)"

section "revokeRefreshToken=false realm: same refresh token twice"
R=$(password_grant "$REALM" carol)
RT=$(jq -r .refresh_token <<<"$R")
echo "1st: $(redact "$(refresh "$REALM" "$RT")")"
echo "2nd: $(redact "$(refresh "$REALM" "$RT")")"

section "rotation realm (revokeRefreshToken=true, refreshTokenMaxReuse=0)"
R=$(password_grant "$ROT_REALM" bob)
RT=$(jq -r .refresh_token <<<"$R")
R1=$(refresh "$ROT_REALM" "$RT")
NEW_RT=$(body "$R1" | jq -r .refresh_token)
echo "1st refresh: $(redact "$R1")"
echo "2nd refresh, same token: $(refresh "$ROT_REALM" "$RT")"
echo "then the newer token:    $(refresh "$ROT_REALM" "$NEW_RT")"
echo "rotation token at the auth-manager realm: $(refresh "$REALM" "$NEW_RT")"

section "refresh token of another client"
R=$(token "$REALM" auth-manager-short short-secret -d grant_type=password -d username=bob -d password=bob-password)
echo "refresh as auth-manager: $(refresh "$REALM" "$(jq -r .refresh_token <<<"$R")")"
echo "revoke it as auth-manager: $(curl -sS "$(oidc "$REALM")/revoke" -u "auth-manager:$SECRET" -d token="$(jq -r .refresh_token <<<"$R")" -d token_type_hint=refresh_token -w ' HTTP %{http_code}')"
echo "revoke unknown token:      $(curl -sS "$(oidc "$REALM")/revoke" -u "auth-manager:$SECRET" -d token=garbage -w ' HTTP %{http_code}')"

section "service-account admin API (client_credentials of auth-manager)"
SA=$(token "$REALM" auth-manager "$SECRET" -d grant_type=client_credentials | jq -r .access_token)
echo "auth-manager service-account token: $(jwt_payload "$SA" | jq -c '{sub, azp, sid, preferred_username, realm_access, resource_access}')"
ADMIN=$KC/admin/realms/$REALM
ALICE_ID=$(curl -sS -H "Authorization: Bearer $SA" "$ADMIN/users?username=alice&exact=true" | jq -r '.[0].id')
echo "alice id: $ALICE_ID"
echo "GET users/{alice}/sessions: $(curl -sS -H "Authorization: Bearer $SA" "$ADMIN/users/$ALICE_ID/sessions" -w ' HTTP %{http_code}' | cut -c1-600)"
CLIENTS=$(curl -sS -H "Authorization: Bearer $SA" "$ADMIN/clients?clientId=auth-manager")
echo "GET clients?clientId=auth-manager: $(jq -c '[.[] | {id, clientId, attributes: (.attributes | with_entries(select(.key | startswith("backchannel"))))}]' <<<"$CLIENTS")"
CLIENT_UUID=$(jq -r '.[0].id' <<<"$CLIENTS")
echo "GET users/{alice}/offline-sessions/{uuid}: $(curl -sS -H "Authorization: Bearer $SA" "$ADMIN/users/$ALICE_ID/offline-sessions/$CLIENT_UUID" -w ' HTTP %{http_code}' | cut -c1-600)"
SID=$(jwt_payload "$ALICE_AT" | jq -r .sid)
echo "DELETE sessions/{alice sid}?isOffline=false: $(curl -sS -X DELETE -H "Authorization: Bearer $SA" "$ADMIN/sessions/$SID?isOffline=false" -w 'HTTP %{http_code}')"
echo "  again:                                     $(curl -sS -X DELETE -H "Authorization: Bearer $SA" "$ADMIN/sessions/$SID?isOffline=false" -w ' HTTP %{http_code}')"
echo "  alice's refresh token afterwards: $(refresh "$REALM" "$ALICE_RT")"
echo "  alice's access token afterwards:  $(introspect "$ALICE_AT")"
PLAIN=$(token "$REALM" auth-manager-plain-caller plain-caller-secret -d grant_type=client_credentials | jq -r .access_token)
echo "same GET with the plain-caller token: $(curl -sS -H "Authorization: Bearer $PLAIN" "$ADMIN/users/$ALICE_ID/sessions" -w ' HTTP %{http_code}')"

section "redirect_uri wildcard (authorization endpoint, client auth-manager)"
for uri in http://127.0.0.1:8000/v1/offline-token/callback http://localhost:43123/cb http://127.0.0.1/cb http://127.0.0.1.nip.io:8000/cb https://127.0.0.1:8000/cb http://example.com/cb; do
  code=$(curl -sS -o /dev/null -w '%{http_code}' -G "$(oidc "$REALM")/auth" \
    --data-urlencode client_id=auth-manager --data-urlencode response_type=code \
    --data-urlencode scope=openid --data-urlencode "redirect_uri=$uri")
  echo "$uri -> HTTP $code (200 = login page, 400 = invalid redirect_uri)"
done

section "browser-less authorization-code login (PKCE S256, offline_access), as KEYCLOAK.md describes"
JAR=$(mktemp)
trap 'rm -f "$JAR"' EXIT
VERIFIER=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')
CALLBACK=http://127.0.0.1:8000/v1/offline-token/callback
PAGE=$(curl -sS -c "$JAR" -b "$JAR" -G "$(oidc "$REALM")/auth" \
  --data-urlencode client_id=auth-manager --data-urlencode response_type=code \
  --data-urlencode "scope=openid profile email offline_access" --data-urlencode "redirect_uri=$CALLBACK" \
  --data-urlencode state=st4te --data-urlencode nonce=n0nce \
  --data-urlencode code_challenge="$CHALLENGE" --data-urlencode code_challenge_method=S256)
ACTION=$(grep -o '<form id="kc-form-login"[^>]*' <<<"$PAGE" | grep -o 'action="[^"]*"' | cut -d'"' -f2 | sed 's/&amp;/\&/g')
echo "form action found: $([[ -n $ACTION ]] && echo yes || echo NO)"
LOCATION=$(curl -sS -c "$JAR" -b "$JAR" -o /dev/null -w '%{redirect_url}' "$ACTION" \
  --data-urlencode username=carol --data-urlencode password=carol-password --data-urlencode credentialId=)
echo "302 Location: $(sed 's/code=[^&]*/code=<code>/' <<<"$LOCATION")"
CODE=$(grep -o 'code=[^&]*' <<<"$LOCATION" | cut -d= -f2)
R=$(token "$REALM" auth-manager "$SECRET" -d grant_type=authorization_code -d code="$CODE" \
  -d redirect_uri="$CALLBACK" -d code_verifier="$VERIFIER")
echo "code exchange: $(without_tokens <<<"$R")"
echo "refresh token: $(jwt_payload "$(jq -r .refresh_token <<<"$R")" | jq -c '{typ, sid, sub, azp, exp}')"
echo "id token nonce: $(jwt_payload "$(jq -r .id_token <<<"$R")" | jq -c '{nonce, sid}')"
R=$(token "$REALM" auth-manager "$SECRET" -d grant_type=authorization_code -d code="$CODE" \
  -d redirect_uri="$CALLBACK" -d code_verifier="$VERIFIER")
echo "same code again: $R"
