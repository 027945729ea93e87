from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.operation_outcome import OperationOutcome
from ...models.scribe_session_closed import ScribeSessionClosed
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    session_id: str,
    *,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id

    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key



    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/scribe-sessions/{session_id}/close".format(session_id=quote(str(session_id), safe=""),),
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> OperationOutcome | ScribeSessionClosed | None:
    if response.status_code == 200:
        response_200 = ScribeSessionClosed.from_dict(response.json())



        return response_200

    if response.status_code == 400:
        response_400 = OperationOutcome.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = OperationOutcome.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = OperationOutcome.from_dict(response.json())



        return response_403

    if response.status_code == 404:
        response_404 = OperationOutcome.from_dict(response.json())



        return response_404

    if response.status_code == 405:
        response_405 = OperationOutcome.from_dict(response.json())



        return response_405

    if response.status_code == 409:
        response_409 = OperationOutcome.from_dict(response.json())



        return response_409

    if response.status_code == 412:
        response_412 = OperationOutcome.from_dict(response.json())



        return response_412

    if response.status_code == 413:
        response_413 = OperationOutcome.from_dict(response.json())



        return response_413

    if response.status_code == 415:
        response_415 = OperationOutcome.from_dict(response.json())



        return response_415

    if response.status_code == 422:
        response_422 = OperationOutcome.from_dict(response.json())



        return response_422

    if response.status_code == 431:
        response_431 = OperationOutcome.from_dict(response.json())



        return response_431

    if response.status_code == 502:
        response_502 = OperationOutcome.from_dict(response.json())



        return response_502

    if response.status_code == 503:
        response_503 = OperationOutcome.from_dict(response.json())



        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[OperationOutcome | ScribeSessionClosed]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    session_id: str,
    *,
    client: AuthenticatedClient,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> Response[OperationOutcome | ScribeSessionClosed]:
    """ Close Session

     Scribe (its own session) or clinician of the encounter: end the session now.

    Every later context read or consent submission in it is refused; a delegated EHR token
    it held is forgotten. 404 for an unknown session, 409 for one that has already ended.

    Args:
        session_id (str):
        x_request_id (str | Unset):
        idempotency_key (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[OperationOutcome | ScribeSessionClosed]
     """


    kwargs = _get_kwargs(
        session_id=session_id,
x_request_id=x_request_id,
idempotency_key=idempotency_key,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    session_id: str,
    *,
    client: AuthenticatedClient,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> OperationOutcome | ScribeSessionClosed | None:
    """ Close Session

     Scribe (its own session) or clinician of the encounter: end the session now.

    Every later context read or consent submission in it is refused; a delegated EHR token
    it held is forgotten. 404 for an unknown session, 409 for one that has already ended.

    Args:
        session_id (str):
        x_request_id (str | Unset):
        idempotency_key (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        OperationOutcome | ScribeSessionClosed
     """


    return sync_detailed(
        session_id=session_id,
client=client,
x_request_id=x_request_id,
idempotency_key=idempotency_key,

    ).parsed

async def asyncio_detailed(
    session_id: str,
    *,
    client: AuthenticatedClient,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> Response[OperationOutcome | ScribeSessionClosed]:
    """ Close Session

     Scribe (its own session) or clinician of the encounter: end the session now.

    Every later context read or consent submission in it is refused; a delegated EHR token
    it held is forgotten. 404 for an unknown session, 409 for one that has already ended.

    Args:
        session_id (str):
        x_request_id (str | Unset):
        idempotency_key (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[OperationOutcome | ScribeSessionClosed]
     """


    kwargs = _get_kwargs(
        session_id=session_id,
x_request_id=x_request_id,
idempotency_key=idempotency_key,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    session_id: str,
    *,
    client: AuthenticatedClient,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> OperationOutcome | ScribeSessionClosed | None:
    """ Close Session

     Scribe (its own session) or clinician of the encounter: end the session now.

    Every later context read or consent submission in it is refused; a delegated EHR token
    it held is forgotten. 404 for an unknown session, 409 for one that has already ended.

    Args:
        session_id (str):
        x_request_id (str | Unset):
        idempotency_key (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        OperationOutcome | ScribeSessionClosed
     """


    return (await asyncio_detailed(
        session_id=session_id,
client=client,
x_request_id=x_request_id,
idempotency_key=idempotency_key,

    )).parsed
