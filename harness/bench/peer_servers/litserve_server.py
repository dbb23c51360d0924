"""LitServe peer: a LitAPI as LitServe's docs show (https://lightning.ai/docs/litserve),
with the upload read in ``decode_request``. Run: ``python litserve_server.py``; POST
/predict with a multipart form field ``image``."""

import litserve as ls
from onnx_classifier import OnnxClassifier


class ClassifierAPI(ls.LitAPI):
    def setup(self, device):
        self.model = OnnxClassifier()

    def decode_request(self, request):
        return request["image"].file.read()

    def predict(self, x):
        return self.model.classify([x])[0]

    def encode_response(self, output):
        return output


if __name__ == "__main__":
    server = ls.LitServer(ClassifierAPI(), accelerator="cpu", timeout=10)
    server.run(port=8000, generate_client_file=False)
