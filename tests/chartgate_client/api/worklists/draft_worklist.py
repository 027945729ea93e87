from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.draft_worklist import DraftWorklist
from ...models.operation_outcome import OperationOutcome
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    *,
    state: None | str | Unset = UNSET,
    encounter: None | str | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 50,
    x_request_id: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id



    

    params: dict[str, Any] = {}

    json_state: None | str | Unset
    if isinstance(state, Unset):
        json_state = UNSET
    else:
        json_state = state
    params["state"] = json_state

    json_encounter: None | str | Unset
    if isinstance(encounter, Unset):
        json_encounter = UNSET
    else:
        json_encounter = encounter
    params["encounter"] = json_encounter

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params["limit"] = limit


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/drafts",
        "params": params,
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> DraftWorklist | OperationOutcome | None:
    if response.status_code == 200:
        response_200 = DraftWorklist.from_dict(response.json())



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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[DraftWorklist | OperationOutcome]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    state: None | str | Unset = UNSET,
    encounter: None | str | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 50,
    x_request_id: str | Unset = UNSET,

) -> Response[DraftWorklist | OperationOutcome]:
    """ Draft Worklist

     Clinician: drafts of the encounters you may see (awaiting review unless ``state``).

    Args:
        state (None | str | Unset): one state or a comma list
        encounter (None | str | Unset):
        cursor (None | str | Unset): next_cursor of a page
        limit (int | Unset):  Default: 50.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DraftWorklist | OperationOutcome]
     """


    kwargs = _get_kwargs(
        state=state,
encounter=encounter,
cursor=cursor,
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
    state: None | str | Unset = UNSET,
    encounter: None | str | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 50,
    x_request_id: str | Unset = UNSET,

) -> DraftWorklist | OperationOutcome | None:
    """ Draft Worklist

     Clinician: drafts of the encounters you may see (awaiting review unless ``state``).

    Args:
        state (None | str | Unset): one state or a comma list
        encounter (None | str | Unset):
        cursor (None | str | Unset): next_cursor of a page
        limit (int | Unset):  Default: 50.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DraftWorklist | OperationOutcome
     """


    return sync_detailed(
        client=client,
state=state,
encounter=encounter,
cursor=cursor,
limit=limit,
x_request_id=x_request_id,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    state: None | str | Unset = UNSET,
    encounter: None | str | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 50,
    x_request_id: str | Unset = UNSET,

) -> Response[DraftWorklist | OperationOutcome]:
    """ Draft Worklist

     Clinician: drafts of the encounters you may see (awaiting review unless ``state``).

    Args:
        state (None | str | Unset): one state or a comma list
        encounter (None | str | Unset):
        cursor (None | str | Unset): next_cursor of a page
        limit (int | Unset):  Default: 50.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DraftWorklist | OperationOutcome]
     """


    kwargs = _get_kwargs(
        state=state,
encounter=encounter,
cursor=cursor,
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
    state: None | str | Unset = UNSET,
    encounter: None | str | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 50,
    x_request_id: str | Unset = UNSET,

) -> DraftWorklist | OperationOutcome | None:
    """ Draft Worklist

     Clinician: drafts of the encounters you may see (awaiting review unless ``state``).

    Args:
        state (None | str | Unset): one state or a comma list
        encounter (None | str | Unset):
        cursor (None | str | Unset): next_cursor of a page
        limit (int | Unset):  Default: 50.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DraftWorklist | OperationOutcome
     """


    return (await asyncio_detailed(
        client=client,
state=state,
encounter=encounter,
cursor=cursor,
limit=limit,
x_request_id=x_request_id,

    )).parsed
