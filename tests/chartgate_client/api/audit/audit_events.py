from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.audit_events import AuditEvents
from ...models.operation_outcome import OperationOutcome
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    *,
    correlation_id: None | str | Unset = UNSET,
    patient: None | str | Unset = UNSET,
    actor: None | str | Unset = UNSET,
    type_: None | str | Unset = UNSET,
    since: None | str | Unset = UNSET,
    until: None | str | Unset = UNSET,
    after_seq: int | Unset = -1,
    limit: int | Unset = 100,
    x_request_id: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id



    

    params: dict[str, Any] = {}

    json_correlation_id: None | str | Unset
    if isinstance(correlation_id, Unset):
        json_correlation_id = UNSET
    else:
        json_correlation_id = correlation_id
    params["correlation_id"] = json_correlation_id

    json_patient: None | str | Unset
    if isinstance(patient, Unset):
        json_patient = UNSET
    else:
        json_patient = patient
    params["patient"] = json_patient

    json_actor: None | str | Unset
    if isinstance(actor, Unset):
        json_actor = UNSET
    else:
        json_actor = actor
    params["actor"] = json_actor

    json_type_: None | str | Unset
    if isinstance(type_, Unset):
        json_type_ = UNSET
    else:
        json_type_ = type_
    params["type"] = json_type_

    json_since: None | str | Unset
    if isinstance(since, Unset):
        json_since = UNSET
    else:
        json_since = since
    params["since"] = json_since

    json_until: None | str | Unset
    if isinstance(until, Unset):
        json_until = UNSET
    else:
        json_until = until
    params["until"] = json_until

    params["after_seq"] = after_seq

    params["limit"] = limit


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/audit/events",
        "params": params,
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> AuditEvents | OperationOutcome | None:
    if response.status_code == 200:
        response_200 = AuditEvents.from_dict(response.json())



        return response_200

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

    if response.status_code == 413:
        response_413 = OperationOutcome.from_dict(response.json())



        return response_413

    if response.status_code == 422:
        response_422 = OperationOutcome.from_dict(response.json())



        return response_422

    if response.status_code == 431:
        response_431 = OperationOutcome.from_dict(response.json())



        return response_431

    if response.status_code == 503:
        response_503 = OperationOutcome.from_dict(response.json())



        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[AuditEvents | OperationOutcome]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    correlation_id: None | str | Unset = UNSET,
    patient: None | str | Unset = UNSET,
    actor: None | str | Unset = UNSET,
    type_: None | str | Unset = UNSET,
    since: None | str | Unset = UNSET,
    until: None | str | Unset = UNSET,
    after_seq: int | Unset = -1,
    limit: int | Unset = 100,
    x_request_id: str | Unset = UNSET,

) -> Response[AuditEvents | OperationOutcome]:
    """ Audit Events

     Auditor: events of your tenant by correlation id, patient, clinician and time window.

    ``patient`` takes a reference (``Patient/123``) or its ``hmac-sha256:`` pseudonym; the
    read is recorded with the pseudonym only. Page on with ``after_seq`` = ``next_after_seq``.

    Args:
        correlation_id (None | str | Unset):
        patient (None | str | Unset): A patient reference or its HMAC
        actor (None | str | Unset): e.g. clinician:<sub>
        type_ (None | str | Unset):
        since (None | str | Unset):
        until (None | str | Unset):
        after_seq (int | Unset):  Default: -1.
        limit (int | Unset):  Default: 100.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuditEvents | OperationOutcome]
     """


    kwargs = _get_kwargs(
        correlation_id=correlation_id,
patient=patient,
actor=actor,
type_=type_,
since=since,
until=until,
after_seq=after_seq,
limit=limit,
x_request_id=x_request_id,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    correlation_id: None | str | Unset = UNSET,
    patient: None | str | Unset = UNSET,
    actor: None | str | Unset = UNSET,
    type_: None | str | Unset = UNSET,
    since: None | str | Unset = UNSET,
    until: None | str | Unset = UNSET,
    after_seq: int | Unset = -1,
    limit: int | Unset = 100,
    x_request_id: str | Unset = UNSET,

) -> AuditEvents | OperationOutcome | None:
    """ Audit Events

     Auditor: events of your tenant by correlation id, patient, clinician and time window.

    ``patient`` takes a reference (``Patient/123``) or its ``hmac-sha256:`` pseudonym; the
    read is recorded with the pseudonym only. Page on with ``after_seq`` = ``next_after_seq``.

    Args:
        correlation_id (None | str | Unset):
        patient (None | str | Unset): A patient reference or its HMAC
        actor (None | str | Unset): e.g. clinician:<sub>
        type_ (None | str | Unset):
        since (None | str | Unset):
        until (None | str | Unset):
        after_seq (int | Unset):  Default: -1.
        limit (int | Unset):  Default: 100.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuditEvents | OperationOutcome
     """


    return sync_detailed(
        client=client,
correlation_id=correlation_id,
patient=patient,
actor=actor,
type_=type_,
since=since,
until=until,
after_seq=after_seq,
limit=limit,
x_request_id=x_request_id,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    correlation_id: None | str | Unset = UNSET,
    patient: None | str | Unset = UNSET,
    actor: None | str | Unset = UNSET,
    type_: None | str | Unset = UNSET,
    since: None | str | Unset = UNSET,
    until: None | str | Unset = UNSET,
    after_seq: int | Unset = -1,
    limit: int | Unset = 100,
    x_request_id: str | Unset = UNSET,

) -> Response[AuditEvents | OperationOutcome]:
    """ Audit Events

     Auditor: events of your tenant by correlation id, patient, clinician and time window.

    ``patient`` takes a reference (``Patient/123``) or its ``hmac-sha256:`` pseudonym; the
    read is recorded with the pseudonym only. Page on with ``after_seq`` = ``next_after_seq``.

    Args:
        correlation_id (None | str | Unset):
        patient (None | str | Unset): A patient reference or its HMAC
        actor (None | str | Unset): e.g. clinician:<sub>
        type_ (None | str | Unset):
        since (None | str | Unset):
        until (None | str | Unset):
        after_seq (int | Unset):  Default: -1.
        limit (int | Unset):  Default: 100.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuditEvents | OperationOutcome]
     """


    kwargs = _get_kwargs(
        correlation_id=correlation_id,
patient=patient,
actor=actor,
type_=type_,
since=since,
until=until,
after_seq=after_seq,
limit=limit,
x_request_id=x_request_id,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    correlation_id: None | str | Unset = UNSET,
    patient: None | str | Unset = UNSET,
    actor: None | str | Unset = UNSET,
    type_: None | str | Unset = UNSET,
    since: None | str | Unset = UNSET,
    until: None | str | Unset = UNSET,
    after_seq: int | Unset = -1,
    limit: int | Unset = 100,
    x_request_id: str | Unset = UNSET,

) -> AuditEvents | OperationOutcome | None:
    """ Audit Events

     Auditor: events of your tenant by correlation id, patient, clinician and time window.

    ``patient`` takes a reference (``Patient/123``) or its ``hmac-sha256:`` pseudonym; the
    read is recorded with the pseudonym only. Page on with ``after_seq`` = ``next_after_seq``.

    Args:
        correlation_id (None | str | Unset):
        patient (None | str | Unset): A patient reference or its HMAC
        actor (None | str | Unset): e.g. clinician:<sub>
        type_ (None | str | Unset):
        since (None | str | Unset):
        until (None | str | Unset):
        after_seq (int | Unset):  Default: -1.
        limit (int | Unset):  Default: 100.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuditEvents | OperationOutcome
     """


    return (await asyncio_detailed(
        client=client,
correlation_id=correlation_id,
patient=patient,
actor=actor,
type_=type_,
since=since,
until=until,
after_seq=after_seq,
limit=limit,
x_request_id=x_request_id,

    )).parsed
