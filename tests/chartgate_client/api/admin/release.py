from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.kill_switch_released import KillSwitchReleased
from ...models.operation_outcome import OperationOutcome
from ...models.release_body import ReleaseBody
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    switch_id: str,
    *,
    body: ReleaseBody,
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
        "url": "/v1/admin/killswitches/{switch_id}/release".format(switch_id=quote(str(switch_id), safe=""),),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> KillSwitchReleased | OperationOutcome | None:
    if response.status_code == 200:
        response_200 = KillSwitchReleased.from_dict(response.json())



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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[KillSwitchReleased | OperationOutcome]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    switch_id: str,
    *,
    client: AuthenticatedClient,
    body: ReleaseBody,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> Response[KillSwitchReleased | OperationOutcome]:
    """ Release

     Admin: release a switch of your tenant; held write-backs resume, exactly once.

    Args:
        switch_id (str):
        x_request_id (str | Unset):
        idempotency_key (str | Unset):
        body (ReleaseBody): ``POST /v1/admin/killswitches/{id}/release``: why it is safe to go on.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[KillSwitchReleased | OperationOutcome]
     """


    kwargs = _get_kwargs(
        switch_id=switch_id,
body=body,
x_request_id=x_request_id,
idempotency_key=idempotency_key,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    switch_id: str,
    *,
    client: AuthenticatedClient,
    body: ReleaseBody,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> KillSwitchReleased | OperationOutcome | None:
    """ Release

     Admin: release a switch of your tenant; held write-backs resume, exactly once.

    Args:
        switch_id (str):
        x_request_id (str | Unset):
        idempotency_key (str | Unset):
        body (ReleaseBody): ``POST /v1/admin/killswitches/{id}/release``: why it is safe to go on.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        KillSwitchReleased | OperationOutcome
     """


    return sync_detailed(
        switch_id=switch_id,
client=client,
body=body,
x_request_id=x_request_id,
idempotency_key=idempotency_key,

    ).parsed

async def asyncio_detailed(
    switch_id: str,
    *,
    client: AuthenticatedClient,
    body: ReleaseBody,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> Response[KillSwitchReleased | OperationOutcome]:
    """ Release

     Admin: release a switch of your tenant; held write-backs resume, exactly once.

    Args:
        switch_id (str):
        x_request_id (str | Unset):
        idempotency_key (str | Unset):
        body (ReleaseBody): ``POST /v1/admin/killswitches/{id}/release``: why it is safe to go on.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[KillSwitchReleased | OperationOutcome]
     """


    kwargs = _get_kwargs(
        switch_id=switch_id,
body=body,
x_request_id=x_request_id,
idempotency_key=idempotency_key,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    switch_id: str,
    *,
    client: AuthenticatedClient,
    body: ReleaseBody,
    x_request_id: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> KillSwitchReleased | OperationOutcome | None:
    """ Release

     Admin: release a switch of your tenant; held write-backs resume, exactly once.

    Args:
        switch_id (str):
        x_request_id (str | Unset):
        idempotency_key (str | Unset):
        body (ReleaseBody): ``POST /v1/admin/killswitches/{id}/release``: why it is safe to go on.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        KillSwitchReleased | OperationOutcome
     """


    return (await asyncio_detailed(
        switch_id=switch_id,
client=client,
body=body,
x_request_id=x_request_id,
idempotency_key=idempotency_key,

    )).parsed
