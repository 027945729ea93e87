from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.operation_outcome import OperationOutcome
from ...models.webhook_deliveries import WebhookDeliveries
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    endpoint_id: str,
    *,
    limit: int | Unset = 100,
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
        "url": "/v1/admin/webhooks/{endpoint_id}/deliveries".format(endpoint_id=quote(str(endpoint_id), safe=""),),
        "params": params,
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> OperationOutcome | WebhookDeliveries | None:
    if response.status_code == 200:
        response_200 = WebhookDeliveries.from_dict(response.json())



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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[OperationOutcome | WebhookDeliveries]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    endpoint_id: str,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 100,
    x_request_id: str | Unset = UNSET,

) -> Response[OperationOutcome | WebhookDeliveries]:
    """ Webhook Deliveries

     Admin: the endpoint's delivery log, newest first (event ids, statuses; no payloads).

    Args:
        endpoint_id (str):
        limit (int | Unset):  Default: 100.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[OperationOutcome | WebhookDeliveries]
     """


    kwargs = _get_kwargs(
        endpoint_id=endpoint_id,
limit=limit,
x_request_id=x_request_id,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    endpoint_id: str,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 100,
    x_request_id: str | Unset = UNSET,

) -> OperationOutcome | WebhookDeliveries | None:
    """ Webhook Deliveries

     Admin: the endpoint's delivery log, newest first (event ids, statuses; no payloads).

    Args:
        endpoint_id (str):
        limit (int | Unset):  Default: 100.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        OperationOutcome | WebhookDeliveries
     """


    return sync_detailed(
        endpoint_id=endpoint_id,
client=client,
limit=limit,
x_request_id=x_request_id,

    ).parsed

async def asyncio_detailed(
    endpoint_id: str,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 100,
    x_request_id: str | Unset = UNSET,

) -> Response[OperationOutcome | WebhookDeliveries]:
    """ Webhook Deliveries

     Admin: the endpoint's delivery log, newest first (event ids, statuses; no payloads).

    Args:
        endpoint_id (str):
        limit (int | Unset):  Default: 100.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[OperationOutcome | WebhookDeliveries]
     """


    kwargs = _get_kwargs(
        endpoint_id=endpoint_id,
limit=limit,
x_request_id=x_request_id,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    endpoint_id: str,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 100,
    x_request_id: str | Unset = UNSET,

) -> OperationOutcome | WebhookDeliveries | None:
    """ Webhook Deliveries

     Admin: the endpoint's delivery log, newest first (event ids, statuses; no payloads).

    Args:
        endpoint_id (str):
        limit (int | Unset):  Default: 100.
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        OperationOutcome | WebhookDeliveries
     """


    return (await asyncio_detailed(
        endpoint_id=endpoint_id,
client=client,
limit=limit,
x_request_id=x_request_id,

    )).parsed
