from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.context_bundle import ContextBundle
from ...models.operation_outcome import OperationOutcome
from ...types import UNSET, Unset
from typing import cast
import datetime



def _get_kwargs(
    *,
    session: str,
    type_: None | str | Unset = UNSET,
    reference: None | str | Unset = UNSET,
    patient: None | str | Unset = UNSET,
    encounter: None | str | Unset = UNSET,
    category: None | str | Unset = UNSET,
    field_elements: None | str | Unset = UNSET,
    field_count: int | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    until: datetime.datetime | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id



    

    params: dict[str, Any] = {}

    params["session"] = session

    json_type_: None | str | Unset
    if isinstance(type_, Unset):
        json_type_ = UNSET
    else:
        json_type_ = type_
    params["type"] = json_type_

    json_reference: None | str | Unset
    if isinstance(reference, Unset):
        json_reference = UNSET
    else:
        json_reference = reference
    params["reference"] = json_reference

    json_patient: None | str | Unset
    if isinstance(patient, Unset):
        json_patient = UNSET
    else:
        json_patient = patient
    params["patient"] = json_patient

    json_encounter: None | str | Unset
    if isinstance(encounter, Unset):
        json_encounter = UNSET
    else:
        json_encounter = encounter
    params["encounter"] = json_encounter

    json_category: None | str | Unset
    if isinstance(category, Unset):
        json_category = UNSET
    else:
        json_category = category
    params["category"] = json_category

    json_field_elements: None | str | Unset
    if isinstance(field_elements, Unset):
        json_field_elements = UNSET
    else:
        json_field_elements = field_elements
    params["_elements"] = json_field_elements

    json_field_count: int | None | Unset
    if isinstance(field_count, Unset):
        json_field_count = UNSET
    else:
        json_field_count = field_count
    params["_count"] = json_field_count

    json_since: None | str | Unset
    if isinstance(since, Unset):
        json_since = UNSET
    elif isinstance(since, datetime.datetime):
        json_since = since.isoformat()
    else:
        json_since = since
    params["since"] = json_since

    json_until: None | str | Unset
    if isinstance(until, Unset):
        json_until = UNSET
    elif isinstance(until, datetime.datetime):
        json_until = until.isoformat()
    else:
        json_until = until
    params["until"] = json_until


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/context",
        "params": params,
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ContextBundle | OperationOutcome | None:
    if response.status_code == 200:
        response_200 = ContextBundle.from_dict(response.json())



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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ContextBundle | OperationOutcome]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    session: str,
    type_: None | str | Unset = UNSET,
    reference: None | str | Unset = UNSET,
    patient: None | str | Unset = UNSET,
    encounter: None | str | Unset = UNSET,
    category: None | str | Unset = UNSET,
    field_elements: None | str | Unset = UNSET,
    field_count: int | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    until: datetime.datetime | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> Response[ContextBundle | OperationOutcome]:
    """ Read Context

     Scribe: chart context inside your live session, narrowed by the template's read profile.

    Name ``type`` (a search: ``PatientQuery``) or ``reference`` (one resource: ``PatientRead``).
    Anything the profile does not allow is refused with 403 and recorded in the ledger.

    Args:
        session (str):
        type_ (None | str | Unset):
        reference (None | str | Unset):
        patient (None | str | Unset):
        encounter (None | str | Unset):
        category (None | str | Unset):
        field_elements (None | str | Unset):
        field_count (int | None | Unset):
        since (datetime.datetime | None | Unset):
        until (datetime.datetime | None | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ContextBundle | OperationOutcome]
     """


    kwargs = _get_kwargs(
        session=session,
type_=type_,
reference=reference,
patient=patient,
encounter=encounter,
category=category,
field_elements=field_elements,
field_count=field_count,
since=since,
until=until,
x_request_id=x_request_id,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    session: str,
    type_: None | str | Unset = UNSET,
    reference: None | str | Unset = UNSET,
    patient: None | str | Unset = UNSET,
    encounter: None | str | Unset = UNSET,
    category: None | str | Unset = UNSET,
    field_elements: None | str | Unset = UNSET,
    field_count: int | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    until: datetime.datetime | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> ContextBundle | OperationOutcome | None:
    """ Read Context

     Scribe: chart context inside your live session, narrowed by the template's read profile.

    Name ``type`` (a search: ``PatientQuery``) or ``reference`` (one resource: ``PatientRead``).
    Anything the profile does not allow is refused with 403 and recorded in the ledger.

    Args:
        session (str):
        type_ (None | str | Unset):
        reference (None | str | Unset):
        patient (None | str | Unset):
        encounter (None | str | Unset):
        category (None | str | Unset):
        field_elements (None | str | Unset):
        field_count (int | None | Unset):
        since (datetime.datetime | None | Unset):
        until (datetime.datetime | None | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ContextBundle | OperationOutcome
     """


    return sync_detailed(
        client=client,
session=session,
type_=type_,
reference=reference,
patient=patient,
encounter=encounter,
category=category,
field_elements=field_elements,
field_count=field_count,
since=since,
until=until,
x_request_id=x_request_id,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    session: str,
    type_: None | str | Unset = UNSET,
    reference: None | str | Unset = UNSET,
    patient: None | str | Unset = UNSET,
    encounter: None | str | Unset = UNSET,
    category: None | str | Unset = UNSET,
    field_elements: None | str | Unset = UNSET,
    field_count: int | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    until: datetime.datetime | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> Response[ContextBundle | OperationOutcome]:
    """ Read Context

     Scribe: chart context inside your live session, narrowed by the template's read profile.

    Name ``type`` (a search: ``PatientQuery``) or ``reference`` (one resource: ``PatientRead``).
    Anything the profile does not allow is refused with 403 and recorded in the ledger.

    Args:
        session (str):
        type_ (None | str | Unset):
        reference (None | str | Unset):
        patient (None | str | Unset):
        encounter (None | str | Unset):
        category (None | str | Unset):
        field_elements (None | str | Unset):
        field_count (int | None | Unset):
        since (datetime.datetime | None | Unset):
        until (datetime.datetime | None | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ContextBundle | OperationOutcome]
     """


    kwargs = _get_kwargs(
        session=session,
type_=type_,
reference=reference,
patient=patient,
encounter=encounter,
category=category,
field_elements=field_elements,
field_count=field_count,
since=since,
until=until,
x_request_id=x_request_id,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    session: str,
    type_: None | str | Unset = UNSET,
    reference: None | str | Unset = UNSET,
    patient: None | str | Unset = UNSET,
    encounter: None | str | Unset = UNSET,
    category: None | str | Unset = UNSET,
    field_elements: None | str | Unset = UNSET,
    field_count: int | None | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    until: datetime.datetime | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> ContextBundle | OperationOutcome | None:
    """ Read Context

     Scribe: chart context inside your live session, narrowed by the template's read profile.

    Name ``type`` (a search: ``PatientQuery``) or ``reference`` (one resource: ``PatientRead``).
    Anything the profile does not allow is refused with 403 and recorded in the ledger.

    Args:
        session (str):
        type_ (None | str | Unset):
        reference (None | str | Unset):
        patient (None | str | Unset):
        encounter (None | str | Unset):
        category (None | str | Unset):
        field_elements (None | str | Unset):
        field_count (int | None | Unset):
        since (datetime.datetime | None | Unset):
        until (datetime.datetime | None | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ContextBundle | OperationOutcome
     """


    return (await asyncio_detailed(
        client=client,
session=session,
type_=type_,
reference=reference,
patient=patient,
encounter=encounter,
category=category,
field_elements=field_elements,
field_count=field_count,
since=since,
until=until,
x_request_id=x_request_id,

    )).parsed
