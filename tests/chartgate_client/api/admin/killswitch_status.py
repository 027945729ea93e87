from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.kill_switches import KillSwitches
from ...models.operation_outcome import OperationOutcome
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    *,
    limit: int | Unset = 50,
    x_request_id: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id



    

    params: dict[str, Any] = {}

    params["limit"] = limit


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/admin/killswitches",
        "params": params,
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> KillSwitches | OperationOutcome | None:
    if response.status_code == 200:
        response_200 = KillSwitches.from_dict(response.json())



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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[KillSwitches | OperationOutcome]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    x_request_id: str | Unset = UNSET,

) -> Response[KillSwitches | OperationOutcome]:
    """ Killswitch Status

     Admin: the switches engaged for your tenant (its own and global ones), and history.

    Args:
        limit (int | Unset):  Default: 50.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[KillSwitches | OperationOutcome]
     """


    kwargs = _get_kwargs(
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
    limit: int | Unset = 50,
    x_request_id: str | Unset = UNSET,

) -> KillSwitches | OperationOutcome | None:
    """ Killswitch Status

     Admin: the switches engaged for your tenant (its own and global ones), and history.

    Args:
        limit (int | Unset):  Default: 50.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        KillSwitches | OperationOutcome
     """


    return sync_detailed(
        client=client,
limit=limit,
x_request_id=x_request_id,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    x_request_id: str | Unset = UNSET,

) -> Response[KillSwitches | OperationOutcome]:
    """ Killswitch Status

     Admin: the switches engaged for your tenant (its own and global ones), and history.

    Args:
        limit (int | Unset):  Default: 50.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[KillSwitches | OperationOutcome]
     """


    kwargs = _get_kwargs(
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
    limit: int | Unset = 50,
    x_request_id: str | Unset = UNSET,

) -> KillSwitches | OperationOutcome | None:
    """ Killswitch Status

     Admin: the switches engaged for your tenant (its own and global ones), and history.

    Args:
        limit (int | Unset):  Default: 50.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        KillSwitches | OperationOutcome
     """


    return (await asyncio_detailed(
        client=client,
limit=limit,
x_request_id=x_request_id,

    )).parsed
