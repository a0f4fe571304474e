"""Wire protocols spoken by the inference API: the Open Inference Protocol (REST) codec,
both halves (``oip``: the server's; ``oip_client``: a forwarding client's).

Pure functions over bytes and numpy arrays: no web framework, no AWS SDK, no runtime.
"""

from aiaas.protocols.oip import (
    HEADER_LENGTH,
    InferRequest,
    RequestedOutput,
    TensorLike,
    decode_request,
    encode_response,
)
from aiaas.protocols.oip_binary import DATATYPES, numpy_dtype, oip_datatype
from aiaas.protocols.oip_client import (
    BINARY_JSON,
    InferResponse,
    binary_content_type,
    decode_response,
    encode_request,
    header_length_of,
)

__all__ = [
    "BINARY_JSON",
    "DATATYPES",
    "HEADER_LENGTH",
    "InferRequest",
    "InferResponse",
    "RequestedOutput",
    "TensorLike",
    "binary_content_type",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "header_length_of",
    "numpy_dtype",
    "oip_datatype",
]
