"""Uses the Python client generated from api/openapi.json against a running service.

TestGeneratedPythonClient (python_test.go) generates the package auth_manager_client,
puts it on PYTHONPATH and runs this with the service's URL and real tokens in the
environment, twice, as a Python service would use the client:

    use_python_client.py store        validate the user's token, store the user's
                                      refresh token, get an access token for it as a
                                      service caller, list the user's tokens and sessions
    use_python_client.py delete ID    delete the stored token, then read the 404
                                      envelope of an access token for the deleted id

Each prints what it saw as one JSON object on stdout for the Go test to check (it checks
the access token at Keycloak between the two); any exception fails the run.
"""

import json
import os
import sys
import time

from auth_manager_client import AuthenticatedClient
from auth_manager_client.api.sessions import list_sessions
from auth_manager_client.api.tokens import (
    delete_token,
    get_access_token,
    list_tokens,
    store_refresh_token,
    validate_token,
)
from auth_manager_client.models import (
    DataEnvelopeAccessTokenAnswer,
    DataEnvelopeArraySessionInfo,
    DataEnvelopeArrayTokenMeta,
    DataEnvelopeDeletionAnswer,
    DataEnvelopePersistentTokenAnswer,
    DataEnvelopeValidateAnswer,
    ErrorEnvelope,
    ErrorEnvelopeCode,
    StoreRefreshRequest,
)


def expect(answer, kind):
    """The parsed answer, which must be of the generated type kind."""
    if not isinstance(answer, kind):
        # The type only: an answer may hold a token, which must not reach the test log.
        sys.exit(f"expected {kind.__name__}, got {type(answer).__name__}")
    return answer


def store(alice, service):
    seen = {}

    v = expect(validate_token.sync(client=alice), DataEnvelopeValidateAnswer).data
    seen["validate"] = {"valid": v.valid, "sub": v.sub, "service_caller": v.service_caller}

    body = StoreRefreshRequest(refresh_token=os.environ["ALICE_REFRESH_TOKEN"])
    stored = expect(store_refresh_token.sync(client=alice, body=body), DataEnvelopePersistentTokenAnswer).data
    token_id = stored.persistent_token_id
    seen["stored_id"] = token_id

    a = expect(get_access_token.sync(client=service, id=token_id, min_ttl=10), DataEnvelopeAccessTokenAnswer).data
    seen["access_token"] = {"access_token": a.access_token, "expires_in": a.expires_in}

    tokens = expect(list_tokens.sync(client=alice), DataEnvelopeArrayTokenMeta).data
    seen["tokens"] = [
        {"id": t.persistent_token_id, "type": str(t.token_type), "status": str(t.status), "created_at": t.created_at.isoformat()}
        for t in tokens
    ]

    sessions = expect(list_sessions.sync(client=alice), DataEnvelopeArraySessionInfo).data
    seen["sessions"] = [{"id": s.session_id, "type": str(s.type_), "stored_token_ids": list(s.stored_token_ids)} for s in sessions]
    return seen


def delete(alice, service, token_id):
    seen = {}
    d = expect(delete_token.sync(token_id, client=alice), DataEnvelopeDeletionAnswer).data
    seen["deleted"] = {"id": d.persistent_token_id, "token_deleted": d.token_deleted}

    # The deletion reaches the access-token cache through the database's notification,
    # a moment after the answer.
    deadline = time.monotonic() + 5
    while True:
        gone = get_access_token.sync_detailed(client=service, id=token_id)
        if isinstance(gone.parsed, ErrorEnvelope) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    e = expect(gone.parsed, ErrorEnvelope)
    seen["after_delete"] = {
        "status": int(gone.status_code),
        "code": e.code.value,
        "code_is_enum": e.code is ErrorEnvelopeCode.TOKEN_NOT_FOUND,
        "error": e.error,
        "request_id": gone.headers.get("X-Request-ID", ""),
    }
    return seen


def main():
    url = os.environ["AUTH_MANAGER_URL"]
    # raise_on_unexpected_status: a status the document does not list is an error.
    alice = AuthenticatedClient(base_url=url, token=os.environ["ALICE_ACCESS_TOKEN"], raise_on_unexpected_status=True)
    service = AuthenticatedClient(base_url=url, token=os.environ["SERVICE_TOKEN"], raise_on_unexpected_status=True)
    if sys.argv[1:2] == ["store"]:
        seen = store(alice, service)
    elif sys.argv[1:2] == ["delete"] and len(sys.argv) == 3:
        seen = delete(alice, service, sys.argv[2])
    else:
        sys.exit("usage: use_python_client.py store | delete ID")
    json.dump(seen, sys.stdout)


if __name__ == "__main__":
    main()
