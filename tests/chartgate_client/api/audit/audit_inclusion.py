from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.inclusion_proof import InclusionProof
from ...models.operation_outcome import OperationOutcome
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    seq: int,
    *,
    size: int | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-Id"] = x_request_id



    

    params: dict[str, Any] = {}

    json_size: int | None | Unset
    if isinstance(size, Unset):
        json_size = UNSET
    else:
        json_size = size
    params["size"] = json_size


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/audit/proof/{seq}".format(seq=quote(str(seq), safe=""),),
        "params": params,
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> InclusionProof | OperationOutcome | None:
    if response.status_code == 200:
        response_200 = InclusionProof.from_dict(response.json())



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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[InclusionProof | OperationOutcome]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    seq: int,
    *,
    client: AuthenticatedClient,
    size: int | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> Response[InclusionProof | OperationOutcome]:
    """ Audit Inclusion

     Auditor: inclusion proof of entry ``seq`` in the newest checkpoint (or ``?size=``).

    Args:
        seq (int):
        size (int | None | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InclusionProof | OperationOutcome]
     """


    kwargs = _get_kwargs(
        seq=seq,
size=size,
x_request_id=x_request_id,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    seq: int,
    *,
    client: AuthenticatedClient,
    size: int | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> InclusionProof | OperationOutcome | None:
    """ Audit Inclusion

     Auditor: inclusion proof of entry ``seq`` in the newest checkpoint (or ``?size=``).

    Args:
        seq (int):
        size (int | None | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InclusionProof | OperationOutcome
     """


    return sync_detailed(
        seq=seq,
client=client,
size=size,
x_request_id=x_request_id,

    ).parsed

async def asyncio_detailed(
    seq: int,
    *,
    client: AuthenticatedClient,
    size: int | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> Response[InclusionProof | OperationOutcome]:
    """ Audit Inclusion

     Auditor: inclusion proof of entry ``seq`` in the newest checkpoint (or ``?size=``).

    Args:
        seq (int):
        size (int | None | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[InclusionProof | OperationOutcome]
     """


    kwargs = _get_kwargs(
        seq=seq,
size=size,
x_request_id=x_request_id,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    seq: int,
    *,
    client: AuthenticatedClient,
    size: int | None | Unset = UNSET,
    x_request_id: str | Unset = UNSET,

) -> InclusionProof | OperationOutcome | None:
    """ Audit Inclusion

     Auditor: inclusion proof of entry ``seq`` in the newest checkpoint (or ``?size=``).

    Args:
        seq (int):
        size (int | None | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        InclusionProof | OperationOutcome
     """


    return (await asyncio_detailed(
        seq=seq,
client=client,
size=size,
x_request_id=x_request_id,

    )).parsed
