"""The Open Inference Protocol (KServe v2) over REST: data models and the tensor codec.

The protocol KServe, Triton and MLServer speak
(https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol),
with its binary tensor data extension as Triton's clients use it by default
(https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_binary_data.md):
a JSON header of ``Inference-Header-Content-Length`` bytes, then the raw tensors in the
order of the inputs that carry ``"parameters": {"binary_data_size": n}``.

The model takes one input, either of:
- ``<manifest input_name>``: FP32 ``[N, *example_shape]``, already preprocessed (what
  ``data.preprocess_image`` makes of an image);
- ``image``: BYTES ``[N]``, encoded image files (PNG, JPEG, ...), base64 strings in JSON.
It gives ``probabilities`` (FP32 ``[N, classes]``) and ``label`` (BYTES ``[N]``, the most
likely class). Every malformed request is an ApiError 400 naming the problem.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ApiError

HEADER_LENGTH = "Inference-Header-Content-Length"
IMAGE_INPUT = "image"
PROBABILITIES = "probabilities"
LABEL = "label"
OUTPUTS = (PROBABILITIES, LABEL)
EXTENSIONS = ["binary_tensor_data"]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 for a dimension of any size")


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class Liveness(BaseModel):
    live: bool


class Readiness(BaseModel):
    ready: bool


class ModelReadiness(BaseModel):
    name: str
    ready: bool


# A client's JSON is taken as it is typed: "1", 1.0 or true is no shape dimension, no name
# and no count (pydantic's default, lax mode, would turn each into 1).
STRICT = ConfigDict(strict=True)


class RequestInput(BaseModel):
    model_config = STRICT

    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = Field(default=None, description="row-major, flat or nested")


class RequestOutput(BaseModel):
    model_config = STRICT

    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    model_config = STRICT

    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    outputs: list[ResponseOutput]


class ErrorV2(BaseModel):
    error: str = Field(description="What is wrong and how to fix it.")


@dataclass(frozen=True)
class Decoded:
    """A checked inference request: exactly one of ``tensor`` and ``images`` is set."""

    request_id: str | None
    tensor: np.ndarray | None  # FP32 [N, *example_shape]
    images: list[bytes] | None  # encoded image files
    outputs: list[tuple[str, bool]]  # (name, as binary) in the order to answer them

    @property
    def batch(self) -> int:
        return len(self.tensor) if self.tensor is not None else len(self.images or [])


def _bad(message: str) -> ApiError:
    return ApiError(400, "invalid_inference_request", message)


def decode_request(
    body: bytes,
    header_length: str | None,
    *,
    tensor_name: str,
    example_shape: tuple[int, ...],
    max_batch: int,
    value_range: tuple[float, float],
) -> Decoded:
    """Check and decode an infer request body (JSON, or JSON + binary tensors).

    ``value_range`` is what preprocessing gives pixels (``data.value_range``); a tensor's
    values may exceed it by its width on either side, no more (a model need not stay
    finite far outside what it was trained on). Raises ApiError 400 naming what is
    wrong: the JSON, the input (name, datatype, shape, data, values), a batch over
    ``max_batch``, an unknown output.
    """
    header, binary = body, b""
    if header_length is not None:
        # Decimal digits only: int() would also take " 12 ", "1_2" and "+12".
        size = int(header_length) if header_length.isascii() and header_length.isdigit() else -1
        if not 0 <= size <= len(body):
            raise _bad(f"{HEADER_LENGTH}: {header_length!r} is not a length within the body")
        header, binary = body[:size], body[size:]
    try:
        request = InferenceRequest.model_validate(json.loads(header))
    # RecursionError: JSON nested deeper than the parser recurses.
    except (ValueError, UnicodeDecodeError, RecursionError, ValidationError) as exc:
        where = "" if not isinstance(exc, ValidationError) else _first_problem(exc)
        raise _bad(f"the body is not an inference request{where}; see /docs for the schema") from None
    if len(request.inputs) != 1:
        raise _bad(
            f"send exactly one input: {tensor_name!r} (FP32 [N, {', '.join(map(str, example_shape))}]) "
            f"or {IMAGE_INPUT!r} (BYTES [N], encoded images)"
        )
    (item,) = request.inputs
    raw = _binary_part(item, binary)
    if item.name == tensor_name:
        tensor, images = _fp32_input(item, raw, example_shape, max_batch, value_range), None
    elif item.name == IMAGE_INPUT:
        tensor, images = None, _image_input(item, raw, max_batch)
    else:
        raise _bad(f"unknown input {item.name!r}; the inputs are {tensor_name!r} and {IMAGE_INPUT!r}")
    return Decoded(request.id, tensor, images, _outputs(request))


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f" ({'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']})"


def _binary_part(item: RequestInput, binary: bytes) -> bytes | None:
    size = (item.parameters or {}).get("binary_data_size")
    if size is None:
        if binary:
            raise _bad("binary data follows the JSON header, but no input has binary_data_size")
        if item.data is None:
            raise _bad(f"input {item.name!r} has no data (neither 'data' nor binary_data_size)")
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size != len(binary):
        raise _bad(f"input {item.name!r}: binary_data_size {size!r} but {len(binary)} binary bytes follow")
    return binary


def _batch_size(item: RequestInput, max_batch: int) -> int:
    if not item.shape or any(not isinstance(dim, int) or dim < 0 for dim in item.shape):
        raise _bad(f"input {item.name!r}: shape {item.shape} is not a list of sizes")
    if not 1 <= item.shape[0] <= max_batch:
        raise _bad(f"input {item.name!r}: batch of {item.shape[0]}; send 1 to {max_batch} (MAX_BATCH)")
    return item.shape[0]


def _fp32_input(
    item: RequestInput,
    raw: bytes | None,
    example_shape: tuple[int, ...],
    max_batch: int,
    value_range: tuple[float, float],
) -> np.ndarray:
    if item.datatype != "FP32":
        raise _bad(f"input {item.name!r} is FP32, not {item.datatype}")
    batch = _batch_size(item, max_batch)
    expected = [batch, *example_shape]
    if list(item.shape) != expected:
        raise _bad(f"input {item.name!r}: shape {item.shape}, expected {expected}")
    try:
        values = (
            np.frombuffer(raw, dtype="<f4") if raw is not None else np.asarray(item.data, dtype=np.float32)
        )
    except (ValueError, TypeError, OverflowError):  # OverflowError: an integer beyond float
        raise _bad(f"input {item.name!r}: data must be numbers, row-major") from None
    if values.size != int(np.prod(expected)):
        raise _bad(f"input {item.name!r}: {values.size} values for shape {expected}")
    low, high = value_range
    floor, ceiling = low - (high - low), high + (high - low)
    if not np.all(np.isfinite(values)) or values.min() < floor or values.max() > ceiling:
        raise _bad(
            f"input {item.name!r}: values must be finite and within [{floor:.4g}, {ceiling:.4g}] "
            f"(preprocessed pixels lie in [{low:.4g}, {high:.4g}]; see the preprocessing in GET /v1/model)"
        )
    return values.reshape(expected).astype(np.float32)


def _image_input(item: RequestInput, raw: bytes | None, max_batch: int) -> list[bytes]:
    if item.datatype != "BYTES":
        raise _bad(f"input {item.name!r} is BYTES (encoded image files), not {item.datatype}")
    batch = _batch_size(item, max_batch)
    if len(item.shape) != 1:
        raise _bad(f"input {item.name!r}: shape {item.shape}, expected [{batch}]")
    images = _unpack_bytes(raw) if raw is not None else _base64_elements(item)
    if len(images) != batch:
        raise _bad(f"input {item.name!r}: {len(images)} elements for shape {item.shape}")
    return images


def _unpack_bytes(raw: bytes) -> list[bytes]:
    """Elements of a binary BYTES tensor: each a 4-byte little-endian length, then the bytes."""
    elements, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise _bad("binary BYTES tensor ends inside an element's length")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise _bad("binary BYTES tensor ends inside an element")
        elements.append(raw[offset : offset + length])
        offset += length
    return elements


def _base64_elements(item: RequestInput) -> list[bytes]:
    data = item.data or []
    if any(not isinstance(element, str) for element in data):
        raise _bad(f"input {item.name!r}: in JSON, each element is a base64 string of an image file")
    try:
        return [base64.b64decode(element, validate=True) for element in data]
    except (binascii.Error, ValueError):
        raise _bad(f"input {item.name!r}: an element is not valid base64") from None


def _flag(parameters: dict[str, Any] | None, name: str, default: bool, where: str) -> bool:
    """A boolean request parameter; a JSON true or false, nothing else ("false" is no false)."""
    value = (parameters or {}).get(name, default)
    if not isinstance(value, bool):
        raise _bad(f"{where}parameters.{name} is {json.dumps(value)[:40]}; send true or false")
    return value


def _outputs(request: InferenceRequest) -> list[tuple[str, bool]]:
    default_binary = _flag(request.parameters, "binary_data_output", False, "")
    if not request.outputs:
        return [(name, default_binary) for name in OUTPUTS]
    chosen = []
    for output in request.outputs:
        if output.name not in OUTPUTS:
            raise _bad(f"unknown output {output.name!r}; the outputs are {', '.join(OUTPUTS)}")
        chosen.append(
            (
                output.name,
                _flag(output.parameters, "binary_data", default_binary, f"output {output.name!r}: "),
            )
        )
    return chosen


def encode_response(
    decoded: Decoded, probabilities: np.ndarray, labels: list[str], model_name: str, model_version: str
) -> tuple[bytes, dict[str, str]]:
    """The response body and its extra headers: JSON, or JSON + binary when any output
    was asked as binary (then ``Inference-Header-Content-Length`` gives the JSON's size)."""
    top = [labels[index] for index in np.argmax(probabilities, axis=1)]
    outputs: list[dict[str, Any]] = []
    binary: list[bytes] = []
    for name, as_binary in decoded.outputs:
        if name == PROBABILITIES:
            shape, datatype = list(probabilities.shape), "FP32"
            raw = probabilities.astype("<f4").tobytes() if as_binary else b""
            data: list[Any] = probabilities.reshape(-1).tolist()
        else:
            shape, datatype = [len(top)], "BYTES"
            raw = b"".join(struct.pack("<I", len(text)) + text for text in (t.encode() for t in top))
            data = top
        output: dict[str, Any] = {"name": name, "shape": shape, "datatype": datatype}
        if as_binary:
            output["parameters"] = {"binary_data_size": len(raw)}
            binary.append(raw)
        else:
            output["data"] = data
        outputs.append(output)
    response: dict[str, Any] = {"model_name": model_name, "model_version": model_version, "outputs": outputs}
    if decoded.request_id is not None:
        response["id"] = decoded.request_id
    header = json.dumps(response, separators=(",", ":")).encode()
    if not binary:
        return header, {"Content-Type": "application/json"}
    return header + b"".join(binary), {
        "Content-Type": "application/octet-stream",
        HEADER_LENGTH: str(len(header)),
    }
