"""KServe peer: a custom ``kserve.Model`` on KServe's ``ModelServer``, as KServe's docs show
for a custom predictor (https://kserve.github.io/website/docs/model-serving/predictive-inference/frameworks/custom-predictor).
Run: ``python kserve_server.py --model_name digits``; POST /v2/models/digits/infer with the
image files as a BYTES tensor of base64 strings in JSON, as KServe's image examples send
them (KServe 0.21 decodes BYTES sent with the binary tensor extension as UTF-8 text, so an
encoded image cannot travel that way)."""

import argparse
import base64

import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer, model_server
from kserve.utils.utils import generate_uuid
from onnx_classifier import OnnxClassifier


class Classifier(Model):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.model = None
        self.load()

    def load(self) -> bool:
        self.model = OnnxClassifier()
        self.ready = True
        return self.ready

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        images = payload.inputs[0].data
        batch = np.stack([self.model.preprocess(base64.b64decode(image)) for image in images])
        probs = self.model.run(batch)
        output = InferOutput(name="probabilities", shape=list(probs.shape), datatype="FP32")
        output.set_data_from_numpy(probs, binary_data=False)
        return InferResponse(model_name=self.name, infer_outputs=[output], response_id=payload.id or generate_uuid())


parser = argparse.ArgumentParser(parents=[model_server.parser])
args, _ = parser.parse_known_args()

if __name__ == "__main__":
    ModelServer().start([Classifier(args.model_name)])
