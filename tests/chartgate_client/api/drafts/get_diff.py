from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.diff_with_findings import DiffWithFindings
from ...models.operation_outcome import OperationOutcome
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    draft_id: str,
    *,
    from_version: int | Unset = 1,
    to_version: int | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id



    

    params: dict[str, Any] = {}

    params["from_version"] = from_version

    json_to_version: int | None | Unset
    if isinstance(to_version, Unset):
        json_to_version = UNSET
    else:
        json_to_version = to_version
    params["to_version"] = json_to_version


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/drafts/{draft_id}/diff".format(draft_id=quote(str(draft_id), safe=""),),
        "params": params,
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> DiffWithFindings | OperationOutcome | None:
    if response.status_code == 200:
        response_200 = DiffWithFindings.from_dict(response.json())



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

    if response.status_code == 409:
        response_409 = OperationOutcome.from_dict(response.json())



        return response_409

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[DiffWithFindings | OperationOutcome]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    draft_id: str,
    *,
    client: AuthenticatedClient,
    from_version: int | Unset = 1,
    to_version: int | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> Response[DiffWithFindings | OperationOutcome]:
    """ Get Diff

     Clinician: what changed between two versions (default: the AI's draft to now).

    A version the draft does not have is a 409 (``business-rule``).

    Args:
        draft_id (str): A draft id.
        from_version (int | Unset):  Default: 1.
        to_version (int | None | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DiffWithFindings | OperationOutcome]
     """


    kwargs = _get_kwargs(
        draft_id=draft_id,
from_version=from_version,
to_version=to_version,
x_request_id=x_request_id,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    draft_id: str,
    *,
    client: AuthenticatedClient,
    from_version: int | Unset = 1,
    to_version: int | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> DiffWithFindings | OperationOutcome | None:
    """ Get Diff

     Clinician: what changed between two versions (default: the AI's draft to now).

    A version the draft does not have is a 409 (``business-rule``).

    Args:
        draft_id (str): A draft id.
        from_version (int | Unset):  Default: 1.
        to_version (int | None | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DiffWithFindings | OperationOutcome
     """


    return sync_detailed(
        draft_id=draft_id,
client=client,
from_version=from_version,
to_version=to_version,
x_request_id=x_request_id,

    ).parsed

async def asyncio_detailed(
    draft_id: str,
    *,
    client: AuthenticatedClient,
    from_version: int | Unset = 1,
    to_version: int | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> Response[DiffWithFindings | OperationOutcome]:
    """ Get Diff

     Clinician: what changed between two versions (default: the AI's draft to now).

    A version the draft does not have is a 409 (``business-rule``).

    Args:
        draft_id (str): A draft id.
        from_version (int | Unset):  Default: 1.
        to_version (int | None | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DiffWithFindings | OperationOutcome]
     """


    kwargs = _get_kwargs(
        draft_id=draft_id,
from_version=from_version,
to_version=to_version,
x_request_id=x_request_id,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    draft_id: str,
    *,
    client: AuthenticatedClient,
    from_version: int | Unset = 1,
    to_version: int | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> DiffWithFindings | OperationOutcome | None:
    """ Get Diff

     Clinician: what changed between two versions (default: the AI's draft to now).

    A version the draft does not have is a 409 (``business-rule``).

    Args:
        draft_id (str): A draft id.
        from_version (int | Unset):  Default: 1.
        to_version (int | None | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DiffWithFindings | OperationOutcome
     """


    return (await asyncio_detailed(
        draft_id=draft_id,
client=client,
from_version=from_version,
to_version=to_version,
x_request_id=x_request_id,

    )).parsed
