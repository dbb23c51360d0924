"""BentoML peer: a service with one image API, as BentoML's docs show for a custom model
(https://docs.bentoml.com/en/latest/build-with-bentoml/services.html).
Run: ``bentoml serve bentoml_service:Classifier --port 3000``; POST /predict with a
multipart form field ``image``."""

import bentoml
from onnx_classifier import OnnxClassifier
from PIL import Image


@bentoml.service(resources={"cpu": "2"}, traffic={"timeout": 10})
class Classifier:
    def __init__(self) -> None:
        self.model = OnnxClassifier()

    @bentoml.api
    def predict(self, image: Image.Image) -> dict:
        return self.model.classify([image])[0]
