"""Wire protocols spoken by the inference API: the Open Inference Protocol (REST) codec.

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

__all__ = [
    "DATATYPES",
    "HEADER_LENGTH",
    "InferRequest",
    "RequestedOutput",
    "TensorLike",
    "decode_request",
    "encode_response",
    "numpy_dtype",
    "oip_datatype",
]
