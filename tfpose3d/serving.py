"""A TensorFlow Serving client for the exported signature: REST `:predict` and gRPC `Predict`.

REST needs numpy alone (the module imports only `tfpose3d.contract`); gRPC
imports tensorflow and tensorflow-serving-api when it is used.

Example (the calls need a running server):
>>> client = ServingClient("http://localhost:8501", grpc_target="localhost:8500")
>>> images = np.zeros((2, 225, 225, 3), np.uint8)
>>> client.predict_rest(images)["pose_3d"].shape  # doctest: +SKIP
(2, 17, 3)
>>> client.predict_grpc(images)["joints_2d"].shape  # doctest: +SKIP
(2, 17, 2)
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import numpy as np

from tfpose3d.contract import OUTPUT_NAMES, SIGNATURE, check_images, check_outputs

REST_FORMS = ("instances", "inputs")


class ServingUnavailable(ConnectionError):
    """No TensorFlow Serving answered at the address: nothing listening, refused, unreachable or timed out.
    `ServingClient.predict_rest` and `predict_grpc` both raise it, naming the address."""


def rest_request(images: Any, form: str = "instances") -> dict:
    """The JSON body of a REST :predict call, in the row ("instances") or columnar ("inputs") form."""
    batch = check_images(images)
    if form == "instances":
        return {"signature_name": SIGNATURE, "instances": [{"image": image.tolist()} for image in batch]}
    if form == "inputs":
        return {"signature_name": SIGNATURE, "inputs": {"image": batch.tolist()}}
    raise ValueError(f"Unknown REST form {form!r}; expected one of {REST_FORMS}")


def parse_rest_response(body: dict) -> dict[str, np.ndarray]:
    """Row form {"predictions": [{name: value}, ...]} or columnar {"outputs": {name: value}} -> arrays."""
    if "error" in body:
        raise ValueError(f"TensorFlow Serving error: {body['error']}")
    rows, columns = body.get("predictions"), body.get("outputs")
    if isinstance(rows, list) and all(isinstance(row, dict) and set(OUTPUT_NAMES) <= row.keys() for row in rows):
        return {k: np.asarray([row[k] for row in rows], np.float32) for k in OUTPUT_NAMES}
    if isinstance(columns, dict) and set(OUTPUT_NAMES) <= columns.keys():
        return {k: np.asarray(columns[k], np.float32) for k in OUTPUT_NAMES}
    found = rows[0] if isinstance(rows, list) and rows else columns if columns is not None else body
    raise ValueError(f"Unexpected TensorFlow Serving response: {', '.join(OUTPUT_NAMES)} are needed in each "
                     f"'predictions' row or in 'outputs'; got {sorted(found) if isinstance(found, dict) else found!r} "
                     "(is the server serving a tfpose3d export?)")


def http_error(code: int, reason: str, body: bytes) -> str:
    """What a failed REST call tells: TF Serving's own "error" text, else the body, else the status's reason;
    a 404 also says what is looked up there, since a wrong port or model name answers with it.

    Example:
        >>> http_error(404, "Not Found", b"")
        "HTTP 404 Not Found; is it the server's REST port, and the model's name in models.config?"
    """
    text = body.decode(errors="replace").strip()
    with contextlib.suppress(ValueError, AttributeError):
        text = json.loads(text).get("error", text)
    hint = "; is it the server's REST port, and the model's name in models.config?" if code == 404 else ""
    return f"HTTP {code} {reason}" + (f": {str(text)[:500]}" if text else "") + hint


def grpc_request(images: Any, model_name: str = "tfpose3d", version: int | None = None) -> Any:
    """A tensorflow_serving.apis.predict_pb2.PredictRequest for the signature."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = SIGNATURE
    if version is not None:
        request.model_spec.version.value = version
    request.inputs["image"].CopyFrom(tf.make_tensor_proto(check_images(images)))
    for name in OUTPUT_NAMES:
        request.output_filter.append(name)
    return request


class ServingClient:
    """Calls a TensorFlow Serving server that serves a `tfpose3d export`.

    Args:
        rest_url: e.g. "http://localhost:8501".
        grpc_target: e.g. "localhost:8500".
        model_name: the name in models.config.
        version: a specific version, or None for the latest.
        timeout: seconds per request.
    """

    def __init__(self, rest_url: str | None = None, grpc_target: str | None = None, model_name: str = "tfpose3d",
                 version: int | None = None, timeout: float = 30.0):
        if not rest_url and not grpc_target:
            raise ValueError("ServingClient needs rest_url (e.g. 'http://localhost:8501'), grpc_target "
                             "(e.g. 'localhost:8500') or both")
        if version is not None and version < 0:
            raise ValueError(f"version must be a non-negative integer (or None for the newest), got {version}")
        # Without its scheme urllib would report the address as unreachable, and gRPC takes no http:// scheme.
        if rest_url:
            parts = urllib.parse.urlsplit(rest_url)
            if parts.scheme not in ("http", "https"):
                raise ValueError(f"rest_url {rest_url!r} needs its scheme, e.g. 'http://{rest_url}'")
            try:
                parts.port  # noqa: B018  read for its check: a port that is not a number raises
            except ValueError as err:
                raise ValueError(f"rest_url {rest_url!r}: {err}") from None
        if grpc_target and (scheme := urllib.parse.urlsplit(grpc_target).scheme) in ("http", "https"):
            raise ValueError(f"grpc_target {grpc_target!r} is host:port, without {scheme}://")
        self.rest_url = rest_url.rstrip("/") if rest_url else None
        self.grpc_target = grpc_target
        self.model_name = model_name
        self.version = version
        self.timeout = timeout

    def predict_rest(self, images: Any, form: str = "instances") -> dict[str, np.ndarray]:
        if not self.rest_url:
            raise ValueError("No rest_url given")
        version = f"/versions/{self.version}" if self.version is not None else ""
        url = f"{self.rest_url}/v1/models/{self.model_name}{version}:predict"
        batch = check_images(images)
        data = json.dumps(rest_request(batch, form)).encode()
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = response.read()
        except urllib.error.HTTPError as err:
            raise ValueError(f"{url}: {http_error(err.code, err.reason, err.read())}") from None
        except (urllib.error.URLError, OSError) as err:  # refused, unreachable, timed out
            reason = getattr(err, "reason", err)
            raise ServingUnavailable(f"{url}: no TensorFlow Serving answered ({reason})") from None
        try:
            body = json.loads(reply)
        except ValueError:
            raise ValueError(f"{url}: the reply is not JSON: {reply[:200]!r}") from None
        try:
            return check_outputs(parse_rest_response(body), len(batch))
        except ValueError as err:
            raise ValueError(f"{url}: {err}") from None

    def predict_grpc(self, images: Any) -> dict[str, np.ndarray]:
        if not self.grpc_target:
            raise ValueError("No grpc_target given")
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        request = grpc_request(images, self.model_name, self.version)
        with grpc.insecure_channel(self.grpc_target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            try:
                response = stub.Predict(request, timeout=self.timeout)
            except grpc.RpcError as err:
                code = err.code() if hasattr(err, "code") else None
                if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise ServingUnavailable(f"{self.grpc_target}: no TensorFlow Serving answered over gRPC "
                                             f"({code.name})") from None
                raise ValueError(f"{self.grpc_target}: TensorFlow Serving error {code.name if code else ''}: "
                                 f"{err.details() if hasattr(err, 'details') else err}") from None
        return {k: tf.make_ndarray(response.outputs[k]) for k in OUTPUT_NAMES}
