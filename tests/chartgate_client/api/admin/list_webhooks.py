from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.operation_outcome import OperationOutcome
from ...models.webhook_list import WebhookList
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    *,
    x_request_id: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id



    

    

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/admin/webhooks",
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> OperationOutcome | WebhookList | None:
    if response.status_code == 200:
        response_200 = WebhookList.from_dict(response.json())



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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[OperationOutcome | WebhookList]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    x_request_id: str | Unset = UNSET,

) -> Response[OperationOutcome | WebhookList]:
    """ List Webhooks

     Admin: your tenant's webhook endpoints and where each stands.

    Args:
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[OperationOutcome | WebhookList]
     """


    kwargs = _get_kwargs(
        x_request_id=x_request_id,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    x_request_id: str | Unset = UNSET,

) -> OperationOutcome | WebhookList | None:
    """ List Webhooks

     Admin: your tenant's webhook endpoints and where each stands.

    Args:
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        OperationOutcome | WebhookList
     """


    return sync_detailed(
        client=client,
x_request_id=x_request_id,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    x_request_id: str | Unset = UNSET,

) -> Response[OperationOutcome | WebhookList]:
    """ List Webhooks

     Admin: your tenant's webhook endpoints and where each stands.

    Args:
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[OperationOutcome | WebhookList]
     """


    kwargs = _get_kwargs(
        x_request_id=x_request_id,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    x_request_id: str | Unset = UNSET,

) -> OperationOutcome | WebhookList | None:
    """ List Webhooks

     Admin: your tenant's webhook endpoints and where each stands.

    Args:
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        OperationOutcome | WebhookList
     """


    return (await asyncio_detailed(
        client=client,
x_request_id=x_request_id,

    )).parsed
